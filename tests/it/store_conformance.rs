//! The store conformance suite: every store operation, the same assertions on both backends.

use std::collections::HashSet;

use postdate::domain::destination::DestinationUrl;
use postdate::domain::headers::HeaderMap;
use postdate::domain::message::NewMessage;
use postdate::domain::option_rules::Limits;
use postdate::domain::options::MessageOptions;
use postdate::domain::schedule::{NewSchedule, ScheduleRequest};
use postdate::domain::signing::SigningKeys;
use postdate::domain::state::{LogState, MessageState};
use postdate::store::{
    CancelResult, Claim, Completion, CompletionKind, DeadLetter, DlqPage, EventPage, Filter, Fire, Order, RunNowResult,
    Store,
};

use crate::backend_tests;
use crate::common::{Backend, TestDb, T0};

backend_tests!(
    message_insert_and_get_round_trip_every_field,
    message_claim_due_takes_the_earliest_due_first_up_to_the_limit,
    message_claim_due_leaves_out_the_hosts_it_is_told_to_skip,
    concurrent_claimers_never_share_a_row,
    message_complete_is_guarded_by_attempt_and_state,
    message_rescue_expired_and_extend_leases,
    message_rescue_abandoned_takes_back_the_leases_of_a_gone_holder_at_once,
    message_cancel_and_cancel_many,
    message_run_now_makes_only_pending_messages_due,
    failed_completion_dead_letters_unless_cancel_was_requested,
    dlq_list_pages_and_dlq_retry_takes_each_entry_once,
    retention_deletes_old_finished_messages_but_not_dlq_held_ones,
    signing_keys_init_once_and_rotate,
    schedules_upsert_list_pause_resume_and_delete,
    schedule_fire_moves_each_slot_once_and_stores_its_messages,
    the_scheduler_lock_has_one_holder_at_a_time,
    completions_store_their_spawned_messages_only_when_they_apply,
    batches_larger_than_one_statement_are_stored_claimed_and_completed_whole,
    message_insert_of_a_fan_out_larger_than_the_statement_body_budget_stores_every_message,
    hand_back_makes_the_message_due_again_without_counting_the_attempt,
);

const LIMITS: Limits = Limits {
    default_retries: 3,
    max_retries: 20,
    max_delay_ms: i64::MAX / 4,
    max_timeout_ms: 3_600_000,
};
pub(crate) const LEASE: i64 = 30_000;

/// The instance the conformance claims are made by.
pub(crate) const HOLDER: &str = "ins_conformance";

/// A claim at `now` by [`HOLDER`] that skips no host.
pub(crate) fn claim(now: i64, lease_until: i64, limit: i64) -> Claim<'static> {
    Claim {
        now,
        lease_until,
        limit,
        skip_hosts: &[],
        holder: HOLDER,
    }
}

pub(crate) fn message(url: &str, due: i64, labels: &[&str]) -> NewMessage {
    let options = MessageOptions {
        not_before_ms: Some(due),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        ..MessageOptions::default()
    };
    NewMessage::build(
        DestinationUrl::parse(url).unwrap(),
        &options,
        b"body".to_vec().into(),
        None,
        T0,
        &LIMITS,
    )
    .unwrap()
}

pub(crate) async fn store(backend: Backend) -> (TestDb, Store) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    (db, store)
}

pub(crate) fn completion(id: &str, attempt: i32, kind: CompletionKind) -> Completion {
    Completion {
        id: id.into(),
        attempt,
        kind,
        queued: false,
        status: 200,
        error: None,
        response: None,
        spawn: Vec::new(),
        fails_run: None,
    }
}

fn dlq_entry(dlq_id: &str) -> DeadLetter {
    DeadLetter {
        dlq_id: dlq_id.into(),
        response_status: 500,
        response_header: HeaderMap::from([("X-A".to_string(), vec!["1".to_string()])]),
        response_body: b"boom".to_vec(),
        error: None,
    }
}

