//! The OpenAPI 3.1 document of the REST API (`GET /openapi.json`, committed as `docs/openapi.json`),
//! generated from the wire types of `crate::wire` and the operation descriptions in `paths/`.
//!
//! The descriptions sit beside the handlers' modules rather than on the handlers: several routes share one
//! handler (`/v2/schedules/{*rest}` dispatches create, get, delete, pause and resume; flow-control actions
//! share one), and the document must list each of them. Drift is caught by the integration tests, which
//! check every `/v2` answer they receive against this document, and by the test that routes every
//! documented operation.

mod errors;
mod headers;
mod params;
mod paths;

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

use crate::state::AppState;
use errors::ErrorResponses;
use headers::OptionHeaders;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Postdate",
        description = "Self-hosted, QStash-compatible delayed and scheduled HTTP delivery. \
            Every `/v2` operation needs `Authorization: Bearer <QSTASH_TOKEN>`; `postdate dev` prints its token. \
            Errors are always `{\"error\": \"…\"}` with a 4xx or 5xx status. \
            Times are Unix milliseconds unless a field says otherwise.",
        license(name = "MIT")
    ),
    modifiers(&Security, &OptionHeaders, &ErrorResponses),
    paths(
        paths::publish::publish,
        paths::publish::enqueue,
        paths::publish::batch,
        paths::messages::list,
        paths::messages::get,
        paths::messages::cancel,
        paths::messages::cancel_many,
        paths::messages::run_now,
        paths::bulk_actions::list,
        paths::bulk_actions::get,
        paths::schedules::create,
        paths::schedules::list,
        paths::schedules::get,
        paths::schedules::delete,
        paths::schedules::pause,
        paths::schedules::resume,
        paths::schedules::pause_by_post,
        paths::schedules::resume_by_post,
        paths::topics::list,
        paths::topics::get,
        paths::topics::delete,
        paths::topics::set_headers,
        paths::topics::add_endpoints,
        paths::topics::remove_endpoints,
        paths::queues::list,
        paths::queues::upsert,
        paths::queues::get,
        paths::queues::delete,
        paths::queues::pause,
        paths::queues::resume,
        paths::flow_control::list,
        paths::flow_control::get,
        paths::flow_control::pause,
        paths::flow_control::resume,
        paths::flow_control::pin,
        paths::flow_control::unpin,
        paths::flow_control::reset_rate,
        paths::flow_control::global_parallelism,
        paths::dlq::list,
        paths::dlq::get,
        paths::dlq::delete,
        paths::dlq::delete_many,
        paths::dlq::delete_workflow_many,
        paths::dlq::retry,
        paths::dlq::retry_many,
        paths::dlq::retry_multi,
        paths::logs::events,
        paths::logs::logs,
        paths::workflows::history,
        paths::workflows::end,
        paths::workflows::cancel_many,
        paths::workflows::dlq_resume,
        paths::workflows::dlq_resume_one,
        paths::workflows::dlq_restart,
        paths::workflows::dlq_restart_one,
        paths::workflows::dlq_callback,
        paths::workflows::trigger,
        paths::workflows::trigger_batch,
        paths::workflows::logs,
        paths::workflows::events,
        paths::workflows::wait,
        paths::workflows::notify,
        paths::workflows::notify_run,
        paths::workflows::waiters,
        paths::workflows::hook,
        paths::keys::get,
        paths::keys::rotate,
        paths::ops::healthz,
        paths::ops::readyz,
        paths::ops::metrics,
        paths::ops::openapi,
    ),
    components(schemas(crate::wire::ErrorBody)),
    tags(
        (name = "Publish", description = "Publish, enqueue and batch (spec §3)."),
        (name = "Messages", description = "Read, list and cancel messages (spec §4)."),
        (name = "Schedules", description = "Cron schedules (spec §5)."),
        (name = "URL groups", description = "URL groups, called topics in the paths (spec §6)."),
        (name = "Queues", description = "FIFO queues with parallelism (spec §7)."),
        (name = "Flow control", description = "Parallelism and rate limits per key (spec §8)."),
        (name = "DLQ", description = "The dead-letter queue (spec §9)."),
        (name = "Logs", description = "Events of every message (spec §10)."),
        (name = "Workflows", description = "Upstash Workflow runs (docs/workflow/protocol.md)."),
        (name = "Signing keys", description = "Keys that sign deliveries (spec §11)."),
        (name = "Operations", description = "Probes, metrics and this document; no token needed except for metrics."),
    )
)]
struct ApiDoc;

/// The bearer token of every `/v2` operation and of `/metrics` (spec §1.3).
struct Security;

/// The name of the security scheme in the document.
pub(super) const BEARER: &str = "bearer";

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("QSTASH_TOKEN, the token the server was started with"))
                    .build(),
            ),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// The document as pretty JSON with a final newline, exactly as committed in `docs/openapi.json`.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = document().to_pretty_json().expect("the OpenAPI document serialises");
        text.push('\n');
        text
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

/// No token: the document holds no secrets.
async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

/// Every operation of the document with its path, for the modifiers.
fn operations_mut(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&str, Method, &mut utoipa::openapi::path::Operation)> {
    openapi.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            (Method::Get, &mut item.get),
            (Method::Put, &mut item.put),
            (Method::Post, &mut item.post),
            (Method::Delete, &mut item.delete),
            (Method::Patch, &mut item.patch),
        ]
        .into_iter()
        .filter_map(|(method, operation)| Some((method, operation.as_mut()?)))
        .map(move |(method, operation)| (path.as_str(), method, operation))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Put,
    Post,
    Delete,
    Patch,
}
