//! `GET /v2/workflows/logs` and the SDK's `GET /v2/workflows/events?groupBy=workflowRunId` (`client.logs`):
//! runs, newest first, each with its steps in Upstash's `WorkflowRun` shape.

use axum::extract::{Request, State};
use axum::Json;
use serde_json::{Map, Value};

use super::super::error::ApiError;
use super::super::request::Query;
use super::run_query::{run_filter, RUN_FILTER_KEYS};
use crate::domain::state::{LogState, MessageState};
use crate::domain::workflow::filter::RunFilter;
use crate::domain::workflow::history::HistoryEntry;
use crate::domain::workflow::run_log::{finished_steps, GroupKind, StepGroup};
use crate::domain::workflow::{Role, Run, RunState};
use crate::state::AppState;
use crate::store::{EventPage, Filter, Order};
use crate::wire::{RunInvoker, StepLogGroup, WorkflowRunLog, WorkflowRunLogs};

/// The query keys of the logs besides the run filters.
const KEYS: &[&str] = &[
    "groupBy",
    "workflowRunId",
    "workflowCreatedAt",
    "state",
    "trimBody",
    "cursor",
    "count",
];

const DEFAULT_COUNT: i64 = 10;
const MAX_COUNT: i64 = 100;
/// How many runs one page looks at, at most, while a filter searches; the cursor says where it goes on.
const SEARCH_WINDOW: usize = 10_000;
const READ: i64 = 200;
/// How many of a run's latest messages may still be unfinished steps (a parallel plan's branches).
const RECENT_MESSAGES: usize = 64;

pub async fn list(State(app): State<AppState>, request: Request) -> Result<Json<WorkflowRunLogs>, ApiError> {
    let mut query = Query::parse(request.uri().query())?;
    query.only(&[RUN_FILTER_KEYS, KEYS].concat())?;
    query.refuse_blank_filters()?;
    match query.first("groupBy") {
        None | Some("workflowRunId") => {}
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "groupBy must be workflowRunId, got {other:?}"
            )))
        }
    }
    let count = query.count(DEFAULT_COUNT, MAX_COUNT)? as usize;
    let state = match query.first("state") {
        None => None,
        Some(s) => Some(RunState::parse(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "state must be RUN_STARTED, RUN_SUCCESS, RUN_FAILED or RUN_CANCELED, got {s:?}"
            ))
        })?),
    };
    let created_at = query.int("workflowCreatedAt")?;
    let trim = match query.int("trimBody")? {
        Some(n) if n < 0 => return Err(ApiError::BadRequest("trimBody must not be negative".into())),
        n => n.map(|n| n as usize),
    };
    let cursor = query.first("cursor").map(parse_cursor).transpose()?;
    let filter = run_filter(&mut query)?;
    let wanted = |run: &Run| filter.matches(run) && created_at.is_none_or(|at| run.created_at == at);
    let (runs, next) = match filter.run_ids.is_empty() {
        true => newest(&app, state, cursor, count, &wanted).await?,
        false => (named(&app, &filter, state, &wanted).await?, None),
    };
    let mut shown = Vec::with_capacity(runs.len());
    for run in runs {
        shown.push(run_log(&app, run, trim).await?);
    }
    Ok(Json(WorkflowRunLogs {
        cursor: next.map(|(at, id)| format!("{at}:{id}")),
        runs: shown,
    }))
}

fn parse_cursor(raw: &str) -> Result<(i64, String), ApiError> {
    raw.split_once(':')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_string())))
        .ok_or_else(|| ApiError::BadRequest(format!("cursor {raw:?} is not one this endpoint gave")))
}

/// The named runs that exist and match.
async fn named(
    app: &AppState,
    filter: &RunFilter,
    state: Option<RunState>,
    wanted: &impl Fn(&Run) -> bool,
) -> Result<Vec<Run>, ApiError> {
    let mut runs = Vec::new();
    for run_id in &filter.run_ids {
        if let Some(run) = app.store.workflow_run_get(run_id).await? {
            if state.is_none_or(|s| s == run.state) && wanted(&run) {
                runs.push(run);
            }
        }
    }
    Ok(runs)
}

