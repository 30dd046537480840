//! The official SDK clients (JS and Python) against the server for the features beyond plain publishing:
//! URL groups, batches, queues, deduplication, callbacks, retry-delay expressions and logs. Each test checks
//! both what the SDK returned and what the destination actually got.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Recorded, Reply};
use crate::common::sdk::Sdk;
use crate::common::{spawn_app, Backend, Options, T0, TOKEN};

backend_tests!(
    the_official_clients_manage_url_groups_and_publish_to_them,
    the_official_clients_batch_a_url_a_url_group_and_a_queue_in_one_call,
    the_official_clients_upsert_get_list_resume_and_delete_queues,
    the_official_clients_get_the_first_message_back_for_a_duplicate,
    the_official_clients_set_callbacks_that_report_the_attempt_and_the_final_failure,
    the_official_clients_set_a_retry_delay_expression_that_times_the_next_attempt,
    the_official_clients_read_and_filter_logs_page_by_page,
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
