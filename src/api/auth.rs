//! Bearer-token authentication for every `/v2` route (spec §1.3).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;

pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match presented {
        Some(token) if tokens_match(token, &state.token) => Ok(next.run(request).await),
        _ => Err(ApiError::Unauthorized),
    }
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
