//! `GET /v2/messages/{id}`, cancel one, bulk cancel in every request style (spec §4), and retention.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::{spawn_app, Backend, Options, T0};

backend_tests!(
    a_message_shows_its_fields_and_state_until_retention_removes_it,
    a_canceled_message_is_never_delivered,
    bulk_cancel_accepts_ids_in_the_query_or_a_json_body,
    bulk_cancel_filters_by_label_url_and_date_and_ignores_count,
    bulk_cancel_without_filters_cancels_everything_pending,
    the_list_shows_messages_by_state_and_filter_a_page_at_a_time,
);

async fn a_message_shows_its_fields_and_state_until_retention_removes_it(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(
        backend,
        Options::stepped().with(|c| c.message_retention = std::time::Duration::from_secs(3600)),
    )
    .await;
    let url = format!("{}/jobs?tenant=7", receiver.url);
    let id = app
        .publish_ok(
            &url,
            "{\"job\":\"rebuild\"}",
            &[
                ("Content-Type", "application/json"),
                ("Upstash-Retries", "2"),
                ("Upstash-Delay", "30s"),
                ("Upstash-Forward-X-Trace", "abc123"),
                ("Upstash-Label", "billing,nightly"),
            ],
        )
        .await;
    let message = app.message(&id).await;
    assert_eq!(
        message,
        json!({
            "messageId": id, "url": url, "method": "POST",
            "header": {"Content-Type": ["application/json"], "X-Trace": ["abc123"]},
            "body": "{\"job\":\"rebuild\"}", "maxRetries": 2, "notBefore": T0 + 30_000, "createdAt": T0,
            "callerIP": "127.0.0.1", "label": "billing", "labels": ["billing", "nightly"],
            "state": "CREATED", "retried": 0, "nextDeliveryTime": T0 + 30_000,
        })
    );

    app.clock.advance_ms(30_000);
    assert_eq!(app.run_until_idle().await, 1);
    assert_eq!(app.message(&id).await["state"], "DELIVERED");
    app.clock.advance_ms(3_600_000);
    assert_eq!(
        app.maintenance.clean_once().await.unwrap(),
        0,
        "kept for exactly the retention"
    );
    app.clock.advance_ms(1);
    assert_eq!(app.maintenance.clean_once().await.unwrap(), 1);
    let (status, body) = app.get_json(&format!("/v2/messages/{id}")).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("not found"));
    app.stop().await;
}

async fn a_canceled_message_is_never_delivered(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app.publish_ok(&receiver.url, "x", &[("Upstash-Delay", "1m")]).await;
    let (status, body) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/messages/{id}")))
        .await;
    assert_eq!((status, body), (200, json!({"cancelled": 1})));
    assert_eq!(app.message(&id).await["state"], "CANCELED");
    app.clock.advance_ms(60_000);
    assert_eq!(app.run_until_idle().await, 0);
    assert!(receiver.requests().is_empty());

    let (status, body) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/messages/{id}")))
        .await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("canceled"), "{body}");
    let (status, _) = app
        .send_json(app.request(Method::DELETE, "/v2/messages/msg_unknown"))
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn publish_three(app: &crate::common::TestApp, url: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for label in ["a", "b", "c"] {
        ids.push(
            app.publish_ok(url, label, &[("Upstash-Delay", "1h"), ("Upstash-Label", label)])
                .await,
        );
    }
    ids
}

async fn bulk_cancel_accepts_ids_in_the_query_or_a_json_body(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let ids = publish_three(&app, "https://example.com/x").await;
    let query = format!("/v2/messages?messageIds={}&messageIds=msg_missing", ids[0]);
    let (status, body) = app.send_json(app.request(Method::DELETE, &query)).await;
    assert_eq!((status, body), (200, json!({"cancelled": 1})));
    let (status, body) = app
        .send_json(
            app.request(Method::DELETE, "/v2/messages")
                .json(&json!({"messageIds": [ids[1].clone()]})),
        )
        .await;
    assert_eq!((status, body), (200, json!({"cancelled": 1})));
    let states: Vec<_> = futures_states(&app, &ids).await;
    assert_eq!(states, ["CANCELED", "CANCELED", "CREATED"]);
    app.stop().await;
}

async fn futures_states(app: &crate::common::TestApp, ids: &[String]) -> Vec<String> {
    let mut states = Vec::new();
    for id in ids {
        states.push(app.message(id).await["state"].as_str().unwrap().to_string());
    }
    states
}

