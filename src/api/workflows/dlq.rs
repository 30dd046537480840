//! The workflow DLQ's resume and restart (`client.dlq.resume` / `restart`): each named entry of a failed
//! step starts a new run under the failed run's settings (the request's `Upstash-Retries` and flow
//! control override them); a resume keeps the history before the failed step, so the SDK goes on from
//! it without running the finished steps again, a restart starts from the initial payload.

use axum::extract::{Path, Request, State};
use axum::Json;

use super::super::dlq::select_workflow_entries;
use super::super::error::ApiError;
use super::super::request::Query;
use crate::domain::destination::DestinationUrl;
use crate::domain::ids::new_run_id;
use crate::domain::options::MessageOptions;
use crate::domain::workflow::rerun::{name_run, rerun_of, Rerun};
use crate::domain::workflow::step::{step_message, StepOf};
use crate::domain::workflow::{Role, WorkflowLink};
use crate::state::AppState;
use crate::store::DlqEntry;
use crate::wire::{RerunRuns, Triggered};

pub async fn resume(State(app): State<AppState>, request: Request) -> Result<Json<RerunRuns>, ApiError> {
    rerun_named(&app, request, None, Rerun::Resume).await
}

pub async fn restart(State(app): State<AppState>, request: Request) -> Result<Json<RerunRuns>, ApiError> {
    rerun_named(&app, request, None, Rerun::Restart).await
}

pub async fn resume_one(
    State(app): State<AppState>,
    Path(dlq_id): Path<String>,
    request: Request,
) -> Result<Json<RerunRuns>, ApiError> {
    rerun_named(&app, request, Some(dlq_id), Rerun::Resume).await
}

pub async fn restart_one(
    State(app): State<AppState>,
    Path(dlq_id): Path<String>,
    request: Request,
) -> Result<Json<RerunRuns>, ApiError> {
    rerun_named(&app, request, Some(dlq_id), Rerun::Restart).await
}

/// The entries named by the path, or selected as the DLQ's bulk operations select them (`dlqIds`, filters
/// or every entry, one page per call), all read and checked before any run starts.
async fn rerun_named(
    app: &AppState,
    request: Request,
    path_id: Option<String>,
    how: Rerun,
) -> Result<Json<RerunRuns>, ApiError> {
    let query = Query::parse(request.uri().query())?;
    let has_body = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|length| length.as_bytes() != b"0");
    // Unlike a delete, starting runs again is never what a bare request means: "every entry" is asked for
    // with `count` (the SDK's `{all: true}` sends it), so a forgotten filter starts nothing.
    if path_id.is_none() && query.is_empty() && !has_body {
        return Err(ApiError::BadRequest(
            "name the entries to start again: dlqIds, a filter, or count (with cursor) for every entry".into(),
        ));
    }
    let named = query.list("dlqIds");
    let (entries, cursor, headers) = match path_id {
        Some(id) => {
            let entry = app.store.dlq_get(&id).await?.ok_or_else(|| not_found(&id))?;
            (vec![entry], None, request.headers().clone())
        }
        None => select_workflow_entries(app, request).await?,
    };
    // Named entries must all be there: a resume that silently skips one would look like it started it.
    if let Some(missing) = named
        .iter()
        .find(|id| !entries.iter().any(|e| e.dead_letter.dlq_id.as_str() == *id))
    {
        return Err(not_found(missing));
    }
    let overrides = MessageOptions::from_headers(&headers, &app.limits)?;
    let now = app.clock.now_ms();
    let mut planned = Vec::with_capacity(entries.len());
    for entry in &entries {
        planned.push(plan(app, entry, &overrides, how, now).await?);
    }
    if let Some(flow) = &overrides.flow_control {
        super::super::accept::configure_flow(app, flow, now).await?;
    }
    let mut runs = Vec::with_capacity(planned.len());
    for (dlq_id, from, run, first_seq, first) in planned {
        if app
            .store
            .workflow_rerun(&dlq_id, &from, &run, first_seq, &first)
            .await?
        {
            runs.push(Triggered {
                workflow_run_id: run.run_id,
                workflow_created_at: run.created_at,
                deduplicated: false,
            });
        }
    }
    if !runs.is_empty() {
        app.wake_dispatchers();
    }
    Ok(Json(RerunRuns {
        workflow_runs: runs,
        cursor,
    }))
}

fn not_found(dlq_id: &str) -> ApiError {
    ApiError::NotFound(format!("DLQ entry {dlq_id:?} not found"))
}

type Planned = (
    String,
    String,
    crate::domain::workflow::NewRun,
    i64,
    crate::domain::message::NewMessage,
);

/// The new run an entry starts, and its first message; a 400 for an entry that is not a workflow step's
/// or whose run is no longer kept.
async fn plan(
    app: &AppState,
    entry: &DlqEntry,
    overrides: &MessageOptions,
    how: Rerun,
    now: i64,
) -> Result<Planned, ApiError> {
    let dlq_id = entry.dead_letter.dlq_id.as_str();
    let link = entry
        .message
        .workflow
        .as_ref()
        .filter(|link| link.role == Role::Step)
        .ok_or_else(|| ApiError::BadRequest(format!("DLQ entry {dlq_id} is not a workflow step's")))?;
    let failed_seq = link.seq.unwrap_or(0);
    let old = app.store.workflow_run_get(&link.run_id).await?.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "the run of DLQ entry {dlq_id} ({}) is no longer kept (--workflow-retention)",
            link.run_id
        ))
    })?;
    let first_seq = how.first_seq(failed_seq);
    let body = match how {
        Rerun::Resume => entry.message.body.clone(),
        Rerun::Restart => {
            let history = app.store.workflow_history(&old.run_id, Some(0)).await?;
            history.into_iter().next().map(|e| e.body).unwrap_or_default()
        }
    };
    let run = rerun_of(&old, new_run_id(), now);
    let url = DestinationUrl::parse(&old.url)
        .map_err(|e| ApiError::BadRequest(format!("the run's workflow URL no longer parses: {e}")))?;
    let link = WorkflowLink {
        run_id: run.run_id.clone(),
        role: Role::Step,
        seq: None,
        run_created_at: now,
        detect_trigger: false,
        initial_body: None,
    };
    let of = StepOf {
        config: &run.config,
        labels: &run.labels,
        link,
    };
    let mut first = step_message(of, url, overrides, body.into(), old.caller_ip.clone(), now, &app.limits)?;
    if how == Rerun::Resume {
        // The failed step's own delivery headers (its content type among them), now naming the new run.
        let mut header = entry.message.header.clone();
        name_run(&mut header, &run.run_id, now);
        first.header = header;
    }
    Ok((dlq_id.to_string(), old.run_id, run, first_seq, first))
}
