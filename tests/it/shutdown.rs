//! Graceful shutdown: stop claiming, let deliveries in flight finish within a bounded time, and leave what
//! is still running leased for recovery.

use std::time::Duration;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options};

backend_tests!(
    shutdown_waits_for_deliveries_in_flight_and_claims_nothing_new,
    shutdown_is_bounded_and_leaves_stuck_deliveries_leased,
);

async fn shutdown_waits_for_deliveries_in_flight_and_claims_nothing_new(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::SlowOk(Duration::from_millis(400))).await;
    let app = spawn_app(backend, Options::default()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.publish_ok(&format!("{}/{i}", receiver.url), "x", &[]).await);
    }
    let later = app.publish_ok(&receiver.url, "later", &[("Upstash-Delay", "1h")]).await;
    receiver.wait_for(5, Duration::from_secs(10)).await;
    let db = app.db.clone();
    app.stop().await;
    let store = db.store().await;
    for id in &ids {
        let row = store.message_get(id).await.unwrap().unwrap();
        assert_eq!(
            row.state,
            postdate::domain::state::MessageState::Delivered,
            "in-flight deliveries finished and were recorded"
        );
    }
    assert_eq!(
        store.message_get(&later).await.unwrap().unwrap().state,
        postdate::domain::state::MessageState::Pending
    );
    assert_eq!(receiver.requests().len(), 5);
}

async fn shutdown_is_bounded_and_leaves_stuck_deliveries_leased(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Hang).await;
    let app = spawn_app(
        backend,
        Options::default().with(|c| c.shutdown_timeout = Duration::from_millis(300)),
    )
    .await;
    let id = app.publish_ok(&receiver.url, "x", &[]).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let db = app.db.clone();
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("shutdown does not wait for a stuck destination");
    let store = db.store().await;
    let row = store.message_get(&id).await.unwrap().unwrap();
    assert_eq!(row.state, postdate::domain::state::MessageState::InProgress);
    assert!(
        row.lease_until.is_some(),
        "the lease stays, so another instance retries it once it expires"
    );
}
