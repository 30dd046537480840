//! Upstash Workflow: the run endpoints the SDK calls (docs/workflow/protocol.md).

use crate::api::openapi::params::{DlqQuery, Filters, Paging};
use crate::wire::{
    Empty, HistoryStep, NotifiedWaiter, RerunRuns, RunEnded, RunsCanceled, TriggerItem, Triggered, WaitRequest,
    WaiterShown, WorkflowRunLogs,
};

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

#[utoipa::path(
    delete,
    path = "/v2/workflows/runs",
    operation_id = "cancelWorkflowRuns",
    tag = "Workflows",
    summary = "Cancel many runs",
    description = "Cancels up to `count` started runs, oldest first, that match every given filter (any value \
        of a repeated one); with no filter, every started run. Each canceled run's waiting steps are canceled \
        with it, and an invoking run gets its invoke step back with `isCanceled`. `cancelled` counts only the \
        runs this request canceled: unknown ids and runs that had ended count nothing. An unknown or empty \
        filter is a 400 and cancels nothing.",
    params(
        ("workflowRunIds" = Option<Vec<String>>, Query, description = "Run ids (repeated)"),
        ("workflowUrl" = Option<Vec<String>>, Query, description = "Prefix of the workflow URL, or the whole URL with `workflowUrlExactMatch=true`"),
        ("workflowUrlExactMatch" = Option<bool>, Query, description = "Match `workflowUrl` exactly"),
        ("host" = Option<Vec<String>>, Query, description = "Host of the workflow URL"),
        ("path" = Option<Vec<String>>, Query, description = "Path of the workflow URL"),
        ("label" = Option<Vec<String>>, Query, description = "A label of the run"),
        ("callerIp" = Option<Vec<String>>, Query, description = "The address that triggered the run"),
        ("flowControlKey" = Option<Vec<String>>, Query, description = "The run's flow-control key"),
        ("fromDate" = Option<i64>, Query, description = "Runs created at or after (Unix ms)"),
        ("toDate" = Option<i64>, Query, description = "Runs created at or before (Unix ms)"),
        ("count" = Option<i64>, Query, description = "At most this many runs (default 100, at most 10,000)")
    ),
    responses((status = 200, description = "How many runs were canceled", body = RunsCanceled))
)]
pub fn cancel_many() {}

#[utoipa::path(
    get,
    path = "/v2/workflows/logs",
    operation_id = "listWorkflowRuns",
    tag = "Workflows",
    summary = "Workflow runs and their steps",
    description = "Runs newest first, each in Upstash's `WorkflowRun` shape: its state, times, result, invoker, \
        labels, and its steps grouped (`sequential`, `parallel`, then `next`: the deliveries running, retrying, \
        failed or canceled, with their retries and errors). A filtered page looks at up to 10,000 runs and may \
        hold fewer than `count`; its `cursor` says where the search goes on.",
    params(
        ("groupBy" = Option<String>, Query, description = "`workflowRunId` (the only grouping; the SDK sends it)"),
        ("workflowRunId" = Option<String>, Query, description = "One run"),
        ("workflowUrl" = Option<Vec<String>>, Query, description = "Prefix of the workflow URL, or the whole URL with `workflowUrlExactMatch=true`"),
        ("workflowUrlExactMatch" = Option<bool>, Query, description = "Match `workflowUrl` exactly"),
        ("workflowCreatedAt" = Option<i64>, Query, description = "Runs created at this time (Unix ms)"),
        ("state" = Option<String>, Query, description = "`RUN_STARTED`, `RUN_SUCCESS`, `RUN_FAILED` or `RUN_CANCELED`"),
        ("host" = Option<Vec<String>>, Query, description = "Host of the workflow URL"),
        ("path" = Option<Vec<String>>, Query, description = "Path of the workflow URL"),
        ("label" = Option<Vec<String>>, Query, description = "A label of the run"),
        ("callerIp" = Option<Vec<String>>, Query, description = "The address that triggered the run"),
        ("flowControlKey" = Option<Vec<String>>, Query, description = "The run's flow-control key"),
        ("fromDate" = Option<i64>, Query, description = "Runs created at or after (Unix ms)"),
        ("toDate" = Option<i64>, Query, description = "Runs created at or before (Unix ms)"),
        ("trimBody" = Option<i64>, Query, description = "Cut each step's `out` to this many bytes"),
        ("cursor" = Option<String>, Query, description = "The `cursor` of the previous page"),
        ("count" = Option<i64>, Query, description = "Runs per page (default 10, at most 100)")
    ),
    responses((status = 200, description = "Runs, newest first", body = WorkflowRunLogs))
)]
pub fn logs() {}

