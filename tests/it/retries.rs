//! Retries on the default backoff, server-directed retry times, non-retryable 489, and the DLQ after the
//! last attempt (spec §12.2–12.4). Time is moved with the test clock.

use std::time::Duration;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, T0};

backend_tests!(
    failed_attempts_retry_on_the_default_backoff_then_go_to_the_dlq,
    a_non_retryable_489_goes_straight_to_the_dlq,
    retry_after_from_the_destination_sets_the_next_attempt,
    no_response_is_dead_lettered_with_status_zero,
    the_dlq_keeps_a_truncated_response_body,
    redirects_are_not_followed,
    an_attempt_that_exceeds_its_timeout_fails,
    a_retry_delay_expression_sets_each_retry,
);

fn backoff_ms(n: i32) -> i64 {
    postdate::domain::retry::default_backoff_ms(n)
}

async fn failed_attempts_retry_on_the_default_backoff_then_go_to_the_dlq(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 500,
        headers: vec![("x-err".into(), "1".into())],
        body: b"boom".to_vec(),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(&receiver.url, "payload", &[("Upstash-Retries", "2")])
        .await;

    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    let message = app.message(&id).await;
    assert_eq!(message["state"], "RETRY");
    assert_eq!(message["nextDeliveryTime"], T0 + backoff_ms(1));

    app.clock.advance_ms(backoff_ms(1) - 1);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 0);
    app.clock.advance_ms(1);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    let second_due = app.clock.now_ms() + backoff_ms(2);
    assert_eq!(app.message(&id).await["nextDeliveryTime"], second_due);

    app.clock.set_ms(second_due);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(app.message(&id).await["state"], "FAILED");
    app.clock.advance_ms(86_400_000);
    assert_eq!(app.run_until_idle().await, 0, "no attempts after the last one");

    let attempts = receiver.requests();
    let retried: Vec<_> = attempts
        .iter()
        .map(|r| r.header("upstash-retried").unwrap().to_string())
        .collect();
    assert_eq!(retried, ["0", "1", "2"]);
    assert!(
        attempts.iter().all(|r| r.message_id() == id),
        "the message id is stable across attempts"
    );
    let signatures: std::collections::HashSet<_> = attempts
        .iter()
        .map(|r| r.header("upstash-signature").unwrap().to_string())
        .collect();
    assert_eq!(signatures.len(), 3, "every attempt is signed afresh");

    let (status, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(status, 200);
    let entries = dlq["messages"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["messageId"], id.as_str());
    assert_eq!(entries[0]["responseStatus"], 500);
    assert_eq!(entries[0]["responseBody"], "boom");
    assert_eq!(entries[0]["responseHeader"]["X-Err"][0], "1");
    assert_eq!(entries[0]["maxRetries"], 2);
    assert!(dlq.get("cursor").is_none());
    app.stop().await;
}

async fn a_non_retryable_489_goes_straight_to_the_dlq(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 489,
        headers: vec![("upstash-nonretryable-error".into(), "true".into())],
        body: b"invalid order".to_vec(),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app.publish_ok(&receiver.url, "x", &[("Upstash-Retries", "5")]).await;
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(app.message(&id).await["state"], "FAILED");
    app.clock.advance_ms(86_400_000);
    assert_eq!(app.run_until_idle().await, 0);
    assert_eq!(receiver.requests().len(), 1);
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"][0]["responseStatus"], 489);
    assert_eq!(dlq["messages"][0]["responseBody"], "invalid order");
    app.stop().await;
}

async fn retry_after_from_the_destination_sets_the_next_attempt(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 429,
        headers: vec![("retry-after".into(), "7".into())],
        body: vec![],
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app.publish_ok(&receiver.url, "x", &[]).await;
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(app.message(&id).await["nextDeliveryTime"], T0 + 7_000);
    receiver.answer(|_| Reply::Status(204));
    app.clock.advance_ms(6_999);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 0);
    app.clock.advance_ms(1);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(app.message(&id).await["state"], "DELIVERED");
    app.stop().await;
}

async fn no_response_is_dead_lettered_with_status_zero(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    // Nothing listens on port 1.
    let id = app
        .publish_ok("http://127.0.0.1:1/hook", "x", &[("Upstash-Retries", "0")])
        .await;
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    let (_, dlq) = app.get_json("/v2/dlq").await;
    let entry = &dlq["messages"][0];
    assert_eq!(entry["messageId"], id.as_str());
    assert_eq!(entry["responseStatus"], 0);
    assert!(
        entry["error"].as_str().unwrap().contains("could not connect"),
        "{entry}"
    );
    app.stop().await;
}

async fn the_dlq_keeps_a_truncated_response_body(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 503,
        headers: vec![],
        body: vec![b'z'; 5000],
    })
    .await;
    let app = spawn_app(backend, Options::stepped().with(|c| c.dlq_response_bytes = 100)).await;
    app.publish_ok(&receiver.url, "x", &[("Upstash-Retries", "0")]).await;
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"][0]["responseBody"].as_str().unwrap().len(), 100);
    app.stop().await;
}

async fn redirects_are_not_followed(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 302,
        headers: vec![("location".into(), "/elsewhere".into())],
        body: vec![],
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    app.publish_ok(&receiver.url, "x", &[("Upstash-Retries", "0")]).await;
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(receiver.requests().len(), 1, "the redirect target was not requested");
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"][0]["responseStatus"], 302);
    assert_eq!(dlq["messages"][0]["responseHeader"]["Location"][0], "/elsewhere");
    app.stop().await;
}

async fn an_attempt_that_exceeds_its_timeout_fails(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::SlowOk(Duration::from_secs(3))).await;
    let app = spawn_app(backend, Options::stepped()).await;
    app.publish_ok(
        &receiver.url,
        "x",
        &[("Upstash-Retries", "0"), ("Upstash-Timeout", "200ms")],
    )
    .await;
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"][0]["responseStatus"], 0);
    assert!(dlq["messages"][0]["error"].as_str().unwrap().contains("timed out"));
    assert_eq!(dlq["messages"][0]["timeout"], 200);
    app.stop().await;
}

async fn a_retry_delay_expression_sets_each_retry(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(503)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let headers = [
        ("Upstash-Retries", "2"),
        ("Upstash-Retry-Delay", "1000 * (1 + retried)"),
    ];
    let id = app.publish_ok(&receiver.url, "x", &headers).await;
    assert_eq!(app.message(&id).await["retryDelayExpression"], "1000 * (1 + retried)");
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(
        app.message(&id).await["nextDeliveryTime"],
        T0 + 1_000,
        "retried = 0 before the first retry"
    );
    app.clock.advance_ms(1_000);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(
        app.message(&id).await["nextDeliveryTime"],
        T0 + 3_000,
        "retried = 1 before the second"
    );
    app.clock.advance_ms(2_000);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(app.message(&id).await["state"], "FAILED");
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"][0]["retryDelayExpression"], "1000 * (1 + retried)");
    app.stop().await;
}
