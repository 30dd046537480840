//! JSON shapes of spec §4.1 (Message) and §9.7 (DlqMessage). Absent optional fields are omitted, never null.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::domain::message::labels_from_column;
use crate::domain::{headers, redact};
use crate::store::{DlqRow, MessageRow};

fn put_opt(map: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        map.insert(key.into(), json!(v));
    }
}

/// `body` when it is UTF-8, `bodyBase64` otherwise; nothing when empty.
fn put_body(map: &mut Map<String, Value>, text_key: &str, base64_key: &str, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    match std::str::from_utf8(body) {
        Ok(text) => map.insert(text_key.into(), json!(text)),
        Err(_) => map.insert(base64_key.into(), json!(STANDARD.encode(body))),
    };
}

/// `callback`/`failureCallback` and their headers, under the names Python reads (spec §4.1).
fn put_callbacks(map: &mut Map<String, Value>, callback: &Option<String>, failure_callback: &Option<String>) {
    for (column, url_key, header_key) in [
        (callback, "callback", "callbackHeader"),
        (failure_callback, "failureCallback", "failureCallbackHeader"),
    ] {
        if let Some(cb) = crate::domain::callback::from_column(column.as_deref()) {
            map.insert(url_key.into(), json!(cb.url));
            if !cb.header.is_empty() {
                map.insert(header_key.into(), json!(cb.header));
            }
        }
    }
}

pub fn message(m: &MessageRow) -> Value {
    Value::Object(message_fields(m))
}

/// The message's headers as the API shows them: `Upstash-Redact-Fields` hides values behind a hash.
fn shown_header(m: &MessageRow) -> headers::HeaderMap {
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

fn message_fields(m: &MessageRow) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("messageId".into(), json!(m.id));
    map.insert("url".into(), json!(m.url));
    map.insert("method".into(), json!(m.method));
    let header = shown_header(m);
    if !header.is_empty() {
        map.insert("header".into(), json!(header));
    }
    match redacted_body(m) {
        Some(hidden) => {
            map.insert("body".into(), json!(hidden));
        }
        None => put_body(&mut map, "body", "bodyBase64", &m.body),
    }
    map.insert("maxRetries".into(), json!(m.max_retries));
    map.insert("notBefore".into(), json!(m.not_before));
    map.insert("createdAt".into(), json!(m.created_at));
    put_opt(&mut map, "callerIP", &m.caller_ip);
    put_opt(&mut map, "topicName", &m.topic_name);
    put_opt(&mut map, "endpointName", &m.endpoint_name);
    put_opt(&mut map, "queueName", &m.queue_name);
    put_opt(&mut map, "scheduleId", &m.schedule_id);
    put_opt(&mut map, "flowControlKey", &m.flow_control_key);
    put_opt(&mut map, "retryDelayExpression", &m.retry_delay_expression);
    put_callbacks(&mut map, &m.callback, &m.failure_callback);
    if let Some(ms) = m.timeout_ms {
        map.insert("timeout".into(), json!(ms));
    }
    let labels = labels_from_column(m.labels.as_deref());
    if let Some(first) = labels.first() {
        map.insert("label".into(), json!(first));
        map.insert("labels".into(), json!(labels));
    }
    // Beyond QStash, which forgets finished messages: the state, and when the next attempt is due.
    let state = m.state();
    map.insert("state".into(), json!(state.qstash_name(m.attempt, m.cancel_requested)));
    map.insert("retried".into(), json!((m.attempt - 1).max(0)));
    if state == crate::domain::state::MessageState::Pending {
        map.insert("nextDeliveryTime".into(), json!(m.due_at));
    }
    map
}

pub fn dlq_message(d: &DlqRow) -> Value {
    let mut map = message_fields(&d.message);
    map.insert("dlqId".into(), json!(d.dlq_id));
    map.insert("responseStatus".into(), json!(d.response_status));
    let response_header = headers::from_json(d.response_header.as_deref().unwrap_or("{}"));
    if !response_header.is_empty() {
        map.insert("responseHeader".into(), json!(response_header));
    }
    put_body(
        &mut map,
        "responseBody",
        "responseBodyBase64",
        d.response_body.as_deref().unwrap_or_default(),
    );
    put_opt(&mut map, "error", &d.dlq_error);
    Value::Object(map)
}

