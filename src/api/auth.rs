//! Bearer-token authentication for every `/v2` route (spec §1.3), and the read-only token for viewers. A
//! sender that cannot set headers (webhook-receiver mode) may give the token as `?qstash_token=` instead; it
//! is never part of a destination or a filter, and no log line records a query string.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::state::AppState;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The token of `--token`: everything.
    Admin,
    /// The token of `--readonly-token`: reading only.
    Viewer,
}

impl Role {
    pub fn may_change(self) -> bool {
        self == Role::Admin
    }
}

/// The role `presented` grants, if it is one of the configured tokens.
pub fn role_of(state: &AppState, presented: &str) -> Option<Role> {
    if tokens_match(presented, &state.token) {
        Some(Role::Admin)
    } else if state
        .readonly_token
        .as_deref()
        .is_some_and(|t| tokens_match(presented, t))
    {
        Some(Role::Viewer)
    } else {
        None
    }
}

/// The query parameter that may carry the token instead of the `Authorization` header.
pub const QUERY_TOKEN: &str = "qstash_token";

pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let bearer = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|token| token.trim().to_string());
    // Either may authenticate: a webhook sender's own `Authorization` header does not hide the query token.
    let role = bearer
        .and_then(|token| role_of(&state, &token))
        .or_else(|| query_token(request.uri().query()).and_then(|token| role_of(&state, &token)));
    match role {
        Some(Role::Admin) => Ok(next.run(request).await),
        Some(Role::Viewer) if reads_only(request.method()) => Ok(next.run(request).await),
        Some(Role::Viewer) => Err(read_only_refusal()),
        None => Err(ApiError::Unauthorized),
    }
}

/// The token of `?qstash_token=`, when the request has no `Authorization` header.
fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(QUERY_TOKEN))
        .map(|(_, v)| v.trim().to_string())
}

/// Whether a request with `method` changes nothing.
pub fn reads_only(method: &http::Method) -> bool {
    matches!(*method, http::Method::GET | http::Method::HEAD)
}

pub fn read_only_refusal() -> ApiError {
    ApiError::Forbidden("the read-only token may only read (GET); use the full token to change anything".into())
}

/// Compares digests in constant time, so neither the content nor the length of the token leaks.
fn tokens_match(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_match_exactly() {
        assert!(super::tokens_match("abc", "abc"));
        assert!(!super::tokens_match("abc", "abd"));
        assert!(!super::tokens_match("ab", "abc"));
        assert!(!super::tokens_match("", "abc"));
    }
}
