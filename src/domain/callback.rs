//! Callbacks and failure callbacks (spec §12.5): the settings read from `Upstash-Callback-*` and
//! `Upstash-Failure-Callback-*`, kept with the message. The message sent after an attempt is built in
//! `callback_message`.

use serde::{Deserialize, Serialize};

use super::destination::DestinationUrl;
use super::duration::parse_duration;
use super::headers::{canonical_name, HeaderMap};
use super::option_rules::{not_forwardable, InvalidOption, Limits};
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
