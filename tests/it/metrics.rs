//! Observability: `/metrics` counts known traffic exactly and parses as Prometheus text with every
//! documented metric present; `/healthz` and `/readyz` answer without the token, and readiness follows the
//! database.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{eventually, spawn_app, Backend, Options, TestApp, T0};

backend_tests!(
    metrics_count_known_traffic_and_histograms_observe_every_attempt,
    the_exposition_parses_and_holds_every_documented_metric,
    probes_answer_without_the_token_and_metrics_need_it,
);

/// Every metric the README documents (names as exposed; counters with `_total`).
const DOCUMENTED: &[&str] = &[
    "postdate_messages_accepted_total",
    "postdate_delivery_attempts_total",
    "postdate_destination_attempts_total",
    "postdate_messages_delivered_total",
    "postdate_messages_retried_total",
    "postdate_messages_dead_lettered_total",
    "postdate_messages_cancelled_total",
    "postdate_schedule_fires_total",
    "postdate_delivery_duration_seconds",
    "postdate_delivery_lateness_seconds",
    "postdate_schedule_fire_lateness_seconds",
    "postdate_claim_batch_messages",
    "postdate_store_operation_duration_seconds",
    "postdate_messages",
    "postdate_dlq_entries",
    "postdate_oldest_due_message_age_seconds",
    "postdate_deliveries_in_flight",
    "postdate_schedules",
    "postdate_scheduler_leader",
    "postdate_database_connections",
    "postdate_workflow_runs_started_total",
    "postdate_workflow_runs",
    "postdate_workflow_waiters",
];

/// One scrape, parsed by a Prometheus text-format parser: every sample by name and labels.
pub(crate) struct Scrape(Vec<prometheus_parse::Sample>);

impl Scrape {
    pub(crate) async fn of(app: &TestApp) -> Scrape {
        let response = app.request(Method::GET, "/metrics").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        // The OpenMetrics end marker is not part of the classic text format the parser reads.
        let lines = text.lines().filter(|l| *l != "# EOF").map(|l| Ok(l.to_string()));
        let parsed = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
        Scrape(parsed.samples)
    }

    /// The value of `name` with exactly these labels (0 when absent).
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .find(|s| {
                s.metric == name
                    && labels.len() == s.labels.iter().count()
                    && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            })
            .map_or(0.0, |s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                other => panic!("{name} is not a single value: {other:?}"),
            })
    }

    /// How many observations histogram `name` (with these labels) has.
    pub(crate) fn observations(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map_or(0, |s| match &s.value {
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.iter().map(|b| b.count).fold(0.0, f64::max) as u64
                }
                other => panic!("{name} is not a histogram: {other:?}"),
            })
    }

    fn names(&self) -> std::collections::HashSet<String> {
        self.0.iter().map(|s| s.metric.clone()).collect()
    }
}

/// Counter deltas between two scrapes.
fn delta(before: &Scrape, after: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.value(name, labels) - before.value(name, labels)
}

