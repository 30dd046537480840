//! The console's Workflows page with runs of the official `@upstash/workflow` SDK: the list by state, URL
//! and label, a run's steps with outputs and errors, Cancel, and Resume or Restart from the DLQ; a
//! read-only session sees the runs and no action. The browser journey is in tests/console/journeys.mjs.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::common::workflow_app::{run_state, run_to_end, WorkflowApp};
use crate::common::{spawn_app, Backend, Options, TestApp, TOKEN};
use crate::console::{page, post_form, sign_in, READONLY};
use postdate::clock::{system_now_ms, Clock};
use postdate::domain::workflow::RunState;

backend_tests!(
    the_workflows_page_filters_runs_and_shows_a_runs_steps_outputs_and_errors,
    a_run_is_canceled_and_a_failed_one_resumed_or_restarted_from_the_console,
    the_read_only_session_sees_runs_and_no_workflow_action,
);

/// A stepped app on a manual clock at the real time (the SDK computes sleeps from its own clock), with a
/// read-only token too.
async fn app(backend: Backend) -> TestApp {
    let now = system_now_ms();
    let options = Options::stepped().with(move |c| {
        c.clock = Clock::manual(now);
        c.readonly_token = Some(READONLY.into());
    });
    spawn_app(backend, options).await
}

/// The page at `path`, which must be 200.
async fn html(app: &TestApp, path: &str, cookie: &str) -> String {
    let (status, html, _) = page(app, path, cookie).await;
    assert_eq!(status, 200, "{path}: {html}");
    html
}

