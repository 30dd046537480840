//! The message option headers of spec §2, added to every operation that reads them: publish, enqueue,
//! schedule create and DLQ retry (where they override the failed message's settings). One table, so the
//! four operations cannot drift apart; `domain::options` is what parses them.

use serde_json::json;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::{Object, Required, Type};

/// Operations that take the option headers.
const TAKES_OPTIONS: &[&str] = &["publish", "enqueue", "createSchedule", "retryDlq", "retryDlqMany"];

/// (name, description, example).
const OPTION_HEADERS: &[(&str, &str, &str)] = &[
    (
        "Upstash-Method",
        "HTTP method of the delivery: GET, POST, PUT, PATCH, DELETE (also HEAD, OPTIONS). Default POST.",
        "POST",
    ),
    (
        "Upstash-Delay",
        "Delay before the first delivery, from acceptance: a duration such as `10s`, `5m`, `2h`, `7d`, \
         `1d10h30m`. Default 0.",
        "10m",
    ),
    (
        "Upstash-Not-Before",
        "Earliest delivery time, Unix seconds. Wins over `Upstash-Delay`.",
        "1767225600",
    ),
    (
        "Upstash-Retries",
        "Retries after the first attempt (attempts = 1 + retries), capped at the server's maximum. Default 3.",
        "3",
    ),
    (
        "Upstash-Retry-Delay",
        "Milliseconds to wait before each retry, as an expression of `retried` (0 for the first retry) with \
         `pow, sqrt, abs, exp, floor, ceil, round, min, max`. Default: exponential backoff.",
        "pow(2, retried) * 1000",
    ),
    (
        "Upstash-Timeout",
        "Time limit of each attempt, a duration (`5s`, `2m`, `1.5s`). Default: the server's maximum.",
        "30s",
    ),
    (
        "Upstash-Callback",
        "URL that receives the outcome of every attempt (spec §12.5). `Upstash-Callback-Method`, \
         `-Timeout`, `-Retries`, `-Retry-Delay`, `-Delay` configure the callback itself and \
         `Upstash-Callback-Forward-<Name>` adds a header to it.",
        "https://example.com/callback",
    ),
    (
        "Upstash-Failure-Callback",
        "URL told once the message has finally failed. Configured like `Upstash-Callback`, with \
         `Upstash-Failure-Callback-…` headers.",
        "https://example.com/failed",
    ),
    (
        "Upstash-Deduplication-Id",
        "A second publish with the same id within the deduplication window is not stored again: the answer is \
         202 with the first message and `deduplicated: true` (spec §3.4). 1 to 512 characters.",
        "order-7",
    ),
    (
        "Upstash-Content-Based-Deduplication",
        "`true` to deduplicate on a hash of destination, body and headers. Case-insensitive.",
        "true",
    ),
    (
        "Upstash-Flow-Control-Key",
        "Messages with the same key share its limits (spec §8).",
        "billing",
    ),
    (
        "Upstash-Flow-Control-Value",
        "Limits of the key: `parallelism=<n>`, `rate=<n>`, `period=<duration>` (at most one week, default 1s), \
         in any subset and order, comma-separated.",
        "parallelism=2, rate=10, period=1m",
    ),
    (
        "Upstash-Label",
        "A label, or comma-separated labels, to filter by. The first is shown as `label`, all as `labels`.",
        "billing, nightly",
    ),
    (
        "Upstash-Redact-Fields",
        "Values hidden as `REDACTED:<sha256>` in the API and logs (delivery still sends them): `body`, \
         `header`, `header[<Name>]`, comma-separated.",
        "body, header[Authorization]",
    ),
    (
        "Upstash-Forward-Authorization",
        "Any `Upstash-Forward-<Name>` header is delivered as `<Name>` (this one as `Authorization`). Other \
         headers of the request are not forwarded, except `Content-Type`.",
        "Bearer receiver-secret",
    ),
];

/// Adds the option headers to the operations that take them.
pub(super) struct OptionHeaders;

impl utoipa::Modify for OptionHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (_, _, operation) in super::operations_mut(openapi) {
            let takes = operation
                .operation_id
                .as_deref()
                .is_some_and(|id| TAKES_OPTIONS.contains(&id));
            if !takes {
                continue;
            }
            let parameters = operation.parameters.get_or_insert_with(Vec::new);
            parameters.extend(OPTION_HEADERS.iter().map(|(name, description, example)| {
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(*description))
                    .schema(Some(Object::with_type(Type::String)))
                    .example(Some(json!(example)))
                    .build()
            }));
        }
    }
}
