//! Dev mode answers only requests addressed to this machine. The dev token is public, so without this a
//! web page could use DNS rebinding (its own name resolving to 127.0.0.1) to make the developer's browser
//! publish through Postdate. Such requests carry the attacker's name in `Host`, so they are refused.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::error::ApiError;

/// Wraps `router` so that it only answers requests whose Host is a loopback name or address, or
/// `listen_host` (the host part of the configured listen address).
pub fn loopback_only(router: Router, listen: &str) -> Router {
    let listen_host: std::sync::Arc<str> = host_name(listen).unwrap_or_default().into();
    router.layer(axum::middleware::from_fn_with_state(listen_host, check_host))
}

async fn check_host(State(listen_host): State<std::sync::Arc<str>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host.and_then(host_name) {
        Some(name) if is_loopback(&name) || (!listen_host.is_empty() && name == *listen_host) => {
            next.run(request).await
        }
        _ => ApiError::MisdirectedHost.into_response(),
    }
}

/// The host of a `Host` value or listen address, without port or IPv6 brackets, lowercased.
fn host_name(authority: &str) -> Option<String> {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once(']')?.0
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => authority,
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn is_loopback(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    async fn status_for(listen: &str, host: &str) -> StatusCode {
        use tower::ServiceExt;
        let router = Router::new().route("/health", axum::routing::get(|| async { "ok" }));
        let request = Request::builder()
            .uri("/health")
            .header("host", host)
            .body(axum::body::Body::empty());
        loopback_only(router, listen)
            .oneshot(request.unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn the_configured_listen_host_passes_and_other_names_do_not() {
        assert_eq!(status_for("192.0.2.7:8080", "192.0.2.7:8080").await, StatusCode::OK);
        assert_eq!(status_for("192.0.2.7:8080", "localhost").await, StatusCode::OK);
        assert_eq!(
            status_for("192.0.2.7:8080", "192.0.2.8:8080").await,
            StatusCode::MISDIRECTED_REQUEST
        );
        assert_eq!(
            status_for("127.0.0.1:8080", "rebound.evil.example").await,
            StatusCode::MISDIRECTED_REQUEST
        );
    }

    #[test]
    fn host_names_lose_their_port_and_brackets() {
        assert_eq!(host_name("LocalHost:8080").as_deref(), Some("localhost"));
        assert_eq!(host_name("[::1]:8080").as_deref(), Some("::1"));
        assert_eq!(host_name("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name("evil.example.:80").as_deref(), Some("evil.example"));
        assert_eq!(host_name("[::1"), None);
        assert_eq!(host_name(""), None);
    }

    #[test]
    fn loopback_names_and_addresses_pass() {
        for name in ["localhost", "app.localhost", "127.0.0.1", "127.8.9.10", "::1"] {
            assert!(is_loopback(name), "{name}");
        }
        for name in ["evil.example", "localhost.evil.example", "10.0.0.1", "0.0.0.0", "::"] {
            assert!(!is_loopback(name), "{name}");
        }
    }
}
