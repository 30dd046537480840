//! Postgres: the bounded counts behind the metrics gauges.

use super::*;

const STORE_STATS: &str = "
-- store_stats: the metrics gauges in one statement; every count stops at 100000 rows, so a refresh reads a
-- bounded number of index entries however large the tables grow (workflow runs are kept only for their
-- retention; retrying: among the first 100000 pending
-- messages by due time, where retries wait)
select
  (select count(*) from (select 1 from messages where state = 'pending' and due_at > $1 limit 100000) w),
  (select count(*) from (select 1 from messages where state = 'pending' and due_at <= $1 limit 100000) d),
  (select count(*) from (select 1 from messages where state = 'in_progress' limit 100000) f),
  (select count(*) from (select attempt from messages where state = 'pending' order by due_at limit 100000) r
    where attempt > 0),
  (select count(*) from (select 1 from dlq limit 100000) q),
  (select min(due_at) from messages where state = 'pending' and due_at <= $1),
  (select count(*) from schedules where not is_paused),
  (select count(*) from schedules where is_paused),
  (select count(*) from (select 1 from workflow_runs where state = 'RUN_STARTED' limit 100000) ws),
  (select count(*) from (select 1 from workflow_runs where state = 'RUN_SUCCESS' limit 100000) wd),
  (select count(*) from (select 1 from workflow_runs where state = 'RUN_FAILED' limit 100000) wf),
  (select count(*) from (select 1 from workflow_runs where state = 'RUN_CANCELED' limit 100000) wc),
  (select count(*) from (select 1 from workflow_waiters limit 100000) ww)";

impl StatsStore for PgStore {
    shared::stats_store!();

    fn pool_connections(&self) -> (u32, u32) {
        // Size and idle count are read one after the other while connections come and go.
        let idle = self.pool.pool.num_idle() as u32;
        (self.pool.pool.size().saturating_sub(idle), idle)
    }
}
