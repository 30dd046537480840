//! `GET /v2/keys` and `POST /v2/keys/rotate` (spec §11.1).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;
use crate::domain::signing::SigningKeys;
use crate::keys::RotateError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/keys", get(get_keys))
        .route("/v2/keys/rotate", post(rotate_keys))
}

fn keys_json(keys: &SigningKeys) -> Json<Value> {
    Json(json!({ "current": keys.current, "next": keys.next }))
}

async fn get_keys(State(app): State<AppState>) -> Json<Value> {
    keys_json(&app.keys.get())
}

async fn rotate_keys(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    match app.keys.rotate(&app.store).await {
        Ok(keys) => Ok(keys_json(&keys)),
        Err(RotateError::Configured) => Err(ApiError::BadRequest(RotateError::Configured.to_string())),
        Err(RotateError::Store(e)) => Err(e.into()),
    }
}
