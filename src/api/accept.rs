//! Accepting messages: stored durably before the answer, deduplicated within the window (spec §3.4), and
//! the dispatcher woken for those due soon. Shared by publish and batch.

use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;
use crate::domain::destination::Destination;
use crate::domain::flow_control::FlowControl;
use crate::domain::message::NewMessage;
use crate::domain::options::MessageOptions;

/// The messages of one publish (one, or one per URL-group endpoint), or those of the earlier publish that
/// claimed the same deduplication key.
pub enum Accepted {
    New(Vec<NewMessage>),
    Duplicate(Vec<Value>),
}

impl Accepted {
    /// The answer elements: `{"messageId", "url"}`, plus `"deduplicated": true` for a duplicate.
    pub fn elements(&self) -> Vec<Value> {
        match self {
            Accepted::New(messages) => messages
                .iter()
                .map(|m| json!({ "messageId": m.id, "url": m.url.as_str() }))
                .collect(),
            Accepted::Duplicate(original) => original
                .iter()
                .cloned()
                .map(|mut element| {
                    element["deduplicated"] = json!(true);
                    element
                })
                .collect(),
        }
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
    body: Vec<u8>,
    caller_ip: Option<String>,
    now: i64,
) -> Result<Vec<NewMessage>, ApiError> {
    Ok(match destination {
        Destination::Url(url) => vec![NewMessage::build(url, options, body, caller_ip, now, &app.limits)?],
        Destination::UrlGroup(name) => {
            let endpoints = super::url_groups::endpoints_of(app, &name).await?;
            let template = NewMessage::build(endpoints[0].0.clone(), options, body, caller_ip, now, &app.limits)?;
            template.fan_out(&name, &endpoints)
        }
    })
}

/// Creates the key (its messages can only be claimed once it exists) or takes the limits a message brings,
/// and tells this instance's dispatcher that flow-control keys exist.
pub async fn configure_flow(app: &AppState, flow: &FlowControl, now: i64) -> Result<(), ApiError> {
    app.store.flow_control_configure(flow, now).await?;
    app.flow_keys.mark();
    Ok(())
}

pub async fn accept(
    app: &AppState,
    messages: Vec<NewMessage>,
    dedup_key: Option<String>,
    flow: Option<&FlowControl>,
    now: i64,
) -> Result<Accepted, ApiError> {
    if let Some(flow) = flow {
        configure_flow(app, flow, now).await?;
    }
    let accepted = match dedup_key {
        None => {
            app.committer.insert(&app.store, messages.clone()).await?;
            Accepted::New(messages)
        }
        Some(key) => {
            let answer = Value::Array(Accepted::New(messages.clone()).elements()).to_string();
            let expires_at = now + app.dedup_window_ms;
            match app
                .store
                .message_insert_deduplicated(&key, &answer, expires_at, now, &messages)
                .await?
            {
                None => Accepted::New(messages),
                Some(original) => Accepted::Duplicate(serde_json::from_str(&original).unwrap_or_default()),
            }
        }
    };
    if let Accepted::New(messages) = &accepted {
        if messages.iter().any(|m| m.not_before <= now + app.wake_horizon_ms) {
            app.wake_dispatchers();
        }
    }
    Ok(accepted)
}
