//! What the store's reads hand out: stored rows decoded once into domain values (states as enums, headers
//! as header maps, callbacks, flow control, retry delays and redaction parsed). A value that does not decode
//! is a [`StoreError::Corrupt`](super::StoreError::Corrupt) naming its row, never a default.

use crate::domain::callback::Callback;
use crate::domain::cron::Cron;
use crate::domain::destination::Destination;
use crate::domain::flow_control::FlowControl;
use crate::domain::headers::HeaderMap;
use crate::domain::ids::{DlqId, MessageId, ScheduleId};
use crate::domain::redact::Redact;
use crate::domain::retry_delay::RetryDelay;
use crate::domain::state::{LogState, MessageState};
use crate::domain::workflow::{Role, WorkflowLink};

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub state: MessageState,
    /// Attempts started so far (a claim counts one).
    pub attempt: i32,
    pub max_retries: i32,
    pub due_at: i64,
    pub lease_until: Option<i64>,
    pub cancel_requested: bool,
    /// The destination URL as published (for a URL-group message, the endpoint's).
    pub url: String,
    /// The host the URL names, as the URL parser writes it (the fairness and circuit-breaker key).
    pub url_host: String,
    pub method: String,
    pub header: HeaderMap,
    pub body: Vec<u8>,
    pub timeout_ms: Option<i64>,
    /// `Upstash-Retry-Delay`, parsed once.
    pub retry_delay: Option<RetryDelay>,
    pub not_before: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub caller_ip: Option<String>,
    pub labels: Vec<String>,
    pub topic_name: Option<String>,
    pub endpoint_name: Option<String>,
    pub queue_name: Option<String>,
    pub schedule_id: Option<ScheduleId>,
    pub flow_control_key: Option<String>,
    pub callback: Option<Callback>,
    pub failure_callback: Option<Callback>,
    pub queue_order: Option<i64>,
    pub redact: Option<Redact>,
    /// The workflow run it belongs to, and its part in it.
    pub workflow: Option<WorkflowLink>,
}

impl Message {
    /// A message in flight to `host` with nothing optional set, for unit tests of the worker.
    #[cfg(test)]
    pub(crate) fn in_flight_to(id: &str, host: &str) -> Message {
        Message {
            id: id.into(),
            state: MessageState::InProgress,
            attempt: 1,
            max_retries: 3,
            due_at: 0,
            lease_until: None,
            cancel_requested: false,
            url: format!("https://{host}/"),
            url_host: host.into(),
            method: "POST".into(),
            header: HeaderMap::new(),
            body: Vec::new(),
            timeout_ms: None,
            retry_delay: None,
            not_before: 0,
            created_at: 0,
            updated_at: 0,
            finished_at: None,
            caller_ip: None,
            labels: Vec::new(),
            topic_name: None,
            endpoint_name: None,
            queue_name: None,
            schedule_id: None,
            flow_control_key: None,
            callback: None,
            failure_callback: None,
            queue_order: None,
            redact: None,
            workflow: None,
        }
    }

    /// The run whose step this is: its final failure fails the run.
    pub fn run_of_step(&self) -> Option<&str> {
        self.workflow
            .as_ref()
            .filter(|link| link.role == Role::Step)
            .map(|link| link.run_id.as_str())
    }

    /// Whether its end may let another message go (it is in a queue or under flow control).
    pub fn is_queued(&self) -> bool {
        self.queue_name.is_some() || self.flow_control_key.is_some()
    }
}

/// The last response of a finally failed message: what a completion writes to the DLQ, and what a DLQ
/// entry holds besides its message.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub dlq_id: DlqId,
    /// 0 when there was no HTTP response.
    pub response_status: i32,
    pub response_header: HeaderMap,
    pub response_body: Vec<u8>,
    /// Why there was no response (connection refused, timeout), when there was none.
    pub error: Option<String>,
}

/// A DLQ entry with its message.
#[derive(Debug, Clone, PartialEq)]
pub struct DlqEntry {
    pub message: Message,
    pub dead_letter: DeadLetter,
    pub created_at: i64,
}

/// One log entry (a transition of a message) with its message as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Increasing: the cursor of the log.
    pub id: i64,
    pub time: i64,
    pub state: LogState,
    /// The attempt's HTTP status.
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub next_delivery_time: Option<i64>,
    /// The destination's answer (`ERROR` entries of attempts that got one).
    pub response: Option<LoggedResponse>,
    pub message: Message,
}

/// What a failed attempt's destination answered, as its ERROR log entry keeps it: the headers that fit in
/// `--log-response-bytes` and the body cut to it (both cut by the worker, before the store).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoggedResponse {
    pub header: HeaderMap,
    pub body: Vec<u8>,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: ScheduleId,
    pub cron: Cron,
    pub destination: Destination,
    pub method: String,
    pub header: HeaderMap,
    pub body: Vec<u8>,
    pub max_retries: i32,
    pub delay_ms: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub labels: Vec<String>,
    pub caller_ip: Option<String>,
    pub is_paused: bool,
    /// The slot it fires next; far in the future when its cron never fires again.
    pub next_fire_at: i64,
    pub last_fire_at: Option<i64>,
    /// The messages its last fire created.
    pub last_message_ids: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub retry_delay: Option<RetryDelay>,
    pub callback: Option<Callback>,
    pub failure_callback: Option<Callback>,
    pub queue_name: Option<String>,
    pub flow_control: Option<FlowControl>,
    pub redact: Option<Redact>,
}

/// A queue with its lag (messages not yet delivered or dead-lettered). Plain columns: decoded by sqlx.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Queue {
    pub name: String,
    pub parallelism: i32,
    pub paused: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub lag: i64,
}

/// A flow-control key, its limits and its use now. Plain columns: decoded by sqlx.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FlowControlKey {
    pub key: String,
    pub parallelism: Option<i32>,
    pub rate: Option<i32>,
    pub period_ms: i64,
    pub paused: bool,
    pub pinned_parallelism: bool,
    pub pinned_rate: bool,
    pub rate_count: i32,
    pub rate_period_start: i64,
    /// Messages waiting (pending), and in flight.
    pub waiting: i64,
    pub in_flight: i64,
}
