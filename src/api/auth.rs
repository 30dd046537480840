//! Bearer-token authentication for every `/v2` route (spec §1.3), and the read-only token for viewers.

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

pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match presented.and_then(|token| role_of(&state, token)) {
        Some(Role::Admin) => Ok(next.run(request).await),
        Some(Role::Viewer) if reads_only(request.method()) => Ok(next.run(request).await),
        Some(Role::Viewer) => Err(read_only_refusal()),
        None => Err(ApiError::Unauthorized),
    }
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
