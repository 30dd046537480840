//! One delivery attempt: the signed outbound request of spec §12.1, and its result classified (§12.2–12.4).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use tracing::Instrument;

use crate::domain::callback_message::{self, AttemptReport, Source};
use crate::domain::headers::{self, HeaderMap};
use crate::domain::ids::{new_dlq_id, new_jwt_id};
use crate::domain::message::NewMessage;
use crate::domain::net_policy::{DestinationPolicy, Refusal};
use crate::domain::retry::{classify, AttemptResult, Outcome};
use crate::domain::signing::{sign, standard_webhooks_signature};
use crate::domain::workflow::Role;
use crate::keys::KeyRing;
use crate::metrics::{AcceptedKind, AttemptOutcome, Metrics};
use crate::store::{Completion, CompletionKind, DeadLetter, LoggedResponse, Message};
use crate::worker::breaker::{BreakerConfig, Breakers, Gate, Reach, Why};
use crate::worker::resolver::PolicyResolver;
use crate::worker::workflow;

pub struct Deliverer {
    http: reqwest::Client,
    keys: Arc<KeyRing>,
    default_timeout: Duration,
    /// Response bodies kept for the DLQ (and sent to callbacks) are truncated to this many bytes.
    response_body_limit: usize,
    /// Response bodies kept on ERROR log entries are truncated to this many bytes (`--log-response-bytes`).
    log_response_limit: usize,
    /// When set, deliveries also carry Standard Webhooks headers signed with this key.
    standard_webhooks_key: Option<Vec<u8>>,
    /// Judges address literals; names are judged by the client's resolver with the same policy.
    policy: Arc<DestinationPolicy>,
    metrics: Arc<Metrics>,
    /// Per-host circuit breakers: attempts to hosts that many recent attempts could not reach wait instead.
    breakers: Breakers,
}

/// How the delivery client reaches destinations.
#[derive(Debug, Clone, Copy)]
pub struct NetworkOptions {
    /// Longest a connection attempt may take, separate from (and much shorter than) the response timeout,
    /// so a host that is down fails fast.
    pub connect_timeout: Duration,
    /// Idle keep-alive connections kept per host; those in use are bounded by the per-host share.
    pub pool_max_idle_per_host: usize,
    pub breaker: BreakerConfig,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            connect_timeout: Duration::from_secs(10),
            pool_max_idle_per_host: 1024,
            breaker: BreakerConfig::off(),
        }
    }
}

/// How long a message whose attempt failed for want of a local resource waits before it is due again.
const LOCAL_RESOURCE_RETRY: Duration = Duration::from_secs(1);

/// What came back, with the response body already truncated.
struct Response {
    result: AttemptResult,
    body: Vec<u8>,
    error: Option<String>,
    /// Not sent: the destination policy refused the address.
    refused: bool,
    /// The request never left this machine: it ran out of file descriptors, buffers or memory.
    local_failure: bool,
    /// Why there was no response (timeout, connection failure, …), for the metrics.
    transport: Option<AttemptOutcome>,
    /// What dialling found, for the host's circuit breaker; `None` when nothing was dialled.
    reach: Option<Reach>,
}

impl Deliverer {
    pub fn new(
        keys: Arc<KeyRing>,
        default_timeout: Duration,
        response_body_limit: usize,
        standard_webhooks_key: Option<Vec<u8>>,
        policy: Arc<DestinationPolicy>,
        resolve_overrides: HashMap<String, Vec<IpAddr>>,
        network: NetworkOptions,
    ) -> Self {
        let resolver = PolicyResolver::new(policy.clone(), resolve_overrides);
        let http = reqwest::Client::builder()
            // Every name goes through the policy; a proxy from the environment would dial unchecked.
            .dns_resolver(Arc::new(resolver))
            .no_proxy()
            // A redirect is the destination's answer, not an instruction to send the body elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .connect_timeout(network.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(network.pool_max_idle_per_host)
            .build()
            .expect("the HTTP client configuration is valid");
        Deliverer {
            http,
            keys,
            default_timeout,
            response_body_limit,
            log_response_limit: crate::config::DEFAULT_LOG_RESPONSE_BYTES,
            standard_webhooks_key,
            policy,
            metrics: Arc::new(Metrics::new()),
            breakers: Breakers::new(network.breaker),
        }
    }

