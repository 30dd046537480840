//! Async bulk actions (issue 23): `GET /v2/bulkActions` and `GET /v2/bulkActions/{actionId}`, and the
//! acceptance of an async bulk cancel (`DELETE /v2/messages` with `async: true`).

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::request::{PathId, Query};
use crate::state::AppState;
use crate::store::{Filter, NewBulkAction, BULK_CHUNK};
use crate::wire;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/bulkActions", get(list))
        .route("/v2/bulkActions/{id}", get(get_one))
}

/// Counts and stores the selection (with its exact total, cut into chunks) and wakes the bulk worker.
/// 202: the cancel is accepted, not done; the action's page tells when it is.
pub async fn accept_cancel(app: &AppState, filter: Filter, selects_nothing: bool) -> Result<Response, ApiError> {
    let action = app
        .store
        .bulk_action_create(&NewBulkAction {
            id: crate::domain::ids::new_bulk_action_id(),
            filter,
            selects_nothing,
            now: app.clock.now_ms(),
            chunk: BULK_CHUNK,
        })
        .await?;
    app.bulk_wake.notify();
    let accepted = wire::BulkActionAccepted {
        action_id: action.id.into_string(),
    };
    Ok((http::StatusCode::ACCEPTED, Json(accepted)).into_response())
}

const DEFAULT_COUNT: i64 = 100;
const MAX_COUNT: i64 = 1_000;

/// The actions kept, newest first.
async fn list(State(app): State<AppState>, request: Request) -> Result<Json<wire::BulkActionPage>, ApiError> {
    let query = Query::parse(request.uri().query())?;
    query.only(&["cursor", "count"])?;
    let count = query.count(DEFAULT_COUNT, MAX_COUNT)?;
    let cursor = query.first("cursor").filter(|c| !c.is_empty());
    let mut rows = app.store.bulk_action_list(cursor, count + 1).await?;
    let more = rows.len() as i64 > count;
    rows.truncate(count as usize);
    let cursor = more.then(|| rows.last().map(|a| a.id.to_string())).flatten();
    Ok(Json(wire::BulkActionPage {
        actions: rows.iter().map(wire::BulkAction::of).collect(),
        cursor,
    }))
}

async fn get_one(State(app): State<AppState>, PathId(id): PathId) -> Result<Json<wire::BulkAction>, ApiError> {
    let action = app
        .store
        .bulk_action_get(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("bulk action {id:?} not found")))?;
    Ok(Json(wire::BulkAction::of(&action)))
}
