//! Callbacks and failure callbacks (spec §12.5): ordinary signed messages of their own, reporting each
//! attempt, and once the final failure with its DLQ entry.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Recorded, Reply};
use crate::common::{spawn_app, Backend, Options};

backend_tests!(
    callbacks_report_every_attempt_and_the_failure_callback_the_final_failure,
    a_delivered_message_calls_back_once_with_the_response,
);

fn json_body(request: &Recorded) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn signed_for(request: &Recorded) -> String {
    let token = request.header("upstash-signature").unwrap();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

async fn callbacks_report_every_attempt_and_the_failure_callback_the_final_failure(backend: Backend) {
    let receiver = Receiver::answering(|r| match r.target.as_str() {
        "/dest" => Reply::Full {
            status: 500,
            headers: vec![("x-r".into(), "1".into())],
            body: b"down".to_vec(),
        },
        _ => Reply::Status(200),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let (cb, fail) = (format!("{}/cb", receiver.url), format!("{}/fail", receiver.url));
    let headers = [
        ("Upstash-Retries", "1"),
        ("Upstash-Callback", cb.as_str()),
        ("Upstash-Callback-Forward-X-Cb", "yes"),
        ("Upstash-Failure-Callback", fail.as_str()),
        ("Upstash-Failure-Callback-Retries", "0"),
        ("Upstash-Failure-Callback-Incident", "py-style"),
    ];
    let id = app
        .publish_ok(&format!("{}/dest", receiver.url), "order 7", &headers)
        .await;
    let message = app.message(&id).await;
    assert_eq!(
        (message["callback"].as_str(), message["failureCallback"].as_str()),
        (Some(cb.as_str()), Some(fail.as_str()))
    );
    assert_eq!(message["callbackHeader"]["X-Cb"][0], "yes");

    assert_eq!(app.run_until_idle().await, 2, "the first attempt, then its callback");
    let first = receiver.requests().into_iter().find(|r| r.target == "/cb").unwrap();
    assert_eq!(first.method, "POST");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("x-cb"), Some("yes"));
    assert_eq!(signed_for(&first), cb, "callbacks are signed for their own URL");
    assert_ne!(first.message_id(), id, "a callback is a message of its own");
    let report = json_body(&first);
    assert_eq!(report["status"], 500);
    assert_eq!(STANDARD.decode(report["body"].as_str().unwrap()).unwrap(), b"down");
    assert_eq!(report["header"]["X-R"][0], "1");
    assert_eq!(
        (report["retried"].as_i64(), report["maxRetries"].as_i64()),
        (Some(0), Some(1))
    );
    assert_eq!(report["sourceMessageId"], id.as_str());
    assert_eq!(report["url"], format!("{}/dest", receiver.url));
    assert_eq!(
        STANDARD.decode(report["sourceBody"].as_str().unwrap()).unwrap(),
        b"order 7"
    );
    assert!(report.get("dlqId").is_none());

    app.clock.advance_ms(86_400_000);
    assert_eq!(
        app.run_until_idle().await,
        3,
        "the last attempt, its callback and the failure callback"
    );
    let reports: Vec<Value> = receiver
        .requests()
        .iter()
        .filter(|r| r.target == "/cb")
        .map(json_body)
        .collect();
    assert_eq!(
        reports
            .iter()
            .map(|r| r["retried"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1]
    );
    let failure = receiver.requests().into_iter().find(|r| r.target == "/fail").unwrap();
    assert_eq!(failure.header("incident"), Some("py-style"));
    let failure = json_body(&failure);
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(
        dlq["messages"].as_array().unwrap().len(),
        1,
        "only the source message is dead-lettered"
    );
    assert_eq!(failure["dlqId"], dlq["messages"][0]["dlqId"]);
    assert_eq!(failure["status"], 500);
    app.stop().await;
}

async fn a_delivered_message_calls_back_once_with_the_response(backend: Backend) {
    let receiver = Receiver::answering(|r| match r.target.as_str() {
        "/dest" => Reply::Full {
            status: 200,
            headers: vec![],
            body: b"{\"result\":42}".to_vec(),
        },
        _ => Reply::Status(204),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let (cb, fail) = (format!("{}/cb", receiver.url), format!("{}/fail", receiver.url));
    app.publish_ok(
        &format!("{}/dest", receiver.url),
        "job",
        &[
            ("Upstash-Callback", cb.as_str()),
            ("Upstash-Failure-Callback", fail.as_str()),
            ("Upstash-Callback-Method", "PUT"),
        ],
    )
    .await;
    assert_eq!(app.run_until_idle().await, 2);
    let callbacks: Vec<Recorded> = receiver
        .requests()
        .into_iter()
        .filter(|r| r.target != "/dest")
        .collect();
    assert_eq!(callbacks.len(), 1, "no failure callback after a success");
    assert_eq!(callbacks[0].method, "PUT");
    let report = json_body(&callbacks[0]);
    assert_eq!(report["status"], 200);
    assert_eq!(
        STANDARD.decode(report["body"].as_str().unwrap()).unwrap(),
        b"{\"result\":42}"
    );
    app.stop().await;
}