    /// Keeps at most `limit` bytes of a failed attempt's response body on its ERROR log entry.
    pub fn with_log_response_limit(mut self, limit: usize) -> Self {
        self.log_response_limit = limit;
        self
    }

    /// Bytes of a response body read at most: enough for both the DLQ and the log.
    pub fn read_limit(&self) -> usize {
        self.response_body_limit.max(self.log_response_limit)
    }

    /// Reports attempts to these metrics instead of to a registry of its own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Sends one attempt of a claimed message and returns how to complete it.
    pub async fn attempt(&self, message: &Message, now_ms: impl Fn() -> i64) -> Completion {
        // Every log line of the attempt carries the message id; the span ends with outcome and status.
        let span = tracing::info_span!(
            "delivery",
            message_id = %message.id,
            attempt = message.attempt,
            host = %message.url_host,
            outcome = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        self.attempt_in(message, now_ms, &span).instrument(span.clone()).await
    }

    async fn attempt_in(&self, message: &Message, now_ms: impl Fn() -> i64, span: &tracing::Span) -> Completion {
        let started = std::time::Instant::now();
        let lateness_ms = now_ms() - message.due_at;
        let host = &message.url_host;
        let probe = match self.breakers.check(host, now_ms()) {
            Gate::Pass => false,
            Gate::Probe => true,
            Gate::Postpone { until, why } => {
                let completion = postpone(message, until, &why);
                let outcome = self.record(
                    message,
                    &completion,
                    AttemptOutcome::circuit_open,
                    started.elapsed(),
                    lateness_ms,
                );
                span.record("outcome", tracing::field::debug(&outcome));
                return completion;
            }
        };
        let response = self.send(message).await;
        match response.reach {
            Some(reach) => self.breakers.record(host, reach, probe, now_ms()),
            None if probe => self.breakers.probe_abandoned(host, now_ms()),
            None => {}
        }
        let transport = if response.refused {
            AttemptOutcome::refused_by_policy
        } else if response.local_failure {
            AttemptOutcome::local_resource
        } else {
            response.transport.unwrap_or(AttemptOutcome::error)
        };
        let completion = self.complete(message, response, now_ms());
        let outcome = self.record(message, &completion, transport, started.elapsed(), lateness_ms);
        // Recorded by reference: no allocation per attempt on the hot path.
        span.record("outcome", tracing::field::debug(&outcome));
        span.record("status", completion.status);
        completion
    }

    /// The attempt in the metrics: its outcome, what it does to the message, and callbacks it makes.
    fn record(
        &self,
        message: &Message,
        completion: &Completion,
        transport: AttemptOutcome,
        took: Duration,
        lateness_ms: i64,
    ) -> AttemptOutcome {
        let outcome = match (&completion.kind, completion.status) {
            // Not an attempt: out of local resources, or postponed by the host's open circuit.
            (CompletionKind::HandBack { .. }, _) => transport,
            (CompletionKind::Delivered, _) => AttemptOutcome::success,
            (_, 400..=499) => AttemptOutcome::http_4xx,
            (_, 500..=599) => AttemptOutcome::http_5xx,
            (_, 1..) => AttemptOutcome::http_other,
            _ => transport,
        };
        self.metrics.attempt(outcome, &message.url_host, took, lateness_ms);
        match completion.kind {
            CompletionKind::Delivered => self.metrics.delivered(1),
            CompletionKind::Retry { .. } => self.metrics.retried(1),
            CompletionKind::Failed(_) => self.metrics.dead_lettered(1),
            CompletionKind::HandBack { .. } => {}
        }
        if !completion.spawn.is_empty() {
            self.metrics.accepted(AcceptedKind::callback, completion.spawn.len());
        }
        outcome
    }

    fn complete(&self, message: &Message, mut response: Response, now: i64) -> Completion {
        if response.local_failure {
            // Not the destination's fault: do not spend one of its retries (nor dead-letter it) for it.
            tracing::warn!(message_id = %message.id, error = ?response.error, "delivery not sent: out of local resources; handing it back");
            return Completion {
                id: message.id.clone(),
                attempt: message.attempt,
                kind: CompletionKind::HandBack {
                    due_at: now + LOCAL_RESOURCE_RETRY.as_millis() as i64,
                },
                queued: message.is_queued(),
                status: 0,
                error: response.error,
                response: None,
                spawn: Vec::new(),
                fails_run: None,
            };
        }
        let not_a_workflow = is_not_a_workflow(message, &response.result);
        let outcome = if response.refused {
            Outcome::RefusedByPolicy
        } else if not_a_workflow {
            Outcome::Failed
        } else {
            classify(
                &response.result,
                message.attempt,
                message.max_retries,
                message.retry_delay.as_ref(),
                now,
            )
        };
        let status = response.result.status.map_or(0, i32::from);
        let response_header = headers::capped(headers::from_http(&response.result.headers), self.response_body_limit);
        // The log keeps its own cut of the headers and the body, so an entry stays within about twice its
        // cap; the DLQ and callbacks keep theirs (the body was read to the larger of the two).
        let logged =
            (response.result.status.is_some() && !matches!(outcome, Outcome::Delivered)).then(|| LoggedResponse {
                header: headers::capped(response_header.clone(), self.log_response_limit),
                body: response.body[..response.body.len().min(self.log_response_limit)].to_vec(),
            });
        response.body.truncate(self.response_body_limit);
        let dlq_id = matches!(outcome, Outcome::Failed | Outcome::RefusedByPolicy).then(|| new_dlq_id(now));
        let spawn = callbacks(
            message,
            status,
            &response_header,
            &response.body,
            dlq_id.as_deref(),
            now,
        );
        let error = match (response.result.status, &response.error) {
            _ if not_a_workflow => Some(workflow::NON_WORKFLOW_DESTINATION.to_string()),
            (_, Some(error)) => Some(error.clone()),
            (Some(status), None) if !(200..300).contains(&status) => Some(format!("the destination answered {status}")),
            _ => None,
        };
        let kind = match (outcome, dlq_id) {
            (Outcome::Delivered, _) => CompletionKind::Delivered,
            (Outcome::Retry { at }, _) => CompletionKind::Retry { due_at: at },
            (Outcome::Failed | Outcome::RefusedByPolicy, dlq_id) => CompletionKind::Failed(DeadLetter {
                dlq_id: dlq_id.unwrap_or_else(|| new_dlq_id(now)),
                response_status: status,
                response_header,
                response_body: response.body,
                error: if not_a_workflow { error.clone() } else { response.error },
            }),
        };
        let fails_run = match kind {
            CompletionKind::Failed(_) => message.run_of_step().map(str::to_string),
            _ => None,
        };
        match (&kind, response.result.status) {
            (CompletionKind::Delivered, _) => {}
            _ if response.refused => tracing::warn!(
                message_id = %message.id,
                attempt = message.attempt,
                error = error.as_deref().unwrap_or_default(),
                "delivery refused by the destination policy"
            ),
            (_, Some(status)) => {
                tracing::info!(message_id = %message.id, attempt = message.attempt, status, "delivery attempt failed")
            }
            (_, None) => {
                tracing::info!(message_id = %message.id, attempt = message.attempt, "delivery attempt got no response")
            }
        }
        Completion {
            id: message.id.clone(),
            attempt: message.attempt,
            kind,
            queued: message.is_queued(),
            status,
            error,
            response: logged,
            spawn,
            fails_run,
        }
    }

    async fn send(&self, message: &Message) -> Response {
        let request = match self.build_request(message) {
            Ok(request) => request,
            Err(error) => return no_response(error),
        };
        // An address literal is not resolved, so it is judged here; it is exactly what will be dialled.
        if let Some(Err(refusal)) = request.url().host().map(|host| self.policy.check_host(host)) {
            return refused(&refusal);
        }
        let response = match self.http.execute(request).await {
            Ok(response) => response,
            Err(error) => match refusal_in(&error) {
                Some(refusal) => return refused(refusal),
                None => {
                    let mut response = no_response(describe(&error));
                    response.local_failure = is_local_resource_error(&error);
                    let unreachable = is_unreachable(&error);
                    // A connect timeout is a host that could not be reached, not a slow answer.
                    response.transport = Some(if unreachable {
                        AttemptOutcome::connect_error
                    } else if error.is_timeout() {
                        AttemptOutcome::timeout
                    } else {
                        AttemptOutcome::error
                    });
                    if !response.local_failure {
                        response.reach = Some(if unreachable {
                            Reach::Unreachable
                        } else {
                            Reach::Reached
                        });
                    }
                    return response;
                }
            },
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let (body, error) = self.read_truncated(response).await;
        Response {
            result: AttemptResult {
                status: Some(status),
                headers,
            },
            body,
            error,
            refused: false,
            local_failure: false,
            transport: None,
            reach: Some(Reach::Reached),
        }
    }

    fn build_request(&self, message: &Message) -> Result<reqwest::Request, String> {
        let method = reqwest::Method::from_bytes(message.method.as_bytes()).map_err(|e| e.to_string())?;
        let url = reqwest::Url::parse(&message.url).map_err(|e| format!("invalid destination URL: {e}"))?;
        let timeout = message
            .timeout_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map_or(self.default_timeout, Duration::from_millis);
        let mut request = self
            .http
            .request(method, url)
            .timeout(timeout)
            .body(message.body.clone())
            .build()
            .map_err(|e| describe(&e))?;
        let out = request.headers_mut();
        append_all(out, &message.header);
        // The token is checked against the receiver's real clock, so it is issued from the system clock
        // (never the engine's test clock), and never in the future: Python receivers allow no skew.
        let iat = crate::clock::system_now_ms().div_euclid(1000);
        let signature = sign(
            &self.keys.get().current,
            &message.url,
            &message.body,
            iat,
            &new_jwt_id(),
        );
        let ours: [(&str, Option<String>); 6] = [
            ("user-agent", Some("Upstash-QStash".into())),
            ("upstash-signature", Some(signature)),
            ("upstash-message-id", Some(message.id.as_str().to_owned())),
            ("upstash-retried", Some((message.attempt - 1).max(0).to_string())),
            ("upstash-caller-ip", message.caller_ip.clone()),
            (
                "upstash-schedule-id",
                message.schedule_id.as_ref().map(ToString::to_string),
            ),
        ];
        let topic = [("upstash-topic-name", message.topic_name.clone())];
        // Standard Webhooks: the message id is stable across attempts, so receivers deduplicate on it.
        let standard = self.standard_webhooks_key.as_deref().map(|key| {
            let signature = standard_webhooks_signature(key, &message.id, iat, &message.body);
            [
                ("webhook-id", message.id.as_str().to_owned()),
                ("webhook-timestamp", iat.to_string()),
                ("webhook-signature", signature),
            ]
        });
        let standard = standard.into_iter().flatten().map(|(name, value)| (name, Some(value)));
        for (name, value) in ours.into_iter().chain(topic).chain(standard) {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                out.insert(HeaderName::from_static(name), value);
            }
        }
        Ok(request)
    }

    /// Reads at most `read_limit()` bytes; the rest is not waited for.
    async fn read_truncated(&self, mut response: reqwest::Response) -> (Vec<u8>, Option<String>) {
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(None) => break,
                Ok(Some(chunk)) => {
                    let room = self.read_limit().saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= self.read_limit() {
                        break;
                    }
                }
                Err(e) => return (body, Some(describe(&e))),
            }
        }
        (body, None)
    }
}

