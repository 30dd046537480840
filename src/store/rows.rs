//! The rows both backends read, as sqlx decodes them, and their one conversion into the read models. Private
//! to the store: nothing outside it sees a stored string.

use super::model::{BulkAction, BulkActionKind, BulkActionState};
use super::read_model::{DeadLetter, DlqEntry, LogEntry, LoggedResponse, Message, Schedule};
use super::{Result, StoreError};
use crate::domain::cron::Cron;
use crate::domain::destination::{Destination, DestinationUrl};
use crate::domain::headers::HeaderMap;
use crate::domain::ids::{is_path_safe, BulkActionId, DlqId, MessageId, ScheduleId};
use crate::domain::message::labels_from_column;
use crate::domain::retry_delay::RetryDelay;
use crate::domain::state::{LogState, MessageState};

/// Decodes one row into its read model.
pub(crate) trait Decode {
    type Model;
    fn decode(self) -> Result<Self::Model>;
}

pub(crate) fn decode_all<R: Decode>(rows: Vec<R>) -> Result<Vec<R::Model>> {
    rows.into_iter().map(Decode::decode).collect()
}

pub(crate) fn decode_one<R: Decode>(row: Option<R>) -> Result<Option<R::Model>> {
    row.map(Decode::decode).transpose()
}

/// Claimed messages, decoded. A claim must not be held up by one row that does not decode (every later
/// claim would fail on it too): that row is logged as an error naming it and left leased, so it is neither
/// delivered nor lost (the rescuer makes it due again when its lease ends, and it is reported again).
pub(crate) fn decode_claimed(rows: Vec<MessageRow>) -> Vec<Message> {
    rows.into_iter()
        .filter_map(|row| match row.decode() {
            Ok(message) => Some(message),
            Err(error) => {
                tracing::error!(%error, "claimed message cannot be read; it is not delivered");
                None
            }
        })
        .collect()
}

/// Reads the columns of one row of `table`, naming the row and column of the first that does not decode.
struct Columns<'a> {
    table: &'static str,
    id: &'a str,
}

impl Columns<'_> {
    fn corrupt(&self, column: &'static str, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            id: self.id.to_string(),
            column,
            reason: reason.to_string(),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, column: &'static str, text: &str) -> Result<T> {
        serde_json::from_str(text).map_err(|e| self.corrupt(column, e))
    }

    fn json_opt<T: serde::de::DeserializeOwned>(&self, column: &'static str, text: Option<&str>) -> Result<Option<T>> {
        text.map(|text| self.json(column, text)).transpose()
    }

    fn header(&self, column: &'static str, text: &str) -> Result<HeaderMap> {
        self.json(column, text)
    }

    fn retry_delay(&self, text: Option<&str>) -> Result<Option<RetryDelay>> {
        text.map(|text| RetryDelay::parse(text).map_err(|e| self.corrupt("retry_delay_expression", e)))
            .transpose()
    }

    fn message_state(&self, text: &str) -> Result<MessageState> {
        MessageState::parse(text).ok_or_else(|| self.corrupt("state", format!("unknown state {text:?}")))
    }
}

/// One `messages` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub id: MessageId,
    pub state: String,
    pub attempt: i32,
    pub max_retries: i32,
    pub due_at: i64,
    pub lease_until: Option<i64>,
    pub cancel_requested: bool,
    pub url: String,
    pub url_host: String,
    pub method: String,
    pub header: String,
    pub body: Vec<u8>,
    pub timeout_ms: Option<i64>,
    pub retry_delay_expression: Option<String>,
    pub not_before: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub caller_ip: Option<String>,
    pub labels: Option<String>,
    pub topic_name: Option<String>,
    pub endpoint_name: Option<String>,
    pub queue_name: Option<String>,
    pub schedule_id: Option<ScheduleId>,
    pub flow_control_key: Option<String>,
    pub callback: Option<String>,
    pub failure_callback: Option<String>,
    pub queue_order: Option<i64>,
    pub redact: Option<String>,
    pub workflow: Option<String>,
}

impl Decode for MessageRow {
    type Model = Message;

