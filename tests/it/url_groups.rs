//! URL groups (spec §6): endpoints are managed per group, and publishing or scheduling to a group fans out
//! one message per endpoint, each delivered and retried on its own.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, T0};

backend_tests!(
    endpoints_are_added_renamed_and_removed_and_an_emptied_group_is_deleted,
    publishing_to_a_group_fans_out_one_message_per_endpoint,
    a_schedule_to_a_group_fans_out_at_each_slot,
    bad_group_requests_are_refused,
);

async fn endpoints(app: &TestApp, method: Method, group: &str, body: Value) -> (u16, Value) {
    app.send_json(
        app.request(method, &format!("/v2/topics/{group}/endpoints"))
            .json(&body),
    )
    .await
}

async fn endpoints_are_added_renamed_and_removed_and_an_emptied_group_is_deleted(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let add = json!({"endpoints": [{"url": "https://a.test/hook", "name": "ea"}, {"url": "https://b.test/hook"}]});
    assert_eq!(endpoints(&app, Method::POST, "orders", add).await.0, 200);
    let (status, group) = app.get_json("/v2/topics/orders").await;
    assert_eq!(status, 200);
    assert_eq!(
        group,
        json!({"name": "orders", "createdAt": T0, "updatedAt": T0, "endpoints": [
            {"url": "https://a.test/hook", "name": "ea"}, {"url": "https://b.test/hook"}]})
    );

    app.clock.advance_ms(1_000);
    let more =
        json!({"endpoints": [{"url": "https://a.test/hook", "name": "renamed"}, {"url": "https://c.test/hook"}]});
    assert_eq!(endpoints(&app, Method::POST, "orders", more).await.0, 200);
    let (_, group) = app.get_json("/v2/topics/orders").await;
    assert_eq!(group["updatedAt"], T0 + 1_000);
    assert_eq!(group["endpoints"].as_array().unwrap().len(), 3);
    assert_eq!(
        group["endpoints"][0],
        json!({"url": "https://a.test/hook", "name": "renamed"})
    );
    let (_, list) = app.get_json("/v2/topics").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let remove = json!({"endpoints": [{"name": "renamed"}, {"url": "https://b.test/hook"}]});
    assert_eq!(endpoints(&app, Method::DELETE, "orders", remove).await.0, 200);
    let (_, group) = app.get_json("/v2/topics/orders").await;
    assert_eq!(group["endpoints"], json!([{"url": "https://c.test/hook"}]));
    let last = json!({"endpoints": [{"url": "https://c.test/hook"}]});
    assert_eq!(endpoints(&app, Method::DELETE, "orders", last).await.0, 200);
    let (status, _) = app.get_json("/v2/topics/orders").await;
    assert_eq!(status, 404, "a group without endpoints is deleted");

    endpoints(
        &app,
        Method::POST,
        "gone",
        json!({"endpoints": [{"url": "https://a.test/"}]}),
    )
    .await;
    for _ in 0..2 {
        let (status, _) = app.send_json(app.request(Method::DELETE, "/v2/topics/gone")).await;
        assert_eq!(status, 200, "deleting is idempotent");
    }
    let (_, list) = app.get_json("/v2/topics").await;
    assert_eq!(list, json!([]));
    app.stop().await;
}

async fn publishing_to_a_group_fans_out_one_message_per_endpoint(backend: Backend) {
    let receiver = Receiver::answering(|r| Reply::Status(if r.target == "/b" { 500 } else { 200 })).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let body = json!({"endpoints": [{"url": format!("{}/a", receiver.url), "name": "ship"}, {"url": format!("{}/b", receiver.url)}]});
    endpoints(&app, Method::POST, "orders", body).await;

    let (status, published) = app
        .send_json(
            app.publish("orders")
                .header("Upstash-Retries", "1")
                .header("Content-Type", "text/plain")
                .body("order 7"),
        )
        .await;
    assert_eq!(status, 201, "{published}");
    let published = published
        .as_array()
        .expect("a bare array, one element per endpoint")
        .clone();
    assert_eq!(published.len(), 2);
    assert_eq!(published[0]["url"], format!("{}/a", receiver.url));
    assert_ne!(published[0]["messageId"], published[1]["messageId"]);

    assert_eq!(app.dispatcher.run_once().await.unwrap(), 2);
    let requests = receiver.requests();
    assert!(requests
        .iter()
        .all(|r| r.header("upstash-topic-name") == Some("orders") && r.body == "order 7".as_bytes()));
    let id_a = published[0]["messageId"].as_str().unwrap();
    let id_b = published[1]["messageId"].as_str().unwrap();
    let a = app.message(id_a).await;
    assert_eq!(
        (a["topicName"].as_str(), a["endpointName"].as_str(), a["state"].as_str()),
        (Some("orders"), Some("ship"), Some("DELIVERED"))
    );
    assert_eq!(
        app.message(id_b).await["state"],
        "RETRY",
        "each endpoint retries on its own"
    );

    app.clock.advance_ms(86_400_000);
    assert_eq!(app.run_until_idle().await, 1);
    let (_, dlq) = app.get_json("/v2/dlq?topicName=orders").await;
    assert_eq!(dlq["messages"].as_array().unwrap().len(), 1);
    assert_eq!(dlq["messages"][0]["messageId"], id_b);
    assert_eq!(dlq["messages"][0]["topicName"], "orders");
    app.stop().await;
}

async fn a_schedule_to_a_group_fans_out_at_each_slot(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let body = json!({"endpoints": [{"url": format!("{}/x", receiver.url)}, {"url": format!("{}/y", receiver.url)}]});
    endpoints(&app, Method::POST, "reports", body).await;
    let (status, created) = app
        .send_json(
            app.request(Method::POST, "/v2/schedules/reports")
                .header("Upstash-Cron", "0 * * * *"),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    app.clock.set_ms(T0 + 3_600_000);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    assert_eq!(app.run_until_idle().await, 2);
    let mut targets: Vec<String> = receiver.requests().iter().map(|r| r.target.clone()).collect();
    targets.sort();
    assert_eq!(targets, ["/x", "/y"]);
    let id = created["scheduleId"].as_str().unwrap();
    let (_, schedule) = app.get_json(&format!("/v2/schedules/{id}")).await;
    assert_eq!(schedule["destination"], "reports");
    assert_eq!(schedule["lastScheduleStates"].as_object().unwrap().len(), 2);
    app.stop().await;
}

async fn bad_group_requests_are_refused(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let cases = [
        ("bad name!", json!({"endpoints": [{"url": "https://a.test/"}]}), 400),
        ("g", json!({"endpoints": [{"url": "ftp://a.test/"}]}), 400),
        ("g", json!({"endpoints": [{"name": "no-url"}]}), 400),
        ("g", json!({"endpoints": []}), 400),
        ("g", json!({"nope": []}), 400),
    ];
    for (group, body, status) in cases {
        let (got, error) = endpoints(&app, Method::POST, &urlencode(group), body).await;
        assert_eq!(got, status, "{error}");
        assert!(error["error"].is_string());
    }
    let (status, _) = endpoints(
        &app,
        Method::DELETE,
        "missing",
        json!({"endpoints": [{"url": "https://a.test/"}]}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = endpoints(&app, Method::DELETE, "g", json!({"endpoints": [{}]})).await;
    assert_eq!(status, 400);
    let (status, body) = app.send_json(app.publish("missing").body("x")).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app
        .send_json(
            app.request(Method::POST, "/v2/schedules/missing")
                .header("Upstash-Cron", "* * * * *"),
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = app.get_json("/v2/topics").await;
    assert_eq!(list, json!([]), "nothing was created");
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
