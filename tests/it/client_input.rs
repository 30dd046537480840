//! Nothing a client sends produces a 5xx (issue 9 §4): long id and label lists, NUL bytes, overflowing
//! `Retry-After` values, schedule limits, dot-segment names, batch typos and huge response headers.

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, T0, TOKEN};

backend_tests!(
    id_lists_past_the_limit_are_refused_with_an_error_naming_it,
    a_thousand_labels_filter_without_a_server_error,
    nul_bytes_in_paths_and_destinations_are_refused,
    an_overflowing_retry_after_falls_back_to_the_default_backoff,
    schedules_check_the_delay_limit_even_with_a_not_before,
    dot_segments_are_not_schedule_ids_or_group_names,
    a_batch_item_with_an_unknown_field_is_refused,
    the_dlq_keeps_response_headers_within_the_response_cap,
);

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i}")).collect()
}

async fn id_lists_past_the_limit_are_refused_with_an_error_naming_it(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let kept = app
        .publish_ok("https://example.com/x", "x", &[("Upstash-Delay", "1h")])
        .await;
    for n in [1_001, 70_000] {
        let cancel = app
            .request(Method::DELETE, "/v2/messages")
            .json(&json!({ "messageIds": ids(n) }));
        app.expect_error(cancel, 400, "at most 1000").await;
        let delete = app
            .request(Method::DELETE, "/v2/dlq")
            .json(&json!({ "dlqIds": ids(n) }));
        app.expect_error(delete, 400, "at most 1000").await;
    }
    let query = ids(1_001)
        .iter()
        .map(|id| format!("dlqIds={id}"))
        .collect::<Vec<_>>()
        .join("&");
    app.expect_error(
        app.request(Method::POST, &format!("/v2/dlq/retry?{query}")),
        400,
        "at most 1000",
    )
    .await;
    app.expect_error(
        app.request(Method::GET, &format!("/v2/dlq?{query}")),
        400,
        "at most 1000",
    )
    .await;

    // At the limit, the whole list is one statement on either database.
    let mut named = ids(999);
    named.push(kept.clone());
    let (status, body) = app
        .send_json(
            app.request(Method::DELETE, "/v2/messages")
                .json(&json!({ "messageIds": named })),
        )
        .await;
    assert_eq!((status, body), (200, json!({"cancelled": 1})));
    let (status, body) = app
        .send_json(
            app.request(Method::DELETE, "/v2/dlq")
                .json(&json!({ "dlqIds": ids(1_000) })),
        )
        .await;
    assert_eq!((status, body), (200, json!({"deleted": 0})));
    app.stop().await;
}

