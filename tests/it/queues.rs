//! Queues (spec §3.2, §7): FIFO with a parallelism; the next message waits for the previous one's retries and
//! callbacks; paused queues accept and hold.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, T0};

backend_tests!(
    queues_are_upserted_listed_paused_resumed_and_deleted,
    a_queue_with_parallelism_one_waits_for_retries_and_callbacks,
    parallelism_lets_that_many_run_at_once_and_a_paused_queue_holds,
    schedules_and_batches_enqueue,
    run_now_on_a_message_waiting_in_a_queue_is_a_400_that_changes_nothing,
);

async fn enqueue(app: &TestApp, queue: &str, url: &str, headers: &[(&str, &str)]) -> String {
    let mut request = app
        .request(Method::POST, &format!("/v2/enqueue/{queue}/{url}"))
        .body("x");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let (status, body) = app.send_json(request).await;
    assert_eq!(status, 201, "{body}");
    body["messageId"].as_str().unwrap().to_string()
}

async fn upsert(app: &TestApp, body: serde_json::Value) -> u16 {
    app.send_json(app.request(Method::POST, "/v2/queues").json(&body))
        .await
        .0
}

async fn queues_are_upserted_listed_paused_resumed_and_deleted(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    assert_eq!(
        upsert(&app, json!({"queueName": "orders", "parallelism": 2, "paused": false})).await,
        200
    );
    let (status, queue) = app.get_json("/v2/queues/orders").await;
    assert_eq!(status, 200);
    assert_eq!(
        queue,
        json!({"name": "orders", "parallelism": 2, "createdAt": T0, "updatedAt": T0, "lag": 0, "paused": false})
    );
    enqueue(&app, "auto", "https://example.com/x", &[("Upstash-Delay", "1h")]).await;
    let (_, auto) = app.get_json("/v2/queues/auto").await;
    assert_eq!(
        (auto["parallelism"].as_i64(), auto["lag"].as_i64()),
        (Some(1), Some(1)),
        "enqueue creates the queue"
    );
    let (_, list) = app.get_json("/v2/queues").await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    for _ in 0..2 {
        assert_eq!(
            app.send_json(app.request(Method::POST, "/v2/queues/orders/pause"))
                .await
                .0,
            200
        );
    }
    assert_eq!(app.get_json("/v2/queues/orders").await.1["paused"], true);
    assert_eq!(
        app.send_json(app.request(Method::POST, "/v2/queues/orders/resume"))
            .await
            .0,
        200
    );
    assert_eq!(app.get_json("/v2/queues/orders").await.1["paused"], false);
    assert_eq!(
        upsert(&app, json!({"queueName": "orders", "parallelism": 1, "paused": true})).await,
        200
    );
    assert_eq!(
        app.get_json("/v2/queues/orders").await.1["paused"],
        true,
        "an upsert sets the paused state too"
    );

    for _ in 0..2 {
        assert_eq!(
            app.send_json(app.request(Method::DELETE, "/v2/queues/auto")).await.0,
            200,
            "idempotent"
        );
    }
    assert_eq!(app.get_json("/v2/queues/auto").await.0, 404);
    let (_, cancelled) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(
        cancelled,
        json!({"cancelled": 0}),
        "the deleted queue's waiting message was canceled"
    );

    assert_eq!(
        upsert(&app, json!({"queueName": "bad name", "parallelism": 1})).await,
        400
    );
    assert_eq!(upsert(&app, json!({"queueName": "q", "parallelism": 0})).await, 400);
    assert_eq!(upsert(&app, json!({"parallelism": 1})).await, 400);
    assert_eq!(
        app.send_json(app.request(Method::POST, "/v2/queues/missing/pause"))
            .await
            .0,
        404
    );
    app.stop().await;
}

