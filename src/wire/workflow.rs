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
