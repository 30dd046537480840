//! Benchmark: drives a running Postdate over HTTP with its own lean receiver and reports throughput and
//! timeliness. Speed is measured here, never asserted in tests.
//!
//!   postdate-bench --url http://127.0.0.1:8080 --token T throughput --messages 20000 --clients 32
//!   postdate-bench --url http://127.0.0.1:8080 --token T lateness --rate 1000 --seconds 60 --delay 2s

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Measures a running Postdate: publish and delivery throughput, delivery lateness")]
struct Args {
    /// Base URL of the Postdate under test.
    #[arg(long, env = "QSTASH_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Its token.
    #[arg(long, env = "QSTASH_TOKEN", hide_env_values = true)]
    token: String,
    /// Write the results as JSON to this file too.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    #[command(subcommand)]
    run: Run,
}

#[derive(Subcommand)]
enum Run {
    /// Publishes `messages` undelayed messages from `clients` concurrent clients and waits for all to arrive.
    Throughput {
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        #[arg(long, default_value_t = 32)]
        clients: u64,
    },
    /// Publishes delayed messages at a steady rate and measures arrival minus due time.
    Lateness {
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Delay of each message, e.g. 2s.
        #[arg(long, default_value = "2s")]
        delay: String,
    },
    /// Creates schedules firing every minute and measures arrival minus slot time over a few minutes.
    Cron {
        #[arg(long, default_value_t = 1_000)]
        schedules: u64,
        #[arg(long, default_value_t = 2)]
        minutes: u64,
    },
}

