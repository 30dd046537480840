//! Property tests through the real app (issue 9): generated query strings and bodies thrown at every bulk
//! endpoint get a success or a 4xx with a JSON error, never a 5xx; and a filter that names nothing that
//! exists never touches any message or DLQ entry (fail closed).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, T0};

backend_tests!(
    bulk_endpoints_answer_generated_requests_with_success_or_a_4xx,
    a_filter_naming_nothing_that_exists_affects_nothing,
);

const ENDPOINTS: &[(&str, &str)] = &[
    ("DELETE", "/v2/messages"),
    ("DELETE", "/v2/dlq"),
    ("POST", "/v2/dlq/retry"),
];

/// Every key the bulk endpoints know, plus paging keys and a few they do not.
const KEYS: &[&str] = &[
    "messageIds",
    "messageId",
    "dlqIds",
    "topicName",
    "queueName",
    "url",
    "host",
    "path",
    "label",
    "flowControlKey",
    "scheduleId",
    "callerIp",
    "callerIP",
    "responseStatus",
    "fromDate",
    "toDate",
    "count",
    "cursor",
    "order",
    "all",
    "labels",
    "",
];

/// Fields of the JSON-body style, plus a typo.
const BODY_KEYS: &[&str] = &[
    "messageIds",
    "dlqIds",
    "url",
    "topicName",
    "queueName",
    "scheduleId",
    "callerIP",
    "callerIp",
    "fromDate",
    "toDate",
    "all",
    "mesageIds",
];

/// Generated requests run one after another against one app per backend (a fresh app per case would make
/// the suite slow without finding more).
fn run_cases<S>(cases: u32, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&strategy, check)
        .unwrap_or_else(|failure| panic!("{failure}"));
}

fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[ ,]{1,3}",
        "[a-z0-9_.-]{1,12}(,[a-z0-9_.-]{0,12}){0,3}",
        any::<i64>().prop_map(|n| n.to_string()),
        "(https?://)?[a-z.]{1,12}(/[a-z]{0,5}){0,2}",
        "(msg|scd)_[A-Za-z0-9]{0,26}",
        "\\PC{0,12}",
        "[0-9]{13}-[A-Za-z0-9]{10}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec((proptest::sample::select(KEYS), query_value()), 0..5).prop_map(|pairs| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in pairs {
                query.append_pair(key, &value);
            }
            query.finish()
        }),
        1 => "[ -~]{0,40}",
        // Long value lists, around the limit on values per filter.
        1 => (proptest::sample::select(&["label", "messageIds", "dlqIds", "url"][..]), 990..1_100usize)
            .prop_map(|(key, n)| (0..n).map(|i| format!("{key}=v{i}")).collect::<Vec<_>>().join("&")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        query_value().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(proptest::sample::select(BODY_KEYS).prop_map(String::from), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        3 => Just(None),
        3 => json_value().prop_map(|v| Some(v.to_string().into_bytes())),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some),
    ]
}

/// Pending messages (labels `a` and `b`) and DLQ entries for the properties to aim at.
async fn populated(backend: Backend) -> (TestApp, Receiver) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    for label in ["a", "b"] {
        app.publish_ok(
            "https://example.com/x",
            label,
            &[("Upstash-Delay", "1h"), ("Upstash-Label", label)],
        )
        .await;
        app.publish_ok(
            &receiver.url,
            label,
            &[("Upstash-Retries", "0"), ("Upstash-Label", label)],
        )
        .await;
    }
    assert_eq!(app.run_until_idle().await, 2);
    (app, receiver)
}

