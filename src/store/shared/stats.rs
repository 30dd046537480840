//! The metrics gauges' counts (the pools behind `pool_connections` differ).

macro_rules! stats_store {
    () => {
        async fn store_stats(&self, now: i64) -> Result<crate::metrics::StoreStats> {
            let row: crate::store::StatsRow = sqlx::query_as(STORE_STATS)
                .bind(now)
                .fetch_one(self.reads())
                .await?;
            Ok(crate::store::stats_from_row(row))
        }
    };
}

pub(in crate::store) use stats_store;
