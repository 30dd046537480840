//! `POST /v2/batch` (spec §3.3): many publishes in one request, validated as a whole before anything is
//! stored; the answer is an array in input order (an object per URL item, an array per URL-group item).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::accept::{accept, messages_for, Accepted};
use super::error::ApiError;
use super::request::{caller_ip, read_body};
use super::AppState;
use crate::domain::destination::Destination;
use crate::domain::message::NewMessage;
use crate::domain::options::MessageOptions;

/// A batch may carry this many times the single-message body limit in all.
const BATCH_BODY_FACTOR: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/batch", post(batch))
}

/// Unknown fields are refused: a typo such as `"header"` would otherwise publish without its settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    destination: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    queue: Option<String>,
}

/// One validated item: its messages (fanned out already) and deduplication key; `group` says how to answer.
struct Prepared {
    messages: Vec<NewMessage>,
    flow: Option<crate::domain::flow_control::FlowControl>,
    dedup_key: Option<String>,
    group: bool,
}

async fn batch(State(app): State<AppState>, request: Request) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller_ip = caller_ip(request.extensions());
    let body = read_body(
        request.into_body(),
        app.max_body_bytes.saturating_mul(BATCH_BODY_FACTOR),
    )
    .await?;
    let items: Vec<Item> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "invalid JSON body, expected an array of {{destination, headers, body}}: {e}"
        ))
    })?;
    if items.is_empty() {
        return Err(ApiError::BadRequest("the batch is empty".into()));
    }
    let now = app.clock.now_ms();
    let mut prepared = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let item_error = |e: ApiError| match e {
            ApiError::BadRequest(m) => ApiError::BadRequest(format!("batch item {index}: {m}")),
            ApiError::NotFound(m) => ApiError::NotFound(format!("batch item {index}: {m}")),
            other => other,
        };
        prepared.push(prepare(&app, item, caller_ip.clone(), now).await.map_err(item_error)?);
    }
    // Everything is valid: create the queues items name, then store. Items without a deduplication key go
    // in one statement.
    let queues: std::collections::BTreeSet<&String> = prepared
        .iter()
        .flat_map(|p| p.messages.iter().filter_map(|m| m.queue_name.as_ref()))
        .collect();
    for queue in queues {
        app.store.queue_ensure(queue, now).await?;
    }
    let (plain, deduplicated): (Vec<_>, Vec<_>) = prepared.iter().enumerate().partition(|(_, p)| p.dedup_key.is_none());
    let mut answers: Vec<Option<(Accepted, bool)>> = (0..prepared.len()).map(|_| None).collect();
    let all_plain: Vec<NewMessage> = plain.iter().flat_map(|(_, p)| p.messages.iter().cloned()).collect();
    for flow in prepared.iter().filter_map(|p| p.flow.as_ref()) {
        super::accept::configure_flow(&app, flow, now).await?;
    }
    if !all_plain.is_empty() {
        accept(&app, all_plain, None, None, now).await?;
        for (index, p) in &plain {
            answers[*index] = Some((Accepted::New(p.messages.clone()), p.group));
        }
    }
    for (index, p) in deduplicated {
        let accepted = accept(&app, p.messages.clone(), p.dedup_key.clone(), None, now).await?;
        answers[index] = Some((accepted, p.group));
    }
    let answer: Vec<Value> = answers
        .into_iter()
        .flatten()
        .map(|(accepted, group)| {
            let elements = accepted.elements();
            if group {
                Value::Array(elements)
            } else {
                elements.into_iter().next().unwrap_or_default()
            }
        })
        .collect();
    Ok((StatusCode::CREATED, Json(Value::Array(answer))))
}

async fn prepare(app: &AppState, item: Item, caller_ip: Option<String>, now: i64) -> Result<Prepared, ApiError> {
    if let Some(queue) = &item.queue {
        super::queues::valid_name(queue)?;
    }
    let (target, query) = match item.destination.split_once('?') {
        Some((target, query)) => (target, Some(query)),
        None => (item.destination.as_str(), None),
    };
    let destination = Destination::from_request_target(target, query)?;
    let mut headers = http::HeaderMap::new();
    for (name, value) in &item.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::BadRequest(format!("invalid header name {name:?}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| ApiError::BadRequest(format!("invalid value for header {name}")))?;
        headers.append(name, value);
    }
    let options = MessageOptions::from_headers(&headers, &app.limits)?;
    let body = item.body.unwrap_or_default().into_bytes();
    if body.len() > app.max_body_bytes {
        return Err(ApiError::PayloadTooLarge(app.max_body_bytes));
    }
    let dedup_key = options.deduplication_key(destination.as_str(), &body);
    let group = matches!(destination, Destination::UrlGroup(_));
    let mut messages = messages_for(app, destination, &options, body, caller_ip, now).await?;
    for message in &mut messages {
        message.queue_name = item.queue.clone();
    }
    Ok(Prepared {
        messages,
        flow: options.flow_control,
        dedup_key,
        group,
    })
}
