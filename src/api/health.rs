//! Probes for orchestrators, without auth (they reveal nothing): `GET /healthz` (liveness: the process
//! answers; `/health` is its old name) and `GET /readyz` (readiness: the database answers within a timeout
//! with its schema in place, the dispatch loop went round recently, and shutdown has not begun), each with
//! a JSON body naming every check; `503` when not ready.

use std::time::Duration;

use crate::wire;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

/// How long the database gets to answer a readiness check.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);
/// A dispatch loop that has not gone round for this long is stuck (it goes round at least every second).
const DISPATCHER_STALL: Duration = Duration::from_secs(30);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(live))
        .route("/health", get(live))
        .route("/readyz", get(ready))
}

async fn live() -> Json<wire::Health> {
    Json(wire::Health {
        status: "ok".into(),
        checks: None,
    })
}

async fn ready(State(app): State<AppState>) -> (StatusCode, Json<wire::Health>) {
    // An indexed read of a table of the schema proves both the connection and the migrations.
    let database = match tokio::time::timeout(DATABASE_TIMEOUT, app.store.schedule_next_fire_at()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("the database failed: {error}")),
        Err(_) => Err(format!(
            "the database did not answer within {} s",
            DATABASE_TIMEOUT.as_secs()
        )),
    };
    let dispatcher = match &app.health.dispatcher {
        None => Ok(()),
        Some(dispatcher) => {
            let idle_ms = crate::clock::system_now_ms() - dispatcher.last_loop_at_ms();
            if idle_ms <= DISPATCHER_STALL.as_millis() as i64 {
                Ok(())
            } else {
                Err(format!("the dispatch loop has not run for {} s", idle_ms / 1000))
            }
        }
    };
    let shutdown = match app.health.shutdown.is_cancelled() {
        false => Ok(()),
        true => Err("shutting down".to_string()),
    };
    let checks = [
        ("database", database),
        ("dispatcher", dispatcher),
        ("shutdown", shutdown),
    ];
    let ready = checks.iter().all(|(_, check)| check.is_ok());
    let shown = checks
        .into_iter()
        .map(|(name, check)| (name.to_string(), check.err().unwrap_or_else(|| "ok".into())))
        .collect();
    let (status, word) = match ready {
        true => (StatusCode::OK, "ready"),
        false => (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    };
    let health = wire::Health {
        status: word.into(),
        checks: Some(shown),
    };
    (status, Json(health))
}
