//! How the store's read models are shown on the wire: redaction applied, bodies as text or base64,
//! durations in the units each object documents.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::*;
use crate::domain::message::labels_from_column;
use crate::domain::state::{LogState, MessageState};
use crate::domain::{callback, headers, redact};
use crate::store::{DlqRow, EventRow, FlowControlRow, MessageRow, QueueRow, ScheduleRow};

/// The message's headers as the API shows them: `Upstash-Redact-Fields` hides values behind a hash.
fn shown_header(m: &MessageRow) -> HeaderMap {
    let header = headers::from_json(&m.header);
    match redact::from_column(m.redact.as_deref()) {
        Some(r) => r.header(&header),
        None => header,
    }
}

/// `REDACTED:<sha256>` instead of the body, when the message asked for it.
fn redacted_body(m: &MessageRow) -> Option<String> {
    redact::from_column(m.redact.as_deref())
        .filter(|r| r.body && !m.body.is_empty())
        .map(|_| redact::hashed(&m.body))
}

/// (url, header) of a stored callback.
fn callback_of(column: &Option<String>) -> (Option<String>, HeaderMap) {
    match callback::from_column(column.as_deref()) {
        Some(cb) => (Some(cb.url), cb.header),
        None => (None, HeaderMap::new()),
    }
}

/// `label` (the first) and `labels`.
fn labels_of(column: &Option<String>) -> (Option<String>, Vec<String>) {
    let labels = labels_from_column(column.as_deref());
    (labels.first().cloned(), labels)
}

impl FlowLimits {
    /// The limits of a key as it is now.
    pub fn of(key: &FlowControlRow) -> FlowLimits {
        FlowLimits {
            parallelism: key.parallelism.map(i64::from),
            rate: key.rate.map(i64::from),
            period: Some(key.period_ms / 1000),
        }
    }
}

impl Message {
    /// `flow` is the message's flow-control key as it is now, when it has one.
    pub fn of(m: &MessageRow, flow: Option<&FlowControlRow>) -> Message {
        let (callback, callback_header) = callback_of(&m.callback);
        let (failure_callback, failure_callback_header) = callback_of(&m.failure_callback);
        let (label, labels) = labels_of(&m.labels);
        let state = m.state();
        Message {
            message_id: m.id.clone(),
            url: m.url.clone(),
            method: m.method.clone(),
            header: shown_header(m),
            body: redacted_body(m).map_or_else(|| Body::of(&m.body), Body::hidden),
            max_retries: m.max_retries,
            not_before: m.not_before,
            created_at: m.created_at,
            caller_ip: m.caller_ip.clone(),
            topic_name: m.topic_name.clone(),
            endpoint_name: m.endpoint_name.clone(),
            queue_name: m.queue_name.clone(),
            schedule_id: m.schedule_id.clone(),
            flow_control_key: m.flow_control_key.clone(),
            retry_delay_expression: m.retry_delay_expression.clone(),
            callback,
            callback_header,
            failure_callback,
            failure_callback_header,
            timeout: m.timeout_ms,
            label,
            labels,
            state: state.shown(m.attempt, m.cancel_requested),
            retried: (m.attempt - 1).max(0),
            next_delivery_time: (state == MessageState::Pending).then_some(m.due_at),
            flow_limits: flow.map(FlowLimits::of).unwrap_or_default(),
        }
    }
}

impl DlqMessage {
    pub fn of(d: &DlqRow, flow: Option<&FlowControlRow>) -> DlqMessage {
        let (response_body, response_body_base64) =
            super::body::text_or_base64(d.response_body.as_deref().unwrap_or_default());
        DlqMessage {
            message: Message::of(&d.message, flow),
            dlq_id: d.dlq_id.clone(),
            response_status: d.response_status,
            response_header: headers::from_json(d.response_header.as_deref().unwrap_or("{}")),
            response_body,
            response_body_base64,
            error: d.dlq_error.clone(),
        }
    }
}

