//! Accepting messages: stored durably before the answer, deduplicated within the window (spec §3.4), and
//! the dispatcher woken for those due soon. Shared by publish and batch.

use super::error::ApiError;
use crate::domain::destination::Destination;
use crate::domain::flow_control::FlowControl;
use crate::domain::message::NewMessage;
use crate::domain::options::MessageOptions;
use crate::state::AppState;
use crate::store::DedupEntry;
use crate::wire::{PublishAnswer, Published};

/// The messages of one publish (one, or one per URL-group endpoint), or those of the earlier publish that
/// claimed the same deduplication key.
pub enum Accepted {
    /// `{"messageId", "url"}` of each new message (the messages themselves went to the store).
    New(Vec<Published>),
    Duplicate(Vec<Published>),
}

impl Accepted {
    /// The answer elements: `{"messageId", "url"}`, plus `"deduplicated": true` for a duplicate.
    pub fn elements(&self) -> Vec<Published> {
        match self {
            Accepted::New(elements) => elements.clone(),
            Accepted::Duplicate(original) => original
                .iter()
                .cloned()
                .map(|element| Published {
                    deduplicated: Some(true),
                    ..element
                })
                .collect(),
        }
    }

    /// The answer of a publish to a URL (its one message) or to a URL group (one element per endpoint).
    /// Never empty: a publish stores at least one message, and a stored answer that is empty is refused
    /// when read.
    pub fn answer(&self, group: bool) -> PublishAnswer {
        let mut elements = self.elements();
        if group || elements.is_empty() {
            PublishAnswer::UrlGroup(elements)
        } else {
            PublishAnswer::Url(elements.swap_remove(0))
        }
    }

    /// The answer for messages about to be stored.
    pub fn new(messages: &[NewMessage]) -> Accepted {
        Accepted::New(
            messages
                .iter()
                .map(|m| Published {
                    message_id: m.id.to_string(),
                    url: m.url.as_str().to_string(),
                    deduplicated: None,
                })
                .collect(),
        )
    }

    pub fn is_duplicate(&self) -> bool {
        matches!(self, Accepted::Duplicate(_))
    }
}

/// The messages of one publish to `destination`: one for a URL, one per endpoint for a URL group (404 when
/// the group does not exist or has no endpoints).
pub async fn messages_for(
    app: &AppState,
    destination: Destination,
    options: &MessageOptions,
    body: bytes::Bytes,
    caller_ip: Option<String>,
    now: i64,
) -> Result<Vec<NewMessage>, ApiError> {
    Ok(match destination {
        Destination::Url(url) => vec![NewMessage::build(url, options, body, caller_ip, now, &app.limits)?],
        Destination::UrlGroup(name) => {
            let endpoints = super::url_groups::endpoints_of(app, &name).await?;
            check_fan_out(app, endpoints.len())?;
            let template = NewMessage::build(endpoints[0].0.clone(), options, body, caller_ip, now, &app.limits)?;
            template.fan_out(&name, &endpoints)
        }
    })
}

/// A publish to a URL group takes the group's default headers (`PATCH /v2/topics/{name}`) where it did not
/// set them itself. A group that does not exist adds none (the fan-out answers its 404).
pub async fn add_group_defaults(
    app: &AppState,
    destination: &Destination,
    headers: &mut http::HeaderMap,
) -> Result<(), ApiError> {
    if let Destination::UrlGroup(name) = destination {
        if let Some(group) = app.store.url_group_get(name).await? {
            crate::domain::webhook::add_group_defaults(headers, &group.headers);
        }
    }
    Ok(())
}

/// Refuses a request that would create more than `--max-fan-out` messages.
pub fn check_fan_out(app: &AppState, messages: usize) -> Result<(), ApiError> {
    let max = app.request_limits.max_fan_out;
    if messages > max {
        return Err(ApiError::BadRequest(format!(
            "this request would create {messages} messages; at most {max} per request \
             (--max-fan-out / POSTDATE_MAX_FAN_OUT)"
        )));
    }
    Ok(())
}

/// Creates the key (its messages can only be claimed once it exists) or takes the limits a message brings,
/// and tells this instance's dispatcher that flow-control keys exist.
pub async fn configure_flow(app: &AppState, flow: &FlowControl, now: i64) -> Result<(), ApiError> {
    app.store.flow_control_configure(flow, now).await?;
    app.flow_keys.mark();
    Ok(())
}

/// The answer stored with a deduplication key: the elements of the publish that claimed it.
fn earlier_answer(key: &str, stored: &str) -> Result<Vec<Published>, ApiError> {
    let corrupt = |reason: String| {
        ApiError::Internal(crate::store::StoreError::Corrupt {
            table: "dedup",
            id: key.to_string(),
            column: "published",
            reason,
        })
    };
    match serde_json::from_str::<Vec<Published>>(stored) {
        Ok(elements) if elements.is_empty() => Err(corrupt("the stored publish answer is empty".into())),
        Ok(elements) => Ok(elements),
        Err(e) => Err(corrupt(format!("the stored publish answer does not parse: {e}"))),
    }
}

pub async fn accept(
    app: &AppState,
    messages: Vec<NewMessage>,
    dedup_key: Option<String>,
    flow: Option<&FlowControl>,
    now: i64,
    kind: crate::metrics::AcceptedKind,
) -> Result<Accepted, ApiError> {
    if let Some(flow) = flow {
        configure_flow(app, flow, now).await?;
    }
    // The messages move into the store; only their answer and earliest due time are kept (a batch's bodies
    // are not copied again).
    let fresh = Accepted::new(&messages);
    let due_soon = messages.iter().any(|m| m.not_before <= now + app.wake_horizon_ms);
    let count = messages.len();
    let accepted = match dedup_key {
        None => {
            app.committer.insert(&app.store, messages).await?;
            fresh
        }
        Some(key) => {
            let answer = serde_json::to_string(&fresh.elements()).expect("publish answers serialise");
            let dedup = DedupEntry {
                key: &key,
                published: &answer,
                expires_at: now + app.dedup_window_ms,
            };
            match app.store.message_insert_deduplicated(&dedup, now, &messages).await? {
                None => fresh,
                Some(original) => Accepted::Duplicate(earlier_answer(&key, &original)?),
            }
        }
    };
    if !accepted.is_duplicate() {
        app.metrics.accepted(kind, count);
        if due_soon {
            app.wake_dispatchers();
        }
    }
    Ok(accepted)
}
