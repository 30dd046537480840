//! Recovery at start, without waiting for leases: a process alone on its SQLite file takes back every lease
//! a previous process left, and an instance restarted under its `--instance-id` takes back its own (and
//! only its own) on Postgres. A second app on one SQLite file is refused.

use postdate::app::App;
use postdate::store::Claim;

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::{config_for, spawn_app, spawn_app_on, Backend, Options, T0};
use crate::store_conformance::{claim, LEASE};

backend_tests!(a_restarted_instance_takes_back_the_deliveries_its_previous_run_left_at_once);

async fn a_restarted_instance_takes_back_the_deliveries_its_previous_run_left_at_once(backend: Backend) {
    let receiver = Receiver::start().await;
    let stable = || Options::stepped().with(|c| c.instance_id = Some("postdate-0".into()));
    let first = spawn_app(backend, stable()).await;
    let mine = first.publish_ok(&format!("{}/mine", receiver.url), "x", &[]).await;
    let theirs = first.publish_ok(&format!("{}/theirs", receiver.url), "x", &[]).await;
    // The first run claimed one, another instance the other; neither result was written (killed).
    let by = |holder| Claim {
        holder,
        ..claim(T0, T0 + LEASE, 1)
    };
    let first_claim = first.store.message_claim_due(&by("postdate-0")).await.unwrap();
    let other_claim = first.store.message_claim_due(&by("postdate-1")).await.unwrap();
    assert_eq!(first_claim[0].id.as_str(), mine);
    assert_eq!(other_claim[0].id.as_str(), theirs);
    let db = first.db.clone();
    first.stop().await;

    // Long before the leases lapse, the instance starts again under the same id.
    let second = spawn_app_on(db, stable()).await;
    let taken_back = second.maintenance.rescue_abandoned().await.unwrap();
    match backend {
        // Alone on its file: every lease left there was abandoned.
        Backend::Sqlite => assert_eq!(taken_back, 2),
        // Shared database: only its own; the other instance may still be delivering.
        Backend::Postgres => assert_eq!(taken_back, 1),
    }
    assert_eq!(second.run_until_idle().await as u64, taken_back);
    assert_eq!(second.message(&mine).await["state"], "DELIVERED");
    let theirs_state = second.message(&theirs).await["state"].clone();
    match backend {
        Backend::Sqlite => assert_eq!(theirs_state, "DELIVERED"),
        Backend::Postgres => assert_eq!(theirs_state, "ACTIVE", "left to its own instance or its lease"),
    }
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_app_on_one_sqlite_file_is_refused_with_an_error_naming_the_file() {
    let first = spawn_app(Backend::Sqlite, Options::stepped()).await;
    assert!(first.store.is_sole_owner());
    let refused = App::build(config_for(&first.db.url, true))
        .await
        .err()
        .expect("a second app on the file is refused");
    let error = refused.to_string();
    assert!(
        error.contains("another postdate process") && error.contains("postdate.db.lock"),
        "{error}"
    );
    let db = first.db.clone();
    first.stop().await;
    let again = App::build(config_for(&db.url, true))
        .await
        .expect("free once the first stopped");
    assert!(again.store().is_sole_owner());
}