async fn message_insert_and_get_round_trip_every_field(backend: Backend) {
    let (_db, store) = store(backend).await;
    let mut m = message("https://example.com/a/b?c=d", T0 + 5, &["x", "y"]);
    m.header = HeaderMap::from([("Content-Type".to_string(), vec!["text/plain".to_string()])]);
    m.body = vec![0, 159, 146, 150].into();
    m.timeout_ms = Some(1500);
    m.caller_ip = Some("10.0.0.1".into());
    m.retry_delay_expression = Some("pow(2, retried) * 1000".into());
    m.redact = Some(postdate::domain::redact::parse("body, header[Authorization]").unwrap());
    m.callback = Some(postdate::domain::callback::Callback {
        url: "https://example.com/cb".into(),
        method: Some("PUT".into()),
        timeout_ms: None,
        retries: Some(1),
        retry_delay: None,
        delay_ms: None,
        header: HeaderMap::from([("X-Cb".to_string(), vec!["1".to_string()])]),
    });
    (m.topic_name, m.endpoint_name) = (Some("group".into()), Some("end".into()));
    (m.schedule_id, m.flow_control_key) = (Some("scd_1".into()), Some("key".into()));
    store.message_insert(std::slice::from_ref(&m)).await.unwrap();
    let row = store.message_get(&m.id).await.unwrap().unwrap();
    // Every stored setting comes back decoded, as it went in.
    assert_eq!(row.retry_delay.as_ref().map(|d| d.delay_ms(3)), Some(Some(8_000)));
    assert_eq!(
        (row.redact.as_ref(), row.callback.as_ref()),
        (m.redact.as_ref(), m.callback.as_ref())
    );
    assert_eq!(row.failure_callback, None);
    assert_eq!(
        (row.topic_name, row.endpoint_name, row.schedule_id, row.flow_control_key),
        (
            m.topic_name.clone(),
            m.endpoint_name.clone(),
            m.schedule_id.clone(),
            m.flow_control_key.clone()
        )
    );
    assert_eq!(row.state, MessageState::Pending);
    assert_eq!(
        (row.attempt, row.max_retries, row.due_at, row.not_before),
        (0, 3, T0 + 5, T0 + 5)
    );
    assert_eq!(
        (row.url_host.as_str(), row.url.as_str()),
        ("example.com", "https://example.com/a/b?c=d")
    );
    assert_eq!(row.body, vec![0, 159, 146, 150]);
    assert_eq!(
        row.header,
        HeaderMap::from([("Content-Type".to_string(), vec!["text/plain".to_string()])])
    );
    assert_eq!(row.labels, ["x", "y"]);
    assert_eq!(row.timeout_ms, Some(1500));
    assert_eq!(row.caller_ip.as_deref(), Some("10.0.0.1"));
    assert!(store.message_get("msg_missing").await.unwrap().is_none());
    store.message_insert(&[]).await.unwrap();
}

async fn message_claim_due_takes_the_earliest_due_first_up_to_the_limit(backend: Backend) {
    let (_db, store) = store(backend).await;
    let batch: Vec<_> = [30, 10, 20, 1_000]
        .iter()
        .map(|d| message("https://e.test/", T0 + d, &[]))
        .collect();
    store.message_insert(&batch).await.unwrap();
    assert_eq!(store.message_next_due_at(T0).await.unwrap(), Some(T0 + 10));
    assert_eq!(
        store.message_next_due_at(T0 + 25).await.unwrap(),
        Some(T0 + 30),
        "only times after now"
    );
    let claimed = store
        .message_claim_due(&claim(T0 + 100, T0 + 100 + LEASE, 2))
        .await
        .unwrap();
    let ids: Vec<_> = claimed.iter().map(|m| m.id.clone()).collect();
    assert_eq!(
        ids,
        [batch[1].id.clone(), batch[2].id.clone()],
        "earliest due first, at most the limit"
    );
    assert!(claimed
        .iter()
        .all(|m| m.state == MessageState::InProgress && m.attempt == 1 && m.lease_until == Some(T0 + 100 + LEASE)));
    let rest = store
        .message_claim_due(&claim(T0 + 100, T0 + 100 + LEASE, 10))
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "the future message is not claimed");
    assert_eq!(rest[0].id, batch[0].id);
    assert_eq!(store.message_next_due_at(T0 + 100).await.unwrap(), Some(T0 + 1_000));
}

async fn message_claim_due_leaves_out_the_hosts_it_is_told_to_skip(backend: Backend) {
    let (_db, store) = store(backend).await;
    let batch: Vec<_> = [
        "https://busy.test/",
        "https://calm.test/",
        "https://busy.test/",
        "https://other.test/",
    ]
    .iter()
    .enumerate()
    .map(|(i, url)| message(url, T0 + i as i64, &[]))
    .collect();
    store.message_insert(&batch).await.unwrap();
    let skip = ["busy.test".to_string(), "absent.test".to_string()];
    let claimed = store
        .message_claim_due(&Claim {
            skip_hosts: &skip,
            ..claim(T0 + 100, T0 + LEASE, 10)
        })
        .await
        .unwrap();
    let hosts: Vec<_> = claimed.iter().map(|m| m.url_host.as_str()).collect();
    assert_eq!(hosts, ["calm.test", "other.test"]);
    let rest = store.message_claim_due(&claim(T0 + 100, T0 + LEASE, 10)).await.unwrap();
    assert_eq!(rest.len(), 2, "skipped messages stay due for the next claim");
    assert!(rest.iter().all(|m| m.url_host == "busy.test"));
}

async fn concurrent_claimers_never_share_a_row(backend: Backend) {
    let (_db, store) = store(backend).await;
    let batch: Vec<_> = (0..200).map(|i| message("https://e.test/", T0 + i, &[])).collect();
    store.message_insert(&batch).await.unwrap();
    let claimer = |store: Store| async move {
        let mut mine = Vec::new();
        loop {
            let claimed = store
                .message_claim_due(&claim(T0 + 1_000, T0 + LEASE, 9))
                .await
                .unwrap();
            if claimed.is_empty() {
                return mine;
            }
            mine.extend(claimed.into_iter().map(|m| m.id));
        }
    };
    let handles: Vec<_> = (0..4).map(|_| tokio::spawn(claimer(store.clone()))).collect();
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 200, "every row claimed");
    assert_eq!(distinct.len(), 200, "no row claimed twice");
}

