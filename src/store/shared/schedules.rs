//! Cron schedules and the leader leases: everything but firing (Postgres advances every schedule in one
//! statement over bound arrays, SQLite in multi-row statements of its own).

macro_rules! schedule_store {
    () => {
        async fn schedule_upsert(&self, s: &NewSchedule) -> Result<()> {
            sqlx::query(SCHEDULE_UPSERT)
                .bind(&s.id)
                .bind(s.cron.expression())
                .bind(s.destination.as_str())
                .bind(&s.method)
                .bind(headers::to_json(&s.header))
                .bind(s.body.as_slice())
                .bind(s.max_retries)
                .bind(s.delay_ms)
                .bind(s.timeout_ms)
                .bind(labels_column(&s.labels))
                .bind(&s.caller_ip)
                .bind(s.next_fire_at)
                .bind(s.now)
                .bind(&s.retry_delay_expression)
                .bind(callback::to_column(&s.callback))
                .bind(callback::to_column(&s.failure_callback))
                .bind(&s.queue_name)
                .bind(crate::domain::flow_control::to_column(&s.flow_control))
                .bind(redact::to_column(&s.redact))
                .execute(self.writes())
                .await?;
            Ok(())
        }

        async fn schedule_get(&self, id: &str) -> Result<Option<Schedule>> {
            let row: Option<ScheduleRow> = sqlx::query_as(SCHEDULE_GET)
                .bind(id)
                .fetch_optional(self.reads())
                .await?;
            decode_one(row)
        }

        async fn schedule_list(&self) -> Result<Vec<Schedule>> {
            let rows: Vec<ScheduleRow> = sqlx::query_as(SCHEDULE_LIST).fetch_all(self.reads()).await?;
            decode_all(rows)
        }

        $crate::store::shared::binds_in_order! {
            schedule_delete(id: &str) -> bool = SCHEDULE_DELETE;
            schedule_pause(id: &str, now: i64) -> bool = SCHEDULE_PAUSE;
            schedule_resume(id: &str, next_fire_at: i64, now: i64) -> bool = SCHEDULE_RESUME;
        }

        async fn schedule_due(&self, now: i64, limit: i64) -> Result<Vec<Schedule>> {
            let rows: Vec<ScheduleRow> = sqlx::query_as(SCHEDULE_DUE)
                .bind(now)
                .bind(limit)
                .fetch_all(self.reads())
                .await?;
            decode_all(rows)
        }

        async fn schedule_next_fire_at(&self) -> Result<Option<i64>> {
            Ok(sqlx::query_scalar(SCHEDULE_NEXT_FIRE_AT)
                .fetch_one(self.reads())
                .await?)
        }

        async fn leader_acquire(&self, lease: &LeaderLease, now: i64, until: i64) -> Result<Option<i64>> {
            Ok(sqlx::query_scalar(LEADER_ACQUIRE)
                .bind(lease.name)
                .bind(&lease.holder)
                .bind(now)
                .bind(until)
                .fetch_optional(self.writes())
                .await?)
        }

        async fn leader_renew(&self, lease: &LeaderLease, term: i64, until: i64) -> Result<bool> {
            let done = sqlx::query(LEADER_RENEW)
                .bind(lease.name)
                .bind(&lease.holder)
                .bind(term)
                .bind(until)
                .execute(self.writes())
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn leader_release(&self, lease: &LeaderLease, term: i64) -> Result<()> {
            sqlx::query(LEADER_RELEASE)
                .bind(lease.name)
                .bind(&lease.holder)
                .bind(term)
                .execute(self.writes())
                .await?;
            Ok(())
        }
    };
}

pub(in crate::store) use schedule_store;
