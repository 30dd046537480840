//! Queues (spec §7): upsert with parallelism, list, get, delete, pause, resume. Enqueueing is in publish.

use super::error::ApiError;
use super::request::AppJson;
use crate::domain::ids::is_path_safe;
use crate::state::AppState;
use crate::store::Filter;
use crate::wire;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};

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

/// Both SDKs always send all three fields, so an upsert also sets the paused state (spec §7).
async fn upsert(
    State(app): State<AppState>,
    AppJson(upsert): AppJson<wire::QueueUpsert>,
) -> Result<Json<wire::Empty>, ApiError> {
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
    Ok(Json(wire::Empty {}))
}

async fn list(State(app): State<AppState>) -> Result<Json<Vec<wire::Queue>>, ApiError> {
    Ok(Json(
        app.store.queue_list().await?.iter().map(wire::Queue::from).collect(),
    ))
}

async fn get_one(State(app): State<AppState>, Path(name): Path<String>) -> Result<Json<wire::Queue>, ApiError> {
    valid_name(&name)?;
    match app.store.queue_get(&name).await? {
        Some(queue) => Ok(Json(wire::Queue::from(&queue))),
        None => Err(ApiError::NotFound(format!("queue {name:?} does not exist"))),
    }
}

/// Idempotent. The queue's messages that have not started are canceled; those in flight finish.
async fn delete(State(app): State<AppState>, Path(name): Path<String>) -> Result<Json<wire::Empty>, ApiError> {
    valid_name(&name)?;
    let waiting = Filter {
        queue_name: vec![name.clone()],
        ..Filter::default()
    };
    app.store.message_cancel_many(app.clock.now_ms(), &waiting).await?;
    app.store.queue_delete(&name).await?;
    Ok(Json(wire::Empty {}))
}

/// Idempotent. A paused queue accepts messages and delivers none; on resume it continues in order.
async fn set_paused(app: AppState, name: String, paused: bool) -> Result<Json<wire::Empty>, ApiError> {
    valid_name(&name)?;
    if !app.store.queue_set_paused(&name, paused, app.clock.now_ms()).await? {
        return Err(ApiError::NotFound(format!("queue {name:?} does not exist")));
    }
    app.wake_dispatchers();
    Ok(Json(wire::Empty {}))
}
