//! Throughput runs: how fast messages are accepted, and how many per second are delivered end to end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::Client;
use crate::receiver::Seen;

/// Publishes `messages` messages from `clients` concurrent clients, `batch_size` per request (1 = single
/// publishes). With a far-future `delay` nothing is delivered during the run, so this measures accepting
/// alone; it is also how a backlog is preloaded.
pub async fn publish(
    client: Arc<Client>,
    messages: u64,
    clients: u64,
    batch_size: u64,
    delay: Option<String>,
) -> Value {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, next, delay) = (client.clone(), next.clone(), delay.clone());
        tasks.spawn(async move {
            let mut failed = 0;
            loop {
                let start = next.fetch_add(batch_size, Ordering::Relaxed);
                if start >= messages {
                    return failed;
                }
                let range = start..(start + batch_size).min(messages);
                failed += client.publish_range(range, batch_size > 1, delay.as_deref()).await;
            }
        });
    }
    let mut failed = 0;
    while let Some(task) = tasks.join_next().await {
        failed += task.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    json!({
        "run": "publish", "messages": messages, "clients": clients, "batch_size": batch_size, "delay": delay,
        "failed": failed, "seconds": seconds,
        "accepted_per_second": ((messages - failed) as f64 / seconds).round(),
    })
}

/// Keeps the server busy for `seconds`: `clients` publishers keep at most `window` messages published but
/// not yet delivered, so the rate measured is what the delivery engine sustains, not a queue filling up.
/// Reports deliveries per second over the run after a warm-up, and the slowest and fastest 5-second slice.
pub async fn sustained(
    client: Arc<Client>,
    seen: Arc<Seen>,
    seconds: u64,
    clients: u64,
    batch_size: u64,
    window: u64,
) -> Value {
    let warm_up = Duration::from_secs(5);
    let start_count = seen.count();
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + warm_up + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, next, seen, failed) = (client.clone(), next.clone(), seen.clone(), failed.clone());
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let delivered = seen.count() - start_count + failed.load(Ordering::Relaxed);
                if next.load(Ordering::Relaxed).saturating_sub(delivered) >= window {
                    tokio::time::sleep(Duration::from_micros(500)).await;
                    continue;
                }
                let start = next.fetch_add(batch_size, Ordering::Relaxed);
                let lost = client
                    .publish_range(start..start + batch_size, batch_size > 1, None)
                    .await;
                failed.fetch_add(lost, Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(warm_up).await;
    let mut slices = Vec::new();
    let (mut at, mut count) = (Instant::now(), seen.count());
    let measured_from = (at, count);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(5).min(deadline - Instant::now())).await;
        let (now, now_count) = (Instant::now(), seen.count());
        slices.push((now_count - count) as f64 / (now - at).as_secs_f64());
        (at, count) = (now, now_count);
    }
    let per_second = (count - measured_from.1) as f64 / (at - measured_from.0).as_secs_f64();
    while tasks.join_next().await.is_some() {}
    let published = next.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    seen.wait_for(start_count + published - failed, Duration::from_secs(30))
        .await;
    let fold = |f: fn(f64, f64) -> f64, init| slices.iter().copied().fold(init, f).round();
    json!({
        "run": "throughput", "seconds": seconds, "clients": clients, "batch_size": batch_size, "window": window,
        "published": published, "publish_failures": failed, "delivered": seen.count() - start_count,
        "delivered_per_second": per_second.round(),
        "slowest_5s_slice_per_second": fold(f64::min, f64::INFINITY),
        "fastest_5s_slice_per_second": fold(f64::max, 0.0),
    })
}