/// Spec §5.6. `states` maps message ids to stored states, for `lastScheduleStates`.
pub fn schedule(s: &crate::store::ScheduleRow, states: &std::collections::HashMap<String, String>) -> Value {
    let mut map = Map::new();
    map.insert("scheduleId".into(), json!(s.id));
    map.insert("cron".into(), json!(s.cron));
    map.insert("destination".into(), json!(s.destination));
    map.insert("createdAt".into(), json!(s.created_at));
    map.insert("method".into(), json!(s.method));
    let redaction = redact::from_column(s.redact.as_deref());
    let header = headers::from_json(&s.header);
    let header = redaction.as_ref().map_or(header.clone(), |r| r.header(&header));
    if !header.is_empty() {
        map.insert("header".into(), json!(header));
    }
    match redaction.filter(|r| r.body && !s.body.is_empty()) {
        Some(_) => {
            map.insert("body".into(), json!(redact::hashed(&s.body)));
        }
        None => put_body(&mut map, "body", "bodyBase64", &s.body),
    }
    map.insert("retries".into(), json!(s.max_retries));
    if let Some(ms) = s.delay_ms {
        map.insert("delay".into(), json!(ms / 1000));
    }
    if let Some(ms) = s.timeout_ms {
        map.insert("timeout".into(), json!(ms / 1000));
    }
    // Python reads callerIP, the OpenAPI file names callerIp: both (spec §15 #5).
    put_opt(&mut map, "callerIP", &s.caller_ip);
    put_opt(&mut map, "callerIp", &s.caller_ip);
    put_opt(&mut map, "retryDelayExpression", &s.retry_delay_expression);
    put_opt(&mut map, "queueName", &s.queue_name);
    if let Some(flow) = crate::domain::flow_control::from_column(s.flow_control.as_deref()) {
        map.insert("flowControlKey".into(), json!(flow.key));
        let limits = [
            ("parallelism", flow.parallelism.map(i64::from)),
            ("rate", flow.rate.map(i64::from)),
            // A key's period defaults to one second, and messages and DLQ entries show it: so do schedules.
            (
                "period",
                Some(flow.period_ms.unwrap_or(crate::domain::flow_control::DEFAULT_PERIOD_MS) / 1000),
            ),
        ];
        for (key, value) in limits {
            if let Some(value) = value {
                map.insert(key.into(), json!(value));
            }
        }
    }
    put_callbacks(&mut map, &s.callback, &s.failure_callback);
    map.insert("isPaused".into(), json!(s.is_paused));
    let labels = labels_from_column(s.labels.as_deref());
    if let Some(first) = labels.first() {
        map.insert("label".into(), json!(first));
        map.insert("labels".into(), json!(labels));
    }
    if let Some(at) = s.last_fire_at {
        map.insert("lastScheduleTime".into(), json!(at));
    }
    if !s.is_paused && s.next_fire_at < i64::MAX / 8 {
        map.insert("nextScheduleTime".into(), json!(s.next_fire_at));
    }
    let last: Map<String, Value> = s
        .last_message_ids
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| Some((id.to_string(), json!(schedule_state(states.get(id)?)))))
        .collect();
    if !last.is_empty() {
        map.insert("lastScheduleStates".into(), Value::Object(last));
    }
    Value::Object(map)
}

/// The three values the Python SDK's `ScheduleState` enum accepts.
fn schedule_state(stored: &str) -> &'static str {
    match crate::domain::state::MessageState::parse(stored) {
        Some(crate::domain::state::MessageState::Delivered) => "SUCCESS",
        Some(crate::domain::state::MessageState::Failed | crate::domain::state::MessageState::Canceled) => "FAIL",
        _ => "IN_PROGRESS",
    }
}

/// Adds `parallelism`, `rate` and `period` (seconds) of the message's flow-control key, as it is now.
pub fn put_flow_limits(object: &mut Value, key: &crate::store::FlowControlRow) {
    let limits = [
        ("parallelism", key.parallelism.map(i64::from)),
        ("rate", key.rate.map(i64::from)),
        ("period", Some(key.period_ms / 1000)),
    ];
    for (name, value) in limits {
        if let Some(value) = value {
            object[name] = json!(value);
        }
    }
}

/// A log entry (spec §10.3). Bodies are base64 here, unlike in Message.
pub fn event(e: &crate::store::EventRow) -> Value {
    let m = &e.message;
    let mut map = Map::new();
    map.insert("time".into(), json!(e.event_time));
    map.insert("messageId".into(), json!(m.id));
    map.insert("state".into(), json!(e.event_state));
    map.insert("url".into(), json!(m.url));
    map.insert("method".into(), json!(m.method));
    map.insert("maxRetries".into(), json!(m.max_retries));
    let header = shown_header(m);
    if !header.is_empty() {
        map.insert("header".into(), json!(header));
    }
    if !m.body.is_empty() {
        let body = redacted_body(m).unwrap_or_else(|| STANDARD.encode(&m.body));
        map.insert("body".into(), json!(body));
    }
    put_opt(&mut map, "topicName", &m.topic_name);
    put_opt(&mut map, "endpointName", &m.endpoint_name);
    put_opt(&mut map, "queueName", &m.queue_name);
    put_opt(&mut map, "scheduleId", &m.schedule_id);
    put_opt(&mut map, "flowControlKey", &m.flow_control_key);
    put_opt(&mut map, "callerIP", &m.caller_ip);
    put_opt(&mut map, "error", &e.event_error);
    // Python reads retryDelayExpr, the docs name retryDelayExpression: both (spec §15 #4).
    put_opt(&mut map, "retryDelayExpr", &m.retry_delay_expression);
    put_opt(&mut map, "retryDelayExpression", &m.retry_delay_expression);
    if let Some(status) = e.event_status {
        map.insert("responseStatus".into(), json!(status));
    }
    if let Some(at) = e.event_next {
        map.insert("nextDeliveryTime".into(), json!(at));
    }
    if let Some(ms) = m.timeout_ms {
        map.insert("timeout".into(), json!(ms));
    }
    for (column, key) in [(&m.callback, "callback"), (&m.failure_callback, "failureCallback")] {
        if let Some(cb) = crate::domain::callback::from_column(column.as_deref()) {
            map.insert(key.into(), json!(cb.url));
        }
    }
    let labels = labels_from_column(m.labels.as_deref());
    if let Some(first) = labels.first() {
        map.insert("label".into(), json!(first));
        map.insert("labels".into(), json!(labels));
    }
    Value::Object(map)
}
