//! Isolation runs (issue 10): a hanging neighbour must not make fast traffic late, slow receivers must
//! still get thousands of deliveries per second, and many destinations must share capacity fairly.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::Client;
use crate::receiver::{now_us, start_at, Seen};
use crate::timeliness::{lateness, summary};

/// Open file descriptors of a process, from /proc.
fn open_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// Samples the server's open file descriptors every 100 ms until dropped; `peak` holds the highest seen.
struct FdSampler {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FdSampler {
    fn start(pid: Option<u32>) -> FdSampler {
        let peak = Arc::new(AtomicU64::new(0));
        let seen = peak.clone();
        let task = tokio::spawn(async move {
            let Some(pid) = pid else { return };
            loop {
                if let Some(n) = open_fds(pid) {
                    seen.fetch_max(n, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        FdSampler { peak, task }
    }

    fn finish(self) -> u64 {
        self.task.abort();
        self.peak.load(Ordering::Relaxed)
    }
}

/// `hanging` messages to a destination that never answers (each with `Upstash-Timeout: hang_timeout`),
/// then the lateness run at `rate` for `seconds` to the fast receiver. Reports the fast traffic's lateness
/// and how many attempts (first and retried) the hanging destination received meanwhile.
pub async fn hanging_neighbour(
    client: Arc<Client>,
    seen: Arc<Seen>,
    hanging: u64,
    hang_timeout: String,
    rate: u64,
    seconds: u64,
) -> Value {
    let hung = Arc::new(Seen::default());
    let url = start_at("127.0.0.2".parse().unwrap(), hung.clone(), Duration::MAX).await;
    let started = Instant::now();
    let mut failed = 0;
    for n in 0..hanging {
        let ok = client
            .publish_to(&url, n, None, &[("Upstash-Timeout", &hang_timeout)])
            .await;
        failed += u64::from(!ok);
    }
    let publish_seconds = started.elapsed().as_secs_f64();
    let fast = lateness(client.clone(), seen, rate, seconds, "1s".into()).await;
    let attempts = hung.count();
    let outcomes = attempt_outcomes(&client).await;
    json!({
        "run": "hanging-neighbour", "hanging_messages": hanging, "hanging_publish_failures": failed,
        "hang_timeout": hang_timeout, "hanging_publish_seconds": publish_seconds,
        "hanging_attempts_received": attempts,
        "hanging_retries_received": attempts.saturating_sub(hanging),
        "server_attempt_outcomes": outcomes,
        "fast": fast,
    })
}

/// The server's delivery attempts so far by outcome (timeouts, open circuits, …), summed over its labels,
/// from its `/metrics`.
async fn attempt_outcomes(client: &Client) -> Value {
    let text = match client
        .http
        .get(format!("{}/metrics", client.base))
        .bearer_auth(&client.token)
        .send()
        .await
    {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return Value::Null,
    };
    let mut outcomes = serde_json::Map::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("postdate_delivery_attempts_total{"))
    {
        let Some(outcome) = line.split("outcome=\"").nth(1).and_then(|r| r.split('"').next()) else {
            continue;
        };
        let Some(count) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let total = outcomes.get(outcome).and_then(Value::as_f64).unwrap_or(0.0) + count;
        outcomes.insert(outcome.to_string(), total.into());
    }
    Value::Object(outcomes)
}

/// How the slow-receiver run publishes: `clients` publishers, `batch_size` messages per request, at most
/// `window` messages published but not yet delivered.
pub struct Publishing {
    pub clients: u64,
    pub batch_size: u64,
    pub window: u64,
}

/// Sustained throughput to a receiver that answers every request after `pause`, with bodies of
/// `body_bytes`; reports the server's peak open file descriptors besides its memory.
pub async fn slow_receiver(
    client: Arc<Client>,
    server_pid: Option<u32>,
    pause: Duration,
    body_bytes: usize,
    seconds: u64,
    publishing: Publishing,
) -> Value {
    let seen = Arc::new(Seen::default());
    let url = start_at("127.0.0.1".parse().unwrap(), seen.clone(), pause).await;
    let slow = Arc::new(client.to(&url, body_bytes));
    let fds = FdSampler::start(server_pid);
    let Publishing {
        clients,
        batch_size,
        window,
    } = publishing;
    let mut result = crate::throughput::sustained(slow, seen, seconds, clients, batch_size, window).await;
    result["run"] = "slow-receiver".into();
    result["receiver_pause_ms"] = (pause.as_millis() as u64).into();
    result["body_bytes"] = body_bytes.into();
    result["server_peak_open_fds"] = fds.finish().into();
    result
}

/// `hosts` receivers, each on a loopback address of its own (127.1.x.y), and messages delayed by `delay`
/// spread round-robin over them at `rate` for `seconds`; reports each host's p99 lateness, the fastest
/// and slowest of those, and their ratio.
pub async fn many_destinations(
    client: Arc<Client>,
    hosts: u64,
    rate: u64,
    seconds: u64,
    delay: String,
    batch_size: u64,
) -> Value {
    let delay_us = postdate::domain::duration::parse_duration(&delay)
        .expect("a valid --delay")
        .as_micros() as i64;
    let seen = Arc::new(Seen::default());
    let mut urls = Vec::new();
    for i in 0..hosts {
        let ip: IpAddr = format!("127.1.{}.{}", i / 250, i % 250 + 1).parse().unwrap();
        urls.push(start_at(ip, seen.clone(), Duration::ZERO).await);
    }
    let urls = Arc::new(urls);
    let total = rate * seconds;
    let due: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(vec![0; total as usize]));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for first in (0..total).step_by(batch_size as usize) {
        let at = started + Duration::from_secs_f64(first as f64 / rate as f64);
        tokio::time::sleep_until(at.into()).await;
        let (client, due, delay, urls) = (client.clone(), due.clone(), delay.clone(), urls.clone());
        let range = first..(first + batch_size).min(total);
        tasks.spawn(async move {
            let sent_at = now_us() + delay_us;
            for n in range.clone() {
                due.lock().unwrap()[n as usize] = sent_at;
            }
            let destinations = range.clone().map(|n| urls[(n % hosts) as usize].as_str());
            let accepted = match range.end - range.start {
                1 => {
                    client
                        .publish_to(&urls[(range.start % hosts) as usize], range.start, Some(&delay), &[])
                        .await
                }
                _ => client.publish_batch_to(destinations, range.clone(), &delay).await,
            };
            if accepted {
                0
            } else {
                range.end - range.start
            }
        });
    }
    let mut failed = 0;
    while let Some(not_accepted) = tasks.join_next().await {
        failed += not_accepted.unwrap();
    }
    seen.wait_for(total - failed, Duration::from_secs(30)).await;
    let due = due.lock().unwrap();
    let mut per_host: Vec<Vec<f64>> = vec![Vec::new(); hosts as usize];
    let mut all = Vec::new();
    for (n, at) in seen.arrivals.lock().unwrap().iter().filter(|(n, _)| *n < total) {
        let late = (at - due[*n as usize]) as f64 / 1000.0;
        per_host[(n % hosts) as usize].push(late);
        all.push(late);
    }
    let p99s: Vec<f64> = per_host
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| summary(l)["p99"].as_f64().unwrap_or(f64::NAN))
        .collect();
    let fastest = p99s.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest = p99s.iter().copied().fold(0.0, f64::max);
    json!({
        "run": "many-destinations", "hosts": hosts, "rate": rate, "seconds": seconds, "delay": delay,
        "batch_size": batch_size,
        "messages": total, "publish_failures": failed, "delivered": all.len(),
        "hosts_delivered": p99s.len(),
        "lateness_ms": summary(all),
        "fastest_host_p99_ms": fastest, "slowest_host_p99_ms": slowest,
        "slowest_over_fastest": slowest / fastest,
    })
}
