//! `context.waitForEvent`, `notify` (global, lookback, from another run) and webhooks, driven by the
//! official `@upstash/workflow` SDK through tests/workflow/js/server.mjs. Deadlines move only with the
//! test clock and fire when the maintenance step looks at them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::workflow_app::{app, run_state, WorkflowApp};
use crate::common::{Backend, TestApp};
use postdate::domain::workflow::RunState;

backend_tests!(
    a_waiting_step_resumes_with_the_data_of_a_notify,
    a_wait_times_out_at_its_deadline,
    a_lookback_notify_before_the_wait_resumes_it_at_once,
    one_run_notifies_another_with_context_notify,
    a_webhook_call_resumes_the_run_with_the_request,
    bad_waits_and_notifies_are_refused_and_change_nothing,
    a_canceled_run_waits_no_more,
    a_runs_webhooks_take_a_bounded_number_of_calls_a_second,
);

fn waiters(wf: &WorkflowApp, event_id: &str) -> Vec<Value> {
    let (ok, answer) = wf.client("getWaiters", &json!({ "eventId": event_id }));
    assert!(ok, "getWaiters failed: {answer}");
    answer.as_array().unwrap().clone()
}

fn wait_result(wf: &WorkflowApp, run_id: &str) -> Value {
    let results = wf.events_of(run_id, "wait-result");
    assert_eq!(results.len(), 1, "the step after the wait ran once: {results:?}");
    results[0].clone()
}

async fn a_waiting_step_resumes_with_the_data_of_a_notify(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let event = "order-42-paid";
    let run_id = wf.trigger(json!({"url": wf.url("/wf/wait"), "body": {"eventId": event, "timeout": "1h"}}));
    app.run_until_idle().await;
    assert!(
        wf.events_of(&run_id, "wait-result").is_empty(),
        "nothing resumes the run yet"
    );
    let waiting = waiters(&wf, event);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["url"], wf.url("/wf/wait"));
    assert_eq!(
        waiting[0]["deadline"],
        (app.clock.now_ms() + 3_600_000) / 1000,
        "the deadline in Unix seconds"
    );

    let (ok, notified) = wf.client("notify", &json!({"eventId": event, "eventData": {"paid": 42}}));
    assert!(ok, "{notified}");
    let notified = notified.as_array().unwrap();
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(notified[0]["workflowRunId"], run_id);
    assert!(notified[0]["messageId"].as_str().unwrap().starts_with("msg_"));
    assert!(waiters(&wf, event).is_empty(), "the waiter is gone once notified");

    app.run_until_idle().await;
    let result = wait_result(&wf, &run_id);
    assert_eq!(result["eventData"], json!({"paid": 42}));
    assert_eq!(result["timeout"], false);
    assert_eq!(run_state(&app, &run_id).await, RunState::Success);

    let (ok, again) = wf.client("notify", &json!({"eventId": event, "eventData": "late"}));
    assert!(ok, "{again}");
    assert_eq!(again, json!([]), "nobody waits any more, and the event is not kept");
    assert_eq!(app.run_until_idle().await, 0);
}

async fn a_wait_times_out_at_its_deadline(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let event = "never-comes";
    let run_id = wf.trigger(json!({"url": wf.url("/wf/wait"), "body": {"eventId": event, "timeout": "30s"}}));
    app.run_until_idle().await;
    app.clock.advance_ms(29_999);
    assert_eq!(
        app.maintenance.expire_waiters_once().await.unwrap(),
        0,
        "before its deadline"
    );
    assert_eq!(app.run_until_idle().await, 0);
    app.clock.advance_ms(1);
    assert_eq!(
        app.maintenance.expire_waiters_once().await.unwrap(),
        1,
        "at its deadline"
    );
    assert_eq!(app.maintenance.expire_waiters_once().await.unwrap(), 0, "once");
    app.run_until_idle().await;
    let result = wait_result(&wf, &run_id);
    assert_eq!(result["timeout"], true, "{result}");
    assert_eq!(result["eventData"], Value::Null);
    assert_eq!(run_state(&app, &run_id).await, RunState::Success);
    let (ok, late) = wf.client("notify", &json!({"eventId": event, "eventData": 1}));
    assert_eq!((ok, late), (true, json!([])), "a timed-out step is not resumed twice");
}

