//! SQLite backend for `postdate dev` and single-node use. SQLite has one writer, so every write goes through
//! a one-connection pool (writes queue in the pool instead of failing with SQLITE_BUSY), batches run in one
//! `BEGIN IMMEDIATE` transaction, and reads use a separate pool that WAL lets run beside the writer.
//! Placeholders are `?1…` (`$1` would be a named parameter here).

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::QueryBuilder;
use std::str::FromStr;
use std::time::Duration;

use super::filter::{push_filter, Dialect};
use super::model::*;
use super::{Backend, Result};
use crate::domain::flow_control::{FlowControl, KeyState};
use crate::domain::message::{labels_column, NewMessage};
use crate::domain::schedule::NewSchedule;
use crate::domain::signing::SigningKeys;
use crate::domain::{callback, headers, redact};

mod writes;
use writes::{advance_schedules, complete_delivered, insert_messages, log, Event, EventLog};

const DIALECT: Dialect = Dialect { contains_fn: "instr" };

#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        // WAL with synchronous=NORMAL: a committed write survives a crash of the process (kill -9); only a
        // power loss can take the last commits, which is the usual trade for a development database.
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        // The writer keeps 16 MiB of pages (the default is 2 MiB): claims and completions touch the same
        // recent pages again and again, and each page read from the OS is a system call and a copy.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("cache_size", "-16384"))
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader })
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

const DEDUP_EXPIRE_KEY: &str = "
-- message_insert_deduplicated (expire): a key past its window no longer counts
delete from dedup where key = ?1 and expires_at <= ?2";

const DEDUP_CLAIM: &str = "
-- message_insert_deduplicated (claim): the first publish under a key claims it
insert into dedup (key, published, expires_at) values (?1, ?2, ?3) on conflict (key) do nothing";

const DEDUP_PUBLISHED: &str = "
-- message_insert_deduplicated (duplicate): the answer of the publish that claimed the key
select published from dedup where key = ?1";

const DEDUP_DELETE_EXPIRED: &str = "
-- dedup_delete_expired: retention for keys whose window has passed
delete from dedup where key in (select key from dedup where expires_at <= ?1 limit ?2)";

const MESSAGE_GET: &str = "
-- message_get: one message by id, whatever its state
select * from messages where id = ?1";

/// The claim statement, for messages without a flow-control key or for those of one key (?4).
macro_rules! claim_sql {
    ($which:literal) => {
        concat!(
            "
-- message_claim_due: lease the earliest due messages and bump their attempt (one writer: no locks needed)
update messages
set state = 'in_progress', attempt = attempt + 1, lease_until = ?2, updated_at = ?1
where id in (select id from messages
             where state = 'pending' and due_at <= ?1 ",
            $which,
            "
               -- a queued message waits until fewer than `parallelism` unfinished ones are ahead of it
               and (queue_name is null or exists (
                     select 1 from queues q
                     where q.name = messages.queue_name and not q.paused
                       and (select count(*) from messages ahead
                            where ahead.queue_name = messages.queue_name
                              and ahead.state in ('pending', 'in_progress')
                              and ahead.queue_order < messages.queue_order) < q.parallelism))
             order by due_at
             limit ?3)
returning *"
        )
    };
}

const MESSAGE_CLAIM_DUE: &str = claim_sql!("and flow_control_key is null");
const MESSAGE_CLAIM_DUE_FOR_KEY: &str = claim_sql!("and flow_control_key = ?4");

const FLOW_CONTROL_READY: &str = "
-- message_claim_flow_controlled (keys): keys not paused with due messages
select k.key, k.parallelism, k.rate, k.period_ms, k.rate_count, k.rate_period_start,
       (select count(*) from messages m where m.flow_control_key = k.key and m.state = 'in_progress') as in_flight
from flow_control_keys k
where not k.paused
  and exists (select 1 from messages m where m.flow_control_key = k.key and m.state = 'pending' and m.due_at <= ?1)
order by k.key
limit 1000";

const FLOW_CONTROL_COUNT: &str = "
-- message_claim_flow_controlled (count): record the deliveries started in the key's rate window
update flow_control_keys set rate_count = ?2, rate_period_start = ?3 where key = ?1";

const FLOW_CONTROL_ANY: &str = "
-- flow_control_any: whether any flow-control key exists
select exists (select 1 from flow_control_keys)";

const MESSAGE_IN_FLIGHT_COUNT: &str = "
-- message_in_flight_count: deliveries running
select count(*) from messages where state = 'in_progress'";

