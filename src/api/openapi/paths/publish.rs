//! Publish, enqueue and batch (spec §3).

use crate::wire::{PublishAnswer, ScheduleCreated};

/// What a publish answers: the message(s), or the schedule when `Upstash-Cron` made it one.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum PublishOrSchedule {
    Published(PublishAnswer),
    Schedule(ScheduleCreated),
}

#[utoipa::path(
    post,
    path = "/v2/publish/{destination}",
    operation_id = "publish",
    tag = "Publish",
    summary = "Publish a message",
    description = "Stores the message durably, then answers; it is delivered to `destination` after any delay, \
        retried with backoff on failure, and moved to the DLQ when its retries run out. `destination` is a URL \
        (`https://example.com/hook`, kept as written, query included) or the name of a URL group, which gets one \
        message per endpoint and an array answer. With `Upstash-Cron` the request creates a schedule instead, \
        as QStash's first API did, and answers `{\"scheduleId\"}`.",
    params(
        ("destination" = String, Path, description = "Destination URL or URL group name", example = "https://example.com/hook"),
        ("Upstash-Cron" = Option<String>, Header, description = "Creates a schedule instead (compatibility path of `POST /v2/schedules/{destination}`)", example = "*/5 * * * *"),
    ),
    request_body(description = "The body to deliver, any bytes with any `Content-Type`; stored as sent.",
        content((String = "text/plain", example = json!("hello")),
            (serde_json::Value = "application/json", example = json!({"order": 42, "status": "paid"})))),
    responses(
        (status = 201, description = "Accepted and stored", body = inline(PublishOrSchedule),
            example = json!({"messageId": "msg_26hZCxZCuWyyTWPmSVBrNCtiJEFrrrSmANjCHXzdRjzfvMJnbLaEhxeRcxjBd", "url": "https://example.com/hook"})),
        (status = 202, description = "A duplicate of an earlier publish (same deduplication id or content): nothing new stored",
            body = PublishAnswer,
            example = json!({"messageId": "msg_26hZCxZCuWyyTWPmSVBrNCtiJEFrrrSmANjCHXzdRjzfvMJnbLaEhxeRcxjBd", "url": "https://example.com/hook", "deduplicated": true})),
    )
)]
pub fn publish() {}

#[utoipa::path(
    post,
    path = "/v2/enqueue/{queueName}/{destination}",
    operation_id = "enqueue",
    tag = "Publish",
    summary = "Enqueue a message",
    description = "A publish into a FIFO queue, created on first use: the queue delivers its messages in order, \
        as many at a time as its parallelism.",
    params(
        ("queueName" = String, Path, description = "Queue name: letters, digits, `-`, `_`, `.`", example = "emails"),
        ("destination" = String, Path, description = "Destination URL or URL group name", example = "https://example.com/hook"),
    ),
    request_body(description = "The body to deliver, any bytes with any `Content-Type`.",
        content((String = "text/plain", example = json!("hello")),
            (serde_json::Value = "application/json", example = json!({"order": 42, "status": "paid"})))),
    responses(
        (status = 201, description = "Accepted and stored", body = PublishAnswer),
        (status = 202, description = "A duplicate: nothing new stored", body = PublishAnswer),
    )
)]
pub fn enqueue() {}

#[utoipa::path(
    post,
    path = "/v2/batch",
    operation_id = "batch",
    tag = "Publish",
    summary = "Publish many messages",
    description = "Every item is validated before anything is stored: one bad item refuses the whole batch \
        (its index is in the error). Each item's `headers` take the same option headers as a publish.",
    request_body(content = Vec<crate::wire::BatchItem>, description = "The messages",
        example = json!([{"destination": "https://example.com/hook", "headers": {"Upstash-Delay": "10s"}, "body": "hello"}])),
    responses(
        (status = 201, description = "One answer per item, in order: an object for a URL, an array for a URL group",
            body = Vec<PublishAnswer>),
        (status = 404, description = "An item names a URL group that does not exist or has no endpoints",
            body = crate::wire::ErrorBody),
    )
)]
pub fn batch() {}
