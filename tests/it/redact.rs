//! `Upstash-Redact-Fields`: the API, the DLQ and the logs show hashes; deliveries carry the originals.

use reqwest::Method;
use sha2::{Digest, Sha256};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options};

backend_tests!(redacted_fields_are_hidden_everywhere_but_in_the_delivery);

fn hashed(value: &str) -> String {
    let digest: String = Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("REDACTED:{digest}")
}

async fn redacted_fields_are_hidden_everywhere_but_in_the_delivery(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let secret_body = "{\"card\":\"4242 4242 4242 4242\"}";
    let id = app
        .publish_ok(
            &receiver.url,
            secret_body,
            &[
                ("Upstash-Redact-Fields", "body, header[Authorization]"),
                ("Upstash-Forward-Authorization", "Bearer downstream-secret"),
                ("Upstash-Forward-X-Trace", "visible"),
                ("Upstash-Retries", "0"),
            ],
        )
        .await;
    let message = app.message(&id).await;
    assert_eq!(message["body"], hashed(secret_body));
    assert_eq!(
        message["header"]["Authorization"][0],
        hashed("Bearer downstream-secret")
    );
    assert_eq!(message["header"]["X-Trace"][0], "visible");

    assert_eq!(app.run_until_idle().await, 1);
    let delivered = receiver.requests().remove(0);
    assert_eq!(
        delivered.body,
        secret_body.as_bytes(),
        "the destination gets the original"
    );
    assert_eq!(delivered.header("authorization"), Some("Bearer downstream-secret"));

    let (_, dlq) = app.get_json("/v2/dlq").await;
    let entry = &dlq["messages"][0];
    assert_eq!(entry["body"], hashed(secret_body));
    assert_eq!(entry["header"]["Authorization"][0], hashed("Bearer downstream-secret"));
    let (_, logs) = app.get_json(&format!("/v2/events?messageId={id}")).await;
    for event in logs["events"].as_array().unwrap() {
        assert_eq!(event["body"], hashed(secret_body));
        assert_eq!(event["header"]["Authorization"][0], hashed("Bearer downstream-secret"));
    }
    let everything = serde_json::to_string(&(&message, &dlq, &logs)).unwrap();
    assert!(!everything.contains("downstream-secret") && !everything.contains("4242"));

    // A DLQ retry is redacted the same way and delivered with the originals.
    receiver.answer(|_| Reply::Status(200));
    let dlq_id = entry["dlqId"].as_str().unwrap();
    let (_, retried) = app
        .send_json(app.request(Method::POST, &format!("/v2/dlq/retry/{dlq_id}")))
        .await;
    let again = app.message(retried["messageId"].as_str().unwrap()).await;
    assert_eq!(again["body"], hashed(secret_body));
    assert_eq!(app.run_until_idle().await, 1);
    assert_eq!(receiver.requests()[1].body, secret_body.as_bytes());

    let (status, body) = app
        .send_json(app.publish(&receiver.url).header("Upstash-Redact-Fields", "everything"))
        .await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}