async fn a_thousand_labels_filter_without_a_server_error(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(
            "https://example.com/x",
            "x",
            &[("Upstash-Delay", "1h"), ("Upstash-Label", "l999")],
        )
        .await;
    let labels = |n: usize| (0..n).map(|i| format!("l{i}")).collect::<Vec<_>>().join(",");
    let (status, body) = app.get_json(&format!("/v2/dlq?label={}", labels(1_000))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.get_json(&format!("/v2/events?label={}", labels(1_000))).await;
    assert_eq!(status, 200, "{body}");
    app.expect_error(
        app.request(Method::DELETE, &format!("/v2/messages?label={}", labels(1_001))),
        400,
        "at most 1000",
    )
    .await;
    let (status, body) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/messages?label={}", labels(1_000))))
        .await;
    assert_eq!((status, body), (200, json!({"cancelled": 1})));
    assert_eq!(app.message(&id).await["state"], "CANCELED");
    app.stop().await;
}

async fn nul_bytes_in_paths_and_destinations_are_refused(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let paths = [
        (Method::GET, "/v2/topics/a%00b"),
        (Method::DELETE, "/v2/topics/a%00b"),
        (Method::GET, "/v2/flowControl/a%00b"),
        (Method::POST, "/v2/flowControl/a%00b/pause"),
        (Method::POST, "/v2/publish/https%3A%2F%2Fexample.com%2Fa%00b"),
        (Method::POST, "/v2/schedules/https%3A%2F%2Fexample.com%2Fa%00b"),
        (Method::GET, "/v2/schedules/a%00b"),
        (Method::DELETE, "/v2/schedules/a%00b"),
        // Found by schemathesis: these answered 405.
        (Method::PATCH, "/v2/schedules/a%00b/pause"),
        (Method::PATCH, "/v2/schedules/%C3%96/resume"),
        (Method::GET, "/v2/messages/msg_%00"),
        (Method::DELETE, "/v2/messages/msg_%00"),
        (Method::GET, "/v2/dlq/%00"),
        (Method::DELETE, "/v2/dlq/%00"),
        (Method::POST, "/v2/dlq/retry/%00"),
        (Method::GET, "/v2/queues/a%00b"),
        (Method::DELETE, "/v2/queues/a%00b"),
        (Method::POST, "/v2/enqueue/a%00b/https://example.com/x"),
    ];
    for (method, path) in paths {
        let request = app.request(method.clone(), path).header("Upstash-Cron", "* * * * *");
        let (status, body) = app.send_json(request).await;
        assert_eq!(status, 400, "{method} {path}: {body}");
    }
    let batch = app.request(Method::POST, "/v2/batch").json(&json!([
        {"destination": "https://example.com/ok"},
        {"destination": "https://example.com/a\u{0}b"},
    ]));
    app.expect_error(batch, 400, "the URL contains the character").await;
    let (_, cancelled) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(cancelled, json!({"cancelled": 0}), "nothing was stored");
    let (_, schedules) = app.get_json("/v2/schedules").await;
    assert_eq!(schedules, json!([]));
    app.stop().await;
}

async fn an_overflowing_retry_after_falls_back_to_the_default_backoff(backend: Backend) {
    for header in ["retry-after", "x-ratelimit-reset"] {
        let receiver = Receiver::answering(move |_| Reply::Full {
            status: 429,
            headers: vec![(header.into(), "9223372036854775807".into())],
            body: vec![],
        })
        .await;
        let app = spawn_app(backend, Options::stepped()).await;
        let id = app.publish_ok(&receiver.url, "x", &[]).await;
        assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
        let message = app.message(&id).await;
        assert_eq!(message["state"], "RETRY", "{header}: {message}");
        let backoff = postdate::domain::retry::default_backoff_ms(1);
        assert_eq!(message["nextDeliveryTime"], T0 + backoff, "{header}");
        assert_eq!(
            app.dispatcher.run_once().await.unwrap(),
            0,
            "{header}: no retry fires at once"
        );
        app.stop().await;
    }
}

async fn schedules_check_the_delay_limit_even_with_a_not_before(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let not_before = (T0 / 1000 + 60).to_string();
    let request = app
        .request(Method::POST, "/v2/schedules/https://example.com/x")
        .header("Upstash-Cron", "0 * * * *")
        .header("Upstash-Delay", "400d")
        .header("Upstash-Not-Before", not_before);
    app.expect_error(request, 400, "Upstash-Delay").await;
    let (_, schedules) = app.get_json("/v2/schedules").await;
    assert_eq!(schedules, json!([]));
    app.stop().await;
}

/// One request with exactly this request target, which HTTP clients would normalise.
async fn raw_status(app: &TestApp, method: &str, target: &str, body: &str) -> (u16, Value) {
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

async fn dot_segments_are_not_schedule_ids_or_group_names(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    for id in [".", ".."] {
        let request = app
            .request(Method::POST, "/v2/schedules/https://example.com/x")
            .header("Upstash-Cron", "0 * * * *")
            .header("Upstash-Schedule-Id", id);
        app.expect_error(request, 400, "Upstash-Schedule-Id").await;
        let endpoints = r#"{"endpoints":[{"url":"https://example.com/x"}]}"#;
        let (status, body) = raw_status(&app, "POST", &format!("/v2/topics/{id}/endpoints"), endpoints).await;
        assert_eq!(status, 400, "group {id:?}: {body}");
        assert!(body["error"].as_str().unwrap().contains("URL group name"), "{body}");
    }
    let (_, schedules) = app.get_json("/v2/schedules").await;
    assert_eq!(schedules, json!([]));
    let (_, groups) = app.get_json("/v2/topics").await;
    assert_eq!(groups, json!([]));
    app.stop().await;
}

async fn a_batch_item_with_an_unknown_field_is_refused(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let batch = app.request(Method::POST, "/v2/batch").json(&json!([
        {"destination": "https://example.com/x", "header": {"Upstash-Delay": "1h"}, "body": "x"},
    ]));
    app.expect_error(batch, 400, "header").await;
    assert_eq!(app.run_until_idle().await, 0, "nothing was published");
    let (_, cancelled) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(cancelled, json!({"cancelled": 0}));
    app.stop().await;
}

async fn the_dlq_keeps_response_headers_within_the_response_cap(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 503,
        headers: (0..20).map(|i| (format!("x-big-{i}"), "v".repeat(200))).collect(),
        body: b"down".to_vec(),
    })
    .await;
    let app = spawn_app(backend, Options::stepped().with(|c| c.dlq_response_bytes = 1_000)).await;
    app.publish_ok(&receiver.url, "x", &[("Upstash-Retries", "0")]).await;
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    let (_, dlq) = app.get_json("/v2/dlq").await;
    let headers = dlq["messages"][0]["responseHeader"].as_object().unwrap();
    let size: usize = headers
        .iter()
        .map(|(name, values)| {
            values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| name.len() + v.as_str().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    assert!(size <= 1_000, "{size} bytes of headers kept");
    assert!(
        headers.keys().any(|k| k.starts_with("X-Big-")),
        "headers that fit are kept: {headers:?}"
    );
    assert_eq!(dlq["messages"][0]["responseBody"], "down");
    app.stop().await;
}
