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
