//! The web console's cost: how long each page takes with a large backlog (seed it with `--seed`), and
//! delivery throughput with and without an overview open and refreshing (issue 14: every page under
//! 200 ms with 1,000,000 waiting messages; throughput within 5% with the overview refreshing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::Client;
use crate::receiver::Seen;

/// What the console run measures.
pub struct ConsoleRun {
    /// Waiting messages (300-day delay) to publish first.
    pub seed: u64,
    /// Requests per page.
    pub repeats: usize,
    /// Seconds of each throughput run (0: no throughput runs).
    pub seconds: u64,
    /// How often the poller refreshes the overview (the page itself does every 5 s).
    pub poll_every: Duration,
}

/// Signs in with the token and returns the session cookie.
async fn sign_in(client: &Client) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http
        .post(format!("{}/console/sign-in", client.base))
        .form(&[("token", client.token.as_str())])
        .send()
        .await
        .expect("the console answers");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("sign-in sets the session cookie");
    cookie.split(';').next().unwrap_or_default().to_string()
}

async fn get(client: &Client, cookie: &str, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let response = client
        .http
        .get(format!("{}{path}", client.base))
        .header("cookie", cookie)
        .send()
        .await;
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            (status, started.elapsed())
        }
        Err(_) => (0, started.elapsed()),
    }
}

/// The id of one waiting message, for the message page.
async fn some_message(client: &Client) -> Option<String> {
    let response = client
        .http
        .get(format!("{}/v2/messages?count=1&state=CREATED", client.base))
        .bearer_auth(&client.token)
        .send()
        .await
        .ok()?;
    let body: Value = serde_json::from_slice(&response.bytes().await.ok()?).ok()?;
    body["messages"][0]["messageId"].as_str().map(str::to_string)
}

/// p50, p99 and max of each page over `repeats` requests.
async fn time_pages(client: &Client, cookie: &str, repeats: usize) -> Value {
    let mut pages = vec![
        "/console/".to_string(),
        "/console/?live=1".to_string(),
        "/console/messages".to_string(),
        "/console/messages?state=CREATED".to_string(),
        // Filters that match nothing: the worst case, each page searches its whole window.
        "/console/messages?label=no-such-label".to_string(),
        "/console/messages?host=no-such-host.test".to_string(),
        "/console/messages?url=https%3A%2F%2Fno-such-host.test%2Fx".to_string(),
        "/console/messages?state=FAILED".to_string(),
        "/console/messages?queueName=no-such-queue".to_string(),
        "/console/messages?flowControlKey=no-such-key".to_string(),
        "/console/dlq".to_string(),
        "/console/dlq?label=no-such-label".to_string(),
        "/console/schedules".to_string(),
        "/console/queues".to_string(),
        "/console/keys".to_string(),
        "/console/send".to_string(),
    ];
    if let Some(id) = some_message(client).await {
        pages.push(format!("/console/messages/{id}"));
    }
    let mut results = serde_json::Map::new();
    for page in pages {
        let mut times = Vec::with_capacity(repeats);
        let mut statuses = std::collections::BTreeSet::new();
        for _ in 0..repeats {
            let (status, took) = get(client, cookie, &page).await;
            statuses.insert(status);
            times.push(took.as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        results.insert(
            page,
            json!({ "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0), "statuses": statuses }),
        );
    }
    Value::Object(results)
}

pub async fn run(client: Arc<Client>, seen: Arc<Seen>, run: ConsoleRun) -> Value {
    let mut result = json!({ "run": "console", "seeded_waiting_messages": run.seed });
    if run.seed > 0 {
        result["seed"] = crate::throughput::publish(client.clone(), run.seed, 32, 100, Some("300d".into())).await;
    }
    let cookie = sign_in(&client).await;
    result["pages"] = time_pages(&client, &cookie, run.repeats).await;
    if run.seconds > 0 {
        let sustained = || crate::throughput::sustained(client.clone(), seen.clone(), run.seconds, 32, 1, 20_000);
        let without = sustained().await;
        let poller = {
            let (client, cookie) = (client.clone(), cookie.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(run.poll_every);
                loop {
                    tick.tick().await;
                    get(&client, &cookie, "/console/?live=1").await;
                }
            })
        };
        let with = sustained().await;
        poller.abort();
        let rate = |v: &Value| v["delivered_per_second"].as_f64().unwrap_or(0.0);
        let change = if rate(&without) > 0.0 {
            (rate(&with) / rate(&without) - 1.0) * 100.0
        } else {
            0.0
        };
        result["throughput_without_console"] = without;
        result["throughput_with_overview_polled"] = with;
        result["overview_poll_every_ms"] = json!(run.poll_every.as_millis() as u64);
        result["throughput_change_percent"] = json!((change * 10.0).round() / 10.0);
    }
    result
}
