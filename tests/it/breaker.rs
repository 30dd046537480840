//! The circuit breaker (issue 20): it protects capacity without consuming messages. Only attempts that could
//! not reach a host count against it, judged as a rate over a recent window; while a circuit is open its
//! host's attempts are postponed, not made, so `Upstash-Retried` and the retries left do not change, and a
//! host that answers most requests never has messages dead-lettered without trying. The engine is stepped
//! and the clock moved by hand; receivers decide from the request, so every run is the same.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::flaky::{Act, FlakyReceiver};
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, T0};

backend_tests!(
    a_flaky_host_that_answers_most_requests_dead_letters_only_messages_whose_every_attempt_failed,
    errors_slow_answers_and_dropped_requests_never_open_a_hosts_circuit,
    an_open_circuit_postpones_attempts_without_changing_upstash_retried_or_spending_retries,
);

/// 0..100, the same for the same message and attempt in every run.
fn roll(message: u64, retried: u32) -> u64 {
    // splitmix64
    let mut z = message
        .wrapping_mul(8)
        .wrapping_add(u64::from(retried))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % 100
}

/// The receiver: 500 to 30% of requests, closes 10% without answering, holds 5% past the message's
/// timeout, and answers 200 to the rest.
fn flaky(message: u64, retried: u32) -> Act {
    match roll(message, retried) {
        0..=29 => Act::Status(500),
        30..=39 => Act::Close,
        40..=44 => Act::Hold,
        _ => Act::Status(200),
    }
}

/// The message number in a path `/m/{n}`.
fn number(path: &str) -> u64 {
    path.trim_start_matches("/m/").parse().unwrap()
}

/// Publishes `/m/0` … `/m/{n-1}` to `base` through `/v2/batch`, with `headers` on each.
async fn publish_numbered(app: &TestApp, base: &str, n: u64, headers: Value) {
    let numbers: Vec<u64> = (0..n).collect();
    for chunk in numbers.chunks(500) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"destination": format!("{base}/m/{i}"), "headers": headers, "body": "x"}))
            .collect();
        let (status, answer) = app.send_json(app.request(Method::POST, "/v2/batch").json(&items)).await;
        assert_eq!(status, 201, "{answer}");
    }
}

/// The URL of every DLQ entry.
async fn dead_lettered_urls(app: &TestApp) -> Vec<String> {
    let mut urls = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v2/dlq?count=100&cursor={c}"),
            None => "/v2/dlq?count=100".to_string(),
        };
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        for entry in page["messages"].as_array().unwrap() {
            urls.push(entry["url"].as_str().unwrap().to_string());
        }
        match page["cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
            _ => return urls,
        }
    }
}

