//! Logs, "events" on the wire (spec §10): one entry per transition, filters and cursor paging.

use reqwest::Method;
use serde_json::Value;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, T0};

backend_tests!(
    every_transition_of_a_message_is_logged_once,
    failures_and_cancels_are_logged_and_states_filter,
    logs_page_with_a_cursor_and_filters,
);

fn states(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap().to_string())
        .collect()
}

async fn events(app: &TestApp, query: &str) -> Value {
    let (status, page) = app.get_json(&format!("/v2/events?{query}")).await;
    assert_eq!(status, 200, "{page}");
    page
}

async fn every_transition_of_a_message_is_logged_once(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(
            &receiver.url,
            "x",
            &[("Upstash-Retries", "1"), ("Upstash-Label", "billing")],
        )
        .await;
    app.dispatcher.run_once().await.unwrap();
    receiver.answer(|_| Reply::Status(200));
    app.clock.advance_ms(86_400_000);
    app.dispatcher.run_once().await.unwrap();

    let page = events(&app, &format!("messageId={id}")).await;
    assert_eq!(
        states(&page),
        ["DELIVERED", "ACTIVE", "RETRY", "ERROR", "ACTIVE", "CREATED"],
        "newest first"
    );
    let entries = page["events"].as_array().unwrap();
    let error = &entries[3];
    assert_eq!(error["responseStatus"], 500);
    assert_eq!(
        entries[2]["nextDeliveryTime"],
        T0 + postdate::domain::retry::default_backoff_ms(1)
    );
    assert_eq!(entries[5]["time"], T0);
    assert_eq!(entries[0]["url"], receiver.url);
    assert_eq!(entries[0]["body"], "eA==", "bodies are base64 in logs");
    assert_eq!(entries[0]["labels"][0], "billing");
    let delivered = events(&app, &format!("messageId={id}&state=DELIVERED")).await;
    assert_eq!(states(&delivered), ["DELIVERED"], "exactly one DELIVERED entry");
    assert!(page.get("cursor").is_none());
    app.stop().await;
}

async fn failures_and_cancels_are_logged_and_states_filter(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(503)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let failed = app.publish_ok(&receiver.url, "x", &[("Upstash-Retries", "0")]).await;
    let canceled = app.publish_ok(&receiver.url, "y", &[("Upstash-Delay", "1h")]).await;
    app.run_until_idle().await;
    app.send_json(app.request(Method::DELETE, &format!("/v2/messages/{canceled}")))
        .await;

    assert_eq!(
        states(&events(&app, &format!("messageId={failed}")).await),
        ["FAILED", "ERROR", "ACTIVE", "CREATED"]
    );
    assert_eq!(
        states(&events(&app, &format!("messageId={canceled}")).await),
        ["CANCELED", "CREATED"]
    );
    let in_progress = events(&app, "state=IN_PROGRESS").await;
    assert_eq!(states(&in_progress), ["ERROR", "ACTIVE"]);
    assert_eq!(
        states(&events(&app, "state=CANCELLED").await),
        ["CANCELED"],
        "the docs' spelling filters too"
    );
    let both = events(
        &app,
        &format!("messageIds={failed}&messageIds={canceled}&state=CREATED"),
    )
    .await;
    assert_eq!(both["events"].as_array().unwrap().len(), 2);
    let (status, _) = app.get_json("/v2/events?state=LOST").await;
    assert_eq!(status, 400);
    app.stop().await;
}

async fn logs_page_with_a_cursor_and_filters(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let label = if i % 2 == 0 { "even" } else { "odd" };
        ids.push(
            app.publish_ok(
                "https://example.com/x",
                "x",
                &[("Upstash-Delay", "1h"), ("Upstash-Label", label)],
            )
            .await,
        );
        app.clock.advance_ms(1_000);
    }
    let first = events(&app, "count=2").await;
    assert_eq!(first["events"][0]["messageId"], ids[4].as_str());
    let cursor = first["cursor"].as_str().unwrap();
    let second = events(&app, &format!("count=2&cursor={cursor}")).await;
    assert_eq!(second["events"][0]["messageId"], ids[2].as_str());
    let cursor = second["cursor"].as_str().unwrap();
    let last = events(&app, &format!("count=2&cursor={cursor}")).await;
    assert_eq!(last["events"].as_array().unwrap().len(), 1);
    assert!(last.get("cursor").is_none(), "no cursor key on the last page");

    let earliest = events(&app, "order=earliestFirst&count=1").await;
    assert_eq!(earliest["events"][0]["messageId"], ids[0].as_str());
    assert_eq!(events(&app, "label=odd").await["events"].as_array().unwrap().len(), 2);
    let window = events(&app, &format!("fromDate={}&toDate={}", T0 + 1_000, T0 + 2_000)).await;
    assert_eq!(window["events"].as_array().unwrap().len(), 2);
    let (_, logs) = app.get_json("/v2/logs?count=1").await;
    assert_eq!(
        logs["logs"], logs["events"],
        "the /v2/logs alias answers under both keys"
    );
    for bad in ["cursor=abc", "count=1001", "colour=red"] {
        let (status, _) = app.get_json(&format!("/v2/events?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
    app.stop().await;
}
