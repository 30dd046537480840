//! The maintenance loop: rescues messages whose lease expired (another instance died or lost the database), picks up key rotations
//! made by other instances, and deletes what retention no longer keeps.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::leases::HeldLeases;
use super::wake::Wake;
use crate::clock::Clock;
use crate::domain::workflow::wait::resume_message;
use crate::keys::KeyRing;
use crate::store::{Abandoned, Store};

/// Rows deleted per retention statement, so one sweep never holds long locks.
const RETENTION_BATCH: i64 = 1_000;

/// Waits resumed as timed out per statement.
const EXPIRY_BATCH: i64 = 500;

/// How often deadlines of waiting workflow steps are looked at: a wait's timeout fires at most this late.
const WAITER_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub struct MaintenanceConfig {
    pub rescue_every: Duration,
    pub message_retention: Duration,
    pub dlq_retention: Duration,
    pub bulk_action_retention: Duration,
    pub workflow_retention: Duration,
}

pub struct Maintenance {
    pub store: Store,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    pub wake: Arc<Wake>,
    /// This instance's own leases (deliveries running, results waiting to be written): never rescued here.
    pub held: Arc<HeldLeases>,
    /// Leases this process may take back at start without waiting for them to lapse: every one when it is
    /// alone on the database, those of its own instance id when it has a stable one, else none.
    pub abandoned: Option<Abandoned>,
    /// The option limits the steps that resume timed-out waits are built under.
    pub limits: crate::domain::option_rules::Limits,
    pub config: MaintenanceConfig,
}

impl Maintenance {
    /// Makes expired leases due again, except this instance's own; wakes the dispatcher when it found any.
    pub async fn rescue_once(&self) -> crate::store::Result<u64> {
        let own = self.held.ids();
        let rescued = self.store.message_rescue_expired(self.clock.now_ms(), &own).await?;
        if rescued > 0 {
            tracing::warn!(
                rescued,
                "took back messages whose lease lapsed: the instance delivering them stopped, or could not \
                 reach the database to extend the lease or write the result; they are delivered again"
            );
            self.wake.notify();
        }
        Ok(rescued)
    }

    /// At start, before the first claim (so that this process holds no lease yet): makes the messages a
    /// previous run left in progress under [`Maintenance::abandoned`] leases due again at once, instead of
    /// when their leases lapse. Returns how many.
    pub async fn rescue_abandoned(&self) -> crate::store::Result<u64> {
        let Some(abandoned) = &self.abandoned else {
            return Ok(0);
        };
        let rescued = self
            .store
            .message_rescue_abandoned(self.clock.now_ms(), abandoned)
            .await?;
        if rescued > 0 {
            let whose = match abandoned {
                Abandoned::All => "this database's previous process".to_string(),
                Abandoned::HeldBy(instance) => format!("instance {instance} (this one, before its restart)"),
            };
            tracing::warn!(
                rescued,
                "took back at once the messages {whose} was delivering when it stopped: they are delivered again"
            );
            self.wake.notify();
        }
        Ok(rescued)
    }

    /// Deletes finished messages and DLQ entries older than their retention, finished bulk actions and ended
    /// workflow runs past theirs, and deduplication keys past their window. Returns rows deleted.
    pub async fn clean_once(&self) -> crate::store::Result<u64> {
        let now = self.clock.now_ms();
        let dlq_before = now - self.config.dlq_retention.as_millis() as i64;
        let messages_before = now - self.config.message_retention.as_millis() as i64;
        let actions_before = now - self.config.bulk_action_retention.as_millis() as i64;
        let runs_before = now - self.config.workflow_retention.as_millis() as i64;
        let store = &self.store;
        Ok(
            in_batches(|| store.dlq_delete_expired(dlq_before, RETENTION_BATCH)).await?
                + in_batches(|| store.dedup_delete_expired(now, RETENTION_BATCH)).await?
                + in_batches(|| store.message_delete_finished(messages_before, RETENTION_BATCH)).await?
                + in_batches(|| store.bulk_action_delete_finished(actions_before, RETENTION_BATCH)).await?
                + in_batches(|| store.workflow_delete_finished(runs_before, RETENTION_BATCH)).await?,
        )
    }

    /// Resumes, as timed out, the workflow steps whose wait passed its deadline (the step goes to the
    /// waiter's timeout URL under the run's settings); wakes the dispatcher when it resumed any.
    pub async fn expire_waiters_once(&self) -> crate::store::Result<u64> {
        let now = self.clock.now_ms();
        let limits = self.limits;
        let resume = move |run: &_, waiter: &_, resolution: &_| resume_message(run, waiter, resolution, now, &limits);
        let expired = in_batches_of(EXPIRY_BATCH, || {
            self.store.workflow_expire_waiters(now, EXPIRY_BATCH, &resume)
        })
        .await?;
        if expired > 0 {
            self.wake.notify();
        }
        Ok(expired)
    }

    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut ticks: u64 = 0;
        let tick = self.config.rescue_every.min(WAITER_EVERY);
        let every = |period: Duration| (period.as_millis() / tick.as_millis().max(1)).max(1) as u64;
        let (rescue_every, clean_every, refresh_every) = (
            every(self.config.rescue_every),
            every(Duration::from_secs(60)),
            every(Duration::from_secs(10)),
        );
        loop {
            if let Err(error) = self.expire_waiters_once().await {
                tracing::error!(%error, "resuming timed-out workflow waits failed");
            }
            if ticks.is_multiple_of(rescue_every) {
                if let Err(error) = self.rescue_once().await {
                    tracing::error!(%error, "lease rescue failed");
                }
            }
            if ticks.is_multiple_of(refresh_every) {
                if let Err(error) = self.keys.refresh(&self.store).await {
                    tracing::error!(%error, "refreshing signing keys failed");
                }
            }
            if ticks.is_multiple_of(clean_every) {
                match self.clean_once().await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "retention removed finished messages and DLQ entries"),
                    Err(error) => tracing::error!(%error, "retention sweep failed"),
                }
            }
            ticks += 1;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }
}

/// Repeats `delete` (one batch of at most [`RETENTION_BATCH`] rows) until a batch comes back short, so that
/// no statement holds its locks for long. Returns the rows deleted.
async fn in_batches<F, Fut>(delete: F) -> crate::store::Result<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::store::Result<u64>>,
{
    in_batches_of(RETENTION_BATCH, delete).await
}

/// Repeats `step` (one batch of at most `batch` rows) until a batch comes back short.
async fn in_batches_of<F, Fut>(batch: i64, mut step: F) -> crate::store::Result<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::store::Result<u64>>,
{
    let mut done = 0;
    loop {
        let n = step().await?;
        done += n;
        if n < batch as u64 {
            return Ok(done);
        }
    }
}
