//! What the real binary writes: JSON log lines on request, a healthcheck subcommand for containers, and
//! never a secret — not the token, the signing keys, the Standard Webhooks secret or a forwarded header's
//! value — in its logs (at debug level), its banner or its metrics.

use std::io::{BufReader, Read};
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;

use crate::cli::{postdate, read_banner, terminate};
use crate::common::eventually;
use crate::common::receiver::{Receiver, Reply};

const TOKEN: &str = "tok-NEVER-LOGGED-0123456789";
const CURRENT_KEY: &str = "sig_CURRENTneverLogged0001";
const NEXT_KEY: &str = "sig_NEXTneverLogged000002";
/// `whsec_` and the base64 of "webhook-secret-never-logged".
const WEBHOOK_SECRET: &str = "whsec_d2ViaG9vay1zZWNyZXQtbmV2ZXItbG9nZ2Vk";
const FORWARDED: &str = "Bearer FORWARDED-never-logged";

#[tokio::test]
async fn secrets_never_reach_logs_metrics_or_the_banner_and_logs_can_be_json() {
    let receiver = Receiver::answering(|r| match r.target.as_str() {
        "/fail" => Reply::Status(500),
        _ => Reply::Status(200),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = postdate()
        .args(["dev", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("RUST_LOG", "debug")
        .env("QSTASH_TOKEN", TOKEN)
        .env("QSTASH_CURRENT_SIGNING_KEY", CURRENT_KEY)
        .env("QSTASH_NEXT_SIGNING_KEY", NEXT_KEY)
        .env("POSTDATE_STANDARD_WEBHOOKS_SECRET", WEBHOOK_SECRET)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    // Read stderr while the server runs, so a full pipe never blocks it.
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        BufReader::new(stderr).read_to_string(&mut text).unwrap();
        text
    });
    let settings = read_banner(stdout.by_ref());
    let base = settings["QSTASH_URL"].clone();
    let http = reqwest::Client::new();
    let call = |method: Method, path: &str| http.request(method, format!("{base}{path}")).bearer_auth(TOKEN);

    let publish = call(Method::POST, &format!("/v2/publish/{}/ok", receiver.url))
        .header("Upstash-Forward-Authorization", FORWARDED)
        .body("hello");
    assert_eq!(publish.send().await.unwrap().status(), 201);
    let failing = call(Method::POST, &format!("/v2/publish/{}/fail", receiver.url))
        .header("Upstash-Retries", "0")
        .header("Upstash-Forward-Authorization", FORWARDED)
        .body("boom");
    assert_eq!(failing.send().await.unwrap().status(), 201);
    receiver.wait_for(2, Duration::from_secs(10)).await;
    eventually(Duration::from_secs(10), "the failure in the DLQ", || async {
        let dlq: serde_json::Value = call(Method::GET, "/v2/dlq").send().await.ok()?.json().await.ok()?;
        (dlq["messages"].as_array()?.len() == 1).then_some(())
    })
    .await;
    let metrics = call(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("postdate_messages_delivered_total 1"), "{metrics}");

    let healthy = postdate()
        .args(["healthcheck", "--url", &format!("{base}/readyz")])
        .output()
        .unwrap();
    assert!(healthy.status.success(), "{healthy:?}");
    assert!(terminate(child).await);
    let unhealthy = postdate()
        .args(["healthcheck", "--url", &format!("{base}/readyz")])
        .output()
        .unwrap();
    assert_eq!(unhealthy.status.code(), Some(1), "a stopped server is not ready");

    let logs = logs.join().unwrap();
    let mut banner = String::new();
    stdout.read_to_string(&mut banner).unwrap();
    assert!(logs.lines().count() > 5, "debug logging wrote little: {logs}");
    let entries: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}")))
        .collect();
    assert!(entries
        .iter()
        .all(|e| e["level"].is_string() && e["fields"].is_object()));
    let in_span = |name: &'static str| entries.iter().filter(move |e| e["span"]["name"] == name);
    assert!(
        in_span("request").any(|e| e["span"]["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("req_"))
            && e["span"]["route"]
                .as_str()
                .is_some_and(|r| r.starts_with("/v2/publish/"))),
        "request lines carry their span: {logs}"
    );
    assert!(
        in_span("delivery").any(|e| e["span"]["message_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_"))),
        "delivery lines carry the message id: {logs}"
    );
    let banner: String = settings.values().cloned().collect::<Vec<_>>().join("\n") + &banner;
    for (name, secret) in [
        ("token", TOKEN),
        ("current signing key", CURRENT_KEY),
        ("next signing key", NEXT_KEY),
        ("webhook secret", WEBHOOK_SECRET),
        ("forwarded header value", FORWARDED),
    ] {
        for (place, text) in [("logs", &logs), ("metrics", &metrics), ("banner", &banner)] {
            assert!(!text.contains(secret), "the {name} appears in the {place}");
        }
    }
}

/// With `--otlp-endpoint` (a build with the `otlp` feature), request and delivery spans reach an
/// OpenTelemetry collector over OTLP/HTTP — here a recording stand-in — and carry no token; the last
/// spans are sent on SIGTERM.
#[cfg(feature = "otlp")]
#[tokio::test]
async fn spans_are_exported_to_an_otlp_collector() {
    use std::sync::{Arc, Mutex};
    /// (path, body) of every export request.
    type Exports = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let received: Exports = Arc::default();
    let recorded = received.clone();
    let collector = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let recorded = recorded.clone();
        async move {
            let path = request.uri().path().to_string();
            let body = axum::body::to_bytes(request.into_body(), 16 << 20).await.unwrap();
            recorded.lock().unwrap().push((path, body.to_vec()));
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await.unwrap() });

    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = postdate()
        .args(["dev", "--listen", "127.0.0.1:0", "--otlp-endpoint", &endpoint])
        .env("QSTASH_TOKEN", TOKEN)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let settings = read_banner(child.stdout.take().unwrap());
    let publish = reqwest::Client::new()
        .post(format!("{}/v2/publish/{}/traced", settings["QSTASH_URL"], receiver.url))
        .bearer_auth(TOKEN)
        .body("x");
    assert_eq!(publish.send().await.unwrap().status(), 201);
    receiver.wait_for(1, Duration::from_secs(10)).await;
    assert!(terminate(child).await);

    let received = received.lock().unwrap();
    assert!(!received.is_empty(), "no span was exported");
    assert!(
        received.iter().all(|(path, _)| path == "/v1/traces"),
        "{:?}",
        received.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    let all: Vec<u8> = received.iter().flat_map(|(_, body)| body.clone()).collect();
    let contains = |needle: &str| all.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("request") && contains("delivery"),
        "request and delivery spans"
    );
    assert!(contains("postdate"), "the service name");
    assert!(!contains(TOKEN), "no token in the exported spans");
}
