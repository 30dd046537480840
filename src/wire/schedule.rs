//! Schedule (spec §5.6) and the answer to creating one.

use super::{Body, Callbacks, FlowLimits, HeaderMap, Labels};

/// A cron schedule and the message each of its slots creates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// The schedule's id (`Upstash-Schedule-Id`, or a generated `scd_…`).
    pub schedule_id: String,
    /// The cron expression, trimmed (may start with `CRON_TZ=<zone>`).
    pub cron: String,
    /// A URL (with its query) or a URL group's name.
    pub destination: String,
    /// Unix ms.
    pub created_at: i64,
    /// The HTTP method of each fired message.
    pub method: String,
    /// Headers each fired message carries; redacted values show as `REDACTED:<sha256>`.
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub header: HeaderMap,
    /// The body of each fired message: `body` when UTF-8, `bodyBase64` otherwise; absent when empty.
    #[serde(flatten)]
    pub body: Body,
    /// Retries of each fired message.
    pub retries: i32,
    /// Delay of each fired message, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<i64>,
    /// Timeout of each attempt, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// The creator's address (Python reads this spelling).
    #[serde(rename = "callerIP", default, skip_serializing_if = "Option::is_none")]
    pub caller_ip: Option<String>,
    /// The same address, under the spelling of the OpenAPI file (spec §15 #5).
    #[serde(rename = "callerIp", default, skip_serializing_if = "Option::is_none")]
    pub caller_ip_alias: Option<String>,
    /// `Upstash-Retry-Delay` of each fired message, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    /// The queue each fired message is enqueued in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    /// The flow-control key each fired message waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
    /// The limits of its flow-control key.
    #[serde(flatten)]
    pub flow_limits: FlowLimits,
    /// The callbacks of each fired message.
    #[serde(flatten)]
    pub callbacks: Callbacks,
    /// A paused schedule fires nothing until it is resumed.
    pub is_paused: bool,
    /// The labels of each fired message.
    #[serde(flatten)]
    pub labels: Labels,
    /// When the last slot fired, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<i64>,
    /// When the next slot fires, Unix ms; absent while paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<i64>,
    /// The messages the last fire created (those not yet removed by retention), by id.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub last_schedule_states: std::collections::BTreeMap<String, ScheduleState>,
}

/// How a message of a schedule's last fire is doing: the three values of the Python SDK's enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleState {
    InProgress,
    Success,
    Fail,
}

impl ScheduleState {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ScheduleState::InProgress => "IN_PROGRESS",
            ScheduleState::Success => "SUCCESS",
            ScheduleState::Fail => "FAIL",
        }
    }
}

/// `POST /v2/schedules/{destination}`: the id of the schedule created or replaced.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleCreated {
    /// The id of the schedule created or replaced.
    pub schedule_id: String,
}
