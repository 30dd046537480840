//! The web console under `/console/`: server-rendered HTML (maud) with a small hand-written script and
//! style sheet embedded in the binary, so it works offline and `cargo build` needs no front-end tooling.
//! It reads and acts through the in-process `/v2` API ([`api::call`]), so every action follows the API's
//! rules; only the overview's counts come from the store's cheap, cached `store_stats`.

mod bulk_actions;
mod client;
mod cron_text;
mod dlq;
mod filters;
mod gate;
mod layout;
mod messages;
mod overview;
mod resources;
mod schedules;
mod send;
mod session;
mod workflows;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::metrics::StoreStats;
use crate::state::AppState;
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

/// What the console's handlers reach: the app's state (as `State<AppState>`) and the console's own (as
/// `State<Arc<Console>>`).
#[derive(Clone)]
pub struct ConsoleState {
    pub app: AppState,
    pub console: Arc<Console>,
}

impl FromRef<ConsoleState> for AppState {
    fn from_ref(state: &ConsoleState) -> AppState {
        state.app.clone()
    }
}

impl FromRef<ConsoleState> for Arc<Console> {
    fn from_ref(state: &ConsoleState) -> Arc<Console> {
        state.console.clone()
    }
}

/// The console's routes with their state; the app mounts them beside the API.
pub fn router(app: AppState, console: Console) -> Router {
    let state = ConsoleState {
        app,
        console: Arc::new(console),
    };
    // Every page and action of the console, in one table.
    let pages = Router::new()
        .route("/console/", get(overview::overview))
        .route("/console/messages", get(messages::list))
        .route("/console/messages/{id}", get(messages::show))
        .route("/console/messages/{id}/cancel", post(messages::cancel))
        .route("/console/messages/{id}/run", post(messages::run_now))
        .route("/console/bulk-actions", get(bulk_actions::list))
        .route("/console/dlq", get(dlq::list))
        .route("/console/dlq/bulk", post(dlq::confirm_page))
        .route("/console/dlq/bulk/confirm", post(dlq::bulk))
        .route("/console/dlq/{id}", get(dlq::show))
        .route("/console/dlq/{id}/retry", post(dlq::retry_one))
        .route("/console/dlq/{id}/delete", post(dlq::delete_one))
        .route("/console/schedules", get(schedules::list).post(schedules::save))
        .route("/console/schedules/new", get(schedules::new_form))
        .route("/console/cron-preview", get(schedules::preview))
        .route("/console/schedules/{id}/edit", get(schedules::edit_form))
        .route("/console/schedules/{id}/{action}", post(schedules::act))
        .route("/console/send", get(send::form_page).post(send::send))
        .route("/console/queues", get(resources::list))
        .route("/console/queues/save", post(resources::save_queue))
        .route("/console/queues/{name}/{action}", post(resources::queue_action))
        .route("/console/url-groups/endpoints", post(resources::add_endpoint))
        .route("/console/url-groups/{name}/remove", post(resources::remove_endpoint))
        .route("/console/url-groups/{name}/delete", post(resources::delete_group))
        .route("/console/flow-control/{key}/pin", post(resources::pin))
        .route("/console/flow-control/{key}/{action}", post(resources::flow_action))
        .route("/console/workflows", get(workflows::list))
        .route("/console/workflows/{run_id}", get(workflows::show))
        .route("/console/workflows/{run_id}/cancel", post(workflows::cancel))
        .route("/console/workflows/dlq/{dlq_id}/{how}", post(workflows::rerun))
        .route("/console/keys", get(resources::keys))
        .route("/console/keys/rotate", post(resources::rotate))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), gate::guard));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .merge(gate::router())
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .merge(pages)
        .layer(axum::middleware::from_fn(layout::security_headers))
        .with_state(state)
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
