//! Refreshes the metrics gauges that need the database with one bounded query every few seconds (never
//! per scrape, so scraping costs the database nothing), plus what this process knows by itself: deliveries
//! in flight, whether it leads the cron loop, and its pool's connections.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::dispatcher::Dispatcher;
use super::scheduler::Scheduler;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::Store;

pub const REFRESH_EVERY: Duration = Duration::from_secs(5);

pub struct StatsRefresher {
    pub store: Store,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub dispatcher: Arc<Dispatcher>,
    pub scheduler: Arc<Scheduler>,
}

impl StatsRefresher {
    /// One refresh (tests call it instead of waiting for the timer).
    pub async fn refresh_once(&self) -> crate::store::Result<()> {
        let now = self.clock.now_ms();
        let stats = self.store.store_stats(now).await?;
        self.metrics.set_store_stats(&stats, now);
        self.metrics.sample_throughput(now);
        self.metrics.set_in_flight(self.dispatcher.deliveries_in_flight());
        self.metrics.set_scheduler_leader(self.scheduler.is_leading());
        let (in_use, idle) = self.store.pool_connections();
        self.metrics.set_database_connections(in_use, idle);
        Ok(())
    }

    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            if let Err(error) = self.refresh_once().await {
                tracing::warn!(%error, "refreshing the metrics gauges failed");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(REFRESH_EVERY) => {}
            }
        }
    }
}
