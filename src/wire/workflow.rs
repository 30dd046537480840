//! Upstash Workflow: the run endpoints' shapes (docs/workflow/protocol.md).

/// One entry of a run's history: a message published into the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryStep {
    pub message_id: String,
    /// Base64 of the message's body as published (entry 0: the run's initial payload).
    pub body: String,
    /// `step`, or `toCallback` for a `context.call`'s request.
    pub call_type: String,
}

/// The answer of ending a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunEnded {
    pub workflow_run_id: String,
    /// The run's state now (`RUN_SUCCESS`, `RUN_CANCELED`, or the state it had ended in before); absent
    /// when no such run exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_state: Option<String>,
}

/// The answer of a bulk cancel of runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RunsCanceled {
    /// How many started runs this request canceled.
    pub cancelled: u64,
}

/// `POST /v2/wait/{eventId}`: what the SDK sends when a step waits for an event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitRequest {
    /// Where the notified step is delivered (the workflow URL).
    pub url: String,
    /// How long to wait: a duration (`"30s"`, `"7d"`) or a number of seconds.
    #[schema(value_type = Object)]
    pub timeout: serde_json::Value,
    /// Where the timed-out step is delivered (default: `url`).
    #[serde(default)]
    pub timeout_url: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub timeout_body: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub timeout_headers: Option<serde_json::Value>,
    /// The SDK's step, completed with the outcome when the run resumes.
    #[schema(value_type = Object)]
    pub step: serde_json::Value,
}

/// A step waiting for an event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaiterShown {
    pub url: String,
    /// Unix seconds.
    pub deadline: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub headers: Option<serde_json::Value>,
    pub timeout_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub timeout_headers: Option<serde_json::Value>,
}

/// One step a notify resumed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedWaiter {
    pub waiter: WaiterShown,
    /// The message of the resumed step.
    pub message_id: String,
    pub deduplicated: bool,
    pub workflow_run_id: String,
    pub workflow_created_at: i64,
}

/// `GET /v2/workflows/logs`: runs, newest first, in Upstash's `WorkflowRun` shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct WorkflowRunLogs {
    /// Where the next page starts; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub runs: Vec<WorkflowRunLog>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRunLog {
    pub workflow_run_id: String,
    pub workflow_url: String,
    /// `RUN_STARTED`, `RUN_SUCCESS`, `RUN_FAILED` or `RUN_CANCELED`.
    pub workflow_state: String,
    pub workflow_run_created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_completed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_caller_ip: Option<String>,
    /// The finished steps, grouped, then (`type: next`) the steps running, retrying, failed or canceled.
    pub steps: Vec<StepLogGroup>,
    /// What the route returned, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoker: Option<RunInvoker>,
    /// The first label (Upstash's deprecated field) and all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StepLogGroup {
    /// `sequential`, `parallel` or `next`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Each step: the SDK's step fields (`stepId`, `stepName`, `stepType`, `out`, `concurrent`, call, sleep,
    /// wait and invoke fields) with `messageId`, `callType`, `createdAt` and `state` (`STEP_SUCCESS`; in `next`:
    /// `STEP_PROGRESS`, `STEP_RETRY`, `STEP_FAILED`, `STEP_CANCELED`, with `retries` and `errors`).
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The run that invoked this one (`context.invoke`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunInvoker {
    pub workflow_run_id: String,
    pub workflow_url: String,
    pub workflow_run_created_at: i64,
}

/// One run of `POST /v2/batch/trigger`: what `POST /v2/trigger/{url}` takes as its path, headers and body.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerItem {
    /// The workflow endpoint's URL.
    pub destination: String,
    /// The publish headers of the run (`Upstash-Retries`, `Upstash-Forward-<Name>`, `Upstash-Label`, …).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The run's initial payload.
    #[serde(default)]
    pub body: Option<String>,
    /// The run id (`wfr_…` is made when absent); a run id seen before starts nothing.
    #[serde(default)]
    pub workflow_run_id: Option<String>,
}

/// The answer of a REST trigger.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Triggered {
    pub workflow_run_id: String,
    pub workflow_created_at: i64,
    /// True when a run with this id existed already: nothing was started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deduplicated: bool,
}

/// The answer of a workflow DLQ resume or restart: the new runs, one per entry taken.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RerunRuns {
    pub workflow_runs: Vec<Triggered>,
    /// Where the next page of a filtered (or every-entry) resume or restart starts, while entries remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
