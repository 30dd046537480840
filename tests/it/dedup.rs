//! Deduplication (spec §3.4): within the window, a repeated id or content answers 202 with the original
//! message and stores nothing.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::{spawn_app, Backend, Options, TestApp};

backend_tests!(
    a_repeated_deduplication_id_answers_with_the_original_message_within_the_window,
    content_based_deduplication_compares_destination_body_and_forwarded_headers,
    a_deduplicated_group_publish_flags_every_element,
);

async fn publish(app: &TestApp, destination: &str, body: &str, headers: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let mut request = app.publish(destination).body(body.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    app.send_json(request).await
}

async fn a_repeated_deduplication_id_answers_with_the_original_message_within_the_window(backend: Backend) {
    let receiver = Receiver::start().await;
    let window = Options::stepped().with(|c| c.dedup_window = Duration::from_secs(60));
    let app = spawn_app(backend, window).await;
    let dedup = [("Upstash-Deduplication-Id", "order-7-confirmation")];
    let (status, first) = publish(&app, &receiver.url, "a", &dedup).await;
    assert_eq!(status, 201);
    assert!(first.get("deduplicated").is_none());
    let (status, again) = publish(&app, &receiver.url, "b", &dedup).await;
    assert_eq!(status, 202);
    assert_eq!(
        again,
        json!({"messageId": first["messageId"], "url": receiver.url, "deduplicated": true})
    );
    assert_eq!(app.run_until_idle().await, 1, "the duplicate stored nothing");

    app.clock.advance_ms(59_999);
    assert_eq!(publish(&app, &receiver.url, "c", &dedup).await.0, 202);
    app.clock.advance_ms(1);
    let (status, after) = publish(&app, &receiver.url, "d", &dedup).await;
    assert_eq!(status, 201, "the window has passed");
    assert_ne!(after["messageId"], first["messageId"]);
    app.clock.advance_ms(60_000);
    assert_eq!(
        app.maintenance.clean_once().await.unwrap(),
        1,
        "expired keys are cleaned up"
    );
    app.stop().await;
}

async fn content_based_deduplication_compares_destination_body_and_forwarded_headers(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let on = ("Upstash-Content-Based-Deduplication", "True");
    let url = "https://example.com/hook";
    assert_eq!(publish(&app, url, "same", &[on]).await.0, 201);
    assert_eq!(
        publish(&app, url, "same", &[on, ("Upstash-Telemetry-Sdk", "js")])
            .await
            .0,
        202
    );
    assert_eq!(publish(&app, url, "other", &[on]).await.0, 201);
    assert_eq!(publish(&app, "https://example.com/other", "same", &[on]).await.0, 201);
    assert_eq!(
        publish(&app, url, "same", &[on, ("Upstash-Forward-X", "1")]).await.0,
        201
    );
    assert_eq!(publish(&app, url, "same", &[]).await.0, 201, "off unless asked for");
    let (_, cancelled) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(cancelled, json!({"cancelled": 5}));
    app.stop().await;
}

async fn a_deduplicated_group_publish_flags_every_element(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let endpoints = json!({"endpoints": [{"url": "https://a.test/"}, {"url": "https://b.test/"}]});
    app.send_json(app.request(Method::POST, "/v2/topics/g/endpoints").json(&endpoints))
        .await;
    let dedup = [("Upstash-Deduplication-Id", "fan-1")];
    let (status, first) = publish(&app, "g", "x", &dedup).await;
    assert_eq!(status, 201);
    let (status, again) = publish(&app, "g", "x", &dedup).await;
    assert_eq!(status, 202);
    let again = again.as_array().unwrap();
    assert_eq!(again.len(), 2);
    for (original, duplicate) in first.as_array().unwrap().iter().zip(again) {
        assert_eq!(duplicate["messageId"], original["messageId"]);
        assert_eq!(duplicate["url"], original["url"]);
        assert_eq!(duplicate["deduplicated"], true);
    }
    app.stop().await;
}
