//! The store conformance suite, continued: flow control, queues, URL groups, deduplication, the message
//! list, stats, peers and corrupt rows. Concurrency first: two claimers or publishers at once, on both
//! backends.

use postdate::domain::flow_control::FlowControl;
use postdate::domain::message::NewMessage;
use postdate::domain::state::{MessageState, ShownState};
use postdate::store::{
    CancelResult, CompletionKind, DedupEntry, DlqPage, EndpointSelection, EventPage, Filter, MessagePage, Order, Store,
    StoreError,
};

use super::store_conformance::{claim, completion, dead_letter_all, message, store, LEASE};
use crate::backend_tests;
use crate::common::{Backend, TestDb, T0};

backend_tests!(
    two_concurrent_flow_controlled_claimers_never_exceed_the_key_parallelism,
    two_concurrent_claimers_of_a_queue_take_its_messages_in_order_one_at_a_time,
    two_concurrent_publishes_with_one_deduplication_key_store_one_of_them,
    flow_control_keys_are_configured_read_paused_pinned_unpinned_and_reset,
    queues_are_upserted_read_paused_and_deleted,
    url_groups_gain_rename_and_lose_endpoints_and_an_emptied_group_is_deleted,
    message_list_pages_by_state_and_filter,
    a_filtered_page_stops_at_the_end_of_its_search_window,
    store_stats_counts_messages_by_state_and_schedules,
    message_insert_within_stores_and_migrate_runs_again_harmlessly,
    peers_wake_reaches_a_listener_where_there_are_other_instances,
    a_corrupt_column_is_an_error_naming_its_table_row_and_column,
    a_corrupt_claimed_message_is_left_out_and_does_not_hold_up_the_others,
);

/// The endpoint named `name`.
fn named(name: &str) -> EndpointSelection {
    EndpointSelection {
        names: vec![name.into()],
        ..EndpointSelection::default()
    }
}

fn flow_controlled(key: &str) -> NewMessage {
    let mut m = message("https://flow.test/x", T0, &[]);
    m.flow_control_key = Some(key.into());
    m
}

fn flow(key: &str, parallelism: Option<i32>, rate: Option<i32>) -> FlowControl {
    FlowControl {
        key: key.into(),
        parallelism,
        rate,
        period_ms: None,
    }
}

async fn two_concurrent_flow_controlled_claimers_never_exceed_the_key_parallelism(backend: Backend) {
    let (_db, store) = store(backend).await;
    assert!(!store.flow_control_any().await.unwrap());
    store
        .flow_control_configure(&flow("k", Some(2), None), T0)
        .await
        .unwrap();
    assert!(store.flow_control_any().await.unwrap());
    let messages: Vec<NewMessage> = (0..10).map(|_| flow_controlled("k")).collect();
    store.message_insert(&messages).await.unwrap();
    let claimer = |store: Store| async move {
        store
            .message_claim_flow_controlled(&claim(T0, T0 + LEASE, 10))
            .await
            .unwrap()
    };
    let (a, b) = tokio::join!(claimer(store.clone()), claimer(store.clone()));
    assert_eq!(a.len() + b.len(), 2, "parallelism 2 across both claimers");
    assert!(a.iter().chain(&b).all(|m| m.flow_control_key.as_deref() == Some("k")));
    assert_eq!(store.message_in_flight_count().await.unwrap(), 2);
    // Plain claims leave flow-controlled messages alone.
    assert!(store
        .message_claim_due(&claim(T0, T0 + LEASE, 10))
        .await
        .unwrap()
        .is_empty());
    let key = store.flow_control_get("k").await.unwrap().unwrap();
    assert_eq!((key.waiting, key.in_flight), (8, 2));
}

