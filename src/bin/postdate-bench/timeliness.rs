//! Timeliness runs: how late delayed messages and cron fires arrive.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::Client;
use crate::receiver::{now_us, Seen};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn summary(mut late_ms: Vec<f64>) -> Value {
    late_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    json!({
        "p50": percentile(&late_ms, 50.0), "p99": percentile(&late_ms, 99.0),
        "max": late_ms.last().copied().unwrap_or(f64::NAN),
    })
}

/// Publishes messages with `delay` at a steady `rate` for `seconds`; lateness is arrival minus (the moment
/// the request was sent + the delay), so it includes the publish round trip: an upper bound.
pub async fn lateness(client: Arc<Client>, seen: Arc<Seen>, rate: u64, seconds: u64, delay: String) -> Value {
    let delay_us = postdate::domain::duration::parse_duration(&delay)
        .expect("a valid --delay")
        .as_micros() as i64;
    let total = rate * seconds;
    let first = seen.count();
    let due: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(vec![0; total as usize]));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let at = started + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(at.into()).await;
        let (client, due, delay) = (client.clone(), due.clone(), delay.clone());
        tasks.spawn(async move {
            due.lock().unwrap()[n as usize] = now_us() + delay_us;
            client.publish(n, Some(&delay)).await
        });
    }
    let mut failed = 0;
    while let Some(ok) = tasks.join_next().await {
        failed += u64::from(!ok.unwrap());
    }
    seen.wait_for(first + total - failed, Duration::from_secs(30)).await;
    let due = due.lock().unwrap();
    let late_ms: Vec<f64> = seen.arrivals.lock().unwrap()[first as usize..]
        .iter()
        .filter(|(n, _)| *n < total)
        .map(|(n, at)| (at - due[*n as usize]) as f64 / 1000.0)
        .collect();
    json!({
        "run": "lateness", "rate": rate, "seconds": seconds, "delay": delay, "messages": total,
        "publish_failures": failed, "delivered": late_ms.len(),
        "early": late_ms.iter().filter(|l| **l < 0.0).count(),
        "lateness_ms": summary(late_ms),
    })
}

/// Creates `schedules` schedules firing every minute (from 16 concurrent clients) and measures arrival minus
/// slot time over `minutes` whole minutes that start after all exist; deletes them afterwards.
pub async fn cron(client: Arc<Client>, seen: Arc<Seen>, schedules: u64, minutes: u64) -> Value {
    let created = Instant::now();
    for_each_schedule(&client, schedules, |client, i| async move {
        let response = client
            .http
            .post(format!("{}/v2/schedules/{}", client.base, client.hook))
            .bearer_auth(&client.token)
            .header("Upstash-Cron", "* * * * *")
            .header("Upstash-Schedule-Id", format!("bench-{i}"))
            .body(i.to_string())
            .send()
            .await;
        assert!(
            matches!(response, Ok(r) if r.status().is_success()),
            "creating schedule {i} failed"
        );
    })
    .await;
    let create_seconds = created.elapsed().as_secs_f64();
    let now = now_us();
    let first_slot = (now / 60_000_000 + 1) * 60_000_000;
    let end = first_slot + minutes as i64 * 60_000_000;
    tokio::time::sleep(Duration::from_micros((end - now) as u64 + 2_000_000)).await;
    let late_ms: Vec<f64> = seen
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at >= first_slot && *at < end)
        .map(|(_, at)| ((at - first_slot) % 60_000_000) as f64 / 1000.0)
        .collect();
    for_each_schedule(&client, schedules, |client, i| async move {
        let _ = client
            .http
            .delete(format!("{}/v2/schedules/bench-{i}", client.base))
            .bearer_auth(&client.token)
            .send()
            .await;
    })
    .await;
    json!({
        "run": "cron", "schedules": schedules, "minutes": minutes, "create_seconds": create_seconds,
        "expected": schedules * minutes, "delivered": late_ms.len(),
        "lateness_ms": summary(late_ms),
    })
}

async fn for_each_schedule<F, Fut>(client: &Arc<Client>, schedules: u64, each: F)
where
    F: Fn(Arc<Client>, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (client, each) = (client.clone(), each.clone());
        tasks.spawn(async move {
            for i in (worker..schedules).step_by(16) {
                each(client.clone(), i).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
