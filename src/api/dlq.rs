//! The dead-letter queue (spec §9): list, get, delete, bulk delete, retry one and in bulk, in every
//! request style the SDKs send. A retried entry becomes a new message and leaves the DLQ atomically.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::ApiError;
use super::request::{bulk_request, PathId, Query, Selection, COMMON_FILTER_KEYS, PAGING_KEYS};
use crate::domain::destination::DestinationUrl;
use crate::domain::ids::{DlqId, MessageId};
use crate::domain::message::NewMessage;
use crate::domain::options::MessageOptions;
use crate::state::AppState;
use crate::store::{DlqEntry, DlqPage, Filter};
use crate::wire;

/// Page size limits of spec §14.
const DEFAULT_COUNT: i64 = 100;
const MAX_COUNT: i64 = 100;

/// The query keys of the DLQ list and of its bulk operations (spec §9.1).
fn page_keys() -> Vec<&'static str> {
    [
        COMMON_FILTER_KEYS,
        PAGING_KEYS,
        &[
            "dlqIds",
            "messageId",
            "responseStatus",
            "source",
            "workflowRunId",
            "workflowUrl",
        ],
    ]
    .concat()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/dlq", get(list).delete(delete_many))
        .route("/v2/dlq/retry", post(retry_many))
        // Upstash's name for the bulk retry by ids; a static segment, so it is never taken for a DLQ id.
        .route("/v2/dlq/retry/multi", post(retry_many))
        .route("/v2/dlq/retry/{dlq_id}", post(retry_one))
        .route("/v2/dlq/{dlq_id}", get(get_one).delete(delete_one))
        .route("/v2/workflows/dlq", axum::routing::delete(delete_workflow_many))
}

/// One page of entries plus the cursor of the next page, if any entries remain.
async fn page(app: &AppState, page: DlqPage) -> Result<(Vec<DlqEntry>, Option<String>), ApiError> {
    let listed = app.store.dlq_page(&page).await?;
    Ok((listed.rows, listed.next))
}

fn page_from_query(query: &Query, filter: Filter) -> Result<DlqPage, ApiError> {
    Ok(DlqPage {
        filter,
        cursor: query.first("cursor").filter(|c| !c.is_empty()).map(str::to_string),
        order: query.order()?,
        count: query.count(DEFAULT_COUNT, MAX_COUNT)?,
        ..DlqPage::default()
    })
}

async fn list(State(app): State<AppState>, request: Request) -> Result<Json<wire::DlqPage>, ApiError> {
    let query = Query::parse(request.uri().query())?;
    query.only(&page_keys())?;
    let (rows, cursor) = page(&app, page_from_query(&query, query.filter()?)?).await?;
    let messages = with_flow_limits(&app, &rows).await?;
    Ok(Json(wire::DlqPage { messages, cursor }))
}

async fn get_one(State(app): State<AppState>, PathId(dlq_id): PathId) -> Result<Json<wire::DlqMessage>, ApiError> {
    match app.store.dlq_get(&dlq_id).await? {
        Some(row) => Ok(Json(
            with_flow_limits(&app, std::slice::from_ref(&row)).await?.remove(0),
        )),
        None => Err(not_found(&dlq_id)),
    }
}

/// DLQ entries with the limits of their flow-control keys (each key read once).
async fn with_flow_limits(app: &AppState, rows: &[DlqEntry]) -> Result<Vec<wire::DlqMessage>, ApiError> {
    let keys =
        super::flow_control::limits_of(app, rows.iter().filter_map(|r| r.message.flow_control_key.as_ref())).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let key = row.message.flow_control_key.as_ref().and_then(|k| keys.get(k));
            wire::DlqMessage::of(row, key)
        })
        .collect())
}

fn not_found(dlq_id: &str) -> ApiError {
    ApiError::NotFound(format!("DLQ entry {dlq_id:?} not found"))
}

