//! Publishes that belong to a workflow run (protocol §1–§6), from `POST /v2/batch` items and
//! `POST /v2/publish/{url}`: `Upstash-Workflow-Init: true` creates the run (a run id seen before is a
//! duplicate, answered `deduplicated: true`), `false` appends to it. Steps take the trigger's settings
//! where they set none (`WF_TriggerOnConfig`), and every delivery of the run carries its headers.

use super::super::error::ApiError;
use crate::domain::callback::Callback;
use crate::domain::destination::{Destination, DestinationUrl};
use crate::domain::headers::{canonical_name, HeaderMap};
use crate::domain::message::NewMessage;
use crate::domain::options::MessageOptions;
use crate::domain::workflow::invoke::{read_invoke, Invoker};
use crate::domain::workflow::publish::{CallType, WorkflowPublish};
use crate::domain::workflow::step::{step_message, StepOf};
use crate::domain::workflow::{NewRun, Role, Run, RunConfig, RunState, WorkflowLink, SDK_VERSION};
use crate::metrics::AcceptedKind;
use crate::state::AppState;
use crate::store::Appended;
use crate::wire::Published;

/// A workflow publish, validated, not yet stored.
pub struct Prepared {
    message: NewMessage,
    flow: Option<crate::domain::flow_control::FlowControl>,
    action: Action,
}

enum Action {
    Trigger(Box<NewRun>),
    Append(String),
}

/// Reads a workflow publish to `destination` (its headers without the workflow ones, then as a publish).
pub async fn prepare(
    app: &AppState,
    destination: Destination,
    mut headers: http::HeaderMap,
    body: bytes::Bytes,
    caller_ip: Option<String>,
    now: i64,
) -> Result<Prepared, ApiError> {
    let publish = WorkflowPublish::take(&mut headers)?;
    prepare_publish(app, publish, destination, headers, body, caller_ip, now).await
}

/// Reads a start without the SDK (`POST /v2/trigger`): a trigger of `run_id` whose first delivery says
/// `Upstash-Workflow-Unknown-Sdk`, under the request's publish headers.
pub async fn prepare_rest_trigger(
    app: &AppState,
    destination: Destination,
    mut headers: http::HeaderMap,
    run_id: String,
    body: bytes::Bytes,
    caller_ip: Option<String>,
    now: i64,
) -> Result<Prepared, ApiError> {
    headers.insert("upstash-workflow-init", http::HeaderValue::from_static("true"));
    let run_header = http::HeaderValue::from_str(&run_id)
        .map_err(|_| ApiError::BadRequest("Upstash-Workflow-RunId: not a header value".into()))?;
    headers.insert("upstash-workflow-runid", run_header);
    let mut publish = WorkflowPublish::take(&mut headers)?;
    if publish.invoke || publish.trigger_by_sdk {
        return Err(ApiError::BadRequest(
            "a REST trigger starts a run: Upstash-Workflow-Invoke and -Trigger-By-Sdk belong to the SDK".into(),
        ));
    }
    publish.unknown_sdk = true;
    prepare_publish(app, publish, destination, headers, body, caller_ip, now).await
}

async fn prepare_publish(
    app: &AppState,
    publish: WorkflowPublish,
    destination: Destination,
    headers: http::HeaderMap,
    body: bytes::Bytes,
    caller_ip: Option<String>,
    now: i64,
) -> Result<Prepared, ApiError> {
    let Destination::Url(url) = destination else {
        return Err(ApiError::BadRequest(
            "a workflow publish goes to the workflow's URL, not to a URL group".into(),
        ));
    };
    let options = MessageOptions::from_headers(&headers, &app.limits)?;
    super::super::destinations::check(app, &Destination::Url(url.clone()), &options)?;
    if body.len() > app.max_body_bytes {
        return Err(ApiError::PayloadTooLarge(app.max_body_bytes));
    }
    let flow = options.flow_control.clone();
    if publish.init {
        let (invoker, body) = match publish.invoke {
            true => invoked_by(app, &body).await?,
            false => (None, body),
        };
        let (mut run, message) = trigger(app, &publish, url, &options, body, caller_ip, now)?;
        run.invoker = invoker;
        return Ok(Prepared {
            message,
            flow,
            action: Action::Trigger(Box::new(run)),
        });
    }
    let run = started_run(app, &publish.run_id).await?;
    let message = match publish.call_type {
        CallType::ToCallback => call(app, &publish, &run, url, &options, body, caller_ip, now)?,
        _ => step(app, &publish, &run, url, &options, body, caller_ip, now)?,
    };
    Ok(Prepared {
        message,
        flow,
        action: Action::Append(run.run_id),
    })
}