async fn message_complete_is_guarded_by_attempt_and_state(backend: Backend) {
    let (_db, store) = store(backend).await;
    let m = message("https://e.test/", T0, &[]);
    store.message_insert(std::slice::from_ref(&m)).await.unwrap();
    store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();
    let stale = completion(&m.id, 0, CompletionKind::Delivered);
    assert_eq!(
        store.message_complete(T0 + 1, &[stale]).await.unwrap(),
        0,
        "a stale attempt changes nothing"
    );
    let retry = completion(&m.id, 1, CompletionKind::Retry { due_at: T0 + 500 });
    assert_eq!(
        store
            .message_complete(T0 + 1, std::slice::from_ref(&retry))
            .await
            .unwrap(),
        1
    );
    let row = store.message_get(&m.id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.due_at, row.lease_until),
        ("pending", T0 + 500, None)
    );
    assert_eq!(
        store.message_complete(T0 + 2, &[retry]).await.unwrap(),
        0,
        "not in progress any more"
    );

    store
        .message_claim_due(&claim(T0 + 500, T0 + 500 + LEASE, 10))
        .await
        .unwrap();
    let done = [
        completion(&m.id, 2, CompletionKind::Delivered),
        completion("msg_other", 1, CompletionKind::Delivered),
    ];
    assert_eq!(store.message_complete(T0 + 600, &done).await.unwrap(), 1);
    let row = store.message_get(&m.id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.finished_at), ("delivered", Some(T0 + 600)));
}

async fn message_rescue_abandoned_takes_back_the_leases_of_a_gone_holder_at_once(backend: Backend) {
    use postdate::store::Abandoned;
    let (_db, store) = store(backend).await;
    let batch: Vec<_> = (0..4)
        .map(|i| message(&format!("https://e.test/{i}"), T0, &[]))
        .collect();
    store.message_insert(&batch).await.unwrap();
    let by = |holder: &'static str, limit| Claim {
        holder,
        ..claim(T0, T0 + LEASE, limit)
    };
    assert_eq!(store.message_claim_due(&by("ins_a", 2)).await.unwrap().len(), 2);
    assert_eq!(store.message_claim_due(&by("ins_b", 1)).await.unwrap().len(), 1);
    let now = T0 + 100; // long before the leases lapse
    let held_by = |id: &str| Abandoned::HeldBy(id.to_string());
    assert_eq!(store.message_rescue_abandoned(now, &held_by("ins_c")).await.unwrap(), 0);
    assert_eq!(
        store.message_rescue_abandoned(now, &held_by("ins_a")).await.unwrap(),
        2,
        "only the leases of the named instance, whatever their lease"
    );
    let states = |store: postdate::store::Store| async move {
        let mut states = Vec::new();
        for m in &batch {
            let row = store.message_get(&m.id).await.unwrap().unwrap();
            states.push((row.state, row.due_at, row.attempt));
        }
        states.sort_by_key(|(state, due_at, attempt)| (state.as_str(), *due_at, *attempt));
        states
    };
    let pending = |due_at, attempt| (MessageState::Pending, due_at, attempt);
    assert_eq!(
        states(store.clone()).await,
        [
            (MessageState::InProgress, T0, 1),
            pending(T0, 0),
            pending(T0, 1),
            pending(T0, 1)
        ],
        "taken back messages are due at once, keep their (past) due time so they go before what fell due \
         since, and keep the attempt they made"
    );
    assert_eq!(
        store.message_rescue_abandoned(now, &Abandoned::All).await.unwrap(),
        1,
        "every lease"
    );
    let page = EventPage {
        filter: Filter::default(),
        states: vec![LogState::Retry],
        cursor: None,
        until: None,
        order: Order::EarliestFirst,
        count: 100,
    };
    let logged = store.event_list(&page).await.unwrap();
    assert_eq!(logged.len(), 3, "each taken back message logs RETRY");
    assert!(logged
        .iter()
        .all(|e| e.error.as_deref().is_some_and(|e| e.contains("started again"))));
}

async fn message_rescue_expired_and_extend_leases(backend: Backend) {
    let (_db, store) = store(backend).await;
    let a = message("https://e.test/a", T0, &[]);
    let b = message("https://e.test/b", T0, &[]);
    store.message_insert(&[a.clone(), b.clone()]).await.unwrap();
    store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();
    let extended = store
        .message_extend_leases(&[(a.id.to_string(), 1), (b.id.to_string(), 7)], T0 + 2 * LEASE)
        .await
        .unwrap();
    assert_eq!(extended, 1, "only the matching attempt is extended");
    assert_eq!(store.message_rescue_expired(T0 + LEASE - 1, &[]).await.unwrap(), 0);
    assert_eq!(
        store
            .message_rescue_expired(T0 + LEASE + 1, &[b.id.to_string()])
            .await
            .unwrap(),
        0,
        "the caller's own leases are never rescued"
    );
    assert_eq!(store.message_rescue_expired(T0 + LEASE + 1, &[]).await.unwrap(), 1);
    let row_b = store.message_get(&b.id).await.unwrap().unwrap();
    assert_eq!(
        (row_b.state.as_str(), row_b.due_at, row_b.attempt),
        ("pending", T0 + LEASE + 1, 1)
    );
    assert_eq!(
        store.message_get(&a.id).await.unwrap().unwrap().state,
        MessageState::InProgress
    );
    // The dead worker's completion for b's old attempt is ignored once b is claimed again.
    let again = store
        .message_claim_due(&claim(T0 + LEASE + 1, T0 + 3 * LEASE, 10))
        .await
        .unwrap();
    assert_eq!(again[0].attempt, 2);
    let late = completion(&b.id, 1, CompletionKind::Retry { due_at: T0 });
    assert_eq!(store.message_complete(T0 + LEASE + 2, &[late]).await.unwrap(), 0);
}

