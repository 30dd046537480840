//! `context.waitForEvent` and `notify` (protocol §7), and webhooks (§9): a wait registers the step with
//! a deadline; a notify (or, for a run that does not wait yet, a later wait after a lookback notify)
//! resumes it with the event data; the maintenance loop resumes it as timed out at its deadline.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{any, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::super::error::ApiError;
use super::super::request::{parse_json, read_body};
use super::valid_run_id;
use crate::domain::destination::DestinationUrl;
use crate::domain::duration::parse_duration;
use crate::domain::headers::from_http;
use crate::domain::ids::new_waiter_id;
use crate::domain::workflow::wait::{resume_message, Waiter};
use crate::state::AppState;
use crate::store::{Notify, Waited};
use crate::wire::{Empty, NotifiedWaiter, WaitRequest, WaiterShown};

/// Steps of one run that may wait at once: a run waits for a few events at a time, so more is a flood.
pub const MAX_WAITERS_PER_RUN: i64 = 100;

/// Longest event id (it is a path segment, and part of every waiter).
const MAX_EVENT_ID: usize = 256;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/wait/{event_id}", post(wait))
        .route("/v2/notify/{event_id}", post(notify))
        .route("/v2/notify/{run_id}/{event_id}", post(notify_run))
        .route("/v2/waiters/{event_id}", get(waiters))
}

/// The webhook route, outside the token check by design: the SDK hands its URL to third parties. It acts
/// only on a started run (unknown ones are 404), with a body within `--max-body-bytes`, and keeps one event
/// per run and event id.
pub fn hooks() -> Router<AppState> {
    Router::new().route("/v2/workflows/hooks/{user_id}/{run_id}/{event_id}", any(hook))
}

fn valid_event_id(event_id: &str) -> Result<(), ApiError> {
    if event_id.is_empty() || event_id.len() > MAX_EVENT_ID || event_id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "event ids are 1 to {MAX_EVENT_ID} characters without control characters"
        )));
    }
    Ok(())
}

/// A wait's timeout: a duration text (`"30s"`) or a number of seconds, within the longest delay.
fn timeout_ms(app: &AppState, timeout: &serde_json::Value) -> Result<(String, i64), ApiError> {
    let invalid = |why: String| ApiError::BadRequest(format!("invalid timeout: {why}"));
    let (text, ms) = match timeout {
        serde_json::Value::String(text) => {
            let duration = parse_duration(text).map_err(|e| invalid(e.to_string()))?;
            (text.clone(), i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
        }
        serde_json::Value::Number(n) => {
            let seconds = n
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| invalid("expected a number of seconds, 0 or more".into()))?;
            (n.to_string(), (seconds * 1000.0).min(i64::MAX as f64) as i64)
        }
        _ => {
            return Err(invalid(
                "expected a duration such as \"30s\" or a number of seconds".into(),
            ))
        }
    };
    if ms > app.limits.max_delay_ms {
        return Err(invalid("longer than this server's longest delay".into()));
    }
    Ok((text, ms))
}

fn checked_url(app: &AppState, field: &str, url: &str) -> Result<String, ApiError> {
    let parsed = DestinationUrl::parse(url).map_err(|e| ApiError::BadRequest(format!("invalid {field}: {e}")))?;
    super::super::destinations::check_url(app, &parsed)
        .map_err(|e| ApiError::BadRequest(format!("invalid {field}: {e}")))?;
    Ok(parsed.as_str().to_string())
}

