//! Upstash Workflow: the run endpoints the SDK calls (docs/workflow/protocol.md).

use crate::wire::{HistoryStep, RunEnded};

#[utoipa::path(
    get,
    path = "/v2/workflows/runs/{workflowRunId}",
    operation_id = "getWorkflowRunHistory",
    tag = "Workflows",
    summary = "A started run's history",
    description = "Every message published into the run, in publish order (what a step's delivery carries as \
        its body, cut there). The SDK reads it when a delivery comes with an empty body (LazyFetch). 404 once \
        the run has ended.",
    params(("workflowRunId" = String, Path, description = "The run id (`wfr_…`)")),
    responses((status = 200, description = "The history", body = Vec<HistoryStep>))
)]
pub fn history() {}

#[utoipa::path(
    delete,
    path = "/v2/workflows/runs/{workflowRunId}",
    operation_id = "endWorkflowRun",
    tag = "Workflows",
    summary = "Finish or cancel a run",
    description = "`cancel=false` (the SDK, when the route returns): the run succeeds with the body as its \
        result. `cancel=true` (`context.cancel()`): the run is canceled with its waiting steps. A run that had \
        ended already, or does not exist, is answered 200 too (the SDK would retry its delivery otherwise).",
    params(
        ("workflowRunId" = String, Path, description = "The run id (`wfr_…`)"),
        ("cancel" = Option<bool>, Query, description = "Cancel instead of finishing (default false)")
    ),
    request_body(content = String, description = "The route's return value as JSON text (finish only)", content_type = "text/plain"),
    responses((status = 200, description = "The run's state now", body = RunEnded))
)]
pub fn end() {}
