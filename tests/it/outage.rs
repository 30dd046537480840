//! Publishing while the database is unreachable: each publish is answered 503 with Retry-After within a
//! couple of seconds, on its own (never queued behind another one's wait), and nothing it sent is stored;
//! once the database is back, publishes succeed again without a restart. Postgres only: the database is
//! taken away by cutting a relay between the app and the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::proxy::Proxy;
use crate::common::receiver::Receiver;
use crate::common::{spawn_app_on, Backend, Options, TestDb};

/// What the issue asks of an answer during an outage.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_while_the_database_is_down_fail_fast_and_independently_and_store_nothing() {
    let Some(backend) = Backend::postgres() else { return };
    let db = TestDb::new(backend).await;
    let mut direct = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", direct.host_str().unwrap(), direct.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream).await;
    direct.set_port(Some(proxy.port)).unwrap();
    let relayed = Arc::new(db.through(direct.to_string()));
    let receiver = Receiver::start().await;
    let app = spawn_app_on(relayed, Options::stepped()).await;
    app.publish_ok(&receiver.url, "before", &[]).await;

    proxy.cut().await;
    let mut answers = Vec::new();
    for n in 0..3 {
        let request = app.publish(&receiver.url).body(format!("during {n}"));
        answers.push(tokio::spawn(async move {
            let sent = Instant::now();
            let response = request.send().await.unwrap();
            let took = sent.elapsed();
            let retry_after = response.headers().get("retry-after").cloned();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, retry_after, body, took)
        }));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for answer in answers {
        let (status, retry_after, body, took) = answer.await.unwrap();
        assert_eq!(status, 503, "{body}");
        assert!(retry_after.is_some(), "503 without Retry-After");
        assert!(
            body["error"].as_str().unwrap().contains("database is unavailable"),
            "{body}"
        );
        assert!(took < ANSWER_WITHIN, "a publish during the outage took {took:?}");
    }

    proxy.restore();
    app.publish_ok(&receiver.url, "after", &[]).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let bodies: Vec<Vec<u8>> = sqlx::query_scalar("select body from messages order by created_at")
        .fetch_all(&pool)
        .await
        .unwrap();
    let stored: Vec<String> = bodies.into_iter().map(|b| String::from_utf8(b).unwrap()).collect();
    pool.close().await;
    assert_eq!(stored, ["before", "after"], "a refused publish was stored");
    app.stop().await;
}
