//! Runs started without the SDK (`POST /v2/trigger/{url}`, `POST /v2/batch/trigger`): the first delivery
//! says `Upstash-Workflow-Unknown-Sdk`, the official SDK's `serve()` re-triggers the run with its own
//! settings, and the run goes on from there, each step once.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::common::workflow_app::{app, run_state, run_to_end, WorkflowApp};
use crate::common::Backend;
use postdate::domain::workflow::RunState;

backend_tests!(
    a_rest_trigger_starts_a_run_the_sdk_takes_over,
    a_batch_trigger_starts_every_run_or_none,
);

async fn a_rest_trigger_starts_a_run_the_sdk_takes_over(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let path = format!("/v2/trigger/{}", wf.url("/wf/sequential"));
    let trigger = || {
        app.request(Method::POST, &path)
            .header("Upstash-Workflow-RunId", "wfr_rest-1")
            .header("Upstash-Label", "rest")
            .header("Content-Type", "application/json")
            .body(r#"{"input":"rest"}"#)
    };
    let (status, answer) = app.send_json(trigger()).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["workflowRunId"], "wfr_rest-1");
    let created_at = answer["workflowCreatedAt"].as_i64().unwrap();
    assert_eq!(created_at, app.clock.now_ms());

    run_to_end(&app).await;
    assert_eq!(wf.steps("wfr_rest-1"), ["step-1", "step-2", "step-3"], "each step once");
    assert_eq!(
        wf.events_of("wfr_rest-1", "step")[0]["out"],
        "one:rest",
        "the REST payload reached the run"
    );
    assert_eq!(run_state(&app, "wfr_rest-1").await, RunState::Success);
    let (_, logs) = app.get_json("/v2/workflows/logs?workflowRunId=wfr_rest-1").await;
    assert_eq!(logs["runs"][0]["labels"], json!(["rest"]), "{logs}");
    assert_eq!(
        logs["runs"][0]["workflowRunCreatedAt"], created_at,
        "the run keeps its creation time"
    );

    let (status, again) = app.send_json(trigger()).await;
    assert_eq!((status, &again["deduplicated"]), (202, &json!(true)), "{again}");
    assert_eq!(again["workflowCreatedAt"], created_at);
    assert_eq!(run_to_end(&app).await, 0, "a duplicate starts nothing");

    let (status, made) = app.send_json(app.request(Method::POST, &path).body("{}")).await;
    assert_eq!(status, 201, "{made}");
    assert!(
        made["workflowRunId"].as_str().unwrap().starts_with("wfr_"),
        "a run id is made: {made}"
    );
    let bad_id = app
        .request(Method::POST, &path)
        .header("Upstash-Workflow-RunId", "bad/id");
    app.expect_error(bad_id, 400, "run ids").await;
}

async fn a_batch_trigger_starts_every_run_or_none(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let bad = json!([
        {"destination": wf.url("/wf/sequential"), "body": "{}"},
        {"destination": "not a url", "body": "{}"},
    ]);
    let request = app.request(Method::POST, "/v2/batch/trigger").json(&bad);
    app.expect_error(request, 400, "batch item 1").await;
    let (_, logs) = app.get_json("/v2/workflows/logs").await;
    assert_eq!(logs["runs"], json!([]), "a bad item starts no run");

    let items = json!([
        {"destination": wf.url("/wf/sequential"), "body": r#"{"input":"a"}"#, "workflowRunId": "wfr_batch-a"},
        {"destination": wf.url("/wf/parallel"), "headers": {"Upstash-Retries": "1"}},
    ]);
    let (status, answers) = app
        .send_json(app.request(Method::POST, "/v2/batch/trigger").json(&items))
        .await;
    assert_eq!(status, 201, "{answers}");
    let ids: Vec<String> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["workflowRunId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids[0], "wfr_batch-a");
    run_to_end(&app).await;
    assert_eq!(wf.steps(&ids[0]), ["step-1", "step-2", "step-3"]);
    assert_eq!(wf.events_of(&ids[1], "result")[0]["result"], 60);
    for id in &ids {
        assert_eq!(run_state(&app, id).await, RunState::Success);
    }
    let empty = app.request(Method::POST, "/v2/batch/trigger").json(&json!([]));
    app.expect_error(empty, 400, "1 to").await;
}
