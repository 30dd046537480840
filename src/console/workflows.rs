//! Upstash Workflow runs: the list filtered by state, URL, label and time; one run's steps as a timeline
//! with their outputs and errors; Cancel of a running run, and Resume or Restart of a failed one from its
//! DLQ entry. Everything is read and done through the workflow API (`/v2/workflows/…`), as the SDK's
//! client does.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::client::{self, encode};
use super::filters::{self, Filters, ListPage};
use super::layout::{self, page, Refusal};
use super::messages::labels;
use super::Session;
use crate::state::AppState;
use crate::wire;

/// Runs per page of the list.
const PAGE: usize = 20;
/// How much of each step's output the run page shows (the API cuts it there).
const OUT_BYTES: usize = 4096;
/// The states a run list can be narrowed to.
const STATES: &[&str] = &["RUN_STARTED", "RUN_SUCCESS", "RUN_FAILED", "RUN_CANCELED"];
/// (form field, API key, label, placeholder) of the list's text filters.
const TEXT_FILTERS: &[(&str, &str, &str, &str)] = &[
    (
        "url",
        "workflowUrl",
        "Workflow URL (prefix)",
        "https://app.example.com/api/workflow",
    ),
    ("label", "label", "Label", "nightly"),
    ("runId", "workflowRunIds", "Run id", "wfr_…"),
];

/// The API query of the list's filters (without paging).
fn api_query(filters: &Filters) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> = TEXT_FILTERS
        .iter()
        .filter_map(|(field, key, _, _)| filters.get(field).map(|v| (key.to_string(), v.to_string())))
        .collect();
    if let Some(state) = filters.get("state") {
        query.push(("state".into(), state.into()));
    }
    query.extend(filters.time_range());
    query
}

fn form(filters: &Filters) -> Markup {
    const ACTION: &str = "/console/workflows";
    html! {
        form.filters method="get" action=(ACTION) data-local-range {
            label { span { "State" }
                select name="state" {
                    option value="" { "any" }
                    @for state in STATES {
                        option value=(state) selected[filters.get("state") == Some(*state)] { (state) }
                    }
                }
            }
            @for (field, _, label, placeholder) in TEXT_FILTERS { (filters::text_field(filters, field, label, placeholder)) }
            (filters::time_range_and_buttons(filters, ACTION))
        }
    }
}

pub(super) async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    filters: Filters,
) -> Markup {
    let mut query = api_query(&filters);
    // The list shows how many steps ran, not their outputs.
    query.extend([("count".into(), PAGE.to_string()), ("trimBody".into(), "0".into())]);
    if let Some(cursor) = filters.get("cursor") {
        query.push(("cursor".into(), cursor.into()));
    }
    let target = format!("/v2/workflows/logs?{}", filters::query_string(&query));
    let answer = client::get_as::<wire::WorkflowRunLogs>(&app, &target)
        .await
        .map(|logs| (logs.runs, logs.cursor))
        .map_err(|refused| refused.1);
    let listed = ListPage::new(form(&filters), &filters, PAGE, answer);
    let empty = if filters.any() {
        layout::empty(
            "No workflow run matches these filters.",
            html! { a href="/console/workflows" { "Clear the filters" } },
        )
    } else {
        layout::empty(
            "No workflow runs yet.",
            html! { "Trigger one with " code { "client.trigger" } " of " code { "@upstash/workflow" } "; see the README's Workflow example." },
        )
    };
    let body = listed.render(html! { h1 { "Workflow runs" } }, empty, |runs| {
        html! {
            div.scroll { table #runs {
                thead { tr { th { "Run" } th { "State" } th { "Workflow URL" } th { "Labels" } th { "Steps" } th { "Started" } th { "Ended" } } }
                tbody { @for run in runs {
                    tr data-run=(run.workflow_run_id) {
                        td { a.mono href={"/console/workflows/" (encode(&run.workflow_run_id))} { (run.workflow_run_id) } }
                        td { (layout::state(&run.workflow_state)) }
                        td.url { (run.workflow_url) }
                        td { (labels(&run.labels)) }
                        td { (finished_steps(run)) }
                        td { (layout::time(run.workflow_run_created_at)) }
                        td { @if let Some(at) = run.workflow_run_completed_at { (layout::time(at)) } @else { "—" } }
                    }
                } }
            } }
        }
    });
    page(&session, "Workflows", "/console/workflows", body)
}

/// How many steps of a run finished.
fn finished_steps(run: &wire::WorkflowRunLog) -> usize {
    run.steps
        .iter()
        .filter(|g| g.kind != "next")
        .map(|g| g.steps.len())
        .sum()
}

