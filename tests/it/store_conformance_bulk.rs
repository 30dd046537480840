//! The store conformance suite for async bulk actions: every `bulk_action_*` operation on both backends.

use postdate::domain::ids::BulkActionId;
use postdate::domain::state::MessageState;
use postdate::store::{BulkActionState, BulkLease, BulkStep, Filter, NewBulkAction, Store};

use crate::backend_tests;
use crate::common::{Backend, T0};
use crate::store_conformance::{message, store};

backend_tests!(bulk_actions_count_in_their_first_step_run_in_chunks_under_one_lease_and_expire,);

fn lease(holder: &str, now: i64) -> BulkLease<'_> {
    BulkLease {
        holder,
        now,
        until: now + 30_000,
    }
}

async fn create(store: &Store, id: &str, filter: Filter, selects_nothing: bool) -> postdate::store::BulkAction {
    store
        .bulk_action_create(&NewBulkAction {
            id: BulkActionId::from(id),
            filter,
            selects_nothing,
            now: T0,
            chunk: 2,
        })
        .await
        .unwrap()
}

async fn claim_and_step(store: &Store, holder: &str, now: i64) -> BulkStep {
    let action = store.bulk_action_claim(&lease(holder, now)).await.unwrap().unwrap();
    store.bulk_action_step(&action, &lease(holder, now)).await.unwrap()
}

async fn bulk_actions_count_in_their_first_step_run_in_chunks_under_one_lease_and_expire(backend: Backend) {
    let (_db, store) = store(backend).await;
    let mut selected: Vec<_> = (0..5)
        .map(|_| message("https://example.com/a", T0 + 60_000, &["x"]))
        .collect();
    // Chunks follow id order (ids made in one millisecond sort by their random part).
    selected.sort_by(|a, b| a.id.cmp(&b.id));
    let other = message("https://example.com/b", T0 + 60_000, &["y"]);
    // Matching, but ended well before the count: not selected.
    let ended = message("https://example.com/a", T0 + 60_000, &["x"]);
    store.message_insert(&selected).await.unwrap();
    store.message_insert(&[other.clone(), ended.clone()]).await.unwrap();
    store.message_cancel(T0 - 60_000, &ended.id).await.unwrap();
    let x = Filter {
        label: vec!["x".into()],
        ..Filter::default()
    };
    // Accepted without counting: the total is unknown until the worker's first step.
    let action = create(&store, "act_1", x.clone(), false).await;
    assert_eq!(
        (action.total, action.processed, action.state),
        (None, 0, BulkActionState::InProgress)
    );
    assert_eq!(action.filter, x);
    let nothing = create(&store, "act_2", x.clone(), true).await;
    assert_eq!(
        (nothing.total, nothing.state, nothing.completed_at),
        (Some(0), BulkActionState::Finished, Some(T0)),
        "an explicit empty id list is finished at once"
    );
    // A message stored after acceptance is not part of the action.
    let mut late = message("https://example.com/a", T0 + 60_000, &["x"]);
    // Made in a later millisecond than the selection (here, for certain).
    late.id = format!("msg_zzzzzzzz{}", &late.id[12..]).into();
    store.message_insert(std::slice::from_ref(&late)).await.unwrap();
    // One selected message ends otherwise before the count: still selected (within the slack), and counted
    // as processed when the walk gets to it.
    store.message_cancel(T0, &selected[0].id).await.unwrap();

    // One holder at a time; the other gets nothing until the lease lapses.
    let claimed = store.bulk_action_claim(&lease("a", T0)).await.unwrap().unwrap();
    assert_eq!(claimed.id, "act_1");
    assert!(store.bulk_action_claim(&lease("b", T0 + 1)).await.unwrap().is_none());
    let counted = store.bulk_action_step(&claimed, &lease("a", T0)).await.unwrap();
    assert_eq!(counted, BulkStep::Counted { total: 5 });
    assert_eq!(
        store.bulk_action_step(&claimed, &lease("a", T0)).await.unwrap(),
        BulkStep::NotHeld,
        "a stale view (not yet counted) changes nothing"
    );
    let after_count = store.bulk_action_get("act_1").await.unwrap().unwrap();
    assert_eq!((after_count.total, after_count.processed), (Some(5), 0));
    // One selected message ends otherwise after the count: counted as processed too.
    store.message_cancel(T0, &selected[4].id).await.unwrap();
    let claimed = store.bulk_action_claim(&lease("a", T0)).await.unwrap().unwrap();
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
    assert_eq!(
        store.bulk_action_step(&taken, &lease("b", T0 + 40_000)).await.unwrap(),
        BulkStep::Chunk {
            processed: 4,
            cancelled: 2,
            finished: false
        }
    );
    assert_eq!(
        claim_and_step(&store, "b", T0 + 40_000).await,
        BulkStep::Chunk {
            processed: 5,
            cancelled: 0,
            finished: true
        },
        "the last selected message was canceled by someone else; the walk skips the ended one and the late one"
    );
    let done = store.bulk_action_get("act_1").await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.total, done.processed, done.completed_at),
        (BulkActionState::Finished, Some(5), 5, Some(T0 + 40_000))
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
    // A filter that matches nothing is finished by its count.
    let none = create(
        &store,
        "act_3",
        Filter {
            label: vec!["z".into()],
            ..Filter::default()
        },
        false,
    )
    .await;
    assert_eq!(none.total, None);
    assert_eq!(
        claim_and_step(&store, "b", T0 + 40_000).await,
        BulkStep::Counted { total: 0 }
    );
    let none = store.bulk_action_get("act_3").await.unwrap().unwrap();
    assert_eq!(
        (none.state, none.total, none.completed_at),
        (BulkActionState::Finished, Some(0), Some(T0 + 40_000))
    );

    // Newest first, with a cursor.
    let listed = store.bulk_action_list(None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["act_3", "act_2", "act_1"]
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
    assert_eq!(store.bulk_action_delete_finished(T0 + 40_001, 100).await.unwrap(), 2);
}