/// The callback after this attempt, and the failure callback after the final one (spec §12.5).
fn callbacks(
    message: &Message,
    status: i32,
    response_header: &HeaderMap,
    response_body: &[u8],
    dlq_id: Option<&str>,
    now: i64,
) -> Vec<NewMessage> {
    let mut spawned = Vec::new();
    if let Some(cb) = &message.callback {
        let report = AttemptReport {
            status,
            header: response_header,
            body: response_body,
            retried: message.attempt - 1,
            dlq_id: None,
        };
        let callback = callback_message::message(cb, &source_of(message), &report, now);
        spawned.extend(callback.map(|m| workflow::linked(m, message, Role::CallCallback)));
    }
    if let Some(dlq_id) = dlq_id {
        spawned.extend(failure_callback(
            message,
            status,
            response_header,
            response_body,
            dlq_id,
            now,
        ));
    }
    spawned
}

/// The failure callback of a message that went to the DLQ as `dlq_id` after the answer given, if it has
/// one; also what the workflow DLQ's callback retry sends again.
pub fn failure_callback(
    message: &Message,
    status: i32,
    response_header: &HeaderMap,
    response_body: &[u8],
    dlq_id: &str,
    now: i64,
) -> Option<NewMessage> {
    let cb = message.failure_callback.as_ref()?;
    let report = AttemptReport {
        status,
        header: response_header,
        body: response_body,
        retried: message.attempt - 1,
        dlq_id: Some(dlq_id),
    };
    let callback = callback_message::message(cb, &source_of(message), &report, now)?;
    Some(workflow::linked(callback, message, Role::FailureCallback))
}