async fn delete_one(State(app): State<AppState>, PathId(dlq_id): PathId) -> Result<Json<wire::Deleted>, ApiError> {
    match app.store.dlq_delete(&[DlqId::from(dlq_id.as_str())]).await? {
        0 => Err(not_found(&dlq_id)),
        deleted => Ok(Json(wire::Deleted { deleted, cursor: None })),
    }
}

/// The entries a bulk request names: `dlqIds` (query or JSON body), else one page of the filters.
async fn select(
    app: &AppState,
    request: Request,
) -> Result<(Vec<DlqEntry>, Option<String>, http::HeaderMap), ApiError> {
    let (parts, query, body) = bulk_request(app, request, &page_keys()).await?;
    let from_body = body.is_some();
    let page_spec = match Selection::of(&query, body)? {
        // An explicit but empty id list selects nothing; it never widens to every entry.
        Selection::Nothing => return Ok((Vec::new(), None, parts.headers)),
        // `?count=5` alone: every entry, one page per call (spec §9.4).
        Selection::All => page_from_query(&query, Filter::default())?,
        Selection::Matching(filter) if from_body => {
            let only_ids = Filter {
                dlq_ids: Vec::new(),
                ..filter.clone()
            }
            .is_empty();
            if !only_ids {
                return Err(ApiError::BadRequest(
                    "a JSON body must be {\"dlqIds\": [...]} and come without query filters".into(),
                ));
            }
            named(filter)
        }
        Selection::Matching(filter) if !filter.dlq_ids.is_empty() => named(filter),
        Selection::Matching(filter) => page_from_query(&query, filter)?,
    };
    let (rows, cursor) = page(app, page_spec).await?;
    Ok((rows, cursor, parts.headers))
}

/// Exactly the named entries, whatever `count` says; `source=workflow` still narrows them, so a
/// workflow DLQ operation never reaches a plain message's entry by its id.
fn named(filter: Filter) -> DlqPage {
    DlqPage {
        count: filter.dlq_ids.len() as i64,
        filter: Filter {
            dlq_ids: filter.dlq_ids,
            workflow_only: filter.workflow_only,
            ..Filter::default()
        },
        ..DlqPage::default()
    }
}

async fn delete_many(State(app): State<AppState>, request: Request) -> Result<Json<wire::Deleted>, ApiError> {
    let (rows, cursor, _) = select(&app, request).await?;
    let ids: Vec<DlqId> = rows.into_iter().map(|r| r.dead_letter.dlq_id).collect();
    let deleted = app.store.dlq_delete(&ids).await?;
    Ok(Json(wire::Deleted { deleted, cursor }))
}

/// `DELETE /v2/workflows/dlq` (the Workflow SDK's `client.dlq.delete`): the bulk delete, of workflow steps'
/// entries only (`source=workflow`, which the request may not name otherwise).
async fn delete_workflow_many(State(app): State<AppState>, request: Request) -> Result<Json<wire::Deleted>, ApiError> {
    delete_many(State(app), narrowed_to_workflows(request)?).await
}

/// The workflow DLQ's bulk selection (delete, resume, restart): the DLQ's, of workflow steps' entries only.
pub(super) async fn select_workflow_entries(
    app: &AppState,
    request: Request,
) -> Result<(Vec<DlqEntry>, Option<String>, http::HeaderMap), ApiError> {
    select(app, narrowed_to_workflows(request)?).await
}

/// The request with `source=workflow` added, which it may not name itself.
fn narrowed_to_workflows(mut request: Request) -> Result<Request, ApiError> {
    let query = request.uri().query().unwrap_or_default().to_string();
    if Query::parse(Some(&query))?.first("source").is_some() {
        return Err(ApiError::BadRequest(
            "source: the workflow DLQ holds workflow entries only; leave it out".into(),
        ));
    }
    let narrowed = match query.is_empty() {
        true => "source=workflow".to_string(),
        false => format!("{query}&source=workflow"),
    };
    *request.uri_mut() = format!("{}?{narrowed}", request.uri().path())
        .parse()
        .map_err(|_| ApiError::BadRequest("the request target cannot be read".into()))?;
    Ok(request)
}

