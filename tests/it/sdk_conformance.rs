//! The official SDK clients (JS and Python) against the server for the features beyond plain publishing:
//! URL groups, batches, queues, deduplication, callbacks, retry-delay expressions, logs, flow control, bulk
//! cancel, the DLQ in every calling style, key rotation and the deprecated JS names. Each test checks both
//! what the SDK returned and what the server or the destination actually has.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Recorded, Reply};
use crate::common::sdk::Sdk;
use crate::common::{spawn_app, Backend, Options, TestApp, T0, TOKEN};

backend_tests!(
    the_official_clients_manage_url_groups_and_publish_to_them,
    the_official_clients_batch_a_url_a_url_group_and_a_queue_in_one_call,
    the_official_clients_upsert_get_list_resume_and_delete_queues,
    the_official_clients_get_the_first_message_back_for_a_duplicate,
    the_official_clients_set_callbacks_that_report_the_attempt_and_the_final_failure,
    the_official_clients_set_a_retry_delay_expression_that_times_the_next_attempt,
    the_official_clients_read_and_filter_logs_page_by_page,
    the_official_clients_pin_pause_resume_unpin_and_reset_a_flow_control_key,
    the_official_clients_pause_a_queue_until_it_is_resumed,
    the_official_clients_cancel_messages_by_ids_filter_and_all_and_count_them,
    the_js_client_still_answers_to_the_deprecated_topics_and_events_names,
    the_official_clients_read_the_logs_of_several_messages_at_once,
    the_official_clients_page_get_delete_and_retry_dlq_entries_in_every_style,
    the_python_client_rotates_the_signing_keys,
    the_python_client_creates_a_json_schedule,
);

fn sdks() -> Vec<Sdk> {
    [Sdk::Js, Sdk::Python].into_iter().filter_map(Sdk::available).collect()
}

/// A short lowercase name for the SDK, for group and queue names ("js", "python").
fn tag(sdk: Sdk) -> String {
    format!("{sdk:?}").to_lowercase()
}

/// A result field under its JS (camelCase) or Python (snake_case) name; `Null` when neither is there.
fn field<'a>(value: &'a Value, camel: &str, snake: &str) -> &'a Value {
    value.get(camel).or(value.get(snake)).unwrap_or(&Value::Null)
}

fn message_id(value: &Value) -> String {
    field(value, "messageId", "message_id")
        .as_str()
        .unwrap_or_else(|| panic!("no message id in {value}"))
        .to_string()
}

fn assert_all_ok(sdk: Sdk, results: &[Value]) {
    assert!(results.iter().all(|r| r["ok"] == true), "{sdk:?}: {results:#?}");
}

/// Asserts that every call failed inside the client script, before any request: the SDK lacks the method.
fn assert_not_in_sdk(sdk: Sdk, results: &[Value]) {
    assert!(
        results.iter().all(|r| r["ok"] == false && r["status"].is_null()),
        "{sdk:?}: expected NotInSdk: {results:#?}"
    );
}

/// The cursor of a page, `None` when there is none (JS leaves it out, Python gives `null`).
fn cursor(page: &Value) -> Option<String> {
    match page.get("cursor") {
        None | Some(Value::Null) => None,
        Some(c) => Some(
            c.as_str()
                .unwrap_or_else(|| panic!("a string cursor: {page}"))
                .to_string(),
        ),
    }
}

/// snake_case to camelCase.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// An SDK result under its wire (camelCase) names: JS passes the server's object through, Python's dataclass
/// fields are snake_case (and FlowControlInfo calls `flowControlKey` just `key`).
fn wire(sdk: Sdk, value: &Value) -> Value {
    match sdk {
        Sdk::Js => value.clone(),
        Sdk::Python => Value::Object(
            value
                .as_object()
                .unwrap_or_else(|| panic!("an object: {value}"))
                .iter()
                .map(|(k, v)| {
                    let name = if k == "key" {
                        "flowControlKey".to_string()
                    } else {
                        camel(k)
                    };
                    (name, v.clone())
                })
                .collect(),
        ),
    }
}

async fn state(app: &TestApp, id: &str) -> String {
    app.message(id).await["state"].as_str().unwrap().to_string()
}

fn json_body(request: &Recorded) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// The delivered body as JSON when it is JSON (the SDKs serialize with different spacing), else as a string.
fn body_value(request: &Recorded) -> Value {
    serde_json::from_slice(&request.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&request.body).into_owned()))
}

async fn the_official_clients_manage_url_groups_and_publish_to_them(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let group = format!("team-{}", tag(sdk));
        let (a, b) = (
            format!("{}/{sdk:?}/a", receiver.url),
            format!("{}/{sdk:?}/b", receiver.url),
        );
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "urlGroupAddEndpoints", "args": {"name": group,
                    "endpoints": [{"url": a, "name": "ea"}, {"url": b, "name": "eb"}]}},
                {"op": "urlGroupGet", "args": {"name": group}},
                {"op": "urlGroupList", "args": {}},
                {"op": "publish", "args": {"urlGroup": group, "body": "fan out"}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let got = &results[1]["result"];
        assert_eq!(got["name"], group.as_str());
        assert_eq!(
            got["endpoints"],
            json!([{"url": a, "name": "ea"}, {"url": b, "name": "eb"}]),
            "{sdk:?}"
        );
        assert_eq!(field(got, "createdAt", "created_at"), T0);
        assert_eq!(field(got, "updatedAt", "updated_at"), T0);
        let listed = results[2]["result"].as_array().unwrap();
        assert!(
            listed.iter().any(|g| g["name"] == group.as_str()),
            "{sdk:?}: {listed:?}"
        );

        let published = results[3]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{sdk:?}: a group publish returns a list: {results:?}"));
        assert_eq!(published.len(), 2, "{sdk:?}: one message per endpoint");
        let urls: BTreeSet<&str> = published.iter().map(|m| m["url"].as_str().unwrap()).collect();
        assert_eq!(urls, BTreeSet::from([a.as_str(), b.as_str()]));
        let ids: BTreeSet<String> = published.iter().map(message_id).collect();
        assert_eq!(ids.len(), 2);

        let before = receiver.requests().len();
        assert_eq!(app.run_until_idle().await, 2, "{sdk:?}");
        let delivered = receiver.requests().split_off(before);
        let targets: BTreeSet<&str> = delivered.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            targets,
            BTreeSet::from([format!("/{sdk:?}/a").as_str(), format!("/{sdk:?}/b").as_str()])
        );
        for request in &delivered {
            assert_eq!(request.header("upstash-topic-name"), Some(group.as_str()));
            assert_eq!(request.body, "fan out".as_bytes());
            assert!(ids.contains(request.message_id()), "{sdk:?}: {}", request.message_id());
        }

        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "urlGroupRemoveEndpoints", "args": {"name": group, "endpoints": [{"name": "ea"}]}},
                {"op": "urlGroupGet", "args": {"name": group}},
                {"op": "urlGroupDelete", "args": {"name": group}},
                {"op": "urlGroupList", "args": {}},
                {"op": "urlGroupGet", "args": {"name": group}},
            ]),
        );
        assert_all_ok(sdk, &results[..4]);
        assert_eq!(
            results[1]["result"]["endpoints"],
            json!([{"url": b, "name": "eb"}]),
            "{sdk:?}"
        );
        assert!(
            !results[3]["result"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == group.as_str()),
            "{sdk:?}: {results:?}"
        );
        assert_eq!(results[4]["ok"], false, "{sdk:?}: {results:?}");
        assert_eq!(results[4]["status"], 404, "{sdk:?}: {results:?}");
        let (status, _) = app.get_json(&format!("/v2/topics/{group}")).await;
        assert_eq!(status, 404, "{sdk:?}: the deleted group is gone");
    }
    app.stop().await;
}