async fn metrics_count_known_traffic_and_histograms_observe_every_attempt(backend: Backend) {
    let receiver = Receiver::answering(|r| match r.target.as_str() {
        "/fail" => Reply::Status(500),
        "/gone" => Reply::Status(404),
        _ => Reply::Status(200),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let before = Scrape::of(&app).await;
    let ok = format!("{}/ok", receiver.url);
    app.publish_ok(&ok, "a", &[]).await;
    app.publish_ok(&ok, "b", &[]).await;
    app.publish_ok(&format!("{}/fail", receiver.url), "c", &[("Upstash-Retries", "1")])
        .await;
    app.publish_ok(&format!("{}/gone", receiver.url), "d", &[("Upstash-Retries", "0")])
        .await;
    let later = app.publish_ok(&ok, "e", &[("Upstash-Delay", "1h")]).await;
    assert_eq!(app.run_until_idle().await, 4);
    app.clock.set_ms(T0 + 60_000);
    assert_eq!(app.run_until_idle().await, 1, "the retry");
    let cancel = app.request(Method::DELETE, &format!("/v2/messages/{later}"));
    assert_eq!(app.send_json(cancel).await.0, 200);
    app.stats.refresh_once().await.unwrap();
    let after = Scrape::of(&app).await;

    let accepted = [("kind", "publish")];
    assert_eq!(
        delta(&before, &after, "postdate_messages_accepted_total", &accepted),
        5.0
    );
    let attempts = |outcome: &str| {
        delta(
            &before,
            &after,
            "postdate_delivery_attempts_total",
            &[("outcome", outcome)],
        )
    };
    assert_eq!(
        (attempts("success"), attempts("http_5xx"), attempts("http_4xx")),
        (2.0, 2.0, 1.0)
    );
    let counter = |name: &str| delta(&before, &after, name, &[]);
    assert_eq!(counter("postdate_messages_delivered_total"), 2.0);
    assert_eq!(counter("postdate_messages_retried_total"), 1.0);
    assert_eq!(counter("postdate_messages_dead_lettered_total"), 2.0);
    assert_eq!(counter("postdate_messages_cancelled_total"), 1.0);
    let host = [("host", "127.0.0.1"), ("outcome", "success")];
    assert_eq!(
        delta(&before, &after, "postdate_destination_attempts_total", &host),
        2.0
    );
    for histogram in [
        "postdate_delivery_duration_seconds",
        "postdate_delivery_lateness_seconds",
    ] {
        assert_eq!(
            after.observations(histogram, &[]),
            5,
            "{histogram} observed every attempt"
        );
    }
    assert!(after.observations("postdate_claim_batch_messages", &[]) >= 2);
    let claims = [("operation", "message_claim_due")];
    assert!(after.observations("postdate_store_operation_duration_seconds", &claims) >= 2);
    assert_eq!(after.value("postdate_dlq_entries", &[]), 2.0);
    assert_eq!(after.value("postdate_messages", &[("state", "in_flight")]), 0.0);
    app.stop().await;
}

async fn the_exposition_parses_and_holds_every_documented_metric(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    // A delivery, a schedule firing and a refresh: every family has samples.
    app.publish_ok(&receiver.url, "now", &[]).await;
    assert_eq!(app.run_until_idle().await, 1);
    let schedule = app
        .request(Method::POST, &format!("/v2/schedules/{}/tick", receiver.url))
        .header("Upstash-Cron", "* * * * *");
    assert_eq!(app.send_json(schedule).await.0, 200);
    app.clock.set_ms(T0 + 60_000);
    assert_eq!(app.scheduler.run_once().await.unwrap(), 1);
    app.publish_ok(&receiver.url, "later", &[("Upstash-Delay", "1h")]).await;
    app.stats.refresh_once().await.unwrap();
    let scrape = Scrape::of(&app).await;
    let names = scrape.names();
    let missing: Vec<&&str> = DOCUMENTED.iter().filter(|name| !names.contains(**name)).collect();
    assert!(missing.is_empty(), "missing {missing:?} in {names:?}");
    assert_eq!(scrape.value("postdate_schedule_fires_total", &[]), 1.0);
    assert_eq!(scrape.observations("postdate_schedule_fire_lateness_seconds", &[]), 1);
    assert_eq!(scrape.value("postdate_schedules", &[("state", "active")]), 1.0);
    let messages = |state| scrape.value("postdate_messages", &[("state", state)]);
    assert_eq!(
        (messages("waiting"), messages("due")),
        (1.0, 1.0),
        "the delayed one waits, the fired one is due"
    );
    assert_eq!(scrape.value("postdate_oldest_due_message_age_seconds", &[]), 0.0);
    app.stop().await;
}

async fn probes_answer_without_the_token_and_metrics_need_it(backend: Backend) {
    let app = spawn_app(backend, Options::default()).await;
    let anonymous = reqwest::Client::new();
    for path in ["/healthz", "/health"] {
        let response = anonymous.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let ready = eventually(Duration::from_secs(10), "ready", || async {
        let response = anonymous.get(format!("{}/readyz", app.base)).send().await.unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        (status == 200).then_some(body)
    })
    .await;
    let checks: HashMap<String, String> = serde_json::from_value(ready["checks"].clone()).unwrap();
    assert_eq!(checks.len(), 3, "{ready}");
    assert!(checks.values().all(|c| c == "ok"), "{ready}");
    let metrics = anonymous.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(metrics.status(), 401);
    let id = |response: &reqwest::Response| response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id(&metrics).starts_with("req_"), "every answer carries a request id");
    let own = anonymous
        .get(format!("{}/healthz", app.base))
        .header("X-Request-Id", "client-42")
        .send()
        .await
        .unwrap();
    assert_eq!(id(&own), "client-42", "a client's own id is echoed");
    app.stop().await;
}

/// Readiness follows the database: `503` naming the database while it refuses connections, `200` again once
/// it accepts them, without a restart. (Postgres: the test closes the app's database to connections and ends
/// its sessions; the server itself keeps running for the other tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_while_the_database_is_gone_and_200_when_it_returns() {
    let Some(backend) = Backend::postgres() else { return };
    let app = spawn_app(backend, Options::default()).await;
    let name = url::Url::parse(&app.db.url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let admin = sqlx::PgPool::connect(&std::env::var("POSTDATE_TEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    let readiness = || async {
        let response = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    eventually(Duration::from_secs(10), "ready at first", || async {
        (readiness().await.0 == 200).then_some(())
    })
    .await;

    sqlx::query(&format!("alter database {name} allow_connections false"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1")
        .bind(&name)
        .execute(&admin)
        .await
        .unwrap();
    let gone = eventually(
        Duration::from_secs(20),
        "not ready while the database is gone",
        || async {
            let (status, body) = readiness().await;
            (status == 503).then_some(body)
        },
    )
    .await;
    assert_ne!(gone["checks"]["database"], "ok", "{gone}");
    assert_eq!(gone["checks"]["shutdown"], "ok", "{gone}");

    sqlx::query(&format!("alter database {name} allow_connections true"))
        .execute(&admin)
        .await
        .unwrap();
    eventually(Duration::from_secs(20), "ready again without a restart", || async {
        (readiness().await.0 == 200).then_some(())
    })
    .await;
    admin.close().await;
    app.stop().await;
}

/// The Grafana dashboard and the example alert rules use only metrics that exist.
#[test]
fn the_dashboard_and_alert_rules_use_documented_metrics() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dashboard = std::fs::read_to_string(format!("{root}/deploy/grafana/postdate.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(!parsed["panels"].as_array().unwrap().is_empty());
    let alerts = std::fs::read_to_string(format!("{root}/deploy/prometheus/alerts.yml")).unwrap();
    for (file, text) in [("dashboard", dashboard), ("alerts", alerts)] {
        let mut used = 0;
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("postdate_") {
                let family = word.strip_suffix("_bucket").unwrap_or(word);
                assert!(
                    DOCUMENTED.contains(&family),
                    "the {file} uses {word}, which is not exposed"
                );
                used += 1;
            }
        }
        assert!(used > 3, "the {file} uses the metrics");
    }
}
