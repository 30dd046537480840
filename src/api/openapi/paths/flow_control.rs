//! Flow control (spec §8).

use crate::wire::{Empty, FlowControlInfo, GlobalParallelism};

#[utoipa::path(
    get,
    path = "/v2/flowControl",
    operation_id = "listFlowControl",
    tag = "Flow control",
    summary = "List flow-control keys",
    params(("search" = Option<String>, Query, description = "Only keys containing this text")),
    responses((status = 200, description = "The keys", body = Vec<FlowControlInfo>))
)]
pub fn list() {}

#[utoipa::path(
    get,
    path = "/v2/flowControl/{flowControlKey}",
    operation_id = "getFlowControl",
    tag = "Flow control",
    summary = "Get a flow-control key",
    params(("flowControlKey" = String, Path, description = "The key")),
    responses((status = 200, description = "The key's limits and counters", body = FlowControlInfo))
)]
pub fn get() {}

#[utoipa::path(
    post,
    path = "/v2/flowControl/{flowControlKey}/pause",
    operation_id = "pauseFlowControl",
    tag = "Flow control",
    summary = "Pause a key",
    description = "Its messages wait until it is resumed.",
    params(("flowControlKey" = String, Path, description = "The key")),
    responses((status = 200, description = "Paused", body = Empty))
)]
pub fn pause() {}

#[utoipa::path(
    post,
    path = "/v2/flowControl/{flowControlKey}/resume",
    operation_id = "resumeFlowControl",
    tag = "Flow control",
    summary = "Resume a key",
    params(("flowControlKey" = String, Path, description = "The key")),
    responses((status = 200, description = "Resumed", body = Empty))
)]
pub fn resume() {}

#[utoipa::path(
    post,
    path = "/v2/flowControl/{flowControlKey}/pin",
    operation_id = "pinFlowControl",
    tag = "Flow control",
    summary = "Pin a key's limits",
    description = "Pinned limits win over those publishes send, until unpinned.",
    params(
        ("flowControlKey" = String, Path, description = "The key"),
        ("parallelism" = Option<i32>, Query, minimum = 1, description = "Deliveries in flight at most"),
        ("rate" = Option<i32>, Query, minimum = 1, description = "Deliveries per period at most"),
        ("period" = Option<i64>, Query, minimum = 1, maximum = 604800, description = "Rate period, seconds"),
    ),
    responses((status = 200, description = "Pinned", body = Empty))
)]
pub fn pin() {}

#[utoipa::path(
    post,
    path = "/v2/flowControl/{flowControlKey}/unpin",
    operation_id = "unpinFlowControl",
    tag = "Flow control",
    summary = "Unpin a key's limits",
    params(
        ("flowControlKey" = String, Path, description = "The key"),
        ("parallelism" = Option<bool>, Query, description = "Unpin the parallelism"),
        ("rate" = Option<bool>, Query, description = "Unpin the rate"),
    ),
    responses((status = 200, description = "Unpinned", body = Empty))
)]
pub fn unpin() {}

#[utoipa::path(
    post,
    path = "/v2/flowControl/{flowControlKey}/resetRate",
    operation_id = "resetFlowControlRate",
    tag = "Flow control",
    summary = "Start a new rate period now",
    params(("flowControlKey" = String, Path, description = "The key")),
    responses((status = 200, description = "Reset", body = Empty))
)]
pub fn reset_rate() {}

#[utoipa::path(
    get,
    path = "/v2/globalParallelism",
    operation_id = "globalParallelism",
    tag = "Flow control",
    summary = "Deliveries in flight",
    description = "`parallelismMax` is this instance's limit; `parallelismCount` counts deliveries in flight on \
        every instance sharing the database.",
    responses((status = 200, description = "The limit and the count", body = GlobalParallelism))
)]
pub fn global_parallelism() {}
