//! Logs, "events" on the wire (spec §10).

use crate::api::openapi::params::{Filters, LogQuery, MessageFilters, Paging};
use crate::wire::LogPage;

#[utoipa::path(
    get,
    path = "/v2/events",
    operation_id = "listEvents",
    tag = "Logs",
    summary = "List log entries",
    description = "One entry per state change of every message, latest first unless `order` says otherwise.",
    params(Filters, MessageFilters, LogQuery, Paging),
    responses((status = 200, description = "One page under `events`", body = LogPage))
)]
pub fn events() {}

#[utoipa::path(
    get,
    path = "/v2/logs",
    operation_id = "listLogs",
    tag = "Logs",
    summary = "List log entries (current name)",
    description = "The same as `GET /v2/events`, with the entries under both `events` and `logs`.",
    params(Filters, MessageFilters, LogQuery, Paging),
    responses((status = 200, description = "One page", body = LogPage))
)]
pub fn logs() {}
