//! Async bulk cancel (issue 23): answered at once with an action id, run in chunks by the bulk worker
//! (stepped here with `run_once`), with exact progress, never widened, and kept until retention.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use postdate::store::BulkStep;
use postdate::worker::bulk::Stepped;

use crate::backend_tests;
use crate::common::{spawn_app, Backend, Options, TestApp};
use crate::store_conformance::message;

backend_tests!(
    an_async_cancel_of_100000_messages_answers_at_once_and_finishes_with_every_one_counted,
    a_message_published_after_the_action_was_accepted_is_not_canceled,
    bad_input_is_refused_and_stores_no_action,
    an_explicit_empty_id_list_is_an_action_that_selects_nothing,
    an_unknown_action_is_404_and_retention_removes_old_finished_actions,
);

/// Steps the bulk worker until it finds nothing to do; returns the steps that worked.
async fn run_bulk_until_idle(app: &TestApp) -> usize {
    let mut steps = 0;
    while app.bulk.run_once().await.unwrap() != Stepped::Idle {
        steps += 1;
    }
    steps
}

async fn action(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get_json(&format!("/v2/bulkActions/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn accept(app: &TestApp, request: crate::common::ApiRequest) -> String {
    let (status, body) = app.send_json(request).await;
    assert_eq!(status, 202, "{body}");
    body["actionId"].as_str().unwrap().to_string()
}

async fn an_async_cancel_of_100000_messages_answers_at_once_and_finishes_with_every_one_counted(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let store = app.db.store().await;
    const MATCHING: usize = 100_000;
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..(MATCHING / 5_000) {
        let messages: Vec<_> = (0..5_000)
            .map(|_| message("https://example.com/x", crate::common::T0 + 3_600_000, &["all"]))
            .collect();
        ids.extend(messages.iter().map(|m| m.id.to_string()));
        store.message_insert(&messages).await.unwrap();
    }
    let others: Vec<_> = (0..1_000)
        .map(|_| message("https://example.com/y", crate::common::T0 + 3_600_000, &["keep"]))
        .collect();
    store.message_insert(&others).await.unwrap();
    eprintln!(
        "{backend:?}: stored {} messages in {:?}",
        MATCHING + 1_000,
        started.elapsed()
    );

    let asked = Instant::now();
    let id = accept(&app, app.request(Method::DELETE, "/v2/messages?label=all&async=true")).await;
    let answered = asked.elapsed();
    // Printed, not asserted (a debug build; the acceptance is one insert that reads one id).
    eprintln!("{backend:?}: the async cancel of {MATCHING} messages answered in {answered:?}");

    // No background loop runs: the answer came before any message was counted or canceled.
    let accepted = action(&app, &id).await;
    assert_eq!(accepted["state"], "IN_PROGRESS", "{accepted}");
    assert!(accepted.get("total").is_none(), "not counted yet: {accepted}");
    assert_eq!(accepted["processed"], 0);
    assert_eq!(accepted["kind"], "CANCEL");
    assert_eq!(accepted["filter"], json!({"label": ["all"]}));
    assert!(accepted.get("completedAt").is_none());
    assert_eq!(app.message(&ids[0]).await["state"], "CREATED");

    // The first step counts the selection exactly; then one chunk: progress in whole chunks.
    let counting = Instant::now();
    assert_eq!(
        app.bulk.run_once().await.unwrap(),
        Stepped::Worked(BulkStep::Counted { total: MATCHING as i64 })
    );
    eprintln!("{backend:?}: the worker counted them in {:?}", counting.elapsed());
    let counted = action(&app, &id).await;
    assert_eq!(
        (counted["total"].as_i64(), counted["processed"].as_i64()),
        (Some(MATCHING as i64), Some(0))
    );
    assert!(matches!(app.bulk.run_once().await.unwrap(), Stepped::Worked(_)));
    assert_eq!(action(&app, &id).await["processed"], 1_000);
    let run = Instant::now();
    let steps = run_bulk_until_idle(&app).await;
    eprintln!(
        "{backend:?}: the worker cancelled them in {} more steps, {:?}",
        steps,
        run.elapsed()
    );

    let done = action(&app, &id).await;
    assert_eq!(done["state"], "FINISHED", "{done}");
    assert_eq!(
        (done["total"].as_i64(), done["processed"].as_i64()),
        (Some(MATCHING as i64), Some(MATCHING as i64))
    );
    assert_eq!(done["completedAt"], crate::common::T0);
    let (_, page) = app.get_json("/v2/messages?label=all&state=CREATED&count=1").await;
    assert_eq!(page["messages"], json!([]), "no matching message waits any more");
    for id in [&ids[0], &ids[MATCHING / 2], &ids[MATCHING - 1]] {
        assert_eq!(app.message(id).await["state"], "CANCELED");
    }
    for other in [&others[0], &others[999]] {
        assert_eq!(
            app.message(&other.id).await["state"],
            "CREATED",
            "not matching: untouched"
        );
    }
    let (_, list) = app.get_json("/v2/bulkActions").await;
    assert_eq!(list["actions"][0], done);
    app.stop().await;
}

async fn a_message_published_after_the_action_was_accepted_is_not_canceled(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let delayed = [("Upstash-Delay", "1h"), ("Upstash-Label", "batch")];
    let mut before = Vec::new();
    for _ in 0..3 {
        before.push(app.publish_ok("https://example.com/x", "b", &delayed).await);
    }
    let id = accept(&app, app.request(Method::DELETE, "/v2/messages?label=batch&async=true")).await;
    let after = app.publish_ok("https://example.com/x", "a", &delayed).await;
    run_bulk_until_idle(&app).await;
    let done = action(&app, &id).await;
    assert_eq!(
        (
            done["state"].as_str(),
            done["total"].as_i64(),
            done["processed"].as_i64()
        ),
        (Some("FINISHED"), Some(3), Some(3))
    );
    for id in &before {
        assert_eq!(app.message(id).await["state"], "CANCELED");
    }
    assert_eq!(
        app.message(&after).await["state"],
        "CREATED",
        "published after the action: not part of it"
    );
    app.stop().await;
}

async fn bad_input_is_refused_and_stores_no_action(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok(
            "https://example.com/x",
            "b",
            &[("Upstash-Delay", "1h"), ("Upstash-Label", "a")],
        )
        .await;
    let json = |body: &str| {
        app.request(Method::DELETE, "/v2/messages")
            .header("Content-Type", "application/json")
            .body(body.to_string())
    };
    let refused = [
        (
            "label= blank",
            app.request(Method::DELETE, "/v2/messages?label=&async=true"),
        ),
        ("async=maybe", app.request(Method::DELETE, "/v2/messages?async=maybe")),
        (
            "unknown key",
            app.request(Method::DELETE, "/v2/messages?labels=a&async=true"),
        ),
        ("async alone in a body", json("{\"async\": true}")),
        ("blank body filter", json("{\"url\": \"\", \"async\": true}")),
        (
            "async twice, differing",
            app.request(Method::DELETE, "/v2/messages?async=false")
                .json(&json!({"label": "a", "async": true})),
        ),
        ("DLQ filter", json("{\"dlqIds\": [\"x\"], \"async\": true}")),
    ];
    for (what, request) in refused {
        let (status, body) = app.send_json(request).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert!(body["error"].is_string(), "{what}: {body}");
    }
    let (status, body) = app
        .send_json(
            app.request(Method::DELETE, "/v2/dlq")
                .json(&json!({"dlqIds": ["x"], "async": true})),
        )
        .await;
    assert_eq!(status, 400, "async is for bulk cancel only: {body}");
    let (_, list) = app.get_json("/v2/bulkActions").await;
    assert_eq!(list, json!({"actions": []}), "nothing stored");
    assert_eq!(app.message(&id).await["state"], "CREATED");
    app.stop().await;
}

async fn an_explicit_empty_id_list_is_an_action_that_selects_nothing(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let id = app
        .publish_ok("https://example.com/x", "b", &[("Upstash-Delay", "1h")])
        .await;
    let action_id = accept(
        &app,
        app.request(Method::DELETE, "/v2/messages")
            .json(&json!({"messageIds": [], "async": true})),
    )
    .await;
    let done = action(&app, &action_id).await;
    assert_eq!(
        (
            done["state"].as_str(),
            done["total"].as_i64(),
            done["processed"].as_i64()
        ),
        (Some("FINISHED"), Some(0), Some(0))
    );
    assert_eq!(run_bulk_until_idle(&app).await, 0);
    assert_eq!(
        app.message(&id).await["state"],
        "CREATED",
        "never widened to every message"
    );
    app.stop().await;
}

async fn an_unknown_action_is_404_and_retention_removes_old_finished_actions(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    app.expect_error(app.request(Method::GET, "/v2/bulkActions/act_nope"), 404, "not found")
        .await;
    app.publish_ok(
        "https://example.com/x",
        "b",
        &[("Upstash-Delay", "1h"), ("Upstash-Label", "old")],
    )
    .await;
    let old = accept(&app, app.request(Method::DELETE, "/v2/messages?label=old&async=true")).await;
    run_bulk_until_idle(&app).await;
    app.clock.advance_ms(Duration::from_secs(6 * 86_400).as_millis() as i64);
    let recent = accept(&app, app.request(Method::DELETE, "/v2/messages?label=none&async=true")).await;
    app.maintenance.clean_once().await.unwrap();
    action(&app, &old).await;
    app.clock.advance_ms(Duration::from_secs(86_400 + 1).as_millis() as i64);
    app.maintenance.clean_once().await.unwrap();
    app.expect_error(
        app.request(Method::GET, &format!("/v2/bulkActions/{old}")),
        404,
        "not found",
    )
    .await;
    let (_, list) = app.get_json("/v2/bulkActions").await;
    assert_eq!(list["actions"].as_array().unwrap().len(), 1);
    assert_eq!(list["actions"][0]["actionId"], recent.as_str());
    app.stop().await;
}