async fn message_run_now_makes_only_pending_messages_due(backend: Backend) {
    let (_db, store) = store(backend).await;
    let later = message("https://e.test/later", T0 + 3_600_000, &[]);
    let flight = message("https://e.test/f", T0, &[]);
    store.message_insert(&[later.clone(), flight.clone()]).await.unwrap();
    assert_eq!(
        store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap().len(),
        1
    );
    assert_eq!(
        store.message_run_now(T0 + 5, &later.id).await.unwrap(),
        RunNowResult::Due
    );
    let claimed = store.message_claim_due(&claim(T0 + 5, T0 + LEASE, 10)).await.unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [later.id.as_str()]
    );
    assert_eq!(
        claimed[0].attempt, 1,
        "the claim counts the attempt; running now did not"
    );
    assert_eq!(
        store.message_run_now(T0, &flight.id).await.unwrap(),
        RunNowResult::InFlight
    );
    assert_eq!(
        store.message_run_now(T0, "msg_missing").await.unwrap(),
        RunNowResult::NotFound
    );
    store
        .message_complete(T0 + 6, &[completion(&flight.id, 1, CompletionKind::Delivered)])
        .await
        .unwrap();
    assert!(matches!(
        store.message_run_now(T0 + 7, &flight.id).await.unwrap(),
        RunNowResult::Finished(_)
    ));
    let mut queued = message("https://e.test/q", T0 + 3_600_000, &[]);
    queued.queue_name = Some("fifo".into());
    store.message_insert(std::slice::from_ref(&queued)).await.unwrap();
    assert_eq!(
        store.message_run_now(T0 + 8, &queued.id).await.unwrap(),
        RunNowResult::Queued("fifo".into()),
        "a queued message waits for its turn"
    );
    assert!(store
        .message_claim_due(&claim(T0 + 8, T0 + LEASE, 10))
        .await
        .unwrap()
        .is_empty());
}

async fn message_cancel_and_cancel_many(backend: Backend) {
    let (_db, store) = store(backend).await;
    let pending = message("https://e.test/p", T0 + 1_000, &["keep"]);
    let flight = message("https://e.test/f", T0, &[]);
    let labelled: Vec<_> = (0..3)
        .map(|i| message(&format!("https://e.test/l{i}"), T0 + 1_000, &["bulk"]))
        .collect();
    store.message_insert(&[pending.clone(), flight.clone()]).await.unwrap();
    store.message_insert(&labelled).await.unwrap();
    store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();

    assert_eq!(
        store.message_cancel(T0, &pending.id).await.unwrap(),
        CancelResult::Canceled
    );
    assert_eq!(
        store.message_cancel(T0, &flight.id).await.unwrap(),
        CancelResult::CancelRequested
    );
    assert_eq!(
        store.message_cancel(T0, "msg_missing").await.unwrap(),
        CancelResult::NotFound
    );
    assert!(matches!(
        store.message_cancel(T0, &pending.id).await.unwrap(),
        CancelResult::AlreadyFinished(_)
    ));
    // The attempt in flight fails: it is canceled instead of retried.
    let retry = completion(&flight.id, 1, CompletionKind::Retry { due_at: T0 + 10 });
    store.message_complete(T0 + 1, &[retry]).await.unwrap();
    assert_eq!(
        store.message_get(&flight.id).await.unwrap().unwrap().state,
        MessageState::Canceled
    );

    let by_label = Filter {
        label: vec!["bulk".into()],
        url: vec!["https://e.test/l1".into()],
        ..Filter::default()
    };
    assert_eq!(store.message_cancel_many(T0, &by_label).await.unwrap(), 1);
    let by_host = Filter {
        host: vec!["e.test".into()],
        path: vec!["/l0".into(), "/l2".into()],
        ..Filter::default()
    };
    assert_eq!(store.message_cancel_many(T0, &by_host).await.unwrap(), 2);
    assert_eq!(
        store.message_cancel_many(T0, &Filter::default()).await.unwrap(),
        0,
        "nothing left to cancel"
    );
}

async fn failed_completion_dead_letters_unless_cancel_was_requested(backend: Backend) {
    let (_db, store) = store(backend).await;
    let a = message("https://e.test/a", T0, &["x"]);
    let b = message("https://e.test/b", T0, &[]);
    store.message_insert(&[a.clone(), b.clone()]).await.unwrap();
    store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();
    store.message_cancel(T0, &b.id).await.unwrap();
    let failures = [
        completion(&a.id, 1, CompletionKind::Failed(dlq_entry("0000000000001-a"))),
        completion(&b.id, 1, CompletionKind::Failed(dlq_entry("0000000000001-b"))),
    ];
    assert_eq!(store.message_complete(T0 + 5, &failures).await.unwrap(), 2);
    assert_eq!(
        store.message_get(&a.id).await.unwrap().unwrap().state,
        MessageState::Failed
    );
    assert_eq!(
        store.message_get(&b.id).await.unwrap().unwrap().state,
        MessageState::Canceled
    );
    let entry = store.dlq_get("0000000000001-a").await.unwrap().unwrap();
    assert_eq!(
        (
            entry.message.id.as_str(),
            entry.dead_letter.response_status,
            entry.created_at
        ),
        (a.id.as_str(), 500, T0 + 5)
    );
    assert_eq!(entry.dead_letter.response_body, b"boom");
    assert_eq!(
        entry.dead_letter.response_header,
        HeaderMap::from([("X-A".to_string(), vec!["1".to_string()])])
    );
    assert!(
        store.dlq_get("0000000000001-b").await.unwrap().is_none(),
        "a canceled message is not dead-lettered"
    );
}

