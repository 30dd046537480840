//! The error answers (`{"error": "…"}`, spec §13), added to each operation by what it reads, and the bearer
//! token on every operation that needs it. Rules rather than lists per operation, so a new operation gets
//! them too: whatever reads a token can answer 401, whatever reads the database 503, whatever takes a
//! parameter or body 400, whatever changes something 403 (to the read-only token), whatever names something
//! in its path 404, whatever reads a body 408 and 413, and on the dev server any route 421. A 409 that only
//! one operation answers is listed with that operation.

use serde_json::json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

/// (status, component name, description, example message).
const ERRORS: &[(&str, &str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "The request is malformed (header, parameter, body or destination); nothing was changed.",
        "invalid Upstash-Delay: expected a duration such as 10s, 5m or 1h",
    ),
    (
        "401",
        "Unauthorized",
        "No token, or not the server's token.",
        "missing or invalid token: send Authorization: Bearer <QSTASH_TOKEN>",
    ),
    (
        "403",
        "Forbidden",
        "The read-only token (`--readonly-token`) may only read: every request that is not a GET.",
        "the read-only token may only read (GET); use the full token to change anything",
    ),
    (
        "404",
        "NotFound",
        "Nothing of that name or id.",
        "message \"msg_…\" not found",
    ),
    (
        "408",
        "RequestTimeout",
        "The request body did not arrive in time.",
        "the request body did not arrive within 30s",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than the server's limit.",
        "request body is larger than the limit of 1048576 bytes",
    ),
    (
        "429",
        "TooManyRequests",
        "Too many calls to one run's webhooks (20 a second) or to all of them (1,000 a second on one instance); \
         retry after `Retry-After` seconds.",
        "too many requests: retry in 1 s",
    ),
    (
        "421",
        "MisdirectedRequest",
        "`postdate dev` only: the Host header names neither a loopback address nor the listen address.",
        "the dev server only answers requests to localhost, a loopback address or its listen address",
    ),
    (
        "503",
        "Unavailable",
        "The database cannot be reached; retry after `Retry-After` seconds. A publish retried with the same \
         `Upstash-Deduplication-Id` is stored at most once.",
        "the database is unavailable; retry in a few seconds",
    ),
];

pub(super) struct ErrorResponses;

/// The paths of workflow webhooks, outside the token check.
const WEBHOOKS: &str = "/v2/workflows/hooks/";

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description, example) in ERRORS {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .example(Some(json!({ "error": example })))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/json", content)
                .build();
            components.responses.insert(name.to_string(), RefOr::T(response));
        }
        for (path, method, operation) in super::operations_mut(openapi) {
            // Webhooks are called by third parties, who hold no token.
            let authenticated = (path.starts_with("/v2/") && !path.starts_with(WEBHOOKS)) || path == "/metrics";
            if authenticated {
                operation.security = Some(vec![SecurityRequirement::new::<_, _, &str>(super::BEARER, [])]);
            }
            let changes = authenticated && method != super::Method::Get;
            for status in statuses(path, operation, authenticated, changes) {
                let name = ERRORS.iter().find(|(s, ..)| *s == status).map(|(_, name, ..)| *name);
                if let Some(name) = name {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
                }
            }
        }
    }
}

/// The error statuses `operation` can answer.
fn statuses(path: &str, operation: &Operation, authenticated: bool, changes: bool) -> Vec<&'static str> {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_body = operation.request_body.is_some();
    let mut statuses = Vec::new();
    if !parameters.is_empty() || has_body {
        statuses.push("400");
    }
    if authenticated {
        statuses.push("401");
    }
    if changes {
        statuses.push("403");
    }
    // A path that names something, or a workflow DLQ operation, whose `dlqIds` name entries that may be gone.
    if path.contains('{') || path.starts_with("/v2/workflows/dlq/") {
        statuses.push("404");
    }
    if has_body {
        statuses.extend(["408", "413"]);
    }
    if path.starts_with(WEBHOOKS) {
        statuses.push("429");
    }
    // Every route, on the dev server.
    statuses.push("421");
    if path.starts_with("/v2/") {
        statuses.push("503");
    }
    statuses
}
