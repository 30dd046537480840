//! The workflow logs (`client.logs` of the official `@upstash/workflow` Client): runs newest first in
//! Upstash's `WorkflowRun` shape, their steps grouped, filters and pages, and bad queries refused.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::workflow_app::{app, run_to_end, WorkflowApp};
use crate::common::Backend;
use crate::metrics::Scrape;

backend_tests!(
    the_logs_show_each_runs_state_result_and_grouped_steps,
    the_logs_filter_by_state_and_run_and_page_with_a_cursor,
    bad_log_queries_are_refused,
);

fn logs(wf: &WorkflowApp, arg: Value) -> Value {
    let (ok, answer) = wf.client("logs", &arg);
    assert!(ok, "logs {arg} failed: {answer}");
    answer
}

fn one_run(wf: &WorkflowApp, run_id: &str) -> Value {
    let answer = logs(wf, json!({"workflowRunId": run_id}));
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{answer}");
    runs[0].clone()
}

fn group_kinds(run: &Value) -> Vec<String> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["type"].as_str().unwrap().to_string())
        .collect()
}

async fn the_logs_show_each_runs_state_result_and_grouped_steps(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let sequential = wf.trigger(json!({"url": wf.url("/wf/sequential"), "body": {"input": "hi"}, "label": "nightly"}));
    let parallel = wf.trigger(json!({"url": wf.url("/wf/parallel"), "body": {}}));
    let failing = wf.trigger(json!({"url": wf.url("/wf/fail"), "body": {"why": "test"}, "retries": 1}));
    run_to_end(&app).await;

    let run = one_run(&wf, &sequential);
    assert_eq!(run["workflowState"], "RUN_SUCCESS", "{run}");
    assert_eq!(run["workflowUrl"], wf.url("/wf/sequential"));
    assert_eq!(run["labels"], json!(["nightly"]));
    assert!(run["workflowRunCompletedAt"].as_i64().unwrap() >= run["workflowRunCreatedAt"].as_i64().unwrap());
    assert_eq!(group_kinds(&run), ["sequential", "sequential", "sequential"], "{run}");
    let names: Vec<_> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["steps"][0]["stepName"].clone())
        .collect();
    assert_eq!(names, ["step-1", "step-2", "step-3"]);
    let first = &run["steps"][0]["steps"][0];
    assert_eq!(first["state"], "STEP_SUCCESS");
    let step_times: Vec<i64> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["steps"][0]["createdAt"].as_i64().unwrap())
        .collect();
    let (created, completed) = (
        run["workflowRunCreatedAt"].as_i64().unwrap(),
        run["workflowRunCompletedAt"].as_i64().unwrap(),
    );
    assert!(
        step_times.windows(2).all(|w| w[0] <= w[1]) && created <= step_times[0] && step_times[2] <= completed,
        "each step's createdAt is when its result was published, in order within the run: {step_times:?} in {created}..{completed}"
    );
    assert!(first["messageId"].as_str().unwrap().starts_with("msg_"), "{first}");
    let result: Value = serde_json::from_str(run["workflowRunResponse"].as_str().unwrap()).unwrap();
    assert_eq!(
        result,
        wf.events_of(&sequential, "result")[0]["result"],
        "the route's return value"
    );

    let run = one_run(&wf, &parallel);
    assert_eq!(run["workflowState"], "RUN_SUCCESS", "{run}");
    assert_eq!(
        group_kinds(&run),
        ["parallel", "sequential"],
        "the branches, then the join: {run}"
    );
    let mut branches: Vec<_> = run["steps"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stepName"].as_str().unwrap().to_string())
        .collect();
    branches.sort();
    assert_eq!(branches, ["p-1", "p-2", "p-3"]);

    let run = one_run(&wf, &failing);
    assert_eq!(run["workflowState"], "RUN_FAILED", "{run}");
    assert_eq!(group_kinds(&run).last().map(String::as_str), Some("next"), "{run}");
    let failed = &run["steps"].as_array().unwrap().last().unwrap()["steps"][0];
    assert_eq!(failed["state"], "STEP_FAILED", "{failed}");
    let errors = failed["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "one error per attempt (retries: 1): {failed}");
    assert_eq!(errors[0]["status"], 500);
    assert!(
        errors[0]["body"].as_str().unwrap().contains("boom in fail"),
        "the SDK's answer, as the log entry kept it: {}",
        errors[0]
    );

    app.stats.refresh_once().await.unwrap();
    let scrape = Scrape::of(&app).await;
    let runs = |state| scrape.value("postdate_workflow_runs", &[("state", state)]);
    assert_eq!(
        [runs("started"), runs("succeeded"), runs("failed"), runs("cancelled")],
        [0.0, 2.0, 1.0, 0.0],
        "the runs gauge counts them by state"
    );
    assert_eq!(scrape.value("postdate_workflow_runs_started_total", &[]), 3.0);
    assert_eq!(scrape.value("postdate_workflow_waiters", &[]), 0.0);
}

async fn the_logs_filter_by_state_and_run_and_page_with_a_cursor(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let mut runs = Vec::new();
    for _ in 0..3 {
        app.clock.advance_ms(1);
        runs.push(wf.trigger(json!({"url": wf.url("/wf/sleep"), "body": {"sleep": "1h"}})));
    }
    app.run_until_idle().await;
    app.clock.advance_ms(1);
    let done = wf.trigger(json!({"url": wf.url("/wf/sequential"), "body": {"input": "x"}}));
    app.run_until_idle().await;

    let started = logs(&wf, json!({"state": "RUN_STARTED"}));
    let ids: Vec<_> = started["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["workflowRunId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [runs[2].clone(), runs[1].clone(), runs[0].clone()],
        "newest first, started only"
    );
    let sleeping = &started["runs"][0];
    assert_eq!(
        group_kinds(sleeping).last().map(String::as_str),
        Some("next"),
        "{sleeping}"
    );
    assert_eq!(
        sleeping["steps"].as_array().unwrap().last().unwrap()["steps"][0]["state"],
        "STEP_PROGRESS"
    );

    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let arg = match &cursor {
            Value::Null => json!({"count": 1}),
            cursor => json!({"count": 1, "cursor": cursor}),
        };
        let page = logs(&wf, arg);
        seen.extend(
            page["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["workflowRunId"].as_str().unwrap().to_string()),
        );
        cursor = page["cursor"].clone();
        if cursor.is_null() || cursor == "" {
            break;
        }
        assert!(seen.len() <= 4, "the pages end: {seen:?}");
    }
    assert_eq!(
        seen,
        [done.clone(), runs[2].clone(), runs[1].clone(), runs[0].clone()],
        "every run once, newest first"
    );
    let success = logs(&wf, json!({"state": "RUN_SUCCESS"}));
    assert_eq!(success["runs"].as_array().unwrap().len(), 1);
    assert_eq!(logs(&wf, json!({"workflowRunId": "wfr_none"}))["runs"], json!([]));
}

async fn bad_log_queries_are_refused(backend: Backend) {
    let app = app(backend).await;
    for (query, says) in [
        ("state=DONE", "state"),
        ("groupBy=messageId", "groupBy"),
        ("cursor=nonsense", "cursor"),
        ("count=1000", "count"),
        ("trimBody=-1", "trimBody"),
        ("wokflowRunId=x", "wokflowRunId"),
        ("workflowRunId=a%2Fb", "run ids"),
    ] {
        let request = app.request(Method::GET, &format!("/v2/workflows/logs?{query}"));
        app.expect_error(request, 400, says).await;
    }
    let request = app.request(Method::GET, "/v2/workflows/events?groupBy=workflowRunId&state=nope");
    app.expect_error(request, 400, "state").await;
}
