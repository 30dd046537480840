//! Message options from the `Upstash-*` request headers (spec §2), parsed once at the edge.

use super::callback::{self, Callback, Kind};
use super::duration::parse_duration;
use super::flow_control::{self, FlowControl};
use super::headers::{canonical_name, HeaderMap};
use super::option_rules::{invalid, not_forwardable, InvalidOption, Limits};
use super::redact::{self, Redact};
use super::retry_delay::RetryDelay;

const FORWARD_PREFIX: &str = "upstash-forward-";

/// The option headers a publish reads (lower case), besides the `Upstash-Forward-*`,
/// `Upstash-Callback-*` and `Upstash-Failure-Callback-*` families. Query parameters (webhook-receiver mode)
/// and URL-group default headers may name only these.
const OPTION_NAMES: [&str; 18] = [
    "upstash-method",
    "upstash-delay",
    "upstash-not-before",
    "upstash-retries",
    "upstash-timeout",
    "upstash-retry-delay",
    "upstash-deduplication-id",
    "upstash-content-based-deduplication",
    "upstash-redact-fields",
    "upstash-label",
    "upstash-header-forward",
    "upstash-flow-control-key",
    "upstash-flow-control-value",
    "upstash-callback",
    "upstash-failure-callback",
    // Schedules (a publish with `Upstash-Cron` creates one).
    "upstash-cron",
    "upstash-schedule-id",
    "upstash-queue-name",
];

/// Whether `name` (lower case, starting `upstash-`) is an option a publish reads.
pub fn is_option(name: &str) -> bool {
    OPTION_NAMES.contains(&name)
        || ["upstash-forward-", "upstash-callback-", "upstash-failure-callback-"]
            .iter()
            .any(|family| name.starts_with(family) && name.len() > family.len())
}

/// Incoming headers that `Upstash-Header-Forward: true` never forwards: the request's own token and what
/// describes the request rather than the message (its content type is kept as the message's already).
const NEVER_FORWARDED: [&str; 3] = ["authorization", "content-type", "expect"];

/// The options a request set. `None` means "not given", so DLQ-retry overrides can tell absent from set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageOptions {
    pub method: Option<String>,
    pub delay_ms: Option<i64>,
    /// `Upstash-Not-Before`, converted to Unix ms.
    pub not_before_ms: Option<i64>,
    pub retries: Option<i32>,
    pub timeout_ms: Option<i64>,
    pub content_type: Option<String>,
    /// `Upstash-Forward-*` headers with the prefix removed, canonical names.
    pub forward: HeaderMap,
    pub labels: Vec<String>,
    /// `Upstash-Retry-Delay`, parsed.
    pub retry_delay: Option<RetryDelay>,
    /// `Upstash-Deduplication-Id`.
    pub deduplication_id: Option<String>,
    /// `Upstash-Content-Based-Deduplication: true`.
    pub content_based_deduplication: bool,
    /// `Upstash-Callback` and `Upstash-Failure-Callback`, with their settings.
    pub callback: Option<Callback>,
    pub failure_callback: Option<Callback>,
    /// `Upstash-Flow-Control-Key` and the limits of `Upstash-Flow-Control-Value`.
    pub flow_control: Option<FlowControl>,
    /// `Upstash-Redact-Fields`.
    pub redact: Option<Redact>,
}

