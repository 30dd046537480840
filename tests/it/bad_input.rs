//! Every malformed request gets a 4xx with a JSON error that says what is wrong, and changes nothing.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::common::{spawn_app, Backend, Options, TestApp, TOKEN};

backend_tests!(
    malformed_publishes_are_refused_with_a_clear_error_and_store_nothing,
    requests_without_the_right_token_are_refused,
    unknown_ids_and_routes_get_404,
    malformed_bulk_and_dlq_requests_are_refused,
    nothing_a_client_sends_produces_a_server_error,
);

async fn assert_nothing_stored(app: &TestApp) {
    let (_, cancelled) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(cancelled, json!({"cancelled": 0}), "no message was accepted");
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq, json!({"messages": []}));
}

async fn malformed_publishes_are_refused_with_a_clear_error_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend, Options::stepped().with(|c| c.max_body_bytes = 1024)).await;
    let ok = "https://example.com/hook";
    let cases: Vec<(crate::common::ApiRequest, u16, &str)> = vec![
        (app.publish("ftp://example.com/x"), 400, "scheme"),
        (app.publish("https://"), 400, "not a valid URL"),
        (app.publish("not a url"), 400, "neither"),
        (app.publish(ok).header("Upstash-Delay", "soon"), 400, "Upstash-Delay"),
        (app.publish(ok).header("Upstash-Delay", "-5s"), 400, "Upstash-Delay"),
        (app.publish(ok).header("Upstash-Delay", "400d"), 400, "Upstash-Delay"),
        (
            app.publish(ok).header("Upstash-Not-Before", "tomorrow"),
            400,
            "Upstash-Not-Before",
        ),
        (
            app.publish(ok).header("Upstash-Not-Before", "99999999999"),
            400,
            "Upstash-Not-Before",
        ),
        (
            app.publish(ok).header("Upstash-Retries", "many"),
            400,
            "Upstash-Retries",
        ),
        (app.publish(ok).header("Upstash-Retries", "-1"), 400, "Upstash-Retries"),
        (
            app.publish(ok).header("Upstash-Timeout", "fast"),
            400,
            "Upstash-Timeout",
        ),
        (app.publish(ok).header("Upstash-Timeout", "0s"), 400, "Upstash-Timeout"),
        (app.publish(ok).header("Upstash-Method", "FETCH"), 400, "Upstash-Method"),
        (
            app.publish(ok).header("Upstash-Retry-Delay", "pow(2, retried"),
            400,
            "Upstash-Retry-Delay",
        ),
        (
            app.publish(ok).header("Upstash-Retry-Delay", "rm -rf /"),
            400,
            "unknown name",
        ),
        (
            app.publish(ok).header("Upstash-Forward-Content-Length", "3"),
            400,
            "cannot be forwarded",
        ),
        (
            app.publish(ok).header("Upstash-Label", "has space"),
            400,
            "Upstash-Label",
        ),
        (app.publish(ok).body(vec![b'x'; 1025]), 413, "1024 bytes"),
        (app.publish("my-group"), 404, "URL group"),
    ];
    for (request, status, mentions) in cases {
        app.expect_error(request, status, mentions).await;
    }
    // Exactly at the limit is fine.
    let (status, _) = app.send_json(app.publish(ok).body(vec![b'x'; 1024])).await;
    assert_eq!(status, 201);
    let (_, cancelled) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(cancelled, json!({"cancelled": 1}), "only the valid publish was stored");
    assert_nothing_stored(&app).await;
    app.stop().await;
}

async fn requests_without_the_right_token_are_refused(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let publish = || app.request_without_token(Method::POST, "/v2/publish/https://example.com/x");
    for request in [
        publish(),
        publish().bearer_auth("wrong"),
        publish().bearer_auth(format!("{TOKEN}x")),
        publish().header("Authorization", TOKEN),
        app.request_without_token(Method::GET, "/v2/dlq").bearer_auth(""),
        app.request_without_token(Method::GET, "/v2/keys"),
    ] {
        app.expect_error(request, 401, "token").await;
    }
    assert_nothing_stored(&app).await;
    app.stop().await;
}