/// The invoker an invoking trigger names (a started run, whose URL the destination policy allows), and
/// the child's initial payload.
async fn invoked_by(app: &AppState, body: &[u8]) -> Result<(Option<Invoker>, bytes::Bytes), ApiError> {
    let (invoker, payload) = read_invoke(body).map_err(ApiError::BadRequest)?;
    let url = DestinationUrl::parse(&invoker.url)
        .map_err(|e| ApiError::BadRequest(format!("invalid workflowUrl of the invoker: {e}")))?;
    super::super::destinations::check_url(app, &url)
        .map_err(|e| ApiError::BadRequest(format!("invalid workflowUrl of the invoker: {e}")))?;
    started_run(app, &invoker.run_id).await?;
    Ok((Some(invoker), payload.into()))
}

/// Stores prepared workflow publishes in order and answers each like a publish.
pub async fn store(app: &AppState, items: Vec<Prepared>, now: i64) -> Result<Vec<Published>, ApiError> {
    let mut answers = Vec::with_capacity(items.len());
    let mut due_soon = false;
    for item in items {
        if let Some(flow) = &item.flow {
            super::super::accept::configure_flow(app, flow, now).await?;
        }
        let mut answer = Published {
            message_id: item.message.id.to_string(),
            url: item.message.url.as_str().to_string(),
            deduplicated: None,
        };
        match item.action {
            Action::Trigger(run) => {
                if let Some(first) = app.store.workflow_trigger(&run, &item.message).await? {
                    answer.message_id = first;
                    answer.deduplicated = Some(true);
                    answers.push(answer);
                    continue;
                }
                app.metrics.workflow_run_started();
            }
            Action::Append(run_id) => {
                let appended = app
                    .store
                    .workflow_append(&run_id, now, std::slice::from_ref(&item.message))
                    .await?;
                if let Appended::NotStarted(state) = appended {
                    return Err(not_started(&run_id, state));
                }
            }
        }
        due_soon |= item.message.not_before <= now + app.wake_horizon_ms;
        app.metrics.accepted(AcceptedKind::workflow, 1);
        answers.push(answer);
    }
    if due_soon {
        app.wake_dispatchers();
    }
    Ok(answers)
}

/// The run an append goes to; a 400 when it has ended or never existed, which the SDK takes as "the run is
/// over" and stops quietly (protocol §4).
async fn started_run(app: &AppState, run_id: &str) -> Result<Run, ApiError> {
    match app.store.workflow_run_get(run_id).await? {
        Some(run) if run.state == RunState::Started => Ok(run),
        Some(run) => Err(not_started(run_id, Some(run.state))),
        None => Err(not_started(run_id, None)),
    }
}

pub(super) fn not_started(run_id: &str, state: Option<RunState>) -> ApiError {
    ApiError::BadRequest(match state {
        Some(state) => format!(
            "failed to publish to url: can not append to the workflow run {run_id}: it has ended ({})",
            state.as_str()
        ),
        None => format!("failed to publish to url: there is no workflow run {run_id}"),
    })
}

