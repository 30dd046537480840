//! Async bulk actions (issue 23): the history and progress of async bulk cancels.

use crate::wire::{BulkAction, BulkActionPage};

#[utoipa::path(
    get,
    path = "/v2/bulkActions",
    operation_id = "listBulkActions",
    tag = "Messages",
    summary = "List async bulk actions",
    description = "Async bulk cancels (`DELETE /v2/messages` with `async: true`), newest first, with their \
        progress; finished ones are kept for `--bulk-action-retention` (7 days by default).",
    params(
        ("cursor" = Option<String>, Query, description = "The `cursor` of the previous page"),
        ("count" = Option<i64>, Query, description = "Page size: default 100, at most 1000", minimum = 1, maximum = 1000)
    ),
    responses((status = 200, description = "One page", body = BulkActionPage))
)]
pub fn list() {}

#[utoipa::path(
    get,
    path = "/v2/bulkActions/{actionId}",
    operation_id = "getBulkAction",
    tag = "Messages",
    summary = "Get an async bulk action",
    description = "One action: `IN_PROGRESS` while `processed` < `total`, then `FINISHED` with `completedAt`.",
    params(("actionId" = String, Path, description = "The action id a bulk cancel with `async: true` answered")),
    responses((status = 200, description = "The action", body = BulkAction))
)]
pub fn get() {}
