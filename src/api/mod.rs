//! The HTTP API of spec §1–§11: parses requests into domain values, calls the store, answers JSON.
//! No SQL here. Each resource module exposes `router()`; they are merged in one place below.

mod accept;
pub mod auth;
mod batch;
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
mod trace;
mod url_groups;

use std::sync::Arc;

use axum::extract::Request;
use axum::Router;

use crate::clock::Clock;
use crate::domain::options::Limits;
use crate::keys::KeyRing;
use crate::store::Store;
use crate::worker::dispatcher::Wake;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    pub wake: Arc<Wake>,
    /// Wakes the dispatchers of other instances sharing the database.
    pub peers: Arc<crate::worker::peers::PeerWake>,
    /// Stores accepted messages with group commit.
    pub committer: crate::worker::committer::Committer,
    /// Set when a flow-control key is created, so the dispatcher starts claiming under flow control.
    pub flow_keys: Arc<crate::worker::dispatcher::FlowKeys>,
    /// Wakes the scheduler when a schedule is created, replaced or resumed.
    pub schedule_wake: Arc<Wake>,
    pub token: Arc<str>,
    /// The viewers' token (`--readonly-token`): GET requests only.
    pub readonly_token: Option<Arc<str>>,
    /// The web console's session key and caches.
    pub console: Arc<crate::console::Console>,
    pub limits: Limits,
    pub max_body_bytes: usize,
    pub request_limits: crate::domain::options::RequestLimits,
    /// Deliveries in flight per instance (`GET /v2/globalParallelism`).
    pub max_in_flight: usize,
    /// How long a deduplication key holds.
    pub dedup_window_ms: i64,
    /// Messages due sooner than this wake the dispatcher at once; later ones are found by its timer.
    pub wake_horizon_ms: i64,
    /// Which destinations (and callbacks) are accepted.
    pub destination_policy: Arc<crate::domain::net_policy::DestinationPolicy>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub health: health::Health,
}

impl AppState {
    /// Messages are due now or soon: wake this instance's dispatcher and those of the other instances.
    pub fn wake_dispatchers(&self) {
        self.wake.notify();
        self.peers.notify();
    }
}

/// Every `/v2` route behind the token check.
fn v2(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(publish::router())
        .merge(queues::router())
        .merge(batch::router())
        .merge(messages::router())
        .merge(dlq::router())
        .merge(keys::router())
        .merge(flow_control::router())
        .merge(logs::router())
        .merge(schedules::router())
        .merge(url_groups::router())
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
        // The API's description, without a token: it holds no secrets.
        .merge(openapi::router())
        .merge(docs::router())
        .merge(crate::console::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(trace::span))
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

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!("no route for {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(request.method().to_string())
}
