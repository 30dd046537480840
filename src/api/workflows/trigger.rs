//! Starting runs without the SDK (protocol §2.3): `POST /v2/trigger/{url}` and `POST /v2/batch/trigger`.
//! The run's first delivery says `Upstash-Workflow-Unknown-Sdk: true`; the SDK then re-triggers the run
//! with its own settings, which replace the REST trigger's (the store decides, once).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;

use super::super::error::ApiError;
use super::super::request::{caller_ip, parse_json, path_after, read_body};
use super::publish::{prepare_rest_trigger, store};
use super::valid_run_id;
use crate::domain::destination::Destination;
use crate::domain::ids::new_run_id;
use crate::state::AppState;
use crate::wire::{TriggerItem, Triggered};

const PREFIX: &str = "/v2/trigger/";

/// `POST /v2/trigger/{url}`: the request's publish headers and body start a run (`Upstash-Workflow-RunId`
/// names it, else one is made).
pub async fn trigger_one(
    State(app): State<AppState>,
    request: Request,
) -> Result<(StatusCode, Json<Triggered>), ApiError> {
    let rest = path_after(&request, PREFIX);
    let (mut parts, body) = request.into_parts();
    let destination = Destination::from_request_target(&rest, parts.uri.query())?;
    let run_id = take_run_id(&mut parts.headers)?;
    let body = read_body(body, app.max_body_bytes).await?;
    let caller_ip = caller_ip(&parts.extensions);
    let now = app.clock.now_ms();
    let prepared = prepare_rest_trigger(&app, destination, parts.headers, run_id.clone(), body, caller_ip, now).await?;
    let mut answers = started(&app, vec![(run_id, prepared)], now).await?;
    let answer = answers.pop().expect("one answer per trigger");
    let status = match answer.deduplicated {
        true => StatusCode::ACCEPTED,
        false => StatusCode::CREATED,
    };
    Ok((status, Json(answer)))
}

/// `POST /v2/batch/trigger`: many runs, each item like `POST /v2/trigger/{url}`; every item is read before
/// any run starts, so a bad item starts none.
pub async fn trigger_many(
    State(app): State<AppState>,
    request: Request,
) -> Result<(StatusCode, Json<Vec<Triggered>>), ApiError> {
    let (parts, body) = request.into_parts();
    let limits = app.request_limits;
    let body = read_body(body, limits.max_batch_bytes).await?;
    let items: Vec<TriggerItem> = parse_json(&body)?;
    if items.is_empty() || items.len() > limits.max_batch_items {
        return Err(ApiError::BadRequest(format!(
            "a batch trigger holds 1 to {} runs, got {}",
            limits.max_batch_items,
            items.len()
        )));
    }
    let caller_ip = caller_ip(&parts.extensions);
    let now = app.clock.now_ms();
    let mut prepared = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let at = |e: ApiError| e.in_batch_item(index);
        let (target, query) = match item.destination.split_once('?') {
            Some((target, query)) => (target, Some(query)),
            None => (item.destination.as_str(), None),
        };
        let destination = Destination::from_request_target(target, query).map_err(|e| at(e.into()))?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in &item.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| at(ApiError::BadRequest(format!("invalid header name {name:?}"))))?;
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| at(ApiError::BadRequest(format!("invalid value for header {name}"))))?;
            headers.append(name, value);
        }
        let run_id = match item.workflow_run_id {
            Some(id) => {
                valid_run_id(&id).map_err(at)?;
                headers.remove("upstash-workflow-runid");
                id
            }
            None => take_run_id(&mut headers).map_err(at)?,
        };
        let body = bytes::Bytes::from(item.body.unwrap_or_default());
        let one = prepare_rest_trigger(&app, destination, headers, run_id.clone(), body, caller_ip.clone(), now)
            .await
            .map_err(at)?;
        prepared.push((run_id, one));
    }
    Ok((StatusCode::CREATED, Json(started(&app, prepared, now).await?)))
}

/// The run id the request names in `Upstash-Workflow-RunId` (taken out of its headers), or a new one.
fn take_run_id(headers: &mut http::HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.remove("upstash-workflow-runid") else {
        return Ok(new_run_id());
    };
    let id = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("Upstash-Workflow-RunId: not visible ASCII text".into()))?
        .trim()
        .to_string();
    valid_run_id(&id)?;
    Ok(id)
}

/// Stores the triggers and answers each with its run's id and creation time (a duplicate's, for a run id
/// seen before).
async fn started(
    app: &AppState,
    prepared: Vec<(String, super::publish::Prepared)>,
    now: i64,
) -> Result<Vec<Triggered>, ApiError> {
    let (run_ids, items): (Vec<String>, Vec<_>) = prepared.into_iter().unzip();
    let published = store(app, items, now).await?;
    let mut answers = Vec::with_capacity(run_ids.len());
    for (run_id, published) in run_ids.into_iter().zip(published) {
        let deduplicated = published.deduplicated == Some(true);
        let created_at = match deduplicated {
            true => app
                .store
                .workflow_run_get(&run_id)
                .await?
                .map_or(now, |run| run.created_at),
            false => now,
        };
        answers.push(Triggered {
            workflow_run_id: run_id,
            workflow_created_at: created_at,
            deduplicated,
        });
    }
    Ok(answers)
}