async fn retry_many(State(app): State<AppState>, request: Request) -> Result<Json<wire::Retried>, ApiError> {
    let (rows, cursor, headers) = select(&app, request).await?;
    let ids = retry(&app, &rows, &headers).await?;
    let responses = ids
        .into_iter()
        .map(|id| wire::RetriedMessage {
            message_id: id.into_string(),
        })
        .collect();
    Ok(Json(wire::Retried { responses, cursor }))
}

async fn retry_one(
    State(app): State<AppState>,
    PathId(dlq_id): PathId,
    request: Request,
) -> Result<(StatusCode, Json<wire::RetriedMessage>), ApiError> {
    let row = app.store.dlq_get(&dlq_id).await?.ok_or_else(|| not_found(&dlq_id))?;
    match retry(&app, std::slice::from_ref(&row), request.headers()).await?.pop() {
        Some(id) => Ok((
            StatusCode::CREATED,
            Json(wire::RetriedMessage {
                message_id: id.into_string(),
            }),
        )),
        None => Err(not_found(&dlq_id)),
    }
}

/// Re-publishes entries as new messages with any `Upstash-*` overrides from the request (spec §9.5):
/// method, retries, timeout, delay or not-before, labels, and extra `Upstash-Forward-*` headers.
async fn retry(app: &AppState, rows: &[DlqEntry], headers: &http::HeaderMap) -> Result<Vec<MessageId>, ApiError> {
    let overrides = MessageOptions::from_headers(headers, &app.limits)?;
    super::destinations::check_callbacks(app, &overrides)?;
    let now = app.clock.now_ms();
    if let Some(flow) = &overrides.flow_control {
        super::accept::configure_flow(app, flow, now).await?;
    }
    let entries = rows
        .iter()
        .map(|row| Ok((row.dead_letter.dlq_id.clone(), republish(row, &overrides, now, app)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let ids = app.store.dlq_retry(&entries).await?;
    app.metrics.accepted(crate::metrics::AcceptedKind::dlq_retry, ids.len());
    if !ids.is_empty() {
        app.wake_dispatchers();
    }
    Ok(ids)
}

/// The failed message again, as a new message: same destination, body and settings, unless overridden.
fn republish(row: &DlqEntry, overrides: &MessageOptions, now: i64, app: &AppState) -> Result<NewMessage, ApiError> {
    let m = &row.message;
    let url = DestinationUrl::parse(&m.url)?;
    super::destinations::check_url(app, &url)?;
    // Only `Upstash-*` headers override (spec §9.5): the retry request's own Content-Type says nothing
    // about the message.
    let mut header = m.header.clone();
    header.extend(overrides.forward.clone());
    let stored = MessageOptions {
        method: Some(overrides.method.clone().unwrap_or_else(|| m.method.clone())),
        retries: Some(overrides.retries.unwrap_or(m.max_retries)),
        timeout_ms: overrides.timeout_ms.or(m.timeout_ms),
        callback: overrides.callback.clone().or_else(|| m.callback.clone()),
        failure_callback: overrides
            .failure_callback
            .clone()
            .or_else(|| m.failure_callback.clone()),
        labels: if overrides.labels.is_empty() {
            m.labels.clone()
        } else {
            overrides.labels.clone()
        },
        ..overrides.clone()
    };
    let mut message = NewMessage::build(
        url,
        &stored,
        m.body.clone().into(),
        m.caller_ip.clone(),
        now,
        &app.limits,
    )?;
    message.header = header;
    if stored.redact.is_none() {
        message.redact = m.redact.clone();
    }
    if stored.flow_control.is_none() {
        // The key exists already: the message waits under the same limits as before.
        message.flow_control_key = m.flow_control_key.clone();
    }
    if stored.retry_delay.is_none() {
        message.retry_delay_expression = m.retry_delay.as_ref().map(|d| d.source().to_string());
    }
    Ok(message)
}
