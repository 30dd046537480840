//! Flow control (spec §8): read keys and the global parallelism; pause, resume, pin, unpin, reset the rate.

use axum::extract::{Path, Request, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::ApiError;
use super::request::{no_control_characters, PathText, Query};
use crate::domain::flow_control::MAX_PERIOD_MS;
use crate::state::AppState;
use crate::wire;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/flowControl", get(list))
        .route("/v2/flowControl/{key}", get(get_one))
        .route("/v2/flowControl/{key}/{action}", post(act))
        .route("/v2/globalParallelism", get(global_parallelism))
}

fn not_found(key: &str) -> ApiError {
    ApiError::NotFound(format!("flow-control key {key:?} not found"))
}

async fn get_one(
    State(app): State<AppState>,
    PathText(key): PathText,
) -> Result<Json<wire::FlowControlInfo>, ApiError> {
    match app.store.flow_control_get(&key).await? {
        Some(row) => Ok(Json(wire::FlowControlInfo::from(&row))),
        None => Err(not_found(&key)),
    }
}

async fn list(State(app): State<AppState>, request: Request) -> Result<Json<Vec<wire::FlowControlInfo>>, ApiError> {
    let query = Query::parse(request.uri().query())?;
    query.only(&["search"])?;
    let rows = app
        .store
        .flow_control_list(query.first("search").unwrap_or_default())
        .await?;
    Ok(Json(rows.iter().map(wire::FlowControlInfo::from).collect()))
}

/// `parallelismMax` is this instance's limit on deliveries in flight; `parallelismCount` counts them on
/// every instance sharing the database.
async fn global_parallelism(State(app): State<AppState>) -> Result<Json<wire::GlobalParallelism>, ApiError> {
    let count = app.store.message_in_flight_count().await?;
    Ok(Json(wire::GlobalParallelism {
        parallelism_max: i64::try_from(app.max_in_flight).unwrap_or(i64::MAX),
        parallelism_count: count,
    }))
}

fn positive(query: &Query, name: &str) -> Result<Option<i32>, ApiError> {
    match query.int(name)? {
        None => Ok(None),
        Some(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as i32)),
        Some(n) => Err(ApiError::BadRequest(format!("{name} must be 1 or more, got {n}"))),
    }
}

fn flag(query: &Query, name: &str) -> Result<bool, ApiError> {
    match query.first(name) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::BadRequest(format!("{name} must be true or false, got {v:?}"))),
    }
}

async fn act(
    State(app): State<AppState>,
    Path((key, action)): Path<(String, String)>,
    request: Request,
) -> Result<Json<wire::Empty>, ApiError> {
    no_control_characters(&key)?;
    let query = Query::parse(request.uri().query())?;
    let now = app.clock.now_ms();
    let store = &app.store;
    let found = match action.as_str() {
        "pause" | "resume" => {
            query.only(&[])?;
            store.flow_control_set_paused(&key, action == "pause", now).await?
        }
        "pin" => {
            query.only(&["parallelism", "rate", "period"])?;
            let period_ms = match query.int("period")? {
                None => None,
                Some(secs) if (1..=MAX_PERIOD_MS / 1000).contains(&secs) => Some(secs * 1000),
                Some(secs) => {
                    return Err(ApiError::BadRequest(format!(
                        "period must be 1 to 604800 seconds, got {secs}"
                    )))
                }
            };
            let (parallelism, rate) = (positive(&query, "parallelism")?, positive(&query, "rate")?);
            store.flow_control_pin(&key, parallelism, rate, period_ms, now).await?
        }
        "unpin" => {
            query.only(&["parallelism", "rate"])?;
            let (parallelism, rate) = (flag(&query, "parallelism")?, flag(&query, "rate")?);
            store.flow_control_unpin(&key, parallelism, rate, now).await?
        }
        // `reset` is the name in an older changelog.
        "resetRate" | "reset" => {
            query.only(&[])?;
            store.flow_control_reset_rate(&key, now).await?
        }
        other => return Err(ApiError::NotFound(format!("no flow-control action {other:?}"))),
    };
    if !found {
        return Err(not_found(&key));
    }
    // Resuming, unpinning or a new rate window may let waiting messages go.
    app.wake_dispatchers();
    Ok(Json(wire::Empty {}))
}

/// The current limits of each of these flow-control keys, each key read once (for message and DLQ views).
pub(super) async fn limits_of<'a>(
    app: &AppState,
    keys: impl Iterator<Item = &'a String>,
) -> Result<std::collections::HashMap<String, crate::store::FlowControlKey>, ApiError> {
    let mut limits = std::collections::HashMap::new();
    for key in keys {
        if !limits.contains_key(key) {
            if let Some(row) = app.store.flow_control_get(key).await? {
                limits.insert(key.clone(), row);
            }
        }
    }
    Ok(limits)
}