async fn the_official_clients_batch_a_url_a_url_group_and_a_queue_in_one_call(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let (group, queue) = (format!("batch-group-{}", tag(sdk)), format!("batch-queue-{}", tag(sdk)));
        let url = |path: &str| format!("{}/{sdk:?}/{path}", receiver.url);
        let endpoints = [url("ga"), url("gb")];
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "urlGroupAddEndpoints", "args": {"name": group,
                    "endpoints": [{"url": endpoints[0]}, {"url": endpoints[1]}]}},
                {"op": "batch", "args": {"items": [
                    {"url": url("one"), "body": "plain url"},
                    {"urlGroup": group, "body": "plain group"},
                    {"url": url("queued"), "queueName": queue, "body": "plain queued"},
                ]}},
                {"op": "batchJSON", "args": {"items": [
                    {"url": url("one"), "body": {"item": "url"}},
                    {"urlGroup": group, "body": {"item": "group"}},
                    {"url": url("queued"), "queueName": queue, "body": {"item": "queued"}},
                ]}},
            ]),
        );
        assert_all_ok(sdk, &results);

        let mut all_ids = BTreeSet::new();
        let mut queued_ids = Vec::new();
        for batch in &results[1..] {
            let items = batch["result"].as_array().unwrap();
            assert_eq!(items.len(), 3, "{sdk:?}: one result per item, in order: {items:?}");
            assert!(items[0].is_object(), "{sdk:?}: {items:?}");
            assert!(items[2].is_object(), "{sdk:?}: {items:?}");
            let fanned = items[1]
                .as_array()
                .unwrap_or_else(|| panic!("{sdk:?}: the group item is a list: {items:?}"));
            let urls: BTreeSet<&str> = fanned.iter().map(|m| m["url"].as_str().unwrap()).collect();
            assert_eq!(urls, endpoints.iter().map(String::as_str).collect::<BTreeSet<_>>());
            all_ids.insert(message_id(&items[0]));
            all_ids.extend(fanned.iter().map(message_id));
            all_ids.insert(message_id(&items[2]));
            queued_ids.push(message_id(&items[2]));

            let plain = app.message(&message_id(&items[0])).await;
            assert!(plain.get("queueName").is_none(), "{sdk:?}: {plain}");
            for m in fanned {
                assert_eq!(app.message(&message_id(m)).await["topicName"], group.as_str());
            }
            let queued = app.message(&message_id(&items[2])).await;
            assert_eq!(queued["queueName"], queue.as_str(), "{sdk:?}: {queued}");
            assert_eq!(queued["url"], url("queued").as_str());
        }
        assert_eq!(all_ids.len(), 8, "{sdk:?}: eight distinct messages");

        let before = receiver.requests().len();
        assert_eq!(app.run_until_idle().await, 8, "{sdk:?}: every item is delivered");
        let delivered = receiver.requests().split_off(before);
        let got: BTreeSet<String> = delivered.iter().map(|r| r.message_id().to_string()).collect();
        assert_eq!(got, all_ids);
        let queued_bodies: Vec<Value> = delivered
            .iter()
            .filter(|r| r.target == format!("/{sdk:?}/queued"))
            .map(body_value)
            .collect();
        assert_eq!(
            queued_bodies,
            [json!("plain queued"), json!({"item": "queued"})],
            "{sdk:?}: the queue delivers in order"
        );
        let json_one = delivered
            .iter()
            .find(|r| r.target == format!("/{sdk:?}/one") && r.body.starts_with(b"{"))
            .unwrap();
        assert_eq!(json_body(json_one), json!({"item": "url"}));
        assert_eq!(json_one.header("content-type"), Some("application/json"));
        for id in &queued_ids {
            assert_eq!(app.message(id).await["state"], "DELIVERED");
        }
    }
    app.stop().await;
}

async fn the_official_clients_upsert_get_list_resume_and_delete_queues(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let queue = format!("orders-{}", tag(sdk));
        let url = format!("{}/{sdk:?}/ship", receiver.url);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "queueUpsert", "args": {"queueName": queue, "parallelism": 2, "paused": true}},
                {"op": "queueGet", "args": {"queueName": queue}},
                {"op": "queueList", "args": {}},
                {"op": "enqueue", "args": {"queueName": queue, "url": url, "body": "first"}},
                {"op": "enqueueJSON", "args": {"queueName": queue, "url": url, "body": {"n": 2}}},
                {"op": "queueGet", "args": {"queueName": queue}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let got = &results[1]["result"];
        let keys: BTreeSet<&str> = got.as_object().unwrap().keys().map(String::as_str).collect();
        let expected_keys = match sdk {
            Sdk::Js => ["name", "parallelism", "createdAt", "updatedAt", "lag", "paused"],
            Sdk::Python => ["name", "parallelism", "created_at", "updated_at", "lag", "paused"],
        };
        assert_eq!(keys, BTreeSet::from(expected_keys), "{sdk:?}: all six queue fields");
        assert_eq!(got["name"], queue.as_str());
        assert_eq!(got["parallelism"], 2);
        assert_eq!(got["paused"], true);
        assert_eq!(got["lag"], 0);
        assert_eq!(field(got, "createdAt", "created_at"), app.clock.now_ms());
        assert_eq!(field(got, "updatedAt", "updated_at"), app.clock.now_ms());
        let listed = results[2]["result"].as_array().unwrap();
        let mine = listed
            .iter()
            .find(|q| q["name"] == queue.as_str())
            .unwrap_or_else(|| panic!("{sdk:?}: {listed:?}"));
        assert_eq!((&mine["parallelism"], &mine["paused"]), (&json!(2), &json!(true)));
        let enqueued = [message_id(&results[3]["result"]), message_id(&results[4]["result"])];
        assert_eq!(results[5]["result"]["lag"], 2, "{sdk:?}: two undelivered messages");
        assert_eq!(app.message(&enqueued[0]).await["queueName"], queue.as_str());

        assert_eq!(
            app.run_until_idle().await,
            0,
            "{sdk:?}: a paused queue delivers nothing"
        );
        let before = receiver.requests().len();
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "queueResume", "args": {"queueName": queue}}]),
        );
        assert_all_ok(sdk, &results);
        assert_eq!(app.run_until_idle().await, 2, "{sdk:?}: resumed");
        let delivered = receiver.requests().split_off(before);
        let ids: BTreeSet<&str> = delivered.iter().map(|r| r.message_id()).collect();
        assert_eq!(ids, enqueued.iter().map(String::as_str).collect::<BTreeSet<_>>());
        let json_one = delivered.iter().find(|r| r.message_id() == enqueued[1]).unwrap();
        assert_eq!(json_body(json_one), json!({"n": 2}));
        assert_eq!(json_one.header("content-type"), Some("application/json"));
        let plain = delivered.iter().find(|r| r.message_id() == enqueued[0]).unwrap();
        assert_eq!(plain.body, "first".as_bytes());

        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "queueGet", "args": {"queueName": queue}},
                {"op": "queueDelete", "args": {"queueName": queue}},
                {"op": "queueList", "args": {}},
                {"op": "queueGet", "args": {"queueName": queue}},
            ]),
        );
        assert_all_ok(sdk, &results[..3]);
        assert_eq!(results[0]["result"]["paused"], false);
        assert_eq!(results[0]["result"]["lag"], 0);
        assert!(
            !results[2]["result"]
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q["name"] == queue.as_str()),
            "{sdk:?}: {results:?}"
        );
        assert_eq!(results[3]["status"], 404, "{sdk:?}: {results:?}");
        let (status, _) = app.get_json(&format!("/v2/queues/{queue}")).await;
        assert_eq!(status, 404);
    }
    app.stop().await;
}

