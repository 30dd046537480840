//! Message (spec §4.1), DlqMessage (spec §9.7) and their list pages.

use super::{Body, Callbacks, HeaderMap, Labels, Routing};
use crate::domain::state::ShownState;

/// A message, pending or finished (until retention removes it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// The message's id (`msg_…`), also sent to the destination as `Upstash-Message-Id`.
    pub message_id: String,
    /// The destination URL; for a message published to a URL group, the endpoint's URL.
    pub url: String,
    /// The HTTP method of the delivery (`POST` unless `Upstash-Method` said otherwise).
    pub method: String,
    /// Headers the delivery carries (forwarded headers without their prefix, and `Content-Type`), canonical
    /// names; values hidden by `Upstash-Redact-Fields` show as `REDACTED:<sha256>`.
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub header: HeaderMap,
    /// The body: `body` when it is UTF-8, `bodyBase64` otherwise; absent when empty.
    #[serde(flatten)]
    pub body: Body,
    /// Retries after the first attempt.
    pub max_retries: i32,
    /// Earliest delivery time, Unix ms.
    pub not_before: i64,
    /// When the message was accepted, Unix ms.
    pub created_at: i64,
    /// The publisher's address.
    #[serde(rename = "callerIP", default, skip_serializing_if = "Option::is_none")]
    pub caller_ip: Option<String>,
    /// Its URL group, queue, schedule and flow-control key.
    #[serde(flatten)]
    pub routing: Routing,
    /// `Upstash-Retry-Delay`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    /// Its callbacks.
    #[serde(flatten)]
    pub callbacks: Callbacks,
    /// Timeout of each attempt, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Its labels.
    #[serde(flatten)]
    pub labels: Labels,
    /// Beyond QStash, which forgets finished messages: where the message is now.
    pub state: ShownState,
    /// Attempts made before the current or next one.
    pub retried: i32,
    /// When the next attempt is due (Unix ms), while the message is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_delivery_time: Option<i64>,
    /// The limits of its flow-control key as they are now.
    #[serde(flatten)]
    pub flow_limits: FlowLimits,
}

/// The limits of a flow-control key as they are now, shown with its messages, DLQ entries and schedules.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FlowLimits {
    /// Most deliveries of the key in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i64>,
    /// Most deliveries of the key per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<i64>,
    /// The rate's period, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
}

/// A dead-lettered message: the message and the last response it got.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DlqMessage {
    /// Every field of the message.
    #[serde(flatten)]
    pub message: Message,
    /// The entry's id: pass it to retry or delete the entry.
    pub dlq_id: String,
    /// The HTTP status of the last attempt; 0 when there was no response (timeout, refused connection).
    pub response_status: i32,
    /// The headers of the last response.
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub response_header: HeaderMap,
    /// The last response's body, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// The last response's body in base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_base64: Option<String>,
    /// Why there was no response, when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The workflow run whose step this was (Upstash Workflow's DLQ fields), with the workflow's URL and the
    /// run's creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_created_at: Option<i64>,
}

/// One page of `GET /v2/messages`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MessagePage {
    /// In id (creation) order, oldest first unless `order=latestFirst`.
    pub messages: Vec<Message>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One page of `GET /v2/dlq`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DlqPage {
    /// In id (failure time) order, oldest first unless `order=latestFirst`.
    pub messages: Vec<DlqMessage>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
