//! The web console's server-side rules: sign-in and its cookie, CSRF, the read-only token (console and
//! API), dev's loopback Host check, the cron preview, and `POST /v2/messages/{id}/retry` ("Run now").
//! The journeys in a real browser are tests/console/journeys.mjs.

use reqwest::{Method, StatusCode};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{spawn_app, Backend, Options, TestApp, TOKEN};

backend_tests!(
    run_now_delivers_a_waiting_message_at_once_keeping_its_attempt_count,
    run_now_refuses_unknown_and_finished_messages,
    the_read_only_token_reads_but_every_change_gets_403,
    sign_in_sets_a_strict_http_only_cookie_without_the_token,
    state_changing_console_requests_need_the_csrf_token,
    the_read_only_session_sees_no_actions_and_cannot_post,
    dev_opens_the_console_without_sign_in_only_for_loopback_hosts,
    the_cron_preview_shows_five_fires_in_the_zone_or_the_parser_error,
    the_bulk_confirmation_counts_exactly_the_matching_entries,
    the_bulk_actions_page_shows_each_actions_progress_and_refreshes_while_one_runs,
    a_message_sent_from_the_console_records_the_browsers_address,
    a_filtered_list_that_searched_its_window_offers_to_search_further,
);

pub(crate) const READONLY: &str = "viewer-token-0123456789";

