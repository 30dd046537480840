//! Webhook-receiver mode: a third party that cannot set headers publishes with the options as query
//! parameters and the token as `?qstash_token=`; `Upstash-Header-Forward` forwards the incoming headers; a
//! URL group's default headers apply to every publish to it, and a publish's own header wins.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, TOKEN};

backend_tests!(
    query_options_publish_the_same_message_as_headers,
    a_query_parameter_that_is_no_option_or_conflicts_with_a_header_is_a_400_that_stores_nothing,
    the_token_may_come_as_a_query_parameter_and_never_reaches_the_destination,
    header_forward_forwards_every_incoming_header_but_the_token,
    a_groups_default_headers_apply_to_its_publishes_and_the_publishs_own_header_wins,
);

/// A message as the API shows it, without what differs between two publishes of the same thing.
fn comparable(mut message: Value) -> Value {
    for key in ["messageId", "createdAt", "notBefore", "callerIp"] {
        message.as_object_mut().unwrap().remove(key);
    }
    message
}

async fn message_count(app: &TestApp) -> usize {
    app.get_json("/v2/messages").await.1["messages"]
        .as_array()
        .unwrap()
        .len()
}

async fn query_options_publish_the_same_message_as_headers(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let by_headers = app
        .publish_ok(
            "https://example.com/hook?order=42",
            "payload",
            &[
                ("Upstash-Retries", "2"),
                ("Upstash-Delay", "100s"),
                ("Upstash-Label", "partner"),
                ("Upstash-Forward-X-Partner", "acme corp"),
                ("Upstash-Callback", "https://example.com/cb?k=v"),
                ("Content-Type", "text/plain"),
            ],
        )
        .await;
    let query = "order=42&upstash-retries=2&Upstash-Delay=100s&upstash-label=partner\
                 &upstash-forward-x-partner=acme+corp&upstash-callback=https%3A%2F%2Fexample.com%2Fcb%3Fk%3Dv";
    let (status, body) = app
        .send_json(
            app.request(Method::POST, &format!("/v2/publish/https://example.com/hook?{query}"))
                .header("Content-Type", "text/plain")
                .body("payload"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["url"], "https://example.com/hook?order=42",
        "options leave the destination's query"
    );
    let by_query = body["messageId"].as_str().unwrap();
    let (a, b) = (app.message(&by_headers).await, app.message(by_query).await);
    assert_eq!(a["maxRetries"], 2);
    assert_eq!(comparable(b), comparable(a), "the two forms make identical messages");

    // A header and a query parameter saying the same thing agree.
    let (status, _) = app
        .send_json(
            app.request(Method::POST, "/v2/publish/https://example.com/hook?upstash-retries=2")
                .header("Upstash-Retries", "2"),
        )
        .await;
    assert_eq!(status, 201);
    // A batch item's destination may carry them too.
    let (status, body) = app
        .send_json(app.request(Method::POST, "/v2/batch").json(&json!([
            {"destination": "https://example.com/b?upstash-retries=1&x=1", "body": "b"}
        ])))
        .await;
    assert_eq!(status, 201, "{body}");
    let item = app.message(body[0]["messageId"].as_str().unwrap()).await;
    assert_eq!(
        (item["maxRetries"].as_i64(), item["url"].as_str()),
        (Some(1), Some("https://example.com/b?x=1"))
    );
    app.stop().await;
}

async fn a_query_parameter_that_is_no_option_or_conflicts_with_a_header_is_a_400_that_stores_nothing(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let publish = |query: &str| app.request(Method::POST, &format!("/v2/publish/https://example.com/h?{query}"));
    app.expect_error(publish("upstash-retires=3"), 400, "not a publish option")
        .await;
    app.expect_error(publish("upstash-signature=forged"), 400, "not a publish option")
        .await;
    app.expect_error(publish("upstash-retries=lots"), 400, "Upstash-Retries")
        .await;
    app.expect_error(publish("upstash-delay=1s&upstash-delay=2s"), 400, "twice")
        .await;
    app.expect_error(
        publish("upstash-retries=5").header("Upstash-Retries", "1"),
        400,
        "both as a header and as a query parameter",
    )
    .await;
    app.expect_error(publish("upstash-callback=http%3A%2F%2F169.254.169.254%2F"), 400, "")
        .await;
    assert_eq!(message_count(&app).await, 0, "nothing was stored");
    app.stop().await;
}

async fn the_token_may_come_as_a_query_parameter_and_never_reaches_the_destination(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(200)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let path = format!(
        "/v2/publish/{}/in?source=stripe&qstash_token={TOKEN}&upstash-retries=0",
        receiver.url
    );
    let (status, body) = app
        .send_json(app.request_without_token(Method::POST, &path).body("event"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(!body["url"].as_str().unwrap().contains(TOKEN), "{body}");
    // A sender's own Authorization header does not hide the query token.
    let (status, _) = app
        .send_json(
            app.request_without_token(Method::POST, &path)
                .header("Authorization", "Basic cGFydG5lcjpzZWNyZXQ="),
        )
        .await;
    assert_eq!(status, 201);
    let wrong = format!("/v2/publish/{}/in?qstash_token=wrong", receiver.url);
    let (status, _) = app.send_json(app.request_without_token(Method::POST, &wrong)).await;
    assert_eq!(status, 401);
    // Lists take it too, and do not read it as a filter.
    let (status, listed) = app
        .send_json(app.request_without_token(Method::GET, &format!("/v2/messages?qstash_token={TOKEN}")))
        .await;
    assert_eq!((status, listed["messages"].as_array().unwrap().len()), (200, 2));

    assert_eq!(app.run_until_idle().await, 2);
    for request in receiver.requests() {
        assert_eq!(request.target, "/in?source=stripe");
        assert!(request.header("authorization").is_none());
    }
    app.stop().await;
}

async fn header_forward_forwards_every_incoming_header_but_the_token(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(200)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let (status, body) = app
        .send_json(
            app.request(
                Method::POST,
                &format!("/v2/publish/{}/hook?upstash-header-forward=true", receiver.url),
            )
            .header("X-Github-Event", "push")
            .header("X-Hub-Signature-256", "sha256=abc")
            .header("Upstash-Forward-X-Github-Event", "explicit wins")
            .header("Content-Type", "application/json")
            .body("{}"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.run_until_idle().await, 1);
    let delivered = &receiver.requests()[0];
    assert_eq!(delivered.header("x-hub-signature-256"), Some("sha256=abc"));
    assert_eq!(delivered.header("x-github-event"), Some("explicit wins"));
    assert_eq!(delivered.header("content-type"), Some("application/json"));
    assert_ne!(
        delivered.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the token is never forwarded"
    );
    assert!(delivered.header("upstash-header-forward").is_none());
    app.stop().await;
}

async fn a_groups_default_headers_apply_to_its_publishes_and_the_publishs_own_header_wins(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(200)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let set = |name: &str, body: Value| app.request(Method::PATCH, &format!("/v2/topics/{name}")).json(&body);
    app.expect_error(
        set("partners", json!({"headers": {"X-Key": "k"}})),
        404,
        "does not exist",
    )
    .await;
    let (status, _) = app
        .send_json(
            app.request(Method::POST, "/v2/topics/partners/endpoints")
                .json(&json!({"endpoints": [{"url": format!("{}/a", receiver.url)}]})),
        )
        .await;
    assert_eq!(status, 200);
    let headers = json!({"Upstash-Retries": "7", "X-Api-Key": ["k1"], "upstash-delay": "1h"});
    let (status, group) = app.send_json(set("partners", json!({"headers": headers}))).await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["headers"]["X-Api-Key"], json!(["k1"]));
    assert_eq!(app.get_json("/v2/topics/partners").await.1["headers"], group["headers"]);

    for bad in [
        json!({"headers": {"Upstash-Signature": "x"}}),
        json!({"headers": {"Upstash-Retries": "many"}}),
        json!({"headers": {"Host": "internal"}}),
        json!({"headers": {"Upstash-Callback": "http://169.254.169.254/"}}),
        json!({"headers": "not a map"}),
    ] {
        let (status, body) = app.send_json(set("partners", bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(
        app.get_json("/v2/topics/partners").await.1["headers"],
        group["headers"],
        "refusals changed nothing"
    );

    // Delay 0s (the publish's own) overrides the group's 1h, so all three are due now.
    let defaulted = publish_to_group(&app, "/v2/publish/partners", &[("Upstash-Delay", "0s")]).await;
    let own = publish_to_group(
        &app,
        "/v2/publish/partners",
        &[
            ("Upstash-Retries", "1"),
            ("Upstash-Forward-X-Api-Key", "mine"),
            ("Upstash-Delay", "0s"),
        ],
    )
    .await;
    let by_query = publish_to_group(&app, "/v2/publish/partners?upstash-delay=0s", &[]).await;
    assert_eq!(
        app.message(&defaulted).await["maxRetries"],
        7,
        "the group's option applies"
    );
    assert_eq!(
        app.message(&own).await["maxRetries"],
        1,
        "the publish's own header wins"
    );
    assert_eq!(app.message(&by_query).await["maxRetries"], 7);
    assert_eq!(app.run_until_idle().await, 3);
    let mut keys: Vec<String> = receiver
        .requests()
        .iter()
        .filter_map(|r| r.header("x-api-key").map(str::to_string))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["k1", "k1", "mine"],
        "forwarded to the endpoints; the publish's own wins"
    );

    let (status, cleared) = app.send_json(set("partners", json!({"headers": {}}))).await;
    assert_eq!((status, cleared.get("headers")), (200, None), "{{}} removes them");
    app.stop().await;
}

/// Publishes to a URL group (one endpoint) and returns the message id.
async fn publish_to_group(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = app.request(Method::POST, path).body("x");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let (status, body) = app.send_json(request).await;
    assert_eq!(status, 201, "{body}");
    body[0]["messageId"].as_str().unwrap().to_string()
}
