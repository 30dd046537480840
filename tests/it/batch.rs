//! `POST /v2/batch` (spec §3.3): URLs and URL groups mixed, validated as a whole before anything is stored.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::{spawn_app, Backend, Options, T0};

backend_tests!(
    a_mixed_batch_is_answered_in_order_and_delivered,
    one_bad_item_refuses_the_whole_batch_and_stores_nothing,
);

async fn a_mixed_batch_is_answered_in_order_and_delivered(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let group =
        json!({"endpoints": [{"url": format!("{}/g1", receiver.url)}, {"url": format!("{}/g2", receiver.url)}]});
    app.send_json(app.request(Method::POST, "/v2/topics/grp/endpoints").json(&group))
        .await;
    let (_, original) = app
        .send_json(
            app.publish(&format!("{}/once", receiver.url))
                .header("Upstash-Deduplication-Id", "d1")
                .body("first"),
        )
        .await;

    let items = json!([
        {"destination": format!("{}/a?x=1", receiver.url), "body": "to a",
         "headers": {"upstash-delay": "5m", "upstash-retries": "1", "upstash-forward-x-h": "v",
                     "upstash-telemetry-sdk": "upstash-qstash-js@2.12.0", "content-type": "text/plain"}},
        {"destination": "grp", "headers": {"Content-Type": "application/json"}, "body": "{\"n\":1}", "queue": null},
        {"destination": format!("{}/once", receiver.url), "headers": {"Upstash-Deduplication-Id": "d1"}, "body": null},
        {"destination": format!("{}/b", receiver.url)},
    ]);
    let (status, answer) = app.send_json(app.request(Method::POST, "/v2/batch").json(&items)).await;
    assert_eq!(status, 201, "{answer}");
    let answer = answer.as_array().unwrap();
    assert_eq!(answer.len(), 4);
    assert_eq!(answer[0]["url"], format!("{}/a?x=1", receiver.url));
    assert_eq!(
        answer[1].as_array().expect("a group item answers with an array").len(),
        2
    );
    assert_eq!(
        answer[2],
        json!({"messageId": original["messageId"], "url": format!("{}/once", receiver.url), "deduplicated": true})
    );
    assert!(answer[3]["messageId"].is_string());

    let delayed = app.message(answer[0]["messageId"].as_str().unwrap()).await;
    assert_eq!(
        (delayed["notBefore"].as_i64(), delayed["maxRetries"].as_i64()),
        (Some(T0 + 300_000), Some(1))
    );
    assert_eq!(
        app.run_until_idle().await,
        4,
        "the first publish, the two group endpoints and b"
    );
    app.clock.advance_ms(300_000);
    assert_eq!(app.run_until_idle().await, 1);
    let a = receiver.requests().into_iter().find(|r| r.target == "/a?x=1").unwrap();
    assert_eq!(
        (a.body.as_ref(), a.header("x-h"), a.header("content-type")),
        (&b"to a"[..], Some("v"), Some("text/plain"))
    );
    let g1 = receiver.requests().into_iter().find(|r| r.target == "/g1").unwrap();
    assert_eq!(g1.header("upstash-topic-name"), Some("grp"));
    app.stop().await;
}

async fn one_bad_item_refuses_the_whole_batch_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let ok = json!({"destination": "https://example.com/ok", "body": "x"});
    let cases = [
        (
            json!([ok, {"destination": "https://example.com/x", "headers": {"Upstash-Delay": "soon"}}]),
            400,
            "batch item 1",
        ),
        (json!([ok, {"destination": "ftp://example.com/x"}]), 400, "batch item 1"),
        (json!([{"destination": "missing-group"}, ok]), 404, "batch item 0"),
        (json!([ok, {"body": "no destination"}]), 400, "invalid JSON"),
        (json!({"destination": "https://example.com/x"}), 400, "array"),
        (json!([]), 400, "empty"),
        (
            json!([ok, {"destination": "https://example.com/q", "queue": "bad queue"}]),
            400,
            "queue name",
        ),
    ];
    for (body, status, mentions) in cases {
        let (got, error) = app.send_json(app.request(Method::POST, "/v2/batch").json(&body)).await;
        assert_eq!(got, status, "{body}: {error}");
        assert!(
            error["error"].as_str().unwrap().contains(mentions),
            "{error} should mention {mentions}"
        );
    }
    let (_, cancelled) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(
        cancelled,
        json!({"cancelled": 0}),
        "no item of a refused batch was stored"
    );
    app.stop().await;
}