async fn two_concurrent_claimers_of_a_queue_take_its_messages_in_order_one_at_a_time(backend: Backend) {
    let (_db, store) = store(backend).await;
    store.queue_upsert("q", 1, false, T0).await.unwrap();
    let queued: Vec<NewMessage> = (0..3)
        .map(|i| {
            let mut m = message(&format!("https://queue.test/{i}"), T0, &[]);
            m.queue_name = Some("q".into());
            m
        })
        .collect();
    for m in &queued {
        store.message_insert(std::slice::from_ref(m)).await.unwrap();
    }
    for expected in &queued {
        let claimer =
            |store: Store| async move { store.message_claim_due(&claim(T0 + 1, T0 + LEASE, 10)).await.unwrap() };
        let (a, b) = tokio::join!(claimer(store.clone()), claimer(store.clone()));
        let claimed: Vec<_> = a.into_iter().chain(b).collect();
        assert_eq!(claimed.len(), 1, "parallelism 1: one in flight at a time");
        assert_eq!(claimed[0].id, expected.id, "FIFO");
        let mut done = completion(&claimed[0].id, 1, CompletionKind::Delivered);
        done.queued = true;
        assert_eq!(store.message_complete(T0 + 2, &[done]).await.unwrap(), 1);
    }
    assert_eq!(store.queue_get("q").await.unwrap().unwrap().lag, 0);
}

async fn two_concurrent_publishes_with_one_deduplication_key_store_one_of_them(backend: Backend) {
    let (_db, store) = store(backend).await;
    let (first, second) = (
        message("https://dedup.test/1", T0, &[]),
        message("https://dedup.test/2", T0, &[]),
    );
    let publish = |store: Store, m: NewMessage| async move {
        let answer = format!("[\"{}\"]", m.id);
        let dedup = DedupEntry {
            key: "key",
            published: &answer,
            expires_at: T0 + 1_000,
        };
        let result = store
            .message_insert_deduplicated(&dedup, T0, std::slice::from_ref(&m))
            .await
            .unwrap();
        (m.id, answer, result)
    };
    let (a, b) = tokio::join!(publish(store.clone(), first), publish(store.clone(), second));
    let (winner, loser) = match (&a.2, &b.2) {
        (None, Some(_)) => (a, b),
        (Some(_), None) => (b, a),
        other => panic!("exactly one publish must claim the key, got {other:?}"),
    };
    assert_eq!(
        loser.2.as_deref(),
        Some(winner.1.as_str()),
        "the loser gets the winner's answer"
    );
    assert!(store.message_get(&winner.0).await.unwrap().is_some());
    assert!(
        store.message_get(&loser.0).await.unwrap().is_none(),
        "nothing of the duplicate is stored"
    );
    // Once the window has passed, retention removes the key and the next publish claims it afresh.
    assert_eq!(store.dedup_delete_expired(T0 + 999, 10).await.unwrap(), 0);
    assert_eq!(store.dedup_delete_expired(T0 + 1_000, 10).await.unwrap(), 1);
    let later = message("https://dedup.test/3", T0, &[]);
    let again = store
        .message_insert_deduplicated(
            &DedupEntry {
                key: "key",
                published: "[]",
                expires_at: T0 + 5_000,
            },
            T0 + 2_000,
            std::slice::from_ref(&later),
        )
        .await
        .unwrap();
    assert_eq!(again, None);
    assert!(store.message_get(&later.id).await.unwrap().is_some());
}

