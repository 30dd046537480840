//! Logs, "events" on the wire (spec §10): `GET /v2/events`, and `GET /v2/logs` answering under both keys.

use axum::extract::{Request, State};
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::request::{Query, COMMON_FILTER_KEYS, PAGING_KEYS};
use crate::domain::state::LogState;
use crate::state::AppState;
use crate::store::{EventPage, Order};
use crate::wire;

const DEFAULT_COUNT: i64 = 100;
const MAX_COUNT: i64 = 1_000;

/// The query keys of the log (spec §10.1).
fn keys() -> Vec<&'static str> {
    [
        COMMON_FILTER_KEYS,
        PAGING_KEYS,
        &["messageId", "messageIds", "state", "path"],
    ]
    .concat()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/events", get(|State(app), request| list(app, request, false)))
        .route("/v2/logs", get(|State(app), request| list(app, request, true)))
}

fn states(filter: Option<&str>) -> Result<Vec<LogState>, ApiError> {
    Ok(match filter.map(str::to_ascii_uppercase).as_deref() {
        None => vec![],
        Some("IN_PROGRESS") => vec![LogState::Active, LogState::Retry, LogState::Error],
        Some("CANCELLED") => vec![LogState::Canceled],
        Some(state) => match LogState::parse(state) {
            Some(s) => vec![s],
            None => {
                let names: Vec<&str> = LogState::ALL.iter().map(|s| s.as_str()).collect();
                return Err(ApiError::BadRequest(format!(
                    "state must be one of {}, IN_PROGRESS; got {state:?}",
                    names.join(", ")
                )));
            }
        },
    })
}

async fn list(app: AppState, request: Request, both_keys: bool) -> Result<Json<wire::LogPage>, ApiError> {
    let query = Query::parse(request.uri().query())?;
    query.only(&keys())?;
    let cursor = query
        .first("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid cursor {c:?}")))
        })
        .transpose()?;
    let order = match query.first("order") {
        None => Order::LatestFirst,
        Some(_) => query.order()?,
    };
    let count = query.count(DEFAULT_COUNT, MAX_COUNT)?;
    let page = EventPage {
        filter: query.filter()?,
        states: states(query.first("state"))?,
        cursor,
        order,
        count,
        ..EventPage::default()
    };
    let listed = app.store.event_page(&page).await?;
    let events: Vec<wire::LogEntry> = listed.rows.iter().map(wire::LogEntry::of).collect();
    // No cursor key at all on the last page (spec §10.1).
    let cursor = listed.next.map(|id| id.to_string());
    Ok(Json(wire::LogPage {
        logs: both_keys.then(|| events.clone()),
        events,
        cursor,
    }))
}