async fn a_lookback_notify_before_the_wait_resumes_it_at_once(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let event = "early-bird";
    let run_id = wf.trigger(json!({
        "url": wf.url("/wf/wait"),
        "body": {"eventId": event, "timeout": "1h"},
        "workflowRunId": "lookback-1",
    }));
    assert_eq!(run_id, "wfr_lookback-1");
    let notify = json!({"eventId": event, "eventData": "first", "workflowRunId": run_id});
    let (ok, kept) = wf.client("notify", &notify);
    assert_eq!(
        (ok, kept),
        (true, json!([])),
        "nobody waits yet: the event is kept for the run"
    );
    let replaced = json!({"eventId": event, "eventData": "second", "workflowRunId": run_id});
    assert!(
        wf.client("notify", &replaced).0,
        "a later lookback notify replaces the kept event"
    );

    app.run_until_idle().await;
    assert_eq!(
        wait_result(&wf, &run_id)["eventData"],
        "second",
        "the wait took the kept event at once"
    );
    assert!(waiters(&wf, event).is_empty());
    assert_eq!(run_state(&app, &run_id).await, RunState::Success);

    let (ok, error) = wf.client("notify", &notify);
    assert!(!ok, "a lookback notify of an ended run is refused: {error}");
    assert_eq!(error["status"], 404, "{error}");
    let unknown = json!({"eventId": event, "eventData": 1, "workflowRunId": "wfr_nobody"});
    let (ok, error) = wf.client("notify", &unknown);
    assert_eq!((ok, &error["status"]), (false, &json!(404)), "{error}");
}

async fn one_run_notifies_another_with_context_notify(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let event = "between-runs";
    let waiting = wf.trigger(json!({"url": wf.url("/wf/wait"), "body": {"eventId": event}}));
    app.run_until_idle().await;
    let notifier = wf.trigger(json!({
        "url": wf.url("/wf/notifier"),
        "body": {"eventId": event, "eventData": "hello"},
    }));
    app.run_until_idle().await;

    let notified = wf.events_of(&notifier, "notify-result");
    assert_eq!(notified.len(), 1, "{notified:?}");
    let response = notified[0]["result"]["notifyResponse"].as_array().unwrap().clone();
    assert_eq!(response.len(), 1, "{response:?}");
    assert_eq!(response[0]["workflowRunId"], waiting);
    assert_eq!(wait_result(&wf, &waiting)["eventData"], "hello");
    assert_eq!(run_state(&app, &waiting).await, RunState::Success);
    assert_eq!(run_state(&app, &notifier).await, RunState::Success);
}

async fn a_webhook_call_resumes_the_run_with_the_request(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/webhook"), "body": {"timeout": "1h"}}));
    app.run_until_idle().await;
    let created = wf.events_of(&run_id, "webhook-created");
    assert_eq!(created.len(), 1, "{created:?}");
    let hook = created[0]["webhookUrl"].as_str().unwrap().to_string();
    let path = hook.strip_prefix(&app.base).expect("the webhook is on this server");
    assert!(
        path.starts_with(&format!("/v2/workflows/hooks/postdate-test/{run_id}/")),
        "{path}"
    );

    // The third party holds no token.
    let response = app
        .request_without_token(Method::POST, &format!("{path}?ref=7"))
        .header("x-partner", "acme")
        .body("paid in full")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.run_until_idle().await;
    let received = wf.events_of(&run_id, "webhook-received");
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert_eq!(request["timeout"], false);
    assert_eq!(request["method"], "POST");
    assert_eq!(request["body"], "paid in full");
    assert_eq!(request["headers"]["x-partner"], "acme");
    assert!(request["url"].as_str().unwrap().ends_with("?ref=7"), "{request}");
    assert_eq!(run_state(&app, &run_id).await, RunState::Success);

    for (target, why) in [
        (path.to_string(), "a hook of an ended run"),
        (
            "/v2/workflows/hooks/postdate-test/wfr_nobody/evt".to_string(),
            "a hook of an unknown run",
        ),
    ] {
        let (status, body) = app
            .send_json(app.request_without_token(Method::POST, &target).body("x"))
            .await;
        assert_eq!(status, 404, "{why}: {body}");
    }
}

/// A run that exists, started by a plain publish with the workflow headers.
async fn started_run(app: &TestApp, receiver: &Receiver, run_id: &str) {
    let trigger = app
        .publish(&format!("{}/wf", receiver.url))
        .header("Upstash-Workflow-Init", "true")
        .header("Upstash-Workflow-RunId", run_id)
        .body("{}");
    assert_eq!(app.send_json(trigger).await.0, 201);
}

fn wait_body(url: &str, timeout: Value, step: Value) -> String {
    json!({"url": url, "timeout": timeout, "timeoutUrl": url, "step": step}).to_string()
}

