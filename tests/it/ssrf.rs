//! Destinations (issue 9 §1): `serve` refuses non-public destinations and callbacks at request time with
//! 400 naming the setting, judges every address it is about to dial, and sends what it validated.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, spawn_app_on, Backend, Options, TestApp};
use postdate::config::Config;
use postdate::domain::net_policy::DestinationPolicy;

backend_tests!(
    every_way_in_refuses_a_forbidden_destination_with_400_naming_the_setting,
    a_name_resolving_to_a_forbidden_address_fails_its_attempt_without_retries,
    allowed_destinations_and_names_are_delivered,
    destinations_are_stored_and_dialled_as_validated,
    forged_forward_and_callback_headers_are_refused,
    a_dlq_retry_to_a_destination_no_longer_allowed_is_refused,
    a_stored_address_no_longer_allowed_is_refused_at_delivery,
);

const SETTING: &str = "--allow-destinations / POSTDATE_ALLOW_DESTINATIONS";

/// The `serve` default: public destinations only.
fn strict(config: &mut Config) {
    config.destination_policy = DestinationPolicy::strict();
}

/// `strict`, for a second app beside a running one on the same database (on SQLite, without the file's lock,
/// which would refuse a second process).
fn strict_second_app(config: &mut Config) {
    strict(config);
    config.sqlite_lock = false;
}

fn allowing(entries: &'static [&'static str], names: &'static [(&'static str, &'static str)]) -> Options {
    Options::stepped().with(move |config: &mut Config| {
        config.destination_policy = DestinationPolicy::strict().allowing(entries).unwrap();
        config.resolve_overrides = resolving(names);
    })
}

/// Host names the delivery client resolves without DNS (the resolver still applies the policy).
fn resolving(names: &[(&str, &str)]) -> HashMap<String, Vec<IpAddr>> {
    let mut table: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for (name, ip) in names {
        table.entry(name.to_string()).or_default().push(ip.parse().unwrap());
    }
    table
}

