//! `POST /v2/publish/{destination}` (spec §3.1).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use super::accept::{accept, Accepted};
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
    let dedup_key = options.deduplication_key(destination.as_str(), &body);
    match destination {
        Destination::Url(url) => {
            let message = NewMessage::build(url, &options, body, caller_ip, now, &app.limits)?;
            let accepted = accept(&app, vec![message], dedup_key, now).await?;
            let element = accepted.elements().into_iter().next().unwrap_or_default();
            Ok((status(&accepted), Json(element)))
        }
        // One message per endpoint; the answer is a bare array (spec §3.1).
        Destination::UrlGroup(name) => {
            let endpoints = super::url_groups::endpoints_of(&app, &name).await?;
            let template = NewMessage::build(endpoints[0].0.clone(), &options, body, caller_ip, now, &app.limits)?;
            let accepted = accept(&app, template.fan_out(&name, &endpoints), dedup_key, now).await?;
            Ok((status(&accepted), Json(Value::Array(accepted.elements()))))
        }
    }
}

/// 201 for new messages, 202 for a duplicate (spec §3.4).
fn status(accepted: &Accepted) -> StatusCode {
    if accepted.is_duplicate() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    }
}
