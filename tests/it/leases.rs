//! Leases: a message is never delivered twice while its first delivery runs on a live instance. Leases
//! shorter than a delivery are extended; a result waiting to be written keeps its lease and is never taken
//! back by its own instance's rescuer; extending leases never waits on (or deadlocks with) a completion.

use std::collections::HashMap;
use std::time::Duration;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, T0};
use crate::store_conformance::claim;

backend_tests!(
    a_delivery_still_running_is_never_rescued_by_its_own_instance,
    a_lease_shorter_than_the_delivery_is_extended_and_nothing_is_delivered_twice,
);

async fn a_delivery_still_running_is_never_rescued_by_its_own_instance(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::SlowOk(Duration::from_secs(2))).await;
    let app = spawn_app(backend, Options::stepped().with(|c| c.lease = Duration::from_secs(1))).await;
    let id = app.publish_ok(&receiver.url, "slow", &[]).await;
    let dispatcher = app.dispatcher.clone();
    let step = tokio::spawn(async move { dispatcher.run_once().await.unwrap() });
    receiver.wait_for(1, Duration::from_secs(10)).await;
    // The lease lapsed long ago (the database could not be reached to extend it, say), but this instance
    // still holds the message: its result is coming.
    app.clock.advance_ms(60_000);
    assert_eq!(app.maintenance.rescue_once().await.unwrap(), 0, "own lease rescued");
    assert_eq!(step.await.unwrap(), 1);
    assert_eq!(app.message(&id).await["state"], "DELIVERED");
    assert_eq!(app.run_until_idle().await, 0, "nothing is due again");
    assert_eq!(receiver.requests().len(), 1, "delivered once");
    app.stop().await;
}

async fn a_lease_shorter_than_the_delivery_is_extended_and_nothing_is_delivered_twice(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::SlowOk(Duration::from_millis(1_200))).await;
    let app = spawn_app(
        backend,
        Options::default().with(|c| c.lease = Duration::from_millis(300)),
    )
    .await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(app.publish_ok(&receiver.url, &format!("m{n}"), &[]).await);
    }
    for id in &ids {
        app.wait_for_state(id, "DELIVERED").await;
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for request in receiver.requests() {
        *seen.entry(request.message_id().to_string()).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(seen.len(), ids.len());
    app.stop().await;
}

/// Postgres only (SQLite has one writer and no row locks): a row locked by a completion in progress is
/// skipped by the lease extension instead of waited for, so the two can never deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_leases_skips_rows_a_completion_holds() {
    let Some(backend) = Backend::postgres() else { return };
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let a = app.publish_ok(&receiver.url, "a", &[]).await;
    let b = app.publish_ok(&receiver.url, "b", &[]).await;
    let store = app.db.store().await;
    assert_eq!(
        store.message_claim_due(&claim(T0, T0 + 1_000, 10)).await.unwrap().len(),
        2
    );

    let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    let mut completing = pool.begin().await.unwrap();
    sqlx::query("select id from messages where id = $1 for update")
        .bind(&a)
        .execute(&mut *completing)
        .await
        .unwrap();
    let extended = tokio::time::timeout(
        Duration::from_secs(20),
        store.message_extend_leases(&[(a.clone(), 1), (b.clone(), 1)], T0 + 5_000),
    )
    .await
    .expect("the extension waited for a row a completion holds")
    .unwrap();
    assert_eq!(extended, 1, "the held row is skipped, the other extended");
    completing.rollback().await.unwrap();
    let row_b = store.message_get(&b).await.unwrap().unwrap();
    assert_eq!(row_b.lease_until, Some(T0 + 5_000));
    pool.close().await;
    app.stop().await;
}
