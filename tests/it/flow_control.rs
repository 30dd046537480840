//! Flow control (spec §8): per key, never more than `parallelism` in flight and never more than `rate`
//! started per `period`; excess messages wait. Keys can be read, paused, pinned and reset.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, T0};

backend_tests!(
    parallelism_caps_the_deliveries_in_flight,
    rate_caps_the_deliveries_started_per_period,
    keys_are_read_paused_pinned_unpinned_and_reset,
);

async fn publish(app: &TestApp, url: &str, value: &str) -> String {
    app.publish_ok(
        url,
        "x",
        &[
            ("Upstash-Flow-Control-Key", "partner-api"),
            ("Upstash-Flow-Control-Value", value),
        ],
    )
    .await
}

async fn parallelism_caps_the_deliveries_in_flight(backend: Backend) {
    // A slow destination: each request is held 150 ms, so requests that arrive within 150 ms of each other
    // were in flight together.
    let receiver = Receiver::answering(|_| Reply::SlowOk(Duration::from_millis(150))).await;
    let app = spawn_app(backend, Options::default()).await;
    let mut ids = Vec::new();
    for _ in 0..9 {
        ids.push(publish(&app, &receiver.url, "parallelism=3").await);
    }
    for id in &ids {
        app.wait_for_state(id, "DELIVERED").await;
    }
    let arrivals: Vec<i64> = receiver.requests().iter().map(|r| r.at_ms).collect();
    assert_eq!(arrivals.len(), 9);
    let most = arrivals
        .iter()
        .map(|t| arrivals.iter().filter(|u| (t - 150 < **u) && (**u <= *t)).count())
        .max();
    assert_eq!(
        most,
        Some(3),
        "never more than 3 at once, and the limit is used: {arrivals:?}"
    );
    app.stop().await;
}

async fn rate_caps_the_deliveries_started_per_period(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for _ in 0..5 {
        publish(&app, &receiver.url, "rate=2, period=10s").await;
    }
    assert_eq!(app.run_until_idle().await, 2, "two in the first period");
    app.clock.advance_ms(9_999);
    assert_eq!(app.run_until_idle().await, 0);
    app.clock.advance_ms(1);
    assert_eq!(app.run_until_idle().await, 2, "two more in the next");
    app.clock.advance_ms(10_000);
    assert_eq!(app.run_until_idle().await, 1);
    let (_, info) = app.get_json("/v2/flowControl/partner-api").await;
    assert_eq!(
        (
            info["rateMax"].as_i64(),
            info["ratePeriod"].as_i64(),
            info["waitListSize"].as_i64()
        ),
        (Some(2), Some(10), Some(0))
    );
    app.stop().await;
}

async fn keys_are_read_paused_pinned_unpinned_and_reset(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    publish(&app, &receiver.url, "parallelism=2, rate=5, period=1m").await;
    let (status, info) = app.get_json("/v2/flowControl/partner-api").await;
    assert_eq!(status, 200);
    assert_eq!(
        info,
        json!({"flowControlKey": "partner-api", "waitListSize": 1, "parallelismMax": 2, "parallelismCount": 0,
               "rateMax": 5, "rateCount": 0, "ratePeriod": 60, "ratePeriodStart": T0 / 1000, "isPaused": false,
               "isPinnedParallelism": false, "isPinnedRate": false})
    );

    let post = |path: &str| app.request(Method::POST, &format!("/v2/flowControl/partner-api/{path}"));
    assert_eq!(app.send_json(post("pause")).await.0, 200);
    assert_eq!(app.run_until_idle().await, 0, "a paused key delivers nothing");
    assert_eq!(app.send_json(post("resume")).await.0, 200);
    assert_eq!(app.run_until_idle().await, 1);

    assert_eq!(app.send_json(post("pin?parallelism=3&rate=20&period=120")).await.0, 200);
    publish(&app, &receiver.url, "parallelism=1, rate=1").await;
    let (_, info) = app.get_json("/v2/flowControl/partner-api").await;
    assert_eq!(
        (
            info["parallelismMax"].as_i64(),
            info["rateMax"].as_i64(),
            info["ratePeriod"].as_i64()
        ),
        (Some(3), Some(20), Some(120)),
        "pinned limits ignore later messages"
    );
    assert_eq!(
        (info["isPinnedParallelism"].as_bool(), info["isPinnedRate"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(app.send_json(post("unpin?parallelism=true&rate=false")).await.0, 200);
    publish(&app, &receiver.url, "parallelism=1, rate=1").await;
    let (_, info) = app.get_json("/v2/flowControl/partner-api").await;
    assert_eq!(
        (info["parallelismMax"].as_i64(), info["rateMax"].as_i64()),
        (Some(1), Some(20))
    );

    assert_eq!(app.run_until_idle().await, 2);
    assert_eq!(app.get_json("/v2/flowControl/partner-api").await.1["rateCount"], 2);
    assert_eq!(app.send_json(post("resetRate")).await.0, 200);
    assert_eq!(app.get_json("/v2/flowControl/partner-api").await.1["rateCount"], 0);

    let (_, global) = app.get_json("/v2/globalParallelism").await;
    assert_eq!(global["parallelismCount"], 0);
    assert!(global["parallelismMax"].as_i64().unwrap() > 0);
    let (_, list) = app.get_json("/v2/flowControl?search=partner").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(app.get_json("/v2/flowControl/unknown").await.0, 404);
    assert_eq!(
        app.send_json(app.request(Method::POST, "/v2/flowControl/unknown/pause"))
            .await
            .0,
        404
    );
    assert_eq!(app.send_json(post("pin?parallelism=0")).await.0, 400);
    assert_eq!(app.send_json(post("pin?period=9999999")).await.0, 400);
    assert_eq!(app.send_json(post("unpin?rate=maybe")).await.0, 400);
    let (status, body) = app
        .send_json(
            app.publish(&receiver.url)
                .header("Upstash-Flow-Control-Key", "k")
                .header("Upstash-Flow-Control-Value", "rate=fast"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}
