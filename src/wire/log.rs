//! LogEntry and the log page (spec §10), "events" on the wire.

use super::{HeaderMap, Labels, Routing};
use crate::domain::state::LogState;

/// One transition of one message.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// When it happened, Unix ms.
    pub time: i64,
    /// The message the entry is about.
    pub message_id: String,
    /// The transition: `CREATED`, `ACTIVE`, `RETRY`, `ERROR`, `DELIVERED`, `FAILED`, `CANCEL_REQUESTED` or `CANCELED`.
    pub state: LogState,
    /// The destination URL (for a URL-group message, the endpoint's).
    pub url: String,
    /// The HTTP method of the delivery.
    pub method: String,
    /// Retries after the first attempt.
    pub max_retries: i32,
    /// The message's headers; redacted values show as `REDACTED:<sha256>`.
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub header: HeaderMap,
    /// The message body in base64 (unlike Message), or `REDACTED:<sha256>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The message's URL group, queue, schedule and flow-control key.
    #[serde(flatten)]
    pub routing: Routing,
    /// The publisher's address.
    #[serde(rename = "callerIP", default, skip_serializing_if = "Option::is_none")]
    pub caller_ip: Option<String>,
    /// Why the attempt failed (`ERROR`, `FAILED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The retry delay expression under the name Python reads (spec §15 #4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_expr: Option<String>,
    /// The same, under the name the docs give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    /// The attempt's HTTP status (`ERROR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<i32>,
    /// The headers the destination answered with (`ERROR` entries of attempts that got a response), under
    /// the name Python reads (spec §15 #4); those that fit in `--log-response-bytes`, redacted like the
    /// message's headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header: Option<HeaderMap>,
    /// The same, under the name the docs give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<HeaderMap>,
    /// The body the destination answered with, in base64 like `body`, cut to `--log-response-bytes`
    /// (4 KiB by default); `REDACTED:<sha256>` when the message redacts its body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// When the next attempt is due, Unix ms (`ERROR`, `RETRY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_delivery_time: Option<i64>,
    /// Timeout of each attempt, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Called after each attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Headers the callback request carries; redacted like the message's headers.
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub callback_headers: HeaderMap,
    /// Called once after the final failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    /// Headers the failure callback request carries; redacted like the message's headers.
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub failure_callback_headers: HeaderMap,
    /// Its labels.
    #[serde(flatten)]
    pub labels: Labels,
}

impl LogEntry {
    /// `responseBody` as text for people to read (the CLI and console): decoded from base64, invalid UTF-8
    /// shown lossily; a redacted body as its `REDACTED:<sha256>`.
    pub fn response_text(&self) -> Option<String> {
        use base64::Engine;
        let body = self.response_body.as_deref()?;
        match base64::engine::general_purpose::STANDARD.decode(body) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(_) => Some(body.to_string()),
        }
    }
}

/// One page of log entries. `GET /v2/logs` holds the same entries under `logs` as well.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LogPage {
    /// Newest first unless `order=earliestFirst`.
    pub events: Vec<LogEntry>,
    /// The same entries (`GET /v2/logs` only, whose documented key this is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<LogEntry>>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