async fn send(app: &TestApp, method: &str, path: &str, query: &str, body: Option<Vec<u8>>) -> (u16, String) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let mut request = app.request(method, &target);
    if let Some(body) = body {
        request = request.header("Content-Type", "application/json").body(body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn bulk_endpoints_answer_generated_requests_with_success_or_a_4xx(backend: Backend) {
    let (app, _receiver) = populated(backend).await;
    let handle = tokio::runtime::Handle::current();
    let app = std::sync::Arc::new(app);
    let shared = app.clone();
    tokio::task::spawn_blocking(move || {
        let strategy = (proptest::sample::select(ENDPOINTS), query(), body());
        run_cases(300, strategy, move |((method, path), query, body)| {
            let (status, text) = handle.block_on(send(&shared, method, path, &query, body));
            prop_assert!(status < 500, "{method} {path}?{query} gave {status}: {text}");
            let json: Value =
                serde_json::from_str(&text).map_err(|_| TestCaseError::fail(format!("not JSON: {text}")))?;
            if status >= 400 {
                prop_assert!(json["error"].is_string(), "{method} {path}?{query}: {json}");
            }
            Ok(())
        });
    })
    .await
    .unwrap();
    std::sync::Arc::into_inner(app).unwrap().stop().await;
}

/// A filter whose every value names nothing that exists (or nothing at all), in the query or a JSON body.
fn naming_nothing() -> impl Strategy<Value = (Vec<(&'static str, String)>, bool)> {
    // Values no row holds, and blank values, which name nothing at all.
    let missing = prop_oneof![
        3 => "zz-none-[a-z0-9]{1,8}",
        1 => proptest::sample::select(&["", " ", ",", " , "][..]).prop_map(String::from),
    ];
    let filter = prop_oneof![
        (
            // The text filters: the first twelve keys.
            proptest::sample::select(&KEYS[..12]),
            missing
        )
            .prop_map(|(key, value)| (key, value)),
        (0..T0 - 1_000_000).prop_map(|to| ("toDate", to.to_string())),
        (T0 + 1_000_000..i64::MAX).prop_map(|from| ("fromDate", from.to_string())),
        (100..500i32).prop_map(|status| ("responseStatus", status.to_string())),
    ];
    (proptest::collection::vec(filter, 1..4), any::<bool>())
}

/// The JSON-body form of `filter`, where the body style has all its keys.
fn as_body(filter: &[(&str, String)]) -> Option<Vec<u8>> {
    let mut body = serde_json::Map::new();
    for (key, value) in filter {
        let value = match *key {
            "messageIds" | "dlqIds" => json!([value]),
            "fromDate" | "toDate" => json!(value.parse::<i64>().unwrap()),
            "url" | "topicName" | "queueName" | "scheduleId" => json!(value),
            "callerIp" => json!(value),
            _ => return None,
        };
        body.insert(key.to_string(), value);
    }
    Some(serde_json::to_vec(&body).unwrap())
}

async fn snapshot(app: &TestApp) -> (Value, Value) {
    let (_, events) = app.get_json("/v2/events?count=1000").await;
    let (_, dlq) = app.get_json("/v2/dlq").await;
    (events, dlq)
}

async fn a_filter_naming_nothing_that_exists_affects_nothing(backend: Backend) {
    let (app, _receiver) = populated(backend).await;
    let before = snapshot(&app).await;
    assert_eq!(before.1["messages"].as_array().unwrap().len(), 2);
    let handle = tokio::runtime::Handle::current();
    let app = std::sync::Arc::new(app);
    let shared = app.clone();
    tokio::task::spawn_blocking(move || {
        let strategy = (proptest::sample::select(ENDPOINTS), naming_nothing());
        run_cases(150, strategy, move |((method, path), (filter, in_body))| {
            let body = if in_body { as_body(&filter) } else { None };
            let query = if body.is_some() {
                String::new()
            } else {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                for (key, value) in &filter {
                    query.append_pair(key, value);
                }
                query.finish()
            };
            let (status, text) = handle.block_on(send(&shared, method, path, &query, body));
            prop_assert!(
                status == 200 || status == 400,
                "{method} {path}?{query} gave {status}: {text}"
            );
            if status == 200 {
                let json: Value = serde_json::from_str(&text).unwrap();
                let touched = json["cancelled"]
                    .as_i64()
                    .or(json["deleted"].as_i64())
                    .unwrap_or_else(|| json["responses"].as_array().map_or(-1, |r| r.len() as i64));
                prop_assert_eq!(touched, 0, "{} {}?{} answered {}", method, path, query, json);
            }
            let after = handle.block_on(snapshot(&shared));
            prop_assert_eq!(&after, &before, "{} {}?{} changed something", method, path, query);
            Ok(())
        });
    })
    .await
    .unwrap();
    std::sync::Arc::into_inner(app).unwrap().stop().await;
}