async fn flow_control_keys_are_configured_read_paused_pinned_unpinned_and_reset(backend: Backend) {
    let (_db, store) = store(backend).await;
    store
        .flow_control_configure(&flow("alpha", Some(3), Some(10)), T0)
        .await
        .unwrap();
    store
        .flow_control_configure(&flow("beta", None, None), T0)
        .await
        .unwrap();
    let alpha = store.flow_control_get("alpha").await.unwrap().unwrap();
    assert_eq!(
        (alpha.parallelism, alpha.rate, alpha.period_ms, alpha.paused),
        (Some(3), Some(10), 1_000, false)
    );
    let all: Vec<String> = store
        .flow_control_list("")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.key)
        .collect();
    assert_eq!(all, ["alpha", "beta"]);
    let found: Vec<String> = store
        .flow_control_list("lph")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.key)
        .collect();
    assert_eq!(found, ["alpha"]);
    assert!(store.flow_control_get("gamma").await.unwrap().is_none());

    assert!(store.flow_control_set_paused("alpha", true, T0).await.unwrap());
    assert!(store.flow_control_get("alpha").await.unwrap().unwrap().paused);
    assert!(!store.flow_control_set_paused("gamma", true, T0).await.unwrap());
    // A paused key lets nothing go.
    store.message_insert(&[flow_controlled("alpha")]).await.unwrap();
    assert!(store
        .message_claim_flow_controlled(&claim(T0, T0 + LEASE, 10))
        .await
        .unwrap()
        .is_empty());
    assert!(store.flow_control_set_paused("alpha", false, T0).await.unwrap());

    // Pinned limits hold against later messages; unpinned ones follow them again.
    assert!(store
        .flow_control_pin("alpha", Some(7), None, Some(60_000), T0)
        .await
        .unwrap());
    store
        .flow_control_configure(&flow("alpha", Some(1), Some(2)), T0)
        .await
        .unwrap();
    let pinned = store.flow_control_get("alpha").await.unwrap().unwrap();
    assert_eq!(
        (pinned.parallelism, pinned.pinned_parallelism, pinned.period_ms),
        (Some(7), true, 60_000)
    );
    assert!(store.flow_control_unpin("alpha", true, false, T0).await.unwrap());
    store
        .flow_control_configure(&flow("alpha", Some(1), None), T0)
        .await
        .unwrap();
    let unpinned = store.flow_control_get("alpha").await.unwrap().unwrap();
    assert_eq!((unpinned.parallelism, unpinned.pinned_parallelism), (Some(1), false));
    assert!(!store.flow_control_pin("gamma", Some(1), None, None, T0).await.unwrap());
    assert!(!store.flow_control_unpin("gamma", true, true, T0).await.unwrap());

    // A claim counts against the rate; a reset starts a new window.
    let claimed = store
        .message_claim_flow_controlled(&claim(T0, T0 + LEASE, 10))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(store.flow_control_get("alpha").await.unwrap().unwrap().rate_count, 1);
    assert!(store.flow_control_reset_rate("alpha", T0 + 5).await.unwrap());
    let reset = store.flow_control_get("alpha").await.unwrap().unwrap();
    assert_eq!((reset.rate_count, reset.rate_period_start), (0, T0 + 5));
    assert!(!store.flow_control_reset_rate("gamma", T0).await.unwrap());
}

async fn queues_are_upserted_read_paused_and_deleted(backend: Backend) {
    let (_db, store) = store(backend).await;
    store.queue_upsert("b", 4, false, T0).await.unwrap();
    store.queue_ensure("a", T0).await.unwrap();
    store.queue_ensure("b", T0 + 1).await.unwrap();
    let queues = store.queue_list().await.unwrap();
    let shown: Vec<(&str, i32, bool)> = queues
        .iter()
        .map(|q| (q.name.as_str(), q.parallelism, q.paused))
        .collect();
    assert_eq!(
        shown,
        [("a", 1, false), ("b", 4, false)],
        "ensure never changes an existing queue"
    );
    let mut m = message("https://queue.test/x", T0, &[]);
    m.queue_name = Some("b".into());
    store.message_insert(std::slice::from_ref(&m)).await.unwrap();
    assert_eq!(store.queue_get("b").await.unwrap().unwrap().lag, 1);

    assert!(store.queue_set_paused("b", true, T0 + 2).await.unwrap());
    let paused = store.queue_get("b").await.unwrap().unwrap();
    assert_eq!((paused.paused, paused.updated_at), (true, T0 + 2));
    assert!(
        store
            .message_claim_due(&claim(T0, T0 + LEASE, 10))
            .await
            .unwrap()
            .is_empty(),
        "paused"
    );
    assert!(!store.queue_set_paused("missing", true, T0).await.unwrap());
    store.queue_upsert("b", 2, false, T0 + 3).await.unwrap();
    assert_eq!(
        store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap().len(),
        1
    );

    assert!(store.queue_delete("a").await.unwrap());
    assert!(!store.queue_delete("a").await.unwrap());
    assert!(store.queue_get("a").await.unwrap().is_none());
}

