//! Transaction poolers found at start: an app whose database URL leads to PgBouncer in transaction mode
//! switches to pooler mode by itself (and delivers everything), and a direct Postgres is never taken for one.

use crate::common::receiver::Receiver;
use crate::common::{spawn_app, Backend, Options, TestDb, T0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_postgres_is_never_taken_for_a_transaction_pooler() {
    let Some(backend) = Backend::postgres() else { return };
    // The harness creates databases on the server directly, so this URL never goes through PgBouncer.
    let db = TestDb::new(backend).await;
    for _ in 0..3 {
        let store = postdate::store::Store::connect(&db.url, 4).await.unwrap();
        assert!(!store.transaction_pooler(), "a direct server was probed as a pooler");
        store.close().await;
    }
}

/// Only behind the PgBouncer of `scripts/test` (POSTDATE_TEST_PGBOUNCER_URL); skipped loudly otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_without_the_flag_behind_a_transaction_pooler_it_switches_to_pooler_mode_and_delivers_everything() {
    let Some(backend) = Backend::postgres() else { return };
    if std::env::var("POSTDATE_TEST_PGBOUNCER_URL").is_err() {
        eprintln!("SKIPPED: needs POSTDATE_TEST_PGBOUNCER_URL (the PgBouncer pass of ./scripts/test)");
        return;
    }
    let receiver = Receiver::start().await;
    // The harness points the app at PgBouncer and sets the flag: take the flag away.
    let app = spawn_app(backend, Options::stepped().with(|c| c.transaction_pooler = false)).await;
    assert!(app.store.transaction_pooler(), "the pooler was not found");
    for i in 0..5 {
        app.publish_ok(&format!("{}/due/{i}", receiver.url), "now", &[]).await;
    }
    for i in 0..3 {
        let delayed = [("Upstash-Delay", "2s")];
        app.publish_ok(&format!("{}/delayed/{i}", receiver.url), "later", &delayed)
            .await;
    }
    let (status, body) = app
        .send_json(
            app.request(reqwest::Method::POST, &format!("/v2/schedules/{}/cron", receiver.url))
                .header("Upstash-Cron", "* * * * *"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.run_until_idle().await, 5, "the due messages");
    app.clock.set_ms(T0 + 2_000);
    assert_eq!(app.run_until_idle().await, 3, "the delayed messages");
    app.clock.set_ms(T0 + 60_000);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1, "the cron slot");
    assert_eq!(app.run_until_idle().await, 1);
    assert_eq!(receiver.requests().len(), 9);
    app.stop().await;
}
