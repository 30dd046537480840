//! The console's message page shows each failed attempt's response from its log entry (issue 23): the
//! status, the start of the body opening to the headers and the body as the log keeps it, redacted as
//! the message asks.

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TOKEN};
use crate::console::{page, sign_in};

backend_tests!(the_message_page_shows_the_response_of_each_failed_attempt);

async fn the_message_page_shows_the_response_of_each_failed_attempt(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 502,
        headers: vec![("X-Upstream".into(), "shard-7".into())],
        body: b"upstream <b>down</b>".to_vec(),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app.publish_ok(&receiver.url, "x", &[("Upstash-Retries", "0")]).await;
    let redacted = app
        .publish_ok(
            &receiver.url,
            "x",
            &[("Upstash-Retries", "0"), ("Upstash-Redact-Fields", "body")],
        )
        .await;
    app.run_until_idle().await;
    let cookie = sign_in(&app, TOKEN).await;
    let (status, html, _) = page(&app, &format!("/console/messages/{id}"), &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("502"), "{html}");
    assert!(
        html.contains("upstream &lt;b&gt;down&lt;/b&gt;"),
        "the body, escaped: {html}"
    );
    assert!(html.contains("X-Upstream") && html.contains("shard-7"), "{html}");
    let (_, html, _) = page(&app, &format!("/console/messages/{redacted}"), &cookie).await;
    assert!(html.contains("REDACTED:") && !html.contains("down&lt;"), "{html}");
    app.stop().await;
}
