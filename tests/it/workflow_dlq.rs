//! The workflow DLQ as the official `@upstash/workflow` Client lists it (`client.dlq.list`, which asks
//! `GET /v2/dlq?source=workflow`): only the entries of workflow steps, with their run's fields; its
//! `client.dlq.delete` (`DELETE /v2/workflows/dlq`) deletes only those. A resume starts a new run that goes
//! on from the failed step without running the finished ones again; a restart starts one from the initial
//! payload.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::workflow_app::{app, run_to_end, WorkflowApp};
use crate::common::Backend;

backend_tests!(
    the_workflow_dlq_lists_only_failed_steps_with_their_runs,
    a_resumed_run_goes_on_from_the_failed_step_and_a_restarted_one_from_the_start,
);

fn entries(page: &Value) -> Vec<Value> {
    page["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {page}"))
        .clone()
}

async fn the_workflow_dlq_lists_only_failed_steps_with_their_runs(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/fail"), "body": {"why": "dlq"}, "retries": 0}));
    let plain = app
        .publish_ok(&wf.url("/third-party?status=500"), "plain", &[("Upstash-Retries", "0")])
        .await;
    run_to_end(&app).await;
    let (_, all) = app.get_json("/v2/dlq").await;
    assert_eq!(entries(&all).len(), 2, "the failed step and the plain message: {all}");

    let (ok, listed) = wf.client("dlq-list", &json!({}));
    assert!(ok, "{listed}");
    let listed = entries(&listed);
    assert_eq!(listed.len(), 1, "only the workflow's entry: {listed:?}");
    assert_eq!(listed[0]["workflowRunId"], run_id.as_str());
    assert_eq!(listed[0]["workflowUrl"], wf.url("/wf/fail"));
    assert!(listed[0]["workflowCreatedAt"].as_i64().unwrap() > 0);

    let (_, by_run) = app
        .get_json(&format!("/v2/dlq?source=workflow&workflowRunId={run_id}"))
        .await;
    assert_eq!(entries(&by_run).len(), 1);
    let (_, other) = app.get_json("/v2/dlq?workflowRunId=wfr_other").await;
    assert_eq!(entries(&other).len(), 0, "{other}");
    let bad = app.request(Method::GET, "/v2/dlq?source=queue");
    app.expect_error(bad, 400, "source").await;

    let named = app.request(Method::DELETE, "/v2/workflows/dlq?source=workflow");
    app.expect_error(named, 400, "source").await;
    let (ok, deleted) = wf.client("dlq-delete", &json!({"all": true}));
    assert!(ok, "{deleted}");
    assert_eq!(
        deleted["deleted"], 1,
        "client.dlq.delete takes only the workflow's entry: {deleted}"
    );
    let (_, left) = app.get_json("/v2/dlq").await;
    let left = entries(&left);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["messageId"], plain.as_str(), "the plain entry is left");
}

/// A run of /wf/flaky that failed at its second step (no retries): its run id and its DLQ id.
async fn failed_flaky(app: &crate::common::TestApp, wf: &WorkflowApp) -> (String, String) {
    let run_id = wf.trigger(json!({"url": wf.url("/wf/flaky"), "body": {"n": 1}, "retries": 0}));
    run_to_end(app).await;
    let (_, page) = app
        .get_json(&format!("/v2/dlq?source=workflow&workflowRunId={run_id}"))
        .await;
    let dlq_id = entries(&page)[0]["dlqId"].as_str().unwrap().to_string();
    (run_id, dlq_id)
}

async fn a_resumed_run_goes_on_from_the_failed_step_and_a_restarted_one_from_the_start(backend: Backend) {
    use crate::common::workflow_app::run_state;
    use postdate::domain::workflow::RunState;

    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let (failed, dlq_id) = failed_flaky(&app, &wf).await;
    assert_eq!(wf.steps(&failed), ["before"], "the fragile step failed");
    assert_eq!(run_state(&app, &failed).await, RunState::Failed);
    let (failed_again, restart_id) = failed_flaky(&app, &wf).await;
    reqwest::Client::new()
        .post(wf.url("/control/heal"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();

    let (ok, resumed) = wf.client("dlq-resume", &json!({"dlqId": dlq_id, "retries": 2}));
    assert!(ok, "{resumed}");
    let resumed_id = resumed["workflowRunId"].as_str().unwrap().to_string();
    assert_ne!(resumed_id, failed, "a new run");
    let (ok, restarted) = wf.client("dlq-restart", &json!({"dlqId": restart_id}));
    assert!(ok, "{restarted}");
    let restarted_id = restarted["workflowRunId"].as_str().unwrap().to_string();
    run_to_end(&app).await;

    assert_eq!(wf.steps(&resumed_id), ["fragile"], "the finished step is not run again");
    assert_eq!(
        wf.events_of(&resumed_id, "result")[0]["result"],
        "done+fixed",
        "its output came from the history"
    );
    assert_eq!(run_state(&app, &resumed_id).await, RunState::Success);
    assert_eq!(
        wf.steps(&restarted_id),
        ["before", "fragile"],
        "a restart runs every step"
    );
    assert_eq!(run_state(&app, &restarted_id).await, RunState::Success);
    assert_eq!(wf.steps(&failed_again), ["before"], "the old runs stay as they ended");
    let (_, left) = app.get_json("/v2/dlq?source=workflow").await;
    assert_eq!(entries(&left), Vec::<Value>::new(), "both entries were taken");

    let (ok, again) = wf.client("dlq-resume", &json!({"dlqId": dlq_id}));
    assert!(!ok, "a taken entry cannot start a second run: {again}");
    assert_eq!(again["status"], 404);
    let plain = app.request(Method::POST, "/v2/workflows/dlq/resume");
    app.expect_error(plain, 400, "dlqIds").await;
}
