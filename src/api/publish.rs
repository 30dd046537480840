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
    let url = match destination {
        Destination::Url(url) => url,
        Destination::UrlGroup(name) => return Err(ApiError::NotFound(format!("URL group {name:?} does not exist"))),
    };
    let options = MessageOptions::from_headers(&parts.headers, &app.limits)?;
    let body = read_body(body, app.max_body_bytes).await?;
    let caller_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let now = app.clock.now_ms();
    let message = NewMessage::build(url, &options, body, caller_ip, now, &app.limits)?;
    app.store.message_insert(std::slice::from_ref(&message)).await?;
    if message.not_before <= now + app.wake_horizon_ms {
        app.wake.notify();
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "messageId": message.id, "url": message.url.as_str() })),
    ))
}