/// The source message's fields a callback repeats.
fn source_of(message: &Message) -> Source<'_> {
    let step = message.workflow.as_ref().filter(|link| link.role == Role::Step);
    Source {
        id: &message.id,
        url: &message.url,
        method: &message.method,
        header: &message.header,
        // A step's failure callback reports the run's initial payload (`InitialBody`), not the history.
        body: step
            .and_then(|link| link.initial_body.as_deref())
            .unwrap_or(&message.body),
        max_retries: message.max_retries,
        not_before: message.not_before,
        created_at: message.created_at,
        topic_name: message.topic_name.as_deref(),
        endpoint_name: message.endpoint_name.as_deref(),
        schedule_id: message.schedule_id.as_deref(),
        caller_ip: message.caller_ip.as_deref(),
        queue_name: message.queue_name.as_deref(),
        queue_order: message.queue_order,
        workflow_run: step.map(|link| (link.run_id.as_str(), link.run_created_at)),
    }
}

/// Whether a run's first delivery was answered 2xx by something that is not a workflow endpoint
/// (`WF_DetectTrigger`): the run fails at once instead of being taken as started.
fn is_not_a_workflow(message: &Message, result: &AttemptResult) -> bool {
    let first = message.workflow.as_ref().is_some_and(|link| link.detect_trigger);
    first && result.status.is_some_and(|s| (200..300).contains(&s)) && !workflow::answered_by_workflow(&result.headers)
}