/// Up to `count` matching runs, newest first, from `cursor` on, and the cursor of the next page when more
/// may follow (also when the search window ran out first).
async fn newest(
    app: &AppState,
    state: Option<RunState>,
    mut cursor: Option<(i64, String)>,
    count: usize,
    wanted: &impl Fn(&Run) -> bool,
) -> Result<(Vec<Run>, Option<(i64, String)>), ApiError> {
    let mut found = Vec::new();
    let mut looked = 0;
    loop {
        let before = cursor.as_ref().map(|(at, id)| (*at, id.as_str()));
        let page = app.store.workflow_runs_newest(state, before, READ).await?;
        let full = page.len() as i64 == READ;
        for run in page {
            looked += 1;
            cursor = Some((run.created_at, run.run_id.clone()));
            if wanted(&run) {
                found.push(run);
            }
            if found.len() == count || looked == SEARCH_WINDOW {
                return Ok((found, cursor));
            }
        }
        if !full {
            return Ok((found, None));
        }
    }
}

async fn run_log(app: &AppState, run: Run, trim: Option<usize>) -> Result<WorkflowRunLog, ApiError> {
    let history = app.store.workflow_history(&run.run_id, None).await?;
    let mut groups = finished_steps(&history, trim);
    let next = unfinished_steps(app, &history).await?;
    if !next.is_empty() {
        groups.push(StepGroup {
            kind: GroupKind::Next,
            steps: next,
        });
    }
    Ok(WorkflowRunLog {
        workflow_run_id: run.run_id,
        workflow_url: run.url,
        workflow_state: run.state.as_str().to_string(),
        workflow_run_created_at: run.created_at,
        workflow_run_completed_at: run.completed_at,
        workflow_run_caller_ip: run.caller_ip,
        steps: groups
            .into_iter()
            .map(|g| StepLogGroup {
                kind: g.kind.as_str().to_string(),
                steps: g.steps,
            })
            .collect(),
        workflow_run_response: run.result.map(|r| String::from_utf8_lossy(&r).into_owned()),
        invoker: run.invoker.map(|i| RunInvoker {
            workflow_run_id: i.run_id,
            workflow_url: i.url,
            workflow_run_created_at: i.created_at,
        }),
        label: run.labels.first().cloned(),
        labels: run.labels,
        flow_control_key: run.config.flow_control_key,
    })
}

/// The run's step deliveries that have not succeeded: waiting or running (`STEP_PROGRESS`), retrying
/// (`STEP_RETRY`), failed or canceled, each with its retries and the errors of its attempts.
async fn unfinished_steps(app: &AppState, history: &[HistoryEntry]) -> Result<Vec<Map<String, Value>>, ApiError> {
    let recent = history.iter().rev().take(RECENT_MESSAGES).rev();
    let mut steps = Vec::new();
    for entry in recent {
        let Some(message) = app.store.message_get(&entry.message_id).await? else {
            continue;
        };
        if message.workflow.as_ref().is_none_or(|link| link.role != Role::Step) {
            continue;
        }
        let state = match message.state {
            MessageState::Delivered => continue,
            MessageState::Pending if message.attempt > 0 => "STEP_RETRY",
            MessageState::Pending | MessageState::InProgress => "STEP_PROGRESS",
            MessageState::Failed => "STEP_FAILED",
            MessageState::Canceled => "STEP_CANCELED",
        };
        let mut step = Map::new();
        step.insert("messageId".into(), Value::String(entry.message_id.clone()));
        step.insert("state".into(), Value::String(state.into()));
        step.insert("createdAt".into(), Value::from(entry.created_at));
        step.insert("retries".into(), Value::from(message.max_retries));
        if let Some(delay) = &message.retry_delay {
            step.insert("retryDelay".into(), Value::String(delay.source().to_string()));
        }
        let errors = attempt_errors(app, &entry.message_id).await?;
        if !errors.is_empty() {
            step.insert("errors".into(), Value::Array(errors));
        }
        steps.push(step);
    }
    Ok(steps)
}

/// The failed attempts of a message, oldest first (at most 100), as Upstash's `StepError`.
async fn attempt_errors(app: &AppState, message_id: &str) -> Result<Vec<Value>, ApiError> {
    let page = EventPage {
        filter: Filter {
            message_ids: vec![message_id.to_string()],
            ..Filter::default()
        },
        states: vec![LogState::Error],
        cursor: None,
        until: None,
        order: Order::EarliestFirst,
        count: 100,
    };
    let entries = app.store.event_list(&page).await?;
    Ok(entries
        .iter()
        .map(|stored| {
            // As `/v2/logs` shows it: the answer kept on the ERROR entry, redacted as the message asks.
            let e = crate::wire::LogEntry::of(stored);
            serde_json::json!({
                "error": e.error.as_deref().unwrap_or_default(),
                "status": e.response_status.unwrap_or(0),
                "time": e.time,
                "body": e.response_text().unwrap_or_default(),
                "headers": e.response_headers.unwrap_or_default(),
            })
        })
        .collect())
}