    fn decode(self) -> Result<Message> {
        let row = Columns {
            table: "messages",
            id: &self.id,
        };
        Ok(Message {
            state: row.message_state(&self.state)?,
            header: row.header("header", &self.header)?,
            retry_delay: row.retry_delay(self.retry_delay_expression.as_deref())?,
            callback: row.json_opt("callback", self.callback.as_deref())?,
            failure_callback: row.json_opt("failure_callback", self.failure_callback.as_deref())?,
            redact: row.json_opt("redact", self.redact.as_deref())?,
            workflow: row.json_opt("workflow", self.workflow.as_deref())?,
            labels: labels_from_column(self.labels.as_deref()),
            id: self.id,
            attempt: self.attempt,
            max_retries: self.max_retries,
            due_at: self.due_at,
            lease_until: self.lease_until,
            cancel_requested: self.cancel_requested,
            url: self.url,
            url_host: self.url_host,
            method: self.method,
            body: self.body,
            timeout_ms: self.timeout_ms,
            not_before: self.not_before,
            created_at: self.created_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
            caller_ip: self.caller_ip,
            topic_name: self.topic_name,
            endpoint_name: self.endpoint_name,
            queue_name: self.queue_name,
            schedule_id: self.schedule_id,
            flow_control_key: self.flow_control_key,
            queue_order: self.queue_order,
        })
    }
}

/// A DLQ entry joined with its message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct DlqRow {
    #[sqlx(flatten)]
    pub message: MessageRow,
    pub dlq_id: DlqId,
    pub response_status: i32,
    pub response_header: Option<String>,
    pub response_body: Option<Vec<u8>>,
    pub dlq_error: Option<String>,
    pub dlq_created_at: i64,
}

impl Decode for DlqRow {
    type Model = DlqEntry;

    fn decode(self) -> Result<DlqEntry> {
        let row = Columns {
            table: "dlq",
            id: &self.dlq_id,
        };
        let response_header = row
            .json_opt("response_header", self.response_header.as_deref())?
            .unwrap_or_default();
        Ok(DlqEntry {
            message: self.message.decode()?,
            dead_letter: DeadLetter {
                dlq_id: self.dlq_id,
                response_status: self.response_status,
                response_header,
                response_body: self.response_body.unwrap_or_default(),
                error: self.dlq_error,
            },
            created_at: self.dlq_created_at,
        })
    }
}

/// One log entry joined with its message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct EventRow {
    #[sqlx(flatten)]
    pub message: MessageRow,
    pub event_id: i64,
    pub event_time: i64,
    pub event_state: String,
    pub event_status: Option<i32>,
    pub event_error: Option<String>,
    pub event_next: Option<i64>,
    /// Set exactly when the attempt got a response (`{}` when it had no headers).
    pub event_response_header: Option<String>,
    pub event_response_body: Option<Vec<u8>>,
}

impl Decode for EventRow {
    type Model = LogEntry;

    fn decode(self) -> Result<LogEntry> {
        let id = self.event_id.to_string();
        let row = Columns {
            table: "message_events",
            id: &id,
        };
        let state = LogState::parse(&self.event_state)
            .ok_or_else(|| row.corrupt("state", format!("unknown state {:?}", self.event_state)))?;
        Ok(LogEntry {
            id: self.event_id,
            time: self.event_time,
            state,
            response_status: self.event_status,
            error: self.event_error,
            next_delivery_time: self.event_next,
            response: row
                .json_opt("response_header", self.event_response_header.as_deref())?
                .map(|header| LoggedResponse {
                    header,
                    body: self.event_response_body.unwrap_or_default(),
                }),
            message: self.message.decode()?,
        })
    }
}

/// One `schedules` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    pub id: ScheduleId,
    pub cron: String,
    pub destination: String,
    pub method: String,
    pub header: String,
    pub body: Vec<u8>,
    pub max_retries: i32,
    pub delay_ms: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub labels: Option<String>,
    pub caller_ip: Option<String>,
    pub is_paused: bool,
    pub next_fire_at: i64,
    pub last_fire_at: Option<i64>,
    pub last_message_ids: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub retry_delay_expression: Option<String>,
    pub callback: Option<String>,
    pub failure_callback: Option<String>,
    pub queue_name: Option<String>,
    pub flow_control: Option<String>,
    pub redact: Option<String>,
}

impl Decode for ScheduleRow {
    type Model = Schedule;

