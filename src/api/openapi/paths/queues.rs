//! Queues (spec §7).

use crate::wire::{Empty, Queue};

#[utoipa::path(
    get,
    path = "/v2/queues",
    operation_id = "listQueues",
    tag = "Queues",
    summary = "List queues",
    responses((status = 200, description = "Every queue", body = Vec<Queue>))
)]
pub fn list() {}

#[utoipa::path(
    post,
    path = "/v2/queues",
    operation_id = "upsertQueue",
    tag = "Queues",
    summary = "Create or update a queue",
    description = "Sets parallelism (1 to 1000, default 1) and the paused state (default false).",
    request_body(content = crate::wire::QueueUpsert,
        example = json!({"queueName": "emails", "parallelism": 2, "paused": false})),
    responses((status = 200, description = "Created or updated", body = Empty))
)]
pub fn upsert() {}

#[utoipa::path(
    get,
    path = "/v2/queues/{queueName}",
    operation_id = "getQueue",
    tag = "Queues",
    summary = "Get a queue",
    params(("queueName" = String, Path, description = "Queue name")),
    responses((status = 200, description = "The queue", body = Queue))
)]
pub fn get() {}

#[utoipa::path(
    delete,
    path = "/v2/queues/{queueName}",
    operation_id = "deleteQueue",
    tag = "Queues",
    summary = "Delete a queue",
    description = "Idempotent. Its messages that have not started are canceled; those in flight finish.",
    params(("queueName" = String, Path, description = "Queue name")),
    responses((status = 200, description = "Deleted", body = Empty))
)]
pub fn delete() {}

#[utoipa::path(
    post,
    path = "/v2/queues/{queueName}/pause",
    operation_id = "pauseQueue",
    tag = "Queues",
    summary = "Pause a queue",
    description = "Idempotent. A paused queue accepts messages and delivers none.",
    params(("queueName" = String, Path, description = "Queue name")),
    responses((status = 200, description = "Paused", body = Empty))
)]
pub fn pause() {}

#[utoipa::path(
    post,
    path = "/v2/queues/{queueName}/resume",
    operation_id = "resumeQueue",
    tag = "Queues",
    summary = "Resume a queue",
    description = "Idempotent; delivery continues in order.",
    params(("queueName" = String, Path, description = "Queue name")),
    responses((status = 200, description = "Resumed", body = Empty))
)]
pub fn resume() {}