async fn the_official_clients_get_the_first_message_back_for_a_duplicate(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let url = format!("{}/{sdk:?}/charge", receiver.url);
        let dedup_id = format!("charge-{}-42", tag(sdk));
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "publish", "args": {"url": url, "body": "charge 42", "deduplicationId": dedup_id}},
                {"op": "publish", "args": {"url": url, "body": "charge 42 again", "deduplicationId": dedup_id}},
                {"op": "publishJSON", "args": {"url": url, "body": {"charge": 43}, "contentBasedDeduplication": true}},
                {"op": "publishJSON", "args": {"url": url, "body": {"charge": 43}, "contentBasedDeduplication": true}},
                {"op": "publishJSON", "args": {"url": url, "body": {"charge": 44}, "contentBasedDeduplication": true}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let result = |i: usize| &results[i]["result"];
        let deduplicated = |i: usize| result(i).get("deduplicated") == Some(&json!(true));
        assert_eq!(
            (0..5).map(deduplicated).collect::<Vec<_>>(),
            [false, true, false, true, false],
            "{sdk:?}: {results:?}"
        );
        assert_eq!(message_id(result(1)), message_id(result(0)), "{sdk:?}: same id");
        assert_eq!(message_id(result(3)), message_id(result(2)), "{sdk:?}: same content");
        assert_ne!(message_id(result(4)), message_id(result(2)), "{sdk:?}: other content");
        assert_ne!(message_id(result(2)), message_id(result(0)));
        if let Sdk::Python = sdk {
            assert_eq!(result(0)["deduplicated"], false, "Python always has the attribute");
        }

        let before = receiver.requests().len();
        assert_eq!(app.run_until_idle().await, 3, "{sdk:?}: duplicates are not delivered");
        let bodies: Vec<Value> = receiver.requests()[before..].iter().map(body_value).collect();
        for expected in [json!("charge 42"), json!({"charge": 43}), json!({"charge": 44})] {
            assert!(
                bodies.contains(&expected),
                "{sdk:?}: the first message of each key is the one delivered: {bodies:?}"
            );
        }
    }
    app.stop().await;
}

async fn the_official_clients_set_callbacks_that_report_the_attempt_and_the_final_failure(backend: Backend) {
    let receiver = Receiver::answering(|r| {
        if r.target.ends_with("/dest") {
            Reply::Full {
                status: 500,
                headers: vec![],
                body: b"down".to_vec(),
            }
        } else {
            Reply::Status(200)
        }
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let (cb, fail) = (
            format!("{}/{sdk:?}/cb", receiver.url),
            format!("{}/{sdk:?}/fail", receiver.url),
        );
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "publish", "args": {"url": format!("{}/{sdk:?}/dest", receiver.url), "body": "job",
                    "retries": 0, "callback": cb, "failureCallback": fail}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let id = message_id(&results[0]["result"]);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "messageGet", "args": {"messageId": id}}]),
        );
        assert_all_ok(sdk, &results);
        let message = &results[0]["result"];
        assert_eq!(message["callback"], cb.as_str(), "{sdk:?}: {message}");
        assert_eq!(field(message, "failureCallback", "failure_callback"), fail.as_str());

        let before = receiver.requests().len();
        assert_eq!(
            app.run_until_idle().await,
            3,
            "{sdk:?}: the attempt, its callback and the failure callback"
        );
        let delivered = receiver.requests().split_off(before);
        let on = |path: &str| -> Vec<&Recorded> {
            delivered
                .iter()
                .filter(|r| r.target == format!("/{sdk:?}/{path}"))
                .collect()
        };
        assert_eq!(on("dest").len(), 1);
        let (callbacks, failures) = (on("cb"), on("fail"));
        assert_eq!((callbacks.len(), failures.len()), (1, 1), "{sdk:?}");
        let report = json_body(callbacks[0]);
        assert_eq!(report["sourceMessageId"], id.as_str(), "{sdk:?}: {report}");
        assert_eq!(report["status"], 500);
        assert!(report.get("dlqId").is_none(), "{sdk:?}: {report}");
        let failure = json_body(failures[0]);
        assert_eq!(failure["sourceMessageId"], id.as_str(), "{sdk:?}: {failure}");
        let (_, dlq) = app.get_json(&format!("/v2/dlq?messageId={id}")).await;
        let entries = dlq["messages"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{sdk:?}: {dlq}");
        assert!(failure["dlqId"].is_string(), "{sdk:?}: {failure}");
        assert_eq!(failure["dlqId"], entries[0]["dlqId"]);
        assert_eq!(app.message(&id).await["state"], "FAILED");
    }
    app.stop().await;
}

async fn the_official_clients_set_a_retry_delay_expression_that_times_the_next_attempt(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let expression = "1000 * (1 + retried)";
    for sdk in sdks() {
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "publish", "args": {"url": format!("{}/{sdk:?}/flaky", receiver.url), "body": "x",
                    "retries": 1, "retryDelay": expression}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let id = message_id(&results[0]["result"]);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "messageGet", "args": {"messageId": id}}]),
        );
        assert_all_ok(sdk, &results);
        let message = &results[0]["result"];
        assert_eq!(
            field(message, "retryDelayExpression", "retry_delay_expression"),
            expression,
            "{sdk:?}: {message}"
        );
        assert_eq!(field(message, "maxRetries", "max_retries"), 1);

        let now = app.clock.now_ms();
        assert_eq!(app.run_until_idle().await, 1, "{sdk:?}: the retry is not due yet");
        let message = app.message(&id).await;
        assert_eq!(message["state"], "RETRY", "{sdk:?}: {message}");
        assert_eq!(
            message["nextDeliveryTime"],
            now + 1_000,
            "{sdk:?}: 1000 * (1 + 0) ms after the first attempt"
        );
        app.clock.advance_ms(999);
        assert_eq!(app.run_until_idle().await, 0, "{sdk:?}: not before the delay");
        app.clock.advance_ms(1);
        assert_eq!(app.run_until_idle().await, 1, "{sdk:?}: the one retry");
        assert_eq!(app.message(&id).await["state"], "FAILED");
        let attempts = receiver.requests().iter().filter(|r| r.message_id() == id).count();
        assert_eq!(attempts, 2, "{sdk:?}");
    }
    app.stop().await;
}

