//! The store conformance suite for async bulk actions: every `bulk_action_*` operation on both backends.

use postdate::domain::ids::BulkActionId;
use postdate::domain::state::MessageState;
use postdate::store::{BulkActionState, BulkLease, BulkStep, Filter, NewBulkAction, Store};

use crate::backend_tests;
use crate::common::{Backend, T0};
use crate::store_conformance::{message, store};

backend_tests!(bulk_actions_count_at_acceptance_run_in_chunks_under_one_lease_and_expire,);

fn lease(holder: &str, now: i64) -> BulkLease<'_> {
    BulkLease {
        holder,
        now,
        until: now + 30_000,
    }
}

async fn create(store: &Store, id: &str, filter: Filter, now: i64) -> postdate::store::BulkAction {
    store
        .bulk_action_create(&NewBulkAction {
            id: BulkActionId::from(id),
            filter,
            selects_nothing: false,
            now,
            chunk: 2,
        })
        .await
        .unwrap()
}

async fn bulk_actions_count_at_acceptance_run_in_chunks_under_one_lease_and_expire(backend: Backend) {
    let (_db, store) = store(backend).await;
    let mut selected: Vec<_> = (0..5)
        .map(|_| message("https://example.com/a", T0 + 60_000, &["x"]))
        .collect();
    // Chunks follow id order (ids made in one millisecond sort by their random part).
    selected.sort_by(|a, b| a.id.cmp(&b.id));
    let other = message("https://example.com/b", T0 + 60_000, &["y"]);
    store.message_insert(&selected).await.unwrap();
    store.message_insert(std::slice::from_ref(&other)).await.unwrap();
    let x = Filter {
        label: vec!["x".into()],
        ..Filter::default()
    };
    let action = create(&store, "act_1", x.clone(), T0).await;
    assert_eq!(
        (action.total, action.processed, action.state),
        (5, 0, BulkActionState::InProgress)
    );
    assert_eq!(action.filter, x);
    let nothing = create(
        &store,
        "act_2",
        Filter {
            label: vec!["z".into()],
            ..Filter::default()
        },
        T0,
    )
    .await;
    assert_eq!(
        (nothing.total, nothing.state, nothing.completed_at),
        (0, BulkActionState::Finished, Some(T0))
    );
    // A message stored after acceptance is not part of the action.
    let mut late = message("https://example.com/a", T0 + 60_000, &["x"]);
    // Made in a later millisecond than the selection (here, for certain).
    late.id = format!("msg_zzzzzzzz{}", &late.id[12..]).into();
    store.message_insert(std::slice::from_ref(&late)).await.unwrap();
    // One selected message ends otherwise before the action gets to it: still counted as processed.
    store.message_cancel(T0, &selected[0].id).await.unwrap();

    // One holder at a time; the other gets nothing until the lease lapses.
    let claimed = store.bulk_action_claim(&lease("a", T0)).await.unwrap().unwrap();
    assert_eq!(claimed.id, "act_1");
    assert!(store.bulk_action_claim(&lease("b", T0 + 1)).await.unwrap().is_none());
    let step = store.bulk_action_step(&claimed, &lease("a", T0)).await.unwrap();
    assert_eq!(
        step,
        BulkStep::Chunk {
            processed: 2,
            cancelled: 1,
            finished: false
        }
    );
    assert_eq!(
        store.bulk_action_step(&claimed, &lease("a", T0)).await.unwrap(),
        BulkStep::NotHeld,
        "a stale view of the progress changes nothing"
    );
    // The lease lapses: b takes over; a's next step is refused.
    let taken = store
        .bulk_action_claim(&lease("b", T0 + 40_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.processed, taken.cursor.as_ref()), (2, Some(&selected[1].id)));
    let a_again = store.bulk_action_get("act_1").await.unwrap().unwrap();
    assert_eq!(
        store
            .bulk_action_step(&a_again, &lease("a", T0 + 40_000))
            .await
            .unwrap(),
        BulkStep::NotHeld
    );
    let mut current = taken;
    loop {
        match store
            .bulk_action_step(&current, &lease("b", T0 + 40_000))
            .await
            .unwrap()
        {
            BulkStep::Chunk {
                finished: true,
                processed,
                ..
            } => {
                assert_eq!(processed, 5);
                break;
            }
            BulkStep::Chunk { .. } => {
                current = store
                    .bulk_action_claim(&lease("b", T0 + 40_000))
                    .await
                    .unwrap()
                    .unwrap()
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let done = store.bulk_action_get("act_1").await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.processed, done.completed_at),
        (BulkActionState::Finished, 5, Some(T0 + 40_000))
    );
    assert!(store
        .bulk_action_claim(&lease("b", T0 + 40_000))
        .await
        .unwrap()
        .is_none());
    let ids: Vec<String> = selected
        .iter()
        .map(|m| m.id.to_string())
        .chain([late.id.to_string(), other.id.to_string()])
        .collect();
    let states: Vec<MessageState> = store
        .message_states(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(states.iter().filter(|s| **s == MessageState::Canceled).count(), 5);
    assert_eq!(
        store.message_get(&late.id).await.unwrap().unwrap().state,
        MessageState::Pending
    );
    assert_eq!(
        store.message_get(&other.id).await.unwrap().unwrap().state,
        MessageState::Pending
    );

    // Newest first, with a cursor.
    let listed = store.bulk_action_list(None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["act_2", "act_1"]
    );
    let older = store.bulk_action_list(Some("act_2"), 10).await.unwrap();
    assert_eq!(older.len(), 1);
    // Retention: finished before the bound.
    assert_eq!(
        store.bulk_action_delete_finished(T0 + 1, 100).await.unwrap(),
        1,
        "act_2 finished at T0"
    );
    assert!(store.bulk_action_get("act_2").await.unwrap().is_none());
    assert_eq!(store.bulk_action_delete_finished(T0 + 40_001, 100).await.unwrap(), 1);
}