fn append_all(out: &mut http::HeaderMap, map: &HeaderMap) {
    for (name, values) in map {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value) {
                out.append(name.clone(), value);
            }
        }
    }
}

fn no_response(error: String) -> Response {
    Response {
        result: AttemptResult {
            status: None,
            headers: http::HeaderMap::new(),
        },
        body: Vec::new(),
        error: Some(error),
        refused: false,
        local_failure: false,
        transport: Some(AttemptOutcome::error),
        reach: None,
    }
}

/// The completion of an attempt the host's open circuit postpones: not sent, not counted (`Upstash-Retried`
/// and the retries left stay as they are), due again at `until`, with the reason in the message's log.
fn postpone(message: &Message, until: i64, why: &Why) -> Completion {
    let host = &message.url_host;
    let at = chrono::DateTime::from_timestamp_millis(until)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let reason = match why {
        Why::Open { failures, attempts } => format!(
            "the circuit for host {host} is open ({failures} of {attempts} recent attempts could not reach it); \
             it is probed again at {at}"
        ),
        Why::Probing => format!("the circuit for host {host} is half-open and a probe is under way until {at}"),
    };
    tracing::debug!(message_id = %message.id, host, until, "delivery postponed: {reason}");
    Completion {
        id: message.id.clone(),
        attempt: message.attempt,
        kind: CompletionKind::HandBack { due_at: until },
        queued: message.is_queued(),
        status: 0,
        error: Some(format!("not sent (not an attempt): waiting for the circuit: {reason}")),
        response: None,
        spawn: Vec::new(),
        fails_run: None,
    }
}

