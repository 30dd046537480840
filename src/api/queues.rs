//! Queues (spec §7): upsert with parallelism, list, get, delete, pause, resume. Enqueueing is in publish.

use axum::extract::{Path, Request, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::request::read_body;
use super::AppState;
use crate::domain::ids::is_path_safe;
use crate::store::{Filter, QueueRow};

/// Largest parallelism a queue may have (QStash's paid plans allow 100 to 1000).
const MAX_PARALLELISM: i32 = 1_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/queues", get(list).post(upsert))
        .route("/v2/queues/{name}", get(get_one).delete(delete))
        .route(
            "/v2/queues/{name}/pause",
            post(|State(app), Path(name)| set_paused(app, name, true)),
        )
        .route(
            "/v2/queues/{name}/resume",
            post(|State(app), Path(name)| set_paused(app, name, false)),
        )
}

pub fn valid_name(name: &str) -> Result<(), ApiError> {
    if is_path_safe(name) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "invalid queue name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Upsert {
    queue_name: String,
    #[serde(default)]
    parallelism: Option<i32>,
    #[serde(default)]
    paused: Option<bool>,
}

/// Both SDKs always send all three fields, so an upsert also sets the paused state (spec §7).
async fn upsert(State(app): State<AppState>, request: Request) -> Result<Json<Value>, ApiError> {
    let body = read_body(request.into_body(), app.max_body_bytes).await?;
    let upsert: Upsert = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "invalid JSON body, expected {{\"queueName\", \"parallelism\", \"paused\"}}: {e}"
        ))
    })?;
    valid_name(&upsert.queue_name)?;
    let parallelism = upsert.parallelism.unwrap_or(1);
    if !(1..=MAX_PARALLELISM).contains(&parallelism) {
        return Err(ApiError::BadRequest(format!(
            "parallelism must be between 1 and {MAX_PARALLELISM}"
        )));
    }
    let now = app.clock.now_ms();
    let paused = upsert.paused.unwrap_or(false);
    app.store
        .queue_upsert(&upsert.queue_name, parallelism, paused, now)
        .await?;
    app.wake_dispatchers();
    Ok(Json(json!({})))
}

fn queue_json(q: &QueueRow) -> Value {
    json!({
        "name": q.name, "parallelism": q.parallelism, "createdAt": q.created_at, "updatedAt": q.updated_at,
        "lag": q.lag, "paused": q.paused,
    })
}

async fn list(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Array(
        app.store.queue_list().await?.iter().map(queue_json).collect(),
    )))
}

async fn get_one(State(app): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    valid_name(&name)?;
    match app.store.queue_get(&name).await? {
        Some(queue) => Ok(Json(queue_json(&queue))),
        None => Err(ApiError::NotFound(format!("queue {name:?} does not exist"))),
    }
}

/// Idempotent. The queue's messages that have not started are canceled; those in flight finish.
async fn delete(State(app): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    valid_name(&name)?;
    let waiting = Filter {
        queue_name: vec![name.clone()],
        ..Filter::default()
    };
    app.store.message_cancel_many(app.clock.now_ms(), &waiting).await?;
    app.store.queue_delete(&name).await?;
    Ok(Json(json!({})))
}

/// Idempotent. A paused queue accepts messages and delivers none; on resume it continues in order.
async fn set_paused(app: AppState, name: String, paused: bool) -> Result<Json<Value>, ApiError> {
    valid_name(&name)?;
    if !app.store.queue_set_paused(&name, paused, app.clock.now_ms()).await? {
        return Err(ApiError::NotFound(format!("queue {name:?} does not exist")));
    }
    app.wake_dispatchers();
    Ok(Json(json!({})))
}
