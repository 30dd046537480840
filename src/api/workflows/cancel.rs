//! Canceling runs: one run (the SDK's `context.cancel()`, through `DELETE /v2/workflows/runs/{id}`) and
//! many (`DELETE /v2/workflows/runs`, the Workflow client's `cancel`).

use axum::extract::{Request, State};
use axum::Json;

use super::super::error::ApiError;
use super::super::request::{Query, MAX_FILTER_VALUES};
use super::run_query::{run_filter, RUN_FILTER_KEYS};
use crate::domain::workflow::filter::RunFilter;
use crate::domain::workflow::{Run, RunState};
use crate::state::AppState;
use crate::store::{Ended, Filter};
use crate::wire::RunsCanceled;

/// The query keys of a bulk cancel besides the run filters (the SDK's `buildBulkActionQueryParameters`).
const KEYS: &[&str] = &["workflowRunIds", "count"];

/// Runs canceled by one request unless `count` says otherwise (the SDK's default) and at most.
const DEFAULT_COUNT: i64 = 100;
const MAX_COUNT: i64 = 10_000;

/// How many started runs one read of the store looks at while a bulk cancel searches.
const PAGE: i64 = 500;

/// `DELETE /v2/workflows/runs`: cancels up to `count` started runs that match every given filter, oldest
/// first (no filter: every started run). Each run is ended by the same transition as a single cancel, so
/// `cancelled` counts only runs this request canceled: a run that ended meanwhile, or an unknown id, counts 0.
pub async fn cancel_many(State(app): State<AppState>, request: Request) -> Result<Json<RunsCanceled>, ApiError> {
    let mut query = Query::parse(request.uri().query())?;
    query.only(&[RUN_FILTER_KEYS, KEYS].concat())?;
    query.refuse_blank_filters()?;
    let count = query.count(DEFAULT_COUNT, MAX_COUNT)?;
    let filter = run_filter(&mut query)?;
    let now = app.clock.now_ms();
    let mut cancelled = 0;
    for run in matching_runs(&app, &filter, count).await? {
        if cancel_one(&app, &run.run_id, now).await? {
            cancelled += 1;
        }
    }
    Ok(Json(RunsCanceled { cancelled }))
}

/// Ends a started run as canceled with the steps it still waits for; whether this call canceled it.
async fn cancel_one(app: &AppState, run_id: &str, now: i64) -> Result<bool, ApiError> {
    let ended = app.store.workflow_end(run_id, RunState::Canceled, None, now).await?;
    if ended == Ended::Now {
        cancel_steps(app, run_id, now).await?;
    }
    Ok(ended == Ended::Now)
}

/// Cancels what of a canceled run still waits (a sleep, a retry); steps in flight finish, and their
/// next publish is refused.
pub(super) async fn cancel_steps(app: &AppState, run_id: &str, now: i64) -> Result<(), ApiError> {
    let ids = app.store.workflow_message_ids(run_id).await?;
    for chunk in ids.chunks(MAX_FILTER_VALUES) {
        let filter = Filter {
            message_ids: chunk.to_vec(),
            ..Filter::default()
        };
        app.store.message_cancel_many(now, &filter).await?;
    }
    Ok(())
}

/// Up to `count` started runs that `filter` matches, oldest first: the named runs when ids are given,
/// else a walk over every started run.
async fn matching_runs(app: &AppState, filter: &RunFilter, count: i64) -> Result<Vec<Run>, ApiError> {
    let limit = count as usize;
    let mut found = Vec::new();
    if !filter.run_ids.is_empty() {
        for run_id in &filter.run_ids {
            if let Some(run) = app.store.workflow_run_get(run_id).await? {
                if run.state == RunState::Started && filter.matches(&run) && found.len() < limit {
                    found.push(run);
                }
            }
        }
        return Ok(found);
    }
    let mut after: Option<(i64, String)> = None;
    loop {
        let position = after.as_ref().map(|(at, id)| (*at, id.as_str()));
        let page = app.store.workflow_runs_page(RunState::Started, position, PAGE).await?;
        let full = page.len() as i64 == PAGE;
        after = page.last().map(|run| (run.created_at, run.run_id.clone()));
        found.extend(page.into_iter().filter(|run| filter.matches(run)));
        if found.len() >= limit || !full {
            found.truncate(limit);
            return Ok(found);
        }
    }
}
