//! A tracing span per HTTP request — method, route template, status, duration and a request id — with the
//! id echoed in the `X-Request-Id` response header (a client's own id is kept when it is short and plain).
//! Handlers' log lines carry the span's fields, so a 500 in the logs can be found from the client's side.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tracing::Instrument;

const REQUEST_ID: &str = "x-request-id";

/// Client-supplied ids are kept only when they are short and made of safe characters.
fn usable(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

pub async fn span(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| usable(id))
        .map(str::to_string)
        .unwrap_or_else(crate::domain::ids::new_request_id);
    // The route template, never the raw path: destinations in paths may carry credentials.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %id,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.record("status", status);
    span.record("duration_ms", duration_ms);
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, duration_ms, "request failed");
        } else {
            tracing::debug!(status, duration_ms, "request answered");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_short_plain_client_ids_are_kept() {
        assert!(super::usable("req-123_abc.def:9"));
        assert!(!super::usable(""));
        assert!(!super::usable(&"x".repeat(65)));
        assert!(!super::usable("has space"));
        assert!(!super::usable("inject\r\nx"));
    }
}
