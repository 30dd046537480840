//! An in-process HTTP destination that records every request and answers as the test tells it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query exactly as received.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Wall-clock arrival, Unix ms.
    pub at_ms: i64,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn message_id(&self) -> &str {
        self.header("upstash-message-id")
            .expect("deliveries carry Upstash-Message-Id")
    }
}

/// What the receiver answers.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Never answers (the request stays in flight until the client goes away).
    Hang,
    /// Answers 200 after a pause (a slow destination).
    SlowOk(Duration),
    /// Holds the request until the test calls `release`, then answers 200 (a destination that hangs for as
    /// long as the test wants).
    Held,
}

type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Shared {
    requests: Arc<Mutex<Vec<Recorded>>>,
    arrived: Arc<Notify>,
    responder: Arc<Mutex<Responder>>,
    released: Arc<AtomicBool>,
    release: Arc<Notify>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
}

impl Receiver {
    /// A receiver answering 200 to everything.
    pub async fn start() -> Receiver {
        Receiver::answering(|_| Reply::Status(200)).await
    }

    pub async fn answering(responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Receiver {
        Receiver::answering_at(([127, 0, 0, 1], 0).into(), responder).await
    }

    /// A receiver on another loopback address (127.0.0.2:0, …: a destination host of its own) or port.
    pub async fn answering_at(
        addr: SocketAddr,
        responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        let shared = Shared {
            requests: Arc::default(),
            arrived: Arc::default(),
            responder: Arc::new(Mutex::new(Arc::new(responder))),
            released: Arc::default(),
            release: Arc::default(),
        };
        let app = axum::Router::new().fallback(record).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, shared }
    }

    /// Changes how later requests are answered.
    pub fn answer(&self, responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        *self.shared.responder.lock().unwrap() = Arc::new(responder);
    }

    /// Answers every `Reply::Held` request, now and later, with 200.
    pub fn release(&self) {
        self.shared.released.store(true, Ordering::SeqCst);
        self.shared.release.notify_waiters();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (failing after `within`), then returns all of them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.arrived.notified();
            let seen = self.requests();
            if seen.len() >= n {
                return seen;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} requests within {within:?}, got {}", self.requests().len());
            }
        }
    }
}

async fn record(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        target: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers: parts.headers,
        body,
        at_ms: chrono::Utc::now().timestamp_millis(),
    };
    let reply = {
        let responder = shared.responder.lock().unwrap().clone();
        responder(&recorded)
    };
    shared.requests.lock().unwrap().push(recorded);
    shared.arrived.notify_waiters();
    match reply {
        Reply::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Reply::Full { status, headers, body } => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (k, v) in headers {
                response.headers_mut().append(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            response
        }
        Reply::Hang => std::future::pending().await,
        Reply::Held => {
            loop {
                let released = shared.release.notified();
                if shared.released.load(Ordering::SeqCst) {
                    break;
                }
                released.await;
            }
            StatusCode::OK.into_response()
        }
        Reply::SlowOk(pause) => {
            tokio::time::sleep(pause).await;
            StatusCode::OK.into_response()
        }
    }
}
