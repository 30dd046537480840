//! One error type for every handler: a status and `{"error": "…"}` (spec §13).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::domain::destination::DestinationError;
use crate::domain::option_rules::InvalidOption;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid token: send Authorization: Bearer <QSTASH_TOKEN>")]
    Unauthorized,
    /// A valid token that may not do this (the read-only token on a request that changes something).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The resource is in a state that does not allow the request (a finished message asked to run now).
    #[error("{0}")]
    Conflict(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// Too many calls in a short time; the next may come after this many seconds.
    #[error("too many requests: retry in {0} s")]
    TooManyRequests(u64),
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the request body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
    #[error(
        "the dev server only answers requests to localhost, a loopback address or its listen address (Host header refused)"
    )]
    MisdirectedHost,
    /// The database cannot be reached (down, restarting, or every connection busy for too long). Said at
    /// once instead of after long waits, so clients can retry; a publish retried with the same
    /// `Upstash-Deduplication-Id` is stored at most once.
    #[error(
        "the database is unavailable; retry in a few seconds (send Upstash-Deduplication-Id so that a retried \
         publish is never stored twice)"
    )]
    Unavailable(StoreError),
    #[error("internal error")]
    Internal(StoreError),
}

impl ApiError {
    /// The error of item `index` of a batch: its message names the item.
    pub fn in_batch_item(self, index: usize) -> ApiError {
        match self {
            ApiError::BadRequest(m) => ApiError::BadRequest(format!("batch item {index}: {m}")),
            ApiError::NotFound(m) => ApiError::NotFound(format!("batch item {index}: {m}")),
            other => other,
        }
    }
}

/// Seconds a client is told to wait before retrying when the database is unavailable.
const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 2;

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            ApiError::Unavailable(error)
        } else {
            ApiError::Internal(error)
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            // 421 (RFC 9110 §15.5.20): this server does not answer for that host name. Not 403, which
            // would suggest a token problem.
            ApiError::MisdirectedHost => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(error) => tracing::error!(%error, "request failed"),
            ApiError::Unavailable(error) => tracing::warn!(%error, "request refused: the database is unavailable"),
            _ => {}
        }
        let body = Json(crate::wire::ErrorBody {
            error: self.to_string(),
        });
        let mut response = (self.status(), body).into_response();
        let retry_after = match self {
            ApiError::Unavailable(_) => Some(u64::from(UNAVAILABLE_RETRY_AFTER_SECS)),
            ApiError::TooManyRequests(seconds) => Some(seconds.max(1)),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
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