async fn bulk_cancel_filters_by_label_url_and_date_and_ignores_count(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let first = publish_three(&app, "https://example.com/x").await;
    app.clock.advance_ms(1_000);
    let second = publish_three(&app, "https://example.org/y").await;

    let (_, body) = app
        .send_json(app.request(
            Method::DELETE,
            "/v2/messages?label=a&label=b&count=1&toDate=1767225600000",
        ))
        .await;
    assert_eq!(
        body,
        json!({"cancelled": 2}),
        "labels a or b, created by T0, all of them despite count=1"
    );
    let url = urlencode("https://example.org/y");
    let (_, body) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/messages?url={url}&label=c")))
        .await;
    assert_eq!(body, json!({"cancelled": 1}));
    assert_eq!(futures_states(&app, &first).await, ["CANCELED", "CANCELED", "CREATED"]);
    assert_eq!(futures_states(&app, &second).await, ["CREATED", "CREATED", "CANCELED"]);
    let (_, body) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/messages?fromDate={}", T0 + 1_000)))
        .await;
    assert_eq!(body, json!({"cancelled": 2}));
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn bulk_cancel_without_filters_cancels_everything_pending(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let delivered = app.publish_ok(&receiver.url, "now", &[]).await;
    assert_eq!(app.run_until_idle().await, 1);
    let pending = publish_three(&app, &receiver.url).await;
    let (_, body) = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    assert_eq!(body, json!({"cancelled": 3}));
    assert_eq!(
        futures_states(&app, &pending).await,
        ["CANCELED", "CANCELED", "CANCELED"]
    );
    assert_eq!(app.message(&delivered).await["state"], "DELIVERED");
    app.stop().await;
}

/// `GET /v2/messages` answers "what is waiting?": the filters of bulk cancel plus `state`, cursor paging in
/// creation order (or the reverse), and a 400 for a state or key it does not know.
async fn the_list_shows_messages_by_state_and_filter_a_page_at_a_time(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let delayed = [("Upstash-Delay", "1h"), ("Upstash-Label", "nightly")];
    let mut waiting = Vec::new();
    for n in 0..3 {
        waiting.push(app.publish_ok(&format!("{}/w{n}", receiver.url), "w", &delayed).await);
    }
    let other = app
        .publish_ok(
            &receiver.url,
            "o",
            &[("Upstash-Delay", "1h"), ("Upstash-Label", "other")],
        )
        .await;
    let sent = app.publish_ok(&receiver.url, "now", &[]).await;
    assert_eq!(app.run_until_idle().await, 1);
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["messageId"].as_str().unwrap().to_string())
            .collect()
    };

    let (status, created) = app.get_json("/v2/messages?state=CREATED").await;
    assert_eq!(status, 200, "{created}");
    // Ids start with their creation time to the millisecond, so id order is creation order.
    waiting.sort();
    let mut expected = waiting.clone();
    expected.push(other.clone());
    expected.sort();
    assert_eq!(ids(&created), expected, "waiting ones, oldest first");
    assert!(created["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "CREATED"));
    let (_, delivered) = app.get_json("/v2/messages?state=DELIVERED").await;
    assert_eq!(ids(&delivered), vec![sent.clone()]);

    let (_, first) = app.get_json("/v2/messages?label=nightly&count=2").await;
    assert_eq!(ids(&first), waiting[..2].to_vec());
    let cursor = first["cursor"].as_str().expect("more remain").to_string();
    let (_, second) = app
        .get_json(&format!("/v2/messages?label=nightly&count=2&cursor={cursor}"))
        .await;
    assert_eq!(ids(&second), waiting[2..].to_vec());
    assert!(second.get("cursor").is_none(), "the last page has no cursor: {second}");
    let (_, all) = app.get_json("/v2/messages").await;
    let (_, reversed) = app.get_json("/v2/messages?order=latestFirst").await;
    let mut backwards = ids(&all);
    backwards.reverse();
    assert_eq!((ids(&all).len(), ids(&reversed)), (5, backwards));
    assert!(ids(&all).contains(&sent));

    for bad in ["state=PENDING", "dlqIds=x", "label=", "count=0"] {
        let (status, body) = app.get_json(&format!("/v2/messages?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].is_string());
    }
    app.stop().await;
}