#[utoipa::path(
    get,
    path = "/v2/workflows/events",
    operation_id = "listWorkflowRunEvents",
    tag = "Workflows",
    summary = "Workflow runs and their steps (the SDK's path)",
    description = "Runs newest first, each in Upstash's `WorkflowRun` shape: its state, times, result, invoker, \
        labels, and its steps grouped (`sequential`, `parallel`, then `next`: the deliveries running, retrying, \
        failed or canceled, with their retries and errors). A filtered page looks at up to 10,000 runs and may \
        hold fewer than `count`; its `cursor` says where the search goes on.",
    params(
        ("groupBy" = Option<String>, Query, description = "`workflowRunId` (the only grouping; the SDK sends it)"),
        ("workflowRunId" = Option<String>, Query, description = "One run"),
        ("workflowUrl" = Option<Vec<String>>, Query, description = "Prefix of the workflow URL, or the whole URL with `workflowUrlExactMatch=true`"),
        ("workflowUrlExactMatch" = Option<bool>, Query, description = "Match `workflowUrl` exactly"),
        ("workflowCreatedAt" = Option<i64>, Query, description = "Runs created at this time (Unix ms)"),
        ("state" = Option<String>, Query, description = "`RUN_STARTED`, `RUN_SUCCESS`, `RUN_FAILED` or `RUN_CANCELED`"),
        ("host" = Option<Vec<String>>, Query, description = "Host of the workflow URL"),
        ("path" = Option<Vec<String>>, Query, description = "Path of the workflow URL"),
        ("label" = Option<Vec<String>>, Query, description = "A label of the run"),
        ("callerIp" = Option<Vec<String>>, Query, description = "The address that triggered the run"),
        ("flowControlKey" = Option<Vec<String>>, Query, description = "The run's flow-control key"),
        ("fromDate" = Option<i64>, Query, description = "Runs created at or after (Unix ms)"),
        ("toDate" = Option<i64>, Query, description = "Runs created at or before (Unix ms)"),
        ("trimBody" = Option<i64>, Query, description = "Cut each step's `out` to this many bytes"),
        ("cursor" = Option<String>, Query, description = "The `cursor` of the previous page"),
        ("count" = Option<i64>, Query, description = "Runs per page (default 10, at most 100)")
    ),
    responses((status = 200, description = "Runs, newest first", body = WorkflowRunLogs))
)]
pub fn events() {}

#[utoipa::path(
    post,
    path = "/v2/trigger/{destination}",
    operation_id = "triggerWorkflow",
    tag = "Workflows",
    summary = "Start a run without the SDK",
    description = "Starts a run of the workflow at `destination` (its URL) with the body as its initial payload, under the \
        request's publish headers (retries, retry delay, timeout, flow control, `Upstash-Forward-*`, label, \
        failure callback). Its first delivery says `Upstash-Workflow-Unknown-Sdk: true`; the SDK's `serve()` \
        then re-triggers the run with its own settings, which replace these (once, before any step). \
        `Upstash-Workflow-RunId` names the run (else a `wfr_` id is made); a run id seen before starts \
        nothing and is answered 202 with `deduplicated: true`.",
    params(
        ("destination" = String, Path, description = "The workflow endpoint's URL", example = "https://app.example/api/flow"),
        ("Upstash-Workflow-RunId" = Option<String>, Header, description = "The run id")
    ),
    request_body(description = "The run's initial payload", content = String, content_type = "application/json"),
    responses(
        (status = 201, description = "The run started", body = Triggered),
        (status = 202, description = "A run with this id exists: nothing started", body = Triggered)
    )
)]
pub fn trigger() {}