async fn the_official_clients_read_and_filter_logs_page_by_page(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let url = format!("{}/{sdk:?}/logged", receiver.url);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "publish", "args": {"url": url, "body": "log me"}}]),
        );
        assert_all_ok(sdk, &results);
        let id = message_id(&results[0]["result"]);
        assert_eq!(app.run_until_idle().await, 1, "{sdk:?}");

        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "logs", "args": {"filter": {"messageId": id}}},
                {"op": "logs", "args": {"filter": {"messageId": id, "state": "DELIVERED"}}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let page = &results[0]["result"];
        let entries = page["logs"].as_array().unwrap_or_else(|| panic!("{sdk:?}: {page}"));
        if let Sdk::Js = sdk {
            assert_eq!(page["events"], page["logs"], "JS returns the entries under both names");
        }
        assert!(
            entries.iter().all(|e| message_id(e) == id && e["url"] == url.as_str()),
            "{sdk:?}: {entries:?}"
        );
        let states: BTreeSet<&str> = entries.iter().map(|e| e["state"].as_str().unwrap()).collect();
        for state in ["CREATED", "ACTIVE", "DELIVERED"] {
            assert!(states.contains(state), "{sdk:?}: {state} missing in {states:?}");
        }
        match sdk {
            Sdk::Js => assert!(page.get("cursor").is_none(), "JS: no cursor on the last page: {page}"),
            Sdk::Python => assert_eq!(page["cursor"], Value::Null, "Python: no cursor on the last page"),
        }
        let delivered = results[1]["result"]["logs"].as_array().unwrap();
        assert_eq!(
            delivered.len(),
            1,
            "{sdk:?}: exactly one DELIVERED entry: {delivered:?}"
        );
        assert_eq!(delivered[0]["state"], "DELIVERED");
        assert_eq!(message_id(&delivered[0]), id);

        // One entry a page: a cursor while entries remain, none after the last.
        let mut seen = Vec::new();
        let mut cursor = Value::Null;
        for _ in 0..entries.len() + 1 {
            let mut args = json!({"count": 1, "filter": {"messageId": id}});
            if !cursor.is_null() {
                args["cursor"] = cursor.clone();
            }
            let results = sdk.client(&app.base, TOKEN, json!([{"op": "logs", "args": args}]));
            assert_all_ok(sdk, &results);
            let page = &results[0]["result"];
            let logs = page["logs"].as_array().unwrap();
            assert!(logs.len() <= 1, "{sdk:?}: {page}");
            seen.extend(logs.iter().map(|e| e["state"].as_str().unwrap().to_string()));
            cursor = page.get("cursor").cloned().unwrap_or(Value::Null);
            if cursor.is_null() {
                break;
            }
            assert!(cursor.is_string(), "{sdk:?}: {page}");
        }
        assert!(cursor.is_null(), "{sdk:?}: the pages end");
        let all: Vec<String> = entries
            .iter()
            .map(|e| e["state"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(seen, all, "{sdk:?}: the pages add up to the whole list, in order");
    }
    app.stop().await;
}

async fn the_official_clients_pin_pause_resume_unpin_and_reset_a_flow_control_key(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let key = format!("partner-{}", tag(sdk));
        let url = format!("{}/{sdk:?}/limited", receiver.url);
        let flow =
            |parallelism: i64, rate: i64| json!({"key": key, "parallelism": parallelism, "rate": rate, "period": 60});
        let server_info = || async { app.get_json(&format!("/v2/flowControl/{key}")).await };
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "flowControlGet", "args": {"key": key}},
                {"op": "publish", "args": {"url": url, "body": "first", "flowControl": flow(2, 5)}},
                {"op": "flowControlGet", "args": {"key": key}},
                {"op": "flowControlPause", "args": {"key": key}},
                {"op": "flowControlGet", "args": {"key": key}},
            ]),
        );
        assert_eq!(
            results[0]["ok"], false,
            "{sdk:?}: no key before the first publish: {results:?}"
        );
        assert_eq!(results[0]["status"], 404, "{sdk:?}: {results:?}");
        assert_all_ok(sdk, &results[1..]);
        let first = message_id(&results[1]["result"]);
        let period_start = app.clock.now_ms() / 1000;
        assert_eq!(
            wire(sdk, &results[2]["result"]),
            json!({"flowControlKey": key, "waitListSize": 1, "parallelismMax": 2, "parallelismCount": 0,
                   "rateMax": 5, "rateCount": 0, "ratePeriod": 60, "ratePeriodStart": period_start,
                   "isPaused": false, "isPinnedParallelism": false, "isPinnedRate": false}),
            "{sdk:?}: the publish created the key with its limits"
        );
        let paused = wire(sdk, &results[4]["result"]);
        assert_eq!(paused["isPaused"], true, "{sdk:?}: {paused}");
        assert_eq!(
            server_info().await,
            (200, paused),
            "{sdk:?}: the SDK shows the server's state"
        );

        let message = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "messageGet", "args": {"messageId": first}}]),
        );
        assert_all_ok(sdk, &message);
        let shown_key = match sdk {
            Sdk::Js => &message[0]["result"]["flowControlKey"],
            Sdk::Python => &message[0]["result"]["flow_control"]["key"],
        };
        assert_eq!(shown_key, key.as_str(), "{sdk:?}: {message:?}");
        assert_eq!(app.message(&first).await["flowControlKey"], key.as_str());

        assert_eq!(app.run_until_idle().await, 0, "{sdk:?}: a paused key delivers nothing");
        let before = receiver.requests().len();
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "flowControlResume", "args": {"key": key}}]),
        );
        assert_all_ok(sdk, &results);
        assert_eq!(app.run_until_idle().await, 1, "{sdk:?}: resumed");
        assert_eq!(receiver.requests()[before].message_id(), first);
        assert_eq!(server_info().await.1["rateCount"], 1);

        app.clock.advance_ms(3_000);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "flowControlPin", "args": {"key": key, "parallelism": 3, "rate": 20, "period": 120}},
                {"op": "flowControlGet", "args": {"key": key}},
                {"op": "publish", "args": {"url": url, "body": "second", "flowControl": flow(1, 1)}},
                {"op": "flowControlGet", "args": {"key": key}},
                {"op": "flowControlUnpin", "args": {"key": key, "parallelism": true, "rate": false}},
                {"op": "flowControlGet", "args": {"key": key}},
                {"op": "publish", "args": {"url": url, "body": "third", "flowControl": flow(1, 1)}},
                {"op": "flowControlGet", "args": {"key": key}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let pinned = wire(sdk, &results[1]["result"]);
        assert_eq!(
            pinned,
            json!({"flowControlKey": key, "waitListSize": 0, "parallelismMax": 3, "parallelismCount": 0,
                   "rateMax": 20, "rateCount": 0, "ratePeriod": 120, "ratePeriodStart": app.clock.now_ms() / 1000,
                   "isPaused": false, "isPinnedParallelism": true, "isPinnedRate": true}),
            "{sdk:?}: pinned, with a fresh rate window"
        );
        let after_second = wire(sdk, &results[3]["result"]);
        assert_eq!(
            (
                &after_second["parallelismMax"],
                &after_second["rateMax"],
                &after_second["ratePeriod"],
                &after_second["waitListSize"]
            ),
            (&json!(3), &json!(20), &json!(120), &json!(1)),
            "{sdk:?}: pinned limits ignore the message's: {after_second}"
        );
        let unpinned = wire(sdk, &results[5]["result"]);
        assert_eq!(
            (&unpinned["isPinnedParallelism"], &unpinned["isPinnedRate"]),
            (&json!(false), &json!(true)),
            "{sdk:?}: {unpinned}"
        );
        let after_third = wire(sdk, &results[7]["result"]);
        assert_eq!(
            (
                &after_third["parallelismMax"],
                &after_third["rateMax"],
                &after_third["ratePeriod"],
                &after_third["waitListSize"]
            ),
            (&json!(1), &json!(20), &json!(120), &json!(2)),
            "{sdk:?}: only the unpinned parallelism follows the message: {after_third}"
        );
        assert_eq!(server_info().await, (200, after_third));

        let before = receiver.requests().len();
        assert_eq!(app.run_until_idle().await, 2, "{sdk:?}");
        let bodies: Vec<Value> = receiver.requests()[before..].iter().map(body_value).collect();
        assert_eq!(bodies, [json!("second"), json!("third")], "{sdk:?}");
        assert_eq!(server_info().await.1["rateCount"], 2);

        app.clock.advance_ms(5_000);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "flowControlResetRate", "args": {"key": key}},
                {"op": "flowControlGet", "args": {"key": key}},
                {"op": "flowControlGlobalParallelism", "args": {}},
                {"op": "flowControlGet", "args": {"key": "no-such-key"}},
                {"op": "flowControlPause", "args": {"key": "no-such-key"}},
            ]),
        );
        assert_all_ok(sdk, &results[..3]);
        let reset = wire(sdk, &results[1]["result"]);
        assert_eq!(
            (&reset["rateCount"], &reset["ratePeriodStart"]),
            (&json!(0), &json!(app.clock.now_ms() / 1000)),
            "{sdk:?}: a new rate window starts now: {reset}"
        );
        assert_eq!(server_info().await, (200, reset));
        let global = wire(sdk, &results[2]["result"]);
        let (status, server_global) = app.get_json("/v2/globalParallelism").await;
        assert_eq!((status, &global), (200, &server_global), "{sdk:?}");
        assert_eq!(global["parallelismCount"], 0, "{sdk:?}: {global}");
        assert!(global["parallelismMax"].as_i64().unwrap() > 0, "{sdk:?}: {global}");
        for missing in &results[3..] {
            assert_eq!(
                (&missing["ok"], &missing["status"]),
                (&json!(false), &json!(404)),
                "{sdk:?}: {results:?}"
            );
        }
    }
    app.stop().await;
}