pub(crate) async fn dead_letter_all(store: &Store, n: usize) -> Vec<String> {
    let batch: Vec<_> = (0..n)
        .map(|i| message(&format!("https://e.test/{i}"), T0, &[]))
        .collect();
    store.message_insert(&batch).await.unwrap();
    let claimed = store.message_claim_due(&claim(T0, T0 + LEASE, n as i64)).await.unwrap();
    let failures: Vec<_> = claimed
        .iter()
        .enumerate()
        .map(|(i, m)| {
            completion(
                &m.id,
                1,
                CompletionKind::Failed(dlq_entry(&format!("{:013}-{i:03}", T0))),
            )
        })
        .collect();
    store.message_complete(T0, &failures).await.unwrap();
    (0..n).map(|i| format!("{:013}-{i:03}", T0)).collect()
}

async fn dlq_list_pages_and_dlq_retry_takes_each_entry_once(backend: Backend) {
    let (_db, store) = store(backend).await;
    let dlq_ids = dead_letter_all(&store, 5).await;
    let page = |cursor: Option<&str>, order| DlqPage {
        filter: Filter::default(),
        cursor: cursor.map(Into::into),
        until: None,
        order,
        count: 2,
    };
    let first = store.dlq_list(&page(None, Order::EarliestFirst)).await.unwrap();
    let ids: Vec<_> = first.iter().map(|r| r.dead_letter.dlq_id.clone()).collect();
    assert_eq!(ids, dlq_ids[0..2]);
    let second = store
        .dlq_list(&page(Some(&dlq_ids[1]), Order::EarliestFirst))
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(|r| r.dead_letter.dlq_id.clone()).collect::<Vec<_>>(),
        dlq_ids[2..4]
    );
    let latest = store
        .dlq_list(&page(Some(&dlq_ids[4]), Order::LatestFirst))
        .await
        .unwrap();
    assert_eq!(
        latest.iter().map(|r| r.dead_letter.dlq_id.clone()).collect::<Vec<_>>(),
        [dlq_ids[3].clone(), dlq_ids[2].clone()]
    );
    let filtered = Filter {
        url: vec!["https://e.test/3".into()],
        response_status: vec![500],
        ..Filter::default()
    };
    let found = store
        .dlq_list(&DlqPage {
            filter: filtered,
            count: 10,
            ..DlqPage::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message.url, "https://e.test/3");

    let replacement = message("https://e.test/again", T0 + 10, &[]);
    let retried = store
        .dlq_retry(&[(dlq_ids[0].clone().into(), replacement.clone())])
        .await
        .unwrap();
    assert_eq!(retried, std::slice::from_ref(&replacement.id));
    assert!(store.dlq_get(&dlq_ids[0]).await.unwrap().is_none());
    assert_eq!(
        store.message_get(&replacement.id).await.unwrap().unwrap().state,
        MessageState::Pending
    );
    let twice = message("https://e.test/twice", T0, &[]);
    assert!(store
        .dlq_retry(&[(dlq_ids[0].clone().into(), twice.clone())])
        .await
        .unwrap()
        .is_empty());
    assert!(
        store.message_get(&twice.id).await.unwrap().is_none(),
        "no message for an entry already retried"
    );
    assert_eq!(
        store
            .dlq_delete(&[dlq_ids[1].clone().into(), dlq_ids[1].clone().into(), "x".into()])
            .await
            .unwrap(),
        1
    );
}

async fn retention_deletes_old_finished_messages_but_not_dlq_held_ones(backend: Backend) {
    let (_db, store) = store(backend).await;
    let dlq_ids = dead_letter_all(&store, 2).await;
    let done = message("https://e.test/done", T0, &[]);
    let waiting = message("https://e.test/waiting", T0 + 999_999, &[]);
    store.message_insert(&[done.clone(), waiting.clone()]).await.unwrap();
    store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();
    store
        .message_complete(T0 + 10, &[completion(&done.id, 1, CompletionKind::Delivered)])
        .await
        .unwrap();

    assert_eq!(
        store.message_delete_finished(T0 + 10, 100).await.unwrap(),
        0,
        "strictly older only"
    );
    assert_eq!(
        store.message_delete_finished(T0 + 11, 100).await.unwrap(),
        1,
        "the DLQ keeps its messages"
    );
    assert!(store.message_get(&done.id).await.unwrap().is_none());
    assert!(store.message_get(&waiting.id).await.unwrap().is_some());
    // Its log entries went with it: a message stored again under the same id has only its own.
    store.message_insert(std::slice::from_ref(&done)).await.unwrap();
    let page = EventPage {
        filter: Filter {
            message_ids: vec![done.id.to_string()],
            ..Filter::default()
        },
        states: Vec::new(),
        cursor: None,
        until: None,
        order: Order::EarliestFirst,
        count: 100,
    };
    let states: Vec<&str> = store
        .event_list(&page)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.state.as_str())
        .collect();
    assert_eq!(
        states,
        ["CREATED"],
        "the log entries of a deleted message are deleted with it"
    );
    assert_eq!(
        store.dlq_delete_expired(T0 + 1, 1).await.unwrap(),
        1,
        "at most the limit"
    );
    assert_eq!(store.dlq_delete_expired(T0 + 1, 100).await.unwrap(), 1);
    assert!(store.dlq_get(&dlq_ids[0]).await.unwrap().is_none());
    assert_eq!(
        store.message_delete_finished(T0 + 11, 100).await.unwrap(),
        2,
        "then their messages go too"
    );
}

