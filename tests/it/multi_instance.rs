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

/// Postgres `NOTIFY`/`LISTEN`: a message accepted by one instance wakes the dispatcher of another, which
/// otherwise would not look at the database for an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_accepted_by_one_instance_wakes_the_dispatcher_of_another() {
    let Some(backend) = Backend::postgres() else { return };
    let db = Arc::new(TestDb::new(backend).await);
    let receiver = Receiver::start().await;
    let accepting = spawn_app_on(db.clone(), Options::stepped()).await;
    let hour = Duration::from_secs(3_600);
    let delivering = spawn_app_on(db.clone(), Options::default().with(move |c| c.poll_interval = hour)).await;
    // The delivering instance starts listening in the background: publish until a wake-up reaches it. Its
    // first look at the database may find the first warm-up message by itself, so a wake-up is proven only
    // by a message that arrives although everything published before it had already arrived (its
    // dispatcher was asleep, for an hour).
    let mut published = 0;
    let mut all_arrived = false;
    loop {
        let id = accepting
            .publish_ok(&format!("{}/warm-up/{published}", receiver.url), "x", &[])
            .await;
        published += 1;
        let arrived = tokio::time::timeout(Duration::from_millis(500), async {
            while !receiver.requests().iter().any(|r| r.message_id() == id) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok();
        if arrived && all_arrived {
            break;
        }
        all_arrived = arrived && receiver.requests().len() >= published;
        assert!(published < 40, "no wake-up reached the other instance");
    }
    let id = accepting.publish_ok(&format!("{}/woken", receiver.url), "x", &[]).await;
    let requests = eventually(Duration::from_secs(5), "the other instance to deliver", || async {
        let requests = receiver.requests();
        requests.iter().any(|r| r.message_id() == id).then_some(requests)
    })
    .await;
    assert!(
        requests.len() <= published + 1,
        "each message delivered once ({} requests for {} messages)",
        requests.len(),
        published + 1
    );
    accepting.stop().await;
    delivering.stop().await;
}

/// Upstash Workflow on two engines sharing one Postgres: the SDK publishes through one instance, both
/// deliver; every step of every run (parallel branches included) runs exactly once and every run ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_postgres_run_workflows_without_losing_or_doubling_a_step() {
    use crate::common::workflow_app::{run_state, WorkflowApp};
    use postdate::domain::workflow::RunState;
    use serde_json::json;

    let Some(backend) = Backend::postgres() else { return };
    let db = Arc::new(TestDb::new(backend).await);
    let small_batches = Options::stepped().with(|c| c.claim_batch = 3);
    let a = spawn_app_on(db.clone(), small_batches.clone()).await;
    let b = spawn_app_on(db.clone(), small_batches).await;
    let Some(wf) = WorkflowApp::start(&a).await else {
        return;
    };
    let mut runs = Vec::new();
    for i in 0..6 {
        runs.push(wf.trigger(json!({"url": wf.url("/wf/parallel"), "body": {}})));
        runs.push(wf.trigger(json!({"url": wf.url("/wf/sequential"), "body": {"input": i}})));
    }
    let (mut by_a, mut by_b) = (0, 0);
    loop {
        let (done_a, done_b) = tokio::join!(a.run_until_idle(), b.run_until_idle());
        by_a += done_a;
        by_b += done_b;
        if done_a + done_b == 0 {
            break;
        }
    }
    assert!(by_a > 0 && by_b > 0, "both engines delivered ({by_a} / {by_b})");
    for run in &runs {
        assert_eq!(run_state(&a, run).await, RunState::Success, "{run} ended");
        let mut steps = wf.steps(run);
        steps.sort();
        let expected: Vec<&str> = match steps.len() {
            4 => vec!["p-1", "p-2", "p-3", "sum"],
            _ => vec!["step-1", "step-2", "step-3"],
        };
        assert_eq!(steps, expected, "each step of {run} once");
    }
    let parallel_sums: Vec<_> = runs
        .iter()
        .step_by(2)
        .map(|r| wf.events_of(r, "result")[0]["result"].clone())
        .collect();
    assert_eq!(parallel_sums, vec![json!(60); 6], "every join saw all three branches");
    a.stop().await;
    b.stop().await;
}
