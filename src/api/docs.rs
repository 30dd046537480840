//! `GET /docs`: the OpenAPI document rendered in the browser by Redoc, served from the binary itself (no CDN,
//! works offline). The bundle is vendored in `assets/redoc/` (see its README for version and licence).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The page: Redoc finds the `<redoc>` element and loads the document from `spec-url`. No inline script,
/// so the page works under a strict Content-Security-Policy.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Postdate API reference</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
"#;

const REDOC: &[u8] = include_bytes!("../../assets/redoc/redoc.standalone.js");

/// Redoc styles itself with inline styles and runs its search index in a worker made from a blob; it needs
/// nothing from another origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; worker-src 'self' blob:; script-src 'self' 'unsafe-eval'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/docs", get(page))
        .route("/docs/redoc.standalone.js", get(redoc))
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        PAGE,
    )
}

async fn redoc() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // The bundle changes only with the binary.
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        REDOC,
    )
}
