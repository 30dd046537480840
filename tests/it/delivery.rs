//! Publish → delivery: on time, byte for byte, with the headers of spec §12.1.

use std::time::Duration;

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::{spawn_app, Backend, Options, T0};

backend_tests!(
    a_published_message_arrives_at_once_with_its_body_and_forwarded_headers,
    a_binary_body_arrives_unchanged,
    the_delay_is_honoured_to_the_millisecond,
    not_before_is_honoured_and_overrides_the_delay,
    a_delayed_message_is_woken_by_the_timer_and_not_delivered_early,
    concurrent_publishes_are_each_stored_before_their_answer_and_delivered_once,
    a_message_due_between_a_claim_and_the_next_look_is_not_left_for_the_poll,
);

async fn a_published_message_arrives_at_once_with_its_body_and_forwarded_headers(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::default()).await;
    let body = "{\"job\":\"rebuild\",\"name\":\"Zoë 🚀\"}";
    let id = app
        .publish_ok(
            &format!("{}/hook//deep?x=1&y=a%2Fb", receiver.url),
            body,
            &[
                ("Content-Type", "application/json"),
                ("Upstash-Method", "PUT"),
                ("Upstash-Forward-X-Trace", "abc123"),
                ("Upstash-Forward-Authorization", "Bearer downstream-secret"),
                ("X-Not-Forwarded", "nope"),
                ("Upstash-Telemetry-Sdk", "upstash-qstash-js@2.12.0"),
                ("Upstash-Unknown-Option", "ignored"),
            ],
        )
        .await;

    let got = receiver.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(got.method, "PUT");
    assert_eq!(got.target, "/hook//deep?x=1&y=a%2Fb");
    assert_eq!(got.body, body.as_bytes());
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("x-trace"), Some("abc123"));
    assert_eq!(got.header("authorization"), Some("Bearer downstream-secret"));
    assert_eq!(got.header("x-not-forwarded"), None);
    assert_eq!(got.header("upstash-telemetry-sdk"), None);
    assert_eq!(got.header("user-agent"), Some("Upstash-QStash"));
    assert_eq!(got.header("upstash-message-id"), Some(id.as_str()));
    assert_eq!(got.header("upstash-retried"), Some("0"));
    assert_eq!(got.header("upstash-caller-ip"), Some("127.0.0.1"));
    assert!(got
        .header("upstash-signature")
        .is_some_and(|s| s.split('.').count() == 3));

    let message = app.wait_for_state(&id, "DELIVERED").await;
    assert_eq!(message["url"], format!("{}/hook//deep?x=1&y=a%2Fb", receiver.url));
    assert_eq!(message["body"], body);
    assert_eq!(message["header"]["X-Trace"][0], "abc123");
    app.stop().await;
}

async fn a_binary_body_arrives_unchanged(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::default()).await;
    let body: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
    let response = app
        .publish(&format!("{}/bin", receiver.url))
        .header("Content-Type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<serde_json::Value>().await.unwrap()["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    let got = receiver.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(got.body, body);
    let message = app.wait_for_state(&id, "DELIVERED").await;
    assert!(message.get("body").is_none(), "a non-UTF-8 body is shown as bodyBase64");
    assert!(message["bodyBase64"].is_string());
    app.stop().await;
}

async fn the_delay_is_honoured_to_the_millisecond(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(&receiver.url, "later", &[("Upstash-Delay", "30s")])
        .await;
    let message = app.message(&id).await;
    assert_eq!(message["notBefore"], T0 + 30_000);
    assert_eq!(message["createdAt"], T0);
    assert_eq!(message["state"], "CREATED");

    assert_eq!(app.dispatcher.run_once().await.unwrap(), 0);
    app.clock.advance_ms(29_999);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 0);
    assert!(receiver.requests().is_empty());
    app.clock.advance_ms(1);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(app.message(&id).await["state"], "DELIVERED");
    app.stop().await;
}

async fn not_before_is_honoured_and_overrides_the_delay(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let at_secs = T0 / 1000 + 3_600;
    let id = app
        .publish_ok(
            &receiver.url,
            "at a time",
            &[("Upstash-Not-Before", &at_secs.to_string()), ("Upstash-Delay", "10s")],
        )
        .await;
    assert_eq!(app.message(&id).await["notBefore"], at_secs * 1000);
    app.clock.advance_ms(10_000);
    assert_eq!(app.run_until_idle().await, 0, "the delay is overridden by not-before");
    app.clock.set_ms(at_secs * 1000 - 1);
    assert_eq!(app.run_until_idle().await, 0);
    app.clock.set_ms(at_secs * 1000);
    assert_eq!(app.run_until_idle().await, 1);
    assert_eq!(receiver.requests().len(), 1);
    app.stop().await;
}

async fn a_delayed_message_is_woken_by_the_timer_and_not_delivered_early(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::default()).await;
    let published_at = chrono::Utc::now().timestamp_millis();
    let id = app
        .publish_ok(&receiver.url, "soon", &[("Upstash-Delay", "700ms")])
        .await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await.remove(0);
    let due = app.message(&id).await["notBefore"].as_i64().unwrap();
    assert!(due >= published_at + 700);
    assert!(got.at_ms >= due, "delivered {} ms before its due time", due - got.at_ms);
    app.stop().await;
}

async fn concurrent_publishes_are_each_stored_before_their_answer_and_delivered_once(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    // Published together, they are committed in shared batches (group commit); each answer means stored.
    let urls: Vec<String> = (0..200).map(|i| format!("{}/{i}", receiver.url)).collect();
    let publishes = urls.iter().map(|url| app.publish_ok(url, "x", &[]));
    let ids: std::collections::HashSet<String> = futures_util::future::join_all(publishes).await.into_iter().collect();
    assert_eq!(ids.len(), 200);
    for id in ids.iter().take(20) {
        assert_eq!(app.message(id).await["state"], "CREATED");
    }
    assert_eq!(app.run_until_idle().await, 200);
    let delivered: std::collections::HashSet<String> =
        receiver.requests().iter().map(|r| r.message_id().to_string()).collect();
    assert_eq!(delivered, ids);
    assert_eq!(receiver.requests().len(), 200);
    app.stop().await;
}

/// The dispatcher claims at time t, then looks up the next due time to plan its sleep. A message that
/// became due in between was not claimed (not yet due at t) and is not "next after now" either (already
/// due): the plan must count it and not sleep a whole poll interval (the ~500 ms late arrivals on a busy
/// machine). The stepped clock puts the gap exactly there.
async fn a_message_due_between_a_claim_and_the_next_look_is_not_left_for_the_poll(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app.publish_ok(&receiver.url, "soon", &[("Upstash-Delay", "1s")]).await;

    let claimed_at = app.clock.now_ms();
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 0, "not due at {claimed_at}");
    assert_eq!(
        app.dispatcher.pause_after_claim(claimed_at).await,
        Duration::from_millis(500),
        "nothing due within the poll interval: the plan is one poll"
    );
    app.clock.set_ms(T0 + 1_200);
    assert_eq!(
        app.dispatcher.pause_after_claim(claimed_at).await,
        Duration::ZERO,
        "the message became due after the claim: look again at once"
    );
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    receiver.wait_for(1, Duration::from_secs(10)).await;
    app.wait_for_state(&id, "DELIVERED").await;
    app.stop().await;
}