async fn url_groups_gain_rename_and_lose_endpoints_and_an_emptied_group_is_deleted(backend: Backend) {
    let (_db, store) = store(backend).await;
    let endpoints = [
        ("https://one.test/".to_string(), Some("one".to_string())),
        ("https://two.test/".to_string(), None),
    ];
    store.url_group_upsert_endpoints("g", &endpoints, T0).await.unwrap();
    store
        .url_group_upsert_endpoints("g", &[("https://two.test/".into(), Some("two".into()))], T0 + 1)
        .await
        .unwrap();
    store
        .url_group_upsert_endpoints("h", &[("https://three.test/".into(), None)], T0)
        .await
        .unwrap();
    let g = store.url_group_get("g").await.unwrap().unwrap();
    let shown: Vec<(&str, Option<&str>)> = g
        .endpoints
        .iter()
        .map(|e| (e.url.as_str(), e.name.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [("https://one.test/", Some("one")), ("https://two.test/", Some("two"))]
    );
    assert_eq!((g.created_at, g.updated_at), (T0, T0 + 1));
    let names: Vec<String> = store
        .url_group_list()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["g", "h"]);

    assert_eq!(
        store
            .url_group_remove_endpoints("g", &named("one"), T0 + 2)
            .await
            .unwrap(),
        Some(())
    );
    assert_eq!(store.url_group_get("g").await.unwrap().unwrap().endpoints.len(), 1);
    assert_eq!(
        store
            .url_group_remove_endpoints(
                "g",
                &EndpointSelection {
                    urls: vec!["https://two.test/".into()],
                    ..EndpointSelection::default()
                },
                T0 + 3
            )
            .await
            .unwrap(),
        Some(())
    );
    assert!(
        store.url_group_get("g").await.unwrap().is_none(),
        "an emptied group is deleted"
    );
    assert_eq!(
        store.url_group_remove_endpoints("g", &named("one"), T0).await.unwrap(),
        None
    );

    assert!(store.url_group_delete("h").await.unwrap());
    assert!(!store.url_group_delete("h").await.unwrap());
    assert!(store.url_group_list().await.unwrap().is_empty());
}

async fn message_list_pages_by_state_and_filter(backend: Backend) {
    let (_db, store) = store(backend).await;
    let messages: Vec<NewMessage> = (0..4)
        .map(|i| {
            message(
                &format!("https://list.test/{i}"),
                T0,
                if i % 2 == 0 { &["even"] } else { &[] },
            )
        })
        .collect();
    for m in &messages {
        store.message_insert(std::slice::from_ref(m)).await.unwrap();
    }
    let claimed = store.message_claim_due(&claim(T0, T0 + LEASE, 1)).await.unwrap();
    let page = |states: Vec<ShownState>, cursor: Option<String>, count: i64| MessagePage {
        states,
        cursor,
        count,
        ..MessagePage::default()
    };
    let ids = |list: Vec<postdate::store::Message>| list.into_iter().map(|m| m.id.into_string()).collect::<Vec<_>>();
    // Ids sort by creation time (ties, within a millisecond, by their random part): that is the list's order.
    let mut expected: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    expected.sort();
    let all = ids(store.message_list(&page(vec![], None, 10)).await.unwrap());
    assert_eq!(all, expected);
    let first = ids(store.message_list(&page(vec![], None, 2)).await.unwrap());
    let rest = ids(store
        .message_list(&page(vec![], first.last().cloned(), 10))
        .await
        .unwrap());
    assert_eq!([first, rest].concat(), all, "cursor paging covers every message once");
    let active = ids(store
        .message_list(&page(vec![ShownState::Active], None, 10))
        .await
        .unwrap());
    assert_eq!(active, [claimed[0].id.to_string()]);
    let created = ids(store
        .message_list(&page(vec![ShownState::Created], None, 10))
        .await
        .unwrap());
    assert_eq!(created.len(), 3);
    assert!(!created.contains(&claimed[0].id.to_string()));
    let labelled = MessagePage {
        filter: Filter {
            label: vec!["even".into()],
            ..Filter::default()
        },
        order: Order::LatestFirst,
        count: 10,
        ..MessagePage::default()
    };
    let mut even = vec![messages[0].id.to_string(), messages[2].id.to_string()];
    even.sort();
    even.reverse();
    assert_eq!(ids(store.message_list(&labelled).await.unwrap()), even);
}