async fn the_official_clients_pause_a_queue_until_it_is_resumed(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let queue = format!("invoices-{}", tag(sdk));
        let url = format!("{}/{sdk:?}/invoice", receiver.url);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "queueUpsert", "args": {"queueName": queue}},
                {"op": "queueGet", "args": {"queueName": queue}},
                {"op": "queuePause", "args": {"queueName": queue}},
                {"op": "queueGet", "args": {"queueName": queue}},
                {"op": "enqueue", "args": {"queueName": queue, "url": url, "body": "held"}},
            ]),
        );
        assert_all_ok(sdk, &results);
        assert_eq!(results[1]["result"]["paused"], false, "{sdk:?}: {results:?}");
        assert_eq!(results[3]["result"]["paused"], true, "{sdk:?}: {results:?}");
        let (_, server_queue) = app.get_json(&format!("/v2/queues/{queue}")).await;
        assert_eq!(server_queue["paused"], true, "{sdk:?}: {server_queue}");
        let id = message_id(&results[4]["result"]);
        assert_eq!(
            app.run_until_idle().await,
            0,
            "{sdk:?}: a paused queue delivers nothing"
        );
        assert_eq!(state(&app, &id).await, "CREATED");

        let before = receiver.requests().len();
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "queueResume", "args": {"queueName": queue}},
                {"op": "queueGet", "args": {"queueName": queue}},
            ]),
        );
        assert_all_ok(sdk, &results);
        assert_eq!(results[1]["result"]["paused"], false, "{sdk:?}: {results:?}");
        assert_eq!(app.run_until_idle().await, 1, "{sdk:?}: resumed");
        let delivered = receiver.requests().split_off(before);
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].message_id(), id);
        assert_eq!(delivered[0].body, "held".as_bytes());
        assert_eq!(state(&app, &id).await, "DELIVERED");
    }
    app.stop().await;
}

async fn the_official_clients_cancel_messages_by_ids_filter_and_all_and_count_them(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let (group, doomed) = (format!("cancel-group-{}", tag(sdk)), format!("doomed-{}", tag(sdk)));
        let url = |path: &str| format!("{}/{sdk:?}/{path}", receiver.url);
        let later = |path: &str, label: Option<&str>| {
            let mut args = json!({"url": url(path), "body": path, "delay": 60});
            if let Some(label) = label {
                args["label"] = json!(label);
            }
            json!({"op": "publish", "args": args})
        };
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "urlGroupAddEndpoints", "args": {"name": group,
                    "endpoints": [{"url": url("ga")}, {"url": url("gb")}]}},
                later("p0", None),
                later("p1", None),
                later("p2", None),
                later("doomed0", Some(&doomed)),
                later("doomed1", Some(&doomed)),
                later("kept", Some("kept")),
                {"op": "publish", "args": {"urlGroup": group, "body": "group", "delay": 60}},
                later("d0", None),
                later("d1", None),
                later("d2", None),
            ]),
        );
        assert_all_ok(sdk, &results);
        let id = |i: usize| message_id(&results[i]["result"]);
        let (p0, p1, d0, d1, d2) = (id(1), id(2), id(8), id(9), id(10));
        let mut all: Vec<String> = (1..=10).filter(|i| *i != 7).map(id).collect();
        let fanned = results[7]["result"].as_array().unwrap();
        assert_eq!(fanned.len(), 2, "{sdk:?}: {results:?}");
        all.extend(fanned.iter().map(message_id));
        for id in &all {
            assert_eq!(state(&app, id).await, "CREATED", "{sdk:?}");
        }

        match sdk {
            Sdk::Js => {
                let results = sdk.client(
                    &app.base,
                    TOKEN,
                    json!([
                        {"op": "messageCancelMany", "args": {"messageIds": [p0, p1]}},
                        {"op": "messageCancelFilter", "args": {"filter": {"label": doomed}, "count": 10}},
                        {"op": "messageCancelFilter", "args": {"filter": {"urlGroup": group}}},
                        {"op": "messageDelete", "args": {"messageId": d0}},
                        {"op": "messageDelete", "args": {"messageId": d0}},
                        {"op": "messageDeleteMany", "args": {"messageIds": [d1, d2]}},
                        {"op": "messageCancelAll", "args": {}},
                    ]),
                );
                assert_all_ok(sdk, &results[..4]);
                assert_all_ok(sdk, &results[5..]);
                let got: Vec<&Value> = [0, 1, 2, 3, 5, 6].iter().map(|i| &results[*i]["result"]).collect();
                assert_eq!(
                    got,
                    [
                        &json!({"cancelled": 2}),
                        &json!({"cancelled": 2}),
                        &json!({"cancelled": 2}),
                        &Value::Null,
                        &json!(2),
                        &json!({"cancelled": 2}),
                    ],
                    "JS: by ids, by label, by URL group (sent as topicName), deprecated delete and deleteMany, \
                     then all that is left (p2 and kept): {results:#?}"
                );
                assert_eq!(
                    (&results[4]["ok"], &results[4]["status"]),
                    (&json!(false), &json!(404)),
                    "JS: a canceled message cannot be deleted again: {results:?}"
                );

                let results = sdk.client(
                    &app.base,
                    TOKEN,
                    json!([
                        later("last", None),
                        {"op": "messageDeleteAll", "args": {}},
                    ]),
                );
                assert_all_ok(sdk, &results);
                assert_eq!(results[1]["result"], 1, "JS: deleteAll returns the count: {results:?}");
                all.push(message_id(&results[0]["result"]));
            }
            Sdk::Python => {
                let results = sdk.client(
                    &app.base,
                    TOKEN,
                    json!([
                        {"op": "messageCancelMany", "args": {"messageIds": [p0, p1]}},
                        {"op": "messageCancelFilter", "args": {"filter": {"label": doomed}}},
                        {"op": "messageDelete", "args": {"messageId": d0}},
                        {"op": "messageDeleteMany", "args": {"messageIds": [d1, d2]}},
                        {"op": "messageDeleteAll", "args": {}},
                        {"op": "messageCancelAll", "args": {}},
                    ]),
                );
                assert_not_in_sdk(sdk, &results[1..5]);
                assert_eq!(results[0]["ok"], true, "{results:?}");
                assert_eq!(results[0]["result"], 2, "Python: cancel_many returns the count");
                assert_eq!(results[5]["ok"], true, "{results:?}");
                assert_eq!(
                    results[5]["result"],
                    all.len() - 2,
                    "Python: cancel_all cancels everything left and returns the count"
                );
            }
        }
        for id in &all {
            assert_eq!(state(&app, id).await, "CANCELED", "{sdk:?}: {id}");
        }
        assert_eq!(app.run_until_idle().await, 0, "{sdk:?}: nothing left to deliver");
    }
    app.stop().await;
}