const FLOW_CONTROL_CONFIGURE: &str = "
-- flow_control_configure: create the key, or take the limits a message brings unless they are pinned
insert into flow_control_keys (key, parallelism, rate, period_ms, rate_period_start, created_at, updated_at)
values (?1, ?2, ?3, coalesce(?4, 1000), ?5, ?5, ?5)
on conflict (key) do update set
    parallelism = case when flow_control_keys.pinned_parallelism or not ?6 then flow_control_keys.parallelism
                       else excluded.parallelism end,
    rate = case when flow_control_keys.pinned_rate or not ?6 then flow_control_keys.rate else excluded.rate end,
    period_ms = case when flow_control_keys.pinned_rate or not ?6 then flow_control_keys.period_ms
                     else excluded.period_ms end,
    updated_at = excluded.updated_at";

const FLOW_CONTROL_SELECT: &str = "
-- flow_control_get / flow_control_list: keys with their waitlist and deliveries in flight
select k.key, k.parallelism, k.rate, k.period_ms, k.paused, k.pinned_parallelism, k.pinned_rate, k.rate_count,
       k.rate_period_start,
       (select count(*) from messages m where m.flow_control_key = k.key and m.state = 'pending') as waiting,
       (select count(*) from messages m where m.flow_control_key = k.key and m.state = 'in_progress') as in_flight
from flow_control_keys k";

const FLOW_CONTROL_SET_PAUSED: &str = "
-- flow_control_set_paused: pause or resume a key
update flow_control_keys set paused = ?2, updated_at = ?3 where key = ?1";

const FLOW_CONTROL_PIN: &str = "
-- flow_control_pin: fix limits against later messages and start a new rate window
update flow_control_keys set
    parallelism = coalesce(?2, parallelism),
    pinned_parallelism = pinned_parallelism or ?2 is not null,
    rate = coalesce(?3, rate),
    period_ms = coalesce(?4, period_ms),
    pinned_rate = pinned_rate or ?3 is not null or ?4 is not null,
    rate_count = 0, rate_period_start = ?5, updated_at = ?5
where key = ?1";

const FLOW_CONTROL_UNPIN: &str = "
-- flow_control_unpin: let later messages set these limits again
update flow_control_keys set
    pinned_parallelism = pinned_parallelism and not ?2, pinned_rate = pinned_rate and not ?3, updated_at = ?4
where key = ?1";

const FLOW_CONTROL_RESET_RATE: &str = "
-- flow_control_reset_rate: clear the rate count and start a new period now
update flow_control_keys set rate_count = 0, rate_period_start = ?2, updated_at = ?2 where key = ?1";

const MESSAGE_NEXT_DUE_AT: &str = "
-- message_next_due_at: when the next pending message becomes due (queued messages waiting for those ahead
-- of them are woken when those finish)
select min(due_at) from messages where state = 'pending' and due_at > ?1";

const MESSAGE_EXTEND_LEASE: &str = "
-- message_extend_leases: keep the lease of one attempt still in flight
update messages set lease_until = ?1 where id = ?2 and attempt = ?3 and state = 'in_progress'";

const MESSAGE_COMPLETE_RETRY: &str = "
-- message_complete (retry): make a failed attempt due again, unless a cancel was requested meanwhile
update messages
set state = case when cancel_requested then 'canceled' else 'pending' end,
    finished_at = case when cancel_requested then ?1 end,
    due_at = ?4, lease_until = null, updated_at = ?1
where id = ?2 and attempt = ?3 and state = 'in_progress'
returning state";

const MESSAGE_COMPLETE_FAILED: &str = "
-- message_complete (failed): finish an attempt that exhausted its retries
update messages
set state = case when cancel_requested then 'canceled' else 'failed' end,
    lease_until = null, finished_at = ?1, updated_at = ?1
where id = ?2 and attempt = ?3 and state = 'in_progress'
returning state";

