//! Upstash Workflow runs driven by the official `@upstash/workflow` SDK through a real `serve()` endpoint
//! (tests/workflow/js/server.mjs), with the SDK's own Receiver checking every delivery's signature. The
//! engine is stepped: each step delivers what is due, and the SDK publishes the next step during its
//! delivery; time moves only when the test moves the clock.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::workflow_app::{app, run_state, run_to_end, WorkflowApp};
use crate::common::Backend;
use postdate::domain::workflow::RunState;

backend_tests!(
    a_triggered_run_executes_each_step_once_and_ends_with_its_result,
    a_second_trigger_with_the_same_run_id_starts_nothing,
    parallel_steps_run_each_branch_once_and_then_join,
    sleeps_wait_for_their_time,
    a_step_that_keeps_failing_fails_the_run_and_calls_the_failure_function_once,
    context_cancel_ends_the_run_before_its_next_step,
    canceling_a_sleeping_run_cancels_its_waiting_step,
    a_call_reaches_the_third_party_and_its_final_answer_reaches_the_run,
    a_run_started_by_a_plain_delivery_to_serve_runs_without_the_forwarded_connection_headers,
    a_run_whose_endpoint_is_not_a_workflow_endpoint_fails_at_once,
    appends_to_ended_or_unknown_runs_and_bad_workflow_headers_are_refused,
);

fn results(wf: &WorkflowApp, run_id: &str) -> Vec<Value> {
    wf.events_of(run_id, "result")
}

async fn a_triggered_run_executes_each_step_once_and_ends_with_its_result(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({
        "url": wf.url("/wf/sequential"),
        "body": {"input": "hi"},
        "headers": {"x-test-header": "h1"},
        "label": "nightly",
        "retries": 2,
    }));
    assert!(run_id.starts_with("wfr_"), "{run_id}");
    assert_eq!(run_state(&app, &run_id).await, RunState::Started);
    let (status, history) = app.get_json(&format!("/v2/workflows/runs/{run_id}")).await;
    assert_eq!(status, 200, "a started run's history is served (LazyFetch)");
    assert_eq!(
        history.as_array().unwrap().len(),
        1,
        "the initial payload only: {history}"
    );

    // The trigger's delivery and one per step; each step publishes the next during its delivery.
    assert_eq!(app.run_until_idle().await, 4);
    assert_eq!(wf.steps(&run_id), ["step-1", "step-2", "step-3"]);
    let step_3 = &wf.events_of(&run_id, "step")[2];
    assert_eq!(
        step_3["out"]["label"], "nightly",
        "the trigger's label reaches every step"
    );
    let results = results(&wf, &run_id);
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["result"], json!({"result": "one:hi|two|three"}));
    assert_eq!(results[0]["headerSeen"], "h1", "the trigger's headers reach every step");

    let run = app.store.workflow_run_get(&run_id).await.unwrap().unwrap();
    assert_eq!(run.state, RunState::Success);
    let result: Value = serde_json::from_slice(run.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"result": "one:hi|two|three"}));
    assert!(run.completed_at.is_some());
    let (status, _) = app.get_json(&format!("/v2/workflows/runs/{run_id}")).await;
    assert_eq!(status, 404, "an ended run's history is not served");
    let messages = app.store.workflow_message_ids(&run_id).await.unwrap();
    assert_eq!(messages.len(), 4, "the initial payload and three steps");
    for id in &messages {
        let message = app.message(id).await;
        assert_eq!(
            message["maxRetries"], 2,
            "the trigger's retries apply to every step: {message}"
        );
        assert_eq!(message["labels"], json!(["nightly"]));
    }
}

async fn a_second_trigger_with_the_same_run_id_starts_nothing(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let trigger = json!({"url": wf.url("/wf/sequential"), "body": {"input": "a"}, "workflowRunId": "same-id"});
    let run_id = wf.trigger(trigger.clone());
    assert_eq!(run_id, "wfr_same-id");
    assert_eq!(app.run_until_idle().await, 4);
    assert_eq!(wf.trigger(trigger), run_id, "the SDK takes the duplicate as accepted");
    assert_eq!(app.run_until_idle().await, 0, "nothing is delivered again");
    assert_eq!(wf.steps(&run_id).len(), 3);
    assert_eq!(results(&wf, &run_id).len(), 1);
}

async fn parallel_steps_run_each_branch_once_and_then_join(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/parallel"), "body": {}}));
    run_to_end(&app).await;
    let mut branches = wf.steps(&run_id);
    assert_eq!(branches.pop().as_deref(), Some("sum"), "the join runs last, once");
    branches.sort();
    assert_eq!(branches, ["p-1", "p-2", "p-3"], "each branch runs exactly once");
    let sum = wf.events_of(&run_id, "step").pop().unwrap();
    assert_eq!(sum["inputs"], json!([10, 20, 30]));
    assert_eq!(results(&wf, &run_id)[0]["result"], 60);
    assert_eq!(run_state(&app, &run_id).await, RunState::Success);
}

