//! The HTTP API of spec §1–§11: parses requests into domain values, calls the store, answers JSON.
//! No SQL here. Each resource module exposes `router()`; they are merged in one place below.

mod accept;
pub mod auth;
mod batch;
mod bulk_actions;
mod destinations;
mod dlq;
mod docs;
pub mod error;
mod flow_control;
pub mod health;
pub mod host;
mod keys;
mod logs;
mod messages;
pub mod openapi;
mod publish;
mod queues;
mod request;
mod schedules;
pub mod trace;
mod url_groups;
mod workflows;

use axum::extract::Request;
use axum::Router;

use crate::state::AppState;
use error::ApiError;

/// Every `/v2` route behind the token check.
fn v2(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(publish::router())
        .merge(queues::router())
        .merge(batch::router())
        .merge(bulk_actions::router())
        .merge(messages::router())
        .merge(dlq::router())
        .merge(keys::router())
        .merge(flow_control::router())
        .merge(logs::router())
        .merge(schedules::router())
        .merge(url_groups::router())
        .merge(workflows::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token))
}

/// Answers a `/v2` request made in-process. The console acts through this, so its actions follow exactly
/// the rules (parsing, fail-closed selections, limits) of the API.
pub async fn call(state: &AppState, request: Request) -> axum::response::Response {
    use tower::ServiceExt;
    let router = v2(state).fallback(not_found).with_state(state.clone());
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(infallible) => match infallible {},
    }
}

/// Every route of the API (`/v2`, `/metrics`, the probes and the API's description), with its state.
/// The app mounts it beside the console and adds the fallbacks for what neither routes.
pub fn router(state: AppState) -> Router {
    let v2 = v2(&state);
    // Prometheus sends the token as a bearer token too.
    let metrics = Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .merge(v2)
        .merge(metrics)
        .merge(health::router())
        // Workflow webhooks: called by third parties, without a token by design (see `workflows::hooks`).
        .merge(workflows::hooks())
        // The API's description, without a token: it holds no secrets.
        .merge(openapi::router())
        .merge(docs::router())
        .with_state(state)
}

/// `GET /metrics`: every metric of this instance, in the OpenMetrics text format.
async fn metrics(axum::extract::State(app): axum::extract::State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

/// The answer to a path no route takes: our JSON 404.
pub async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!("no route for {} {}", request.method(), request.uri().path()))
}

/// The answer to a method a path does not take: our JSON 405.
pub async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(request.method().to_string())
}