impl Schedule {
    /// `states` maps message ids to stored states, for `lastScheduleStates`.
    pub fn of(s: &ScheduleRow, states: &std::collections::HashMap<String, String>) -> Schedule {
        let redaction = redact::from_column(s.redact.as_deref());
        let header = headers::from_json(&s.header);
        let header = redaction.as_ref().map_or(header.clone(), |r| r.header(&header));
        let body = match redaction.filter(|r| r.body && !s.body.is_empty()) {
            Some(_) => Body::hidden(redact::hashed(&s.body)),
            None => Body::of(&s.body),
        };
        let flow = crate::domain::flow_control::from_column(s.flow_control.as_deref());
        // A key's period defaults to one second, and messages and DLQ entries show it: so do schedules.
        let flow_limits = flow.as_ref().map_or_else(FlowLimits::default, |flow| FlowLimits {
            parallelism: flow.parallelism.map(i64::from),
            rate: flow.rate.map(i64::from),
            period: Some(flow.period_ms.unwrap_or(crate::domain::flow_control::DEFAULT_PERIOD_MS) / 1000),
        });
        let (callback, callback_header) = callback_of(&s.callback);
        let (failure_callback, failure_callback_header) = callback_of(&s.failure_callback);
        let (label, labels) = labels_of(&s.labels);
        let last_schedule_states = s
            .last_message_ids
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(|id| Some((id.to_string(), schedule_state(states.get(id)?))))
            .collect();
        Schedule {
            schedule_id: s.id.clone(),
            cron: s.cron.clone(),
            destination: s.destination.clone(),
            created_at: s.created_at,
            method: s.method.clone(),
            header,
            body,
            retries: s.max_retries,
            delay: s.delay_ms.map(|ms| ms / 1000),
            timeout: s.timeout_ms.map(|ms| ms / 1000),
            caller_ip: s.caller_ip.clone(),
            caller_ip_alias: s.caller_ip.clone(),
            retry_delay_expression: s.retry_delay_expression.clone(),
            queue_name: s.queue_name.clone(),
            flow_control_key: flow.map(|f| f.key),
            flow_limits,
            callback,
            callback_header,
            failure_callback,
            failure_callback_header,
            is_paused: s.is_paused,
            label,
            labels,
            last_schedule_time: s.last_fire_at,
            next_schedule_time: (!s.is_paused && s.next_fire_at < i64::MAX / 8).then_some(s.next_fire_at),
            last_schedule_states,
        }
    }
}

/// The three values the Python SDK's `ScheduleState` enum accepts.
fn schedule_state(stored: &str) -> ScheduleState {
    match MessageState::parse(stored) {
        Some(MessageState::Delivered) => ScheduleState::Success,
        Some(MessageState::Failed | MessageState::Canceled) => ScheduleState::Fail,
        _ => ScheduleState::InProgress,
    }
}

impl LogEntry {
    /// Bodies are base64 here, unlike in Message.
    pub fn of(e: &EventRow) -> LogEntry {
        let m = &e.message;
        let (label, labels) = labels_of(&m.labels);
        let url_of = |column: &Option<String>| callback::from_column(column.as_deref()).map(|cb| cb.url);
        LogEntry {
            time: e.event_time,
            message_id: m.id.clone(),
            state: LogState::parse(&e.event_state).unwrap_or(LogState::Created),
            url: m.url.clone(),
            method: m.method.clone(),
            max_retries: m.max_retries,
            header: shown_header(m),
            body: (!m.body.is_empty()).then(|| redacted_body(m).unwrap_or_else(|| STANDARD.encode(&m.body))),
            topic_name: m.topic_name.clone(),
            endpoint_name: m.endpoint_name.clone(),
            queue_name: m.queue_name.clone(),
            schedule_id: m.schedule_id.clone(),
            flow_control_key: m.flow_control_key.clone(),
            caller_ip: m.caller_ip.clone(),
            error: e.event_error.clone(),
            retry_delay_expr: m.retry_delay_expression.clone(),
            retry_delay_expression: m.retry_delay_expression.clone(),
            response_status: e.event_status,
            next_delivery_time: e.event_next,
            timeout: m.timeout_ms,
            callback: url_of(&m.callback),
            failure_callback: url_of(&m.failure_callback),
            label,
            labels,
        }
    }
}

impl From<&crate::store::UrlGroup> for UrlGroup {
    fn from(group: &crate::store::UrlGroup) -> UrlGroup {
        UrlGroup {
            name: group.name.clone(),
            created_at: group.created_at,
            updated_at: group.updated_at,
            endpoints: group
                .endpoints
                .iter()
                .map(|e| Endpoint {
                    url: e.url.clone(),
                    name: e.name.clone(),
                })
                .collect(),
        }
    }
}

impl From<&QueueRow> for Queue {
    fn from(q: &QueueRow) -> Queue {
        Queue {
            name: q.name.clone(),
            parallelism: q.parallelism,
            created_at: q.created_at,
            updated_at: q.updated_at,
            lag: q.lag,
            paused: q.paused,
        }
    }
}

impl From<&FlowControlRow> for FlowControlInfo {
    fn from(k: &FlowControlRow) -> FlowControlInfo {
        FlowControlInfo {
            flow_control_key: k.key.clone(),
            wait_list_size: k.waiting,
            parallelism_max: k.parallelism.unwrap_or(0),
            parallelism_count: k.in_flight,
            rate_max: k.rate.unwrap_or(0),
            rate_count: k.rate_count,
            rate_period: k.period_ms / 1000,
            rate_period_start: k.rate_period_start / 1000,
            is_paused: k.paused,
            is_pinned_parallelism: k.pinned_parallelism,
            is_pinned_rate: k.pinned_rate,
        }
    }
}

impl From<&crate::domain::signing::SigningKeys> for SigningKeys {
    fn from(keys: &crate::domain::signing::SigningKeys) -> SigningKeys {
        SigningKeys {
            current: keys.current.clone(),
            next: keys.next.clone(),
        }
    }
}