async fn a_flaky_host_that_answers_most_requests_dead_letters_only_messages_whose_every_attempt_failed(
    backend: Backend,
) {
    const MESSAGES: u64 = 1_000;
    const ATTEMPTS: u32 = 5;
    let receiver = FlakyReceiver::start(|path, retried| flaky(number(path), retried)).await;
    // The breaker's defaults; a step delivers half the messages at once.
    let app = spawn_app(
        backend,
        Options::stepped().with(|c| {
            c.max_in_flight = 500;
            c.max_in_flight_per_host = 500;
            c.claim_batch = 500;
        }),
    )
    .await;
    let headers = json!({"Upstash-Retries": "4", "Upstash-Retry-Delay": "200", "Upstash-Timeout": "2s"});
    publish_numbered(&app, &receiver.url, MESSAGES, headers).await;

    // Before: the holds of one step timed out together, five "in a row" opened the circuit for 30 s, and
    // every attempt meanwhile failed at once and counted, so messages reached the DLQ without being tried.
    for _ in 0..ATTEMPTS {
        app.run_until_idle().await;
        app.clock.advance_ms(200);
    }
    app.clock.advance_ms(86_400_000);
    assert_eq!(app.run_until_idle().await, 0, "every message has ended");

    let mut tries: BTreeMap<u64, Vec<(u32, Act)>> = BTreeMap::new();
    for seen in receiver.seen() {
        tries
            .entry(number(&seen.path))
            .or_default()
            .push((seen.retried, seen.act));
    }
    let mut expected_dlq = BTreeSet::new();
    for message in 0..MESSAGES {
        // What a sender that simply retries does: attempt until one gets a 200, at most five.
        let expected: Vec<(u32, Act)> = (0..ATTEMPTS)
            .map(|retried| (retried, flaky(message, retried)))
            .scan(false, |done, attempt| {
                (!*done).then(|| {
                    *done = attempt.1 == Act::Status(200);
                    attempt
                })
            })
            .collect();
        if expected.iter().all(|(_, act)| *act != Act::Status(200)) {
            expected_dlq.insert(message);
        }
        let mut got = tries.remove(&message).unwrap_or_default();
        got.sort_by_key(|(retried, _)| *retried);
        assert_eq!(
            got, expected,
            "message {message}: every allowed attempt reached the receiver"
        );
    }
    let dead: BTreeSet<u64> = dead_lettered_urls(&app)
        .await
        .iter()
        .map(|url| number(url.trim_start_matches(&receiver.url)))
        .collect();
    assert_eq!(
        dead, expected_dlq,
        "the DLQ holds exactly the messages whose five attempts all failed at the receiver"
    );
    assert!(
        (5..40).contains(&expected_dlq.len()),
        "about 0.45⁵ of the messages: {}",
        expected_dlq.len()
    );
    app.stop().await;
}

/// A breaker that opens at the first attempts, were they to count.
fn eager_breaker() -> Options {
    Options::stepped().with(|c| {
        c.breaker_failure_rate = 1;
        c.breaker_min_attempts = 2;
    })
}

async fn errors_slow_answers_and_dropped_requests_never_open_a_hosts_circuit(backend: Backend) {
    let receiver = FlakyReceiver::start(|path, _| match number(path) % 3 {
        0 => Act::Status(500),
        1 => Act::Close,
        _ => Act::Hold,
    })
    .await;
    let app = spawn_app(backend, eager_breaker()).await;
    let headers = json!({"Upstash-Retries": "2", "Upstash-Retry-Delay": "0", "Upstash-Timeout": "1s"});
    publish_numbered(&app, &receiver.url, 9, headers).await;
    for _ in 0..3 {
        app.run_until_idle().await;
        app.clock.advance_ms(1);
    }
    let seen = receiver.seen();
    assert_eq!(
        seen.len(),
        27,
        "every message got its three attempts at the host: {seen:?}"
    );
    assert_eq!(dead_lettered_urls(&app).await.len(), 9);
    app.stop().await;
}

/// A port that refuses connections (nothing listens on it), on a loopback host of its own for each backend:
/// the two halves run at once, and a port one of them frees must not be the other's.
fn refusing_port(backend: Backend) -> std::net::SocketAddr {
    let last = match backend {
        Backend::Sqlite => 8,
        Backend::Postgres => 9,
    };
    std::net::TcpListener::bind(std::net::SocketAddr::from(([127, 0, 0, last], 0)))
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn events_of(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, page) = app.get_json(&format!("/v2/events?messageId={id}&count=1000")).await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().unwrap().clone()
}

/// Attempts of the message that were dialled and refused: its ERROR entries saying so.
async fn refused_attempts(app: &TestApp, id: &str) -> usize {
    let events = events_of(app, id).await;
    events
        .iter()
        .filter(|e| e["state"] == "ERROR" && e["error"].as_str().unwrap_or_default().starts_with("could not connect"))
        .count()
}

