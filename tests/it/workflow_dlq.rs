//! The workflow DLQ as the official `@upstash/workflow` Client lists it (`client.dlq.list`, which asks
//! `GET /v2/dlq?source=workflow`): only the entries of workflow steps, with their run's fields; the same
//! filter narrows a bulk delete.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::workflow_app::{app, run_to_end, WorkflowApp};
use crate::common::Backend;

backend_tests!(the_workflow_dlq_lists_only_failed_steps_with_their_runs);

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

    let (status, deleted) = app
        .send_json(app.request(Method::DELETE, "/v2/dlq?source=workflow"))
        .await;
    assert_eq!((status, &deleted["deleted"]), (200, &json!(1)), "{deleted}");
    let (_, left) = app.get_json("/v2/dlq").await;
    let left = entries(&left);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["messageId"], plain.as_str(), "the plain entry is left");
}