async fn the_js_client_still_answers_to_the_deprecated_topics_and_events_names(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let group = format!("legacy-{}", tag(sdk));
        let (a, b) = (
            format!("{}/{sdk:?}/a", receiver.url),
            format!("{}/{sdk:?}/b", receiver.url),
        );
        let calls = json!([
            {"op": "topicsAddEndpoints", "args": {"name": group,
                "endpoints": [{"url": a, "name": "ea"}, {"url": b, "name": "eb"}]}},
            {"op": "topicsGet", "args": {"name": group}},
            {"op": "topicsList", "args": {}},
            {"op": "publish", "args": {"urlGroup": group, "body": "via topics"}},
            {"op": "topicsRemoveEndpoints", "args": {"name": group, "endpoints": [{"name": "ea"}]}},
            {"op": "topicsGet", "args": {"name": group}},
        ]);
        let results = sdk.client(&app.base, TOKEN, calls);
        if let Sdk::Python = sdk {
            assert_not_in_sdk(sdk, &[&results[..3], &results[4..]].concat());
            let results = sdk.client(
                &app.base,
                TOKEN,
                json!([
                    {"op": "topicsDelete", "args": {"name": group}},
                    {"op": "events", "args": {}},
                ]),
            );
            assert_not_in_sdk(sdk, &results);
            continue;
        }
        assert_all_ok(sdk, &results);
        assert_eq!(
            results[1]["result"]["endpoints"],
            json!([{"url": a, "name": "ea"}, {"url": b, "name": "eb"}]),
            "JS: {results:?}"
        );
        let (_, server_group) = app.get_json(&format!("/v2/topics/{group}")).await;
        assert_eq!(server_group["endpoints"], json!([{"url": b, "name": "eb"}]));
        assert_eq!(results[5]["result"]["endpoints"], server_group["endpoints"]);
        assert!(
            results[2]["result"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == group.as_str()),
            "JS: {results:?}"
        );
        let published = results[3]["result"].as_array().unwrap();
        assert_eq!(published.len(), 2, "JS: {results:?}");
        let ids: BTreeSet<String> = published.iter().map(message_id).collect();

        let before = receiver.requests().len();
        assert_eq!(app.run_until_idle().await, 2);
        let delivered = receiver.requests().split_off(before);
        let got: BTreeSet<String> = delivered.iter().map(|r| r.message_id().to_string()).collect();
        assert_eq!(got, ids);
        assert!(delivered
            .iter()
            .all(|r| r.header("upstash-topic-name") == Some(group.as_str())));

        let first = ids.iter().next().unwrap();
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "events", "args": {"filter": {"messageId": first}}},
                {"op": "logs", "args": {"filter": {"messageId": first}}},
                {"op": "events", "args": {"filter": {"messageIds": ids}}},
                {"op": "topicsDelete", "args": {"name": group}},
                {"op": "topicsList", "args": {}},
                {"op": "topicsGet", "args": {"name": group}},
            ]),
        );
        assert_all_ok(sdk, &results[..5]);
        assert_eq!(results[0]["result"], results[1]["result"], "JS: events is logs");
        let states: Vec<&str> = results[0]["result"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["state"].as_str().unwrap())
            .collect();
        assert!(states.contains(&"DELIVERED"), "JS: {states:?}");
        let both = results[2]["result"]["logs"].as_array().unwrap();
        let logged: BTreeSet<String> = both.iter().map(message_id).collect();
        assert_eq!(logged, ids, "JS: events by several ids");
        assert!(
            !results[4]["result"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == group.as_str()),
            "JS: {results:?}"
        );
        assert_eq!(results[5]["status"], 404, "JS: {results:?}");
        assert_eq!(app.get_json(&format!("/v2/topics/{group}")).await.0, 404);
    }
    app.stop().await;
}

async fn the_official_clients_read_the_logs_of_several_messages_at_once(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let url = |i: usize| format!("{}/{sdk:?}/several/{i}", receiver.url);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "publish", "args": {"url": url(0), "body": "zero"}},
                {"op": "publish", "args": {"url": url(1), "body": "one"}},
                {"op": "publish", "args": {"url": url(2), "body": "two"}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let ids: Vec<String> = results.iter().map(|r| message_id(&r["result"])).collect();
        assert_eq!(app.run_until_idle().await, 3, "{sdk:?}");
        let wanted = [ids[0].clone(), ids[2].clone()];

        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "logs", "args": {"filter": {"messageIds": wanted}}},
                {"op": "logs", "args": {"count": 2, "filter": {"messageIds": wanted}}},
            ]),
        );
        assert_all_ok(sdk, &results);
        let entries = results[0]["result"]["logs"].as_array().unwrap();
        let logged: BTreeSet<String> = entries.iter().map(message_id).collect();
        assert_eq!(
            logged,
            wanted.iter().cloned().collect::<BTreeSet<_>>(),
            "{sdk:?}: only the named messages: {entries:?}"
        );
        for id in &wanted {
            let states: BTreeSet<&str> = entries
                .iter()
                .filter(|e| message_id(e) == *id)
                .map(|e| e["state"].as_str().unwrap())
                .collect();
            assert_eq!(
                states,
                BTreeSet::from(["CREATED", "ACTIVE", "DELIVERED"]),
                "{sdk:?}: {id}"
            );
        }
        let (_, server) = app
            .get_json(&format!("/v2/events?messageIds={}&messageIds={}", wanted[0], wanted[1]))
            .await;
        assert_eq!(server["events"].as_array().unwrap().len(), entries.len(), "{sdk:?}");
        assert_eq!(cursor(&results[0]["result"]), None, "{sdk:?}: one page");
        let first_page = &results[1]["result"];
        assert_eq!(first_page["logs"].as_array().unwrap().len(), 2, "{sdk:?}: {first_page}");
        assert!(
            cursor(first_page).is_some(),
            "{sdk:?}: more entries remain: {first_page}"
        );
    }
    app.stop().await;
}

