//! Probes, metrics and the document itself.

use crate::wire::Health;

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "Operations",
    summary = "Liveness",
    description = "The process answers. No token.",
    responses((status = 200, description = "Alive", body = Health, example = json!({"status": "ok"})))
)]
pub fn healthz() {}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "Operations",
    summary = "Readiness",
    description = "The database answers with its schema in place, the dispatch loop runs, and shutdown has not \
        begun. No token.",
    responses(
        (status = 200, description = "Ready", body = Health,
            example = json!({"status": "ready", "checks": {"database": "ok", "dispatcher": "ok", "shutdown": "ok"}})),
        (status = 503, description = "Not ready; `checks` says why", body = Health),
    )
)]
pub fn readyz() {}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "Operations",
    summary = "Prometheus metrics",
    description = "Every metric of this instance in the OpenMetrics text format. Needs the token.",
    responses((status = 200, description = "The metrics",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String))
)]
pub fn metrics() {}

#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "Operations",
    summary = "This document",
    description = "No token. `GET /docs` renders it.",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
pub fn openapi() {}