async fn sleeps_wait_for_their_time(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/sleep"), "body": {"sleep": "10s", "untilSeconds": 60}}));
    app.run_until_idle().await;
    assert_eq!(wf.steps(&run_id), ["start"]);
    app.clock.advance_ms(9_999);
    assert_eq!(app.run_until_idle().await, 0, "the nap is not over");
    app.clock.advance_ms(1);
    app.run_until_idle().await;
    assert_eq!(wf.steps(&run_id), ["start", "pick-until"]);
    let until = wf.events_of(&run_id, "step")[1]["out"].as_i64().unwrap();
    app.clock.set_ms(until * 1000 - 1);
    assert_eq!(app.run_until_idle().await, 0, "sleepUntil waits for its time");
    app.clock.set_ms(until * 1000);
    app.run_until_idle().await;
    assert_eq!(wf.steps(&run_id), ["start", "pick-until", "end"]);
    assert_eq!(run_state(&app, &run_id).await, RunState::Success);
}

async fn a_step_that_keeps_failing_fails_the_run_and_calls_the_failure_function_once(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/fail"), "body": {"why": "test"}, "retries": 2}));
    run_to_end(&app).await;
    let boom: Vec<i64> = wf
        .events_of(&run_id, "step")
        .iter()
        .filter(|e| e["name"] == "boom")
        .map(|e| e["retried"].as_i64().unwrap())
        .collect();
    assert_eq!(boom, [0, 1, 2], "the trigger's retries apply to the failing step");
    assert_eq!(run_state(&app, &run_id).await, RunState::Failed);
    let failures = wf.events_of(&run_id, "failure-function");
    assert_eq!(failures.len(), 1, "the failure function runs once: {failures:?}");
    assert_eq!(failures[0]["failStatus"], 500);
    assert!(
        failures[0]["failResponse"].as_str().unwrap().contains("boom in fail"),
        "{failures:?}"
    );
    assert_eq!(
        failures[0]["payload"],
        json!({"why": "test"}),
        "sourceBody is the initial payload"
    );
    assert_eq!(failures[0]["url"], wf.url("/wf/fail"));
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"].as_array().unwrap().len(), 1, "{dlq}");
}

async fn context_cancel_ends_the_run_before_its_next_step(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/cancel"), "body": {}}));
    run_to_end(&app).await;
    assert_eq!(wf.events_of(&run_id, "before-cancel").len(), 1);
    assert!(wf.steps(&run_id).is_empty(), "the step after the cancel never runs");
    assert_eq!(run_state(&app, &run_id).await, RunState::Canceled);
}

async fn canceling_a_sleeping_run_cancels_its_waiting_step(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/sleep"), "body": {"sleep": "1h"}}));
    app.run_until_idle().await;
    assert_eq!(wf.steps(&run_id), ["start"]);
    let path = format!("/v2/workflows/runs/{run_id}?cancel=true");
    let (status, answer) = app.send_json(app.request(Method::DELETE, &path)).await;
    assert_eq!(
        (status, &answer["workflowState"]),
        (200, &json!("RUN_CANCELED")),
        "{answer}"
    );
    let sleeping = app.store.workflow_message_ids(&run_id).await.unwrap().pop().unwrap();
    assert_eq!(app.message(&sleeping).await["state"], "CANCELED");
    app.clock.advance_ms(3_600_000);
    assert_eq!(
        run_to_end(&app).await,
        0,
        "nothing of the run is delivered after the cancel"
    );
    assert_eq!(wf.steps(&run_id), ["start"]);
    let (status, again) = app.send_json(app.request(Method::DELETE, &path)).await;
    assert_eq!(
        (status, &again["workflowState"]),
        (200, &json!("RUN_CANCELED")),
        "ending twice is 2xx"
    );
}

async fn a_call_reaches_the_third_party_and_its_final_answer_reaches_the_run(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let calls = json!([{"url": wf.url("/third-party?status=503"), "body": {"q": 1}, "retries": 1}]);
    let run_id = wf.trigger(json!({"url": wf.url("/wf/call"), "body": {"calls": calls}}));
    run_to_end(&app).await;
    let third_party: Vec<Value> = wf.events().into_iter().filter(|e| e["kind"] == "third-party").collect();
    assert_eq!(third_party.len(), 2, "the call's own retries apply to the third party");
    assert_eq!(third_party[0]["body"], "{\"q\":1}");
    let results = wf.events_of(&run_id, "call-result");
    assert_eq!(
        results.len(),
        1,
        "only the final attempt's answer reaches the run: {results:?}"
    );
    assert_eq!(results[0]["status"], 503, "a non-2xx answer is a result");
    assert_eq!(results[0]["body"]["status"], 503);
    assert_eq!(run_state(&app, &run_id).await, RunState::Success);
    assert_eq!(wf.events_of(&run_id, "result")[0]["result"], json!([503]));
}