async fn the_official_clients_page_get_delete_and_retry_dlq_entries_in_every_style(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 500,
        headers: vec![],
        body: b"down".to_vec(),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let server_dlq = || async {
        let (status, page) = app.get_json("/v2/dlq").await;
        assert_eq!(status, 200);
        let entries = page["messages"].as_array().unwrap().clone();
        entries
    };
    for sdk in sdks() {
        let label = |name: &str| format!("{name}-{}", tag(sdk));
        let mut published: Vec<(String, String)> = Vec::new(); // (label, message id)
        for (name, n) in [("alpha", 2), ("beta", 4), ("gamma", 3), ("delta", 1)] {
            for i in 0..n {
                let id = app
                    .publish_ok(
                        &format!("{}/{sdk:?}/{name}/{i}", receiver.url),
                        name,
                        &[("Upstash-Retries", "0"), ("Upstash-Label", &label(name))],
                    )
                    .await;
                published.push((label(name), id));
            }
        }
        assert_eq!(app.run_until_idle().await, 10, "{sdk:?}");

        // Four pages of at most three entries each, following the cursor.
        let mut dlq_of = std::collections::HashMap::new();
        let mut next = None;
        let mut sizes = Vec::new();
        for _ in 0..4 {
            let mut args = json!({"count": 3});
            if let Some(c) = &next {
                args["cursor"] = json!(c);
            }
            let results = sdk.client(&app.base, TOKEN, json!([{"op": "dlqList", "args": args}]));
            assert_all_ok(sdk, &results);
            let page = &results[0]["result"];
            let entries = page["messages"].as_array().unwrap();
            sizes.push(entries.len());
            for e in entries {
                assert_eq!(field(e, "responseStatus", "response_status"), 500, "{sdk:?}: {e}");
                let dlq_id = field(e, "dlqId", "dlq_id").as_str().unwrap().to_string();
                assert!(
                    dlq_of.insert(message_id(e), dlq_id).is_none(),
                    "{sdk:?}: seen twice: {e}"
                );
            }
            next = cursor(page);
        }
        assert_eq!(sizes, [3, 3, 3, 1], "{sdk:?}");
        assert_eq!(next, None, "{sdk:?}: no cursor after the last page");
        let dlq = |name: &str, i: usize| -> String {
            let id = &published.iter().filter(|(l, _)| *l == label(name)).nth(i).unwrap().1;
            dlq_of[id].clone()
        };
        let server: BTreeSet<String> = server_dlq()
            .await
            .iter()
            .map(|e| e["dlqId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(server, dlq_of.values().cloned().collect::<BTreeSet<_>>(), "{sdk:?}");

        match sdk {
            Sdk::Python => {
                let results = sdk.client(
                    &app.base,
                    TOKEN,
                    json!([
                        {"op": "dlqGet", "args": {"dlqId": dlq("alpha", 0)}},
                        {"op": "dlqDeleteMany", "args": {"dlqIds": [dlq("alpha", 0), dlq("alpha", 1)]}},
                        {"op": "dlqDelete", "args": {"dlqId": dlq("beta", 0)}},
                        {"op": "dlqGet", "args": {"dlqId": dlq("beta", 0)}},
                        {"op": "dlqList", "args": {"filter": {"label": label("beta")}}},
                    ]),
                );
                assert_all_ok(sdk, &results[..3]);
                assert_all_ok(sdk, &results[4..]);
                let got = &results[0]["result"];
                let (alpha0_msg, alpha0_url) = (&published[0].1, format!("{}/{sdk:?}/alpha/0", receiver.url));
                assert_eq!(got["dlq_id"], dlq("alpha", 0).as_str(), "{got}");
                assert_eq!(got["message_id"], alpha0_msg.as_str());
                assert_eq!(got["url"], alpha0_url.as_str());
                assert_eq!(got["response_status"], 500);
                assert_eq!(got["response_body"], "down");
                assert_eq!(got["max_retries"], 0);
                assert_eq!(got["label"], label("alpha").as_str());
                assert_eq!(got["body"], "alpha");
                assert_eq!(results[1]["result"], 2, "Python: delete_many returns the count");
                assert_eq!(results[3]["status"], 404, "Python: deleted: {results:?}");
                let betas: BTreeSet<String> = results[4]["result"]["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["dlq_id"].as_str().unwrap().to_string())
                    .collect();
                assert_eq!(betas, BTreeSet::from([dlq("beta", 1), dlq("beta", 2), dlq("beta", 3)]));
                assert_eq!(server_dlq().await.len(), 7, "Python: 10 less 3 deleted");

                let results = sdk.client(
                    &app.base,
                    TOKEN,
                    json!([
                        {"op": "dlqList", "args": {"dlqIds": [dlq("beta", 1)]}},
                        {"op": "dlqDeleteMany", "args": {"dlqIds": [dlq("beta", 1)], "form": "array"}},
                        {"op": "dlqDeleteFilter", "args": {"filter": {"label": label("beta")}}},
                        {"op": "dlqDeleteAll", "args": {}},
                        {"op": "dlqRetry", "args": {"dlqId": dlq("beta", 1)}},
                        {"op": "dlqRetryFilter", "args": {"filter": {"label": label("beta")}}},
                        {"op": "dlqRetryAll", "args": {}},
                    ]),
                );
                assert_not_in_sdk(sdk, &results);
                assert_eq!(server_dlq().await.len(), 7, "Python: untouched");
                let _ = app.send_json(app.request(Method::DELETE, "/v2/dlq?count=100")).await;
            }
            Sdk::Js => {
                let results = sdk.client(
                    &app.base,
                    TOKEN,
                    json!([
                        {"op": "dlqList", "args": {"dlqIds": [dlq("alpha", 0), dlq("beta", 0)]}},
                        {"op": "dlqDeleteFilter", "args": {"filter": {"label": label("alpha")}}},
                        {"op": "dlqDeleteMany", "args": {"dlqIds": [dlq("beta", 0)], "form": "array"}},
                        {"op": "dlqDeleteMany", "args": {"dlqIds": [dlq("beta", 1)], "form": "object"}},
                        {"op": "dlqDeleteMany", "args": {"dlqIds": [dlq("beta", 3)]}},
                        {"op": "dlqRetry", "args": {"dlqId": dlq("beta", 2)}},
                        {"op": "dlqRetry", "args": {"dlqIds": [dlq("delta", 0)], "form": "array"}},
                        {"op": "dlqRetryFilter", "args": {"filter": {"label": label("gamma")}, "count": 2}},
                    ]),
                );
                assert_all_ok(sdk, &results);
                let listed: BTreeSet<&str> = results[0]["result"]["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["dlqId"].as_str().unwrap())
                    .collect();
                assert_eq!(
                    listed,
                    BTreeSet::from([dlq("alpha", 0).as_str(), dlq("beta", 0).as_str()]),
                    "JS: listMessages({{dlqIds}}): {results:?}"
                );
                assert_eq!(cursor(&results[0]["result"]), None);
                assert_eq!(results[1]["result"], json!({"deleted": 2}), "JS: delete by filter");
                assert_eq!(results[2]["result"], json!({"deleted": 1}), "JS: delete([ids])");
                assert_eq!(results[3]["result"], json!({"deleted": 1}), "JS: delete({{dlqIds}})");
                assert_eq!(
                    results[4]["result"],
                    json!({"deleted": 1}),
                    "JS: deleteMany({{dlqIds}})"
                );
                let responses = |r: &Value| -> Vec<String> {
                    r["result"]["responses"]
                        .as_array()
                        .unwrap_or_else(|| panic!("JS: {r}"))
                        .iter()
                        .map(message_id)
                        .collect()
                };
                let mut retried = responses(&results[5]);
                assert_eq!(retried.len(), 1, "JS: retry(id): {results:?}");
                assert_eq!(responses(&results[6]).len(), 1, "JS: retry([ids]): {results:?}");
                retried.extend(responses(&results[6]));
                assert_eq!(responses(&results[7]).len(), 2, "JS: one page of the filter");
                retried.extend(responses(&results[7]));
                let more = cursor(&results[7]["result"]).expect("JS: a cursor while entries match");
                let results = sdk.client(
                    &app.base,
                    TOKEN,
                    json!([{"op": "dlqRetryFilter", "args": {"filter": {"label": label("gamma")}, "count": 2,
                        "cursor": more}}]),
                );
                assert_all_ok(sdk, &results);
                assert_eq!(responses(&results[0]).len(), 1, "JS: the last page: {results:?}");
                assert_eq!(cursor(&results[0]["result"]), None, "JS: {results:?}");
                retried.extend(responses(&results[0]));
                assert!(server_dlq().await.is_empty(), "JS: 5 deleted and 5 retried");

                let retried_urls: BTreeSet<String> = {
                    let mut urls = BTreeSet::new();
                    for id in &retried {
                        let message = app.message(id).await;
                        assert_eq!(message["state"], "CREATED", "JS: {message}");
                        urls.insert(message["url"].as_str().unwrap().to_string());
                    }
                    urls
                };
                let expected_urls: BTreeSet<String> = ["beta/2", "delta/0", "gamma/0", "gamma/1", "gamma/2"]
                    .iter()
                    .map(|p| format!("{}/{sdk:?}/{p}", receiver.url))
                    .collect();
                assert_eq!(
                    retried_urls, expected_urls,
                    "JS: retried messages go to the same places"
                );
                let before = receiver.requests().len();
                assert_eq!(app.run_until_idle().await, 5, "JS: the retried messages are delivered");
                let attempts: BTreeSet<String> = receiver.requests()[before..]
                    .iter()
                    .map(|r| r.message_id().to_string())
                    .collect();
                assert_eq!(attempts, retried.iter().cloned().collect::<BTreeSet<_>>());
                assert_eq!(server_dlq().await.len(), 5, "JS: and fail into the DLQ again");

                let results = sdk.client(&app.base, TOKEN, json!([{"op": "dlqRetryAll", "args": {}}]));
                assert_all_ok(sdk, &results);
                assert_eq!(responses(&results[0]).len(), 5, "JS: retry({{all: true}}): {results:?}");
                assert_eq!(cursor(&results[0]["result"]), None);
                assert!(server_dlq().await.is_empty());
                assert_eq!(app.run_until_idle().await, 5);
                assert_eq!(server_dlq().await.len(), 5);

                // delete({all: true}) page by page, as the SDK documents.
                let mut deleted = Vec::new();
                let mut next: Option<String> = None;
                for _ in 0..3 {
                    let mut args = json!({"count": 3});
                    if let Some(c) = &next {
                        args["cursor"] = json!(c);
                    }
                    let results = sdk.client(&app.base, TOKEN, json!([{"op": "dlqDeleteAll", "args": args}]));
                    assert_all_ok(sdk, &results);
                    deleted.push(results[0]["result"]["deleted"].as_i64().unwrap());
                    next = cursor(&results[0]["result"]);
                    if next.is_none() {
                        break;
                    }
                }
                assert_eq!(deleted, [3, 2], "JS: two pages");
                assert!(server_dlq().await.is_empty(), "JS: all deleted");
            }
        }
    }
    app.stop().await;
}

async fn the_python_client_rotates_the_signing_keys(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let (_, before) = app.get_json("/v2/keys").await;
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "keysGet", "args": {}},
                {"op": "keysRotate", "args": {}},
                {"op": "keysGet", "args": {}},
            ]),
        );
        if let Sdk::Js = sdk {
            assert_not_in_sdk(sdk, &results);
            assert_eq!(app.get_json("/v2/keys").await.1, before, "JS: the keys are unchanged");
            continue;
        }
        assert_all_ok(sdk, &results);
        assert_eq!(results[0]["result"], before, "Python: get shows the server's keys");
        let rotated = &results[1]["result"];
        assert_eq!(
            rotated["current"], before["next"],
            "Python: the next key becomes current"
        );
        let new_next = rotated["next"].as_str().unwrap();
        assert!(new_next.starts_with("sig_"), "Python: {rotated}");
        assert_ne!(new_next, before["next"].as_str().unwrap());
        assert_ne!(new_next, before["current"].as_str().unwrap());
        assert_eq!(&results[2]["result"], rotated, "Python: get after rotate");
        assert_eq!(
            &app.get_json("/v2/keys").await.1,
            rotated,
            "Python: the server keeps the new pair"
        );

        let url = format!("{}/rotated", receiver.url);
        app.publish_ok(&url, "signed anew", &[]).await;
        let before_count = receiver.requests().len();
        assert_eq!(app.run_until_idle().await, 1);
        let signature = receiver.requests()[before_count]
            .header("upstash-signature")
            .unwrap()
            .to_string();
        let case = [(signature, "signed anew".to_string(), Some(url.clone()))];
        let (current, old) = (
            rotated["current"].as_str().unwrap(),
            before["current"].as_str().unwrap(),
        );
        assert_eq!(
            sdk.verify(current, current, &case)
                .iter()
                .map(|r| r["ok"] == true)
                .collect::<Vec<_>>(),
            [true],
            "Python: signed with the new current key"
        );
        assert_eq!(
            sdk.verify(old, old, &case)
                .iter()
                .map(|r| r["ok"] == true)
                .collect::<Vec<_>>(),
            [false],
            "Python: not with the retired one"
        );
    }
    app.stop().await;
}

