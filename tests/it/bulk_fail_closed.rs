//! Bulk cancel, DLQ delete and DLQ retry fail closed (issue 9 §3): a blank filter, an empty or all-null body
//! and a wrong-shaped body are refused with 400 and change nothing; only the explicit "all" forms the SDKs
//! send act on everything.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp};

backend_tests!(
    blank_filters_and_empty_bodies_never_cancel_every_message,
    blank_filters_and_empty_bodies_never_delete_or_retry_every_dlq_entry,
    the_explicit_all_forms_still_act_on_everything,
    a_cancel_already_requested_is_not_counted_again,
);

/// Requests that once read as "everything" for `path`.
fn widening_requests(
    app: &TestApp,
    method: Method,
    path: &str,
    keys: &[&str],
) -> Vec<(String, crate::common::ApiRequest)> {
    let mut requests = Vec::new();
    for key in keys {
        for value in ["", "%20", ",", "%20,%20"] {
            let target = format!("{path}?{key}={value}");
            requests.push((target.clone(), app.request(method.clone(), &target)));
            let paged = format!("{path}?count=100&{key}={value}");
            requests.push((paged.clone(), app.request(method.clone(), &paged)));
        }
    }
    let bodies = [
        "{}",
        "[]",
        "null",
        "\"all\"",
        "{\"messageIds\":null}",
        "{\"dlqIds\":null}",
        "{\"messageIds\":null,\"dlqIds\":null,\"url\":null}",
        "{\"url\":\"\"}",
        "{\"topicName\":\"  \"}",
        "{\"messageIds\":[\"\"]}",
        "{\"dlqIds\":[\" \"]}",
    ];
    for body in bodies {
        requests.push((
            format!("{path} with body {body}"),
            app.request(method.clone(), path)
                .header("Content-Type", "application/json")
                .body(body),
        ));
    }
    requests
}

async fn expect_refused(app: &TestApp, what: &str, request: crate::common::ApiRequest) {
    let (status, body) = app.send_json(request).await;
    assert_eq!(status, 400, "{what} must be refused: {body}");
    assert!(body["error"].is_string(), "{what}: {body}");
}

async fn states(app: &TestApp, ids: &[String]) -> Vec<String> {
    let mut states = Vec::new();
    for id in ids {
        states.push(app.message(id).await["state"].as_str().unwrap().to_string());
    }
    states
}

const CANCEL_FILTERS: &[&str] = &[
    "label",
    "topicName",
    "queueName",
    "url",
    "host",
    "path",
    "flowControlKey",
    "scheduleId",
    "callerIp",
    "callerIP",
    "messageIds",
];

async fn blank_filters_and_empty_bodies_never_cancel_every_message(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let mut ids = Vec::new();
    for label in ["a", "b"] {
        ids.push(
            app.publish_ok(
                "https://example.com/x",
                label,
                &[("Upstash-Delay", "1h"), ("Upstash-Label", label)],
            )
            .await,
        );
    }
    for (what, request) in widening_requests(&app, Method::DELETE, "/v2/messages", CANCEL_FILTERS) {
        expect_refused(&app, &format!("DELETE {what}"), request).await;
    }
    assert_eq!(states(&app, &ids).await, ["CREATED", "CREATED"], "nothing was canceled");
    app.stop().await;
}

async fn dead_letter(app: &TestApp, receiver: &Receiver, n: usize) {
    for i in 0..n {
        app.publish_ok(&format!("{}/n{i}", receiver.url), "x", &[("Upstash-Retries", "0")])
            .await;
        assert_eq!(app.run_until_idle().await, 1);
    }
}

async fn dlq_len(app: &TestApp) -> usize {
    let (_, page) = app.get_json("/v2/dlq").await;
    page["messages"].as_array().unwrap().len()
}

const DLQ_FILTERS: &[&str] = &[
    "label",
    "messageId",
    "dlqIds",
    "url",
    "topicName",
    "scheduleId",
    "queueName",
    "responseStatus",
    "callerIp",
    "flowControlKey",
];

async fn blank_filters_and_empty_bodies_never_delete_or_retry_every_dlq_entry(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    dead_letter(&app, &receiver, 2).await;
    let mut requests = widening_requests(&app, Method::DELETE, "/v2/dlq", DLQ_FILTERS);
    requests.extend(widening_requests(&app, Method::POST, "/v2/dlq/retry", DLQ_FILTERS));
    for (what, request) in requests {
        expect_refused(&app, &what, request).await;
    }
    assert_eq!(dlq_len(&app).await, 2, "no entry was deleted or retried");
    assert_eq!(app.run_until_idle().await, 0, "no entry was re-published");
    app.stop().await;
}

async fn the_explicit_all_forms_still_act_on_everything(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    dead_letter(&app, &receiver, 3).await;
    for _ in 0..2 {
        app.publish_ok("https://example.com/x", "later", &[("Upstash-Delay", "1h")])
            .await;
    }

    // JS `messages.cancel({all: true})`.
    let (status, body) = app
        .send_json(app.request(Method::DELETE, "/v2/messages?count=100"))
        .await;
    assert_eq!((status, body), (200, json!({"cancelled": 2})));
    // An explicit empty id list (Python `cancel_many([])`) names nothing and is not an error.
    let (status, body) = app
        .send_json(
            app.request(Method::DELETE, "/v2/messages")
                .json(&json!({"messageIds": []})),
        )
        .await;
    assert_eq!((status, body), (200, json!({"cancelled": 0})));
    // JS `dlq.retry({all: true})`, one page at a time.
    let (status, body) = app.send_json(app.request(Method::POST, "/v2/dlq/retry?count=1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responses"].as_array().unwrap().len(), 1);
    assert!(body["cursor"].is_string(), "more entries remain: {body}");
    // JS `dlq.delete({all: true})`.
    let (status, body) = app.send_json(app.request(Method::DELETE, "/v2/dlq?count=100")).await;
    assert_eq!((status, body), (200, json!({"deleted": 2})));
    assert_eq!(dlq_len(&app).await, 0);
    app.stop().await;
}

async fn a_cancel_already_requested_is_not_counted_again(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Hang).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app.publish_ok(&receiver.url, "slow", &[]).await;
    let dispatcher = app.dispatcher.clone();
    let delivery = tokio::spawn(async move { dispatcher.run_once().await });
    receiver.wait_for(1, Duration::from_secs(10)).await;

    let mut answers = Vec::new();
    for _ in 0..3 {
        let (status, body) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
        assert_eq!(status, 200, "{body}");
        answers.push(body);
    }
    assert_eq!(
        answers,
        [
            json!({"cancelled": 1}),
            json!({"cancelled": 0}),
            json!({"cancelled": 0})
        ],
        "the one delivery in flight is asked to stop once"
    );
    let (_, logs) = app.get_json(&format!("/v2/events?messageId={id}")).await;
    let requested = logs["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["state"] == "CANCEL_REQUESTED")
        .count();
    assert_eq!(requested, 1, "{logs}");
    delivery.abort();
    app.stop().await;
}