/// With a window of 3 rows and ten messages of which two carry the label, each page looks at the next three
/// messages (in id order), holds the labelled ones among them, and its cursor is the window's end.
async fn a_filtered_page_stops_at_the_end_of_its_search_window(backend: Backend) {
    let (_db, store) = store(backend).await;
    let store = store.with_search_window(3);
    let messages: Vec<NewMessage> = (0..10)
        .map(|i| {
            message(
                &format!("https://window.test/{i}"),
                T0,
                if i % 5 == 0 { &["rare"] } else { &[] },
            )
        })
        .collect();
    for m in &messages {
        store.message_insert(std::slice::from_ref(m)).await.unwrap();
    }
    let mut ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    ids.sort();
    let labelled = |id: &String| messages.iter().any(|m| m.id == *id && !m.labels.is_empty());
    let rare = Filter {
        label: vec!["rare".into()],
        ..Filter::default()
    };
    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let page = MessagePage {
            filter: rare.clone(),
            cursor: cursor.clone(),
            count: 5,
            ..MessagePage::default()
        };
        let listed = store.message_page(&page).await.unwrap();
        pages.push((
            listed.rows.into_iter().map(|m| m.id.into_string()).collect::<Vec<_>>(),
            listed.next.clone(),
        ));
        match listed.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<(Vec<String>, Option<String>)> = ids
        .chunks(3)
        .map(|window| {
            let matches = window.iter().filter(|id| labelled(id)).cloned().collect();
            (matches, (window.len() == 3).then(|| window[2].clone()))
        })
        .collect();
    assert_eq!(pages, expected);
    assert_eq!(pages.iter().map(|(rows, _)| rows.len()).sum::<usize>(), 2);

    // Unfiltered, and filtered by id, a page is not windowed: the database finds those rows by its index.
    let all = store
        .message_page(&MessagePage {
            count: 5,
            ..MessagePage::default()
        })
        .await
        .unwrap();
    assert_eq!(all.rows.len(), 5);
    assert_eq!(all.next, Some(ids[4].clone()));
    let named = store
        .message_page(&MessagePage {
            filter: Filter {
                message_ids: vec![ids[9].clone()],
                ..Filter::default()
            },
            count: 5,
            ..MessagePage::default()
        })
        .await
        .unwrap();
    assert_eq!(named.rows.len(), 1);
    assert_eq!(named.next, None);

    // The log, newest first: each message has one CREATED entry, written in the order 0..9, so the first
    // window holds those of messages 9, 8 and 7, and the next one 6, 5 and 4.
    let log_page = |cursor| EventPage {
        filter: rare.clone(),
        cursor,
        order: Order::LatestFirst,
        count: 5,
        ..EventPage::default()
    };
    let logged = store.event_page(&log_page(None)).await.unwrap();
    assert!(logged.rows.is_empty());
    let further = store.event_page(&log_page(logged.next)).await.unwrap();
    assert_eq!(further.rows.len(), 1);
    assert_eq!(further.rows[0].message.id, messages[5].id);

    // The DLQ, filtered by the URL of its last entry only: the first window (entries 0..2) holds nothing.
    let (_dlq_db, store) = super::store_conformance::store(backend).await;
    let store = store.with_search_window(3);
    let dlq_ids = dead_letter_all(&store, 5).await;
    let last_url = store.dlq_get(&dlq_ids[4]).await.unwrap().unwrap().message.url;
    let by_url = |cursor: Option<String>| DlqPage {
        filter: Filter {
            url: vec![last_url.clone()],
            ..Filter::default()
        },
        cursor,
        count: 5,
        ..DlqPage::default()
    };
    let first = store.dlq_page(&by_url(None)).await.unwrap();
    assert!(first.rows.is_empty());
    assert_eq!(first.next, Some(dlq_ids[2].clone()));
    let second = store.dlq_page(&by_url(first.next)).await.unwrap();
    assert_eq!(second.rows.len(), 1);
    assert_eq!(second.rows[0].dead_letter.dlq_id, dlq_ids[4]);
    assert_eq!(second.next, None);
}