fn with_readonly() -> Options {
    Options::stepped().with(|c| c.readonly_token = Some(READONLY.into()))
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `token` and returns the session cookie (`name=value`).
pub(crate) async fn sign_in(app: &TestApp, token: &str) -> String {
    let response = browser()
        .post(format!("{}/console/sign-in", app.base))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// The page at `path` with `cookie`, and the CSRF token it carries.
pub(crate) async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String, String) {
    let response = browser()
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let html = response.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    (status, html, csrf)
}

pub(crate) async fn post_form(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser()
        .post(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn run_now_delivers_a_waiting_message_at_once_keeping_its_attempt_count(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let delayed = app
        .publish_ok(&format!("{}/later", receiver.url), "x", &[("Upstash-Delay", "1h")])
        .await;
    assert_eq!(app.run_until_idle().await, 0, "not due for an hour");
    let (status, body) = app
        .send_json(app.request(Method::POST, &format!("/v2/messages/{delayed}/retry")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.run_until_idle().await, 1);
    let message = app.message(&delayed).await;
    assert_eq!(
        (message["state"].as_str(), message["retried"].as_i64()),
        (Some("DELIVERED"), Some(0))
    );

    receiver.answer(|r| Reply::Status(if r.target.starts_with("/flaky") { 500 } else { 200 }));
    let retrying = app
        .publish_ok(&format!("{}/flaky", receiver.url), "y", &[("Upstash-Retries", "3")])
        .await;
    assert_eq!(app.run_until_idle().await, 1);
    assert_eq!(app.message(&retrying).await["state"], "RETRY");
    receiver.answer(|_| Reply::Status(200));
    let (status, _) = app
        .send_json(app.request(Method::POST, &format!("/v2/messages/{retrying}/retry")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.run_until_idle().await, 1, "due at once, not after its backoff");
    let message = app.message(&retrying).await;
    assert_eq!(message["state"], "DELIVERED");
    assert_eq!(message["retried"], 1, "the second attempt, as without Run now");
    app.stop().await;
}

async fn run_now_refuses_unknown_and_finished_messages(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    app.expect_error(
        app.request(Method::POST, "/v2/messages/msg_unknown/retry"),
        404,
        "not found",
    )
    .await;
    let id = app.publish_ok(&format!("{}/ok", receiver.url), "x", &[]).await;
    app.run_until_idle().await;
    app.expect_error(
        app.request(Method::POST, &format!("/v2/messages/{id}/retry")),
        409,
        "already delivered",
    )
    .await;
    assert_eq!(app.run_until_idle().await, 0, "nothing was made due again");
    app.stop().await;
}

async fn the_read_only_token_reads_but_every_change_gets_403(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, with_readonly()).await;
    let id = app.publish_ok(&format!("{}/ok", receiver.url), "x", &[]).await;
    let viewer = |method: Method, path: &str| app.request_without_token(method, path).bearer_auth(READONLY);
    for path in [
        "/v2/messages",
        &format!("/v2/messages/{id}"),
        "/v2/dlq",
        "/v2/schedules",
        "/v2/keys",
        "/metrics",
    ] {
        assert_eq!(viewer(Method::GET, path).send().await.unwrap().status(), 200, "{path}");
    }
    let changes = [
        (Method::POST, format!("/v2/publish/{}/ok", receiver.url)),
        (Method::DELETE, format!("/v2/messages/{id}")),
        (Method::DELETE, "/v2/messages".to_string()),
        (Method::POST, format!("/v2/messages/{id}/retry")),
        (Method::POST, "/v2/keys/rotate".to_string()),
        (Method::DELETE, "/v2/dlq".to_string()),
        (Method::POST, "/v2/queues".to_string()),
    ];
    for (method, path) in changes {
        app.expect_error(viewer(method, &path), 403, "read-only").await;
    }
    assert_eq!(app.message(&id).await["state"], "CREATED", "nothing changed");
    app.stop().await;
}

async fn sign_in_sets_a_strict_http_only_cookie_without_the_token(backend: Backend) {
    let app = spawn_app(backend, with_readonly()).await;
    let root = browser().get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(root.headers()["location"], "/console/");
    let unsigned = browser().get(format!("{}/console/", app.base)).send().await.unwrap();
    assert_eq!(
        unsigned.headers()["location"],
        "/console/sign-in",
        "serve asks to sign in"
    );
    let wrong = browser()
        .post(format!("{}/console/sign-in", app.base))
        .form(&[("token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong.text().await.unwrap().contains("not accepted"));

    let response = browser()
        .post(format!("{}/console/sign-in", app.base))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(
        !cookie.contains(TOKEN) && !cookie.contains(READONLY),
        "no token in the cookie"
    );
    let session = cookie.split(';').next().unwrap();
    let (status, html, _) = page(&app, "/console/", session).await;
    assert_eq!(status, 200);
    assert!(html.contains("Overview"));
    let forged = session.replacen("admin", "viewer", 1);
    let (status, _, _) = page(&app, "/console/", &forged).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "an altered cookie is no session");
    app.stop().await;
}

async fn state_changing_console_requests_need_the_csrf_token(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(&format!("{}/ok", receiver.url), "x", &[("Upstash-Delay", "1h")])
        .await;
    let cookie = sign_in(&app, TOKEN).await;
    let (_, _, csrf) = page(&app, &format!("/console/messages/{id}"), &cookie).await;
    assert!(!csrf.is_empty());
    let cancel = format!("/console/messages/{id}/cancel");
    assert_eq!(post_form(&app, &cancel, &cookie, &[]).await.status(), 403, "no token");
    assert_eq!(
        post_form(&app, &cancel, &cookie, &[("_csrf", "forged")]).await.status(),
        403
    );
    let cross_site = browser()
        .post(format!("{}{cancel}", app.base))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403, "another site's Origin");
    assert_eq!(app.message(&id).await["state"], "CREATED", "nothing changed");
    let done = post_form(&app, &cancel, &cookie, &[("_csrf", &csrf)]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.message(&id).await["state"], "CANCELED");
    app.stop().await;
}

async fn the_read_only_session_sees_no_actions_and_cannot_post(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, with_readonly()).await;
    let id = app
        .publish_ok(&format!("{}/ok", receiver.url), "x", &[("Upstash-Delay", "1h")])
        .await;
    let cookie = sign_in(&app, READONLY).await;
    let (status, html, csrf) = page(&app, &format!("/console/messages/{id}"), &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("read-only"));
    assert!(
        !html.contains("Run now") && !html.contains("/cancel"),
        "no action buttons"
    );
    let run = post_form(
        &app,
        &format!("/console/messages/{id}/run"),
        &cookie,
        &[("_csrf", &csrf)],
    )
    .await;
    assert_eq!(run.status(), 403);
    assert_eq!(app.message(&id).await["state"], "CREATED");
    app.stop().await;
}

async fn dev_opens_the_console_without_sign_in_only_for_loopback_hosts(backend: Backend) {
    let app = spawn_app(backend, Options::stepped().with(|c| c.loopback_hosts_only = true)).await;
    let opened = browser().get(format!("{}/console/", app.base)).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let rebound = browser()
        .get(format!("{}/console/", app.base))
        .header("host", "rebound.evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421);
    let blind_post = browser()
        .post(format!("{}/console/send", app.base))
        .form(&[("url", "http://127.0.0.1:1/")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        blind_post.status(),
        403,
        "dev still needs a session and its CSRF token to change things"
    );
    app.stop().await;
}

async fn the_cron_preview_shows_five_fires_in_the_zone_or_the_parser_error(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let cookie = sign_in(&app, TOKEN).await;
    let preview = |cron: &str| {
        browser()
            .get(format!("{}/console/cron-preview", app.base))
            .query(&[("cron", cron)])
            .header("cookie", &cookie)
            .send()
    };
    let response = preview("CRON_TZ=Europe/Berlin 0 9 * * 1").await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let fires: Vec<&str> = body["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["local"].as_str().unwrap())
        .collect();
    // The test clock starts on Thursday 2026-01-01.
    assert_eq!(
        fires,
        [
            "Mon 2026-01-05 09:00 CET",
            "Mon 2026-01-12 09:00 CET",
            "Mon 2026-01-19 09:00 CET",
            "Mon 2026-01-26 09:00 CET",
            "Mon 2026-02-02 09:00 CET"
        ]
    );
    assert_eq!(body["description"], "every Monday at 09:00 (Europe/Berlin time)");
    let response = preview("0 9 * * 8").await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("day-of-week"), "{body}");
    app.stop().await;
}

async fn the_bulk_confirmation_counts_exactly_the_matching_entries(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    for label in ["import", "import", "import", "other"] {
        app.publish_ok(
            &format!("{}/fail", receiver.url),
            "x",
            &[("Upstash-Retries", "0"), ("Upstash-Label", label)],
        )
        .await;
    }
    app.run_until_idle().await;
    let cookie = sign_in(&app, TOKEN).await;
    let (_, _, csrf) = page(&app, "/console/dlq?label=import", &cookie).await;
    let confirm = post_form(
        &app,
        "/console/dlq/bulk",
        &cookie,
        &[
            ("_csrf", &csrf),
            ("action", "delete-matching"),
            ("filter", "label=import"),
        ],
    )
    .await;
    let html = confirm.text().await.unwrap();
    assert!(html.contains("Delete 3 DLQ entries?"), "{html}");
    let (_, all) = app.get_json("/v2/dlq").await;
    assert_eq!(
        all["messages"].as_array().unwrap().len(),
        4,
        "confirming first changes nothing"
    );
    let bad = post_form(
        &app,
        "/console/dlq/bulk",
        &cookie,
        &[
            ("_csrf", &csrf),
            ("action", "delete-matching"),
            ("filter", "label=import&responseStatus=abc"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 400, "a filter the API refuses never widens");
    app.stop().await;
}

async fn a_message_sent_from_the_console_records_the_browsers_address(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let cookie = sign_in(&app, TOKEN).await;
    let (_, _, csrf) = page(&app, "/console/send", &cookie).await;
    let url = format!("{}/from-console", receiver.url);
    let sent = post_form(
        &app,
        "/console/send",
        &cookie,
        &[("_csrf", &csrf), ("url", &url), ("method", "POST"), ("body", "hi")],
    )
    .await;
    assert_eq!(sent.status(), 303, "the form opens the new message's page");
    let location = sent.headers()["location"].to_str().unwrap().to_string();
    let id = location.rsplit('/').next().unwrap();
    let (status, message) = app.get_json(&format!("/v2/messages/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(message["callerIP"], "127.0.0.1", "{message}");
    app.stop().await;
}

/// The link a list page offers to its next page ("Next page" or "Search further"), if any.
fn next_link(html: &str, label: &str) -> Option<String> {
    let end = html.find(&format!("\">{label}"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&amp;", "&"))
}

async fn a_filtered_list_that_searched_its_window_offers_to_search_further(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped().with(|c| c.search_window = 2)).await;
    for label in ["import", "other", "import", "other", "import"] {
        let headers = [("Upstash-Retries", "0"), ("Upstash-Label", label)];
        app.publish_ok(&format!("{}/fail", receiver.url), "x", &headers).await;
    }
    app.run_until_idle().await;
    let cookie = sign_in(&app, TOKEN).await;
    // Five messages, two a window: the search for a label nobody has takes three pages, and only the last
    // says that nothing matches.
    let mut path = "/console/messages?label=nobody".to_string();
    let mut pages = 0;
    loop {
        let (status, html, _) = page(&app, &path, &cookie).await;
        assert_eq!(status, 200);
        pages += 1;
        match next_link(&html, "Search further") {
            Some(next) => {
                assert!(
                    html.contains("No message matches among those searched so far."),
                    "{html}"
                );
                path = format!("/console/messages{next}");
            }
            None => {
                assert!(html.contains("No message matches these filters."), "{html}");
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    // "All matching" gathers every window: the confirmation still counts exactly the three entries.
    let (_, _, csrf) = page(&app, "/console/dlq?label=import", &cookie).await;
    let form = [
        ("_csrf", csrf.as_str()),
        ("action", "retry-matching"),
        ("filter", "label=import"),
    ];
    let confirm = post_form(&app, "/console/dlq/bulk", &cookie, &form).await;
    let html = confirm.text().await.unwrap();
    assert!(html.contains("Retry 3 DLQ entries?"), "{html}");
    app.stop().await;
}

async fn the_bulk_actions_page_shows_each_actions_progress_and_refreshes_while_one_runs(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let cookie = sign_in(&app, TOKEN).await;
    let (status, html, _) = page(&app, "/console/bulk-actions", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No bulk actions."), "{html}");
    assert!(
        html.contains(r#"href="/console/bulk-actions" aria-current="page""#),
        "the nav marks it: {html}"
    );
    for _ in 0..3 {
        app.publish_ok(
            "https://example.com/x",
            "b",
            &[("Upstash-Delay", "1h"), ("Upstash-Label", "nightly")],
        )
        .await;
    }
    let (status, accepted) = app
        .send_json(app.request(Method::DELETE, "/v2/messages?label=nightly&async=true"))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["actionId"].as_str().unwrap();

    let (_, html, _) = page(&app, "/console/bulk-actions", &cookie).await;
    for expected in [
        id,
        "CANCEL",
        "IN_PROGRESS",
        "0 / counting…",
        "label=nightly",
        "data-refresh",
    ] {
        assert!(html.contains(expected), "{expected:?} in {html}");
    }
    let (_, live, _) = page(&app, "/console/bulk-actions?live=1", &cookie).await;
    assert!(
        live.contains(id) && !live.contains("<nav"),
        "the refresh gets the table alone: {live}"
    );

    while app.bulk.run_once().await.unwrap() != postdate::worker::bulk::Stepped::Idle {}
    let (_, html, _) = page(&app, "/console/bulk-actions", &cookie).await;
    for expected in [id, "FINISHED", "3 / 3"] {
        assert!(html.contains(expected), "{expected:?} in {html}");
    }
    assert!(!html.contains("data-refresh"), "nothing runs: no refresh: {html}");
    app.stop().await;
}
