//! Canceling many runs at once with the official `@upstash/workflow` Client (`client.cancel`): by ids, by
//! filters and all, with exact counts, and bad filters refused before anything is canceled.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::workflow_app::{app, run_state, run_to_end, WorkflowApp};
use crate::common::{Backend, TestApp};
use postdate::domain::workflow::RunState;

backend_tests!(
    bulk_cancel_counts_exactly_the_runs_it_cancels,
    bad_bulk_cancel_filters_are_refused_and_cancel_nothing,
);

fn cancel(wf: &WorkflowApp, arg: Value) -> u64 {
    let (ok, answer) = wf.client("cancel", &arg);
    assert!(ok, "cancel {arg} failed: {answer}");
    answer["cancelled"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count in {answer}"))
}

/// A run that sleeps an hour after its first step; each is created a millisecond after the one before.
fn sleeper(app: &TestApp, wf: &WorkflowApp, label: &str) -> String {
    app.clock.advance_ms(1);
    wf.trigger(json!({"url": wf.url("/wf/sleep"), "body": {"sleep": "1h"}, "label": label}))
}

async fn bulk_cancel_counts_exactly_the_runs_it_cancels(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let red = [sleeper(&app, &wf, "red"), sleeper(&app, &wf, "red")];
    let blue = sleeper(&app, &wf, "blue");
    let green = [sleeper(&app, &wf, "green"), sleeper(&app, &wf, "green")];
    app.run_until_idle().await;

    assert_eq!(cancel(&wf, json!({"filter": {"label": "red"}})), 2);
    assert_eq!(
        cancel(&wf, json!({"filter": {"label": "red"}})),
        0,
        "a second cancel counts nothing"
    );
    for run in &red {
        assert_eq!(run_state(&app, run).await, RunState::Canceled);
    }
    assert_eq!(
        cancel(&wf, json!([blue, "wfr_never-existed"])),
        1,
        "unknown ids are skipped"
    );
    let elsewhere = json!({"filter": {"workflowUrlStartingWith": "http://127.0.0.1:9/elsewhere"}});
    assert_eq!(cancel(&wf, elsewhere), 0);
    assert_eq!(
        cancel(
            &wf,
            json!({"filter": {"workflowUrl": wf.url("/wf/sleep"), "label": "green"}, "count": 1})
        ),
        1,
        "count bounds the cancel"
    );
    assert_eq!(run_state(&app, &green[0]).await, RunState::Canceled, "oldest first");
    assert_eq!(run_state(&app, &green[1]).await, RunState::Started);
    assert_eq!(cancel(&wf, json!({"all": true})), 1);

    for run in red.iter().chain(&green).chain([&blue]) {
        assert_eq!(run_state(&app, run).await, RunState::Canceled);
        let sleeping = app.store.workflow_message_ids(run).await.unwrap().pop().unwrap();
        assert_eq!(
            app.message(&sleeping).await["state"],
            "CANCELED",
            "its sleep is canceled"
        );
    }
    app.clock.advance_ms(3_600_000);
    assert_eq!(run_to_end(&app).await, 0, "nothing of a canceled run is delivered");
}

async fn bad_bulk_cancel_filters_are_refused_and_cancel_nothing(backend: Backend) {
    let app = app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let run = sleeper(&app, &wf, "red");
    app.run_until_idle().await;
    let refused = [
        ("labl=red", "labl"),
        ("label=", "empty"),
        ("label=red&count=0", "count"),
        ("workflowUrlExactMatch=true", "workflowUrl"),
        ("workflowRunIds=bad%2Fid", "run ids"),
        ("fromDate=yesterday", "fromDate"),
    ];
    for (query, says) in refused {
        let request = app.request(Method::DELETE, &format!("/v2/workflows/runs?{query}"));
        app.expect_error(request, 400, says).await;
    }
    let many = (0..1001).map(|i| format!("label=l{i}")).collect::<Vec<_>>().join("&");
    let request = app.request(Method::DELETE, &format!("/v2/workflows/runs?{many}"));
    app.expect_error(request, 400, "at most").await;
    assert_eq!(
        run_state(&app, &run).await,
        RunState::Started,
        "no refused cancel touched the run"
    );
}
