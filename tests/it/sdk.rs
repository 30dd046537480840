//! The official SDKs as real clients and receivers: signatures verify with `Receiver` (JS and Python),
//! and the clients publish, read, cancel and work the DLQ against the server unchanged.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::sdk::Sdk;
use crate::common::{spawn_app, Backend, Options, TestApp, T0, TOKEN};

backend_tests!(
    deliveries_verify_with_both_official_receivers_before_and_after_a_key_rotation,
    deliveries_verify_with_the_readme_verifiers_and_a_jwt_library,
    the_official_clients_publish_read_and_cancel_messages,
    the_official_clients_list_retry_and_delete_dlq_entries,
    the_official_clients_create_list_get_pause_resume_and_delete_schedules,
);

fn sdks() -> Vec<Sdk> {
    [Sdk::Js, Sdk::Python].into_iter().filter_map(Sdk::available).collect()
}

async fn keys(app: &TestApp) -> (String, String) {
    let (_, keys) = app.get_json("/v2/keys").await;
    (
        keys["current"].as_str().unwrap().into(),
        keys["next"].as_str().unwrap().into(),
    )
}

/// (signature, body, url) of each recorded delivery, plus two that must fail: a changed body, another URL.
fn cases(receiver: &Receiver, url: &str) -> Vec<(String, String, Option<String>)> {
    let mut cases = Vec::new();
    for request in receiver.requests() {
        let signature = request.header("upstash-signature").unwrap().to_string();
        let body = String::from_utf8(request.body.to_vec()).unwrap();
        cases.push((signature.clone(), body.clone(), Some(url.to_string())));
        cases.push((signature.clone(), body.clone(), None));
        cases.push((signature.clone(), format!("{body} "), None));
        cases.push((signature, body, Some(format!("{url}&extra=1"))));
    }
    cases
}

fn oks(results: &[Value]) -> Vec<bool> {
    results.iter().map(|r| r["ok"] == true).collect()
}

async fn deliveries_verify_with_both_official_receivers_before_and_after_a_key_rotation(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let url = format!("{}/api/hook?tenant=7&x=a%2Bb", receiver.url);
    app.publish_ok(&url, "{\"hello\":\"wörld\"}", &[("Content-Type", "application/json")])
        .await;
    app.publish_ok(&url, "", &[]).await;
    assert_eq!(app.run_until_idle().await, 2);
    let (current, next) = keys(&app).await;
    assert!(
        current.starts_with("sig_") && current.len() >= 32,
        "keys are generated on first start"
    );
    let expected = [true, true, false, false, true, true, false, false];
    for sdk in sdks() {
        let results = sdk.verify(&current, &next, &cases(&receiver, &url));
        assert_eq!(oks(&results), expected, "{sdk:?}: {results:?}");
    }

    let (status, rotated) = app.send_json(app.request(Method::POST, "/v2/keys/rotate")).await;
    assert_eq!(status, 200);
    assert_eq!(rotated["current"], next.as_str(), "the next key becomes current");
    assert_ne!(rotated["next"], next.as_str());
    assert_eq!(keys(&app).await.0, next);
    let before = receiver.requests().len();
    app.publish_ok(&url, "after rotation", &[]).await;
    assert_eq!(app.run_until_idle().await, 1);
    let signature = receiver.requests()[before]
        .header("upstash-signature")
        .unwrap()
        .to_string();
    let case = [(signature, "after rotation".to_string(), Some(url.clone()))];
    let (new_current, new_next) = keys(&app).await;
    for sdk in sdks() {
        assert_eq!(
            oks(&sdk.verify(&new_current, &new_next, &case)),
            [true],
            "{sdk:?} with the new pair"
        );
        assert_eq!(
            oks(&sdk.verify(&current, &next, &case)),
            [true],
            "{sdk:?} receivers not yet updated"
        );
        assert_eq!(
            oks(&sdk.verify(&current, &current, &case)),
            [false],
            "{sdk:?} with the retired key only"
        );
    }
    app.stop().await;
}

/// The README's verifiers without an SDK (PyJWT, jose), run from the README's text: they accept what the
/// Receivers accept and refuse a changed body, another URL and a retired key.
async fn deliveries_verify_with_the_readme_verifiers_and_a_jwt_library(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let url = format!("{}/api/hook?tenant=7", receiver.url);
    app.publish_ok(&url, "{\"hello\":\"wörld\"}", &[]).await;
    app.publish_ok(&url, "", &[]).await;
    assert_eq!(app.run_until_idle().await, 2);
    let (current, next) = keys(&app).await;
    let expected = [true, true, false, false, true, true, false, false];
    for sdk in sdks() {
        let results = sdk.verify_with("readme_verify", &current, &next, &cases(&receiver, &url));
        assert_eq!(oks(&results), expected, "{sdk:?}: {results:?}");
        let signed_with_next = sdk.verify_with("readme_verify", &next, &current, &cases(&receiver, &url));
        assert_eq!(
            oks(&signed_with_next),
            expected,
            "{sdk:?} tries the second key: {signed_with_next:?}"
        );
        let retired = sdk.verify_with("readme_verify", &next, &next, &cases(&receiver, &url));
        assert!(
            oks(&retired).iter().all(|ok| !ok),
            "{sdk:?} with a key that did not sign: {retired:?}"
        );
    }
    app.stop().await;
}