async fn signing_keys_init_once_and_rotate(backend: Backend) {
    let (_db, store) = store(backend).await;
    assert!(store.signing_keys_get().await.unwrap().is_none());
    let first = SigningKeys {
        current: "sig_a".into(),
        next: "sig_b".into(),
    };
    assert_eq!(store.signing_keys_init(&first).await.unwrap(), first);
    let other = SigningKeys {
        current: "sig_x".into(),
        next: "sig_y".into(),
    };
    assert_eq!(
        store.signing_keys_init(&other).await.unwrap(),
        first,
        "the stored pair wins"
    );
    let rotated = store.signing_keys_rotate("sig_c").await.unwrap();
    assert_eq!(
        rotated,
        SigningKeys {
            current: "sig_b".into(),
            next: "sig_c".into()
        }
    );
    assert_eq!(store.signing_keys_get().await.unwrap(), Some(rotated));
}

fn new_schedule(id: &str, cron: &str, now: i64) -> NewSchedule {
    let request = ScheduleRequest {
        id: Some(id),
        cron: Some(cron),
        destination: postdate::domain::destination::Destination::Url(
            DestinationUrl::parse("https://e.test/cron").unwrap(),
        ),
        options: &MessageOptions::default(),
        body: b"tick".to_vec().into(),
        caller_ip: None,
        queue_name: None,
    };
    NewSchedule::build(request, now, &LIMITS).unwrap()
}

async fn schedules_upsert_list_pause_resume_and_delete(backend: Backend) {
    let (_db, store) = store(backend).await;
    store
        .schedule_upsert(&new_schedule("b", "0 * * * *", T0))
        .await
        .unwrap();
    store
        .schedule_upsert(&new_schedule("a", "*/5 * * * *", T0 + 1))
        .await
        .unwrap();
    let ids: Vec<_> = store.schedule_list().await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["b", "a"], "oldest first");
    assert_eq!(store.schedule_next_fire_at().await.unwrap(), Some(T0 + 300_000));

    assert!(store.schedule_pause("a", T0 + 2).await.unwrap());
    assert_eq!(
        store.schedule_next_fire_at().await.unwrap(),
        Some(T0 + 3_600_000),
        "paused schedules are not due"
    );
    assert!(store
        .schedule_due(T0 + 3_600_000, 10)
        .await
        .unwrap()
        .iter()
        .all(|s| s.id == "b"));
    assert!(store.schedule_resume("a", T0 + 600_000, T0 + 3).await.unwrap());
    let a = store.schedule_get("a").await.unwrap().unwrap();
    assert_eq!(
        (a.is_paused, a.next_fire_at, a.updated_at),
        (false, T0 + 600_000, T0 + 3)
    );

    // Replacing keeps the paused state and creation time, and resets every setting.
    store.schedule_pause("b", T0).await.unwrap();
    let mut replacement = new_schedule("b", "0 3 * * *", T0 + 9);
    replacement.body = Vec::new();
    store.schedule_upsert(&replacement).await.unwrap();
    let b = store.schedule_get("b").await.unwrap().unwrap();
    assert_eq!(
        (b.cron.expression(), b.is_paused, b.created_at, b.body.len()),
        ("0 3 * * *", true, T0, 0)
    );

    assert!(store.schedule_delete("a").await.unwrap());
    assert!(!store.schedule_delete("a").await.unwrap());
    assert!(!store.schedule_pause("a", T0).await.unwrap());
    assert!(store.schedule_get("a").await.unwrap().is_none());
}

