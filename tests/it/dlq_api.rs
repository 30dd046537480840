//! The DLQ API (spec §9): list with cursor, order and filters; get; delete; bulk delete; retry one and in
//! bulk, in the request styles of both SDKs.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp};

backend_tests!(
    the_dlq_pages_with_a_cursor_in_either_order,
    the_dlq_filters_by_url_status_label_and_date,
    dlq_entries_can_be_read_and_deleted_one_by_one,
    bulk_delete_takes_ids_in_the_query_or_a_json_body_or_pages_through_filters,
    a_retried_entry_becomes_a_new_message_and_leaves_the_dlq,
    retry_takes_overrides_and_the_path_form,
    retry_multi_retries_exactly_the_entries_its_body_names,
);

/// Dead-letters `n` messages (one attempt each, 1 s apart) and returns their message ids in order.
async fn dead_letter(app: &TestApp, receiver: &Receiver, n: usize, extra: &[(&str, &str)]) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut headers = vec![("Upstash-Retries", "0")];
        headers.extend_from_slice(extra);
        ids.push(
            app.publish_ok(&format!("{}/n{i}", receiver.url), &format!("body {i}"), &headers)
                .await,
        );
        assert_eq!(app.run_until_idle().await, 1);
        app.clock.advance_ms(1_000);
    }
    ids
}

fn ids_of(page: &Value, key: &str) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[key].as_str().unwrap().to_string())
        .collect()
}

async fn failing_receiver() -> Receiver {
    Receiver::answering(|_| Reply::Status(500)).await
}

async fn the_dlq_pages_with_a_cursor_in_either_order(backend: Backend) {
    let receiver = failing_receiver().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let ids = dead_letter(&app, &receiver, 5, &[]).await;

    let (_, page1) = app.get_json("/v2/dlq?count=2").await;
    assert_eq!(ids_of(&page1, "messageId"), ids[0..2]);
    let cursor = page1["cursor"].as_str().unwrap();
    let (_, page2) = app.get_json(&format!("/v2/dlq?count=2&cursor={cursor}")).await;
    assert_eq!(ids_of(&page2, "messageId"), ids[2..4]);
    let cursor = page2["cursor"].as_str().unwrap();
    let (_, page3) = app.get_json(&format!("/v2/dlq?count=2&cursor={cursor}")).await;
    assert_eq!(ids_of(&page3, "messageId"), ids[4..5]);
    assert!(page3.get("cursor").is_none(), "no cursor on the last page");

    let (_, latest) = app.get_json("/v2/dlq?order=latestFirst&count=3").await;
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(ids_of(&latest, "messageId"), reversed[0..3]);
    let (status, body) = app.get_json("/v2/dlq?count=101").await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}

async fn the_dlq_filters_by_url_status_label_and_date(backend: Backend) {
    let receiver = failing_receiver().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let plain = dead_letter(&app, &receiver, 2, &[]).await;
    let labelled = dead_letter(&app, &receiver, 2, &[("Upstash-Label", "billing")]).await;

    let url = format!("{}/n1", receiver.url);
    let encoded: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let (_, page) = app.get_json(&format!("/v2/dlq?url={encoded}")).await;
    assert_eq!(ids_of(&page, "messageId"), [plain[1].clone(), labelled[1].clone()]);
    let (_, page) = app.get_json("/v2/dlq?label=billing&responseStatus=500").await;
    assert_eq!(ids_of(&page, "messageId"), labelled);
    let (_, page) = app.get_json("/v2/dlq?responseStatus=404").await;
    assert!(ids_of(&page, "messageId").is_empty());
    let (_, all) = app.get_json("/v2/dlq").await;
    let third_failed_at: i64 = ids_of(&all, "dlqId")[2][..13].parse().unwrap();
    let (_, page) = app.get_json(&format!("/v2/dlq?fromDate={third_failed_at}")).await;
    assert_eq!(ids_of(&page, "messageId"), labelled);
    let (_, page) = app.get_json(&format!("/v2/dlq?messageId={}", plain[0])).await;
    assert_eq!(ids_of(&page, "messageId"), plain[0..1]);
    app.stop().await;
}

