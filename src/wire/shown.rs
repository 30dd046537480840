//! How the store's read models are shown on the wire: redaction applied, bodies as text or base64,
//! durations in the units each object documents.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::*;
use crate::domain::flow_control::DEFAULT_PERIOD_MS;
use crate::domain::redact::{self, Redact};
use crate::domain::retry_delay::RetryDelay;
use crate::domain::state::MessageState;
use crate::store::{DlqEntry, FlowControlKey, LogEntry as StoredLogEntry};

/// Headers as the API shows them: `Upstash-Redact-Fields` hides values behind a hash.
fn shown_header(header: &HeaderMap, redaction: Option<&Redact>) -> HeaderMap {
    match redaction {
        Some(r) => r.header(header),
        None => header.clone(),
    }
}

/// `REDACTED:<sha256>` instead of a non-empty body, when redaction asks for it.
fn redacted_body(body: &[u8], redaction: Option<&Redact>) -> Option<String> {
    redaction
        .filter(|r| r.body && !body.is_empty())
        .map(|_| redact::hashed(body))
}

/// (url, header) of a callback.
fn expression(retry_delay: &Option<RetryDelay>) -> Option<String> {
    retry_delay.as_ref().map(|d| d.source().to_string())
}

impl FlowLimits {
    /// The limits of a key as it is now.
    pub fn of(key: &FlowControlKey) -> FlowLimits {
        FlowLimits {
            parallelism: key.parallelism.map(i64::from),
            rate: key.rate.map(i64::from),
            period: Some(key.period_ms / 1000),
        }
    }
}

impl Message {
    /// `flow` is the message's flow-control key as it is now, when it has one.
    pub fn of(m: &crate::store::Message, flow: Option<&FlowControlKey>) -> Message {
        let redaction = m.redact.as_ref();
        Message {
            message_id: m.id.to_string(),
            url: m.url.clone(),
            method: m.method.clone(),
            header: shown_header(&m.header, redaction),
            body: redacted_body(&m.body, redaction).map_or_else(|| Body::of(&m.body), Body::hidden),
            max_retries: m.max_retries,
            not_before: m.not_before,
            created_at: m.created_at,
            caller_ip: m.caller_ip.clone(),
            routing: Routing::of(m),
            retry_delay_expression: expression(&m.retry_delay),
            callbacks: Callbacks::of(&m.callback, &m.failure_callback),
            timeout: m.timeout_ms,
            labels: Labels::of(&m.labels),
            state: m.state.shown(m.attempt, m.cancel_requested),
            retried: (m.attempt - 1).max(0),
            next_delivery_time: (m.state == MessageState::Pending).then_some(m.due_at),
            flow_limits: flow.map(FlowLimits::of).unwrap_or_default(),
        }
    }
}

impl DlqMessage {
    pub fn of(d: &DlqEntry, flow: Option<&FlowControlKey>) -> DlqMessage {
        let letter = &d.dead_letter;
        let (response_body, response_body_base64) = super::body::text_or_base64(&letter.response_body);
        // A step's URL is the workflow's; a call's or a callback's is not.
        let run = d.message.run_of_step().and(d.message.workflow.as_ref());
        DlqMessage {
            message: Message::of(&d.message, flow),
            dlq_id: letter.dlq_id.to_string(),
            response_status: letter.response_status,
            response_header: letter.response_header.clone(),
            response_body,
            response_body_base64,
            error: letter.error.clone(),
            workflow_run_id: run.map(|link| link.run_id.clone()),
            workflow_url: run.map(|_| d.message.url.clone()),
            workflow_created_at: run.map(|link| link.run_created_at),
        }
    }
}

