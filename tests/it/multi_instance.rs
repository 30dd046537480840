//! Several engines on one Postgres share the work without delivering a message twice (`SKIP LOCKED`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::common::receiver::Receiver;
use crate::common::{eventually, spawn_app_on, Backend, Options, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stepped_engines_on_one_postgres_deliver_each_message_exactly_once() {
    let Some(backend) = Backend::postgres() else { return };
    let db = Arc::new(TestDb::new(backend).await);
    let receiver = Receiver::start().await;
    let small_batches = Options::stepped().with(|c| c.claim_batch = 7);
    let a = spawn_app_on(db.clone(), small_batches.clone()).await;
    let b = spawn_app_on(db.clone(), small_batches).await;
    let mut ids = HashSet::new();
    for i in 0..150 {
        let app = if i % 2 == 0 { &a } else { &b };
        ids.insert(app.publish_ok(&format!("{}/m/{i}", receiver.url), "x", &[]).await);
    }
    let (done_a, done_b) = tokio::join!(a.run_until_idle(), b.run_until_idle());
    assert_eq!(done_a + done_b, 150, "each message attempted once in all");
    assert!(
        done_a > 0 && done_b > 0,
        "both engines took a share ({done_a} / {done_b})"
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 150);
    let delivered: HashSet<String> = requests.iter().map(|r| r.message_id().to_string()).collect();
    assert_eq!(delivered, ids);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_running_engines_on_one_postgres_never_deliver_a_message_twice() {
    let Some(backend) = Backend::postgres() else { return };
    let db = Arc::new(TestDb::new(backend).await);
    let receiver = Receiver::start().await;
    let a = spawn_app_on(db.clone(), Options::default()).await;
    let b = spawn_app_on(db.clone(), Options::default()).await;
    let mut ids = Vec::new();
    for i in 0..200 {
        let app = if i % 2 == 0 { &a } else { &b };
        ids.push(app.publish_ok(&format!("{}/m/{i}", receiver.url), "x", &[]).await);
    }
    for id in &ids {
        a.wait_for_state(id, "DELIVERED").await;
    }
    // Every message is finished, so no engine can claim one again: the count is final.
    let requests = eventually(Duration::from_secs(5), "all requests recorded", || async {
        let r = receiver.requests();
        (r.len() >= 200).then_some(r)
    })
    .await;
    let distinct: HashSet<_> = requests.iter().map(|r| r.message_id().to_string()).collect();
    assert_eq!(distinct.len(), 200);
    assert_eq!(requests.len(), 200, "no message was delivered twice");
    a.stop().await;
    b.stop().await;
}
