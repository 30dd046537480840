//! `context.invoke` (protocol §4): the SDK triggers the child run with `Upstash-Workflow-Invoke: true`
//! and a body that describes the invoker; when the child ends (finished, failed or canceled), the server
//! resumes the invoker with the invoke step completed by `out = {body, isFailed, isCanceled}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::step::server_step;
use super::Run;
use crate::domain::message::NewMessage;
use crate::domain::option_rules::Limits;

/// The run that invoked a child, kept with the child (the `invoker` column of `workflow_runs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoker {
    pub run_id: String,
    /// Where the invoker's steps are delivered.
    pub url: String,
    pub created_at: i64,
    /// The invoke step, completed with the child's outcome when it ends.
    pub step: Value,
}

/// The body of an invoking trigger, as SDK 1.3.3 sends it. Its `headers` (the invoker's, with the caller's
/// token among them) are not read: the result step goes out under the invoker run's own settings, and the
/// token is never stored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvokeBody {
    /// The child's initial payload, as text.
    #[serde(default)]
    body: Option<String>,
    workflow_run_id: String,
    workflow_run_created_at: i64,
    workflow_url: String,
    step: Value,
}

/// Reads an invoking trigger's body: the invoker, and the child's initial payload.
pub fn read_invoke(body: &[u8]) -> Result<(Invoker, Vec<u8>), String> {
    let invoke: InvokeBody = serde_json::from_slice(body)
        .map_err(|e| format!("the body of an invoke (Upstash-Workflow-Invoke: true) is not the SDK's: {e}"))?;
    if !invoke.step.is_object() {
        return Err("the step of an invoke must be a JSON object (the SDK's step)".into());
    }
    let invoker = Invoker {
        run_id: invoke.workflow_run_id,
        url: invoke.workflow_url,
        created_at: invoke.workflow_run_created_at,
        step: invoke.step,
    };
    Ok((invoker, invoke.body.unwrap_or_default().into_bytes()))
}

/// How an invoked run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildEnd {
    /// It finished with this result (the route's return value as JSON text).
    Finished(Option<Vec<u8>>),
    Failed,
    Canceled,
}

impl Invoker {
    /// The invoke step completed with the child's outcome, as the SDK parses it (`out` is JSON text whose
    /// `body` is the child's result as text).
    pub fn result_step(&self, end: &ChildEnd) -> Vec<u8> {
        let body = match end {
            ChildEnd::Finished(Some(result)) => Value::String(String::from_utf8_lossy(result).into_owned()),
            _ => Value::Null,
        };
        let out = serde_json::json!({
            "body": body,
            "isFailed": *end == ChildEnd::Failed,
            "isCanceled": *end == ChildEnd::Canceled,
        });
        let mut step = match &self.step {
            Value::Object(step) => step.clone(),
            _ => serde_json::Map::new(),
        };
        step.insert("out".into(), Value::String(out.to_string()));
        Value::Object(step).to_string().into_bytes()
    }
}

/// The step that resumes `invoker` (its run `run`) once its child ended, under the invoker run's
/// settings. `None` when the stored URL no longer parses (it was checked when the child was invoked).
pub fn result_message(run: &Run, invoker: &Invoker, end: &ChildEnd, now: i64) -> Option<NewMessage> {
    server_step(
        run,
        &invoker.url,
        invoker.result_step(end),
        now,
        &stored_run_limits(run),
    )
}

/// QStash's default, for a run stored before its trigger resolved its retries.
const UNRESOLVED_RETRIES: i32 = 3;

/// The limits a step built of a stored run's settings is checked against: those settings were checked
/// against the server's limits when the run was triggered, and its retries resolved then.
fn stored_run_limits(run: &Run) -> Limits {
    Limits {
        default_retries: run.config.retries.unwrap_or(UNRESOLVED_RETRIES),
        max_retries: i32::MAX,
        max_delay_ms: i64::MAX,
        max_timeout_ms: i64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoker() -> Invoker {
        let body = serde_json::json!({
            "body": "{\"n\":21}",
            "headers": {"Authorization": ["Bearer secret"]},
            "workflowRunId": "wfr_parent",
            "workflowRunCreatedAt": 5,
            "workflowUrl": "http://127.0.0.1/parent",
            "step": {"stepId": 2, "stepName": "invoke-ok", "stepType": "Invoke", "concurrent": 1},
        });
        let (invoker, payload) = read_invoke(body.to_string().as_bytes()).unwrap();
        assert_eq!(payload, b"{\"n\":21}");
        invoker
    }

    #[test]
    fn an_invoke_body_names_the_invoker_and_the_childs_payload_but_keeps_no_headers() {
        let invoker = invoker();
        assert_eq!((invoker.run_id.as_str(), invoker.created_at), ("wfr_parent", 5));
        assert!(!serde_json::to_string(&invoker).unwrap().contains("secret"));
        assert!(read_invoke(b"{}").is_err());
        assert!(read_invoke(b"not json").is_err());
    }

    #[test]
    fn the_result_step_carries_the_outcome_as_the_sdk_parses_it() {
        let invoker = invoker();
        let step: Value =
            serde_json::from_slice(&invoker.result_step(&ChildEnd::Finished(Some(b"42".to_vec())))).unwrap();
        assert_eq!(step["stepName"], "invoke-ok");
        let out: Value = serde_json::from_str(step["out"].as_str().unwrap()).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"body": "42", "isFailed": false, "isCanceled": false})
        );
        let step: Value = serde_json::from_slice(&invoker.result_step(&ChildEnd::Failed)).unwrap();
        let out: Value = serde_json::from_str(step["out"].as_str().unwrap()).unwrap();
        assert_eq!((&out["isFailed"], &out["body"]), (&Value::Bool(true), &Value::Null));
    }
}