/// What the receiver saw: arrival time (Unix µs) per message, keyed by the body the publisher chose.
#[derive(Default)]
struct Seen {
    arrivals: Mutex<Vec<(u64, i64)>>,
    count: AtomicU64,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

async fn receive(State(seen): State<Arc<Seen>>, body: axum::body::Bytes) -> &'static str {
    let at = now_us();
    if let Some(n) = std::str::from_utf8(&body).ok().and_then(|s| s.parse::<u64>().ok()) {
        seen.arrivals.lock().unwrap().push((n, at));
    }
    seen.count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

async fn start_receiver() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new().fallback(receive).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

struct Publisher {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Publisher {
    async fn publish(&self, n: u64, delay: Option<&str>) -> bool {
        let mut request = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .body(n.to_string());
        if let Some(delay) = delay {
            request = request.header("Upstash-Delay", delay);
        }
        matches!(request.send().await, Ok(r) if r.status().is_success())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn wait_for(seen: &Seen, n: u64, idle_limit: Duration) -> Instant {
    let mut last = (seen.count.load(Ordering::Relaxed), Instant::now());
    loop {
        let count = seen.count.load(Ordering::Relaxed);
        if count >= n {
            return Instant::now();
        }
        if count != last.0 {
            last = (count, Instant::now());
        } else if last.1.elapsed() > idle_limit {
            eprintln!("gave up: {count} of {n} arrived, none for {idle_limit:?}");
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (hook, seen) = start_receiver().await;
    let publisher = Arc::new(Publisher {
        http: reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap(),
        endpoint: format!("{}/v2/publish/{hook}", args.url.trim_end_matches('/')),
        token: args.token.clone(),
    });
    let result = match args.run {
        Run::Throughput { messages, clients } => {
            let next = Arc::new(AtomicU64::new(0));
            let started = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..clients {
                let (publisher, next) = (publisher.clone(), next.clone());
                tasks.push(tokio::spawn(async move {
                    let mut failed = 0;
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= messages {
                            return failed;
                        }
                        if !publisher.publish(n, None).await {
                            failed += 1;
                        }
                    }
                }));
            }
            let mut failed = 0;
            for task in tasks {
                failed += task.await.unwrap();
            }
            let published = started.elapsed();
            let done = wait_for(&seen, messages - failed, Duration::from_secs(30)).await;
            let delivered = seen.count.load(Ordering::Relaxed);
            let total = done - started;
            json!({
                "run": "throughput", "messages": messages, "clients": clients, "publish_failures": failed,
                "publish_per_second": (messages as f64 / published.as_secs_f64()).round(),
                "delivered": delivered,
                "end_to_end_per_second": (delivered as f64 / total.as_secs_f64()).round(),
                "seconds": total.as_secs_f64(),
            })
        }
        Run::Lateness { rate, seconds, delay } => {
            let delay_us = postdate::domain::duration::parse_duration(&delay)
                .expect("a valid --delay")
                .as_micros() as i64;
            let total = rate * seconds;
            let due: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(vec![0; total as usize]));
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for n in 0..total {
                let at = started + Duration::from_secs_f64(n as f64 / rate as f64);
                tokio::time::sleep_until(at.into()).await;
                let (publisher, due, delay) = (publisher.clone(), due.clone(), delay.clone());
                tasks.spawn(async move {
                    // The server's clock starts the delay no earlier than this: lateness is an upper bound.
                    due.lock().unwrap()[n as usize] = now_us() + delay_us;
                    publisher.publish(n, Some(&delay)).await
                });
            }
            let mut failed = 0;
            while let Some(ok) = tasks.join_next().await {
                failed += u64::from(!ok.unwrap());
            }
            wait_for(&seen, total - failed, Duration::from_secs(30)).await;
            let due = due.lock().unwrap();
            let mut late_ms: Vec<f64> = seen
                .arrivals
                .lock()
                .unwrap()
                .iter()
                .map(|(n, at)| (at - due[*n as usize]) as f64 / 1000.0)
                .collect();
            late_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
            json!({
                "run": "lateness", "rate": rate, "seconds": seconds, "delay": delay, "messages": total,
                "publish_failures": failed, "delivered": late_ms.len(),
                "early": late_ms.iter().filter(|l| **l < 0.0).count(),
                "lateness_ms": {"p50": percentile(&late_ms, 50.0), "p99": percentile(&late_ms, 99.0),
                                 "max": late_ms.last().copied().unwrap_or(f64::NAN)},
            })
        }
        Run::Cron { schedules, minutes } => {
            let base = args.url.trim_end_matches('/');
            for i in 0..schedules {
                let created = publisher
                    .http
                    .post(format!("{base}/v2/schedules/{hook}"))
                    .bearer_auth(&args.token)
                    .header("Upstash-Cron", "* * * * *")
                    .header("Upstash-Schedule-Id", format!("bench-{i}"))
                    .body(i.to_string())
                    .send()
                    .await;
                assert!(
                    matches!(created, Ok(r) if r.status().is_success()),
                    "creating schedule {i} failed"
                );
            }
            // Count only whole minutes that start after every schedule exists.
            let now = now_us();
            let first_slot = (now / 60_000_000 + 1) * 60_000_000;
            let end = first_slot + minutes as i64 * 60_000_000;
            tokio::time::sleep(Duration::from_micros((end - now) as u64 + 1_000_000)).await;
            let mut late_ms: Vec<f64> = seen
                .arrivals
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, at)| *at >= first_slot && *at < end)
                .map(|(_, at)| ((at - first_slot) % 60_000_000) as f64 / 1000.0)
                .collect();
            late_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
            for i in 0..schedules {
                let _ = publisher
                    .http
                    .delete(format!("{base}/v2/schedules/bench-{i}"))
                    .bearer_auth(&args.token)
                    .send()
                    .await;
            }
            json!({
                "run": "cron", "schedules": schedules, "minutes": minutes,
                "expected": schedules * minutes, "delivered": late_ms.len(),
                "lateness_ms": {"p50": percentile(&late_ms, 50.0), "p99": percentile(&late_ms, 99.0),
                                 "max": late_ms.last().copied().unwrap_or(f64::NAN)},
            })
        }
    };
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    if let Some(path) = args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&result).unwrap()).unwrap();
    }
}