/// The run ids a list page shows, in its order.
fn listed(html: &str) -> Vec<String> {
    html.split("data-run=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

/// A /wf/flaky run that failed at its second step, and its DLQ entry.
async fn failed_flaky(app: &TestApp, wf: &WorkflowApp) -> (String, String) {
    let run_id = wf.trigger(json!({"url": wf.url("/wf/flaky"), "body": {}, "retries": 0}));
    run_to_end(app).await;
    let (_, dlq) = app
        .get_json(&format!("/v2/dlq?source=workflow&workflowRunId={run_id}"))
        .await;
    let dlq_id = dlq["messages"][0]["dlqId"].as_str().expect("a DLQ entry").to_string();
    (run_id, dlq_id)
}

async fn heal(wf: &WorkflowApp) {
    reqwest::Client::new()
        .post(wf.url("/control/heal"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
}

async fn the_workflows_page_filters_runs_and_shows_a_runs_steps_outputs_and_errors(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let sequential = wf.trigger(json!({"url": wf.url("/wf/sequential"), "body": {"input": "hi"}, "label": "nightly"}));
    app.clock.set_ms(app.clock.now_ms() + 1_000);
    let (flaky, dlq_id) = failed_flaky(&app, &wf).await;
    run_to_end(&app).await;
    let cookie = sign_in(&app, TOKEN).await;

    let all = listed(&html(&app, "/console/workflows", &cookie).await);
    assert_eq!(all, [flaky.clone(), sequential.clone()], "newest first");
    let failed = listed(&html(&app, "/console/workflows?state=RUN_FAILED", &cookie).await);
    assert_eq!(failed, std::slice::from_ref(&flaky));
    let labelled = listed(&html(&app, "/console/workflows?label=nightly&state=", &cookie).await);
    assert_eq!(labelled, std::slice::from_ref(&sequential), "a blank field means any");
    let by_url = format!(
        "/console/workflows?url={}",
        url::form_urlencoded::byte_serialize(wf.url("/wf/seq").as_bytes()).collect::<String>()
    );
    assert_eq!(
        listed(&html(&app, &by_url, &cookie).await),
        std::slice::from_ref(&sequential),
        "a URL prefix"
    );
    let refused = html(&app, "/console/workflows?state=DONE", &cookie).await;
    assert!(
        refused.contains("role=\"alert\"") && refused.contains("state must be"),
        "{refused}"
    );
    assert!(
        listed(&refused).is_empty(),
        "a bad filter shows nothing, not everything"
    );

    let run = html(&app, &format!("/console/workflows/{sequential}"), &cookie).await;
    assert!(run.contains("RUN_SUCCESS"), "{run}");
    let positions: Vec<usize> = ["step-1", "step-2", "step-3"]
        .iter()
        .map(|name| run.find(&format!("data-step=\"{name}\"")).expect(name))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "the steps in order: {positions:?}"
    );
    assert!(run.contains("one:hi|two"), "a step's output");
    assert!(run.contains("id=\"run-result\""), "the route's result");
    assert!(!run.contains("Cancel run"), "an ended run offers no cancel");

    let run = html(&app, &format!("/console/workflows/{flaky}"), &cookie).await;
    assert!(run.contains("RUN_FAILED") && run.contains("STEP_FAILED"), "{run}");
    assert!(run.contains("data-step=\"before\""), "the finished step");
    assert!(
        run.contains("class=\"error\"") && run.contains("not healed yet"),
        "the failed attempt's answer: {run}"
    );
    assert!(run.contains(&dlq_id) && run.contains("Resume") && run.contains("Restart"));

    let dlq = html(&app, &format!("/console/dlq/{dlq_id}"), &cookie).await;
    assert!(dlq.contains(&format!("/console/workflows/{flaky}")) && dlq.contains("Resume run"));
    assert!(
        !dlq.contains(&format!("/console/dlq/{dlq_id}/retry")),
        "a step's entry is resumed, not retried"
    );

    let (status, missing, _) = page(&app, "/console/workflows/wfr_nope", &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    app.stop().await;
}

async fn a_run_is_canceled_and_a_failed_one_resumed_or_restarted_from_the_console(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let cookie = sign_in(&app, TOKEN).await;
    let sleeping = wf.trigger(json!({"url": wf.url("/wf/sleep"), "body": {"sleep": "1h"}}));
    app.run_until_idle().await;
    let path = format!("/console/workflows/{sleeping}");
    let (_, run, csrf) = page(&app, &path, &cookie).await;
    assert!(run.contains("Cancel run"), "{run}");
    let cancel = format!("{path}/cancel");
    let done = post_form(&app, &cancel, &cookie, &[("_csrf", &csrf)]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(done.headers()["location"].to_str().unwrap().starts_with(&path));
    assert_eq!(run_state(&app, &sleeping).await, RunState::Canceled);
    let again = post_form(&app, &cancel, &cookie, &[("_csrf", &csrf)]).await;
    let location = again.headers()["location"].to_str().unwrap().to_string();
    assert!(html(&app, &location, &cookie).await.contains("nothing was canceled"));
    assert_eq!(run_to_end(&app).await, 0, "the sleep was canceled with its run");

    let (resumable, resume_id) = failed_flaky(&app, &wf).await;
    let (restartable, restart_id) = failed_flaky(&app, &wf).await;
    heal(&wf).await;
    let mut reruns = Vec::new();
    for (dlq_id, how) in [(&resume_id, "resume"), (&restart_id, "restart")] {
        let answer = post_form(
            &app,
            &format!("/console/workflows/dlq/{dlq_id}/{how}"),
            &cookie,
            &[("_csrf", &csrf)],
        )
        .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{how}");
        let location = answer.headers()["location"].to_str().unwrap().to_string();
        let new_run = location
            .trim_start_matches("/console/workflows/")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        assert!(new_run.starts_with("wfr_") && new_run != resumable && new_run != restartable);
        reruns.push(new_run);
    }
    run_to_end(&app).await;
    assert_eq!(
        wf.steps(&reruns[0]),
        ["fragile"],
        "a resume goes on from the failed step"
    );
    assert_eq!(wf.steps(&reruns[1]), ["before", "fragile"], "a restart runs every step");
    for run in &reruns {
        assert_eq!(run_state(&app, run).await, RunState::Success);
    }
    let taken = post_form(
        &app,
        &format!("/console/workflows/dlq/{resume_id}/resume"),
        &cookie,
        &[("_csrf", &csrf)],
    )
    .await;
    assert_eq!(taken.status(), StatusCode::NOT_FOUND, "the entry was taken");
    let unknown = post_form(
        &app,
        &format!("/console/workflows/dlq/{resume_id}/explode"),
        &cookie,
        &[("_csrf", &csrf)],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn the_read_only_session_sees_runs_and_no_workflow_action(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    // The failed run first: reaching its end moves the clock to each next due time.
    let (failed, dlq_id) = failed_flaky(&app, &wf).await;
    let sleeping = wf.trigger(json!({"url": wf.url("/wf/sleep"), "body": {"sleep": "1h"}}));
    app.run_until_idle().await;
    let cookie = sign_in(&app, READONLY).await;
    assert_eq!(listed(&html(&app, "/console/workflows", &cookie).await).len(), 2);
    for path in [
        format!("/console/workflows/{sleeping}"),
        format!("/console/workflows/{failed}"),
        format!("/console/dlq/{dlq_id}"),
    ] {
        let shown = html(&app, &path, &cookie).await;
        let posts = shown.matches("method=\"post\"").count();
        assert_eq!(posts, 1, "only sign-out posts on {path}");
    }
    let (_, _, csrf) = page(&app, &format!("/console/workflows/{sleeping}"), &cookie).await;
    for path in [
        format!("/console/workflows/{sleeping}/cancel"),
        format!("/console/workflows/dlq/{dlq_id}/resume"),
    ] {
        let refused = post_form(&app, &path, &cookie, &[("_csrf", &csrf)]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(run_state(&app, &sleeping).await, RunState::Started);
    let (_, dlq) = app.get_json(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(dlq["dlqId"], dlq_id.as_str(), "the entry is still there");
    app.stop().await;
}
