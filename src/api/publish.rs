//! `POST /v2/publish/{destination}` (spec §3.1).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::ApiError;
use super::request::read_body;
use super::AppState;
use crate::domain::destination::Destination;
use crate::domain::message::NewMessage;
use crate::domain::options::MessageOptions;

const PREFIX: &str = "/v2/publish/";

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/publish/{*destination}", post(publish))
}

/// Parses everything before storing anything: a bad header or destination changes nothing.
async fn publish(State(app): State<AppState>, request: Request) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (parts, body) = request.into_parts();
    // The raw request target, not a decoded path: the destination keeps its `//`, escapes and query.
    let rest = parts.uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let destination = Destination::from_request_target(rest, parts.uri.query())?;
    let options = MessageOptions::from_headers(&parts.headers, &app.limits)?;
    let body = read_body(body, app.max_body_bytes).await?;
    let caller_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let now = app.clock.now_ms();
    match destination {
        Destination::Url(url) => {
            let message = NewMessage::build(url, &options, body, caller_ip, now, &app.limits)?;
            accept(&app, std::slice::from_ref(&message), now).await?;
            Ok((StatusCode::CREATED, Json(published(&message))))
        }
        // One message per endpoint; the answer is a bare array (spec §3.1).
        Destination::UrlGroup(name) => {
            let endpoints = super::url_groups::endpoints_of(&app, &name).await?;
            let template = NewMessage::build(endpoints[0].0.clone(), &options, body, caller_ip, now, &app.limits)?;
            let messages = template.fan_out(&name, &endpoints);
            accept(&app, &messages, now).await?;
            Ok((
                StatusCode::CREATED,
                Json(Value::Array(messages.iter().map(published).collect())),
            ))
        }
    }
}

/// Stores accepted messages (durably, before the answer) and wakes the dispatcher for those due soon.
async fn accept(app: &AppState, messages: &[NewMessage], now: i64) -> Result<(), ApiError> {
    app.store.message_insert(messages).await?;
    if messages.iter().any(|m| m.not_before <= now + app.wake_horizon_ms) {
        app.wake.notify();
    }
    Ok(())
}

fn published(message: &NewMessage) -> Value {
    json!({ "messageId": message.id, "url": message.url.as_str() })
}