async fn an_open_circuit_postpones_attempts_without_changing_upstash_retried_or_spending_retries(backend: Backend) {
    const COOLDOWN_MS: i64 = 60_000;
    let addr = refusing_port(backend);
    let url = format!("http://{addr}");
    let app = spawn_app(
        backend,
        Options::stepped().with(|c| {
            c.breaker_failure_rate = 50;
            c.breaker_min_attempts = 2;
            c.breaker_cooldown = Duration::from_millis(COOLDOWN_MS as u64);
            // The probe's turn is the connect timeout and a second.
            c.connect_timeout = Duration::from_secs(1);
        }),
    )
    .await;
    // One retry each: after the refused attempt that opens the circuit, none is left to spare.
    let mut first = Vec::new();
    for i in 0..2 {
        first.push(
            app.publish_ok(&format!("{url}/a/{i}"), "x", &[("Upstash-Retries", "1")])
                .await,
        );
    }
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 2);
    let mut retried_before = Vec::new();
    for id in &first {
        assert_eq!(refused_attempts(&app, id).await, 1);
        retried_before.push(app.message(id).await["retried"].clone());
    }
    // Open: two of two attempts could not reach the host. Messages that may make only one attempt wait.
    let mut waiting = Vec::new();
    for i in 0..5 {
        waiting.push(
            app.publish_ok(&format!("{url}/b/{i}"), "x", &[("Upstash-Retries", "0")])
                .await,
        );
    }
    app.run_until_idle().await;
    let probe_at = T0 + COOLDOWN_MS;
    for id in &waiting {
        let message = app.message(id).await;
        assert_eq!(message["retried"], 0, "{message}");
        assert_eq!(message["nextDeliveryTime"], probe_at, "{message}");
        let events = events_of(&app, id).await;
        let last = events.first().unwrap();
        assert_eq!(last["state"], "RETRY", "{events:?}");
        let error = last["error"].as_str().unwrap();
        assert!(
            error.contains("not an attempt") && error.contains("waiting for the circuit") && error.contains("probed"),
            "{error}"
        );
        assert_eq!(refused_attempts(&app, id).await, 0, "not dialled");
    }
    // The first two's retries come due while the circuit is open: postponed too, not dead-lettered.
    app.clock.advance_ms(postdate::domain::retry::default_backoff_ms(1));
    app.run_until_idle().await;
    for (id, retried) in first.iter().zip(&retried_before) {
        let message = app.message(id).await;
        assert_eq!(
            (&message["retried"], message["state"].as_str()),
            (retried, Some("RETRY")),
            "{message}"
        );
        assert_eq!(message["nextDeliveryTime"], probe_at);
        assert_eq!(refused_attempts(&app, id).await, 1, "not dialled again");
    }

    // The host comes back on the same port. When the cooldown ends one delivery probes it and closes the
    // circuit; the others wait for the probe's turn, then go.
    let back = Receiver::answering_at(addr, |_| Reply::Status(200)).await;
    app.clock.set_ms(probe_at);
    app.run_until_idle().await;
    // The probe goes first. Deliveries of the same claim that reach the gate while it is out wait for its
    // turn; those that reach it after its answer closed the circuit go at once (a race of the claim's own
    // tasks, so either is right). None is sent before the probe, and none is dead-lettered.
    let sent = back.requests();
    assert!(!sent.is_empty(), "the probe went");
    let all: Vec<&String> = first.iter().chain(&waiting).collect();
    let sent_ids: Vec<String> = sent.iter().map(|r| r.message_id().to_string()).collect();
    for id in all.iter().filter(|id| !sent_ids.contains(id)) {
        assert_eq!(app.message(id).await["nextDeliveryTime"], probe_at + 2_000);
    }
    app.clock.advance_ms(2_000);
    app.run_until_idle().await;
    for id in &all {
        app.wait_for_state(id, "DELIVERED").await;
    }
    let requests = back.requests();
    assert_eq!(requests.len(), all.len(), "each delivered once");
    for request in &requests {
        let id = request.message_id().to_string();
        let expected = if first.contains(&id) { "1" } else { "0" };
        assert_eq!(
            request.header("upstash-retried"),
            Some(expected),
            "Upstash-Retried counts only the attempts made ({id})"
        );
    }
    assert!(
        dead_lettered_urls(&app).await.is_empty(),
        "nothing dead-lettered while waiting"
    );
    app.stop().await;
}