/// Whether a failed request shows its host unreachable: the connection could not be made (refused, reset
/// or timed out while connecting, a DNS failure, a failed TLS handshake), or it closed before the request
/// was sent. A timeout or a closed connection after the request was sent shows a host that was reached.
fn is_unreachable(error: &reqwest::Error) -> bool {
    if error.is_connect() {
        return true;
    }
    std::iter::successors(std::error::Error::source(error), |e| e.source())
        .filter_map(|e| e.downcast_ref::<hyper::Error>())
        .any(hyper::Error::is_canceled)
}

fn refused(refusal: &Refusal) -> Response {
    Response {
        refused: true,
        ..no_response(refusal.to_string())
    }
}

/// The resolver's refusal, found in the chain of errors the client wraps it in.
fn refusal_in(error: &reqwest::Error) -> Option<&Refusal> {
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(refusal) = s.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        source = s.source();
    }
    None
}

/// Whether an outbound error was caused by this machine running out of a resource (too many open files
/// in the process or the system, no buffer space, no memory) rather than by the destination.
pub fn is_local_resource_error(error: &(dyn std::error::Error + 'static)) -> bool {
    const LOCAL: [i32; 4] = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
    std::iter::successors(Some(error), |e| e.source()).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|code| LOCAL.contains(&code))
    })
}

/// A short reason without the URL (URLs may carry credentials in their query).
fn describe(error: &reqwest::Error) -> String {
    // A connection that timed out is a host that could not be reached, not a slow answer.
    let kind = if error.is_connect() {
        "could not connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "failed while reading the response"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::is_local_resource_error;

    /// An error wrapping another, as reqwest wraps hyper's which wraps the connect `io::Error`.
    #[derive(Debug, thiserror::Error)]
    #[error("wrapped")]
    struct Wrapped(#[source] Box<dyn std::error::Error + Send + Sync>);

    fn wrapped(error: std::io::Error) -> Wrapped {
        Wrapped(Box::new(Wrapped(Box::new(error))))
    }

    #[test]
    fn running_out_of_files_buffers_or_memory_is_local() {
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(is_local_resource_error(&wrapped(std::io::Error::from_raw_os_error(
                code
            ))));
        }
    }

    #[test]
    fn the_destinations_failures_are_not_local() {
        for code in [
            libc::ECONNREFUSED,
            libc::ECONNRESET,
            libc::ETIMEDOUT,
            libc::EHOSTUNREACH,
        ] {
            assert!(!is_local_resource_error(&wrapped(std::io::Error::from_raw_os_error(
                code
            ))));
        }
        let without_code = std::io::Error::other("tls handshake failed");
        assert!(!is_local_resource_error(&wrapped(without_code)));
    }
}
