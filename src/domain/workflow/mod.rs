//! Upstash Workflow runs (docs/workflow/protocol.md): a run is a chain of ordinary messages that the SDK
//! publishes one step at a time; the server keeps the run's history and delivers it as each step's body.
//! This module holds the run's values; `publish` reads the workflow headers of a publish.

pub mod filter;
pub mod history;
pub mod hook_limit;
pub mod invoke;
pub mod publish;
pub mod rerun;
pub mod run_log;
pub mod step;
pub mod wait;

use serde::{Deserialize, Serialize};

use super::callback::Callback;
use super::headers::HeaderMap;
use super::redact::Redact;
// The link lives beside `message` so that a message can name it without importing the runs.
pub use super::workflow_link::{Role, WorkflowLink};

/// The protocol version the SDK sends and expects on every workflow delivery (`Upstash-Workflow-Sdk-Version`).
pub const SDK_VERSION: &str = "1";

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    #[serde(rename = "RUN_STARTED")]
    Started,
    #[serde(rename = "RUN_SUCCESS")]
    Success,
    #[serde(rename = "RUN_FAILED")]
    Failed,
    #[serde(rename = "RUN_CANCELED")]
    Canceled,
}

impl RunState {
    pub const ALL: [RunState; 4] = [
        RunState::Started,
        RunState::Success,
        RunState::Failed,
        RunState::Canceled,
    ];

    /// The spelling stored in `workflow_runs.state` and shown on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Started => "RUN_STARTED",
            RunState::Success => "RUN_SUCCESS",
            RunState::Failed => "RUN_FAILED",
            RunState::Canceled => "RUN_CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<RunState> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// The SDK features a run's trigger declared (`Upstash-Feature-Set`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Features {
    pub lazy_fetch: bool,
    pub initial_body: bool,
    pub detect_trigger: bool,
    /// Step publishes carry no settings of their own: the trigger's apply to every step.
    pub trigger_on_config: bool,
}

impl Features {
    pub fn parse(value: &str) -> Features {
        let mut features = Features::default();
        for feature in value.split(',').map(str::trim) {
            match feature {
                "LazyFetch" => features.lazy_fetch = true,
                "InitialBody" => features.initial_body = true,
                "WF_DetectTrigger" => features.detect_trigger = true,
                "WF_TriggerOnConfig" => features.trigger_on_config = true,
                _ => {}
            }
        }
        features
    }
}

/// The trigger's settings, kept with the run and applied to every step a publish does not set itself
/// (`WF_TriggerOnConfig`): step publishes of SDK 1.3.3 carry none of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
    /// What every delivery of the run carries: the user's forwarded headers and the workflow headers
    /// (run id, creation time, SDK version, label, invoke count).
    #[serde(skip_serializing_if = "HeaderMap::is_empty")]
    pub header: HeaderMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redact: Option<Redact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<Callback>,
    pub features: Features,
    /// Started without the SDK (`POST /v2/trigger`): its first delivery says `Upstash-Workflow-Unknown-Sdk`
    /// and the SDK re-triggers it with its own settings.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown_sdk: bool,
}

/// A run about to be created by its trigger.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: String,
    pub url: String,
    pub config: RunConfig,
    pub labels: Vec<String>,
    pub caller_ip: Option<String>,
    pub created_at: i64,
    /// The run that invoked this one (`context.invoke`), resumed when this one ends.
    pub invoker: Option<invoke::Invoker>,
    /// The SDK's re-trigger (`Upstash-Workflow-Trigger-By-Sdk`) of a run started without it: when that run
    /// has not moved past its first delivery, this trigger becomes its configuration and first message.
    pub replaces_start: bool,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub run_id: String,
    pub url: String,
    pub state: RunState,
    pub config: RunConfig,
    pub labels: Vec<String>,
    pub caller_ip: Option<String>,
    /// The DELETE body of a finished run: its return value as JSON text.
    pub result: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    pub invoker: Option<invoke::Invoker>,
}

impl Run {
    /// The link of a step of this run, placed in its history when the store appends it.
    pub fn step_link(&self) -> WorkflowLink {
        WorkflowLink {
            run_id: self.run_id.clone(),
            role: Role::Step,
            seq: None,
            run_created_at: self.created_at,
            detect_trigger: false,
            initial_body: None,
        }
    }
}

/// How a run ends through the API (`DELETE /v2/workflows/runs/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// `?cancel=false`: the route returned; the body is its result.
    Finish,
    /// `?cancel=true`, `context.cancel()` or an operator's cancel: pending steps are canceled too.
    Cancel,
}

/// The text of the error that fails a run whose endpoint is not a workflow endpoint (`WF_DetectTrigger`).
pub const NON_WORKFLOW_DESTINATION: &str = "detected a non-workflow destination for trigger/invoke. make sure \
     you are sending the request to the correct endpoint: the answer did not carry Upstash-Workflow-Sdk-Version";

/// Whether a 2xx answer to a run's first delivery came from a workflow endpoint: every answer of the SDK's
/// `serve()` carries `Upstash-Workflow-Sdk-Version`.
pub fn answered_by_workflow(response: &http::HeaderMap) -> bool {
    response.contains_key("upstash-workflow-sdk-version")
}
