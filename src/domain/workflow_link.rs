//! A message's link to the Upstash Workflow run it belongs to (the `workflow` column of `messages`). It is
//! apart from `workflow` so that `message` can hold it while `workflow` builds messages.

use serde::{Deserialize, Serialize};

/// The part a message plays in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Delivered to the workflow endpoint with the history up to itself as its body (the trigger's initial
    /// payload is step 0).
    Step,
    /// `context.call`: the request to the third party, delivered as published; its callbacks go to the run.
    Call,
    /// A callback of a call: delivered as an ordinary callback, without the SDK version header.
    CallCallback,
    /// The run's failure callback: stored only by the completion that fails the run, so it is sent once.
    FailureCallback,
}

/// A message's link to its run (the `workflow` column of `messages`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowLink {
    pub run_id: String,
    pub role: Role,
    /// Its place in the run's history (steps and calls); set by the store when it appends the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// The run's creation time (Unix ms), for the failure callback.
    pub run_created_at: i64,
    /// Fail the run when this delivery's 2xx answer does not come from a workflow endpoint
    /// (`WF_DetectTrigger` on the run's first delivery).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detect_trigger: bool,
    /// The run's initial payload, read with the history just before a delivery (never stored here): the
    /// failure callback reports it as `sourceBody` (`InitialBody`).
    #[serde(skip)]
    pub initial_body: Option<Vec<u8>>,
}

impl WorkflowLink {
    pub fn to_column(link: &Option<WorkflowLink>) -> Option<String> {
        link.as_ref()
            .map(|l| serde_json::to_string(l).expect("a workflow link serialises"))
    }

    /// Whether its delivery carries the run's history as its body.
    pub fn delivers_history(&self) -> bool {
        self.role == Role::Step && self.seq.is_some()
    }
}
