//! The workflow DLQ as the official `@upstash/workflow` Client lists it (`client.dlq.list`, which asks
//! `GET /v2/dlq?source=workflow`): only the entries of workflow steps, with their run's fields; its
//! `client.dlq.delete` (`DELETE /v2/workflows/dlq`) deletes only those. A resume starts a new run that goes
//! on from the failed step without running the finished ones again; a restart starts one from the initial
//! payload. Both select as the DLQ's bulk operations do (ids, filters, or `count` for every entry), and a
//! failed run's failure function can be called again from its entry (`client.dlq.retryFailureFunction`).

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::workflow_app::{app, run_to_end, WorkflowApp};
use crate::common::Backend;

backend_tests!(
    the_workflow_dlq_lists_only_failed_steps_with_their_runs,
    a_resumed_run_goes_on_from_the_failed_step_and_a_restarted_one_from_the_start,
    resume_and_restart_select_by_filter_and_by_count_and_never_reach_plain_entries,
    a_failed_runs_failure_function_is_called_again_from_its_dlq_entry,
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

async fn resume_and_restart_select_by_filter_and_by_count_and_never_reach_plain_entries(backend: Backend) {
    use crate::common::workflow_app::run_state;
    use postdate::domain::workflow::RunState;

    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let (first, _) = failed_flaky(&app, &wf).await;
    let (second, _) = failed_flaky(&app, &wf).await;
    let plain = app
        .publish_ok(&wf.url("/third-party?status=500"), "plain", &[("Upstash-Retries", "0")])
        .await;
    run_to_end(&app).await;
    let (_, all) = app.get_json("/v2/dlq").await;
    let plain_entry = entries(&all)
        .into_iter()
        .find(|e| e["messageId"] == plain.as_str())
        .unwrap();
    let plain_dlq_id = plain_entry["dlqId"].as_str().unwrap();

    let bare = app.request(Method::POST, "/v2/workflows/dlq/resume");
    app.expect_error(bare, 400, "dlqIds").await;
    let by_plain_id = app.request(
        Method::POST,
        &format!("/v2/workflows/dlq/restart?dlqIds={plain_dlq_id}"),
    );
    app.expect_error(by_plain_id, 404, plain_dlq_id).await;
    let unknown_key = app.request(Method::POST, "/v2/workflows/dlq/resume?workflowRunld=x");
    app.expect_error(unknown_key, 400, "workflowRunld").await;
    let (_, after_refusals) = app.get_json("/v2/dlq").await;
    assert_eq!(
        entries(&after_refusals).len(),
        3,
        "refusals took nothing: {after_refusals}"
    );

    reqwest::Client::new()
        .post(wf.url("/control/heal"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let (ok, resumed) = wf.client("dlq-resume", &json!({"filter": {"workflowRunId": first}}));
    assert!(ok, "{resumed}");
    let resumed = resumed["workflowRuns"].as_array().unwrap().clone();
    assert_eq!(resumed.len(), 1, "only the filtered run's entry: {resumed:?}");
    let (ok, restarted) = wf.client("dlq-restart", &json!({"all": true}));
    assert!(ok, "{restarted}");
    let restarted = restarted["workflowRuns"].as_array().unwrap().clone();
    assert_eq!(
        restarted.len(),
        1,
        "every workflow entry left, which is the second run's: {restarted:?}"
    );
    run_to_end(&app).await;

    let resumed_id = resumed[0]["workflowRunId"].as_str().unwrap();
    let restarted_id = restarted[0]["workflowRunId"].as_str().unwrap();
    assert_eq!(wf.steps(resumed_id), ["fragile"], "resumed from the failed step");
    assert_eq!(
        wf.steps(restarted_id),
        ["before", "fragile"],
        "restarted from the start"
    );
    assert_eq!(run_state(&app, resumed_id).await, RunState::Success);
    assert_eq!(run_state(&app, restarted_id).await, RunState::Success);
    assert_eq!(
        run_state(&app, &second).await,
        RunState::Failed,
        "the old run stays as it ended"
    );
    let (_, left) = app.get_json("/v2/dlq").await;
    let left = entries(&left);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["messageId"], plain.as_str(), "the plain entry is never taken");
}

async fn a_failed_runs_failure_function_is_called_again_from_its_dlq_entry(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run_id = wf.trigger(json!({"url": wf.url("/wf/fail"), "body": {"why": "again"}, "retries": 0}));
    run_to_end(&app).await;
    let first = wf.events_of(&run_id, "failure-function");
    assert_eq!(first.len(), 1, "the failure function ran once: {first:?}");
    let (_, page) = app
        .get_json(&format!("/v2/dlq?source=workflow&workflowRunId={run_id}"))
        .await;
    let dlq_id = entries(&page)[0]["dlqId"].as_str().unwrap().to_string();

    let (ok, answer) = wf.client("dlq-callback", &json!({"dlqId": dlq_id}));
    assert!(ok, "{answer}");
    assert_eq!(answer["workflowRunId"], run_id.as_str());
    assert!(answer["workflowCreatedAt"].as_i64().unwrap() > 0);
    run_to_end(&app).await;
    let again = wf.events_of(&run_id, "failure-function");
    assert_eq!(again.len(), 2, "called once more: {again:?}");
    assert_eq!(
        again[1]["failResponse"], first[0]["failResponse"],
        "with the failed step's answer"
    );
    assert_eq!(
        again[1]["payload"], first[0]["payload"],
        "and the run's initial payload"
    );
    let (_, kept) = app.get_json(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(
        kept["dlqId"],
        dlq_id.as_str(),
        "the entry stays for a resume or restart"
    );

    let unknown = app.request(Method::POST, "/v2/workflows/dlq/callback/dlq_unknown");
    app.expect_error(unknown, 404, "dlq_unknown").await;
    let plain = app
        .publish_ok(&wf.url("/third-party?status=500"), "plain", &[("Upstash-Retries", "0")])
        .await;
    run_to_end(&app).await;
    let (_, all) = app.get_json("/v2/dlq").await;
    let plain_dlq_id = entries(&all)
        .into_iter()
        .find(|e| e["messageId"] == plain.as_str())
        .unwrap()["dlqId"]
        .as_str()
        .unwrap()
        .to_string();
    let not_a_step = app.request(Method::POST, &format!("/v2/workflows/dlq/callback/{plain_dlq_id}"));
    app.expect_error(not_a_step, 404, "not a workflow step").await;
}