pub(super) async fn show(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    Path(run_id): Path<String>,
    filters: Filters,
) -> Result<Markup, Refusal> {
    let target = format!(
        "/v2/workflows/logs?workflowRunId={}&trimBody={OUT_BYTES}",
        encode(&run_id)
    );
    let logs: wire::WorkflowRunLogs = client::get_as(&app, &target).await?;
    let Some(run) = logs.runs.into_iter().next() else {
        return Err(Refusal(
            http::StatusCode::NOT_FOUND,
            format!("There is no workflow run {run_id:?} (or it ended and retention removed it)."),
        ));
    };
    let dlq = match run.workflow_state.as_str() {
        "RUN_FAILED" => dlq_entries(&app, &run_id).await?,
        _ => Vec::new(),
    };
    let body = html! {
        h1 { "Workflow run " span.mono { (run_id) } }
        @if let Some(done) = filters.get("done") { p.notice role="status" { (done) } }
        div.summary {
            span #run-state { (layout::state(&run.workflow_state)) }
            span.url { (run.workflow_url) }
            span { "started " (layout::time(run.workflow_run_created_at)) }
            @if let Some(at) = run.workflow_run_completed_at { span { "ended " (layout::time(at)) } }
            (labels(&run.labels))
        }
        @if run.workflow_state == "RUN_STARTED" {
            div.actions { (layout::action(&session, &format!("/console/workflows/{}/cancel", encode(&run_id)), "Cancel run", "danger")) }
        }
        @if !dlq.is_empty() { (failed_steps(&session, &dlq)) }
        section.card {
            h2 { "Steps" }
            @if run.steps.is_empty() { p.hint { "No step has finished yet." } } @else {
                ol.timeline #timeline { @for group in &run.steps { (step_group(group)) } }
            }
        }
        (run_details(&run))
    };
    Ok(page(
        &session,
        &format!("Workflow run {run_id}"),
        "/console/workflows",
        body,
    ))
}

/// The run's entries in the workflow DLQ (a failed run has one per step that ran out of retries).
async fn dlq_entries(app: &AppState, run_id: &str) -> Result<Vec<wire::DlqMessage>, Refusal> {
    let target = format!("/v2/dlq?source=workflow&workflowRunId={}&count=100", encode(run_id));
    Ok(client::get_as::<wire::DlqPage>(app, &target).await?.messages)
}

/// The failed steps' DLQ entries, each with Resume (a new run that keeps the steps before it) and Restart
/// (a new run from the initial payload).
fn failed_steps(session: &Session, entries: &[wire::DlqMessage]) -> Markup {
    html! {
        section.card #run-dlq {
            h2 { "In the dead-letter queue" }
            p.hint { "Resume starts a new run that keeps the finished steps and goes on from the failed one; Restart starts a new run from the initial payload. Either takes the entry out of the DLQ." }
            @for e in entries {
                @let id = encode(&e.dlq_id);
                div.actions {
                    a.mono href={"/console/dlq/" (id)} { (e.dlq_id) }
                    span { "last answer " strong { (e.response_status) } }
                    (layout::action(session, &format!("/console/workflows/dlq/{id}/resume"), "Resume", "primary"))
                    (layout::action(session, &format!("/console/workflows/dlq/{id}/restart"), "Restart", ""))
                }
            }
        }
    }
}

/// One group of the timeline: a step, a parallel plan's steps side by side, or the steps not finished.
fn step_group(group: &wire::StepLogGroup) -> Markup {
    let heading = match group.kind.as_str() {
        "parallel" => Some(format!("{} steps in parallel", group.steps.len())),
        "next" => Some("Not finished".to_string()),
        _ => None,
    };
    html! {
        li class={"group " (group.kind)} {
            @if let Some(heading) = heading { p.hint { (heading) } }
            @for step in &group.steps { (step_item(step)) }
        }
    }
}

fn step_item(step: &Map<String, Value>) -> Markup {
    let text = |key: &str| step.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let state = text("state");
    let name = match text("stepName") {
        name if name.is_empty() => "(next step)".to_string(),
        name => name,
    };
    let errors = step
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    html! {
        div.step data-step=(name) {
            p {
                strong { (name) } " "
                @if let Some(kind) = step.get("stepType").and_then(Value::as_str) { span.badge.muted { (kind) } " " }
                (layout::state(&state)) " "
                @if let Some(at) = step.get("createdAt").and_then(Value::as_i64).filter(|at| *at > 0) { (layout::time(at)) }
            }
            (step_fields(step))
            @if let Some(out) = step.get("out").and_then(Value::as_str).filter(|o| !o.is_empty()) {
                pre.body.out { (out) }
                @if out.len() >= OUT_BYTES { p.hint { "Cut to the first " (OUT_BYTES) " bytes; " code { "client.logs" } " gives all of it." } }
            }
            @if !errors.is_empty() {
                ul.errors { @for e in &errors {
                    li.error {
                        @if let Some(at) = e["time"].as_i64() { (layout::time(at)) " " }
                        @if let Some(status) = e["status"].as_i64().filter(|s| *s > 0) { "status " (status) ": " }
                        (e["error"].as_str().unwrap_or_default())
                        @if let Some(body) = e["body"].as_str().filter(|b| !b.is_empty()) { pre.body { (body) } }
                    }
                } }
            }
        }
    }
}