async fn the_official_clients_publish_read_and_cancel_messages(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let url = format!("{}/{sdk:?}?via=sdk", receiver.url);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "publish", "args": {"url": url, "body": "hello from the SDK",
                    "headers": {"X-Custom": "c1"}, "retries": 1, "contentType": "text/plain"}},
                {"op": "publishJSON", "args": {"url": url, "body": {"n": 1}, "delay": 60}},
            ]),
        );
        assert!(results.iter().all(|r| r["ok"] == true), "{sdk:?}: {results:?}");
        let id = |r: &Value| {
            let result = &r["result"];
            result
                .get("messageId")
                .or(result.get("message_id"))
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        };
        let (now_id, later_id) = (id(&results[0]), id(&results[1]));
        let before = receiver.requests().len();
        assert_eq!(
            app.run_until_idle().await,
            1,
            "{sdk:?}: only the undelayed message is due"
        );
        let got = receiver.requests().remove(before);
        assert_eq!(got.message_id(), now_id);
        assert_eq!(got.target, format!("/{sdk:?}?via=sdk"));
        assert_eq!(got.body, "hello from the SDK".as_bytes());
        assert_eq!(got.header("x-custom"), Some("c1"));
        assert_eq!(got.header("content-type"), Some("text/plain"));

        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "messageGet", "args": {"messageId": later_id}},
                {"op": "messageCancel", "args": {"messageId": later_id}},
                {"op": "messageGet", "args": {"messageId": "msg_missing"}},
                {"op": "messageCancelMany", "args": {"messageIds": [now_id]}},
                {"op": "messageCancelAll", "args": {}},
            ]),
        );
        assert_eq!(results[0]["ok"], true, "{sdk:?}: {results:?}");
        let message = &results[0]["result"];
        assert_eq!(message.get("url").unwrap(), url.as_str());
        let body: Value = serde_json::from_str(message["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({"n": 1}));
        assert_eq!(results[1]["ok"], true, "{sdk:?}: {results:?}");
        assert_eq!(results[2]["status"], 404, "{sdk:?}: {results:?}");
        assert_eq!(results[3]["ok"], true, "{sdk:?}: {results:?}");
        assert_eq!(results[4]["ok"], true, "{sdk:?}: {results:?}");
        assert_eq!(app.message(&later_id).await["state"], "CANCELED");
        assert_eq!(app.message(&now_id).await["state"], "DELIVERED");
    }
    app.stop().await;
}

async fn the_official_clients_list_retry_and_delete_dlq_entries(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 500,
        headers: vec![],
        body: b"down".to_vec(),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        for i in 0..3 {
            app.publish_ok(
                &format!("{}/{sdk:?}/{i}", receiver.url),
                "x",
                &[("Upstash-Retries", "0")],
            )
            .await;
        }
        assert_eq!(app.run_until_idle().await, 3);
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "dlqList", "args": {"count": 2, "filter": {"responseStatus": 500}}}]),
        );
        assert_eq!(results[0]["ok"], true, "{sdk:?}: {results:?}");
        let page = &results[0]["result"];
        let entries = page["messages"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{sdk:?}: {page}");
        assert!(page["cursor"].is_string(), "{sdk:?}: a cursor while entries remain");
        let dlq_id = |e: &Value| {
            e.get("dlqId")
                .or(e.get("dlq_id"))
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        };
        let status = |e: &Value| e.get("responseStatus").or(e.get("response_status")).cloned().unwrap();
        assert_eq!(status(&entries[0]), 500);
        let (first, second) = (dlq_id(&entries[0]), dlq_id(&entries[1]));

        let mut calls = vec![json!({"op": "dlqDelete", "args": {"dlqId": first}})];
        match sdk {
            Sdk::Js => calls.push(json!({"op": "dlqRetry", "args": {"dlqIds": [second]}})),
            Sdk::Python => {
                calls.push(json!({"op": "dlqGet", "args": {"dlqId": second}}));
                calls.push(json!({"op": "dlqDeleteMany", "args": {"dlqIds": [second]}}));
                calls.push(json!({"op": "keysGet", "args": {}}));
            }
        }
        calls.push(json!({"op": "dlqDelete", "args": {"dlqId": first}}));
        let results = sdk.client(&app.base, TOKEN, Value::Array(calls));
        let last = results.len() - 1;
        assert!(results[..last].iter().all(|r| r["ok"] == true), "{sdk:?}: {results:?}");
        assert_eq!(results[last]["status"], 404, "{sdk:?}: deleting twice is rejected");
        if let Sdk::Js = sdk {
            let retried = &results[1]["result"]["responses"][0]["messageId"];
            assert!(retried.is_string(), "{results:?}");
            let (status, _) = app
                .get_json(&format!("/v2/messages/{}", retried.as_str().unwrap()))
                .await;
            assert_eq!(status, 200);
        }
        if let Sdk::Python = sdk {
            assert_eq!(results[1]["result"]["dlq_id"], second.as_str());
            assert_eq!(results[3]["result"]["current"], keys(&app).await.0.as_str());
        }
        let (_, left) = app.get_json("/v2/dlq").await;
        assert_eq!(left["messages"].as_array().unwrap().len(), 1, "{sdk:?}: {left}");
        let (_, _) = app.send_json(app.request(Method::DELETE, "/v2/dlq?count=100")).await;
        let _ = app.send_json(app.request(Method::DELETE, "/v2/messages")).await;
    }
    app.stop().await;
}

