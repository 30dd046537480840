//! The log fields of issue 23: a failed attempt's response on its ERROR entry (`responseHeaders` and
//! `responseHeader`, `responseBody` in base64, cut to --log-response-bytes) and the headers the callbacks
//! carry (`callbackHeaders`, `failureCallbackHeaders`), all under the message's `Upstash-Redact-Fields`.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp};

backend_tests!(
    error_entries_carry_the_response_and_entries_the_callback_headers,
    logs_cut_the_response_body_to_their_own_cap,
    logs_redact_the_response_and_the_callback_headers,
);

fn hashed(value: &[u8]) -> String {
    let digest: String = Sha256::digest(value).iter().map(|b| format!("{b:02x}")).collect();
    format!("REDACTED:{digest}")
}

fn decoded(field: &Value) -> Vec<u8> {
    STANDARD.decode(field.as_str().expect("a base64 string")).unwrap()
}

/// The message's entries, newest first.
async fn entries(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, page) = app.get_json(&format!("/v2/events?messageId={id}")).await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().unwrap().clone()
}

fn of_state<'a>(entries: &'a [Value], state: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["state"] == state).collect()
}

fn failing(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    Reply::Full {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: body.to_vec(),
    }
}

async fn error_entries_carry_the_response_and_entries_the_callback_headers(backend: Backend) {
    let receiver = Receiver::answering(|_| failing(500, &[("X-Reason", "quota")], b"boom")).await;
    let callbacks = Receiver::answering(|_| Reply::Status(200)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(
            &receiver.url,
            "x",
            &[
                ("Upstash-Retries", "1"),
                ("Upstash-Callback", &callbacks.url),
                ("Upstash-Callback-Forward-X-Cb", "after-each"),
                ("Upstash-Failure-Callback", &callbacks.url),
                ("Upstash-Failure-Callback-Forward-X-Fcb", "after-the-last"),
            ],
        )
        .await;
    app.dispatcher.run_once().await.unwrap();
    // The retry, answered without a body this time; then the final failure (the DLQ path).
    receiver.answer(|_| failing(503, &[], b""));
    app.clock.advance_ms(86_400_000);
    app.run_until_idle().await;

    let all = entries(&app, &id).await;
    let errors = of_state(&all, "ERROR");
    assert_eq!(errors.len(), 2, "{all:?}");
    let (last, first) = (errors[0], errors[1]);
    assert_eq!(first["responseStatus"], 500);
    assert_eq!(first["responseHeaders"]["X-Reason"], serde_json::json!(["quota"]));
    assert_eq!(
        first["responseHeader"], first["responseHeaders"],
        "both names (spec §15 #4)"
    );
    assert_eq!(decoded(&first["responseBody"]), b"boom", "base64, like body");
    assert_eq!(last["responseStatus"], 503);
    assert_eq!(decoded(&last["responseBody"]), b"", "an empty body is kept as empty");
    assert!(last["responseHeaders"].is_object());
    for entry in all.iter().filter(|e| e["state"] != "ERROR") {
        for field in ["responseBody", "responseHeaders", "responseHeader"] {
            assert!(entry.get(field).is_none(), "{field} only on ERROR: {entry}");
        }
    }
    for entry in &all {
        assert_eq!(
            entry["callbackHeaders"]["X-Cb"],
            serde_json::json!(["after-each"]),
            "{entry}"
        );
        assert_eq!(
            entry["failureCallbackHeaders"]["X-Fcb"],
            serde_json::json!(["after-the-last"]),
            "{entry}"
        );
    }

    // An attempt without a response (a timeout) has neither field.
    let slow = Receiver::answering(|_| Reply::SlowOk(Duration::from_secs(3))).await;
    let id = app
        .publish_ok(
            &slow.url,
            "x",
            &[("Upstash-Retries", "0"), ("Upstash-Timeout", "200ms")],
        )
        .await;
    app.run_until_idle().await;
    let all = entries(&app, &id).await;
    let error = of_state(&all, "ERROR")[0];
    assert_eq!(error["responseStatus"], 0);
    assert!(
        error.get("responseBody").is_none() && error.get("responseHeaders").is_none(),
        "{error}"
    );
    assert!(
        error.get("callbackHeaders").is_none(),
        "no callback, no headers: {error}"
    );
    app.stop().await;
}

async fn logs_cut_the_response_body_to_their_own_cap(backend: Backend) {
    // Not UTF-8 (continuation bytes only): the DLQ shows it under responseBodyBase64.
    let body: Vec<u8> = (0..200u8).map(|i| 0x80 | (i % 64)).collect();
    let answer = body.clone();
    let receiver = Receiver::answering(move |_| failing(500, &[], &answer)).await;
    // The log's cap above the DLQ's: the body is read to the larger, and each keeps its own cut.
    let options = Options::stepped().with(|c| {
        c.log_response_bytes = 150;
        c.dlq_response_bytes = 40;
    });
    let app = spawn_app(backend, options).await;
    let id = app.publish_ok(&receiver.url, "x", &[("Upstash-Retries", "0")]).await;
    app.run_until_idle().await;
    let all = entries(&app, &id).await;
    assert_eq!(decoded(&of_state(&all, "ERROR")[0]["responseBody"]), &body[..150]);
    let (_, dlq) = app.get_json("/v2/dlq").await;
    let dlq_body = &dlq["messages"][0]["responseBodyBase64"];
    assert_eq!(decoded(dlq_body), &body[..40], "the DLQ keeps its own cap: {dlq}");
    app.stop().await;

    // The default cap: 4 KiB, for the body and for the headers (a header that does not fit is left out).
    let big = vec![b'z'; 10_000];
    let huge_header = "h".repeat(5_000);
    let receiver =
        Receiver::answering(move |_| failing(500, &[("X-Huge", &huge_header), ("X-Small", "s")], &big)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app.publish_ok(&receiver.url, "x", &[("Upstash-Retries", "0")]).await;
    app.run_until_idle().await;
    let all = entries(&app, &id).await;
    let error = of_state(&all, "ERROR")[0];
    assert_eq!(decoded(&error["responseBody"]), vec![b'z'; 4096]);
    assert!(error["responseHeaders"].get("X-Huge").is_none(), "{error}");
    assert_eq!(error["responseHeaders"]["X-Small"][0], "s");
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"][0]["responseBody"].as_str().unwrap().len(), 10_000);
    assert_eq!(
        dlq["messages"][0]["responseHeader"]["X-Huge"][0]
            .as_str()
            .unwrap()
            .len(),
        5_000
    );
    app.stop().await;
}

async fn logs_redact_the_response_and_the_callback_headers(backend: Backend) {
    let secret_body = b"{\"echo\":\"card 4242 4242\"}";
    let receiver = Receiver::answering(move |_| {
        failing(
            500,
            &[("Authorization", "Bearer echoed-secret"), ("X-Trace", "visible")],
            secret_body,
        )
    })
    .await;
    let callbacks = Receiver::answering(|_| Reply::Status(200)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(
            &receiver.url,
            "x",
            &[
                ("Upstash-Redact-Fields", "body, header[Authorization]"),
                ("Upstash-Retries", "0"),
                ("Upstash-Callback", &callbacks.url),
                ("Upstash-Callback-Forward-Authorization", "Bearer callback-secret"),
                ("Upstash-Callback-Forward-X-Cb", "visible-cb"),
                ("Upstash-Failure-Callback", &callbacks.url),
                (
                    "Upstash-Failure-Callback-Forward-Authorization",
                    "Bearer failure-secret",
                ),
            ],
        )
        .await;
    app.run_until_idle().await;
    let all = entries(&app, &id).await;
    let error = of_state(&all, "ERROR")[0];
    assert_eq!(error["responseBody"], hashed(secret_body));
    assert_eq!(
        error["responseHeaders"]["Authorization"][0],
        hashed(b"Bearer echoed-secret")
    );
    assert_eq!(
        error["responseHeader"]["Authorization"][0],
        hashed(b"Bearer echoed-secret")
    );
    assert_eq!(error["responseHeaders"]["X-Trace"][0], "visible");
    for entry in &all {
        assert_eq!(
            entry["callbackHeaders"]["Authorization"][0],
            hashed(b"Bearer callback-secret")
        );
        assert_eq!(entry["callbackHeaders"]["X-Cb"][0], "visible-cb");
        assert_eq!(
            entry["failureCallbackHeaders"]["Authorization"][0],
            hashed(b"Bearer failure-secret")
        );
    }
    let shown = serde_json::to_string(&all).unwrap();
    for secret in ["echoed-secret", "callback-secret", "failure-secret", "4242"] {
        assert!(!shown.contains(secret), "{secret} shows: {shown}");
    }

    // `header` hides every header value, the destination's and the callbacks' too.
    let id = app
        .publish_ok(
            &receiver.url,
            "x",
            &[
                ("Upstash-Redact-Fields", "header"),
                ("Upstash-Retries", "0"),
                ("Upstash-Callback", &callbacks.url),
                ("Upstash-Callback-Forward-X-Cb", "hidden-cb"),
            ],
        )
        .await;
    app.run_until_idle().await;
    let all = entries(&app, &id).await;
    let error = of_state(&all, "ERROR")[0];
    assert_eq!(error["responseHeaders"]["X-Trace"][0], hashed(b"visible"));
    assert_eq!(error["callbackHeaders"]["X-Cb"][0], hashed(b"hidden-cb"));
    assert_eq!(
        decoded(&error["responseBody"]),
        secret_body,
        "the body is not redacted here"
    );
    app.stop().await;
}
