//! The dead-letter queue (spec §9).

use crate::api::openapi::params::{DlqQuery, Filters, Paging};
use crate::wire::{Deleted, DlqMessage, DlqPage, Retried, RetriedMessage};

#[utoipa::path(
    get,
    path = "/v2/dlq",
    operation_id = "listDlq",
    tag = "DLQ",
    summary = "List failed messages",
    params(Filters, DlqQuery, Paging),
    responses((status = 200, description = "One page", body = DlqPage))
)]
pub fn list() {}

#[utoipa::path(
    get,
    path = "/v2/dlq/{dlqId}",
    operation_id = "getDlq",
    tag = "DLQ",
    summary = "Get a failed message",
    params(("dlqId" = String, Path, description = "DLQ entry id")),
    responses((status = 200, description = "The entry, with the last response", body = DlqMessage))
)]
pub fn get() {}

#[utoipa::path(
    delete,
    path = "/v2/dlq/{dlqId}",
    operation_id = "deleteDlq",
    tag = "DLQ",
    summary = "Delete a failed message",
    params(("dlqId" = String, Path, description = "DLQ entry id")),
    responses((status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": 1})))
)]
pub fn delete() {}

#[utoipa::path(
    delete,
    path = "/v2/dlq",
    operation_id = "deleteDlqMany",
    tag = "DLQ",
    summary = "Delete failed messages in bulk",
    description = "Deletes the entries named by `dlqIds` (query or JSON body), or one page of those the filters \
        match; `cursor` in the answer continues. With no filter, one page of every entry.",
    params(Filters, DlqQuery, Paging),
    request_body(content = Option<crate::wire::BulkBody>, description = "`{\"dlqIds\": [...]}`, instead of the query",
        example = json!({"dlqIds": ["dlq_1"]})),
    responses((status = 200, description = "How many were deleted", body = Deleted))
)]
pub fn delete_many() {}

#[utoipa::path(
    delete,
    path = "/v2/workflows/dlq",
    operation_id = "deleteWorkflowDlqMany",
    tag = "Workflows",
    summary = "Delete failed workflow steps in bulk",
    description = "The Workflow SDK's `client.dlq.delete`: as `DELETE /v2/dlq`, for the entries of workflow steps \
        only (`source=workflow` is implied; naming `source` is a 400).",
    params(Filters, DlqQuery, Paging),
    request_body(content = Option<crate::wire::BulkBody>, description = "`{\"dlqIds\": [...]}`, instead of the query",
        example = json!({"dlqIds": ["dlq_1"]})),
    responses((status = 200, description = "How many were deleted", body = Deleted))
)]
pub fn delete_workflow_many() {}

#[utoipa::path(
    post,
    path = "/v2/dlq/retry/{dlqId}",
    operation_id = "retryDlq",
    tag = "DLQ",
    summary = "Retry a failed message",
    description = "Publishes the failed message again as a new message and removes the entry, atomically. \
        Option headers override its settings.",
    params(("dlqId" = String, Path, description = "DLQ entry id")),
    responses((status = 201, description = "The new message", body = RetriedMessage))
)]
pub fn retry() {}

#[utoipa::path(
    post,
    path = "/v2/dlq/retry",
    operation_id = "retryDlqMany",
    tag = "DLQ",
    summary = "Retry failed messages in bulk",
    description = "Like the single retry, for the entries named by `dlqIds` (query or JSON body) or one page of \
        those the filters match; `cursor` in the answer continues.",
    params(Filters, DlqQuery, Paging),
    request_body(content = Option<crate::wire::BulkBody>, description = "`{\"dlqIds\": [...]}`, instead of the query"),
    responses((status = 200, description = "The new messages", body = Retried))
)]
pub fn retry_many() {}

#[utoipa::path(
    post,
    path = "/v2/dlq/retry/multi",
    operation_id = "retryDlqMulti",
    tag = "DLQ",
    summary = "Retry failed messages by id (alias)",
    description = "Upstash's name for the bulk retry of the entries a JSON body `{\"dlqIds\": [...]}` names: the same \
        operation as `POST /v2/dlq/retry`, with the same query and answer.",
    params(Filters, DlqQuery, Paging),
    request_body(content = Option<crate::wire::BulkBody>, description = "`{\"dlqIds\": [...]}`"),
    responses((status = 200, description = "The new messages", body = Retried))
)]
pub fn retry_multi() {}
