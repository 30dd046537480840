//! Property tests: every parser of client input answers a value or an error for anything it is given, and
//! never panics (a panic in a handler is a 500, in the worker a stuck delivery).

use proptest::prelude::*;

use super::callback::{self, Kind};
use super::cron::Cron;
use super::option_rules::Limits;
use super::options::MessageOptions;
use super::retry_delay::RetryDelay;
use super::{duration, flow_control, redact, retry};

const LIMITS: Limits = Limits {
    default_retries: 3,
    max_retries: 20,
    max_delay_ms: 7 * 86_400_000,
    max_timeout_ms: 3_600_000,
};

/// Every header a publish, schedule or DLQ retry reads, with and without the callback prefixes.
const OPTION_HEADERS: &[&str] = &[
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
    "upstash-flow-control-key",
    "upstash-flow-control-value",
    "upstash-forward-x-custom",
    "upstash-forward-",
    "upstash-forward-host",
    "content-type",
    "upstash-callback",
    "upstash-callback-method",
    "upstash-callback-retries",
    "upstash-callback-timeout",
    "upstash-callback-retry-delay",
    "upstash-callback-delay",
    "upstash-callback-forward-x-a",
    "upstash-failure-callback",
    "upstash-failure-callback-method",
    "upstash-failure-callback-retries",
    "upstash-failure-callback-timeout",
    "upstash-failure-callback-retry-delay",
    "upstash-failure-callback-delay",
    "upstash-failure-callback-forward-x-b",
];

/// Values shaped like what the headers expect, near their edges, and arbitrary text.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "-?[0-9]{1,25}(\\.[0-9]{1,5})?(ns|us|ms|s|m|h|d)?([0-9]{1,5}(ms|s|m|h))?",
        "(https?://)?[a-z.]{0,12}(:[0-9]{1,6})?(/[a-z%0-9]{0,6}){0,3}",
        "[A-Za-z0-9 ,=:;*()+/%.^_-]{0,40}",
        "(pow|sqrt|exp|abs|max|min)\\((retried|[0-9]{1,20})(, ?[0-9e.]{1,20})?\\)( [-+*/%] [0-9]{1,20}){0,3}",
        "(parallelism|rate|period)=[0-9a-z-]{0,22}(, ?(parallelism|rate|period)=[0-9a-z-]{0,22}){0,2}",
        "(body|header|url|[a-z]{1,5})(,(body|header|url|[a-z]{1,5})){0,3}",
        "\\PC{0,30}",
    ]
}

fn headers() -> impl Strategy<Value = http::HeaderMap> {
    proptest::collection::vec((proptest::sample::select(OPTION_HEADERS), header_value()), 0..8).prop_map(|pairs| {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                map.append(http::HeaderName::from_static(name), value);
            }
        }
        map
    })
}

fn now_ms() -> impl Strategy<Value = i64> {
    prop_oneof![Just(1_767_225_600_000i64), 0..4_102_444_800_000i64, any::<i64>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn option_headers_parse_or_fail_cleanly(headers in headers(), now in now_ms()) {
        if let Ok(options) = MessageOptions::from_headers(&headers, &LIMITS) {
            if let Ok(due) = options.first_due_ms(now, &LIMITS) {
                prop_assert!(due >= now.min(due));
            }
            if let Some(delay) = &options.retry_delay {
                for retried in [0, 1, 30, i32::MAX] {
                    prop_assert!(delay.delay_ms(retried).is_none_or(|ms| ms >= 0));
                }
            }
        }
    }

    #[test]
    fn callback_options_parse_or_fail_cleanly(headers in headers()) {
        let _ = callback::parse(&headers, Kind::Callback, &LIMITS);
        let _ = callback::parse(&headers, Kind::Failure, &LIMITS);
    }

    #[test]
    fn flow_control_parses_or_fails_cleanly(key in proptest::option::of(header_value()), value in proptest::option::of(header_value())) {
        let _ = flow_control::parse(key.as_deref(), value.as_deref());
    }

    #[test]
    fn retry_delay_expressions_parse_or_fail_cleanly(source in header_value(), retried in any::<i32>()) {
        if let Ok(delay) = RetryDelay::parse(&source) {
            prop_assert!(delay.delay_ms(retried).is_none_or(|ms| (0..=86_400_000).contains(&ms)));
        }
    }

    #[test]
    fn durations_and_redact_fields_parse_or_fail_cleanly(text in header_value()) {
        let _ = duration::parse_duration(&text);
        let _ = redact::parse(&text);
    }

    #[test]
    fn destination_retry_headers_never_overflow(value in header_value(), now in now_ms(), attempt in 1..30i32) {
        let mut headers = http::HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert("retry-after", value.clone());
            headers.insert("x-ratelimit-reset", value);
        }
        let result = super::retry::AttemptResult { status: Some(429), headers };
        match retry::classify(&result, attempt, 100, None, now) {
            retry::Outcome::Retry { at } => prop_assert!(at >= now),
            other => prop_assert!(false, "a 429 with attempts left retries, got {other:?}"),
        }
    }

    #[test]
    fn cron_expressions_parse_or_fail_cleanly(
        expression in prop_oneof![
            "(CRON_TZ=[A-Za-z/_+-]{0,20} )?([0-9*,/?LW#-]{1,8} ){4,6}[0-9A-Za-z*,/?LW#-]{1,8}",
            "@(yearly|annually|monthly|weekly|daily|hourly|every [0-9a-z]{1,6}|[a-z]{1,8})",
            "\\PC{0,40}",
        ],
        after in now_ms(),
    ) {
        if let Ok(cron) = Cron::parse(&expression) {
            if let Some(next) = cron.next_after(after) {
                prop_assert!(next > after, "{expression}: {next} after {after}");
            }
        }
    }
}