async fn the_official_clients_create_list_get_pause_resume_and_delete_schedules(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    for sdk in sdks() {
        let url = format!("{}/{sdk:?}/report?week=1", receiver.url);
        let id = format!("weekly-report-{sdk:?}").to_lowercase();
        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([
                {"op": "scheduleCreate", "args": {"destination": url, "cron": "0 9 * * 1", "scheduleId": id,
                    "body": "{\"report\":\"weekly\"}", "contentType": "application/json", "retries": 2,
                    "delay": 5, "headers": {"X-Team": "ops"}}},
                {"op": "scheduleGet", "args": {"scheduleId": id}},
                {"op": "schedulePause", "args": {"scheduleId": id}},
                {"op": "scheduleGet", "args": {"scheduleId": id}},
                {"op": "scheduleResume", "args": {"scheduleId": id}},
                {"op": "scheduleList", "args": {}},
                {"op": "scheduleGet", "args": {"scheduleId": "missing"}},
            ]),
        );
        assert!(results[..6].iter().all(|r| r["ok"] == true), "{sdk:?}: {results:?}");
        assert_eq!(results[0]["result"]["scheduleId"], id.as_str());
        let got = &results[1]["result"];
        let field = |v: &Value, camel: &str, snake: &str| v.get(camel).or(v.get(snake)).cloned().unwrap_or(Value::Null);
        assert_eq!(field(got, "scheduleId", "schedule_id"), id.as_str());
        assert_eq!(got["cron"], "0 9 * * 1");
        assert_eq!(got["destination"], url.as_str());
        assert_eq!(got["retries"], 2);
        assert_eq!(got["delay"], 5);
        // 2026-01-01 is a Thursday: the first Monday at 09:00 UTC is 5 January.
        assert_eq!(
            field(got, "nextScheduleTime", "next_schedule_time"),
            1_767_603_600_000i64
        );
        assert_eq!(field(&results[3]["result"], "isPaused", "paused"), true);
        let listed = results[5]["result"].as_array().unwrap();
        assert!(
            listed
                .iter()
                .any(|s| field(s, "scheduleId", "schedule_id") == id.as_str()),
            "{listed:?}"
        );
        assert_eq!(results[6]["status"], 404, "{sdk:?}: {results:?}");

        app.clock.set_ms(1_767_603_600_000);
        assert_eq!(
            app.scheduler.run_once().await.unwrap(),
            1,
            "{sdk:?}: resumed and fired on Monday"
        );
        app.clock.advance_ms(5_000);
        let before = receiver.requests().len();
        assert_eq!(app.run_until_idle().await, 1);
        let delivered = receiver.requests().remove(before);
        assert_eq!(delivered.header("upstash-schedule-id"), Some(id.as_str()));
        assert_eq!(delivered.header("x-team"), Some("ops"));
        assert_eq!(delivered.header("content-type"), Some("application/json"));

        let results = sdk.client(
            &app.base,
            TOKEN,
            json!([{"op": "scheduleDelete", "args": {"scheduleId": id}}]),
        );
        assert_eq!(results[0]["ok"], true, "{sdk:?}: {results:?}");
        let (status, _) = app.get_json(&format!("/v2/schedules/{id}")).await;
        assert_eq!(status, 404);
        app.clock.set_ms(T0);
    }
    app.stop().await;
}
