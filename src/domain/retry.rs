//! What happens after an attempt: the outcome, and when the next attempt is due (spec §12.2–§12.4).

use super::duration::parse_duration;
use super::retry_delay::RetryDelay;

const ONE_DAY_MS: i64 = 86_400_000;

/// What came back from one delivery attempt.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// The HTTP status, or `None` when there was no response (connection error, timeout).
    pub status: Option<u16>,
    pub headers: http::HeaderMap,
}

/// What the engine does next with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again at this time (Unix ms).
    Retry {
        at: i64,
    },
    /// No attempts left (or the destination said not to retry): dead-letter it.
    Failed,
    /// The destination policy refused the address to be dialled: dead-letter it at once, as another attempt
    /// would be refused again.
    RefusedByPolicy,
}

/// Classifies an attempt. `attempt` counts from 1; a message has `1 + max_retries` attempts in all. The next
/// retry follows the destination's `Retry-After` (and friends) first, then the message's `Upstash-Retry-Delay`
/// expression, then the default backoff.
pub fn classify(
    result: &AttemptResult,
    attempt: i32,
    max_retries: i32,
    retry_delay: Option<&RetryDelay>,
    now_ms: i64,
) -> Outcome {
    if result.status.is_some_and(|s| (200..300).contains(&s)) {
        return Outcome::Delivered;
    }
    if result.status == Some(489) && header_is(&result.headers, "upstash-nonretryable-error", "true") {
        return Outcome::Failed;
    }
    if attempt > max_retries {
        return Outcome::Failed;
    }
    let delay = server_directed_delay_ms(&result.headers, now_ms)
        .or_else(|| retry_delay.and_then(|d| d.delay_ms(attempt - 1)))
        .unwrap_or_else(|| default_backoff_ms(attempt));
    Outcome::Retry {
        at: now_ms.saturating_add(delay),
    }
}

/// Default backoff before the n-th retry (n ≥ 1): `min(86400, e^(2.5·n))` seconds.
pub fn default_backoff_ms(n: i32) -> i64 {
    let seconds = (2.5 * f64::from(n.max(1))).exp().min(86_400.0);
    (seconds * 1000.0) as i64
}

/// A retry time the destination asked for with `Retry-After`, `X-RateLimit-Reset`,
/// `X-RateLimit-Reset-Requests` or `X-RateLimit-Reset-Tokens`. Values above one day are ignored.
pub fn server_directed_delay_ms(headers: &http::HeaderMap, now_ms: i64) -> Option<i64> {
    [
        "retry-after",
        "x-ratelimit-reset",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
    ]
    .iter()
    .filter_map(|name| headers.get(*name)?.to_str().ok())
    .find_map(|value| parse_retry_after_ms(value, now_ms))
    .filter(|ms| (0..=ONE_DAY_MS).contains(ms))
}

