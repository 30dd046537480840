//! A schedule: a cron expression and the message each of its slots creates (spec §5).

use super::cron::{Cron, CronError};
use super::destination::Destination;
use super::headers::HeaderMap;
use super::ids::{is_path_safe, new_schedule_id, ScheduleId};
use super::option_rules::Limits;
use super::options::MessageOptions;

/// A schedule about to be stored (created, or replaced entirely under its id).
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub id: ScheduleId,
    pub cron: Cron,
    pub destination: Destination,
    pub method: String,
    pub header: HeaderMap,
    pub body: Vec<u8>,
    pub max_retries: i32,
    pub delay_ms: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub retry_delay_expression: Option<String>,
    pub callback: Option<crate::domain::callback::Callback>,
    pub failure_callback: Option<crate::domain::callback::Callback>,
    pub labels: Vec<String>,
    pub caller_ip: Option<String>,
    /// `Upstash-Queue-Name`: each fired message is enqueued there.
    pub queue_name: Option<String>,
    pub flow_control: Option<crate::domain::flow_control::FlowControl>,
    pub redact: Option<crate::domain::redact::Redact>,
    pub next_fire_at: i64,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("Upstash-Cron header is required, e.g. Upstash-Cron: 0 9 * * 1")]
    MissingCron,
    #[error(transparent)]
    Cron(#[from] CronError),
    #[error("invalid Upstash-Schedule-Id header: {0:?} may hold only letters, digits, '-', '_' and '.'")]
    InvalidId(String),
    #[error("the cron expression {0:?} never fires")]
    NeverFires(String),
    #[error("invalid Upstash-Delay header: the delay is longer than this server allows")]
    DelayTooLong,
}

/// The settings a request gives; everything else about the schedule is derived.
pub struct ScheduleRequest<'a> {
    pub id: Option<&'a str>,
    pub cron: Option<&'a str>,
    pub destination: Destination,
    pub options: &'a MessageOptions,
    pub body: bytes::Bytes,
    pub caller_ip: Option<String>,
    pub queue_name: Option<String>,
}

impl NewSchedule {
    pub fn build(request: ScheduleRequest<'_>, now: i64, limits: &Limits) -> Result<NewSchedule, ScheduleError> {
        let cron = Cron::parse(request.cron.ok_or(ScheduleError::MissingCron)?)?;
        let id = match request.id.map(str::trim) {
            Some(id) if is_path_safe(id) => ScheduleId::from(id),
            Some(id) => return Err(ScheduleError::InvalidId(id.to_string())),
            None => new_schedule_id(),
        };
        let next_fire_at = cron
            .next_after(now)
            .ok_or_else(|| ScheduleError::NeverFires(cron.expression().to_string()))?;
        let options = request.options;
        // Each fire is delayed by `Upstash-Delay`; a not-before (which a schedule does not use) must not
        // let the delay past the limit.
        if options.delay_ms.is_some_and(|delay| delay > limits.max_delay_ms) {
            return Err(ScheduleError::DelayTooLong);
        }
        Ok(NewSchedule {
            id,
            next_fire_at,
            cron,
            destination: request.destination,
            method: options.method.clone().unwrap_or_else(|| "POST".into()),
            header: options.delivery_headers(),
            body: request.body.to_vec(),
            max_retries: options.retries.unwrap_or(limits.default_retries),
            delay_ms: options.delay_ms,
            timeout_ms: options.timeout_ms,
            retry_delay_expression: options.retry_delay.as_ref().map(|d| d.source().to_string()),
            callback: options.callback.clone(),
            failure_callback: options.failure_callback.clone(),
            labels: options.labels.clone(),
            caller_ip: request.caller_ip,
            queue_name: request.queue_name,
            flow_control: options.flow_control.clone(),
            redact: options.redact.clone(),
            now,
        })
    }
}