async fn dlq_entries_can_be_read_and_deleted_one_by_one(backend: Backend) {
    let receiver = failing_receiver().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let ids = dead_letter(&app, &receiver, 1, &[]).await;
    let (_, list) = app.get_json("/v2/dlq").await;
    let dlq_id = list["messages"][0]["dlqId"].as_str().unwrap().to_string();
    let (status, entry) = app.get_json(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(entry["messageId"], ids[0].as_str());
    assert_eq!(entry["dlqId"], dlq_id.as_str());
    assert_eq!(entry["body"], "body 0");

    let (status, _) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/dlq/{dlq_id}")))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/dlq/{dlq_id}")))
        .await;
    assert_eq!(status, 404, "a second delete is rejected");
    let (status, _) = app.get_json(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn bulk_delete_takes_ids_in_the_query_or_a_json_body_or_pages_through_filters(backend: Backend) {
    let receiver = failing_receiver().await;
    let app = spawn_app(backend, Options::stepped()).await;
    dead_letter(&app, &receiver, 7, &[]).await;
    let (_, all) = app.get_json("/v2/dlq").await;
    let dlq_ids = ids_of(&all, "dlqId");

    let query = format!("/v2/dlq?dlqIds={}&dlqIds={}", dlq_ids[0], dlq_ids[1]);
    let (_, body) = app.send_json(app.request(Method::DELETE, &query)).await;
    assert_eq!(body, json!({"deleted": 2}));
    let (_, body) = app
        .send_json(
            app.request(Method::DELETE, "/v2/dlq")
                .json(&json!({"dlqIds": [dlq_ids[2].clone(), "nope"]})),
        )
        .await;
    assert_eq!(body, json!({"deleted": 1}));

    // The JS loop: `do { delete({all: true, count, cursor}) } while (cursor)`.
    let mut cursor: Option<String> = None;
    let mut deleted = 0;
    let mut calls = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v2/dlq?count=3&cursor={c}"),
            None => "/v2/dlq?count=3".to_string(),
        };
        let (status, body) = app.send_json(app.request(Method::DELETE, &path)).await;
        assert_eq!(status, 200);
        deleted += body["deleted"].as_i64().unwrap();
        calls += 1;
        cursor = body["cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!((deleted, calls), (4, 2));
    let (_, all) = app.get_json("/v2/dlq").await;
    assert!(all["messages"].as_array().unwrap().is_empty());
    app.stop().await;
}

async fn a_retried_entry_becomes_a_new_message_and_leaves_the_dlq(backend: Backend) {
    let receiver = failing_receiver().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let old = dead_letter(&app, &receiver, 2, &[("Upstash-Forward-X-Trace", "t1")]).await;
    let (_, all) = app.get_json("/v2/dlq").await;
    let dlq_ids = ids_of(&all, "dlqId");

    receiver.answer(|_| Reply::Status(200));
    let query = format!("/v2/dlq/retry?dlqIds={}&dlqIds={}", dlq_ids[0], dlq_ids[1]);
    let (status, body) = app.send_json(app.request(Method::POST, &query)).await;
    assert_eq!(status, 200, "{body}");
    let new: Vec<String> = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messageId"].as_str().unwrap().into())
        .collect();
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|id| !old.contains(id)), "retries are new messages");
    let (_, all) = app.get_json("/v2/dlq").await;
    assert!(
        all["messages"].as_array().unwrap().is_empty(),
        "retried entries leave the DLQ"
    );

    assert_eq!(app.run_until_idle().await, 2);
    let redelivered: Vec<_> = receiver.requests().into_iter().skip(2).collect();
    assert_eq!(redelivered.len(), 2);
    let by_id: std::collections::HashMap<&str, _> = redelivered.iter().map(|r| (r.message_id(), r)).collect();
    for id in &new {
        let request = by_id[id.as_str()];
        assert_eq!(request.header("x-trace"), Some("t1"));
        assert_eq!(request.header("upstash-retried"), Some("0"));
    }
    let mut bodies: Vec<_> = redelivered.iter().map(|r| r.body.clone()).collect();
    bodies.sort();
    assert_eq!(bodies, ["body 0".as_bytes(), "body 1".as_bytes()]);
    assert_eq!(app.message(&new[0]).await["state"], "DELIVERED");

    let (status, body) = app.send_json(app.request(Method::POST, &query)).await;
    assert_eq!(
        (status, body),
        (200, json!({"responses": []})),
        "an entry is retried once"
    );
    app.stop().await;
}

async fn retry_takes_overrides_and_the_path_form(backend: Backend) {
    let receiver = failing_receiver().await;
    let app = spawn_app(backend, Options::stepped()).await;
    dead_letter(&app, &receiver, 2, &[]).await;
    let (_, all) = app.get_json("/v2/dlq").await;
    let dlq_ids = ids_of(&all, "dlqId");

    let (status, body) = app
        .send_json(
            app.request(Method::POST, &format!("/v2/dlq/retry/{}", dlq_ids[0]))
                .header("Upstash-Retries", "5")
                .header("Upstash-Delay", "10s"),
        )
        .await;
    assert_eq!(status, 201);
    let message = app.message(body["messageId"].as_str().unwrap()).await;
    assert_eq!(message["maxRetries"], 5);
    assert_eq!(message["notBefore"], app.clock.now_ms() + 10_000);
    let (status, _) = app
        .send_json(app.request(Method::POST, &format!("/v2/dlq/retry/{}", dlq_ids[0])))
        .await;
    assert_eq!(status, 404);

    // Filters plus count, as JS `retry({all: true})` sends them.
    let (_, body) = app
        .send_json(app.request(Method::POST, "/v2/dlq/retry?count=100"))
        .await;
    assert_eq!(body["responses"].as_array().unwrap().len(), 1);
    assert!(body.get("cursor").is_none());
    app.stop().await;
}

async fn retry_multi_retries_exactly_the_entries_its_body_names(backend: Backend) {
    let receiver = failing_receiver().await;
    let app = spawn_app(backend, Options::stepped()).await;
    dead_letter(&app, &receiver, 3, &[]).await;
    let (_, all) = app.get_json("/v2/dlq").await;
    let dlq_ids = ids_of(&all, "dlqId");

    let multi = |body: serde_json::Value| app.request(Method::POST, "/v2/dlq/retry/multi").json(&body);
    let (status, body) = app.send_json(multi(json!({"dlqIds": []}))).await;
    assert_eq!(
        (status, body),
        (200, json!({"responses": []})),
        "an empty list selects nothing"
    );
    let (status, body) = app.send_json(multi(json!({"dlqIds": [dlq_ids[0], dlq_ids[2]]}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responses"].as_array().unwrap().len(), 2);
    let (_, left) = app.get_json("/v2/dlq").await;
    assert_eq!(
        ids_of(&left, "dlqId"),
        [dlq_ids[1].clone()],
        "only the named entries left the DLQ"
    );
    let (status, _) = app.send_json(multi(json!({"dlqIds": "not a list"}))).await;
    assert_eq!(status, 400);
    assert_eq!(
        ids_of(&app.get_json("/v2/dlq").await.1, "dlqId").len(),
        1,
        "a bad body changed nothing"
    );
    app.stop().await;
}