async fn unknown_ids_and_routes_get_404(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    app.expect_error(app.request(Method::GET, "/v2/messages/msg_nope"), 404, "not found")
        .await;
    app.expect_error(app.request(Method::DELETE, "/v2/messages/msg_nope"), 404, "not found")
        .await;
    app.expect_error(app.request(Method::GET, "/v2/dlq/123-x"), 404, "not found")
        .await;
    app.expect_error(app.request(Method::DELETE, "/v2/dlq/123-x"), 404, "not found")
        .await;
    app.expect_error(app.request(Method::POST, "/v2/dlq/retry/123-x"), 404, "not found")
        .await;
    app.expect_error(app.request(Method::GET, "/v2/nothing-here"), 404, "no route")
        .await;
    app.expect_error(app.request(Method::PUT, "/v2/keys"), 405, "PUT").await;
    app.stop().await;
}

async fn malformed_bulk_and_dlq_requests_are_refused(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    app.publish_ok("https://example.com/x", "kept", &[("Upstash-Delay", "1h")])
        .await;
    let cases: Vec<(crate::common::ApiRequest, &str)> = vec![
        (
            app.request(Method::DELETE, "/v2/messages").body("{not json"),
            "invalid JSON",
        ),
        (
            app.request(Method::DELETE, "/v2/messages")
                .json(&json!({"mesageIds": ["x"]})),
            "invalid JSON",
        ),
        (
            app.request(Method::DELETE, "/v2/messages?labels=typo"),
            "unknown query parameter",
        ),
        (
            app.request(Method::DELETE, "/v2/messages?fromDate=yesterday"),
            "fromDate",
        ),
        (app.request(Method::GET, "/v2/dlq?count=0"), "count"),
        (app.request(Method::GET, "/v2/dlq?order=sideways"), "order"),
        (app.request(Method::GET, "/v2/dlq?responseStatus=bad"), "responseStatus"),
        (
            app.request(Method::DELETE, "/v2/dlq").json(&json!({"url": "x"})),
            "dlqIds",
        ),
        (
            app.request(Method::POST, "/v2/dlq/retry?dlqIds=x")
                .header("Upstash-Retries", "x"),
            "Upstash-Retries",
        ),
    ];
    for (request, mentions) in cases {
        app.expect_error(request, 400, mentions).await;
    }
    let (_, cancelled) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(
        cancelled,
        json!({"cancelled": 1}),
        "the pending message survived every bad request"
    );
    app.stop().await;
}

async fn nothing_a_client_sends_produces_a_server_error(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let weird_paths = [
        "/v2/publish/http://[::1",
        "/v2/publish/https://exa%00mple.com/",
        "/v2/publish/http%3A%2F%2F",
        "/v2/publish/https:%2F%2Fx",
        "/v2/publish/%ff%fe",
        "/v2/publish/https://example.com/%",
        "/v2/messages/%ff",
        "/v2/messages/..%2F..%2Fetc",
        "/v2/dlq/%00",
        "/v2/dlq?cursor=%ff&count=99999999999999999999",
        "/v2/dlq?fromDate=-1&toDate=99999999999999999",
        "/v2/messages?count=-1&messageIds=",
    ];
    for path in weird_paths {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let response = app
                .request(method.clone(), path)
                .header(
                    "Upstash-Forward-X",
                    reqwest::header::HeaderValue::from_bytes("\u{1F680}".as_bytes()).unwrap(),
                )
                .header("Upstash-Delay", "99999999999999999999999h")
                .body(vec![0xff, 0x00, 0xfe])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!((200..500).contains(&status), "{method} {path} gave {status}");
        }
    }
    let raw = app
        .request(Method::POST, "/v2/publish/https://example.com/x")
        .header(
            "Upstash-Retries",
            reqwest::header::HeaderValue::from_bytes(&[0xff, 0x31]).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_nothing_stored(&app).await;
    app.stop().await;
}