async fn bad_waits_and_notifies_are_refused_and_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    let run_id = "wfr_waits";
    started_run(&app, &receiver, run_id).await;
    let url = format!("{}/wf", receiver.url);
    let step = json!({"stepId": 1, "stepType": "Wait", "stepName": "w", "concurrent": 1});
    let wait = |event: &str, run: Option<&str>, body: String| {
        let mut request = app.request(Method::POST, &format!("/v2/wait/{event}")).body(body);
        if let Some(run) = run {
            request = request.header("Upstash-Workflow-RunId", run);
        }
        request
    };
    let good = wait_body(&url, json!("10s"), step.clone());
    for (request, mentions) in [
        (wait("e", None, good.clone()), "Upstash-Workflow-RunId"),
        (wait("e", Some("wfr_nobody"), good.clone()), "wfr_nobody"),
        (wait("e", Some(run_id), "{not json".into()), "JSON"),
        (
            wait("e", Some(run_id), wait_body(&url, json!("10s"), json!("step"))),
            "step",
        ),
        (
            wait("e", Some(run_id), wait_body(&url, json!("forever"), step.clone())),
            "timeout",
        ),
        (
            wait("e", Some(run_id), wait_body(&url, json!(-1), step.clone())),
            "timeout",
        ),
        (
            wait(
                "e",
                Some(run_id),
                wait_body("ftp://127.0.0.1/x", json!("1s"), step.clone()),
            ),
            "url",
        ),
        (wait(&"e".repeat(300), Some(run_id), good.clone()), "event ids"),
    ] {
        app.expect_error(request, 400, mentions).await;
    }
    assert!(
        app.store.workflow_waiters("e").await.unwrap().is_empty(),
        "no bad wait was kept"
    );

    // A flood of waits from one run stops at the cap, and the cap changes nothing.
    for _ in 0..100 {
        assert_eq!(app.send_json(wait("flood", Some(run_id), good.clone())).await.0, 200);
    }
    app.expect_error(wait("flood", Some(run_id), good.clone()), 400, "100 steps waiting")
        .await;
    assert_eq!(app.store.workflow_waiters("flood").await.unwrap().len(), 100);

    let notify = |path: &str| app.request(Method::POST, path).body("data");
    app.expect_error(notify(&format!("/v2/notify/{}", "e".repeat(300))), 400, "event ids")
        .await;
    app.expect_error(notify("/v2/notify/wfr_nobody/e"), 404, "wfr_nobody")
        .await;
    app.expect_error(notify("/v2/notify/bad%20run/e"), 400, "run ids").await;
    let (status, answer) = app.send_json(notify("/v2/notify/nobody-waits")).await;
    assert_eq!(
        (status, answer),
        (200, json!([])),
        "an event nobody waits for resumes nothing"
    );
    assert_eq!(
        app.store.workflow_waiters("flood").await.unwrap().len(),
        100,
        "nothing changed"
    );
    assert_eq!(app.run_until_idle().await, 1, "only the run's first delivery");
}

async fn a_canceled_run_waits_no_more(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let event = "never-comes";
    let run_id = wf.trigger(json!({"url": wf.url("/wf/wait"), "body": {"eventId": event, "timeout": "1h"}}));
    app.run_until_idle().await;
    assert_eq!(waiters(&wf, event).len(), 1);
    let (ok, canceled) = wf.client("cancel", &json!(run_id));
    assert!(ok, "{canceled}");
    assert_eq!(canceled["cancelled"], 1);
    assert!(waiters(&wf, event).is_empty(), "an ended run's waiter is not listed");
    let (ok, notified) = wf.client("notify", &json!({"eventId": event, "eventData": "late"}));
    assert!(ok, "{notified}");
    assert_eq!(notified, json!([]), "nothing resumes an ended run");
    app.clock.advance_ms(3_600_000);
    assert_eq!(
        app.maintenance.expire_waiters_once().await.unwrap(),
        0,
        "no waiter is left to time out"
    );
    assert_eq!(app.run_until_idle().await, 0, "nor does its deadline");
    assert_eq!(run_state(&app, &run_id).await, RunState::Canceled);
}

async fn a_runs_webhooks_take_a_bounded_number_of_calls_a_second(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/sleep"), "body": {"sleep": "1h"}}));
    app.run_until_idle().await;
    let call = || async {
        let path = format!("/v2/workflows/hooks/postdate-test/{run_id}/evt");
        app.request_without_token(Method::POST, &path)
            .body("x")
            .send()
            .await
            .unwrap()
    };
    for n in 0..20 {
        assert_eq!(call().await.status(), 200, "call {n} is within the run's share");
    }
    let refused = call().await;
    assert_eq!(refused.status(), 429);
    let retry_after = refused.headers()["retry-after"].to_str().unwrap().to_string();
    assert_eq!(retry_after, "1");
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("too many requests"), "{body}");
    app.clock.advance_ms(1_000);
    assert_eq!(call().await.status(), 200, "the next second has a new share");
}