/// The run a trigger creates, and its first message: the initial payload, history entry 0.
fn trigger(
    app: &AppState,
    publish: &WorkflowPublish,
    url: DestinationUrl,
    options: &MessageOptions,
    body: bytes::Bytes,
    caller_ip: Option<String>,
    now: i64,
) -> Result<(NewRun, NewMessage), ApiError> {
    let mut header = options.forward.clone();
    // Canonical names, as every header map holds them.
    let mut set = |name: &str, value: String| header.insert(canonical_name(name), vec![value]);
    set("Upstash-Workflow-RunId", publish.run_id.clone());
    set("Upstash-Workflow-CreatedAt", now.to_string());
    if publish.sdk {
        set("Upstash-Workflow-Sdk-Version", SDK_VERSION.into());
    }
    if !options.labels.is_empty() {
        set("Upstash-Label", options.labels.join(","));
    }
    if publish.invoke_count > 0 {
        set("Upstash-Workflow-Invoke-Count", publish.invoke_count.to_string());
    }
    if publish.unknown_sdk {
        set("Upstash-Workflow-Unknown-Sdk", "true".into());
    }
    let config = RunConfig {
        // Resolved now, so that steps the store builds (an invoker's result) get what every other step gets.
        retries: Some(options.retries.unwrap_or(app.limits.default_retries)),
        retry_delay: options.retry_delay.as_ref().map(|d| d.source().to_string()),
        timeout_ms: options.timeout_ms,
        flow_control_key: options.flow_control.as_ref().map(|f| f.key.clone()),
        header,
        redact: options.redact.clone(),
        failure_callback: with_run_headers(
            options.failure_callback.clone(),
            &publish.failure_header,
            &publish.run_id,
        ),
        features: publish.features,
        unknown_sdk: publish.unknown_sdk,
    };
    let run = NewRun {
        run_id: publish.run_id.clone(),
        url: url.as_str().to_string(),
        config,
        labels: options.labels.clone(),
        caller_ip: caller_ip.clone(),
        created_at: now,
        invoker: None,
        replaces_start: publish.trigger_by_sdk,
    };
    let link = WorkflowLink {
        run_id: run.run_id.clone(),
        role: Role::Step,
        seq: None,
        run_created_at: now,
        detect_trigger: publish.features.detect_trigger,
        initial_body: None,
    };
    let of = StepOf {
        config: &run.config,
        labels: &run.labels,
        link,
    };
    let message = step_message(of, url, options, body, caller_ip, now, &app.limits)?;
    Ok((run, message))
}

/// A step of a started run: delivered to `url` with the run's history, under the run's settings where the
/// publish sets none.
#[allow(clippy::too_many_arguments)]
fn step(
    app: &AppState,
    publish: &WorkflowPublish,
    run: &Run,
    url: DestinationUrl,
    options: &MessageOptions,
    body: bytes::Bytes,
    caller_ip: Option<String>,
    now: i64,
) -> Result<NewMessage, ApiError> {
    let mut config = run.config.clone();
    // Python's SDK repeats the run's settings on every step: the publish's own win.
    if let Some(failure) = with_run_headers(options.failure_callback.clone(), &publish.failure_header, &run.run_id) {
        config.failure_callback = Some(failure);
    }
    let of = StepOf {
        config: &config,
        labels: &run.labels,
        link: run.step_link(),
    };
    Ok(step_message(of, url, options, body, caller_ip, now, &app.limits)?)
}

/// `context.call`: the request to the third party with its own settings; its callbacks (after every
/// attempt) go to the run's endpoint with the call's workflow headers and the run id.
#[allow(clippy::too_many_arguments)]
fn call(
    app: &AppState,
    publish: &WorkflowPublish,
    run: &Run,
    url: DestinationUrl,
    options: &MessageOptions,
    body: bytes::Bytes,
    caller_ip: Option<String>,
    now: i64,
) -> Result<NewMessage, ApiError> {
    let mut message = NewMessage::build(url, options, body, caller_ip, now, &app.limits)?;
    message.callback = with_run_headers(options.callback.clone(), &publish.callback_header, &run.run_id);
    message.failure_callback = None;
    message.labels = run.labels.clone();
    message.workflow = Some(WorkflowLink {
        run_id: run.run_id.clone(),
        role: Role::Call,
        seq: None,
        run_created_at: run.created_at,
        detect_trigger: false,
        initial_body: None,
    });
    Ok(message)
}

/// A callback of the run with the workflow headers the SDK reads on it and the run's id.
fn with_run_headers(callback: Option<Callback>, workflow: &HeaderMap, run_id: &str) -> Option<Callback> {
    let mut callback = callback?;
    for (name, values) in workflow {
        callback.header.insert(name.clone(), values.clone());
    }
    callback
        .header
        .insert(canonical_name("Upstash-Workflow-RunId"), vec![run_id.to_string()]);
    Some(callback)
}
