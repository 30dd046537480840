//! The bulk worker owns running async bulk actions: it leases the oldest unfinished action (so two
//! instances on one database never run the same one, and a crashed instance's action is taken over once
//! its lease lapses), cancels it one chunk of `store::BULK_CHUNK` messages per transaction, recording the
//! progress after each, and finishes it after its last chunk.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::wake::Wake;
use crate::clock::Clock;
use crate::store::{BulkLease, BulkStep, Store};

/// How often an idle worker looks for actions accepted by other instances, or left by a crashed one.
const POLL: Duration = Duration::from_secs(2);

pub struct BulkWorker {
    pub store: Store,
    pub clock: Clock,
    /// Woken when an action is accepted.
    pub wake: Arc<Wake>,
    /// This worker's id in the lease.
    pub holder: String,
    pub lease: Duration,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stepped {
    /// No action is waiting for this worker.
    Idle,
    /// One chunk (or the finish) of an action was done, or another worker took it over.
    Worked(BulkStep),
}

impl BulkWorker {
    pub fn new(
        store: Store,
        clock: Clock,
        wake: Arc<Wake>,
        lease: Duration,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        BulkWorker {
            store,
            clock,
            wake,
            holder: crate::domain::ids::new_message_id().into_string(),
            lease,
            metrics,
        }
    }

    /// Claims an action (or keeps the one it holds) and runs its next chunk.
    pub async fn run_once(&self) -> crate::store::Result<Stepped> {
        let now = self.clock.now_ms();
        let lease = BulkLease {
            holder: &self.holder,
            now,
            until: now + self.lease.as_millis() as i64,
        };
        let Some(action) = self.store.bulk_action_claim(&lease).await? else {
            return Ok(Stepped::Idle);
        };
        let step = self.store.bulk_action_step(&action, &lease).await?;
        match step {
            BulkStep::Counted { total } => tracing::info!(action = %action.id, total, "bulk action counted"),
            BulkStep::Chunk {
                cancelled,
                finished,
                processed,
            } => {
                self.metrics.cancelled(cancelled);
                if finished {
                    tracing::info!(action = %action.id, processed, "bulk action finished");
                }
            }
            BulkStep::Finished => {
                tracing::info!(action = %action.id, processed = action.processed, "bulk action finished")
            }
            BulkStep::NotHeld => tracing::warn!(action = %action.id, "another worker took the bulk action over"),
        }
        Ok(Stepped::Worked(step))
    }

    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let pause = match self.run_once().await {
                Ok(Stepped::Worked(_)) => None,
                Ok(Stepped::Idle) => Some(POLL),
                Err(error) => {
                    tracing::error!(%error, "running a bulk action failed; retrying");
                    Some(POLL)
                }
            };
            if let Some(pause) = pause {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}
