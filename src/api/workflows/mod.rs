//! Upstash Workflow (docs/workflow/protocol.md): the run endpoints the SDK calls. Publishes into runs
//! arrive through `/v2/batch` and `/v2/publish` and are read in `publish`.

mod cancel;
mod dlq;
mod dlq_callback;
mod logs;
pub mod publish;
mod run_query;
mod trigger;
mod wait;

pub use wait::hooks;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::error::ApiError;
use super::request::{read_body, Query};
use crate::domain::ids::is_path_safe;
use crate::domain::workflow::{history, RunState};
use crate::state::AppState;
use crate::store::Ended;
use crate::wire::RunEnded;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/workflows/runs", delete(cancel::cancel_many))
        .route("/v2/workflows/logs", get(logs::list))
        .route("/v2/trigger/{*url}", post(trigger::trigger_one))
        .route("/v2/batch/trigger", post(trigger::trigger_many))
        .route("/v2/workflows/dlq/resume", post(dlq::resume))
        .route("/v2/workflows/dlq/restart", post(dlq::restart))
        .route("/v2/workflows/dlq/resume/{dlq_id}", post(dlq::resume_one))
        .route("/v2/workflows/dlq/restart/{dlq_id}", post(dlq::restart_one))
        .route(
            "/v2/workflows/dlq/callback/{dlq_id}",
            post(dlq_callback::retry_callback),
        )
        .route("/v2/workflows/events", get(logs::list))
        .route("/v2/workflows/runs/{run_id}", get(history_of).delete(end))
        .merge(wait::router())
}

/// Refuses a run id no run can have (it is a path segment and a filter value).
fn valid_run_id(run_id: &str) -> Result<(), ApiError> {
    if !is_path_safe(run_id) {
        return Err(ApiError::BadRequest(
            "run ids hold only letters, digits, '-', '_' and '.' (up to 256 characters)".into(),
        ));
    }
    Ok(())
}

/// `GET /v2/workflows/runs/{runId}`: the whole history of a started run (LazyFetch, protocol §3.3); 404
/// once it has ended, which the SDK reads as "the run is over".
async fn history_of(State(app): State<AppState>, Path(run_id): Path<String>) -> Result<Response, ApiError> {
    let run = app.store.workflow_run_get(&run_id).await?;
    match run {
        Some(run) if run.state == RunState::Started => {}
        Some(run) => {
            return Err(ApiError::NotFound(format!(
                "workflow run {run_id} has ended ({})",
                run.state.as_str()
            )))
        }
        None => return Err(ApiError::NotFound(format!("no workflow run {run_id}"))),
    }
    let entries = app.store.workflow_history(&run_id, None).await?;
    Ok((
        [(http::header::CONTENT_TYPE, "application/json")],
        history::to_json(&entries),
    )
        .into_response())
}

/// `DELETE /v2/workflows/runs/{runId}?cancel=true|false` (protocol §5): the route returned (its result is
/// the body) or the run is canceled, with its steps still waiting. A run that has ended already, or that
/// never existed, is answered 200 too: the SDK retries its delivery on anything else.
async fn end(
    State(app): State<AppState>,
    Path(run_id): Path<String>,
    request: Request,
) -> Result<(StatusCode, Json<RunEnded>), ApiError> {
    valid_run_id(&run_id)?;
    let (parts, body) = request.into_parts();
    let mut query = Query::parse(parts.uri.query())?;
    let cancel = query.take_flag("cancel")?.unwrap_or(false);
    query.only(&[])?;
    let body = read_body(body, app.max_body_bytes).await?;
    let now = app.clock.now_ms();
    let (state, result) = match cancel {
        true => (RunState::Canceled, None),
        false => (RunState::Success, Some(&body[..]).filter(|b| !b.is_empty())),
    };
    let ended = app.store.workflow_end(&run_id, state, result, now).await?;
    if ended == Ended::Now && cancel {
        cancel::cancel_steps(&app, &run_id, now).await?;
    }
    let state = match ended {
        Ended::Now => Some(state),
        Ended::Already(state) => Some(state),
        Ended::Unknown => None,
    };
    Ok((
        StatusCode::OK,
        Json(RunEnded {
            workflow_run_id: run_id,
            workflow_state: state.map(|s| s.as_str().to_string()),
        }),
    ))
}