/// Integer seconds, an RFC 1123 date, or a Go duration (`6m5s`). An integer that can only be a Unix time
/// (after 2001) is read as one, as many rate limiters send `X-RateLimit-Reset` that way.
fn parse_retry_after_ms(value: &str, now_ms: i64) -> Option<i64> {
    let value = value.trim();
    if let Ok(n) = value.parse::<i64>() {
        if n >= 1_000_000_000 {
            // Checked: a huge value (`9223372036854775807`) names no time at all and is ignored.
            return n.checked_mul(1000)?.checked_sub(now_ms).map(|ms| ms.max(0));
        }
        return (n >= 0).then(|| n.saturating_mul(1000));
    }
    if let Ok(date) = chrono::DateTime::parse_from_rfc2822(value) {
        return date.timestamp_millis().checked_sub(now_ms).map(|ms| ms.max(0));
    }
    parse_duration(value)
        .ok()
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn header_is(headers: &http::HeaderMap, name: &str, expected: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Option<u16>, headers: &[(&'static str, &str)]) -> AttemptResult {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        AttemptResult { status, headers: map }
    }

    #[test]
    fn default_backoff_follows_the_documented_table() {
        // 12 s, 2 m 28 s, 30 m 8 s, 6 h 7 m 6 s, then capped at a day.
        assert_eq!(default_backoff_ms(1) / 1000, 12);
        assert_eq!(default_backoff_ms(2) / 1000, 148);
        assert_eq!(default_backoff_ms(3) / 1000, 1808);
        assert_eq!(default_backoff_ms(4) / 1000, 22026);
        assert_eq!(default_backoff_ms(5), 86_400_000);
        assert_eq!(default_backoff_ms(50), 86_400_000);
    }

    #[test]
    fn any_2xx_is_delivered() {
        for s in [200, 201, 204, 299] {
            assert_eq!(classify(&result(Some(s), &[]), 1, 3, None, 0), Outcome::Delivered);
        }
    }

    #[test]
    fn failures_retry_until_attempts_run_out() {
        let r = result(Some(500), &[]);
        assert_eq!(
            classify(&r, 1, 3, None, 1_000),
            Outcome::Retry {
                at: 1_000 + default_backoff_ms(1)
            }
        );
        assert_eq!(
            classify(&r, 3, 3, None, 0),
            Outcome::Retry {
                at: default_backoff_ms(3)
            }
        );
        assert_eq!(classify(&r, 4, 3, None, 0), Outcome::Failed);
        assert_eq!(classify(&result(None, &[]), 1, 0, None, 0), Outcome::Failed);
        assert_eq!(
            classify(&result(Some(301), &[]), 1, 0, None, 0),
            Outcome::Failed,
            "redirects are failures"
        );
    }

    #[test]
    fn non_retryable_489_fails_at_once() {
        let r = result(Some(489), &[("upstash-nonretryable-error", "true")]);
        assert_eq!(classify(&r, 1, 5, None, 0), Outcome::Failed);
        let plain_489 = result(Some(489), &[]);
        assert!(matches!(classify(&plain_489, 1, 5, None, 0), Outcome::Retry { .. }));
    }

    #[test]
    fn a_retry_delay_expression_sets_the_next_retry_unless_the_destination_says_otherwise() {
        let delay = RetryDelay::parse("1000 * (1 + retried)").unwrap();
        let failed = result(Some(500), &[]);
        assert_eq!(classify(&failed, 1, 3, Some(&delay), 0), Outcome::Retry { at: 1_000 });
        assert_eq!(classify(&failed, 3, 3, Some(&delay), 0), Outcome::Retry { at: 3_000 });
        let directed = result(Some(429), &[("retry-after", "7")]);
        assert_eq!(classify(&directed, 1, 3, Some(&delay), 0), Outcome::Retry { at: 7_000 });
        let broken = RetryDelay::parse("1 / 0").unwrap();
        assert_eq!(
            classify(&failed, 1, 3, Some(&broken), 0),
            Outcome::Retry {
                at: default_backoff_ms(1)
            }
        );
    }

    #[test]
    fn the_destination_can_direct_the_next_retry() {
        let now = 1_700_000_000_000;
        let at = |h: &[(&'static str, &str)]| classify(&result(Some(429), h), 1, 3, None, now);
        for (header, value, after_ms) in [
            ("retry-after", "7", 7_000),
            ("retry-after", "0", 0),
            ("x-ratelimit-reset", "6m5s", 365_000),
            ("x-ratelimit-reset-tokens", "250ms", 250),
            ("x-ratelimit-reset", "1700000060", 60_000),
            ("retry-after", "Tue, 14 Nov 2023 22:14:20 GMT", 60_000),
        ] {
            assert_eq!(
                at(&[(header, value)]),
                Outcome::Retry { at: now + after_ms },
                "{header}: {value}"
            );
        }
        // Above a day, or unreadable: the default backoff applies.
        let default = Outcome::Retry {
            at: now + default_backoff_ms(1),
        };
        assert_eq!(at(&[("retry-after", "86401")]), default);
        assert_eq!(at(&[("retry-after", "soon")]), default);
        for huge in [
            "9223372036854775807",
            "9223372036854775",
            "-9223372036854775808",
            "99999999999999999999",
        ] {
            assert_eq!(at(&[("retry-after", huge)]), default, "Retry-After: {huge}");
            assert_eq!(at(&[("x-ratelimit-reset", huge)]), default, "X-RateLimit-Reset: {huge}");
        }
    }
}
