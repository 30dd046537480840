//! The callback message (spec §12.5): after each attempt (and once after the final failure) the engine
//! creates an ordinary, signed message to the callback URL whose JSON body reports the attempt.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::callback::Callback;
use super::destination::DestinationUrl;
use super::headers::HeaderMap;
use super::ids::new_message_id;
use super::message::NewMessage;

/// What one attempt of the source message produced, for the callback body.
pub struct AttemptReport<'a> {
    pub status: i32,
    pub header: &'a HeaderMap,
    pub body: &'a [u8],
    pub retried: i32,
    /// Set on the failure callback: the DLQ entry of the failed message.
    pub dlq_id: Option<&'a str>,
}

/// The source message's fields the payload repeats.
pub struct Source<'a> {
    pub id: &'a str,
    pub url: &'a str,
    pub method: &'a str,
    pub header: &'a HeaderMap,
    pub body: &'a [u8],
    pub max_retries: i32,
    pub not_before: i64,
    pub created_at: i64,
    pub topic_name: Option<&'a str>,
    pub endpoint_name: Option<&'a str>,
    pub schedule_id: Option<&'a str>,
    pub caller_ip: Option<&'a str>,
    /// A callback of a queued message takes its place in the queue, so the next message waits for it.
    pub queue_name: Option<&'a str>,
    pub queue_order: Option<i64>,
    /// The workflow run whose step this is: (run id, its creation time), reported with the run's fields.
    pub workflow_run: Option<(&'a str, i64)>,
}

/// The callback message for one attempt: JSON body of spec §12.5, the callback's own settings, and the
/// source message's retry settings unless the callback overrides them.
pub fn message(callback: &Callback, source: &Source<'_>, report: &AttemptReport<'_>, now: i64) -> Option<NewMessage> {
    let mut body = json!({
        "status": report.status,
        "header": report.header,
        "body": STANDARD.encode(report.body),
        "retried": report.retried,
        "maxRetries": source.max_retries,
        "sourceMessageId": source.id,
        "url": source.url,
        "method": source.method,
        "sourceHeader": source.header,
        "sourceBody": STANDARD.encode(source.body),
        "notBefore": source.not_before,
        "createdAt": source.created_at,
    });
    let optional = [
        ("topicName", source.topic_name),
        ("endpointName", source.endpoint_name),
        ("scheduleId", source.schedule_id),
        ("callerIP", source.caller_ip),
        ("dlqId", report.dlq_id),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            body[key] = Value::String(value.to_string());
        }
    }
    if let Some((run_id, created_at)) = source.workflow_run {
        body["workflowRunId"] = Value::String(run_id.to_string());
        body["workflowCreatedAt"] = Value::from(created_at);
    }
    let mut header = callback.header.clone();
    header.insert("Content-Type".into(), vec!["application/json".into()]);
    Some(NewMessage {
        id: new_message_id(),
        url: DestinationUrl::parse(&callback.url).ok()?,
        method: callback.method.clone().unwrap_or_else(|| "POST".into()),
        header,
        body: body.to_string().into(),
        max_retries: callback.retries.unwrap_or(source.max_retries),
        timeout_ms: callback.timeout_ms,
        not_before: now + callback.delay_ms.unwrap_or(0),
        created_at: now,
        caller_ip: source.caller_ip.map(str::to_string),
        labels: Vec::new(),
        schedule_id: None,
        retry_delay_expression: callback.retry_delay.clone(),
        topic_name: None,
        endpoint_name: None,
        queue_name: source.queue_name.map(str::to_string),
        queue_order: source.queue_order,
        flow_control_key: None,
        redact: None,
        callback: None,
        failure_callback: None,
        workflow: None,
    })
}