async fn schedule_fire_moves_each_slot_once_and_stores_its_messages(backend: Backend) {
    let (_db, store) = store(backend).await;
    store
        .schedule_upsert(&new_schedule("s", "0 * * * *", T0))
        .await
        .unwrap();
    store
        .schedule_upsert(&new_schedule("p", "0 * * * *", T0))
        .await
        .unwrap();
    store.schedule_pause("p", T0).await.unwrap();
    let slot = T0 + 3_600_000;
    let due = store.schedule_due(slot, 10).await.unwrap();
    assert_eq!(due.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s"]);
    let fire = |id: &str| {
        let mut m = message("https://e.test/cron", slot, &[]);
        m.schedule_id = Some(id.into());
        Fire {
            schedule_id: id.into(),
            slot,
            next_fire_at: slot + 3_600_000,
            messages: vec![m],
        }
    };
    let first = [fire("s"), fire("p")];
    assert_eq!(
        store.schedule_fire(slot, &first).await.unwrap(),
        ["s"],
        "a paused schedule does not fire"
    );
    let second = [fire("s")];
    assert!(
        store.schedule_fire(slot, &second).await.unwrap().is_empty(),
        "the same slot fires once"
    );
    assert!(
        store.message_get(&second[0].messages[0].id).await.unwrap().is_none(),
        "and stores nothing"
    );

    let s = store.schedule_get("s").await.unwrap().unwrap();
    let fired_id = first[0].messages[0].id.to_string();
    assert_eq!((s.last_fire_at, s.next_fire_at), (Some(slot), slot + 3_600_000));
    assert_eq!(s.last_message_ids, std::slice::from_ref(&fired_id));
    let row = store.message_get(&fired_id).await.unwrap().unwrap();
    assert_eq!(row.schedule_id.as_deref(), Some("s"));
    let states = store
        .message_states(&[fired_id.clone(), "msg_gone".into()])
        .await
        .unwrap();
    assert_eq!(states, [(fired_id, MessageState::Pending)]);
    assert!(store.message_get(&first[1].messages[0].id).await.unwrap().is_none());
}

async fn the_scheduler_lock_has_one_holder_at_a_time(backend: Backend) {
    let (_db, store) = store(backend).await;
    let lease = |holder: &str| postdate::store::LeaderLease {
        name: "scheduler",
        holder: holder.to_string(),
    };
    let (a, b) = (lease("a"), lease("b"));
    let first = store.leader_acquire(&a, T0, T0 + LEASE).await.unwrap();
    assert_eq!(first, Some(1), "the first instance leads, in term 1");
    assert_eq!(store.leader_acquire(&b, T0 + 1, T0 + 1 + LEASE).await.unwrap(), None);
    assert!(store.leader_renew(&a, 1, T0 + 2 * LEASE).await.unwrap());
    assert_eq!(
        store.leader_acquire(&b, T0 + LEASE + 1, T0 + 3 * LEASE).await.unwrap(),
        None,
        "a renewed lease is not taken over"
    );
    assert_eq!(
        store
            .leader_acquire(&b, T0 + 2 * LEASE + 1, T0 + 3 * LEASE)
            .await
            .unwrap(),
        Some(2),
        "a lapsed lease is taken over in the next term"
    );
    assert!(
        !store.leader_renew(&a, 1, T0 + 4 * LEASE).await.unwrap(),
        "the old term cannot renew"
    );
    store.leader_release(&b, 2).await.unwrap();
    assert_eq!(
        store
            .leader_acquire(&a, T0 + 2 * LEASE + 2, T0 + 4 * LEASE)
            .await
            .unwrap(),
        Some(3),
        "a released lease is free at once"
    );
}

async fn completions_store_their_spawned_messages_only_when_they_apply(backend: Backend) {
    let (_db, store) = store(backend).await;
    let batch: Vec<_> = (0..3)
        .map(|i| message(&format!("https://e.test/{i}"), T0, &[]))
        .collect();
    store.message_insert(&batch).await.unwrap();
    store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();
    let with_callback = |id: &str, attempt, kind| {
        let callback = message("https://cb.test/", T0, &[]);
        let mut completion = completion(id, attempt, kind);
        completion.spawn = vec![callback];
        completion
    };
    let completions = [
        with_callback(&batch[0].id, 1, CompletionKind::Delivered),
        with_callback(&batch[1].id, 1, CompletionKind::Failed(dlq_entry("0000000000001-x"))),
        with_callback(&batch[2].id, 9, CompletionKind::Retry { due_at: T0 }),
    ];
    assert_eq!(store.message_complete(T0, &completions).await.unwrap(), 2);
    for (c, stored) in completions.iter().zip([true, true, false]) {
        let spawned = store.message_get(&c.spawn[0].id).await.unwrap();
        assert_eq!(spawned.is_some(), stored, "a stale completion creates no callback");
    }
}

/// The hot path writes batches as multi-row statements of a few fixed sizes (SQLite) or arrays (Postgres):
/// 300 messages span several statements, and every row must land exactly once with its own result.
async fn batches_larger_than_one_statement_are_stored_claimed_and_completed_whole(backend: Backend) {
    let (_db, store) = store(backend).await;
    let mut messages: Vec<NewMessage> = (0..300)
        .map(|i| message(&format!("https://e.test/{i}"), T0, &[]))
        .collect();
    for m in messages.iter_mut().take(5) {
        m.queue_name = Some("fifo".into());
    }
    store.queue_ensure("fifo", T0).await.unwrap();
    store.message_insert(&messages).await.unwrap();
    let orders: Vec<i64> = {
        let mut orders = Vec::new();
        for m in &messages[..5] {
            orders.push(store.message_get(&m.id).await.unwrap().unwrap().queue_order.unwrap());
        }
        orders
    };
    assert!(
        orders.windows(2).all(|w| w[0] < w[1]),
        "queue positions follow the batch order: {orders:?}"
    );

    let claimed = store.message_claim_due(&claim(T0, T0 + LEASE, 1_000)).await.unwrap();
    let ids: HashSet<&str> = claimed.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        (claimed.len(), ids.len()),
        (296, 296),
        "all but the 4 queued behind the first"
    );
    // Every tenth is retried, every tenth (offset one) reports a stale attempt, the rest were delivered.
    let completions: Vec<Completion> = claimed
        .iter()
        .enumerate()
        .map(|(i, m)| match i % 10 {
            0 => completion(&m.id, m.attempt, CompletionKind::Retry { due_at: T0 + 1_000 }),
            1 => completion(&m.id, m.attempt + 1, CompletionKind::Delivered),
            _ => completion(&m.id, m.attempt, CompletionKind::Delivered),
        })
        .collect();
    let (retried, stale) = (30, 30);
    let delivered = 296 - retried - stale;
    assert_eq!(
        store.message_complete(T0 + 10, &completions).await.unwrap(),
        (delivered + retried) as u64
    );
    let mut states = std::collections::BTreeMap::new();
    for m in &claimed {
        let state = store.message_get(&m.id).await.unwrap().unwrap().state;
        *states.entry(state).or_insert(0) += 1;
    }
    let expected = [
        (MessageState::Pending, retried),
        (MessageState::InProgress, stale),
        (MessageState::Delivered, delivered),
    ];
    assert_eq!(states, expected.into_iter().collect());
    let page = EventPage {
        filter: Filter::default(),
        states: vec![LogState::Created, LogState::Active, LogState::Delivered],
        cursor: None,
        until: None,
        order: Order::EarliestFirst,
        count: 1_000,
    };
    let mut logged = std::collections::BTreeMap::new();
    for event in store.event_list(&page).await.unwrap() {
        *logged.entry(event.state.as_str()).or_insert(0) += 1;
    }
    let expected = [("ACTIVE", 296), ("CREATED", 300), ("DELIVERED", delivered)];
    assert_eq!(logged, expected.into_iter().collect());
}

