//! The workflow headers of a publish (protocol §1, §6): read natively and removed, so that what is left
//! is an ordinary publish for `MessageOptions::from_headers`.
//!
//! The SDK forwards workflow metadata as `Upstash-Forward-Upstash-*` (and, for callbacks and failure
//! callbacks, `Upstash-[Failure-]Callback-Forward-Upstash-Workflow-*`), and its plain trigger forwards
//! every header it received (`host`, `content-length`, a QStash delivery's `upstash-signature`, …). Plain
//! publishes refuse such names, as they would forge delivery metadata. A workflow publish does not open
//! them: the names the protocol needs are consumed here and set again by the server from what it knows
//! (the run id from the run, the SDK version as the protocol's); the rest of the forwarded `Upstash-*`,
//! `webhook-*` and connection headers are dropped, never delivered.

use super::{Features, SDK_VERSION};
use crate::domain::headers::{canonical_name, HeaderMap};
use crate::domain::ids::is_path_safe;
use crate::domain::option_rules::{invalid, not_forwardable, InvalidOption};

/// The `Upstash-Workflow-CallType` of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Step,
    /// `context.call`: the request to the third party.
    ToCallback,
    FromCallback,
    FailureCall,
}

impl CallType {
    fn parse(value: &str) -> Result<CallType, InvalidOption> {
        match value {
            "step" => Ok(CallType::Step),
            "toCallback" => Ok(CallType::ToCallback),
            "fromCallback" => Ok(CallType::FromCallback),
            "failureCall" => Ok(CallType::FailureCall),
            _ => Err(invalid(
                "Upstash-Workflow-CallType",
                format!("{value:?} is not one of step, toCallback, fromCallback, failureCall"),
            )),
        }
    }

    /// The spelling kept in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Step => "step",
            CallType::ToCallback => "toCallback",
            CallType::FromCallback => "fromCallback",
            CallType::FailureCall => "failureCall",
        }
    }
}

/// What the workflow headers of one publish say.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowPublish {
    /// `Upstash-Workflow-Init: true` starts the run; `false` appends to it.
    pub init: bool,
    pub run_id: String,
    pub call_type: CallType,
    pub features: Features,
    /// The SDK forwarded `Upstash-Workflow-Sdk-Version: 1` to its deliveries (every SDK-started run).
    pub sdk: bool,
    /// `Upstash-Workflow-Invoke: true`: a child run started by `context.invoke`.
    pub invoke: bool,
    /// `Upstash-Forward-Upstash-Workflow-Invoke-Count`: how deep in invokes the run is.
    pub invoke_count: u32,
    /// `Upstash-Workflow-Trigger-By-Sdk: true`: the SDK re-triggers a run started without it.
    pub trigger_by_sdk: bool,
    /// A start without the SDK (`POST /v2/trigger`): set by the server, never read from a header.
    pub unknown_sdk: bool,
    /// The workflow headers the call's callback must carry (`Upstash-Workflow-Callback`, `-StepId`, …).
    pub callback_header: HeaderMap,
    /// The workflow headers the failure callback must carry (`Upstash-Workflow-Is-Failure`, …).
    pub failure_header: HeaderMap,
}

/// Whether a publish belongs to a workflow run.
pub fn is_workflow_publish(headers: &http::HeaderMap) -> bool {
    headers.contains_key("upstash-workflow-runid") || headers.contains_key("upstash-workflow-init")
}

/// Longest run id accepted (ids go into URLs and every delivery).
const MAX_RUN_ID: usize = 256;

