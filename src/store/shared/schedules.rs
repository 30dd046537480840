//! Cron schedules and the leader leases: everything but firing (Postgres advances every schedule in one
//! statement over bound arrays, SQLite in multi-row statements of its own).

/// The same text on both databases: SQLite reads `$1`-style numbered placeholders as Postgres does (sqlx binds
/// them by their number), and the upsert is the same statement on both.
pub(in crate::store) const SCHEDULE_UPSERT: &str = "
-- schedule_upsert: create a schedule, or replace every setting of the one with this id
insert into schedules (id, cron, destination, method, header, body, max_retries, delay_ms, timeout_ms, labels,
                       caller_ip, next_fire_at, created_at, updated_at, retry_delay_expression, callback,
                       failure_callback, queue_name, flow_control, redact)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18, $19)
on conflict (id) do update set
    cron = excluded.cron, destination = excluded.destination, method = excluded.method,
    header = excluded.header, body = excluded.body, max_retries = excluded.max_retries,
    delay_ms = excluded.delay_ms, timeout_ms = excluded.timeout_ms, labels = excluded.labels,
    caller_ip = excluded.caller_ip, next_fire_at = excluded.next_fire_at, updated_at = excluded.updated_at,
    retry_delay_expression = excluded.retry_delay_expression, callback = excluded.callback,
    failure_callback = excluded.failure_callback, queue_name = excluded.queue_name,
    flow_control = excluded.flow_control, redact = excluded.redact";

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
