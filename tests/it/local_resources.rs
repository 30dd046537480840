//! A delivery this machine cannot even start (out of file descriptors) is handed back: due again soon, the
//! attempt not counted, nothing dead-lettered. The descriptors are really exhausted, so this runs in a child
//! process of its own (the test binary again, running only the ignored half below).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use postdate::keys::KeyRing;
use postdate::store::CompletionKind;
use postdate::worker::deliver::Deliverer;

use crate::common::receiver::Receiver;
use crate::common::{Backend, TestDb, T0};
use crate::store_conformance::claim;

const CHILD: &str = "POSTDATE_TEST_FD_CHILD";

#[test]
fn a_delivery_that_fails_for_want_of_file_descriptors_is_handed_back_without_counting() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "local_resources::exhausted_child",
            "--exact",
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
#[ignore = "run by the test above in a child process: it exhausts the process's file descriptors"]
async fn exhausted_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let receiver = Receiver::start().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let message = postdate::domain::message::NewMessage::build(
        postdate::domain::destination::DestinationUrl::parse(&receiver.url).unwrap(),
        &postdate::domain::options::MessageOptions::default(),
        bytes::Bytes::from_static(b"x"),
        None,
        T0,
        &postdate::domain::option_rules::Limits {
            default_retries: 3,
            max_retries: 3,
            max_delay_ms: 0,
            max_timeout_ms: 60_000,
        },
    )
    .unwrap();
    store.message_insert(std::slice::from_ref(&message)).await.unwrap();
    let claimed = store.message_claim_due(&claim(T0, T0 + 30_000, 1)).await.unwrap();
    assert_eq!(claimed[0].attempt, 1);
    let keys = Arc::new(KeyRing::load(&store, None).await.unwrap());
    let deliverer = Deliverer::new(
        keys,
        Duration::from_secs(10),
        1024,
        None,
        Arc::new(postdate::domain::net_policy::DestinationPolicy::local_development()),
        Default::default(),
        Default::default(),
    );

    // Take every descriptor left under a low limit, so the delivery's socket() fails with EMFILE.
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, 256.min(hard), hard).unwrap();
    let mut hoard = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        hoard.push(file);
    }
    let completion = deliverer.attempt(&claimed[0], || T0 + 100).await;
    drop(hoard);

    assert!(
        matches!(completion.kind, CompletionKind::HandBack { due_at } if due_at > T0 + 100),
        "{completion:?}"
    );
    assert_eq!(store.message_complete(T0 + 100, &[completion]).await.unwrap(), 1);
    let row = store.message_get(&message.id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.attempt), ("pending", 0));
    assert!(receiver.requests().is_empty());
}