impl WorkflowPublish {
    /// Reads the workflow headers and removes them, with the forwarded headers no delivery may carry.
    pub fn take(headers: &mut http::HeaderMap) -> Result<WorkflowPublish, InvalidOption> {
        let mut init = None;
        let mut run_id = None;
        let mut publish = WorkflowPublish {
            init: false,
            run_id: String::new(),
            call_type: CallType::Step,
            features: Features::default(),
            sdk: false,
            invoke: false,
            invoke_count: 0,
            trigger_by_sdk: false,
            unknown_sdk: false,
            callback_header: HeaderMap::new(),
            failure_header: HeaderMap::new(),
        };
        let mut kept = http::HeaderMap::with_capacity(headers.len());
        for (name, value) in std::mem::take(headers).into_iter().scan(None, carry_name) {
            let text = || {
                value
                    .to_str()
                    .map(str::trim)
                    .map_err(|_| invalid(&canonical_name(name.as_str()), "the value is not visible ASCII text"))
            };
            let lower = name.as_str();
            if let Some(option) = lower.strip_prefix("upstash-workflow-") {
                match option {
                    "init" => init = Some(flag("Upstash-Workflow-Init", text()?)?),
                    "runid" => run_id = Some(text()?.to_string()),
                    "calltype" => publish.call_type = CallType::parse(text()?)?,
                    "invoke" => publish.invoke = flag("Upstash-Workflow-Invoke", text()?)?,
                    "trigger-by-sdk" => publish.trigger_by_sdk = flag("Upstash-Workflow-Trigger-By-Sdk", text()?)?,
                    // The URL is the destination; the SDK's own version is not the run's.
                    _ => {}
                }
            } else if lower == "upstash-feature-set" {
                publish.features = Features::parse(text()?);
            } else if let Some(forwarded) = lower.strip_prefix("upstash-forward-") {
                match forwarded {
                    "upstash-workflow-sdk-version" => publish.sdk = text()? == SDK_VERSION,
                    "upstash-workflow-invoke-count" => {
                        publish.invoke_count = text()?
                            .parse()
                            .map_err(|_| invalid(&canonical_name(lower), "expected a whole number of invokes"))?;
                    }
                    _ if not_forwardable(forwarded).is_none() => {
                        kept.append(name, value);
                    }
                    // Label, signature, message id, connection headers…: set by the server or never sent.
                    _ => {}
                }
            } else if let Some((rest, saved)) = callback_option(lower, &mut publish) {
                if let Some(forwarded) = rest.strip_prefix("forward-") {
                    if forwarded.starts_with("upstash-workflow-") {
                        saved
                            .entry(canonical_name(forwarded))
                            .or_default()
                            .push(text()?.to_string());
                    } else if not_forwardable(forwarded).is_none() {
                        kept.append(name, value);
                    }
                } else if !(rest.starts_with("workflow-")
                    || rest == "feature-set"
                    || rest.starts_with("failure-callback"))
                {
                    // A setting of the callback itself (retries, retry delay, timeout, …). Its run id,
                    // URL, call type and features are the run's; a callback's own failure callback
                    // (Python) is not kept.
                    kept.append(name, value);
                }
            } else {
                kept.append(name, value);
            }
        }
        *headers = kept;
        publish.init =
            init.ok_or_else(|| invalid("Upstash-Workflow-Init", "a workflow publish must say true or false"))?;
        let run_id = run_id.ok_or_else(|| invalid("Upstash-Workflow-RunId", "a workflow publish must name its run"))?;
        if run_id.len() > MAX_RUN_ID || !is_path_safe(&run_id) {
            return Err(invalid(
                "Upstash-Workflow-RunId",
                "run ids may hold only letters, digits, '-', '_' and '.' (up to 256 characters)",
            ));
        }
        publish.run_id = run_id;
        Ok(publish)
    }
}

/// `http::HeaderMap::into_iter` names only the first value of each name; this names every value.
fn carry_name(
    last: &mut Option<http::HeaderName>,
    (name, value): (Option<http::HeaderName>, http::HeaderValue),
) -> Option<(http::HeaderName, http::HeaderValue)> {
    if let Some(name) = name {
        *last = Some(name);
    }
    last.clone().map(|name| (name, value))
}

/// For `Upstash-Callback-<rest>` and `Upstash-Failure-Callback-<rest>`: the rest, and where that kind's
/// workflow headers are kept.
fn callback_option<'a, 'p>(lower: &'a str, publish: &'p mut WorkflowPublish) -> Option<(&'a str, &'p mut HeaderMap)> {
    if let Some(rest) = lower.strip_prefix("upstash-callback-") {
        Some((rest, &mut publish.callback_header))
    } else {
        lower
            .strip_prefix("upstash-failure-callback-")
            .map(|rest| (rest, &mut publish.failure_header))
    }
}

