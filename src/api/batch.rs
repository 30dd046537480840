//! `POST /v2/batch` (spec §3.3): many publishes in one request, validated as a whole before anything is
//! stored; the answer is an array in input order (an object per URL item, an array per URL-group item).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::accept::{accept, add_group_defaults, messages_for, Accepted};
use super::error::ApiError;
use super::request::{caller_ip, parse_json_seed, read_body};
use crate::domain::destination::Destination;
use crate::domain::message::NewMessage;
use crate::domain::options::MessageOptions;
use crate::domain::webhook::{add_query_options, split_query};
use crate::metrics::AcceptedKind;
use crate::state::AppState;
use crate::wire::{BatchItem as Item, PublishAnswer};

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/batch", post(batch))
}

/// One validated item: a plain publish, or a publish into a workflow run (stored by `workflows::publish`).
enum Prepared {
    Plain(Plain),
    Workflow(Box<super::workflows::publish::Prepared>),
}

/// A plain item: its messages (fanned out already) and deduplication key; `group` says how to answer.
struct Plain {
    messages: Vec<NewMessage>,
    flow: Option<crate::domain::flow_control::FlowControl>,
    dedup_key: Option<String>,
    group: bool,
}

async fn batch(
    State(app): State<AppState>,
    request: Request,
) -> Result<(StatusCode, Json<Vec<PublishAnswer>>), ApiError> {
    let caller_ip = caller_ip(request.extensions());
    let items = read_items(&app, request.into_body()).await?;
    let now = app.clock.now_ms();
    let mut prepared: Vec<Prepared> = Vec::with_capacity(items.len());
    let mut created = 0;
    for (index, item) in items.into_iter().enumerate() {
        let item = prepare(&app, item, caller_ip.clone(), now)
            .await
            .map_err(|e| e.in_batch_item(index))?;
        created += match &item {
            Prepared::Plain(plain) => plain.messages.len(),
            Prepared::Workflow(_) => 1,
        };
        super::accept::check_fan_out(&app, created)?;
        prepared.push(item);
    }
    let (prepared, workflow): (Vec<_>, Vec<_>) = prepared
        .into_iter()
        .enumerate()
        .partition(|(_, p)| matches!(p, Prepared::Plain(_)));
    let prepared: Vec<(usize, Plain)> = prepared
        .into_iter()
        .filter_map(|(index, p)| match p {
            Prepared::Plain(plain) => Some((index, plain)),
            Prepared::Workflow(_) => None,
        })
        .collect();
    let (workflow_at, workflow): (Vec<usize>, Vec<_>) = workflow
        .into_iter()
        .filter_map(|(index, p)| match p {
            Prepared::Workflow(w) => Some((index, *w)),
            Prepared::Plain(_) => None,
        })
        .unzip();
    // Everything is valid: create the queues items name, then store. Items without a deduplication key go
    // in one statement.
    let queues: std::collections::BTreeSet<&String> = prepared
        .iter()
        .flat_map(|(_, p)| p.messages.iter().filter_map(|m| m.queue_name.as_ref()))
        .collect();
    for queue in queues {
        app.store.queue_ensure(queue, now).await?;
    }
    for flow in prepared.iter().filter_map(|(_, p)| p.flow.as_ref()) {
        super::accept::configure_flow(&app, flow, now).await?;
    }
    // The messages move into the store (no copy of the bodies); each item keeps only its answer.
    let mut answers: Vec<Option<PublishAnswer>> = (0..prepared.len() + workflow.len()).map(|_| None).collect();
    let mut all_plain: Vec<NewMessage> = Vec::new();
    let mut deduplicated = Vec::new();
    let mut plain_answers = Vec::new();
    for (index, p) in prepared {
        match p.dedup_key {
            None => {
                plain_answers.push((index, Accepted::new(&p.messages), p.group));
                all_plain.extend(p.messages);
            }
            Some(key) => deduplicated.push((index, key, p.messages, p.group)),
        }
    }
    if !all_plain.is_empty() {
        accept(&app, all_plain, None, None, now, AcceptedKind::batch).await?;
    }
    for (index, accepted, group) in plain_answers {
        answers[index] = Some(accepted.answer(group));
    }
    for (index, key, messages, group) in deduplicated {
        let accepted = accept(&app, messages, Some(key), None, now, AcceptedKind::batch).await?;
        answers[index] = Some(accepted.answer(group));
    }
    let stored = super::workflows::publish::store(&app, workflow, now).await?;
    for (index, published) in workflow_at.into_iter().zip(stored) {
        answers[index] = Some(PublishAnswer::Url(published));
    }
    Ok((StatusCode::CREATED, Json(answers.into_iter().flatten().collect())))
}

