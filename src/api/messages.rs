//! `GET /v2/messages/{id}`, `DELETE /v2/messages/{id}`, bulk cancel `DELETE /v2/messages` (spec §4), and the
//! list `GET /v2/messages` with the same filters (beyond QStash: "what is waiting, what runs next?").

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::request::{bulk_request, PathId, Query, Selection, COMMON_FILTER_KEYS};
use crate::domain::state::ShownState;
use crate::state::AppState;
use crate::store::{CancelResult, Filter, Listed, MessagePage, RunNowResult};
use crate::wire;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/messages/{id}", get(get_message).delete(cancel_message))
        .route("/v2/messages", get(list_messages).delete(cancel_messages))
        .route("/v2/messages/{id}/retry", axum::routing::post(run_now))
}

/// Any message, pending or finished, until retention removes it (QStash forgets finished ones at once).
async fn get_message(State(app): State<AppState>, PathId(id): PathId) -> Result<Json<wire::Message>, ApiError> {
    let message = app
        .store
        .message_get(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("message {id:?} not found")))?;
    let limits = super::flow_control::limits_of(&app, message.flow_control_key.iter()).await?;
    let flow = message.flow_control_key.as_ref().and_then(|k| limits.get(k));
    Ok(Json(wire::Message::of(&message, flow)))
}

async fn cancel_message(State(app): State<AppState>, PathId(id): PathId) -> Result<Json<wire::Cancelled>, ApiError> {
    match app.store.message_cancel(app.clock.now_ms(), &id).await? {
        CancelResult::Canceled | CancelResult::CancelRequested => {
            app.metrics.cancelled(1);
            Ok(Json(wire::Cancelled { cancelled: 1 }))
        }
        CancelResult::NotFound => Err(ApiError::NotFound(format!("message {id:?} not found"))),
        CancelResult::AlreadyFinished(state) => Err(ApiError::NotFound(format!(
            "message {id:?} is already {state} and cannot be canceled"
        ))),
    }
}

/// `POST /v2/messages/{id}/retry` ("Run now", hosted QStash's name for it): a waiting or retrying message
/// becomes due at once and keeps its attempt count, so its retries left are unchanged. 404 for an unknown
/// message; 400 for one waiting in a FIFO queue (as Upstash answers: running it out of turn would break the
/// queue's order); 409 when an attempt is in flight (it may still succeed; run it again if it does not) or
/// the message is finished (retry a failed one from the DLQ instead).
async fn run_now(State(app): State<AppState>, PathId(id): PathId) -> Result<Json<wire::RunNow>, ApiError> {
    let now = app.clock.now_ms();
    match app.store.message_run_now(now, &id).await? {
        RunNowResult::Due => {
            app.wake_dispatchers();
            Ok(Json(wire::RunNow {
                message_id: id,
                next_delivery_time: now,
            }))
        }
        RunNowResult::NotFound => Err(ApiError::NotFound(format!("message {id:?} not found"))),
        RunNowResult::InFlight => Err(ApiError::Conflict(format!(
            "message {id:?} is being delivered right now; it can run again once this attempt has ended"
        ))),
        RunNowResult::Queued(queue) => Err(ApiError::BadRequest(format!(
            "message {id:?} waits in FIFO queue {queue:?} and runs in the queue's order; it cannot run out of turn"
        ))),
        RunNowResult::Finished(state) => Err(ApiError::Conflict(format!(
            "message {id:?} is already {state}; retry a failed message from the DLQ"
        ))),
    }
}

/// Page size limits of the list, as for the DLQ (spec §14).
const DEFAULT_COUNT: i64 = 100;
const MAX_COUNT: i64 = 1_000;

/// One page of messages matching the filters (all when none is given), oldest first unless
/// `order=latestFirst`, with the cursor of the next page while more remain.
async fn list_messages(State(app): State<AppState>, request: Request) -> Result<Json<wire::MessagePage>, ApiError> {
    let query = Query::parse(request.uri().query())?;
    query.only(&keys(&["messageId", "state", "cursor", "count", "order"]))?;
    // A blank filter never reads as "no filter", here as in bulk cancel.
    query.refuse_blank_filters()?;
    let states = query
        .list("state")
        .iter()
        .map(|name| {
            ShownState::parse(name).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "state must be CREATED, ACTIVE, RETRY, CANCEL_REQUESTED, DELIVERED, FAILED or CANCELED, got {name:?}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = query.count(DEFAULT_COUNT, MAX_COUNT)?;
    let page = MessagePage {
        filter: query.filter()?,
        states,
        cursor: query.first("cursor").filter(|c| !c.is_empty()).map(str::to_string),
        order: query.order()?,
        count,
        ..MessagePage::default()
    };
    let Listed { rows, next: cursor } = app.store.message_page(&page).await?;
    let limits = super::flow_control::limits_of(&app, rows.iter().filter_map(|m| m.flow_control_key.as_ref())).await?;
    let messages = rows
        .iter()
        .map(|row| wire::Message::of(row, row.flow_control_key.as_ref().and_then(|k| limits.get(k))))
        .collect();
    Ok(Json(wire::MessagePage { messages, cursor }))
}

/// The filters of bulk cancel and of the list (spec §4.3), and the `extra` keys of one of them.
fn keys(extra: &[&'static str]) -> Vec<&'static str> {
    [COMMON_FILTER_KEYS, &["messageIds", "path"], extra].concat()
}

/// Three request styles (spec §4.3): query (JS), JSON body (Python `cancel_many`), or neither (cancel all).
/// `count` is accepted and ignored: the whole operation finishes in this call, as JS 2.12 documents. With
/// `async: true` (in the body, or `?async=true`) the selection is counted and stored as a bulk action,
/// answered 202 `{"actionId"}` at once, and the bulk worker cancels it in the background (issue 23).
async fn cancel_messages(State(app): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (_, mut query, mut body) = bulk_request(&app, request, &keys(&["count", "async"])).await?;
    let run_async = match (
        query.take_flag("async")?,
        body.as_mut().and_then(|b| b.run_async.take()),
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::BadRequest(
                "async is given twice, in the query and in the body, with different values".into(),
            ))
        }
        (a, b) => a.or(b).unwrap_or(false),
    };
    let selection = Selection::of(&query, body)?;
    let selects_nothing = selection == Selection::Nothing;
    let filter = match selection {
        Selection::All => Filter::default(),
        // An explicit empty id list names no message: stored as a finished action with a total of 0.
        Selection::Nothing if run_async => Filter::default(),
        Selection::Nothing => return Ok(Json(wire::Cancelled { cancelled: 0 }).into_response()),
        Selection::Matching(filter) => {
            if !filter.dlq_ids.is_empty() || !filter.response_status.is_empty() {
                return Err(ApiError::BadRequest(
                    "dlqIds and responseStatus apply to the DLQ, not to messages".into(),
                ));
            }
            // messageIds take precedence over every other filter.
            if filter.message_ids.is_empty() {
                filter
            } else {
                Filter {
                    message_ids: filter.message_ids,
                    ..Filter::default()
                }
            }
        }
    };
    if run_async {
        return super::bulk_actions::accept_cancel(&app, filter, selects_nothing).await;
    }
    let cancelled = app.store.message_cancel_many(app.clock.now_ms(), &filter).await?;
    app.metrics.cancelled(cancelled);
    Ok(Json(wire::Cancelled { cancelled }).into_response())
}