/// The fields of a call, sleep, wait or invoke step worth seeing, when present.
fn step_fields(step: &Map<String, Value>) -> Markup {
    const FIELDS: &[(&str, &str)] = &[
        ("callUrl", "Called"),
        ("callMethod", "Method"),
        ("callResponseStatus", "Answered"),
        ("sleepFor", "Slept for"),
        ("waitEventId", "Waited for event"),
        ("waitTimeout", "Timed out"),
        ("invokedWorkflowRunId", "Invoked run"),
        ("retries", "Retries"),
    ];
    let shown: Vec<(&str, &str, String)> = FIELDS
        .iter()
        .filter_map(|(key, label)| {
            step.get(*key).map(|v| match v {
                Value::String(s) => (*key, *label, s.clone()),
                other => (*key, *label, other.to_string()),
            })
        })
        .collect();
    // The SDK's sleepUntil is in Unix seconds.
    let until = step.get("sleepUntil").and_then(Value::as_i64);
    html! {
        @if !shown.is_empty() || until.is_some() {
            dl.details {
                @if let Some(at) = until { dt { "Slept until" } dd { (layout::time(at * 1000)) } }
                @for (key, label, value) in shown {
                dt { (label) }
                @if key == "invokedWorkflowRunId" {
                    dd { a.mono href={"/console/workflows/" (encode(&value))} { (value) } }
                } @else { dd { (value) } }
            } }
        }
    }
}

/// The run's result and where it came from.
fn run_details(run: &wire::WorkflowRunLog) -> Markup {
    html! {
        section.card {
            h2 { "Run" }
            dl.details {
                @if let Some(invoker) = &run.invoker {
                    dt { "Invoked by" }
                    dd { a.mono href={"/console/workflows/" (encode(&invoker.workflow_run_id))} { (invoker.workflow_run_id) } }
                }
                @if let Some(ip) = &run.workflow_run_caller_ip { dt { "Caller IP" } dd { (ip) } }
                @if let Some(key) = &run.flow_control_key { dt { "Flow-control key" } dd { (key) } }
            }
            @if let Some(result) = &run.workflow_run_response {
                h2 { "Result" }
                pre.body #run-result { (result) }
            }
        }
    }
}

pub(super) async fn cancel(State(app): State<AppState>, Path(run_id): Path<String>) -> Response {
    let target = format!("/v2/workflows/runs?workflowRunIds={}", encode(&run_id));
    let answer = client::call(&app, http::Method::DELETE, &target, &[], Vec::new()).await;
    match answer.ok_as::<wire::RunsCanceled>(&target) {
        Ok(canceled) => {
            let done = match canceled.cancelled {
                0 => "The run had ended already: nothing was canceled.",
                _ => "Canceled the run.",
            };
            let back = format!("/console/workflows/{}?done={}", encode(&run_id), encode(done));
            Redirect::to(&back).into_response()
        }
        Err(refused) => refused.into_response(),
    }
}

/// Resume or Restart from a DLQ entry: shows the new run.
pub(super) async fn rerun(State(app): State<AppState>, Path((dlq_id, how)): Path<(String, String)>) -> Response {
    if !matches!(how.as_str(), "resume" | "restart") {
        return layout::refusal(http::StatusCode::NOT_FOUND, "Unknown workflow DLQ action.");
    }
    let target = format!("/v2/workflows/dlq/{how}/{}", encode(&dlq_id));
    let answer = client::call(&app, http::Method::POST, &target, &[], Vec::new()).await;
    match answer.ok_as::<wire::RerunRuns>(&target) {
        Ok(reruns) => match reruns.workflow_runs.first() {
            Some(run) => {
                let done = match how.as_str() {
                    "resume" => "Resumed from the failed step as this new run.",
                    _ => "Restarted from the initial payload as this new run.",
                };
                let to = format!(
                    "/console/workflows/{}?done={}",
                    encode(&run.workflow_run_id),
                    encode(done)
                );
                Redirect::to(&to).into_response()
            }
            None => layout::refusal(http::StatusCode::NOT_FOUND, "The DLQ entry is gone."),
        },
        Err(refused) => refused.into_response(),
    }
}
