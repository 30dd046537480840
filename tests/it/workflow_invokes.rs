//! `context.invoke` driven by the official `@upstash/workflow` SDK (`serveMany` in
//! tests/workflow/js/server.mjs): the child runs with the invoke's body as its payload, and when it
//! finishes, fails or is canceled, its invoker resumes once with the outcome.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::workflow_app::{app, run_state, run_to_end, WorkflowApp};
use crate::common::Backend;
use postdate::domain::workflow::RunState;

backend_tests!(
    an_invoked_child_runs_and_its_result_or_failure_resumes_the_invoker,
    canceling_an_invoked_child_resumes_the_invoker_as_canceled,
    invokes_that_are_not_the_sdks_are_refused,
);

/// The run id of the one run of `workflow` that recorded events.
fn child_run(wf: &WorkflowApp, workflow: &str) -> String {
    let mut runs: Vec<String> = wf
        .events()
        .into_iter()
        .filter(|e| e["workflow"] == workflow)
        .map(|e| e["runId"].as_str().unwrap().to_string())
        .collect();
    runs.dedup();
    assert_eq!(runs.len(), 1, "one run of {workflow}: {runs:?}");
    runs.remove(0)
}

fn invoke_result(wf: &WorkflowApp, run_id: &str, name: &str) -> Value {
    let results: Vec<Value> = wf
        .events_of(run_id, "invoke-result")
        .into_iter()
        .filter(|e| e["name"] == name)
        .collect();
    assert_eq!(results.len(), 1, "the invoker resumed once after {name}: {results:?}");
    results[0]["result"].clone()
}

async fn an_invoked_child_runs_and_its_result_or_failure_resumes_the_invoker(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let parent = wf.trigger(json!({"url": wf.url("/many/invoke-parent"), "body": {"n": 21}}));
    run_to_end(&app).await;

    let ok = invoke_result(&wf, &parent, "invoke-ok");
    assert_eq!(ok["body"], json!({"doubled": 42}), "the child's result: {ok}");
    assert_eq!((&ok["isFailed"], &ok["isCanceled"]), (&json!(false), &json!(false)));
    let failed = invoke_result(&wf, &parent, "invoke-fail");
    assert_eq!(failed["isFailed"], true, "{failed}");
    assert_eq!(failed["isCanceled"], false);

    let child_ok = child_run(&wf, "child-ok");
    let child_fail = child_run(&wf, "child-fail");
    assert_eq!(run_state(&app, &child_ok).await, RunState::Success);
    assert_eq!(run_state(&app, &child_fail).await, RunState::Failed);
    assert_eq!(
        wf.events_of(&child_fail, "failure-function").len(),
        1,
        "the failing child's failure function ran once"
    );
    let doubled = &wf.events_of(&child_ok, "step")[0];
    assert_eq!(doubled["out"], 42, "the child got the invoke's body as its payload");
    let child = app.store.workflow_run_get(&child_ok).await.unwrap().unwrap();
    let invoker = child.invoker.expect("the child knows its invoker");
    assert_eq!(invoker.run_id, parent);
    assert_eq!(invoker.url, wf.url("/many/invoke-parent"));
    assert_eq!(run_state(&app, &parent).await, RunState::Success);

    // The invoker's token, which the SDK puts in the invoke's body, is stored nowhere.
    for id in app.store.workflow_message_ids(&child_ok).await.unwrap() {
        let message = app.message(&id).await;
        assert!(!message.to_string().contains(crate::common::TOKEN), "{message}");
    }
}

async fn canceling_an_invoked_child_resumes_the_invoker_as_canceled(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let parent = wf.trigger(json!({"url": wf.url("/many/invoke-sleeper"), "body": {}}));
    app.run_until_idle().await;
    let child = child_run(&wf, "child-sleep");
    assert_eq!(run_state(&app, &child).await, RunState::Started, "the child sleeps");
    assert!(wf.events_of(&parent, "invoke-result").is_empty());

    let cancel = app.request(Method::DELETE, &format!("/v2/workflows/runs/{child}?cancel=true"));
    assert_eq!(app.send_json(cancel).await.0, 200);
    app.run_until_idle().await;
    let result = invoke_result(&wf, &parent, "invoke-sleeper");
    assert_eq!(
        (&result["isCanceled"], &result["isFailed"]),
        (&json!(true), &json!(false)),
        "{result}"
    );
    assert_eq!(run_state(&app, &child).await, RunState::Canceled);
    assert_eq!(run_state(&app, &parent).await, RunState::Success);
    let cancel_again = app.request(Method::DELETE, &format!("/v2/workflows/runs/{child}?cancel=true"));
    assert_eq!(app.send_json(cancel_again).await.0, 200);
    assert_eq!(app.run_until_idle().await, 0, "a second cancel resumes nobody");
    assert_eq!(wf.events_of(&parent, "invoke-result").len(), 1);
}

async fn invokes_that_are_not_the_sdks_are_refused(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    let url = format!("{}/wf", receiver.url);
    let parent = app
        .publish(&url)
        .header("Upstash-Workflow-Init", "true")
        .header("Upstash-Workflow-RunId", "wfr_parent")
        .body("{}");
    assert_eq!(app.send_json(parent).await.0, 201);
    let invoke = |run_id: &str, body: Value| {
        app.publish(&url)
            .header("Upstash-Workflow-Init", "true")
            .header("Upstash-Workflow-Invoke", "true")
            .header("Upstash-Workflow-RunId", run_id)
            .body(body.to_string())
    };
    let describing = |invoker: &str, invoker_url: &str, step: Value| {
        json!({
            "body": "{}",
            "workflowRunId": invoker,
            "workflowRunCreatedAt": 1,
            "workflowUrl": invoker_url,
            "step": step,
        })
    };
    let step = json!({"stepId": 1, "stepName": "i", "stepType": "Invoke", "concurrent": 1});
    for (body, mentions) in [
        (json!("not the SDK's"), "invoke"),
        (json!({"body": "{}"}), "invoke"),
        (describing("wfr_parent", &url, json!(7)), "step"),
        (describing("wfr_nobody", &url, step.clone()), "wfr_nobody"),
        (
            describing("wfr_parent", "ftp://127.0.0.1/x", step.clone()),
            "workflowUrl",
        ),
    ] {
        app.expect_error(invoke("wfr_child", body), 400, mentions).await;
    }
    assert!(
        app.store.workflow_run_get("wfr_child").await.unwrap().is_none(),
        "no bad invoke created a run"
    );
    let good = invoke("wfr_child", describing("wfr_parent", &url, step));
    assert_eq!(app.send_json(good).await.0, 201);
    let child = app.store.workflow_run_get("wfr_child").await.unwrap().unwrap();
    assert_eq!(child.invoker.unwrap().run_id, "wfr_parent");
}