fn assert_refused(status: u16, answer: &Value, what: &str) {
    assert_eq!(status, 400, "{what}: {answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains(SETTING), "{what}: the error names the setting: {error}");
}

async fn publish(app: &TestApp, destination: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = app.publish(destination).body("x");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    app.send_json(request).await
}

async fn every_way_in_refuses_a_forbidden_destination_with_400_naming_the_setting(backend: Backend) {
    let app = spawn_app(backend, Options::stepped().with(strict)).await;
    for destination in [
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata/computeMetadata/v1/",
        "http://metadata.google.internal./x",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://127.0.0.1/",
        "http://localhost:8080/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::]/",
        "http://[::127.0.0.1]/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ] {
        let (status, answer) = publish(&app, destination, &[]).await;
        assert_refused(status, &answer, destination);
    }
    let (status, answer) = publish(&app, "http://10.0.0.1/", &[]).await;
    assert_eq!(
        answer["error"],
        format!("destination address 10.0.0.1 is not allowed (private range); allow it with {SETTING}"),
        "{status}"
    );

    let batch = json!([{"destination": "https://example.com/ok"}, {"destination": "http://10.0.0.1/x"}]);
    let (status, answer) = app.send_json(app.request(Method::POST, "/v2/batch").json(&batch)).await;
    assert_refused(status, &answer, "batch");

    let (status, answer) = app
        .send_json(
            app.request(Method::POST, "/v2/enqueue/jobs/http://169.254.169.254/")
                .body("x"),
        )
        .await;
    assert_refused(status, &answer, "enqueue");

    let (status, answer) = app
        .send_json(
            app.request(Method::POST, "/v2/schedules/http://10.0.0.1/cron")
                .header("Upstash-Cron", "* * * * *"),
        )
        .await;
    assert_refused(status, &answer, "schedule");

    let endpoints = json!({"endpoints": [{"url": "https://example.com/a"}, {"url": "http://[::ffff:10.0.0.1]/b"}]});
    let (status, answer) = app
        .send_json(
            app.request(Method::POST, "/v2/topics/orders/endpoints")
                .json(&endpoints),
        )
        .await;
    assert_refused(status, &answer, "URL-group endpoint");

    for header in ["Upstash-Callback", "Upstash-Failure-Callback"] {
        let (status, answer) = publish(&app, "https://example.com/hook", &[(header, "http://169.254.169.254/")]).await;
        assert_refused(status, &answer, header);
        assert!(answer["error"].as_str().unwrap().contains(header), "{answer}");
    }

    // Nothing was stored.
    let (_, logs) = app.get_json("/v2/logs").await;
    assert_eq!(logs["events"], json!([]), "{logs}");
    assert_eq!(app.get_json("/v2/schedules").await.1, json!([]));
    assert_eq!(app.get_json("/v2/topics").await.1, json!([]));
    assert_eq!(app.get_json("/v2/queues").await.1, json!([]));
    app.stop().await;
}

async fn a_name_resolving_to_a_forbidden_address_fails_its_attempt_without_retries(backend: Backend) {
    let receiver = Receiver::start().await;
    let port = receiver.url.rsplit(':').next().unwrap().to_string();
    // Loopback is allowed as an address, but `mixed.test` also resolves to a private address: the whole
    // name is refused, even though its first address would be allowed.
    let app = spawn_app(
        backend,
        allowing(
            &["127.0.0.0/8"],
            &[
                ("internal.test", "10.1.2.3"),
                ("mixed.test", "127.0.0.1"),
                ("mixed.test", "10.0.0.1"),
            ],
        ),
    )
    .await;
    let internal = app
        .publish_ok(
            &format!("http://internal.test:{port}/hook"),
            "x",
            &[("Upstash-Retries", "3")],
        )
        .await;
    let mixed = app
        .publish_ok(
            &format!("http://mixed.test:{port}/hook"),
            "x",
            &[("Upstash-Retries", "3")],
        )
        .await;
    assert_eq!(app.run_until_idle().await, 2, "one attempt each, no retries");
    assert!(receiver.requests().is_empty(), "nothing was dialled");

    let (_, dlq) = app.get_json("/v2/dlq").await;
    let entries = dlq["messages"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{dlq}");
    let error_of = |id: &str| {
        entries.iter().find(|e| e["messageId"] == id).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        error_of(&internal),
        format!("destination host internal.test resolves to 10.1.2.3, which is not allowed (private range); allow it with {SETTING}")
    );
    assert!(
        error_of(&mixed).contains("resolves to 10.0.0.1"),
        "{}",
        error_of(&mixed)
    );
    for id in [&internal, &mixed] {
        let message = app.message(id).await;
        assert_eq!(message["state"], "FAILED", "{message}");
        let (_, logs) = app.get_json(&format!("/v2/logs?messageId={id}")).await;
        let errors: Vec<&str> = logs["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["error"].as_str())
            .collect();
        assert!(errors.iter().any(|e| e.contains(SETTING)), "{logs}");
    }
    app.stop().await;
}

async fn allowed_destinations_and_names_are_delivered(backend: Backend) {
    let receiver = Receiver::start().await;
    let port = receiver.url.rsplit(':').next().unwrap().to_string();
    let app = spawn_app(
        backend,
        allowing(
            &["127.0.0.0/8", "internal.test"],
            &[("internal.test", "127.0.0.1"), ("lb.test", "127.0.0.1")],
        ),
    )
    .await;
    let targets = [
        format!("{}/literal", receiver.url),
        // An allowed name may resolve anywhere; another name is judged by its addresses.
        format!("http://internal.test:{port}/named"),
        format!("http://lb.test:{port}/resolved"),
    ];
    for target in &targets {
        let cb = format!("{}/callback", receiver.url);
        app.publish_ok(target, "x", &[("Upstash-Callback", cb.as_str())]).await;
    }
    app.run_until_idle().await;
    let mut seen: Vec<String> = receiver.requests().into_iter().map(|r| r.target).collect();
    seen.sort();
    assert_eq!(
        seen,
        ["/callback", "/callback", "/callback", "/literal", "/named", "/resolved"]
    );
    app.stop().await;
}

async fn destinations_are_stored_and_dialled_as_validated(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let (status, answer) = publish(&app, "http:///127.0.0.1/x", &[]).await;
    assert_eq!(status, 400, "{answer}");
    for destination in [
        format!("{}/a\tb", receiver.url),
        format!("{}/a\r\nX-Injected: 1", receiver.url),
        format!("http:///{}/x", receiver.url.trim_start_matches("http://")),
        format!("http:\\\\{}/x", receiver.url.trim_start_matches("http://")),
    ] {
        let batch = json!([{ "destination": destination }]);
        let (status, answer) = app.send_json(app.request(Method::POST, "/v2/batch").json(&batch)).await;
        assert_eq!(status, 400, "{destination:?}: {answer}");
    }
    for header in ["Upstash-Callback", "Upstash-Failure-Callback"] {
        let (status, answer) = publish(
            &app,
            &format!("{}/ok", receiver.url),
            &[(header, "http:///127.0.0.1/x")],
        )
        .await;
        assert_eq!(status, 400, "{header}: {answer}");
    }
    let (status, answer) = publish(&app, &format!("{}/hook?a=1&qstash_token=secret&b=2", receiver.url), &[]).await;
    assert_eq!(status, 201, "{answer}");
    let stored = format!("{}/hook?a=1&b=2", receiver.url);
    assert_eq!(answer["url"], stored.as_str());
    assert_eq!(
        app.message(answer["messageId"].as_str().unwrap()).await["url"],
        stored.as_str()
    );
    app.run_until_idle().await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "only the valid message was stored");
    assert_eq!(requests[0].target, "/hook?a=1&b=2");
    app.stop().await;
}

async fn forged_forward_and_callback_headers_are_refused(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let destination = format!("{}/hook", receiver.url);
    let callback = format!("{}/cb", receiver.url);
    for (name, value) in [
        ("Upstash-Forward-Upstash-Signature", "forged"),
        ("Upstash-Forward-Upstash-Message-Id", "msg_forged"),
        ("Upstash-Forward-Webhook-Signature", "v1,forged"),
        ("Upstash-Forward-Host", "internal.example"),
        ("Upstash-Forward-Metadata-Flavor", "Google"),
        ("Upstash-Forward-X-Aws-Ec2-Metadata-Token", "AQAE"),
    ] {
        let (status, answer) = publish(&app, &destination, &[(name, value)]).await;
        assert_eq!(status, 400, "{name}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(name), "{answer}");
    }
    for (name, value) in [
        ("Upstash-Callback-Host", "internal.example"),
        ("Upstash-Callback-Content-Length", "10"),
        ("Upstash-Callback-Transfer-Encoding", "chunked"),
        ("Upstash-Callback-Upgrade", "websocket"),
        ("Upstash-Callback-Connection", "close"),
        ("Upstash-Callback-Forward-Upstash-Signature", "forged"),
        ("Upstash-Failure-Callback-Content-Length", "10"),
    ] {
        let kind = if name.starts_with("Upstash-Failure") {
            "Upstash-Failure-Callback"
        } else {
            "Upstash-Callback"
        };
        let (status, answer) = publish(&app, &destination, &[(kind, callback.as_str()), (name, value)]).await;
        assert_eq!(status, 400, "{name}: {answer}");
    }
    app.run_until_idle().await;
    assert!(receiver.requests().is_empty(), "nothing was accepted");
    app.stop().await;
}

async fn a_dlq_retry_to_a_destination_no_longer_allowed_is_refused(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    app.publish_ok(&format!("{}/hook", receiver.url), "x", &[("Upstash-Retries", "0")])
        .await;
    app.run_until_idle().await;
    let (_, dlq) = app.get_json("/v2/dlq").await;
    let dlq_id = dlq["messages"][0]["dlqId"].as_str().unwrap().to_string();
    // Another instance on the same database, now under the `serve` default.
    let strict_app = spawn_app_on(Arc::clone(&app.db), Options::stepped().with(strict_second_app)).await;
    let (status, answer) = strict_app
        .send_json(strict_app.request(Method::POST, &format!("/v2/dlq/retry/{dlq_id}")))
        .await;
    assert_refused(status, &answer, "DLQ retry");
    let (status, answer) = app
        .send_json(
            app.request(Method::POST, &format!("/v2/dlq/retry/{dlq_id}"))
                .header("Upstash-Failure-Callback", "http://169.254.169.254/"),
        )
        .await;
    assert_refused(status, &answer, "DLQ retry with a failure callback");
    strict_app.stop().await;
    app.stop().await;
}

async fn a_stored_address_no_longer_allowed_is_refused_at_delivery(backend: Backend) {
    let receiver = Receiver::start().await;
    // Accepted while loopback was allowed (say, before an upgrade or a configuration change)...
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(&format!("{}/hook", receiver.url), "x", &[("Upstash-Retries", "2")])
        .await;
    // ...and delivered by an instance under the `serve` default: the literal address is judged before sending.
    let strict_app = spawn_app_on(Arc::clone(&app.db), Options::stepped().with(strict_second_app)).await;
    assert_eq!(strict_app.run_until_idle().await, 1, "one attempt, no retries");
    assert!(receiver.requests().is_empty(), "nothing was dialled");
    let (_, dlq) = strict_app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"][0]["messageId"], id.as_str());
    assert_eq!(
        dlq["messages"][0]["error"],
        format!("destination address 127.0.0.1 is not allowed (loopback); allow it with {SETTING}")
    );
    assert_eq!(strict_app.message(&id).await["state"], "FAILED");
    strict_app.stop().await;
    app.stop().await;
}