impl Schedule {
    /// `states` holds the states of the messages of its last fire that still exist.
    pub fn of(s: &crate::store::Schedule, states: &std::collections::HashMap<String, MessageState>) -> Schedule {
        let redaction = s.redact.as_ref();
        let body = redacted_body(&s.body, redaction).map_or_else(|| Body::of(&s.body), Body::hidden);
        // A key's period defaults to one second, and messages and DLQ entries show it: so do schedules.
        let flow_limits = s
            .flow_control
            .as_ref()
            .map_or_else(FlowLimits::default, |flow| FlowLimits {
                parallelism: flow.parallelism.map(i64::from),
                rate: flow.rate.map(i64::from),
                period: Some(flow.period_ms.unwrap_or(DEFAULT_PERIOD_MS) / 1000),
            });
        let last_schedule_states = s
            .last_message_ids
            .iter()
            .filter_map(|id| Some((id.clone(), schedule_state(*states.get(id)?))))
            .collect();
        Schedule {
            schedule_id: s.id.to_string(),
            cron: s.cron.expression().to_string(),
            destination: s.destination.as_str().to_string(),
            created_at: s.created_at,
            method: s.method.clone(),
            header: shown_header(&s.header, redaction),
            body,
            retries: s.max_retries,
            delay: s.delay_ms.map(|ms| ms / 1000),
            timeout: s.timeout_ms.map(|ms| ms / 1000),
            caller_ip: s.caller_ip.clone(),
            caller_ip_alias: s.caller_ip.clone(),
            retry_delay_expression: expression(&s.retry_delay),
            queue_name: s.queue_name.clone(),
            flow_control_key: s.flow_control.as_ref().map(|f| f.key.clone()),
            flow_limits,
            callbacks: Callbacks::of(&s.callback, &s.failure_callback),
            is_paused: s.is_paused,
            labels: Labels::of(&s.labels),
            last_schedule_time: s.last_fire_at,
            next_schedule_time: (!s.is_paused && s.next_fire_at < i64::MAX / 8).then_some(s.next_fire_at),
            last_schedule_states,
        }
    }
}

/// The three values the Python SDK's `ScheduleState` enum accepts.
fn schedule_state(state: MessageState) -> ScheduleState {
    match state {
        MessageState::Delivered => ScheduleState::Success,
        MessageState::Failed | MessageState::Canceled => ScheduleState::Fail,
        MessageState::Pending | MessageState::InProgress => ScheduleState::InProgress,
    }
}

impl LogEntry {
    /// Bodies are base64 here, unlike in Message.
    pub fn of(e: &StoredLogEntry) -> LogEntry {
        let m = &e.message;
        let redaction = m.redact.as_ref();
        // What the destination answered and what the callbacks will carry may repeat the message's
        // secrets (an echoed token, a forwarded header): the message's redaction covers them too.
        let response_header = e.response.as_ref().map(|r| shown_header(&r.header, redaction));
        let callback_header = |cb: &Option<crate::domain::callback::Callback>| {
            cb.as_ref()
                .map(|cb| shown_header(&cb.header, redaction))
                .unwrap_or_default()
        };
        LogEntry {
            time: e.time,
            message_id: m.id.to_string(),
            state: e.state,
            url: m.url.clone(),
            method: m.method.clone(),
            max_retries: m.max_retries,
            header: shown_header(&m.header, redaction),
            body: (!m.body.is_empty())
                .then(|| redacted_body(&m.body, redaction).unwrap_or_else(|| STANDARD.encode(&m.body))),
            routing: Routing::of(m),
            caller_ip: m.caller_ip.clone(),
            error: e.error.clone(),
            retry_delay_expr: expression(&m.retry_delay),
            retry_delay_expression: expression(&m.retry_delay),
            response_status: e.response_status,
            response_header: response_header.clone(),
            response_headers: response_header,
            response_body: e
                .response
                .as_ref()
                .map(|r| redacted_body(&r.body, redaction).unwrap_or_else(|| STANDARD.encode(&r.body))),
            next_delivery_time: e.next_delivery_time,
            timeout: m.timeout_ms,
            callback: m.callback.as_ref().map(|cb| cb.url.clone()),
            callback_headers: callback_header(&m.callback),
            failure_callback: m.failure_callback.as_ref().map(|cb| cb.url.clone()),
            failure_callback_headers: callback_header(&m.failure_callback),
            labels: Labels::of(&m.labels),
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
            headers: group.headers.clone(),
        }
    }
}

impl From<&crate::store::Queue> for Queue {
    fn from(q: &crate::store::Queue) -> Queue {
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

impl From<&FlowControlKey> for FlowControlInfo {
    fn from(k: &FlowControlKey) -> FlowControlInfo {
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