fn flag(header: &str, value: &str) -> Result<bool, InvalidOption> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(header, "expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_trigger_is_read_and_its_metadata_never_left_to_forward() {
        let mut h = headers(&[
            ("upstash-workflow-init", "true"),
            ("upstash-workflow-runid", "wfr_abc"),
            ("upstash-workflow-url", "http://127.0.0.1:3000/wf"),
            ("upstash-workflow-sdk-version", "1"),
            (
                "upstash-feature-set",
                "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig",
            ),
            ("upstash-forward-upstash-workflow-sdk-version", "1"),
            ("upstash-forward-upstash-label", "nightly"),
            ("upstash-forward-upstash-signature", "forged"),
            ("upstash-forward-content-length", "12"),
            ("upstash-forward-host", "127.0.0.1:3000"),
            ("upstash-forward-x-user", "u1"),
            ("upstash-retries", "2"),
            ("upstash-failure-callback", "http://127.0.0.1:3000/wf"),
            ("upstash-failure-callback-workflow-runid", "wfr_abc"),
            ("upstash-failure-callback-feature-set", "LazyFetch"),
            ("upstash-failure-callback-forward-upstash-workflow-is-failure", "true"),
            ("upstash-failure-callback-forward-upstash-message-id", "forged"),
            ("upstash-failure-callback-forward-x-user", "u1"),
            ("upstash-failure-callback-retries", "1"),
        ]);
        let publish = WorkflowPublish::take(&mut h).unwrap();
        assert!(publish.init && publish.sdk);
        assert_eq!(publish.run_id, "wfr_abc");
        assert!(publish.features.trigger_on_config && publish.features.detect_trigger);
        assert_eq!(publish.failure_header["Upstash-Workflow-Is-Failure"], vec!["true"]);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            left,
            [
                "upstash-forward-x-user",
                "upstash-retries",
                "upstash-failure-callback",
                "upstash-failure-callback-forward-x-user",
                "upstash-failure-callback-retries"
            ]
        );
    }

    #[test]
    fn a_call_keeps_its_callback_settings_and_workflow_headers() {
        let mut h = headers(&[
            ("upstash-workflow-init", "false"),
            ("upstash-workflow-runid", "wfr_abc"),
            ("upstash-workflow-calltype", "toCallback"),
            ("upstash-callback", "http://127.0.0.1:3000/wf"),
            ("upstash-callback-workflow-calltype", "fromCallback"),
            ("upstash-callback-forward-upstash-workflow-callback", "true"),
            ("upstash-callback-forward-upstash-workflow-stepid", "2"),
            ("upstash-callback-retries", "3"),
            ("upstash-callback-failure-callback", "http://127.0.0.1:3000/wf"),
        ]);
        let publish = WorkflowPublish::take(&mut h).unwrap();
        assert!(!publish.init);
        assert_eq!(publish.call_type, CallType::ToCallback);
        assert_eq!(publish.callback_header["Upstash-Workflow-Callback"], vec!["true"]);
        assert_eq!(publish.callback_header["Upstash-Workflow-Stepid"], vec!["2"]);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["upstash-callback", "upstash-callback-retries"]);
    }

    #[test]
    fn bad_workflow_headers_name_themselves() {
        for (pairs, header) in [
            (vec![("upstash-workflow-runid", "wfr_a")], "Upstash-Workflow-Init"),
            (vec![("upstash-workflow-init", "true")], "Upstash-Workflow-RunId"),
            (
                vec![("upstash-workflow-init", "maybe"), ("upstash-workflow-runid", "wfr_a")],
                "Upstash-Workflow-Init",
            ),
            (
                vec![("upstash-workflow-init", "true"), ("upstash-workflow-runid", "a/b")],
                "Upstash-Workflow-RunId",
            ),
            (
                vec![
                    ("upstash-workflow-init", "false"),
                    ("upstash-workflow-runid", "wfr_a"),
                    ("upstash-workflow-calltype", "other"),
                ],
                "Upstash-Workflow-CallType",
            ),
        ] {
            let err = WorkflowPublish::take(&mut headers(&pairs)).unwrap_err();
            assert_eq!(err.header, header);
        }
    }
}
