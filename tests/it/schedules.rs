//! Cron schedules (spec §5): each slot fires one ordinary message, exactly once, also across instances and
//! restarts; pause, resume, update and delete. Time is moved with the test clock.

use std::sync::Arc;
use std::time::Duration;

use postdate::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{eventually, spawn_app, spawn_app_on, Backend, Options, TestApp, TestDb, T0};

backend_tests!(
    a_schedule_fires_an_ordinary_message_at_each_slot,
    fired_messages_carry_the_schedule_settings_and_dead_letter_like_any_other,
    pause_stops_firing_and_resume_continues_from_now_without_a_burst,
    delete_stops_a_schedule,
    an_update_replaces_the_schedule_and_its_next_fire,
    a_restart_after_downtime_fires_once,
    the_schedule_object_has_every_field_and_omits_absent_ones,
    bad_schedules_are_refused_with_an_error_naming_the_problem,
    fired_messages_keep_the_schedules_flow_control_and_redaction,
    a_schedule_with_only_parallelism_shows_the_default_period_like_its_messages,
    publishing_with_a_cron_header_creates_a_schedule_and_delivers_nothing_at_once,
);

const HOUR: i64 = 3_600_000;

async fn create(app: &TestApp, destination: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut request = app
        .request(Method::POST, &format!("/v2/schedules/{destination}"))
        .body(body.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    app.send_json(request).await
}

async fn create_ok(app: &TestApp, destination: &str, headers: &[(&str, &str)], body: &str) -> String {
    let (status, json) = create(app, destination, headers, body).await;
    assert_eq!(status, 200, "{json}");
    json["scheduleId"].as_str().unwrap().to_string()
}

async fn schedule(app: &TestApp, id: &str) -> Value {
    let (status, json) = app.get_json(&format!("/v2/schedules/{id}")).await;
    assert_eq!(status, 200, "{json}");
    json
}

async fn a_schedule_fires_an_ordinary_message_at_each_slot(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let url = format!("{}/hourly", receiver.url);
    let id = create_ok(
        &app,
        &url,
        &[("Upstash-Cron", "0 * * * *"), ("Upstash-Forward-X-Job", "report")],
        "tick",
    )
    .await;
    assert!(id.starts_with("scd_"));
    let s = schedule(&app, &id).await;
    assert_eq!(s["nextScheduleTime"], T0 + HOUR);
    assert!(s.get("lastScheduleTime").is_none() && s.get("lastScheduleStates").is_none());

    assert_eq!(app.scheduler.run_once().await.unwrap(), 0);
    app.clock.set_ms(T0 + HOUR - 1);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 0);
    app.clock.set_ms(T0 + HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 0, "a slot fires once");
    assert_eq!(app.run_until_idle().await, 1);

    let got = receiver.requests().remove(0);
    assert_eq!(got.header("upstash-schedule-id"), Some(id.as_str()));
    assert_eq!(got.header("x-job"), Some("report"));
    assert_eq!(got.body, "tick".as_bytes());
    let message_id = got.message_id().to_string();
    let message = app.message(&message_id).await;
    assert_eq!(
        (message["scheduleId"].as_str(), message["state"].as_str()),
        (Some(id.as_str()), Some("DELIVERED"))
    );
    let s = schedule(&app, &id).await;
    assert_eq!(s["lastScheduleTime"], T0 + HOUR);
    assert_eq!(s["nextScheduleTime"], T0 + 2 * HOUR);
    assert_eq!(s["lastScheduleStates"], json!({ message_id.clone(): "SUCCESS" }));

    app.clock.set_ms(T0 + 2 * HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    assert_eq!(app.run_until_idle().await, 1);
    let second = receiver.requests().remove(1);
    assert_ne!(second.message_id(), message_id, "every fire is a new message");
    app.stop().await;
}

async fn fired_messages_carry_the_schedule_settings_and_dead_letter_like_any_other(backend: Backend) {
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let app = spawn_app(backend, Options::stepped()).await;
    let headers = [
        ("Upstash-Cron", "30 0 * * *"),
        ("Upstash-Method", "PUT"),
        ("Upstash-Delay", "30s"),
        ("Upstash-Retries", "0"),
        ("Content-Type", "application/json"),
    ];
    let id = create_ok(&app, &receiver.url, &headers, "{\"backup\":true}").await;
    app.clock.set_ms(T0 + 30 * 60_000);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    assert_eq!(app.run_until_idle().await, 0, "the delay applies to every fire");
    app.clock.advance_ms(30_000);
    assert_eq!(app.run_until_idle().await, 1);
    let got = receiver.requests().remove(0);
    assert_eq!(got.method, "PUT");
    assert_eq!(got.header("content-type"), Some("application/json"));
    let (_, dlq) = app.get_json("/v2/dlq").await;
    assert_eq!(dlq["messages"][0]["scheduleId"], id.as_str());
    assert_eq!(dlq["messages"][0]["responseStatus"], 500);
    let s = schedule(&app, &id).await;
    assert_eq!(s["lastScheduleStates"][got.message_id()], "FAIL");
    app.stop().await;
}

async fn pause_stops_firing_and_resume_continues_from_now_without_a_burst(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let id = create_ok(&app, "https://example.com/x", &[("Upstash-Cron", "0 * * * *")], "").await;
    let (status, _) = app
        .send_json(app.request(Method::PATCH, &format!("/v2/schedules/{id}/pause")))
        .await;
    assert_eq!(status, 200);
    let s = schedule(&app, &id).await;
    assert_eq!(s["isPaused"], true);
    assert!(
        s.get("nextScheduleTime").is_none(),
        "a paused schedule has no next fire"
    );
    app.clock.set_ms(T0 + 5 * HOUR + 30 * 60_000);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 0, "paused slots are skipped");

    // The docs' POST works as well as the SDKs' PATCH.
    let (status, _) = app
        .send_json(app.request(Method::POST, &format!("/v2/schedules/{id}/resume")))
        .await;
    assert_eq!(status, 200);
    let s = schedule(&app, &id).await;
    assert_eq!(s["isPaused"], false);
    assert_eq!(s["nextScheduleTime"], T0 + 6 * HOUR);
    assert_eq!(
        app.scheduler.run_once().await.unwrap(),
        0,
        "no burst of the five missed slots"
    );
    app.clock.set_ms(T0 + 6 * HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    app.stop().await;
}

async fn delete_stops_a_schedule(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let id = create_ok(&app, "https://example.com/x", &[("Upstash-Cron", "* * * * *")], "").await;
    let (status, _) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/schedules/{id}")))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.get_json(&format!("/v2/schedules/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send_json(app.request(Method::DELETE, &format!("/v2/schedules/{id}")))
        .await;
    assert_eq!(status, 404);
    app.clock.advance_ms(HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 0);
    app.stop().await;
}

async fn an_update_replaces_the_schedule_and_its_next_fire(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let first = [
        ("Upstash-Cron", "0 2 * * *"),
        ("Upstash-Schedule-Id", "nightly-backup"),
        ("Upstash-Retries", "5"),
    ];
    assert_eq!(
        create_ok(&app, &format!("{}/old", receiver.url), &first, "old body").await,
        "nightly-backup"
    );
    assert_eq!(
        schedule(&app, "nightly-backup").await["nextScheduleTime"],
        T0 + 2 * HOUR
    );

    let second = [("Upstash-Cron", "0 3 * * *"), ("Upstash-Schedule-Id", "nightly-backup")];
    create_ok(&app, &format!("{}/new", receiver.url), &second, "").await;
    let s = schedule(&app, "nightly-backup").await;
    assert_eq!(s["nextScheduleTime"], T0 + 3 * HOUR);
    assert_eq!(s["retries"], 3, "settings not given again are reset");
    assert!(s.get("body").is_none(), "a replaced schedule without a body has none");
    let (_, all) = app.get_json("/v2/schedules").await;
    assert_eq!(all.as_array().unwrap().len(), 1);

    app.clock.set_ms(T0 + 2 * HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 0);
    app.clock.set_ms(T0 + 3 * HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    assert_eq!(app.run_until_idle().await, 1);
    assert_eq!(receiver.requests()[0].target, "/new");
    app.stop().await;
}

async fn a_restart_after_downtime_fires_once(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let id = create_ok(&app, "https://example.com/x", &[("Upstash-Cron", "*/10 * * * *")], "").await;
    let db = app.db.clone();
    app.stop().await;

    // Three hours later (eighteen missed slots), a new process starts on the same database.
    let later = Options::stepped().with(|c| c.clock = Clock::manual(T0 + 3 * HOUR + 60_000));
    let app = spawn_app_on(db, later).await;
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1, "one catch-up fire");
    assert_eq!(app.scheduler.run_once().await.unwrap(), 0, "not a burst");
    let s = schedule(&app, &id).await;
    assert_eq!(
        s["lastScheduleTime"],
        T0 + 10 * 60_000,
        "the first missed slot is the one fired"
    );
    assert_eq!(
        s["nextScheduleTime"],
        T0 + 3 * HOUR + 10 * 60_000,
        "then the next slot after now"
    );
    app.stop().await;
}

async fn the_schedule_object_has_every_field_and_omits_absent_ones(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let headers = [
        ("Upstash-Cron", "CRON_TZ=America/New_York 0 4 * * * "),
        ("Upstash-Schedule-Id", "nightly.rebuild"),
        ("Upstash-Method", "GET"),
        ("Upstash-Retries", "2"),
        ("Upstash-Delay", "10s"),
        ("Upstash-Timeout", "20s"),
        ("Upstash-Retry-Delay", "pow(2, retried) * 1000"),
        ("Upstash-Label", "ops,nightly"),
        ("Upstash-Forward-Test-Header", "test-value"),
        ("Content-Type", "application/json"),
        ("Upstash-Telemetry-Sdk", "upstash-qstash-js@2.12.0"),
    ];
    create_ok(
        &app,
        "https://api.example.com/jobs?x=1",
        &headers,
        "{\"job\":\"rebuild\"}",
    )
    .await;
    let s = schedule(&app, "nightly.rebuild").await;
    assert_eq!(
        s,
        json!({
            "scheduleId": "nightly.rebuild", "cron": "CRON_TZ=America/New_York 0 4 * * *",
            "destination": "https://api.example.com/jobs?x=1", "createdAt": T0, "method": "GET",
            "header": {"Content-Type": ["application/json"], "Test-Header": ["test-value"]},
            "body": "{\"job\":\"rebuild\"}", "retries": 2, "delay": 10, "timeout": 20,
            "callerIP": "127.0.0.1", "callerIp": "127.0.0.1", "isPaused": false,
            "retryDelayExpression": "pow(2, retried) * 1000",
            "label": "ops", "labels": ["ops", "nightly"],
            "nextScheduleTime": T0 + 9 * HOUR,
        })
    );
    let minimal = create_ok(&app, "https://example.com/m", &[("Upstash-Cron", "0 0 * * *")], "").await;
    let s = schedule(&app, &minimal).await;
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "callerIP",
            "callerIp",
            "createdAt",
            "cron",
            "destination",
            "isPaused",
            "method",
            "nextScheduleTime",
            "retries",
            "scheduleId"
        ]
    );
    let (_, list) = app.get_json("/v2/schedules").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    app.stop().await;
}