/// The items of a batch, within `--max-batch-bytes` and `--max-batch-items`. The raw request is dropped
/// as soon as it is parsed. Not [`super::request::AppJson`]: a batch has its own size limit, and its items
/// are counted while they are read so that a huge array stops at the first item too many.
async fn read_items(app: &AppState, body: axum::body::Body) -> Result<Vec<Item>, ApiError> {
    let limits = app.request_limits;
    let body = read_body(body, limits.max_batch_bytes).await?;
    let too_many = std::cell::Cell::new(false);
    let seed = AtMost {
        max: limits.max_batch_items,
        exceeded: &too_many,
    };
    match parse_json_seed(&body, seed) {
        Err(_) if too_many.get() => Err(ApiError::BadRequest(format!(
            "the batch has more than {} items; at most {} per request (--max-batch-items / \
             POSTDATE_MAX_BATCH_ITEMS)",
            limits.max_batch_items, limits.max_batch_items
        ))),
        Err(e) => Err(e),
        Ok(items) if items.is_empty() => Err(ApiError::BadRequest("the batch is empty".into())),
        Ok(items) => Ok(items),
    }
}

/// Reads a JSON array of items, stopping at the first item past `max` instead of holding them all.
struct AtMost<'a> {
    max: usize,
    exceeded: &'a std::cell::Cell<bool>,
}

impl<'de> serde::de::DeserializeSeed<'de> for AtMost<'_> {
    type Value = Vec<Item>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Item>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for AtMost<'_> {
    type Value = Vec<Item>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "an array of at most {} {{destination, headers, body}} items",
            self.max
        )
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Item>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            if items.len() == self.max {
                self.exceeded.set(true);
                return Err(serde::de::Error::custom("too many items"));
            }
            items.push(item);
        }
        Ok(items)
    }
}

async fn prepare(app: &AppState, item: Item, caller_ip: Option<String>, now: i64) -> Result<Prepared, ApiError> {
    if let Some(queue) = &item.queue {
        super::queues::valid_name(queue)?;
    }
    let (target, query) = match item.destination.split_once('?') {
        Some((target, query)) => (target, Some(query)),
        None => (item.destination.as_str(), None),
    };
    // The same query options as a publish's (webhook-receiver mode), though a batch item has headers too.
    let split = split_query(query)?;
    let destination = Destination::from_request_target(target, split.destination.as_deref())?;
    let mut headers = http::HeaderMap::new();
    for (name, value) in &item.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::BadRequest(format!("invalid header name {name:?}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| ApiError::BadRequest(format!("invalid value for header {name}")))?;
        headers.append(name, value);
    }
    add_query_options(&mut headers, &split.options)?;
    if crate::domain::workflow::publish::is_workflow_publish(&headers) {
        let body = bytes::Bytes::from(item.body.unwrap_or_default());
        let prepared = super::workflows::publish::prepare(app, destination, headers, body, caller_ip, now).await?;
        return Ok(Prepared::Workflow(Box::new(prepared)));
    }
    add_group_defaults(app, &destination, &mut headers).await?;
    let options = MessageOptions::from_headers(&headers, &app.limits)?;
    super::destinations::check(app, &destination, &options)?;
    let body = bytes::Bytes::from(item.body.unwrap_or_default());
    if body.len() > app.max_body_bytes {
        return Err(ApiError::PayloadTooLarge(app.max_body_bytes));
    }
    let dedup_key = options.deduplication_key(destination.as_str(), &body);
    let group = matches!(destination, Destination::UrlGroup(_));
    let mut messages = messages_for(app, destination, &options, body, caller_ip, now).await?;
    for message in &mut messages {
        message.queue_name = item.queue.clone();
    }
    Ok(Prepared::Plain(Plain {
        messages,
        flow: options.flow_control,
        dedup_key,
        group,
    }))
}