/// `POST /v2/wait/{eventId}`: the step named in the body waits for the event, for the run named by
/// `Upstash-Workflow-RunId`. Answered `200 {}` (the SDK does not read it).
async fn wait(
    State(app): State<AppState>,
    Path(event_id): Path<String>,
    request: Request,
) -> Result<Json<Empty>, ApiError> {
    valid_event_id(&event_id)?;
    let (parts, body) = request.into_parts();
    let run_id = parts
        .headers
        .get("upstash-workflow-runid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(|| ApiError::BadRequest("a wait must name its run in Upstash-Workflow-RunId".into()))?
        .to_string();
    valid_run_id(&run_id)?;
    let request: WaitRequest = parse_json(&read_body(body, app.max_body_bytes).await?)?;
    if !request.step.is_object() {
        return Err(ApiError::BadRequest(
            "step must be a JSON object (the SDK's step)".into(),
        ));
    }
    let url = checked_url(&app, "url", &request.url)?;
    let timeout_url = match &request.timeout_url {
        Some(timeout_url) => checked_url(&app, "timeoutUrl", timeout_url)?,
        None => url.clone(),
    };
    let (timeout, ms) = timeout_ms(&app, &request.timeout)?;
    let now = app.clock.now_ms();
    let waiter = Waiter {
        id: new_waiter_id(),
        run_id: run_id.clone(),
        event_id,
        url,
        timeout_url,
        timeout,
        deadline: now.saturating_add(ms),
        step: request.step,
        timeout_headers: request.timeout_headers,
        created_at: now,
    };
    let limits = app.limits;
    let resume = move |run: &_, waiter: &_, resolution: &_| resume_message(run, waiter, resolution, now, &limits);
    match app
        .store
        .workflow_wait(&waiter, MAX_WAITERS_PER_RUN, now, &resume)
        .await?
    {
        Waited::Waiting => {}
        Waited::Resumed(_) => app.wake_dispatchers(),
        Waited::NotStarted(state) => return Err(super::publish::not_started(&run_id, state)),
        Waited::TooMany => {
            return Err(ApiError::BadRequest(format!(
                "workflow run {run_id} has {MAX_WAITERS_PER_RUN} steps waiting already, the most one run may"
            )))
        }
    }
    Ok(Json(Empty {}))
}

/// `POST /v2/notify/{eventId}`: resumes every step waiting for the event with the body as its data;
/// `[]` when none waits.
async fn notify(
    State(app): State<AppState>,
    Path(event_id): Path<String>,
    request: Request,
) -> Result<Json<Vec<NotifiedWaiter>>, ApiError> {
    valid_event_id(&event_id)?;
    let data = read_body(request.into_body(), app.max_body_bytes).await?;
    notify_with(&app, &event_id, None, &data).await
}

/// `POST /v2/notify/{workflowRunId}/{eventId}` (lookback): as a notify, for that run's steps only; when
/// none waits yet, the event is kept and the run's next wait for it resumes at once. 404 for a run that
/// does not exist or has ended.
async fn notify_run(
    State(app): State<AppState>,
    Path((run_id, event_id)): Path<(String, String)>,
    request: Request,
) -> Result<Json<Vec<NotifiedWaiter>>, ApiError> {
    valid_run_id(&run_id)?;
    valid_event_id(&event_id)?;
    let data = read_body(request.into_body(), app.max_body_bytes).await?;
    notify_with(&app, &event_id, Some(&run_id), &data).await
}

async fn notify_with(
    app: &AppState,
    event_id: &str,
    run_id: Option<&str>,
    data: &[u8],
) -> Result<Json<Vec<NotifiedWaiter>>, ApiError> {
    let now = app.clock.now_ms();
    let limits = app.limits;
    let resume = move |run: &_, waiter: &_, resolution: &_| resume_message(run, waiter, resolution, now, &limits);
    match app.store.workflow_notify(event_id, run_id, data, now, &resume).await? {
        Notify::Kept => Ok(Json(Vec::new())),
        Notify::UnknownRun => Err(ApiError::NotFound(format!(
            "no started workflow run {} to notify",
            run_id.unwrap_or_default()
        ))),
        Notify::Resumed(resumed) => {
            if !resumed.is_empty() {
                app.wake_dispatchers();
            }
            let answer = resumed
                .into_iter()
                .map(|(waiter, run_created_at, message_id)| NotifiedWaiter {
                    workflow_run_id: waiter.run_id.clone(),
                    workflow_created_at: run_created_at,
                    waiter: shown(waiter),
                    message_id,
                    deduplicated: false,
                })
                .collect();
            Ok(Json(answer))
        }
    }
}

fn shown(waiter: Waiter) -> WaiterShown {
    WaiterShown {
        url: waiter.url,
        deadline: waiter.deadline.div_euclid(1000),
        headers: waiter.timeout_headers.clone(),
        timeout_url: waiter.timeout_url,
        timeout_headers: waiter.timeout_headers,
    }
}

/// `GET /v2/waiters/{eventId}`: the steps waiting for the event, oldest first.
async fn waiters(
    State(app): State<AppState>,
    Path(event_id): Path<String>,
) -> Result<Json<Vec<WaiterShown>>, ApiError> {
    valid_event_id(&event_id)?;
    let waiters = app.store.workflow_waiters(&event_id).await?;
    Ok(Json(waiters.into_iter().map(shown).collect()))
}

/// `ANY /v2/workflows/hooks/{userId}/{runId}/{eventId}`: a lookback notify of the run whose data is the
/// request itself, `{method, header, body (base64), proto, host, url}`, as `waitForWebhook` reads it.
async fn hook(
    State(app): State<AppState>,
    Path((_user_id, run_id, event_id)): Path<(String, String, String)>,
    request: Request,
) -> Result<StatusCode, ApiError> {
    valid_run_id(&run_id)?;
    valid_event_id(&event_id)?;
    app.hook_limiter
        .admit(&run_id, app.clock.now_ms())
        .map_err(|retry_in_ms| ApiError::TooManyRequests((retry_in_ms as u64).div_ceil(1000)))?;
    let (parts, body) = request.into_parts();
    let body = read_body(body, app.max_body_bytes).await?;
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let url = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let data = serde_json::json!({
        "method": parts.method.as_str(),
        "header": from_http(&parts.headers),
        "body": STANDARD.encode(&body),
        "proto": "http",
        "host": host,
        "url": url,
    });
    // The caller is a third party: what was resumed is not its business.
    let _resumed = notify_with(&app, &event_id, Some(&run_id), data.to_string().as_bytes()).await?;
    Ok(StatusCode::OK)
}