async fn bad_schedules_are_refused_with_an_error_naming_the_problem(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let ok = "https://example.com/x";
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let cases: [(&str, Headers, u16, &str); 9] = [
        (ok, vec![], 400, "Upstash-Cron"),
        (ok, vec![("Upstash-Cron", "61 * * * *")], 400, "minute field"),
        (ok, vec![("Upstash-Cron", "0 9 * *")], 400, "expected 5 fields"),
        (ok, vec![("Upstash-Cron", "@daily")], 400, "descriptors"),
        (
            ok,
            vec![("Upstash-Cron", "CRON_TZ=Nowhere/City 0 9 * * *")],
            400,
            "time zone",
        ),
        (ok, vec![("Upstash-Cron", "0 0 31 2 *")], 400, "never fires"),
        (
            ok,
            vec![("Upstash-Cron", "0 9 * * 1"), ("Upstash-Schedule-Id", "has space")],
            400,
            "Upstash-Schedule-Id",
        ),
        (
            ok,
            vec![("Upstash-Cron", "0 9 * * 1"), ("Upstash-Delay", "soon")],
            400,
            "Upstash-Delay",
        ),
        (
            "ftp://example.com/x",
            vec![("Upstash-Cron", "0 9 * * 1")],
            400,
            "scheme",
        ),
    ];
    for (destination, headers, status, mentions) in cases {
        let (got, body) = create(&app, destination, &headers, "").await;
        assert_eq!(got, status, "{headers:?}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(mentions),
            "{body} should mention {mentions}"
        );
    }
    let (_, list) = app.get_json("/v2/schedules").await;
    assert_eq!(list, json!([]), "nothing was stored");
    for (method, path) in [
        (Method::GET, "/v2/schedules/scd_nope"),
        (Method::DELETE, "/v2/schedules/scd_nope"),
        (Method::PATCH, "/v2/schedules/scd_nope/pause"),
        (Method::PATCH, "/v2/schedules/scd_nope/resume"),
    ] {
        let (status, body) = app.send_json(app.request(method.clone(), path)).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_postgres_fire_each_slot_once() {
    let Some(backend) = Backend::postgres() else { return };
    let db = Arc::new(TestDb::new(backend).await);
    let receiver = Receiver::start().await;
    let a = spawn_app_on(db.clone(), Options::stepped()).await;
    let b = spawn_app_on(db.clone(), Options::stepped()).await;
    create_ok(&a, &receiver.url, &[("Upstash-Cron", "* * * * *")], "").await;
    for minute in 1..=5 {
        a.clock.set_ms(T0 + minute * 60_000);
        b.clock.set_ms(T0 + minute * 60_000);
        let (fired_a, fired_b) = tokio::join!(a.scheduler.run_once(), b.scheduler.run_once());
        assert_eq!(fired_a.unwrap() + fired_b.unwrap(), 1, "slot {minute} fired once");
    }
    assert_eq!(a.run_until_idle().await, 5);
    assert_eq!(receiver.requests().len(), 5);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_postgres_instance_leads_the_scheduler_and_another_takes_over_when_it_stops() {
    let Some(backend) = Backend::postgres() else { return };
    let db = Arc::new(TestDb::new(backend).await);
    let a = spawn_app_on(db.clone(), Options::default()).await;
    let b = spawn_app_on(db.clone(), Options::default()).await;
    let leader = eventually(Duration::from_secs(10), "one instance to lead", || async {
        match (a.scheduler.is_leading(), b.scheduler.is_leading()) {
            (true, false) => Some('a'),
            (false, true) => Some('b'),
            _ => None,
        }
    })
    .await;
    let (stopped, survivor) = if leader == 'a' { (a, b) } else { (b, a) };
    stopped.stop().await;
    eventually(Duration::from_secs(10), "the other instance to take over", || async {
        survivor.scheduler.is_leading().then_some(())
    })
    .await;
    survivor.stop().await;
}

async fn fired_messages_keep_the_schedules_flow_control_and_redaction(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let headers = [
        ("Upstash-Cron", "0 * * * *"),
        ("Upstash-Schedule-Id", "billing-run"),
        ("Upstash-Flow-Control-Key", "billing"),
        ("Upstash-Flow-Control-Value", "parallelism=1, rate=10, period=1m"),
        ("Upstash-Redact-Fields", "body"),
    ];
    create_ok(&app, &receiver.url, &headers, "secret-payload").await;
    let s = schedule(&app, "billing-run").await;
    assert_eq!(
        (s["flowControlKey"].as_str(), s["parallelism"].as_i64()),
        (Some("billing"), Some(1))
    );
    assert_eq!((s["rate"].as_i64(), s["period"].as_i64()), (Some(10), Some(60)));
    assert!(s["body"].as_str().unwrap().starts_with("REDACTED:"));
    app.clock.set_ms(T0 + HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    assert_eq!(app.run_until_idle().await, 1);
    let delivered = receiver.requests().remove(0);
    assert_eq!(delivered.body, "secret-payload".as_bytes());
    let message = app.message(delivered.message_id()).await;
    assert_eq!(message["flowControlKey"], "billing");
    assert!(message["body"].as_str().unwrap().starts_with("REDACTED:"));
    let (_, key) = app.get_json("/v2/flowControl/billing").await;
    assert_eq!(key["rateCount"], 1, "the fire counted against the key's rate");
    app.stop().await;
}

/// A schedule created with only a parallelism reads back the default period (1 s) and no rate, exactly as
/// the messages it fires and their DLQ entries do (the Python SDK reads `period == 1`, `rate is None`).
async fn a_schedule_with_only_parallelism_shows_the_default_period_like_its_messages(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let headers = [
        ("Upstash-Cron", "0 * * * *"),
        ("Upstash-Schedule-Id", "parallel-only"),
        ("Upstash-Flow-Control-Key", "reports"),
        ("Upstash-Flow-Control-Value", "parallelism=2"),
    ];
    create_ok(&app, &receiver.url, &headers, "x").await;
    let s = schedule(&app, "parallel-only").await;
    let limits = |v: &serde_json::Value| (v["parallelism"].as_i64(), v["rate"].as_i64(), v["period"].as_i64());
    assert_eq!(limits(&s), (Some(2), None, Some(1)));
    app.clock.set_ms(T0 + HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    let (_, list) = app.get_json("/v2/events?scheduleId=parallel-only").await;
    let id = list["events"][0]["messageId"].as_str().unwrap().to_string();
    assert_eq!(limits(&app.message(&id).await), limits(&s));
    app.stop().await;
}

/// QStash's first API created schedules by publishing with `Upstash-Cron`, and code and tutorials still do:
/// such a publish creates the schedule (answering its id) and is never delivered once, at once.
async fn publishing_with_a_cron_header_creates_a_schedule_and_delivers_nothing_at_once(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let publish = |cron: &str| {
        app.publish(&format!("{}/legacy", receiver.url))
            .header("Upstash-Cron", cron)
            .header("Upstash-Schedule-Id", "legacy-hourly")
            .body("tick")
    };
    let (status, answer) = app.send_json(publish("0 * * * *")).await;
    assert_eq!(
        (status, answer),
        (201, serde_json::json!({"scheduleId": "legacy-hourly"}))
    );
    assert_eq!(app.run_until_idle().await, 0, "nothing is delivered at once");
    assert_eq!(schedule(&app, "legacy-hourly").await["cron"], "0 * * * *");
    let (status, _) = app.send_json(publish("every hour")).await;
    assert_eq!(status, 400, "a bad cron is refused like on /v2/schedules");

    app.clock.set_ms(T0 + HOUR);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    assert_eq!(app.run_until_idle().await, 1);
    let delivered = receiver.requests();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].header("upstash-schedule-id"), Some("legacy-hourly"));
    assert_eq!(delivered[0].body, "tick".as_bytes());
    app.stop().await;
}
