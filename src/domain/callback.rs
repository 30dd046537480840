//! Callbacks and failure callbacks (spec §12.5): after each attempt (and once after the final failure) the
//! engine creates an ordinary, signed message to the callback URL whose JSON body reports the attempt.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::destination::DestinationUrl;
use super::duration::parse_duration;
use super::headers::{canonical_name, HeaderMap};
use super::ids::new_message_id;
use super::message::NewMessage;
use super::options::{not_forwardable, InvalidOption, Limits};
use super::retry_delay::RetryDelay;

/// Where and how to call back; stored as JSON with the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<i64>,
    /// Headers the callback request carries (from `…-Forward-<Name>` and Python's `…-<Name>`).
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub header: HeaderMap,
}

/// Which callback: `Upstash-Callback-*` or `Upstash-Failure-Callback-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Callback,
    Failure,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Callback => "upstash-callback",
            Kind::Failure => "upstash-failure-callback",
        }
    }

    fn header(self, suffix: &str) -> String {
        canonical_name(&format!("{}{suffix}", self.prefix()))
    }
}

/// Reads one kind of callback from the request headers; `None` when its URL header is absent.
pub fn parse(headers: &http::HeaderMap, kind: Kind, limits: &Limits) -> Result<Option<Callback>, InvalidOption> {
    let invalid = |suffix: &str, reason: String| InvalidOption {
        header: kind.header(suffix),
        reason,
    };
    let text = |value: &http::HeaderValue, suffix: &str| {
        std::str::from_utf8(value.as_bytes())
            .map(|s| s.trim().to_string())
            .map_err(|_| invalid(suffix, "the value is not UTF-8 text".into()))
    };
    let Some(url) = headers.get(kind.prefix()) else {
        return Ok(None);
    };
    let url = DestinationUrl::parse(&text(url, "")?).map_err(|e| invalid("", e.to_string()))?;
    let mut callback = Callback {
        url: url.as_str().to_string(),
        method: None,
        timeout_ms: None,
        retries: None,
        retry_delay: None,
        delay_ms: None,
        header: HeaderMap::new(),
    };
    let prefix = format!("{}-", kind.prefix());
    for (name, value) in headers {
        let Some(option) = name.as_str().strip_prefix(&prefix) else {
            continue;
        };
        // `Upstash-Callback-…` never matches `Upstash-Failure-Callback-…`, whose prefix differs.
        let suffix = format!("-{option}");
        let value = text(value, &suffix)?;
        match option {
            "method" => {
                let upper = value.to_ascii_uppercase();
                if !matches!(upper.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
                    return Err(invalid(
                        &suffix,
                        format!("{value:?} is not one of GET, POST, PUT, PATCH, DELETE"),
                    ));
                }
                callback.method = Some(upper);
            }
            "timeout" => {
                let ms = parse_duration(&value)
                    .map_err(|e| invalid(&suffix, e.to_string()))?
                    .as_millis() as i64;
                callback.timeout_ms = Some(ms.clamp(1, limits.max_timeout_ms));
            }
            "retries" => {
                let retries: i32 = value
                    .parse()
                    .ok()
                    .filter(|r| *r >= 0)
                    .ok_or_else(|| invalid(&suffix, "expected a whole number of retries, 0 or more".into()))?;
                callback.retries = Some(retries.min(limits.max_retries));
            }
            "retry-delay" => {
                RetryDelay::parse(&value).map_err(|e| invalid(&suffix, e.reason().to_string()))?;
                callback.retry_delay = Some(value);
            }
            "delay" => {
                let ms = parse_duration(&value)
                    .map_err(|e| invalid(&suffix, e.to_string()))?
                    .as_millis() as i64;
                callback.delay_ms = Some(ms.min(limits.max_delay_ms));
            }
            other => {
                // `…-Forward-<Name>` forwards <Name>; Python's `callback_headers` send `…-<Name>` (spec §15 #15).
                let forwarded = other.strip_prefix("forward-").unwrap_or(other);
                if let Some(reason) = not_forwardable(forwarded) {
                    return Err(invalid(&suffix, format!("{forwarded:?} {reason}")));
                }
                callback
                    .header
                    .entry(canonical_name(forwarded))
                    .or_default()
                    .push(value);
            }
        }
    }
    Ok(Some(callback))
}

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
    })
}

pub fn to_column(callback: &Option<Callback>) -> Option<String> {
    callback
        .as_ref()
        .map(|c| serde_json::to_string(c).expect("a callback serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        default_retries: 3,
        max_retries: 20,
        max_delay_ms: 86_400_000,
        max_timeout_ms: 60_000,
    };

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_each_kind_with_its_settings_and_headers() {
        let h = headers(&[
            ("upstash-callback", "https://cb.test/done"),
            ("upstash-callback-method", "put"),
            ("upstash-callback-retries", "2"),
            ("upstash-callback-timeout", "5s"),
            ("upstash-callback-retry-delay", "1000"),
            ("upstash-callback-delay", "1s"),
            ("upstash-callback-forward-x-a", "1"),
            ("upstash-callback-x-b", "2"),
            ("upstash-failure-callback", "https://cb.test/failed"),
            ("upstash-failure-callback-forward-x-c", "3"),
        ]);
        let cb = parse(&h, Kind::Callback, &LIMITS).unwrap().unwrap();
        assert_eq!(cb.url, "https://cb.test/done");
        assert_eq!(
            (cb.method.as_deref(), cb.retries, cb.timeout_ms),
            (Some("PUT"), Some(2), Some(5_000))
        );
        assert_eq!((cb.retry_delay.as_deref(), cb.delay_ms), (Some("1000"), Some(1_000)));
        assert_eq!(cb.header["X-A"], vec!["1"]);
        assert_eq!(cb.header["X-B"], vec!["2"]);
        assert!(
            !cb.header.contains_key("X-C"),
            "failure-callback headers stay with the failure callback"
        );
        let failure = parse(&h, Kind::Failure, &LIMITS).unwrap().unwrap();
        assert_eq!(failure.header["X-C"], vec!["3"]);
        assert_eq!(
            serde_json::from_str::<Callback>(&to_column(&Some(cb.clone())).unwrap()).unwrap(),
            cb
        );
        assert!(parse(&headers(&[]), Kind::Callback, &LIMITS).unwrap().is_none());
    }

    #[test]
    fn bad_settings_name_their_header() {
        for (name, value) in [
            ("upstash-callback", "not a url"),
            ("upstash-callback-method", "FETCH"),
            ("upstash-callback-retries", "-1"),
            ("upstash-callback-timeout", "soon"),
            ("upstash-callback-retry-delay", "pow("),
            ("upstash-callback-host", "internal.example"),
            ("upstash-callback-content-length", "10"),
            ("upstash-callback-transfer-encoding", "chunked"),
            ("upstash-callback-upgrade", "websocket"),
            ("upstash-callback-connection", "close"),
            ("upstash-callback-forward-upstash-message-id", "msg_forged"),
            ("upstash-callback-webhook-signature", "v1,forged"),
        ] {
            let mut h = headers(&[("upstash-callback", "https://cb.test/")]);
            h.insert(name, value.parse().unwrap());
            let err = parse(&h, Kind::Callback, &LIMITS).unwrap_err();
            assert!(err.header.starts_with("Upstash-Callback"), "{err}");
        }
    }
}
