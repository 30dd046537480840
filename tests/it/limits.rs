//! Request limits (SECURITY.md): one request can only make the server hold a bounded amount — batch items
//! and bytes, endpoints per URL group, and messages created per request — and a request over a limit gets a
//! 4xx that names the setting, and stores nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{spawn_app, Backend, Options, TestApp};

backend_tests!(
    a_batch_over_the_item_or_byte_limit_is_refused_and_stores_nothing,
    a_group_cannot_grow_past_the_endpoint_limit,
    a_publish_or_batch_that_would_fan_out_past_the_limit_is_refused_and_stores_nothing,
);

fn limited() -> Options {
    Options::stepped().with(|config| {
        config.request_limits.max_batch_items = 3;
        config.request_limits.max_batch_bytes = 4_096;
        config.request_limits.max_group_endpoints = 4;
        config.request_limits.max_fan_out = 5;
    })
}

/// Every log entry ever written: a refused request writes none.
async fn events(app: &TestApp) -> Vec<Value> {
    let (status, page) = app.get_json("/v2/events").await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().unwrap().clone()
}

fn item(n: usize) -> Value {
    json!({"destination": format!("https://example.com/{n}"), "body": "x"})
}

async fn a_batch_over_the_item_or_byte_limit_is_refused_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend, limited()).await;
    let four: Vec<Value> = (0..4).map(item).collect();
    let batch = |body: &Value| app.request(Method::POST, "/v2/batch").json(body);
    app.expect_error(batch(&json!(four)), 400, "--max-batch-items").await;
    app.expect_error(batch(&json!({"destination": "https://example.com"})), 400, "array")
        .await;
    let big = json!([{"destination": "https://example.com/big", "body": "y".repeat(5_000)}]);
    app.expect_error(batch(&big), 413, "4096 bytes").await;
    assert!(events(&app).await.is_empty(), "nothing stored");

    let three: Vec<Value> = (0..3).map(item).collect();
    let (status, answer) = app.send_json(batch(&json!(three))).await;
    assert_eq!((status, answer.as_array().map(Vec::len)), (201, Some(3)), "{answer}");
    app.stop().await;
}

async fn add(app: &TestApp, group: &str, urls: &[String]) -> crate::common::ApiRequest {
    let endpoints: Vec<Value> = urls.iter().map(|url| json!({ "url": url })).collect();
    app.request(Method::POST, &format!("/v2/topics/{group}/endpoints"))
        .json(&json!({ "endpoints": endpoints }))
}

fn urls(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("https://e{n}.example.com/hook")).collect()
}

async fn a_group_cannot_grow_past_the_endpoint_limit(backend: Backend) {
    let app = spawn_app(backend, limited()).await;
    app.expect_error(add(&app, "big", &urls(0..5)).await, 400, "--max-group-endpoints")
        .await;
    assert_eq!(app.get_json("/v2/topics/big").await.0, 404, "the group was not created");

    assert_eq!(app.send_json(add(&app, "big", &urls(0..3)).await).await.0, 200);
    // Re-adding a URL it has already is a rename, not a new endpoint; two new ones are one too many.
    assert_eq!(app.send_json(add(&app, "big", &urls(2..4)).await).await.0, 200);
    app.expect_error(add(&app, "big", &urls(4..6)).await, 400, "would have 6 endpoints")
        .await;
    let (_, group) = app.get_json("/v2/topics/big").await;
    assert_eq!(group["endpoints"].as_array().unwrap().len(), 4, "{group}");
    app.stop().await;
}

async fn a_publish_or_batch_that_would_fan_out_past_the_limit_is_refused_and_stores_nothing(backend: Backend) {
    let app = spawn_app(
        backend,
        limited().with(|config| {
            config.request_limits.max_batch_items = 3;
            config.request_limits.max_batch_bytes = 4_096;
            config.request_limits.max_group_endpoints = 10;
            config.request_limits.max_fan_out = 5;
        }),
    )
    .await;
    assert_eq!(app.send_json(add(&app, "six", &urls(0..6)).await).await.0, 200);
    assert_eq!(app.send_json(add(&app, "three", &urls(0..3)).await).await.0, 200);
    app.expect_error(app.publish("six").body("x"), 400, "--max-fan-out")
        .await;
    let two_groups = json!([{"destination": "three"}, {"destination": "three"}]);
    let batch = app.request(Method::POST, "/v2/batch").json(&two_groups);
    app.expect_error(batch, 400, "would create 6 messages").await;
    assert!(events(&app).await.is_empty(), "nothing stored");

    let (status, answer) = app.send_json(app.publish("three").body("x")).await;
    assert_eq!((status, answer.as_array().map(Vec::len)), (201, Some(3)), "{answer}");
    app.stop().await;
}