const DLQ_INSERT: &str = "
-- message_complete (failed): dead-letter the message with its last response
insert into dlq (dlq_id, message_id, response_status, response_header, response_body, error, created_at)
values (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const MESSAGE_RESCUE_EXPIRED: &str = "
-- message_rescue_expired: messages whose worker died while holding the lease become due again
update messages
set state = case when cancel_requested then 'canceled' else 'pending' end,
    finished_at = case when cancel_requested then ?1 end,
    due_at = ?1, lease_until = null, updated_at = ?1
where state = 'in_progress' and lease_until < ?1
returning id, state";

const MESSAGE_CANCEL: &str = "
-- message_cancel: cancel a pending message, or flag one in flight so it is not retried
update messages
set state = case when state = 'pending' then 'canceled' else state end,
    cancel_requested = (state = 'in_progress'),
    finished_at = case when state = 'pending' then ?2 else finished_at end,
    updated_at = ?2
where id = ?1 and state in ('pending', 'in_progress')
returning id, state";

const MESSAGE_STATE: &str = "
-- message_state: the state of one message
select state from messages where id = ?1";

const MESSAGE_DELETE_FINISHED: &str = "
-- message_delete_finished: retention for finished messages no DLQ entry holds
delete from messages where id in (
    select id from messages m
    where finished_at < ?1 and not exists (select 1 from dlq d where d.message_id = m.id)
    limit ?2)";

const DLQ_SELECT: &str = "
-- dlq_list / dlq_get: DLQ entries joined with their message
select m.*, d.dlq_id, d.response_status, d.response_header, d.response_body, d.error as dlq_error,
       d.created_at as dlq_created_at
from dlq d join messages m on m.id = d.message_id
where true";

const DLQ_DELETE_ONE: &str = "
-- dlq_delete / dlq_retry (take): remove one entry, if it is still there
delete from dlq where dlq_id = ?1";

const DLQ_DELETE_EXPIRED: &str = "
-- dlq_delete_expired: DLQ retention
delete from dlq where dlq_id in (select dlq_id from dlq where created_at < ?1 limit ?2)";

const SCHEDULE_UPSERT: &str = "
-- schedule_upsert: create a schedule, or replace every setting of the one with this id
insert into schedules (id, cron, destination, method, header, body, max_retries, delay_ms, timeout_ms, labels,
                       caller_ip, next_fire_at, created_at, updated_at, retry_delay_expression, callback,
                       failure_callback, queue_name, flow_control, redact)
values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
on conflict (id) do update set
    cron = excluded.cron, destination = excluded.destination, method = excluded.method,
    header = excluded.header, body = excluded.body, max_retries = excluded.max_retries,
    delay_ms = excluded.delay_ms, timeout_ms = excluded.timeout_ms, labels = excluded.labels,
    caller_ip = excluded.caller_ip, next_fire_at = excluded.next_fire_at, updated_at = excluded.updated_at,
    retry_delay_expression = excluded.retry_delay_expression, callback = excluded.callback,
    failure_callback = excluded.failure_callback, queue_name = excluded.queue_name,
    flow_control = excluded.flow_control, redact = excluded.redact";

const SCHEDULE_GET: &str = "
-- schedule_get: one schedule by id
select * from schedules where id = ?1";

const SCHEDULE_LIST: &str = "
-- schedule_list: every schedule, oldest first
select * from schedules order by created_at, id";

const SCHEDULE_DELETE: &str = "
-- schedule_delete: remove a schedule (the messages it fired stay)
delete from schedules where id = ?1";

const SCHEDULE_PAUSE: &str = "
-- schedule_pause: stop firing; slots passing meanwhile are skipped, not queued
update schedules set is_paused = true, updated_at = ?2 where id = ?1";

const SCHEDULE_RESUME: &str = "
-- schedule_resume: fire again from the next slot after now
update schedules set is_paused = false, next_fire_at = ?2, updated_at = ?3 where id = ?1";

const SCHEDULE_DUE: &str = "
-- schedule_due: schedules whose next slot has come, earliest first
select * from schedules where not is_paused and next_fire_at <= ?1 order by next_fire_at limit ?2";

const SCHEDULE_NEXT_FIRE_AT: &str = "
-- schedule_next_fire_at: the earliest slot of any schedule that is not paused
select min(next_fire_at) from schedules where not is_paused";

const MESSAGE_STATE_OF: &str = "
-- message_states: the state of one message, if it still exists
select id, state from messages where id = ?1";

const URL_GROUP_TOUCH: &str = "
-- url_group_upsert_endpoints (group): create the group, or mark it updated
insert into url_groups (name, created_at, updated_at) values (?1, ?2, ?2)
on conflict (name) do update set updated_at = excluded.updated_at";

const URL_GROUP_ENDPOINT_UPSERT: &str = "
-- url_group_upsert_endpoints (endpoint): add an endpoint, or rename it if it is there
insert into url_group_endpoints (group_name, url, name, added_at) values (?1, ?2, ?3, ?4)
on conflict (group_name, url) do update set name = excluded.name";

const URL_GROUP_ENDPOINT_REMOVE_URL: &str = "
-- url_group_remove_endpoints (by URL)
delete from url_group_endpoints where group_name = ?1 and url = ?2";

const URL_GROUP_ENDPOINT_REMOVE_NAME: &str = "
-- url_group_remove_endpoints (by name)
delete from url_group_endpoints where group_name = ?1 and name = ?2";

const URL_GROUP_DELETE_IF_EMPTY: &str = "
-- url_group_remove_endpoints (cleanup): a group without endpoints is deleted
delete from url_groups
where name = ?1 and not exists (select 1 from url_group_endpoints e where e.group_name = ?1)";

const URL_GROUP_MARK_UPDATED: &str = "
-- url_group_remove_endpoints (touch): mark the group updated
update url_groups set updated_at = ?2 where name = ?1";

const URL_GROUP_GET: &str = "
-- url_group_get: one group
select name, created_at, updated_at from url_groups where name = ?1";

const URL_GROUP_LIST: &str = "
-- url_group_list: every group, by name
select name, created_at, updated_at from url_groups order by name";

const URL_GROUP_ENDPOINTS: &str = "
-- url_group_get / url_group_list: endpoints of the named group (all groups when ?1 is null)
select group_name, url, name from url_group_endpoints
where ?1 is null or group_name = ?1
order by group_name, added_at, url";

const URL_GROUP_DELETE: &str = "
-- url_group_delete: remove a group and its endpoints
delete from url_groups where name = ?1";

const QUEUE_UPSERT: &str = "
-- queue_upsert: create a queue, or set its parallelism and paused state
insert into queues (name, parallelism, paused, created_at, updated_at) values (?1, ?2, ?3, ?4, ?4)
on conflict (name) do update set parallelism = excluded.parallelism, paused = excluded.paused,
                                 updated_at = excluded.updated_at";

const QUEUE_ENSURE: &str = "
-- queue_ensure: create a queue with parallelism 1 unless it exists
insert into queues (name, parallelism, paused, created_at, updated_at) values (?1, 1, false, ?2, ?2)
on conflict (name) do nothing";

const QUEUE_SELECT: &str = "
-- queue_get / queue_list: queues with their lag
select q.name, q.parallelism, q.paused, q.created_at, q.updated_at,
       (select count(*) from messages m
        where m.queue_name = q.name and m.state in ('pending', 'in_progress')) as lag
from queues q";

const QUEUE_DELETE: &str = "
-- queue_delete: remove a queue
delete from queues where name = ?1";

const QUEUE_SET_PAUSED: &str = "
-- queue_set_paused: pause or resume a queue
update queues set paused = ?2, updated_at = ?3 where name = ?1";

const SIGNING_KEYS_GET: &str = "
-- signing_keys_get: the stored key pair
select current, next from signing_keys where id = 1";

const SIGNING_KEYS_INIT: &str = "
-- signing_keys_init: store the first key pair unless one is stored already
insert into signing_keys (id, current, next) values (1, ?1, ?2) on conflict (id) do nothing";

const SIGNING_KEYS_ROTATE: &str = "
-- signing_keys_rotate: next becomes current, a fresh key becomes next
update signing_keys set current = next, next = ?1 where id = 1 returning current, next";

/// The log state of a cancel's or rescue's result.
fn log_state(new_state: &str, otherwise: &'static str) -> &'static str {
    match new_state {
        "canceled" => "CANCELED",
        "in_progress" => "CANCEL_REQUESTED",
        _ => otherwise,
    }
}

impl SqliteStore {
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl Backend for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/sqlite").run(&self.writer).await?;
        Ok(())
    }

    async fn message_insert(&self, messages: &[NewMessage]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_messages(&mut tx, messages).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn message_insert_deduplicated(
        &self,
        key: &str,
        published: &str,
        expires_at: i64,
        now: i64,
        messages: &[NewMessage],
    ) -> Result<Option<String>> {
        let mut tx = self.begin_write().await?;
        sqlx::query(DEDUP_EXPIRE_KEY)
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let claimed = sqlx::query(DEDUP_CLAIM)
            .bind(key)
            .bind(published)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        if claimed.rows_affected() == 0 {
            let original: String = sqlx::query_scalar(DEDUP_PUBLISHED)
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            return Ok(Some(original));
        }
        insert_messages(&mut tx, messages).await?;
        tx.commit().await?;
        Ok(None)
    }

    async fn dedup_delete_expired(&self, now: i64, limit: i64) -> Result<u64> {
        let done = sqlx::query(DEDUP_DELETE_EXPIRED)
            .bind(now)
            .bind(limit)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn message_get(&self, id: &str) -> Result<Option<MessageRow>> {
        Ok(sqlx::query_as(MESSAGE_GET)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn message_claim_due(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<MessageRow>> {
        let mut tx = self.begin_write().await?;
        let claimed: Vec<MessageRow> = sqlx::query_as(MESSAGE_CLAIM_DUE)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut log = EventLog::default();
        for message in &claimed {
            log.push(now, Event::new(&message.id, "ACTIVE"));
        }
        log.write(&mut tx).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn message_claim_flow_controlled(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<MessageRow>> {
        let mut tx = self.begin_write().await?;
        let keys: Vec<KeyState> = sqlx::query_as(FLOW_CONTROL_READY).bind(now).fetch_all(&mut *tx).await?;
        let mut claimed: Vec<MessageRow> = Vec::new();
        for key in keys {
            let allowance = key.allowance(now, limit - claimed.len() as i64);
            let rows: Vec<MessageRow> = if allowance.start > 0 {
                let rows: Vec<MessageRow> = sqlx::query_as(MESSAGE_CLAIM_DUE_FOR_KEY)
                    .bind(now)
                    .bind(lease_until)
                    .bind(allowance.start)
                    .bind(&key.key)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut log = EventLog::default();
                for row in &rows {
                    log.push(now, Event::new(&row.id, "ACTIVE"));
                }
                log.write(&mut tx).await?;
                rows
            } else {
                Vec::new()
            };
            sqlx::query(FLOW_CONTROL_COUNT)
                .bind(&key.key)
                .bind(allowance.window_count + rows.len() as i32)
                .bind(allowance.window_start)
                .execute(&mut *tx)
                .await?;
            claimed.extend(rows);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn flow_control_any(&self) -> Result<bool> {
        Ok(sqlx::query_scalar(FLOW_CONTROL_ANY).fetch_one(&self.reader).await?)
    }

    async fn message_in_flight_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(MESSAGE_IN_FLIGHT_COUNT)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn flow_control_configure(&self, flow: &FlowControl, now: i64) -> Result<()> {
        sqlx::query(FLOW_CONTROL_CONFIGURE)
            .bind(&flow.key)
            .bind(flow.parallelism)
            .bind(flow.rate)
            .bind(flow.period_ms)
            .bind(now)
            .bind(flow.sets_limits())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn flow_control_get(&self, key: &str) -> Result<Option<FlowControlRow>> {
        let query = format!("{FLOW_CONTROL_SELECT} where k.key = ?1");
        Ok(sqlx::query_as(&query).bind(key).fetch_optional(&self.reader).await?)
    }

    async fn flow_control_list(&self, search: &str) -> Result<Vec<FlowControlRow>> {
        let query = format!("{FLOW_CONTROL_SELECT} where instr(k.key, ?1) > 0 order by k.key");
        Ok(sqlx::query_as(&query).bind(search).fetch_all(&self.reader).await?)
    }

    async fn flow_control_set_paused(&self, key: &str, paused: bool, now: i64) -> Result<bool> {
        let done = sqlx::query(FLOW_CONTROL_SET_PAUSED)
            .bind(key)
            .bind(paused)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn flow_control_pin(
        &self,
        key: &str,
        parallelism: Option<i32>,
        rate: Option<i32>,
        period_ms: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(FLOW_CONTROL_PIN)
            .bind(key)
            .bind(parallelism)
            .bind(rate)
            .bind(period_ms)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn flow_control_unpin(&self, key: &str, parallelism: bool, rate: bool, now: i64) -> Result<bool> {
        let done = sqlx::query(FLOW_CONTROL_UNPIN)
            .bind(key)
            .bind(parallelism)
            .bind(rate)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn flow_control_reset_rate(&self, key: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(FLOW_CONTROL_RESET_RATE)
            .bind(key)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn message_next_due_at(&self, now: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(MESSAGE_NEXT_DUE_AT)
            .bind(now)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn message_extend_leases(&self, claims: &[(String, i32)], lease_until: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut extended = 0;
        for (id, attempt) in claims {
            let done = sqlx::query(MESSAGE_EXTEND_LEASE)
                .bind(lease_until)
                .bind(id)
                .bind(attempt)
                .execute(&mut *tx)
                .await?;
            extended += done.rows_affected();
        }
        tx.commit().await?;
        Ok(extended)
    }

    async fn message_complete(&self, now: i64, completions: &[Completion]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut log = EventLog::default();
        let mut spawned: Vec<NewMessage> = Vec::new();
        // The common case, 2xx, in a few statements for the whole batch; retries and failures one by one.
        let delivered: Vec<(&str, i32)> = completions
            .iter()
            .filter(|c| matches!(c.kind, CompletionKind::Delivered))
            .map(|c| (c.id.as_str(), c.attempt))
            .collect();
        let finished = complete_delivered(&mut tx, now, &delivered).await?;
        let mut changed = finished.len() as u64;
        for c in completions {
            match &c.kind {
                CompletionKind::Delivered => {
                    if finished.contains(&c.id) {
                        let delivered = Event {
                            status: Some(c.status),
                            ..Event::new(&c.id, "DELIVERED")
                        };
                        log.push(now, delivered);
                        spawned.extend_from_slice(&c.spawn);
                    }
                }
                CompletionKind::Retry { due_at } => {
                    let state: Option<String> = sqlx::query_scalar(MESSAGE_COMPLETE_RETRY)
                        .bind(now)
                        .bind(&c.id)
                        .bind(c.attempt)
                        .bind(due_at)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(state) = state {
                        changed += 1;
                        let error = Event {
                            status: Some(c.status),
                            error: c.error.as_deref(),
                            next_delivery_time: Some(*due_at),
                            ..Event::new(&c.id, "ERROR")
                        };
                        log.push(now, error);
                        let next = match state.as_str() {
                            "canceled" => Event::new(&c.id, "CANCELED"),
                            _ => Event {
                                next_delivery_time: Some(*due_at),
                                ..Event::new(&c.id, "RETRY")
                            },
                        };
                        log.push(now, next);
                        spawned.extend_from_slice(&c.spawn);
                    }
                }
                CompletionKind::Failed(entry) => {
                    let state: Option<String> = sqlx::query_scalar(MESSAGE_COMPLETE_FAILED)
                        .bind(now)
                        .bind(&c.id)
                        .bind(c.attempt)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(state) = &state {
                        changed += 1;
                        let error = Event {
                            status: Some(entry.response_status),
                            error: entry.error.as_deref(),
                            ..Event::new(&c.id, "ERROR")
                        };
                        log.push(now, error);
                        let last = if state == "canceled" { "CANCELED" } else { "FAILED" };
                        log.push(now, Event::new(&c.id, last));
                        spawned.extend_from_slice(&c.spawn);
                    }
                    if state.as_deref() == Some("failed") {
                        sqlx::query(DLQ_INSERT)
                            .bind(&entry.dlq_id)
                            .bind(&c.id)
                            .bind(entry.response_status)
                            .bind(headers::to_json(&entry.response_header))
                            .bind(entry.response_body.as_slice())
                            .bind(&entry.error)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
        }
        log.write(&mut tx).await?;
        insert_messages(&mut tx, &spawned).await?;
        tx.commit().await?;
        Ok(changed)
    }

    async fn message_rescue_expired(&self, now: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let rescued: Vec<(String, String)> = sqlx::query_as(MESSAGE_RESCUE_EXPIRED)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        let mut log = EventLog::default();
        for (id, state) in &rescued {
            let event = Event {
                error: Some("the instance delivering it stopped before recording the result"),
                next_delivery_time: (state == "pending").then_some(now),
                ..Event::new(id, log_state(state, "RETRY"))
            };
            log.push(now, event);
        }
        log.write(&mut tx).await?;
        tx.commit().await?;
        Ok(rescued.len() as u64)
    }

    async fn message_cancel(&self, now: i64, id: &str) -> Result<CancelResult> {
        let mut tx = self.begin_write().await?;
        let changed: Option<(String, String)> = sqlx::query_as(MESSAGE_CANCEL)
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((id, state)) = changed {
            log(&mut tx, now, Event::new(&id, log_state(&state, "CANCELED"))).await?;
            tx.commit().await?;
            return Ok(super::cancel_result(&state));
        }
        drop(tx);
        let state: Option<String> = sqlx::query_scalar(MESSAGE_STATE)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(super::not_cancelable(state.as_deref()))
    }

    async fn message_cancel_many(&self, now: i64, filter: &Filter) -> Result<u64> {
        // SQLite's UPDATE takes no table alias, so the filter's `m.` columns read from a subquery.
        let mut qb =
            QueryBuilder::new("-- message_cancel_many: cancel every pending match, flag every match in flight\n");
        qb.push("update messages set state = case when state = 'pending' then 'canceled' else state end, ");
        qb.push("cancel_requested = (state = 'in_progress'), finished_at = case when state = 'pending' then ");
        qb.push_bind(now);
        qb.push(" else finished_at end, updated_at = ");
        qb.push_bind(now);
        qb.push(" where id in (select m.id from messages m where m.state in ('pending', 'in_progress')");
        push_filter(&mut qb, filter, "m.created_at", &DIALECT);
        qb.push(") returning id, state");
        let mut tx = self.begin_write().await?;
        let changed: Vec<(String, String)> = qb.build_query_as().fetch_all(&mut *tx).await?;
        let mut log = EventLog::default();
        for (id, state) in &changed {
            log.push(now, Event::new(id, log_state(state, "CANCELED")));
        }
        log.write(&mut tx).await?;
        tx.commit().await?;
        Ok(changed.len() as u64)
    }

    async fn message_delete_finished(&self, before: i64, limit: i64) -> Result<u64> {
        let done = sqlx::query(MESSAGE_DELETE_FINISHED)
            .bind(before)
            .bind(limit)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn event_list(&self, page: &EventPage) -> Result<Vec<EventRow>> {
        let mut qb = super::event_query(page, &DIALECT);
        Ok(qb.build_query_as().fetch_all(&self.reader).await?)
    }

    async fn dlq_list(&self, page: &DlqPage) -> Result<Vec<DlqRow>> {
        let mut qb = QueryBuilder::new(DLQ_SELECT);
        push_filter(&mut qb, &page.filter, "d.created_at", &DIALECT);
        super::push_dlq_page(&mut qb, page);
        Ok(qb.build_query_as().fetch_all(&self.reader).await?)
    }

    async fn dlq_get(&self, dlq_id: &str) -> Result<Option<DlqRow>> {
        let mut qb = QueryBuilder::new(DLQ_SELECT);
        qb.push(" and d.dlq_id = ").push_bind(dlq_id);
        Ok(qb.build_query_as().fetch_optional(&self.reader).await?)
    }

    async fn dlq_delete(&self, dlq_ids: &[String]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut deleted = 0;
        for id in dlq_ids {
            deleted += sqlx::query(DLQ_DELETE_ONE)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn dlq_retry(&self, entries: &[(String, NewMessage)]) -> Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let mut retried = Vec::new();
        for (dlq_id, message) in entries {
            let taken = sqlx::query(DLQ_DELETE_ONE).bind(dlq_id).execute(&mut *tx).await?;
            if taken.rows_affected() == 1 {
                insert_messages(&mut tx, std::slice::from_ref(message)).await?;
                retried.push(message.id.clone());
            }
        }
        tx.commit().await?;
        Ok(retried)
    }

    async fn dlq_delete_expired(&self, before: i64, limit: i64) -> Result<u64> {
        let done = sqlx::query(DLQ_DELETE_EXPIRED)
            .bind(before)
            .bind(limit)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

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
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn schedule_get(&self, id: &str) -> Result<Option<ScheduleRow>> {
        Ok(sqlx::query_as(SCHEDULE_GET)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn schedule_list(&self) -> Result<Vec<ScheduleRow>> {
        Ok(sqlx::query_as(SCHEDULE_LIST).fetch_all(&self.reader).await?)
    }

    async fn schedule_delete(&self, id: &str) -> Result<bool> {
        Ok(sqlx::query(SCHEDULE_DELETE)
            .bind(id)
            .execute(&self.writer)
            .await?
            .rows_affected()
            == 1)
    }

    async fn schedule_pause(&self, id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(SCHEDULE_PAUSE)
            .bind(id)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn schedule_resume(&self, id: &str, next_fire_at: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(SCHEDULE_RESUME)
            .bind(id)
            .bind(next_fire_at)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn schedule_due(&self, now: i64, limit: i64) -> Result<Vec<ScheduleRow>> {
        Ok(sqlx::query_as(SCHEDULE_DUE)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn schedule_next_fire_at(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(SCHEDULE_NEXT_FIRE_AT)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn schedule_fire(&self, now: i64, fires: &[Fire]) -> Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let advanced = advance_schedules(&mut tx, now, fires).await?;
        let fired: Vec<&Fire> = fires.iter().filter(|f| advanced.contains(&f.schedule_id)).collect();
        let messages: Vec<NewMessage> = fired.iter().flat_map(|f| f.messages.iter().cloned()).collect();
        insert_messages(&mut tx, &messages).await?;
        tx.commit().await?;
        Ok(fired.into_iter().map(|f| f.schedule_id.clone()).collect())
    }

    async fn message_states(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        let mut states = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<(String, String)> = sqlx::query_as(MESSAGE_STATE_OF)
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
            states.extend(row);
        }
        Ok(states)
    }

    async fn leader_try_acquire(&self) -> Result<Option<Leadership>> {
        // One process owns a SQLite file; `schedule_fire` still guards each slot.
        Ok(Some(Leadership::Sqlite))
    }

    async fn url_group_upsert_endpoints(
        &self,
        name: &str,
        endpoints: &[(String, Option<String>)],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(URL_GROUP_TOUCH)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for (url, endpoint_name) in endpoints {
            sqlx::query(URL_GROUP_ENDPOINT_UPSERT)
                .bind(name)
                .bind(url)
                .bind(endpoint_name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn url_group_remove_endpoints(
        &self,
        name: &str,
        urls: &[String],
        names: &[String],
        now: i64,
    ) -> Result<Option<()>> {
        let mut tx = self.begin_write().await?;
        let touched = sqlx::query(URL_GROUP_MARK_UPDATED)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if touched.rows_affected() == 0 {
            return Ok(None);
        }
        for url in urls {
            sqlx::query(URL_GROUP_ENDPOINT_REMOVE_URL)
                .bind(name)
                .bind(url)
                .execute(&mut *tx)
                .await?;
        }
        for endpoint_name in names {
            sqlx::query(URL_GROUP_ENDPOINT_REMOVE_NAME)
                .bind(name)
                .bind(endpoint_name)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(URL_GROUP_DELETE_IF_EMPTY)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(()))
    }

    async fn url_group_get(&self, name: &str) -> Result<Option<UrlGroup>> {
        let Some(group) = sqlx::query_as::<_, UrlGroupRow>(URL_GROUP_GET)
            .bind(name)
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let endpoints = sqlx::query_as(URL_GROUP_ENDPOINTS)
            .bind(name)
            .fetch_all(&self.reader)
            .await?;
        Ok(assemble_groups(vec![group], endpoints).pop())
    }

    async fn url_group_list(&self) -> Result<Vec<UrlGroup>> {
        let groups = sqlx::query_as(URL_GROUP_LIST).fetch_all(&self.reader).await?;
        let endpoints = sqlx::query_as(URL_GROUP_ENDPOINTS)
            .bind(None::<String>)
            .fetch_all(&self.reader)
            .await?;
        Ok(assemble_groups(groups, endpoints))
    }

    async fn url_group_delete(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query(URL_GROUP_DELETE)
            .bind(name)
            .execute(&self.writer)
            .await?
            .rows_affected()
            == 1)
    }

    async fn queue_upsert(&self, name: &str, parallelism: i32, paused: bool, now: i64) -> Result<()> {
        sqlx::query(QUEUE_UPSERT)
            .bind(name)
            .bind(parallelism)
            .bind(paused)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn queue_ensure(&self, name: &str, now: i64) -> Result<()> {
        sqlx::query(QUEUE_ENSURE)
            .bind(name)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn queue_get(&self, name: &str) -> Result<Option<QueueRow>> {
        let query = format!("{QUEUE_SELECT} where q.name = ?1");
        Ok(sqlx::query_as(&query).bind(name).fetch_optional(&self.reader).await?)
    }

    async fn queue_list(&self) -> Result<Vec<QueueRow>> {
        let query = format!("{QUEUE_SELECT} order by q.name");
        Ok(sqlx::query_as(&query).fetch_all(&self.reader).await?)
    }

    async fn queue_delete(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query(QUEUE_DELETE)
            .bind(name)
            .execute(&self.writer)
            .await?
            .rows_affected()
            == 1)
    }

    async fn queue_set_paused(&self, name: &str, paused: bool, now: i64) -> Result<bool> {
        let done = sqlx::query(QUEUE_SET_PAUSED)
            .bind(name)
            .bind(paused)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn signing_keys_get(&self) -> Result<Option<SigningKeys>> {
        let row: Option<(String, String)> = sqlx::query_as(SIGNING_KEYS_GET).fetch_optional(&self.writer).await?;
        Ok(row.map(|(current, next)| SigningKeys { current, next }))
    }

    async fn signing_keys_init(&self, keys: &SigningKeys) -> Result<SigningKeys> {
        sqlx::query(SIGNING_KEYS_INIT)
            .bind(&keys.current)
            .bind(&keys.next)
            .execute(&self.writer)
            .await?;
        Ok(self.signing_keys_get().await?.unwrap_or_else(|| keys.clone()))
    }

    async fn signing_keys_rotate(&self, new_next: &str) -> Result<SigningKeys> {
        let (current, next): (String, String) = sqlx::query_as(SIGNING_KEYS_ROTATE)
            .bind(new_next)
            .fetch_one(&self.writer)
            .await?;
        Ok(SigningKeys { current, next })
    }
}