async fn store_stats_counts_messages_by_state_and_schedules(backend: Backend) {
    let (_db, store) = store(backend).await;
    let (due, later, claimed) = (
        message("https://stats.test/due", T0, &[]),
        message("https://stats.test/later", T0 + 60_000, &[]),
        message("https://stats.test/claimed", T0 - 5, &[]),
    );
    store.message_insert(std::slice::from_ref(&claimed)).await.unwrap();
    store.message_claim_due(&claim(T0, T0 + LEASE, 1)).await.unwrap();
    store.message_insert(&[due, later]).await.unwrap();
    let stats = store.store_stats(T0).await.unwrap();
    assert_eq!(
        (
            stats.waiting,
            stats.due,
            stats.in_flight,
            stats.retrying,
            stats.dlq_entries
        ),
        (1, 1, 1, 0, 0)
    );
    assert_eq!(stats.oldest_due_at, Some(T0));
    assert_eq!((stats.schedules_active, stats.schedules_paused), (0, 0));
}

async fn message_insert_within_stores_and_migrate_runs_again_harmlessly(backend: Backend) {
    let (_db, store) = store(backend).await;
    let m = message("https://within.test/", T0, &[]);
    store
        .message_insert_within(std::slice::from_ref(&m), std::time::Duration::from_secs(5))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(
        store.message_get(&m.id).await.unwrap().unwrap().state,
        MessageState::Pending
    );
}

async fn peers_wake_reaches_a_listener_where_there_are_other_instances(backend: Backend) {
    let (_db, store) = store(backend).await;
    match store.peers_listen().await.unwrap() {
        // SQLite has one instance: there is no one to wake, and waking is harmless.
        None => {
            assert_eq!(store.backend_name(), "sqlite");
            store.peers_wake().await.unwrap();
        }
        Some(mut listener) => {
            store.peers_wake().await.unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
                .await
                .expect("the wake-up arrives")
                .unwrap();
        }
    }
}

