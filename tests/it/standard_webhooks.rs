//! Optional Standard Webhooks headers, verified with the `standardwebhooks` library, beside Upstash-Signature.

use serde_json::json;

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::sdk::Sdk;
use crate::common::{spawn_app, Backend, Options};

backend_tests!(
    deliveries_carry_standard_webhooks_headers_when_configured,
    deliveries_carry_no_standard_webhooks_headers_by_default,
);

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn deliveries_carry_standard_webhooks_headers_when_configured(backend: Backend) {
    let receiver = Receiver::start().await;
    let key = postdate::domain::signing::standard_webhooks_key(SECRET).unwrap();
    let app = spawn_app(
        backend,
        Options::stepped().with(move |c| c.standard_webhooks_key = Some(key.clone())),
    )
    .await;
    let id = app.publish_ok(&receiver.url, "{\"event\":\"invoice.paid\"}", &[]).await;
    assert_eq!(app.run_until_idle().await, 1);
    let got = receiver.requests().remove(0);
    assert_eq!(
        got.header("webhook-id"),
        Some(id.as_str()),
        "the message id: stable across retries"
    );
    assert!(
        got.header("upstash-signature").is_some(),
        "the QStash signature is still there"
    );
    let case = |body: &str| {
        json!({"id": got.header("webhook-id"), "timestamp": got.header("webhook-timestamp"),
               "signature": got.header("webhook-signature"), "body": body})
    };
    if let Some(js) = Sdk::Js.available() {
        let body = String::from_utf8(got.body.to_vec()).unwrap();
        let results = js.run(
            "standard-webhooks-verify",
            &json!({"secret": SECRET, "cases": [case(&body), case("tampered")]}),
        );
        assert_eq!(results[0]["ok"], true, "{results}");
        assert_eq!(results[1]["ok"], false, "{results}");
    }
    app.stop().await;
}

async fn deliveries_carry_no_standard_webhooks_headers_by_default(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    app.publish_ok(&receiver.url, "x", &[]).await;
    assert_eq!(app.run_until_idle().await, 1);
    let got = receiver.requests().remove(0);
    assert!(got.header("webhook-id").is_none() && got.header("webhook-signature").is_none());
    app.stop().await;
}
