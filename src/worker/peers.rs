//! Wake-ups between instances sharing a Postgres database. The instance that accepts a message due soon
//! wakes its own dispatcher at once and sends one `NOTIFY`; every instance listens and wakes its dispatcher,
//! so messages accepted elsewhere start within milliseconds instead of at the next poll. Wake-ups that
//! arrive while one is being sent fold into the next, so a burst of publishes costs a few notifications, not
//! one each. On SQLite both ends do nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::wake::Wake;
use crate::store::Store;

/// Shortest gap between two notifications one instance sends.
const MIN_GAP: Duration = Duration::from_millis(2);

/// Asks the sending loop to wake the other instances.
#[derive(Debug, Default)]
pub struct PeerWake(Notify);

impl PeerWake {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Sends a notification for each (folded) wake-up until `stop`.
pub async fn send(peers: Arc<PeerWake>, store: Store, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = peers.0.notified() => {}
        }
        if let Err(error) = store.peers_wake().await {
            tracing::warn!(%error, "waking the other instances failed; they find the message at their next poll");
        }
        tokio::time::sleep(MIN_GAP).await;
    }
}

/// Wakes this instance's dispatcher whenever another instance sends a wake-up, until `stop`.
pub async fn listen(store: Store, wake: Arc<Wake>, stop: CancellationToken) {
    let mut listener = loop {
        match store.peers_listen().await {
            Ok(Some(listener)) => break listener,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "listening for other instances failed; retrying in 5s");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            received = listener.recv() => match received {
                Ok(()) => wake.notify(),
                Err(error) => {
                    tracing::warn!(%error, "listening for other instances failed; retrying in 1s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
        }
    }
}
