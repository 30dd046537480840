//! The web console under `/console/`: server-rendered HTML (maud) with a small hand-written script and
//! style sheet embedded in the binary, so it works offline and `cargo build` needs no front-end tooling.
//! It reads and acts through the in-process `/v2` API ([`api::call`]), so every action follows the API's
//! rules; only the overview's counts come from the store's cheap, cached `store_stats`.

mod client;
mod cron_text;
mod dlq;
mod filters;
mod layout;
mod messages;
mod overview;
mod resources;
mod schedules;
mod send;
mod session;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::api::AppState;
use crate::metrics::StoreStats;
pub use session::Session;

/// How long the overview's counts are reused: many open consoles cost one count query per period.
const STATS_TTL: Duration = Duration::from_secs(2);

/// What the console keeps between requests: the key its cookies are signed with, and a short cache.
pub struct Console {
    session_key: [u8; 32],
    /// Dev mode: the console opens without sign-in (only loopback Host values reach it there).
    open_without_sign_in: bool,
    stats: Mutex<Option<(Instant, StoreStats)>>,
}

impl Console {
    pub fn new(token: &str, readonly_token: Option<&str>, open_without_sign_in: bool) -> Console {
        Console {
            session_key: session::key_from_tokens(token, readonly_token),
            open_without_sign_in,
            stats: Mutex::new(None),
        }
    }

    /// The store's counts, at most [`STATS_TTL`] old.
    async fn stats(&self, app: &AppState) -> crate::store::Result<StoreStats> {
        if let Some((at, stats)) = *self.stats.lock().expect("never poisoned") {
            if at.elapsed() < STATS_TTL {
                return Ok(stats);
            }
        }
        let stats = app.store.store_stats(app.clock.now_ms()).await?;
        *self.stats.lock().expect("never poisoned") = Some((Instant::now(), stats));
        Ok(stats)
    }
}

/// The console's routes, merged into the app's router in `api::router`.
pub fn router(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .merge(overview::router())
        .merge(messages::router())
        .merge(dlq::router())
        .merge(schedules::router())
        .merge(send::router())
        .merge(resources::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), session::guard));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .merge(session::router())
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .merge(pages)
        .layer(axum::middleware::from_fn(layout::security_headers))
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../assets/console.css"))
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console.js"),
    )
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            (http::header::CONTENT_TYPE, content_type),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}