#[utoipa::path(
    post,
    path = "/v2/batch/trigger",
    operation_id = "triggerWorkflows",
    tag = "Workflows",
    summary = "Start many runs without the SDK",
    description = "Each item as `POST /v2/trigger/{destination}` (its `headers`, `body` and optional \
        `workflowRunId`); every item is read before any run starts, so a bad item (named in the 400) starts \
        none. At most `--max-batch-items` items.",
    request_body(content = Vec<TriggerItem>),
    responses((status = 201, description = "One answer per item, in order", body = Vec<Triggered>))
)]
pub fn trigger_batch() {}

#[utoipa::path(
    post,
    path = "/v2/workflows/dlq/resume",
    operation_id = "resumeWorkflowDlq",
    tag = "Workflows",
    summary = "Resume failed runs from their failed step",
    description = "Each entry of a failed step starts a new run under the failed run's settings (`Upstash-Retries` and \
        flow-control headers override them) that keeps the history before the failed step: the SDK goes on \
        from that step without running the finished ones again. The entries are those `dlqIds` names (a taken or \
        unknown one is a 404), or one page of the workflow entries the DLQ filters match, or with only `count` \
        one page of every workflow entry; `cursor` in the answer continues. A bare request with none of these \
        is a 400. Each entry is taken; one that is not a workflow step's is a 400, and nothing starts unless \
        every entry can.",
    params(Filters, DlqQuery, Paging),
    responses((status = 200, description = "The new runs, one per entry taken", body = RerunRuns))
)]
pub fn dlq_resume() {}

#[utoipa::path(
    post,
    path = "/v2/workflows/dlq/resume/{dlqId}",
    operation_id = "resumeWorkflowDlqOne",
    tag = "Workflows",
    summary = "Resume a failed run from its failed step",
    description = "Each entry of a failed step starts a new run under the failed run's settings (`Upstash-Retries` and \
        flow-control headers override them) that keeps the history before the failed step: the SDK goes on \
        from that step without running the finished ones again. The entry is taken; a taken or unknown entry \
        is a 404, one that is not a workflow step's a 400, and nothing starts unless every entry can.",
    params(("dlqId" = String, Path, description = "The DLQ entry of the failed step")),
    responses((status = 200, description = "The new runs, one per entry taken", body = RerunRuns))
)]
pub fn dlq_resume_one() {}

#[utoipa::path(
    post,
    path = "/v2/workflows/dlq/restart",
    operation_id = "restartWorkflowDlq",
    tag = "Workflows",
    summary = "Restart failed runs",
    description = "Each entry of a failed step starts a new run from the start, with the failed run's initial payload \
        and settings (`Upstash-Retries` and flow-control headers override them). The entries are selected as \
        for the resume (`dlqIds`, DLQ filters, or `count` for every entry, one page per call); each is taken.",
    params(Filters, DlqQuery, Paging),
    responses((status = 200, description = "The new runs, one per entry taken", body = RerunRuns))
)]
pub fn dlq_restart() {}

#[utoipa::path(
    post,
    path = "/v2/workflows/dlq/restart/{dlqId}",
    operation_id = "restartWorkflowDlqOne",
    tag = "Workflows",
    summary = "Restart a failed run",
    description = "Each entry of a failed step starts a new run from the start, with the failed run's initial payload \
        and settings (`Upstash-Retries` and flow-control headers override them). The entry is taken.",
    params(("dlqId" = String, Path, description = "The DLQ entry of the failed step")),
    responses((status = 200, description = "The new runs, one per entry taken", body = RerunRuns))
)]
pub fn dlq_restart_one() {}

#[utoipa::path(
    post,
    path = "/v2/workflows/dlq/callback/{dlqId}",
    operation_id = "retryWorkflowFailureCallback",
    tag = "Workflows",
    summary = "Send a failed run's failure callback again",
    description = "The Workflow SDK's `client.dlq.retryFailureFunction`: the failure function or failure URL of \
        the failed run whose step this entry is, sent again as the final failure sent it (the step's last \
        answer, this DLQ id, the run's initial payload). A 400 when the run has not failed or has no failure \
        callback; the entry stays.",
    params(("dlqId" = String, Path, description = "The DLQ entry of the failed step")),
    responses((status = 200, description = "The run whose callback was sent again", body = Triggered))
)]
pub fn dlq_callback() {}

