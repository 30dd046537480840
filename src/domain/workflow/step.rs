//! The messages of a run's steps: delivered to the workflow endpoint with the run's history, under the
//! trigger's settings where the publish sets none (`WF_TriggerOnConfig`).

use super::{RunConfig, WorkflowLink};
use crate::domain::destination::DestinationUrl;
use crate::domain::message::NewMessage;
use crate::domain::option_rules::{InvalidOption, Limits};
use crate::domain::options::MessageOptions;

/// The run a step message goes into: its settings, labels, and the step's link to it.
pub struct StepOf<'a> {
    pub config: &'a RunConfig,
    pub labels: &'a [String],
    pub link: WorkflowLink,
}

/// A step message to `url` with `body`: the publish's own options win over the run's settings; the
/// delivery carries the run's headers (user headers, run id, creation time, SDK version, label).
pub fn step_message(
    run: StepOf<'_>,
    url: DestinationUrl,
    options: &MessageOptions,
    body: bytes::Bytes,
    caller_ip: Option<String>,
    now: i64,
    limits: &Limits,
) -> Result<NewMessage, InvalidOption> {
    let config = run.config;
    let mut message = NewMessage::build(url, options, body, caller_ip, now, limits)?;
    message.max_retries = options.retries.or(config.retries).unwrap_or(limits.default_retries);
    message.retry_delay_expression = message.retry_delay_expression.or_else(|| config.retry_delay.clone());
    message.timeout_ms = options.timeout_ms.or(config.timeout_ms);
    message.flow_control_key = message.flow_control_key.or_else(|| config.flow_control_key.clone());
    message.redact = message.redact.or_else(|| config.redact.clone());
    message.labels = run.labels.to_vec();
    let mut header = config.header.clone();
    header.extend(message.header);
    message.header = header;
    message.callback = None;
    message.failure_callback = config.failure_callback.clone();
    message.workflow = Some(run.link);
    Ok(message)
}

/// A step the server itself adds to `run` (the outcome of a wait or of an invoked child): JSON `body` to
/// `url` under the run's settings. `None` when the stored URL no longer parses (it was checked when it was
/// stored).
pub fn server_step(run: &super::Run, url: &str, body: Vec<u8>, now: i64, limits: &Limits) -> Option<NewMessage> {
    let url = DestinationUrl::parse(url).ok()?;
    let options = MessageOptions {
        content_type: Some("application/json".into()),
        ..Default::default()
    };
    let of = StepOf {
        config: &run.config,
        labels: &run.labels,
        link: run.step_link(),
    };
    step_message(of, url, &options, body.into(), None, now, limits).ok()
}