async fn the_python_client_creates_a_json_schedule(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let id = format!("json-digest-{}", tag(sdk));
        let url = format!("{}/{sdk:?}/digest", receiver.url);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "scheduleCreateJSON", "args": {"destination": url, "cron": "*/5 * * * *", "scheduleId": id,
                    "body": {"digest": ["a", "b"]}, "headers": {"X-Kind": "digest"}}},
                {"op": "scheduleGet", "args": {"scheduleId": id}},
            ]),
        );
        if let Sdk::Js = sdk {
            assert_not_in_sdk(sdk, &results[..1]);
            assert_eq!(results[1]["status"], 404, "JS: nothing was created: {results:?}");
            continue;
        }
        assert_all_ok(sdk, &results);
        assert_eq!(results[0]["result"]["scheduleId"], id.as_str(), "Python: {results:?}");
        let got = &results[1]["result"];
        let body: Value = serde_json::from_str(got["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({"digest": ["a", "b"]}), "Python: {got}");
        assert_eq!(
            got["headers"]["Content-Type"],
            json!(["application/json"]),
            "Python: {got}"
        );
        assert_eq!(got["next_schedule_time"], T0 + 300_000, "Python: {got}");
        let (status, server) = app.get_json(&format!("/v2/schedules/{id}")).await;
        assert_eq!((status, &server["body"]), (200, &got["body"]));

        app.clock.set_ms(T0 + 300_000);
        assert_eq!(app.scheduler.run_once().await.unwrap(), 1, "Python: fired at 00:05");
        let before = receiver.requests().len();
        assert_eq!(app.run_until_idle().await, 1);
        let delivered = receiver.requests().remove(before);
        assert_eq!(delivered.header("upstash-schedule-id"), Some(id.as_str()));
        assert_eq!(delivered.header("content-type"), Some("application/json"));
        assert_eq!(delivered.header("x-kind"), Some("digest"));
        assert_eq!(json_body(&delivered), json!({"digest": ["a", "b"]}));
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "scheduleDelete", "args": {"scheduleId": id}}]),
        );
        assert_all_ok(sdk, &results);
        assert_eq!(app.get_json(&format!("/v2/schedules/{id}")).await.0, 404);
    }
    app.stop().await;
}