impl MessageOptions {
    /// Reads every option header. Unknown `Upstash-*` headers (telemetry, features to come) are ignored.
    pub fn from_headers(headers: &http::HeaderMap, limits: &Limits) -> Result<Self, InvalidOption> {
        let mut options = MessageOptions::default();
        let mut header_forward = false;
        for (name, value) in headers {
            let name = name.as_str();
            let text = || {
                value
                    .to_str()
                    .map(str::trim)
                    .map_err(|_| invalid(&canonical_name(name), "the value is not visible ASCII text"))
            };
            match name {
                "upstash-method" => options.method = Some(parse_method(text()?)?),
                "upstash-delay" => {
                    let delay = parse_duration(text()?).map_err(|e| invalid("Upstash-Delay", e.to_string()))?;
                    options.delay_ms = Some(millis(delay));
                }
                "upstash-not-before" => {
                    let secs: i64 = text()?.parse().ok().filter(|s| *s >= 0).ok_or_else(|| {
                        invalid("Upstash-Not-Before", "expected Unix time in seconds, e.g. 1767225600")
                    })?;
                    options.not_before_ms = Some(secs.saturating_mul(1000));
                }
                "upstash-retries" => {
                    let retries: i64 =
                        text()?.parse().ok().filter(|r| *r >= 0).ok_or_else(|| {
                            invalid("Upstash-Retries", "expected a whole number of retries, 0 or more")
                        })?;
                    options.retries = Some(retries.min(i64::from(limits.max_retries)) as i32);
                }
                "upstash-timeout" => {
                    let timeout = parse_duration(text()?).map_err(|e| invalid("Upstash-Timeout", e.to_string()))?;
                    let ms = millis(timeout);
                    if ms < 1 {
                        return Err(invalid("Upstash-Timeout", "must be at least 1ms"));
                    }
                    options.timeout_ms = Some(ms.min(limits.max_timeout_ms));
                }
                "upstash-retry-delay" => {
                    let delay = RetryDelay::parse(text()?).map_err(|e| InvalidOption {
                        header: "Upstash-Retry-Delay".into(),
                        reason: e.reason().to_string(),
                    })?;
                    options.retry_delay = Some(delay);
                }
                "upstash-deduplication-id" => {
                    let id = text()?;
                    if id.is_empty() || id.len() > 512 {
                        return Err(invalid("Upstash-Deduplication-Id", "must be 1 to 512 characters"));
                    }
                    options.deduplication_id = Some(id.to_string());
                }
                "upstash-content-based-deduplication" => {
                    // Python sends "True"/"False".
                    options.content_based_deduplication = match text()?.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(invalid("Upstash-Content-Based-Deduplication", "expected true or false")),
                    };
                }
                "upstash-redact-fields" => options.redact = Some(redact::parse(text()?)?),
                "upstash-label" => {
                    options.labels = parse_labels(text()?)?;
                }
                "upstash-header-forward" => {
                    header_forward = match text()?.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(invalid("Upstash-Header-Forward", "expected true or false")),
                    };
                }
                "content-type" => options.content_type = Some(text()?.to_string()),
                _ => {
                    if let Some(forwarded) = name.strip_prefix(FORWARD_PREFIX) {
                        if let Some(reason) = not_forwardable(forwarded) {
                            return Err(invalid(&canonical_name(name), format!("{forwarded:?} {reason}")));
                        }
                        options
                            .forward
                            .entry(canonical_name(forwarded))
                            .or_default()
                            .push(text()?.to_string());
                    }
                }
            }
        }
        if header_forward {
            forward_incoming(headers, &mut options.forward);
        }
        let text_of = |name: &str| headers.get(name).and_then(|v| std::str::from_utf8(v.as_bytes()).ok());
        options.flow_control = flow_control::parse(
            text_of("upstash-flow-control-key"),
            text_of("upstash-flow-control-value"),
        )?;
        options.callback = callback::parse(headers, Kind::Callback, limits)?;
        options.failure_callback = callback::parse(headers, Kind::Failure, limits)?;
        if let (Some(delay), None) = (options.delay_ms, options.not_before_ms) {
            if delay > limits.max_delay_ms {
                return Err(invalid("Upstash-Delay", "the delay is longer than this server allows"));
            }
        }
        Ok(options)
    }

    /// Headers the destination receives: `Content-Type`, then the forwarded ones (which win on a clash, as
    /// the Python SDK forwards `content-type` explicitly).
    pub fn delivery_headers(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(ct) = &self.content_type {
            map.insert("Content-Type".into(), vec![ct.clone()]);
        }
        for (name, values) in &self.forward {
            map.insert(name.clone(), values.clone());
        }
        map
    }

    /// The deduplication key of a publish to `destination` with `body`: the explicit id, else (when
    /// content-based deduplication is on) a SHA-256 of the destination, body, content type and forwarded
    /// headers (spec §3.4). Telemetry and other headers do not count.
    pub fn deduplication_key(&self, destination: &str, body: &[u8]) -> Option<String> {
        if let Some(id) = &self.deduplication_id {
            return Some(format!("id:{id}"));
        }
        if !self.content_based_deduplication {
            return None;
        }
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for part in [
            destination.as_bytes(),
            body,
            self.content_type.as_deref().unwrap_or_default().as_bytes(),
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hash.update(super::headers::to_json(&self.forward).as_bytes());
        let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Some(format!("content:{hex}"))
    }

    /// When the first attempt is due: not-before overrides delay (spec §2). Rejects times beyond the limit.
    pub fn first_due_ms(&self, now_ms: i64, limits: &Limits) -> Result<i64, InvalidOption> {
        match (self.not_before_ms, self.delay_ms) {
            (Some(at), _) if at.saturating_sub(now_ms) > limits.max_delay_ms => Err(invalid(
                "Upstash-Not-Before",
                "the time is further in the future than this server allows",
            )),
            (Some(at), _) => Ok(at.max(now_ms)),
            (None, Some(delay)) => Ok(now_ms.saturating_add(delay)),
            (None, None) => Ok(now_ms),
        }
    }
}

