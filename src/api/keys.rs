//! `GET /v2/keys` and `POST /v2/keys/rotate` (spec §11.1).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::ApiError;
use crate::keys::RotateError;
use crate::state::AppState;
use crate::wire;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/keys", get(get_keys))
        .route("/v2/keys/rotate", post(rotate_keys))
}

async fn get_keys(State(app): State<AppState>) -> Json<wire::SigningKeys> {
    Json(wire::SigningKeys::from(&app.keys.get()))
}

async fn rotate_keys(State(app): State<AppState>) -> Result<Json<wire::SigningKeys>, ApiError> {
    match app.keys.rotate(&app.store).await {
        Ok(keys) => Ok(Json(wire::SigningKeys::from(&keys))),
        Err(RotateError::Configured) => Err(ApiError::BadRequest(RotateError::Configured.to_string())),
        Err(RotateError::Store(e)) => Err(e.into()),
    }
}