async fn a_queue_with_parallelism_one_waits_for_retries_and_callbacks(backend: Backend) {
    let first_attempt = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = first_attempt.clone();
    let receiver = Receiver::answering(move |r| {
        let fail = r.target == "/1" && flag.swap(false, std::sync::atomic::Ordering::SeqCst);
        Reply::Status(if fail { 500 } else { 200 })
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let cb = format!("{}/cb", receiver.url);
    enqueue(
        &app,
        "fifo",
        &format!("{}/1", receiver.url),
        &[("Upstash-Retries", "1"), ("Upstash-Callback", &cb)],
    )
    .await;
    enqueue(&app, "fifo", &format!("{}/2", receiver.url), &[]).await;
    enqueue(&app, "fifo", &format!("{}/3", receiver.url), &[]).await;

    app.run_until_idle().await;
    let targets = |receiver: &Receiver| receiver.requests().iter().map(|r| r.target.clone()).collect::<Vec<_>>();
    assert_eq!(
        targets(&receiver),
        ["/1", "/cb"],
        "2 waits while 1 is retrying; 1's callback goes first"
    );
    assert_eq!(app.get_json("/v2/queues/fifo").await.1["lag"], 3);

    app.clock.advance_ms(86_400_000);
    app.run_until_idle().await;
    assert_eq!(
        targets(&receiver),
        ["/1", "/cb", "/1", "/cb", "/2", "/3"],
        "in order, each after the last"
    );
    assert_eq!(app.get_json("/v2/queues/fifo").await.1["lag"], 0);
    app.stop().await;
}

async fn parallelism_lets_that_many_run_at_once_and_a_paused_queue_holds(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    upsert(&app, json!({"queueName": "wide", "parallelism": 2, "paused": true})).await;
    for i in 0..3 {
        enqueue(&app, "wide", &format!("{}/{i}", receiver.url), &[]).await;
    }
    assert_eq!(app.run_until_idle().await, 0, "a paused queue accepts and holds");
    app.send_json(app.request(Method::POST, "/v2/queues/wide/resume")).await;
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 2, "two at once");
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1, "then the third");
    app.stop().await;
}

async fn schedules_and_batches_enqueue(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let (status, created) = app
        .send_json(
            app.request(Method::POST, &format!("/v2/schedules/{}", receiver.url))
                .header("Upstash-Cron", "0 * * * *")
                .header("Upstash-Queue-Name", "reports"),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let (_, schedule) = app
        .get_json(&format!("/v2/schedules/{}", created["scheduleId"].as_str().unwrap()))
        .await;
    assert_eq!(schedule["queueName"], "reports");
    app.clock.set_ms(T0 + 3_600_000);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    let items = json!([{"destination": receiver.url, "queue": "batched"}]);
    let (_, answer) = app.send_json(app.request(Method::POST, "/v2/batch").json(&items)).await;
    let batched = app.message(answer[0]["messageId"].as_str().unwrap()).await;
    assert_eq!(batched["queueName"], "batched");
    assert_eq!(app.run_until_idle().await, 2);
    let (_, reports) = app.get_json("/v2/queues/reports").await;
    assert_eq!(reports["lag"], 0);
    app.stop().await;
}

async fn run_now_on_a_message_waiting_in_a_queue_is_a_400_that_changes_nothing(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let queued = enqueue(&app, "fifo", "https://example.com/q", &[("Upstash-Delay", "1h")]).await;
    let (_, before) = app.get_json(&format!("/v2/messages/{queued}")).await;
    let (status, body) = app
        .send_json(app.request(Method::POST, &format!("/v2/messages/{queued}/retry")))
        .await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("FIFO queue \"fifo\""), "{error}");
    let (_, after) = app.get_json(&format!("/v2/messages/{queued}")).await;
    assert_eq!(after, before, "the refused run-now changed nothing");
    assert_eq!(after["notBefore"].as_i64(), Some(T0 + 3_600_000));

    // A message outside any queue still runs now.
    let (_, published) = app
        .send_json(
            app.request(Method::POST, "/v2/publish/https://example.com/free")
                .header("Upstash-Delay", "1h")
                .body("x"),
        )
        .await;
    let free = published["messageId"].as_str().unwrap();
    let (status, body) = app
        .send_json(app.request(Method::POST, &format!("/v2/messages/{free}/retry")))
        .await;
    assert_eq!((status, body["nextDeliveryTime"].as_i64()), (200, Some(T0)));
    app.stop().await;
}