#[utoipa::path(
    post,
    path = "/v2/wait/{eventId}",
    operation_id = "waitForEvent",
    tag = "Workflows",
    summary = "A step waits for an event",
    description = "`context.waitForEvent`: the step in the body waits, for the run named by \
        `Upstash-Workflow-RunId`, until a notify for the event or its timeout, whichever comes first; then the \
        run resumes with the step completed (`out` = base64 of the event data, or `waitTimeout: true` at the \
        deadline, delivered to `timeoutUrl` within about a second). An event a lookback notify kept for the run \
        resumes it at once. `400` for an unknown or ended run, a bad body, or a run with 100 steps waiting \
        already.",
    params(
        ("eventId" = String, Path, description = "1 to 256 characters, no control characters"),
        ("Upstash-Workflow-RunId" = String, Header, description = "The waiting run")
    ),
    request_body(content = WaitRequest, description = "As the SDK sends it"),
    responses((status = 200, description = "The step waits (or was resumed by a kept event)", body = Empty))
)]
pub fn wait() {}

#[utoipa::path(
    post,
    path = "/v2/notify/{eventId}",
    operation_id = "notifyEvent",
    tag = "Workflows",
    summary = "Notify the steps waiting for an event",
    description = "Every step waiting for the event resumes with the raw body as the event data. `[]` when \
        none waits: the event is not kept (the SDK's `notifyResponse` tells the caller; a lookback notify \
        keeps it for one run).",
    params(("eventId" = String, Path, description = "The event")),
    request_body(content = String, description = "The event data, any bytes", content_type = "text/plain"),
    responses((status = 200, description = "The steps resumed", body = Vec<NotifiedWaiter>))
)]
pub fn notify() {}

#[utoipa::path(
    post,
    path = "/v2/notify/{workflowRunId}/{eventId}",
    operation_id = "notifyRunEvent",
    tag = "Workflows",
    summary = "Notify one run (lookback)",
    description = "As a notify, for that run's waiting steps only; when none waits yet, the event is kept \
        (a later notify replaces it) and the run's next wait for it resumes at once. `404` when the run does \
        not exist or has ended.",
    params(
        ("workflowRunId" = String, Path, description = "The run (`wfr_…`)"),
        ("eventId" = String, Path, description = "The event")
    ),
    request_body(content = String, description = "The event data, any bytes", content_type = "text/plain"),
    responses((status = 200, description = "The steps resumed (`[]` when the event was kept)", body = Vec<NotifiedWaiter>))
)]
pub fn notify_run() {}

#[utoipa::path(
    get,
    path = "/v2/waiters/{eventId}",
    operation_id = "listWaiters",
    tag = "Workflows",
    summary = "The steps waiting for an event",
    description = "Oldest first, at most 1,000.",
    params(("eventId" = String, Path, description = "The event")),
    responses((status = 200, description = "The waiting steps", body = Vec<WaiterShown>))
)]
pub fn waiters() {}

#[utoipa::path(
    post,
    path = "/v2/workflows/hooks/{userId}/{workflowRunId}/{eventId}",
    operation_id = "workflowWebhook",
    tag = "Workflows",
    summary = "A workflow's webhook (no token)",
    description = "The URL `context.createWebhook` hands to a third party, so it takes no token and any \
        method. It acts as a lookback notify of the run, whose event data is the request itself \
        (`{method, header, body (base64), proto, host, url}`, as `waitForWebhook` reads it). `404` when the \
        run does not exist or has ended; the body is bounded by `--max-body-bytes`, and one event per run \
        and event id is kept.",
    params(
        ("userId" = String, Path, description = "Any value (one user per server)"),
        ("workflowRunId" = String, Path, description = "The run (`wfr_…`)"),
        ("eventId" = String, Path, description = "The webhook's event")
    ),
    request_body(content = String, description = "Anything", content_type = "application/octet-stream"),
    responses((status = 200, description = "Taken"))
)]
pub fn hook() {}