/// A fan-out of a large body is stored in several statements (a few MiB of bodies each), all or nothing,
/// and every message keeps its own id, order and whole body.
async fn message_insert_of_a_fan_out_larger_than_the_statement_body_budget_stores_every_message(backend: Backend) {
    let (_db, store) = store(backend).await;
    let body = bytes::Bytes::from(vec![7u8; 1024 * 1024]);
    let messages: Vec<NewMessage> = (0..9)
        .map(|n| {
            let mut m = message(&format!("https://e{n}.example.com/hook"), T0 + n, &[]);
            m.body = body.clone();
            m
        })
        .collect();
    store.message_insert(&messages).await.unwrap();
    for m in &messages {
        let row = store.message_get(&m.id).await.unwrap().unwrap();
        assert_eq!((row.url.as_str(), row.due_at), (m.url.as_str(), m.not_before));
        assert_eq!(row.body.len(), body.len());
        assert!(row.body.iter().all(|b| *b == 7));
    }
    let claimed = store
        .message_claim_due(&claim(T0 + 100, T0 + 100 + LEASE, 100))
        .await
        .unwrap();
    let order: Vec<&str> = claimed.iter().map(|m| m.id.as_str()).collect();
    let expected: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(order, expected, "claimed in due order, each once");
}

async fn hand_back_makes_the_message_due_again_without_counting_the_attempt(backend: Backend) {
    let (_db, store) = store(backend).await;
    let m = message("https://e.test/", T0, &[]);
    let canceled = message("https://e.test/canceled", T0, &[]);
    store.message_insert(&[m.clone(), canceled.clone()]).await.unwrap();
    store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();
    assert_eq!(
        store.message_cancel(T0 + 1, &canceled.id).await.unwrap(),
        CancelResult::CancelRequested
    );
    let hand_back = |id: &str| Completion {
        error: Some("could not connect: Too many open files (os error 24)".into()),
        status: 0,
        ..completion(id, 1, CompletionKind::HandBack { due_at: T0 + 1_000 })
    };
    let stale = completion(&m.id, 0, CompletionKind::HandBack { due_at: T0 });
    assert_eq!(
        store.message_complete(T0 + 2, &[stale]).await.unwrap(),
        0,
        "guarded like any completion"
    );
    assert_eq!(
        store
            .message_complete(T0 + 2, &[hand_back(&m.id), hand_back(&canceled.id)])
            .await
            .unwrap(),
        2
    );
    let row = store.message_get(&m.id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.attempt, row.due_at, row.lease_until),
        ("pending", 0, T0 + 1_000, None),
        "due again, and the attempt does not count"
    );
    let row = store.message_get(&canceled.id).await.unwrap().unwrap();
    assert_eq!(row.state, MessageState::Canceled, "a cancel requested meanwhile wins");
    assert_eq!(
        store
            .dlq_list(&DlqPage {
                count: 10,
                ..DlqPage::default()
            })
            .await
            .unwrap()
            .len(),
        0
    );

    let page = EventPage {
        filter: Filter {
            message_ids: vec![m.id.to_string()],
            ..Filter::default()
        },
        count: 10,
        order: Order::EarliestFirst,
        ..EventPage::default()
    };
    let events = store.event_list(&page).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.state, last.next_delivery_time),
        (LogState::Retry, Some(T0 + 1_000))
    );
    assert!(last.error.as_deref().unwrap().contains("Too many open files"));

    // Handed back until later (an open circuit's probe time): not claimed before then, so it cannot spin.
    let early = store
        .message_claim_due(&claim(T0 + 999, T0 + 999 + LEASE, 10))
        .await
        .unwrap();
    assert!(early.is_empty(), "not due before its time");
    let again = store
        .message_claim_due(&claim(T0 + 1_000, T0 + 1_000 + LEASE, 10))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 1, "the next attempt is the first one again");
}
