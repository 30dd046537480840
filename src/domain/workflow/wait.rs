//! `context.waitForEvent` / `waitForWebhook` (protocol §7, §9): a waiter holds the step until a notify
//! for its event or its deadline; whichever comes first resumes the run with the step completed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

/// A step waiting for an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiter {
    pub id: String,
    pub run_id: String,
    pub event_id: String,
    /// Where the notified step is delivered.
    pub url: String,
    /// Where the timed-out step is delivered.
    pub timeout_url: String,
    /// The timeout as the SDK gave it ("30s", or seconds), repeated in the timed-out step.
    pub timeout: String,
    /// Unix ms.
    pub deadline: i64,
    /// The SDK's step, a JSON object.
    pub step: Value,
    /// The wait request's `timeoutHeaders`, shown by `GET /v2/waiters/{eventId}`.
    pub timeout_headers: Option<Value>,
    pub created_at: i64,
}

/// How a wait ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// A notify with this event data.
    Notified(Vec<u8>),
    TimedOut,
}

impl Waiter {
    /// The step that resumes the run, and where it is delivered: the waiter's step with the event data as
    /// `out` (base64 of the raw notify body), or, at the deadline, without `out` and `waitTimeout: true`.
    pub fn resumed(&self, resolution: &Resolution) -> (&str, Vec<u8>) {
        let mut step = match &self.step {
            Value::Object(step) => step.clone(),
            _ => serde_json::Map::new(),
        };
        step.insert("waitEventId".into(), Value::String(self.event_id.clone()));
        let url = match resolution {
            Resolution::Notified(data) => {
                step.insert("out".into(), Value::String(STANDARD.encode(data)));
                step.insert("waitTimeout".into(), Value::Bool(false));
                &self.url
            }
            Resolution::TimedOut => {
                step.remove("out");
                step.insert("timeout".into(), Value::String(self.timeout.clone()));
                step.insert("waitTimeout".into(), Value::Bool(true));
                &self.timeout_url
            }
        };
        (url, Value::Object(step).to_string().into_bytes())
    }
}

/// The message of the step that resumes `waiter`'s run: to the waiter's URL (or, timed out, its timeout
/// URL), under the run's settings. `None` when the stored URL no longer parses (it was checked when the
/// step began to wait).
pub fn resume_message(
    run: &super::Run,
    waiter: &Waiter,
    resolution: &Resolution,
    now: i64,
    limits: &crate::domain::option_rules::Limits,
) -> Option<crate::domain::message::NewMessage> {
    let (url, body) = waiter.resumed(resolution);
    super::step::server_step(run, url, body, now, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter() -> Waiter {
        Waiter {
            id: "wtr_1".into(),
            run_id: "wfr_1".into(),
            event_id: "evt".into(),
            url: "http://127.0.0.1/wf".into(),
            timeout_url: "http://127.0.0.1/timeout".into(),
            timeout: "30s".into(),
            deadline: 0,
            step: serde_json::json!({"stepId": 1, "stepType": "Wait", "stepName": "wait", "concurrent": 1}),
            timeout_headers: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_notify_completes_the_step_with_the_event_data() {
        let waiter = waiter();
        let (url, body) = waiter.resumed(&Resolution::Notified(b"{\"a\":1}".to_vec()));
        let step: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(url, "http://127.0.0.1/wf");
        assert_eq!(step["out"], STANDARD.encode(b"{\"a\":1}"));
        assert_eq!(
            (&step["waitTimeout"], &step["waitEventId"]),
            (&Value::Bool(false), &Value::from("evt"))
        );
        assert_eq!(step["stepName"], "wait");
    }

    #[test]
    fn a_deadline_completes_it_as_timed_out() {
        let waiter = waiter();
        let (url, body) = waiter.resumed(&Resolution::TimedOut);
        let step: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(url, "http://127.0.0.1/timeout");
        assert!(step.get("out").is_none());
        assert_eq!(
            (&step["waitTimeout"], &step["timeout"]),
            (&Value::Bool(true), &Value::from("30s"))
        );
    }
}