    fn decode(self) -> Result<Schedule> {
        let row = Columns {
            table: "schedules",
            id: &self.id,
        };
        let cron = Cron::parse(&self.cron).map_err(|e| row.corrupt("cron", e))?;
        // A URL group's name is path-safe; a URL (stored as published) never is.
        let destination = if is_path_safe(&self.destination) {
            Destination::UrlGroup(self.destination.clone())
        } else {
            Destination::Url(DestinationUrl::parse(&self.destination).map_err(|e| row.corrupt("destination", e))?)
        };
        let last_message_ids = self
            .last_message_ids
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Schedule {
            cron,
            destination,
            header: row.header("header", &self.header)?,
            retry_delay: row.retry_delay(self.retry_delay_expression.as_deref())?,
            callback: row.json_opt("callback", self.callback.as_deref())?,
            failure_callback: row.json_opt("failure_callback", self.failure_callback.as_deref())?,
            flow_control: row.json_opt("flow_control", self.flow_control.as_deref())?,
            redact: row.json_opt("redact", self.redact.as_deref())?,
            labels: labels_from_column(self.labels.as_deref()),
            last_message_ids,
            id: self.id,
            method: self.method,
            body: self.body,
            max_retries: self.max_retries,
            delay_ms: self.delay_ms,
            timeout_ms: self.timeout_ms,
            caller_ip: self.caller_ip,
            is_paused: self.is_paused,
            next_fire_at: self.next_fire_at,
            last_fire_at: self.last_fire_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            queue_name: self.queue_name,
        })
    }
}

/// One `bulk_actions` row (the lease columns stay in the store).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct BulkActionRow {
    pub id: BulkActionId,
    pub kind: String,
    pub state: String,
    pub filter: String,
    pub total: Option<i64>,
    pub processed: i64,
    pub cursor: Option<MessageId>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

impl Decode for BulkActionRow {
    type Model = BulkAction;

    fn decode(self) -> Result<BulkAction> {
        let row = Columns {
            table: "bulk_actions",
            id: &self.id,
        };
        Ok(BulkAction {
            kind: BulkActionKind::parse(&self.kind)
                .ok_or_else(|| row.corrupt("kind", format!("unknown kind {:?}", self.kind)))?,
            state: BulkActionState::parse(&self.state)
                .ok_or_else(|| row.corrupt("state", format!("unknown state {:?}", self.state)))?,
            filter: row.json("filter", &self.filter)?,
            id: self.id,
            total: self.total,
            processed: self.processed,
            cursor: self.cursor,
            created_at: self.created_at,
            completed_at: self.completed_at,
        })
    }
}

/// One `workflow_runs` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RunRow {
    pub run_id: String,
    pub url: String,
    pub state: String,
    pub config: String,
    pub labels: Option<String>,
    pub caller_ip: Option<String>,
    pub result: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    pub invoker: Option<String>,
}

impl Decode for RunRow {
    type Model = crate::domain::workflow::Run;

    fn decode(self) -> Result<crate::domain::workflow::Run> {
        use crate::domain::workflow::{Run, RunState};
        let row = Columns {
            table: "workflow_runs",
            id: &self.run_id,
        };
        let invoker = row.json_opt("invoker", self.invoker.as_deref())?;
        Ok(Run {
            state: RunState::parse(&self.state)
                .ok_or_else(|| row.corrupt("state", format!("unknown state {:?}", self.state)))?,
            config: row.json("config", &self.config)?,
            labels: labels_from_column(self.labels.as_deref()),
            run_id: self.run_id,
            url: self.url,
            caller_ip: self.caller_ip,
            result: self.result,
            created_at: self.created_at,
            updated_at: self.updated_at,
            completed_at: self.completed_at,
            invoker,
        })
    }
}

/// One `workflow_history` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct HistoryRow {
    pub message_id: String,
    pub call_type: String,
    pub body: Vec<u8>,
    pub created_at: i64,
}

impl Decode for HistoryRow {
    type Model = crate::domain::workflow::history::HistoryEntry;

    fn decode(self) -> Result<Self::Model> {
        Ok(crate::domain::workflow::history::HistoryEntry {
            message_id: self.message_id,
            call_type: self.call_type,
            body: self.body,
            created_at: self.created_at,
        })
    }
}

/// One `workflow_waiters` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct WaiterRow {
    pub id: String,
    pub run_id: String,
    pub event_id: String,
    pub url: String,
    pub timeout_url: String,
    pub timeout: String,
    pub deadline: i64,
    pub step: String,
    pub timeout_headers: Option<String>,
    pub created_at: i64,
}

impl Decode for WaiterRow {
    type Model = crate::domain::workflow::wait::Waiter;

    fn decode(self) -> Result<Self::Model> {
        let row = Columns {
            table: "workflow_waiters",
            id: &self.id,
        };
        Ok(crate::domain::workflow::wait::Waiter {
            step: row.json("step", &self.step)?,
            timeout_headers: row.json_opt("timeout_headers", self.timeout_headers.as_deref())?,
            id: self.id,
            run_id: self.run_id,
            event_id: self.event_id,
            url: self.url,
            timeout_url: self.timeout_url,
            timeout: self.timeout,
            deadline: self.deadline,
            created_at: self.created_at,
        })
    }
}