async fn a_run_started_by_a_plain_delivery_to_serve_runs_without_the_forwarded_connection_headers(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    // A plain QStash message to the route: the SDK starts a run from it, forwarding every header it got
    // (host, content-length, this delivery's upstash-signature and message id).
    let url = wf.url("/wf/sequential");
    app.publish_ok(&url, "{\"input\":\"plain\"}", &[("Content-Type", "application/json")])
        .await;
    run_to_end(&app).await;
    let result = wf
        .events()
        .into_iter()
        .find(|e| e["kind"] == "result")
        .expect("the run ended");
    let run_id = result["runId"].as_str().unwrap();
    assert_eq!(result["result"], json!({"result": "one:plain|two|three"}));
    assert_eq!(run_state(&app, run_id).await, RunState::Success);
    let first = app.store.workflow_message_ids(run_id).await.unwrap()[0].clone();
    let header = &app.message(&first).await["header"];
    for name in [
        "Content-Length",
        "Host",
        "Connection",
        "Upstash-Signature",
        "Upstash-Message-Id",
    ] {
        assert!(header.get(name).is_none(), "{name} is not delivered: {header}");
    }
    assert_eq!(header["Upstash-Workflow-Runid"], json!([run_id]));
}

async fn a_run_whose_endpoint_is_not_a_workflow_endpoint_fails_at_once(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    let item = json!([{
        "destination": format!("{}/not-a-workflow", receiver.url),
        "headers": {
            "Upstash-Workflow-Init": "true",
            "Upstash-Workflow-RunId": "wfr_plain",
            "Upstash-Feature-Set": "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig",
            "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1",
        },
        "body": "{}",
    }]);
    let (status, answer) = app.send_json(app.request(Method::POST, "/v2/batch").json(&item)).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        run_to_end(&app).await,
        1,
        "one attempt: the answer shows it is no workflow endpoint"
    );
    assert_eq!(run_state(&app, "wfr_plain").await, RunState::Failed);
    let (_, dlq) = app.get_json("/v2/dlq").await;
    let error = dlq["messages"][0]["responseBody"].as_str().map(str::to_string);
    let logged = app
        .get_json(&format!(
            "/v2/logs?messageId={}",
            answer[0]["messageId"].as_str().unwrap()
        ))
        .await;
    assert!(
        logged.1.to_string().contains("non-workflow destination"),
        "the log says why: {} {error:?}",
        logged.1
    );
    let delivered = &receiver.requests()[0];
    assert_eq!(delivered.header("upstash-workflow-runid"), Some("wfr_plain"));
    assert_eq!(delivered.header("upstash-workflow-sdk-version"), Some("1"));
    let history: Value = serde_json::from_slice(&delivered.body).unwrap();
    assert_eq!(history[0]["callType"], "step", "the body is the history: {history}");
}

async fn appends_to_ended_or_unknown_runs_and_bad_workflow_headers_are_refused(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    let url = format!("{}/wf", receiver.url);
    let publish = |headers: &[(&str, &str)]| {
        let mut request = app.publish(&url).body("{\"stepId\":1}");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };
    let append = [
        ("Upstash-Workflow-Init", "false"),
        ("Upstash-Workflow-RunId", "wfr_nobody"),
    ];
    app.expect_error(publish(&append), 400, "no workflow run wfr_nobody")
        .await;
    let trigger = [
        ("Upstash-Workflow-Init", "true"),
        ("Upstash-Workflow-RunId", "wfr_ended"),
    ];
    let (status, _) = app.send_json(publish(&trigger)).await;
    assert_eq!(status, 201);
    let (status, _) = app
        .send_json(
            app.request(Method::DELETE, "/v2/workflows/runs/wfr_ended?cancel=false")
                .body("42"),
        )
        .await;
    assert_eq!(status, 200);
    let ended = [
        ("Upstash-Workflow-Init", "false"),
        ("Upstash-Workflow-RunId", "wfr_ended"),
    ];
    app.expect_error(publish(&ended), 400, "has ended (RUN_SUCCESS)").await;
    assert_eq!(
        app.store.workflow_message_ids("wfr_ended").await.unwrap().len(),
        1,
        "nothing appended"
    );
    for (headers, mentions) in [
        (vec![("Upstash-Workflow-RunId", "wfr_x")], "Upstash-Workflow-Init"),
        (vec![("Upstash-Workflow-Init", "true")], "Upstash-Workflow-RunId"),
        (
            vec![("Upstash-Workflow-Init", "true"), ("Upstash-Workflow-RunId", "wfr_a b")],
            "Upstash-Workflow-RunId",
        ),
        (
            vec![
                ("Upstash-Workflow-Init", "false"),
                ("Upstash-Workflow-RunId", "wfr_ended"),
                ("Upstash-Workflow-CallType", "sideways"),
            ],
            "Upstash-Workflow-CallType",
        ),
    ] {
        app.expect_error(publish(&headers), 400, mentions).await;
    }
    let bad_end = app.request(Method::DELETE, "/v2/workflows/runs/wfr_ended?cancel=maybe");
    app.expect_error(bad_end, 400, "cancel").await;
    let unknown_key = app.request(Method::DELETE, "/v2/workflows/runs/wfr_ended?force=true");
    app.expect_error(unknown_key, 400, "force").await;
    assert_eq!(
        run_state(&app, "wfr_ended").await,
        RunState::Success,
        "the bad requests changed nothing"
    );
}
