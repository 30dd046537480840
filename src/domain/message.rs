//! A message as the engine stores it: what to send, where, and with which retry policy.

use super::callback::Callback;
use super::destination::DestinationUrl;
use super::headers::HeaderMap;
use super::ids::{new_message_id, MessageId, ScheduleId};
use super::option_rules::{InvalidOption, Limits};
use super::options::MessageOptions;
use super::redact::Redact;
use super::workflow_link::WorkflowLink;

/// A message about to be stored. Built only through [`NewMessage::build`], so every stored message has
/// passed option parsing and limits.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    pub url: DestinationUrl,
    pub method: String,
    pub header: HeaderMap,
    /// Shared, not copied, between the messages of a URL-group fan-out.
    pub body: bytes::Bytes,
    pub max_retries: i32,
    pub timeout_ms: Option<i64>,
    /// Earliest delivery time (Unix ms); also the first due time.
    pub not_before: i64,
    pub created_at: i64,
    pub caller_ip: Option<String>,
    pub labels: Vec<String>,
    /// The schedule that fired it, if any.
    pub schedule_id: Option<ScheduleId>,
    /// `Upstash-Retry-Delay`, as given.
    pub retry_delay_expression: Option<String>,
    /// The URL group it was published to, and the endpoint's name there.
    pub topic_name: Option<String>,
    pub endpoint_name: Option<String>,
    /// The queue it waits in (FIFO, spec §7), and its place there when it must share its source's (callbacks).
    pub queue_name: Option<String>,
    pub queue_order: Option<i64>,
    /// The flow-control key whose limits it waits for (spec §8).
    pub flow_control_key: Option<String>,
    /// What the API and logs hide (`Upstash-Redact-Fields`).
    pub redact: Option<Redact>,
    /// Called after each attempt, and once after the final failure (spec §12.5).
    pub callback: Option<Callback>,
    pub failure_callback: Option<Callback>,
    /// The workflow run it belongs to, and its part in it.
    pub workflow: Option<WorkflowLink>,
}

impl NewMessage {
    pub fn build(
        url: DestinationUrl,
        options: &MessageOptions,
        body: bytes::Bytes,
        caller_ip: Option<String>,
        now_ms: i64,
        limits: &Limits,
    ) -> Result<Self, InvalidOption> {
        Ok(NewMessage {
            id: new_message_id(),
            not_before: options.first_due_ms(now_ms, limits)?,
            url,
            method: options.method.clone().unwrap_or_else(|| "POST".into()),
            header: options.delivery_headers(),
            body,
            max_retries: options.retries.unwrap_or(limits.default_retries),
            timeout_ms: options.timeout_ms,
            created_at: now_ms,
            caller_ip,
            labels: options.labels.clone(),
            schedule_id: None,
            retry_delay_expression: options.retry_delay.as_ref().map(|d| d.source().to_string()),
            topic_name: None,
            endpoint_name: None,
            queue_name: None,
            queue_order: None,
            flow_control_key: options.flow_control.as_ref().map(|f| f.key.clone()),
            redact: options.redact.clone(),
            callback: options.callback.clone(),
            failure_callback: options.failure_callback.clone(),
            workflow: None,
        })
    }

    /// The same message for each endpoint of a URL group: one message per endpoint, each with its own id.
    pub fn fan_out(&self, group: &str, endpoints: &[(DestinationUrl, Option<String>)]) -> Vec<NewMessage> {
        endpoints
            .iter()
            .map(|(url, name)| NewMessage {
                id: new_message_id(),
                url: url.clone(),
                topic_name: Some(group.to_string()),
                endpoint_name: name.clone(),
                ..self.clone()
            })
            .collect()
    }

    /// `,a,b,` so a single label is matched with one substring search in either database.
    pub fn labels_column(&self) -> Option<String> {
        labels_column(&self.labels)
    }
}

pub fn labels_column(labels: &[String]) -> Option<String> {
    (!labels.is_empty()).then(|| format!(",{},", labels.join(",")))
}

/// Inverse of [`labels_column`].
pub fn labels_from_column(column: Option<&str>) -> Vec<String> {
    column
        .unwrap_or_default()
        .split(',')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_their_column() {
        let labels = vec!["a".to_string(), "b.c".to_string()];
        let column = labels_column(&labels);
        assert_eq!(column.as_deref(), Some(",a,b.c,"));
        assert_eq!(labels_from_column(column.as_deref()), labels);
        assert_eq!(labels_column(&[]), None);
        assert!(labels_from_column(None).is_empty());
    }
}
