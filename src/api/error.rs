//! One error type for every handler: a status and `{"error": "…"}` (spec §13).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::domain::destination::DestinationError;
use crate::domain::options::InvalidOption;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid token: send Authorization: Bearer <QSTASH_TOKEN>")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the request body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
    #[error(
        "the dev server only answers requests to localhost, a loopback address or its listen address (Host header refused)"
    )]
    MisdirectedHost,
    #[error("internal error")]
    Internal(#[from] StoreError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            // 421 (RFC 9110 §15.5.20): this server does not answer for that host name. Not 403, which
            // would suggest a token problem.
            ApiError::MisdirectedHost => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(error) = &self {
            tracing::error!(%error, "request failed");
        }
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        (self.status(), body).into_response()
    }
}

impl From<InvalidOption> for ApiError {
    fn from(e: InvalidOption) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<DestinationError> for ApiError {
    fn from(e: DestinationError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}
