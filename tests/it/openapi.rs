//! The OpenAPI document: served at `/openapi.json` without a token, identical to the committed
//! `docs/openapi.json`, and every operation it lists is routed. The docs page serves only its own assets.

use crate::common::{spawn_app, Backend, Options, TestApp};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

async fn app() -> TestApp {
    spawn_app(Backend::Sqlite, Options::stepped()).await
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = app().await;
    let response = app.http.get(format!("{}/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 200, "no token needed");
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.unwrap();
    if std::env::var("UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(COMMITTED, &served).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        served == committed,
        "docs/openapi.json differs from the document the server serves: the API changed. Regenerate it with\n  \
         UPDATE_OPENAPI=1 cargo test --test it openapi::the_served_document_is_the_committed_one\nand review the diff."
    );
    let document: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}

/// A value for each path parameter that routes (nothing of that name exists, so most answers are 404s).
fn sample(parameter: &str) -> &'static str {
    match parameter {
        "{destination}" => "http://127.0.0.1:9/hook",
        _ => "unknown-name",
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = app().await;
    let document: serde_json::Value = serde_json::from_str(postdate::api::openapi::json()).unwrap();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        let concrete: Vec<&str> = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    sample(segment)
                } else {
                    segment
                }
            })
            .collect();
        let concrete = concrete.join("/");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            // Checked against the document on the way back, like every answer in the suite.
            let response = app.request(method.clone(), &concrete).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is documented but not routed: {body}");
            assert!(
                !body.contains("no route for"),
                "{method} {path} is documented but not routed: {body}"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} operations");
}

#[tokio::test]
async fn the_docs_page_loads_only_its_own_assets() {
    let app = app().await;
    let page = app.http.get(format!("{}/docs", app.base)).send().await.unwrap();
    assert_eq!(page.status(), 200, "no token needed");
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    let references: Vec<&str> = html
        .split(['"', '\''])
        .zip(html.split(['"', '\'']).skip(1))
        .filter(|(before, _)| before.ends_with("src=") || before.ends_with("href=") || before.ends_with("spec-url="))
        .map(|(_, value)| value)
        .collect();
    assert_eq!(references, ["/openapi.json", "/docs/redoc.standalone.js"], "{html}");
    assert!(
        !html.contains("http:") && !html.contains("https:") && !html.contains("//"),
        "{html}"
    );
    for (asset, content_type) in [
        ("/docs/redoc.standalone.js", "text/javascript; charset=utf-8"),
        ("/openapi.json", "application/json"),
    ] {
        let response = app.http.get(format!("{}{asset}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(response.headers()["content-type"], content_type, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 1000, "{asset} has content");
    }
}

/// The check every `/v2` answer of the suite goes through refuses what the document does not say.
#[test]
fn the_conformance_check_refuses_answers_the_document_does_not_describe() {
    let document = crate::common::conformance::document();
    let mut json = http::HeaderMap::new();
    json.insert(http::header::CONTENT_TYPE, "application/json".parse().unwrap());
    let queue = serde_json::json!({
        "name": "emails", "parallelism": 1, "createdAt": 1, "updatedAt": 2, "lag": 0, "paused": false,
    });
    let check = |method: http::Method, path: &str, status: u16, body: &serde_json::Value| {
        let bytes = serde_json::to_vec(body).unwrap();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            document.check(&method, path, status, &json, &bytes)
        }))
        .is_ok()
    };
    assert!(
        check(http::Method::GET, "/v2/queues/emails", 200, &queue),
        "a conforming answer passes"
    );
    let mut extra = queue.clone();
    extra["surprise"] = serde_json::json!(true);
    assert!(
        !check(http::Method::GET, "/v2/queues/emails", 200, &extra),
        "an undocumented field"
    );
    let mut wrong = queue.clone();
    wrong["lag"] = serde_json::json!("none");
    assert!(
        !check(http::Method::GET, "/v2/queues/emails", 200, &wrong),
        "a field of the wrong type"
    );
    assert!(
        !check(http::Method::GET, "/v2/queues/emails", 418, &queue),
        "an undocumented status"
    );
    assert!(
        !check(http::Method::PUT, "/v2/queues/emails", 200, &queue),
        "an undocumented operation"
    );
    let error = serde_json::json!({ "error": "queue \"x\" does not exist" });
    assert!(
        check(http::Method::GET, "/v2/queues/x", 404, &error),
        "a documented error"
    );
    assert!(
        !check(http::Method::GET, "/v2/queues/x", 404, &queue),
        "an error without its body"
    );
}