/// `Upstash-Header-Forward: true` (webhook-receiver mode): every incoming header that could be forwarded
/// with the `Upstash-Forward-` prefix is, except the request's token; an explicit `Upstash-Forward-<Name>`
/// wins over the incoming header of that name. Values that are not text are left out.
fn forward_incoming(headers: &http::HeaderMap, forward: &mut HeaderMap) {
    let explicit: Vec<String> = forward.keys().cloned().collect();
    for (name, value) in headers {
        let name = name.as_str();
        if NEVER_FORWARDED.contains(&name) || not_forwardable(name).is_some() {
            continue;
        }
        let canonical = canonical_name(name);
        let Ok(text) = value.to_str() else { continue };
        if !explicit.contains(&canonical) {
            forward.entry(canonical).or_default().push(text.trim().to_string());
        }
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn parse_method(value: &str) -> Result<String, InvalidOption> {
    let upper = value.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => Ok(upper),
        _ => Err(invalid(
            "Upstash-Method",
            format!("{value:?} is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
        )),
    }
}

fn parse_labels(value: &str) -> Result<Vec<String>, InvalidOption> {
    let labels: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if labels.iter().any(|l| !super::ids::is_path_safe(l)) {
        return Err(invalid(
            "Upstash-Label",
            "labels may hold only letters, digits, '-', '_' and '.' (up to 256 characters)",
        ));
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        default_retries: 3,
        max_retries: 20,
        max_delay_ms: 7 * 86_400_000,
        max_timeout_ms: 3_600_000,
    };

    fn parse(pairs: &[(&'static str, &str)]) -> Result<MessageOptions, InvalidOption> {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        MessageOptions::from_headers(&map, &LIMITS)
    }

    #[test]
    fn reads_every_option() {
        let o = parse(&[
            ("upstash-method", "put"),
            ("upstash-delay", "30s"),
            ("upstash-retries", "2"),
            ("upstash-timeout", "1.5s"),
            ("content-type", "application/json"),
            ("upstash-forward-x-trace", "abc"),
            ("upstash-forward-x-trace", "def"),
            ("upstash-label", "billing, nightly"),
            ("upstash-telemetry-sdk", "upstash-qstash-js@2.12.0"),
            ("user-agent", "not forwarded"),
        ])
        .unwrap();
        assert_eq!(o.method.as_deref(), Some("PUT"));
        assert_eq!(o.delay_ms, Some(30_000));
        assert_eq!(o.retries, Some(2));
        assert_eq!(o.timeout_ms, Some(1_500));
        assert_eq!(o.labels, vec!["billing", "nightly"]);
        let delivered = o.delivery_headers();
        assert_eq!(delivered["X-Trace"], vec!["abc", "def"]);
        assert_eq!(delivered["Content-Type"], vec!["application/json"]);
        assert_eq!(delivered.len(), 2);
    }

    #[test]
    fn deduplication_keys_come_from_the_id_or_the_content() {
        let by_id = parse(&[("upstash-deduplication-id", "order-7")]).unwrap();
        assert_eq!(
            by_id.deduplication_key("https://a", b"x").as_deref(),
            Some("id:order-7")
        );
        assert_eq!(parse(&[]).unwrap().deduplication_key("https://a", b"x"), None);
        let key_of = |extra: Option<(&'static str, &'static str)>, url: &str, body: &[u8]| {
            let mut headers = vec![("upstash-content-based-deduplication", "True")];
            headers.extend(extra);
            parse(&headers).unwrap().deduplication_key(url, body).unwrap()
        };
        let key = key_of(None, "https://a", b"x");
        assert!(key.starts_with("content:"));
        assert_eq!(key_of(None, "https://a", b"x"), key, "stable");
        assert_ne!(key_of(None, "https://a", b"y"), key, "the body counts");
        assert_ne!(key_of(None, "https://b", b"x"), key, "the destination counts");
        let forwarded = Some(("upstash-forward-x", "1"));
        assert_ne!(key_of(forwarded, "https://a", b"x"), key, "forwarded headers count");
        let telemetry = Some(("upstash-telemetry-sdk", "js"));
        assert_eq!(key_of(telemetry, "https://a", b"x"), key, "telemetry does not");
        assert!(parse(&[("upstash-content-based-deduplication", "maybe")]).is_err());
        assert!(parse(&[("upstash-deduplication-id", "")]).is_err());
    }

    #[test]
    fn not_before_overrides_delay_and_caps_apply() {
        let o = parse(&[("upstash-delay", "1h"), ("upstash-not-before", "1700000100")]).unwrap();
        assert_eq!(o.first_due_ms(1_700_000_000_000, &LIMITS).unwrap(), 1_700_000_100_000);
        let past = parse(&[("upstash-not-before", "1")]).unwrap();
        assert_eq!(past.first_due_ms(5_000, &LIMITS).unwrap(), 5_000);
        let capped = parse(&[("upstash-retries", "1000"), ("upstash-timeout", "3d")]).unwrap();
        assert_eq!(capped.retries, Some(20));
        assert_eq!(capped.timeout_ms, Some(3_600_000));
    }

    #[test]
    fn rejects_bad_values_naming_the_header() {
        let cases: [(&'static str, &str, &str); 9] = [
            ("upstash-delay", "soon", "Upstash-Delay"),
            ("upstash-delay", "8d", "Upstash-Delay"),
            ("upstash-not-before", "tomorrow", "Upstash-Not-Before"),
            ("upstash-retries", "-1", "Upstash-Retries"),
            ("upstash-retries", "three", "Upstash-Retries"),
            ("upstash-timeout", "0s", "Upstash-Timeout"),
            ("upstash-method", "FETCH", "Upstash-Method"),
            ("upstash-forward-content-length", "5", "Upstash-Forward-Content-Length"),
            ("upstash-label", "a b", "Upstash-Label"),
        ];
        for (name, value, header) in cases {
            let err = parse(&[(name, value)]).unwrap_err();
            assert_eq!(err.header, header, "{name}: {value}");
        }
        for forged in [
            "upstash-forward-upstash-signature",
            "upstash-forward-upstash-message-id",
            "upstash-forward-webhook-signature",
            "upstash-forward-host",
        ] {
            let err = parse(&[(forged, "x")]).unwrap_err();
            assert_eq!(err.header, canonical_name(forged), "{forged} is refused");
        }
        let far = parse(&[("upstash-not-before", "99999999999")]).unwrap();
        assert_eq!(far.first_due_ms(0, &LIMITS).unwrap_err().header, "Upstash-Not-Before");
    }
}
