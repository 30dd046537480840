//! A wake-up for a background loop: the publish path, a freed place or a peer's notice tells a sleeping loop
//! to look again before its timer. One `Notify` permit, so wake-ups that arrive while it runs are not lost.

use tokio::sync::Notify;

/// Wakes a loop (the dispatcher, the scheduler) when there is work sooner than it planned to look.
#[derive(Debug, Default)]
pub struct Wake(Notify);

impl Wake {
    pub fn notify(&self) {
        self.0.notify_one();
    }

    pub async fn notified(&self) {
        self.0.notified().await
    }
}
