//! Store conformance for the responses log entries keep (issue 23): a completion's response lands on its
//! ERROR entry only, byte for byte, on both databases, whatever mix of kinds one batch completes.

use postdate::domain::headers::HeaderMap;
use postdate::domain::state::LogState;
use postdate::store::{CompletionKind, DeadLetter, EventPage, Filter, LoggedResponse, Order};

use crate::backend_tests;
use crate::common::{Backend, T0};
use crate::store_conformance::{claim, completion, message, store, LEASE};

backend_tests!(error_entries_keep_the_response_of_their_completion);

fn response(body: &[u8]) -> LoggedResponse {
    LoggedResponse {
        header: HeaderMap::from([("X-Reason".to_string(), vec!["a".to_string(), "b".to_string()])]),
        body: body.to_vec(),
    }
}

async fn error_entries_keep_the_response_of_their_completion(backend: Backend) {
    let (_db, store) = store(backend).await;
    let messages: Vec<_> = (0..4)
        .map(|i| message(&format!("https://e.test/{i}"), T0, &[]))
        .collect();
    store.message_insert(&messages).await.unwrap();
    let claimed = store.message_claim_due(&claim(T0, T0 + LEASE, 10)).await.unwrap();
    assert_eq!(claimed.len(), 4);
    let by_url = |i: usize| claimed.iter().find(|m| m.url.ends_with(&format!("/{i}"))).unwrap();
    let retry = CompletionKind::Retry { due_at: T0 + 1_000 };
    let failed = |id: &str| {
        CompletionKind::Failed(DeadLetter {
            dlq_id: format!("dlq-{id}").as_str().into(),
            response_status: 500,
            response_header: HeaderMap::new(),
            response_body: b"the DLQ's own copy".to_vec(),
            error: None,
        })
    };
    let binary = [0xff, 0x00, 0xfe];
    let with = |i: usize, kind: CompletionKind, logged: Option<LoggedResponse>| {
        let m = by_url(i);
        let mut c = completion(&m.id, m.attempt, kind);
        c.status = if logged.is_some() { 500 } else { 0 };
        c.response = logged;
        c
    };
    // One batch of several kinds: on Postgres several statements, each with its arrays of responses.
    let completions = [
        with(0, retry.clone(), Some(response(&binary))),
        with(1, retry, None),
        with(2, failed(by_url(2).id.as_str()), Some(response(b""))),
        with(3, CompletionKind::Delivered, None),
    ];
    assert_eq!(store.message_complete(T0 + 1, &completions).await.unwrap(), 4);
    let logged = |i: usize| {
        let store = store.clone();
        let id = by_url(i).id.to_string();
        async move {
            let page = EventPage {
                filter: Filter {
                    message_ids: vec![id],
                    ..Filter::default()
                },
                count: 10,
                order: Order::EarliestFirst,
                ..EventPage::default()
            };
            store.event_list(&page).await.unwrap()
        }
    };
    for (i, expected) in [
        (0, Some(response(&binary))),
        (1, None),
        (2, Some(response(b""))),
        (3, None),
    ] {
        let entries = logged(i).await;
        for entry in &entries {
            let shown = match entry.state {
                LogState::Error => expected.clone(),
                _ => None,
            };
            assert_eq!(entry.response, shown, "message {i}, {:?}", entry.state);
        }
        assert_eq!(entries.iter().any(|e| e.state == LogState::Error), i != 3);
    }
}
