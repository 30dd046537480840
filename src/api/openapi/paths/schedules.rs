//! Schedules (spec §5).

use crate::wire::{Empty, Schedule, ScheduleCreated};

#[utoipa::path(
    post,
    path = "/v2/schedules/{destination}",
    operation_id = "createSchedule",
    tag = "Schedules",
    summary = "Create or replace a schedule",
    description = "Publishes the request's body to `destination` at every time the cron expression names (UTC, \
        or `CRON_TZ=<zone>` first). With `Upstash-Schedule-Id` of an existing schedule, replaces it.",
    params(
        ("destination" = String, Path, description = "Destination URL or URL group name", example = "https://example.com/nightly"),
        ("Upstash-Cron" = String, Header, description = "Cron expression, five fields", example = "0 3 * * *"),
        ("Upstash-Schedule-Id" = Option<String>, Header, description = "Own id (`[A-Za-z0-9._-]+`), to create or replace", example = "nightly-report"),
        ("Upstash-Queue-Name" = Option<String>, Header, description = "Each fire is enqueued to this queue", example = "reports"),
    ),
    request_body(description = "The body each fire delivers.",
        content((String = "text/plain", example = json!("hello")),
            (serde_json::Value = "application/json", example = json!({"report": "nightly"})))),
    responses((status = 200, description = "Created or replaced", body = ScheduleCreated,
        example = json!({"scheduleId": "scd_1a2b3c"})))
)]
pub fn create() {}

#[utoipa::path(
    get,
    path = "/v2/schedules",
    operation_id = "listSchedules",
    tag = "Schedules",
    summary = "List schedules",
    responses((status = 200, description = "Every schedule", body = Vec<Schedule>))
)]
pub fn list() {}

#[utoipa::path(
    get,
    path = "/v2/schedules/{scheduleId}",
    operation_id = "getSchedule",
    tag = "Schedules",
    summary = "Get a schedule",
    params(("scheduleId" = String, Path, description = "Schedule id")),
    responses((status = 200, description = "The schedule", body = Schedule))
)]
pub fn get() {}

#[utoipa::path(
    delete,
    path = "/v2/schedules/{scheduleId}",
    operation_id = "deleteSchedule",
    tag = "Schedules",
    summary = "Delete a schedule",
    description = "Messages it already created keep going.",
    params(("scheduleId" = String, Path, description = "Schedule id")),
    responses((status = 200, description = "Deleted", body = Empty))
)]
pub fn delete() {}

#[utoipa::path(
    patch,
    path = "/v2/schedules/{scheduleId}/pause",
    operation_id = "pauseSchedule",
    tag = "Schedules",
    summary = "Pause a schedule",
    description = "Idempotent. `POST` is accepted too (the SDKs send `PATCH`).",
    params(("scheduleId" = String, Path, description = "Schedule id")),
    responses((status = 200, description = "Paused", body = Empty))
)]
pub fn pause() {}

#[utoipa::path(
    patch,
    path = "/v2/schedules/{scheduleId}/resume",
    operation_id = "resumeSchedule",
    tag = "Schedules",
    summary = "Resume a schedule",
    description = "Idempotent; continues from the next time after now (times passed while paused do not fire). \
        `POST` is accepted too.",
    params(("scheduleId" = String, Path, description = "Schedule id")),
    responses((status = 200, description = "Resumed", body = Empty))
)]
pub fn resume() {}

/// `POST` for pause, as QStash's docs name it (the SDKs send `PATCH`).
#[utoipa::path(
    post,
    path = "/v2/schedules/{scheduleId}/pause",
    operation_id = "pauseScheduleByPost",
    tag = "Schedules",
    summary = "Pause a schedule (POST)",
    params(("scheduleId" = String, Path, description = "Schedule id")),
    responses((status = 200, description = "Paused", body = Empty))
)]
pub fn pause_by_post() {}

/// `POST` for resume, as QStash's docs name it.
#[utoipa::path(
    post,
    path = "/v2/schedules/{scheduleId}/resume",
    operation_id = "resumeScheduleByPost",
    tag = "Schedules",
    summary = "Resume a schedule (POST)",
    params(("scheduleId" = String, Path, description = "Schedule id")),
    responses((status = 200, description = "Resumed", body = Empty))
)]
pub fn resume_by_post() {}
