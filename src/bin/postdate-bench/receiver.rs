//! The benchmark's own lean receiver: records when each message arrived, keyed by the number in its body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;

/// What the receiver saw: arrival time (Unix µs) per message number.
#[derive(Default)]
pub struct Seen {
    pub arrivals: Mutex<Vec<(u64, i64)>>,
    pub count: AtomicU64,
}

impl Seen {
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Waits until `n` messages arrived, or none arrived for `idle_limit`; returns when it stopped waiting.
    pub async fn wait_for(&self, n: u64, idle_limit: Duration) -> Instant {
        let mut last = (self.count(), Instant::now());
        loop {
            let count = self.count();
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
}

pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

async fn receive(State(seen): State<Arc<Seen>>, body: axum::body::Bytes) -> &'static str {
    let at = now_us();
    // The number leads the body; larger bodies pad it after a space.
    let number = body.split(|b| *b == b' ').next().unwrap_or_default();
    if let Some(n) = std::str::from_utf8(number).ok().and_then(|s| s.parse::<u64>().ok()) {
        seen.arrivals.lock().unwrap().push((n, at));
    }
    seen.count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

/// Starts a receiver on a free port of 127.0.0.1 that records each request like the others but answers
/// `status` with a body of `body_bytes` bytes: every attempt fails (the failing path: ERROR and FAILED
/// log entries with the response, a DLQ entry). Returns its URL.
pub async fn start_failing(status: u16, body_bytes: usize) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let answer = axum::body::Bytes::from(vec![b'e'; body_bytes]);
    let app = axum::Router::new()
        .fallback(move |state: State<Arc<Seen>>, body: axum::body::Bytes| async move {
            receive(state, body).await;
            (status, answer.clone())
        })
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// Starts the receiver on a free port of 127.0.0.1 and returns its URL.
pub async fn start() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let url = start_at("127.0.0.1".parse().unwrap(), seen.clone(), Duration::ZERO).await;
    (url, seen)
}

/// Starts a receiver on a free port of `ip` that records into `seen` and answers after `pause` (zero: at
/// once; `Duration::MAX`: never); returns its URL.
pub async fn start_at(ip: std::net::IpAddr, seen: Arc<Seen>, pause: Duration) -> String {
    let app = axum::Router::new()
        .fallback(move |state: State<Arc<Seen>>, body: axum::body::Bytes| async move {
            let answer = receive(state, body).await;
            if pause == Duration::MAX {
                std::future::pending::<()>().await;
            } else if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            answer
        })
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