/// Writes a stored value the code never writes, as a bug or a hand edit would.
async fn corrupt(db: &TestDb, sql: &str) {
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

fn assert_corrupt(error: StoreError, table: &str, id: &str, column: &str) {
    match &error {
        StoreError::Corrupt {
            table: t,
            id: i,
            column: c,
            ..
        } => assert_eq!((*t, i.as_str(), *c), (table, id, column), "{error}"),
        other => panic!("expected a corrupt-row error, got {other}"),
    }
    assert!(error.to_string().contains(id), "the message names the row: {error}");
}

async fn a_corrupt_column_is_an_error_naming_its_table_row_and_column(backend: Backend) {
    let (db, store) = store(backend).await;
    let (state, header, callback) = (
        message("https://corrupt.test/1", T0, &[]),
        message("https://corrupt.test/2", T0, &[]),
        message("https://corrupt.test/3", T0, &[]),
    );
    store
        .message_insert(&[state.clone(), header.clone(), callback.clone()])
        .await
        .unwrap();
    corrupt(
        &db,
        &format!("update messages set state = 'lost' where id = '{}'", state.id),
    )
    .await;
    corrupt(
        &db,
        &format!("update messages set header = 'not json' where id = '{}'", header.id),
    )
    .await;
    corrupt(
        &db,
        &format!(
            "update messages set callback = '{{\"nope\":1}}' where id = '{}'",
            callback.id
        ),
    )
    .await;
    assert_corrupt(
        store.message_get(&state.id).await.unwrap_err(),
        "messages",
        &state.id,
        "state",
    );
    assert_corrupt(
        store.message_get(&header.id).await.unwrap_err(),
        "messages",
        &header.id,
        "header",
    );
    assert_corrupt(
        store.message_get(&callback.id).await.unwrap_err(),
        "messages",
        &callback.id,
        "callback",
    );
    assert_corrupt(
        store.message_cancel(T0, &state.id).await.unwrap_err(),
        "messages",
        &state.id,
        "state",
    );
    assert_corrupt(
        store.message_states(&[state.id.to_string()]).await.unwrap_err(),
        "messages",
        &state.id,
        "state",
    );
    assert!(store
        .message_list(&MessagePage {
            count: 10,
            ..MessagePage::default()
        })
        .await
        .is_err());
    // An unknown state is never read as pending: the message is not canceled as if it were.
    assert_eq!(
        store.message_cancel(T0, "msg_missing").await.unwrap(),
        CancelResult::NotFound
    );

    let schedule = postdate::domain::schedule::NewSchedule::build(
        postdate::domain::schedule::ScheduleRequest {
            id: Some("s"),
            cron: Some("0 * * * *"),
            destination: postdate::domain::destination::Destination::Url(
                postdate::domain::destination::DestinationUrl::parse("https://corrupt.test/s").unwrap(),
            ),
            options: &Default::default(),
            body: bytes::Bytes::new(),
            caller_ip: None,
            queue_name: None,
        },
        T0,
        &postdate::domain::option_rules::Limits {
            default_retries: 3,
            max_retries: 20,
            max_delay_ms: i64::MAX / 4,
            max_timeout_ms: 3_600_000,
        },
    )
    .unwrap();
    store.schedule_upsert(&schedule).await.unwrap();
    corrupt(&db, "update schedules set cron = 'every tuesday' where id = 's'").await;
    assert_corrupt(store.schedule_get("s").await.unwrap_err(), "schedules", "s", "cron");
    assert!(store.schedule_list().await.is_err());
}

async fn a_corrupt_claimed_message_is_left_out_and_does_not_hold_up_the_others(backend: Backend) {
    let (db, store) = store(backend).await;
    let (bad, good) = (
        message("https://claim.test/bad", T0, &[]),
        message("https://claim.test/good", T0, &[]),
    );
    store.message_insert(&[bad.clone(), good.clone()]).await.unwrap();
    corrupt(
        &db,
        &format!(
            "update messages set retry_delay_expression = 'retried +' where id = '{}'",
            bad.id
        ),
    )
    .await;
    let claimed = store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [good.id.as_str()]
    );
    // The corrupt one is leased, not lost: it is neither delivered nor deleted, and the rescuer frees it.
    assert_eq!(store.message_rescue_expired(T0 + LEASE + 1, &[]).await.unwrap(), 2);
    assert_corrupt(
        store.message_get(&bad.id).await.unwrap_err(),
        "messages",
        &bad.id,
        "retry_delay_expression",
    );
}
