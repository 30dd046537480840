//! The HTTP listener: an explicit accept loop instead of `axum::serve`, so that no client can hold the
//! service hostage. Connections are capped (when the cap is reached we stop accepting and the kernel backlog
//! waits), every connection has a watchdog that closes it when it sends nothing or only part of a request
//! head for too long, request bodies must arrive within a deadline, and shutdown closes what is still open
//! when the drain time ends.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Per-connection limits (see `EngineArgs` for the flags that set them).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest wait for a complete request head: from the first byte of a request, and on a new
    /// connection from the connect.
    pub header_read_timeout: Duration,
    /// Longest a kept-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// Longest a request body may take to arrive, from the end of its head.
    pub body_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// The error a request body yields when its deadline passes (`read_body` answers 408 for it).
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// Serves `router` on `listener` until `shutdown` fires, then asks every connection to finish its current
/// request and closes whatever is still open when `hard_stop` fires.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    loop {
        // Take a slot before accepting: while all are taken, new clients wait in the kernel backlog.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning; the connection stays in the backlog.
                    tracing::warn!(%error, "accepting a connection failed; retrying in 100ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let (shutdown, hard_stop) = (shutdown.clone(), hard_stop.clone());
        connections.spawn(async move {
            serve_connection(stream, peer, router, limits, shutdown, hard_stop).await;
            drop(permit);
        });
    }
    drop(listener);
    connections.close();
    tokio::select! {
        _ = connections.wait() => {}
        _ = hard_stop.cancelled() => {}
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(WatchedIo {
        inner: stream,
        activity: activity.clone(),
    });
    let service_activity = activity.clone();
    let body_timeout = limits.body_read_timeout;
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let started = RequestGuard::start(service_activity.clone());
        let mut request = request.map(|body| {
            // Requests without a body (most GETs) need no timer.
            if body.is_end_stream() {
                axum::body::Body::new(body)
            } else {
                axum::body::Body::new(DeadlineBody::new(body, body_timeout))
            }
        });
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            drop(started);
            response
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // Our watchdog enforces the header timeout for HTTP/1 and HTTP/2 alike; hyper's own stays off.
    builder.http1().header_read_timeout(None);
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = shutdown.cancelled(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = hard_stop.cancelled() => return,
            reason = activity.expired(limits) => {
                tracing::debug!(%peer, reason, "closing connection");
                return;
            }
        }
    }
}

/// What the watchdog of one connection knows: requests in progress and when bytes last moved.
struct Activity {
    base: Instant,
    /// Milliseconds since `base` of the connect or the end of the last request.
    idle_since_ms: AtomicU64,
    /// Milliseconds since `base` (plus one; 0 = none) of the first byte read while no request is in progress.
    head_started_ms: AtomicU64,
    requests: AtomicUsize,
    served: AtomicUsize,
    /// Wakes the watchdog when its deadline may have moved earlier.
    changed: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            base: Instant::now(),
            idle_since_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
            requests: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    fn bytes_read(&self) {
        self.bytes_read_at(self.now_ms());
    }

    fn bytes_read_at(&self, now_ms: u64) {
        if self.requests.load(Ordering::SeqCst) == 0 && self.head_started_ms.load(Ordering::SeqCst) == 0 {
            self.head_started_ms.store(now_ms + 1, Ordering::SeqCst);
            self.changed.notify_one();
        }
    }

    fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.head_started_ms.store(0, Ordering::SeqCst);
    }

    fn request_ended_at(&self, now_ms: u64) {
        self.served.fetch_add(1, Ordering::SeqCst);
        self.idle_since_ms.store(now_ms, Ordering::SeqCst);
        self.requests.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// Resolves when the connection has broken a limit, with the reason.
    async fn expired(&self, limits: ConnectionLimits) -> &'static str {
        loop {
            let (deadline, reason) = self.deadline(limits);
            let wait = match deadline {
                Some(deadline) if deadline <= self.now_ms() => return reason,
                Some(deadline) => Duration::from_millis(deadline - self.now_ms()),
                // A request is in progress: its body has its own deadline; its end wakes us.
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.changed.notified() => {}
            }
        }
    }

    /// When the connection must be closed unless something changes, in ms since `base`.
    fn deadline(&self, limits: ConnectionLimits) -> (Option<u64>, &'static str) {
        if self.requests.load(Ordering::SeqCst) > 0 {
            return (None, "");
        }
        let head_started = self.head_started_ms.load(Ordering::SeqCst);
        let header_ms = limits.header_read_timeout.as_millis() as u64;
        if head_started > 0 {
            return (Some(head_started - 1 + header_ms), "request head not received in time");
        }
        let idle_since = self.idle_since_ms.load(Ordering::SeqCst);
        if self.served.load(Ordering::SeqCst) == 0 {
            // A fresh connection that sends nothing is a request head that never starts.
            (Some(idle_since + header_ms), "no request received in time")
        } else {
            (Some(idle_since + limits.idle_timeout.as_millis() as u64), "idle")
        }
    }
}

/// Marks a request in progress on its connection until dropped.
struct RequestGuard(Arc<Activity>);

impl RequestGuard {
    fn start(activity: Arc<Activity>) -> RequestGuard {
        activity.request_started();
        RequestGuard(activity)
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_ended_at(self.0.now_ms());
    }
}

/// The socket, reporting reads to the connection's watchdog.
struct WatchedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that fails with `BodyTimeout` once its deadline passes, however slowly bytes trickle in.
struct DeadlineBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout(self.timeout).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        body_read_timeout: Duration::from_secs(30),
        max_connections: 10,
    };

    #[test]
    fn a_fresh_connection_gets_the_header_timeout_and_a_used_one_the_idle_timeout() {
        let activity = Activity::new();
        assert_eq!(
            activity.deadline(LIMITS).0,
            Some(10_000),
            "nothing sent: 10 s from the connect"
        );
        activity.bytes_read_at(3_000);
        assert_eq!(
            activity.deadline(LIMITS).0,
            Some(13_000),
            "a partial head: 10 s from its first byte"
        );
        activity.request_started();
        assert_eq!(
            activity.deadline(LIMITS).0,
            None,
            "the request's body has its own deadline"
        );
        activity.bytes_read_at(50_000);
        assert_eq!(activity.deadline(LIMITS).0, None);
        activity.request_ended_at(103_000);
        assert_eq!(
            activity.deadline(LIMITS).0,
            Some(163_000),
            "idle: 60 s after the response"
        );
        activity.bytes_read_at(110_000);
        assert_eq!(activity.deadline(LIMITS).0, Some(120_000), "the next head: 10 s");
    }
}
