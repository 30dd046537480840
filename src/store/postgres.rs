//! Postgres backend. Claims use `for update skip locked`, so several instances share one database; batch
//! writes bind arrays and `unnest` them, one round trip per batch. States are literals in hot queries so
//! cached plans keep using the partial indexes.

use sqlx::postgres::{PgConnectOptions, PgExecutor, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, QueryBuilder};
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

const DIALECT: Dialect = Dialect { contains_fn: "strpos" };

#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move { sqlx::query(NO_BITMAP_SCANS).execute(conn).await.map(drop) })
            })
            .connect_with(options)
            .await?;
        let autovacuum: String = sqlx::query_scalar(AUTOVACUUM_SETTING).fetch_one(&pool).await?;
        if autovacuum != "on" {
            tracing::warn!(
                "autovacuum is off on this PostgreSQL server: delivered messages leave dead rows that slow every \
                 claim until the messages table is vacuumed; turn autovacuum on or run VACUUM regularly"
            );
        }
        Ok(PgStore { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The hot statements (claim in due order, completion by id) were planned as bitmap scans of the partial
/// indexes whenever the statistics lagged behind a busy table, and a bitmap scan reads every dead index
/// entry again each time (only plain index scans mark them dead), so each claim got slower with every
/// message delivered until the next vacuum: 4,000 deliveries/s instead of 9,700. Set per session (not as a
/// startup option, which connection poolers such as PgBouncer refuse).
const NO_BITMAP_SCANS: &str = "
-- (every connection): plain index scans only, see above
set enable_bitmapscan = off";

const AUTOVACUUM_SETTING: &str = "
-- (start): whether the server vacuums tables by itself
show autovacuum";

const MESSAGE_INSERT: &str = "
-- message_insert: store accepted messages, one row per element of the bound arrays, and log CREATED
with inserted as (
insert into messages (id, state, attempt, max_retries, due_at, url, url_host, url_path, method, header, body,
                      timeout_ms, not_before, created_at, updated_at, caller_ip, labels, schedule_id,
                      retry_delay_expression, topic_name, endpoint_name, callback, failure_callback, queue_name,
                      queue_order, flow_control_key, redact)
select id, 'pending', 0, max_retries, not_before, url, url_host, url_path, method, header, body,
       timeout_ms, not_before, created_at, created_at, caller_ip, labels, schedule_id, retry_delay_expression,
       topic_name, endpoint_name, callback, failure_callback, queue_name,
       case when queue_name is not null then coalesce(queue_order, nextval('message_queue_order')) end,
       flow_control_key, redact
from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[],
            $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[],
            $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::bigint[],
            $22::text[], $23::text[])
     as t(id, max_retries, url, url_host, url_path, method, header, body, timeout_ms, not_before, created_at,
          caller_ip, labels, schedule_id, retry_delay_expression, topic_name, endpoint_name, callback,
          failure_callback, queue_name, queue_order, flow_control_key, redact)
returning id, created_at
)
insert into message_events (message_id, time, state) select id, created_at, 'CREATED' from inserted";

const DEDUP_EXPIRE_KEY: &str = "
-- message_insert_deduplicated (expire): a key past its window no longer counts
delete from dedup where key = $1 and expires_at <= $2";

const DEDUP_CLAIM: &str = "
-- message_insert_deduplicated (claim): the first publish under a key claims it
insert into dedup (key, published, expires_at) values ($1, $2, $3) on conflict (key) do nothing";

const DEDUP_PUBLISHED: &str = "
-- message_insert_deduplicated (duplicate): the answer of the publish that claimed the key
select published from dedup where key = $1";

const DEDUP_DELETE_EXPIRED: &str = "
-- dedup_delete_expired: retention for keys whose window has passed
delete from dedup where key in (select key from dedup where expires_at <= $1 limit $2)";

const MESSAGE_GET: &str = "
-- message_get: one message by id, whatever its state
select * from messages where id = $1";

/// The claim statement, for messages without a flow-control key or for those of one key ($4).
macro_rules! claim_sql {
    ($which:literal) => {
        concat!(
            "
-- message_claim_due: lease the earliest due messages and bump their attempt; skip rows other instances hold;
-- log ACTIVE
with claimed as (
    update messages m
    set state = 'in_progress', attempt = m.attempt + 1, lease_until = $2, updated_at = $1
    from (select id from messages
          where state = 'pending' and due_at <= $1 ",
            $which,
            "
            -- a queued message waits until fewer than `parallelism` unfinished ones are ahead of it
            and (queue_name is null or exists (
                  select 1 from queues q
                  where q.name = messages.queue_name and not q.paused
                    and (select count(*) from messages ahead
                         where ahead.queue_name = messages.queue_name and ahead.state in ('pending', 'in_progress')
                           and ahead.queue_order < messages.queue_order) < q.parallelism))
          order by due_at
          limit $3
          for update skip locked) due
    where m.id = due.id
    returning m.*
), logged as (
    insert into message_events (message_id, time, state) select id, $1, 'ACTIVE' from claimed
)
select * from claimed"
        )
    };
}

const MESSAGE_CLAIM_DUE: &str = claim_sql!("and flow_control_key is null");
const MESSAGE_CLAIM_DUE_FOR_KEY: &str = claim_sql!("and flow_control_key = $4");

const FLOW_CONTROL_READY: &str = "
-- message_claim_flow_controlled (keys): keys not paused with due messages, locked for this claim
select k.key, k.parallelism, k.rate, k.period_ms, k.rate_count, k.rate_period_start,
       (select count(*) from messages m where m.flow_control_key = k.key and m.state = 'in_progress') as in_flight
from flow_control_keys k
where not k.paused
  and exists (select 1 from messages m where m.flow_control_key = k.key and m.state = 'pending' and m.due_at <= $1)
order by k.key
limit 1000
for update of k skip locked";

const FLOW_CONTROL_COUNT: &str = "
-- message_claim_flow_controlled (count): record the deliveries started in the key's rate window
update flow_control_keys set rate_count = $2, rate_period_start = $3 where key = $1";

const FLOW_CONTROL_ANY: &str = "
-- flow_control_any: whether any flow-control key exists
select exists (select 1 from flow_control_keys)";

const MESSAGE_IN_FLIGHT_COUNT: &str = "
-- message_in_flight_count: deliveries running on every instance
select count(*) from messages where state = 'in_progress'";

const FLOW_CONTROL_CONFIGURE: &str = "
-- flow_control_configure: create the key, or take the limits a message brings unless they are pinned
insert into flow_control_keys (key, parallelism, rate, period_ms, rate_period_start, created_at, updated_at)
values ($1, $2, $3, coalesce($4, 1000), $5, $5, $5)
on conflict (key) do update set
    parallelism = case when flow_control_keys.pinned_parallelism or not $6 then flow_control_keys.parallelism
                       else excluded.parallelism end,
    rate = case when flow_control_keys.pinned_rate or not $6 then flow_control_keys.rate else excluded.rate end,
    period_ms = case when flow_control_keys.pinned_rate or not $6 then flow_control_keys.period_ms
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
update flow_control_keys set paused = $2, updated_at = $3 where key = $1";

const FLOW_CONTROL_PIN: &str = "
-- flow_control_pin: fix limits against later messages and start a new rate window
update flow_control_keys set
    parallelism = case when $2::int is null then parallelism else $2 end,
    pinned_parallelism = pinned_parallelism or $2::int is not null,
    rate = case when $3::int is null then rate else $3 end,
    period_ms = coalesce($4, period_ms),
    pinned_rate = pinned_rate or $3::int is not null or $4::bigint is not null,
    rate_count = 0, rate_period_start = $5, updated_at = $5
where key = $1";

const FLOW_CONTROL_UNPIN: &str = "
-- flow_control_unpin: let later messages set these limits again
update flow_control_keys set
    pinned_parallelism = pinned_parallelism and not $2, pinned_rate = pinned_rate and not $3, updated_at = $4
where key = $1";

const FLOW_CONTROL_RESET_RATE: &str = "
-- flow_control_reset_rate: clear the rate count and start a new period now
update flow_control_keys set rate_count = 0, rate_period_start = $2, updated_at = $2 where key = $1";

const MESSAGE_NEXT_DUE_AT: &str = "
-- message_next_due_at: when the next pending message becomes due (queued messages waiting for those ahead
-- of them are woken when those finish)
select min(due_at) from messages where state = 'pending' and due_at > $1";

const MESSAGE_EXTEND_LEASES: &str = "
-- message_extend_leases: keep the leases of attempts still in flight
update messages m set lease_until = $1
from unnest($2::text[], $3::int[]) as c(id, attempt)
where m.id = c.id and m.attempt = c.attempt and m.state = 'in_progress'";

const MESSAGE_COMPLETE_DELIVERED: &str = "
-- message_complete (delivered): finish attempts that got a 2xx; log DELIVERED
with done as (
    update messages m set state = 'delivered', lease_until = null, finished_at = $1, updated_at = $1
    from unnest($2::text[], $3::int[], $4::int[]) as c(id, attempt, status)
    where m.id = c.id and m.attempt = c.attempt and m.state = 'in_progress'
    returning m.id, c.status
), logged as (
    insert into message_events (message_id, time, state, response_status)
    select id, $1, 'DELIVERED', status from done
)
select id from done";

const MESSAGE_COMPLETE_RETRY: &str = "
-- message_complete (retry): make failed attempts due again, unless a cancel was requested meanwhile;
-- log ERROR, then RETRY (or CANCELED)
with done as (
    update messages m
    set state = case when m.cancel_requested then 'canceled' else 'pending' end,
        finished_at = case when m.cancel_requested then $1 end,
        due_at = c.due_at, lease_until = null, updated_at = $1
    from unnest($2::text[], $3::int[], $4::bigint[], $5::int[], $6::text[]) as c(id, attempt, due_at, status, error)
    where m.id = c.id and m.attempt = c.attempt and m.state = 'in_progress'
    returning m.id, m.state, c.due_at, c.status, c.error
), logged as (
    insert into message_events (message_id, time, state, response_status, error, next_delivery_time)
    select id, $1, 'ERROR', status, error, due_at from done
    union all
    select id, $1, case when state = 'canceled' then 'CANCELED' else 'RETRY' end, null, null,
           case when state = 'pending' then due_at end
    from done
)
select id from done";

const MESSAGE_COMPLETE_FAILED: &str = "
-- message_complete (failed): finish attempts that exhausted their retries and dead-letter them
with failed as (
    update messages m
    set state = case when m.cancel_requested then 'canceled' else 'failed' end,
        lease_until = null, finished_at = $1, updated_at = $1
    from unnest($2::text[], $3::int[]) as c(id, attempt)
    where m.id = c.id and m.attempt = c.attempt and m.state = 'in_progress'
    returning m.id, m.state
), entries as (
    select * from unnest($2::text[], $4::text[], $5::int[], $6::text[], $7::bytea[], $8::text[])
         as e(message_id, dlq_id, response_status, response_header, response_body, error)
), dead as (
    insert into dlq (dlq_id, message_id, response_status, response_header, response_body, error, created_at)
    select e.dlq_id, e.message_id, e.response_status, e.response_header, e.response_body, e.error, $1
    from failed join entries e on e.message_id = failed.id
    where failed.state = 'failed'
), logged as (
    -- log ERROR, then FAILED (or CANCELED)
    insert into message_events (message_id, time, state, response_status, error)
    select failed.id, $1, 'ERROR', e.response_status, e.error from failed join entries e on e.message_id = failed.id
    union all
    select id, $1, case when state = 'canceled' then 'CANCELED' else 'FAILED' end, null, null from failed
)
select id from failed";

const MESSAGE_RESCUE_EXPIRED: &str = "
-- message_rescue_expired: messages whose worker died while holding the lease become due again; log RETRY
with rescued as (
    update messages
    set state = case when cancel_requested then 'canceled' else 'pending' end,
        finished_at = case when cancel_requested then $1 end,
        due_at = $1, lease_until = null, updated_at = $1
    where state = 'in_progress' and lease_until < $1
    returning id, state
), logged as (
    insert into message_events (message_id, time, state, error, next_delivery_time)
    select id, $1, case when state = 'canceled' then 'CANCELED' else 'RETRY' end,
           'the instance delivering it stopped before recording the result', case when state = 'pending' then $1 end
    from rescued
)
select count(*) from rescued";

const MESSAGE_CANCEL: &str = "
-- message_cancel: cancel a pending message, or flag one in flight so it is not retried; log the change
with changed as (
    update messages
    set state = case when state = 'pending' then 'canceled' else state end,
        cancel_requested = (state = 'in_progress'),
        finished_at = case when state = 'pending' then $2 else finished_at end,
        updated_at = $2
    where id = $1 and state in ('pending', 'in_progress')
    returning id, state
), logged as (
    insert into message_events (message_id, time, state)
    select id, $2, case when state = 'canceled' then 'CANCELED' else 'CANCEL_REQUESTED' end from changed
)
select state from changed";

const MESSAGE_STATE: &str = "
-- message_state: the state of one message
select state from messages where id = $1";

const MESSAGE_DELETE_FINISHED: &str = "
-- message_delete_finished: retention for finished messages no DLQ entry holds, with their log entries
with gone as (
    delete from messages where id in (
        select id from messages m
        where finished_at < $1 and not exists (select 1 from dlq d where d.message_id = m.id)
        limit $2)
    returning id
), events as (
    delete from message_events e using gone where e.message_id = gone.id
)
select count(*) from gone";

const DLQ_SELECT: &str = "
-- dlq_list / dlq_get: DLQ entries joined with their message
select m.*, d.dlq_id, d.response_status, d.response_header, d.response_body, d.error as dlq_error,
       d.created_at as dlq_created_at
from dlq d join messages m on m.id = d.message_id
where true";

const DLQ_DELETE: &str = "
-- dlq_delete: remove entries by id
delete from dlq where dlq_id = any($1)";

const DLQ_DELETE_ONE: &str = "
-- dlq_retry (take): remove one entry, if it is still there
delete from dlq where dlq_id = $1";

const DLQ_DELETE_EXPIRED: &str = "
-- dlq_delete_expired: DLQ retention
delete from dlq where dlq_id in (select dlq_id from dlq where created_at < $1 limit $2)";

const SCHEDULE_UPSERT: &str = "
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

const SCHEDULE_GET: &str = "
-- schedule_get: one schedule by id
select * from schedules where id = $1";

const SCHEDULE_LIST: &str = "
-- schedule_list: every schedule, oldest first
select * from schedules order by created_at, id";

const SCHEDULE_DELETE: &str = "
-- schedule_delete: remove a schedule (the messages it fired stay)
delete from schedules where id = $1";

const SCHEDULE_PAUSE: &str = "
-- schedule_pause: stop firing; slots passing meanwhile are skipped, not queued
update schedules set is_paused = true, updated_at = $2 where id = $1";

const SCHEDULE_RESUME: &str = "
-- schedule_resume: fire again from the next slot after now
update schedules set is_paused = false, next_fire_at = $2, updated_at = $3 where id = $1";

const SCHEDULE_DUE: &str = "
-- schedule_due: schedules whose next slot has come, earliest first
select * from schedules where not is_paused and next_fire_at <= $1 order by next_fire_at limit $2";

const SCHEDULE_NEXT_FIRE_AT: &str = "
-- schedule_next_fire_at: the earliest slot of any schedule that is not paused
select min(next_fire_at) from schedules where not is_paused";

const SCHEDULE_ADVANCE: &str = "
-- schedule_fire (advance): move each schedule past its slot, only if it is still there and not paused
update schedules s
set next_fire_at = f.next_fire_at, last_fire_at = f.slot, last_message_ids = f.message_ids, updated_at = $1
from unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[]) as f(id, slot, next_fire_at, message_ids)
where s.id = f.id and s.next_fire_at = f.slot and not s.is_paused
returning s.id";

const MESSAGE_STATES: &str = "
-- message_states: the state of each of these messages that still exists
select id, state from messages where id = any($1)";

const LEADER_TRY_ACQUIRE: &str = "
-- leader_try_acquire: the session advisory lock of the cron loop (key: 'postdate-scheduler')
select pg_try_advisory_lock(hashtext('postdate-scheduler'))";

const URL_GROUP_TOUCH: &str = "
-- url_group_upsert_endpoints (group): create the group, or mark it updated
insert into url_groups (name, created_at, updated_at) values ($1, $2, $2)
on conflict (name) do update set updated_at = excluded.updated_at";

const URL_GROUP_ENDPOINTS_UPSERT: &str = "
-- url_group_upsert_endpoints (endpoints): add endpoints, or rename those already there
insert into url_group_endpoints (group_name, url, name, added_at)
select $1, url, name, $2 from unnest($3::text[], $4::text[]) as e(url, name)
on conflict (group_name, url) do update set name = excluded.name";

const URL_GROUP_ENDPOINTS_REMOVE: &str = "
-- url_group_remove_endpoints: remove endpoints by URL or by name
delete from url_group_endpoints where group_name = $1 and (url = any($2) or name = any($3))";

const URL_GROUP_DELETE_IF_EMPTY: &str = "
-- url_group_remove_endpoints (cleanup): a group without endpoints is deleted
delete from url_groups g
where g.name = $1 and not exists (select 1 from url_group_endpoints e where e.group_name = g.name)";

const URL_GROUP_MARK_UPDATED: &str = "
-- url_group_remove_endpoints (touch): mark the group updated
update url_groups set updated_at = $2 where name = $1";

const URL_GROUP_GET: &str = "
-- url_group_get: one group
select name, created_at, updated_at from url_groups where name = $1";

const URL_GROUP_LIST: &str = "
-- url_group_list: every group, by name
select name, created_at, updated_at from url_groups order by name";

const URL_GROUP_ENDPOINTS: &str = "
-- url_group_get / url_group_list: endpoints of the named groups (all groups when $1 is null)
select group_name, url, name from url_group_endpoints
where $1::text is null or group_name = $1
order by group_name, added_at, url";

const URL_GROUP_DELETE: &str = "
-- url_group_delete: remove a group and its endpoints
delete from url_groups where name = $1";

const QUEUE_UPSERT: &str = "
-- queue_upsert: create a queue, or set its parallelism and paused state
insert into queues (name, parallelism, paused, created_at, updated_at) values ($1, $2, $3, $4, $4)
on conflict (name) do update set parallelism = excluded.parallelism, paused = excluded.paused,
                                 updated_at = excluded.updated_at";

const QUEUE_ENSURE: &str = "
-- queue_ensure: create a queue with parallelism 1 unless it exists
insert into queues (name, parallelism, paused, created_at, updated_at) values ($1, 1, false, $2, $2)
on conflict (name) do nothing";

const QUEUE_SELECT: &str = "
-- queue_get / queue_list: queues with their lag
select q.name, q.parallelism, q.paused, q.created_at, q.updated_at,
       (select count(*) from messages m
        where m.queue_name = q.name and m.state in ('pending', 'in_progress')) as lag
from queues q";

const QUEUE_DELETE: &str = "
-- queue_delete: remove a queue
delete from queues where name = $1";

const QUEUE_SET_PAUSED: &str = "
-- queue_set_paused: pause or resume a queue
update queues set paused = $2, updated_at = $3 where name = $1";

const SIGNING_KEYS_GET: &str = "
-- signing_keys_get: the stored key pair
select current, next from signing_keys where id = 1";

const SIGNING_KEYS_INIT: &str = "
-- signing_keys_init: store the first key pair unless one is stored already
insert into signing_keys (id, current, next) values (1, $1, $2) on conflict (id) do nothing";

const SIGNING_KEYS_ROTATE: &str = "
-- signing_keys_rotate: next becomes current, a fresh key becomes next
update signing_keys set current = next, next = $1 where id = 1 returning current, next";

fn ids_and_attempts<'a>(completions: impl Iterator<Item = &'a Completion>) -> (Vec<String>, Vec<i32>) {
    completions.map(|c| (c.id.clone(), c.attempt)).unzip()
}

async fn insert_messages<'e>(executor: impl PgExecutor<'e>, messages: &[NewMessage]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    // One array per column, unnested into rows by the statement.
    fn column<'m, T>(messages: &'m [NewMessage], value: impl Fn(&'m NewMessage) -> T) -> Vec<T> {
        messages.iter().map(value).collect()
    }
    sqlx::query(MESSAGE_INSERT)
        .bind(column(messages, |m| m.id.clone()))
        .bind(column(messages, |m| m.max_retries))
        .bind(column(messages, |m| m.url.as_str().to_string()))
        .bind(column(messages, |m| m.url.host().to_string()))
        .bind(column(messages, |m| m.url.path().to_string()))
        .bind(column(messages, |m| m.method.clone()))
        .bind(column(messages, |m| headers::to_json(&m.header)))
        .bind(column(messages, |m| m.body.as_slice()))
        .bind(column(messages, |m| m.timeout_ms))
        .bind(column(messages, |m| m.not_before))
        .bind(column(messages, |m| m.created_at))
        .bind(column(messages, |m| m.caller_ip.clone()))
        .bind(column(messages, |m| m.labels_column()))
        .bind(column(messages, |m| m.schedule_id.clone()))
        .bind(column(messages, |m| m.retry_delay_expression.clone()))
        .bind(column(messages, |m| m.topic_name.clone()))
        .bind(column(messages, |m| m.endpoint_name.clone()))
        .bind(column(messages, |m| callback::to_column(&m.callback)))
        .bind(column(messages, |m| callback::to_column(&m.failure_callback)))
        .bind(column(messages, |m| m.queue_name.clone()))
        .bind(column(messages, |m| m.queue_order))
        .bind(column(messages, |m| m.flow_control_key.clone()))
        .bind(column(messages, |m| redact::to_column(&m.redact)))
        .execute(executor)
        .await?;
    Ok(())
}

impl Backend for PgStore {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    async fn message_insert(&self, messages: &[NewMessage]) -> Result<()> {
        insert_messages(&self.pool, messages).await
    }

    async fn message_insert_deduplicated(
        &self,
        key: &str,
        published: &str,
        expires_at: i64,
        now: i64,
        messages: &[NewMessage],
    ) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
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
        insert_messages(&mut *tx, messages).await?;
        tx.commit().await?;
        Ok(None)
    }

    async fn dedup_delete_expired(&self, now: i64, limit: i64) -> Result<u64> {
        let done = sqlx::query(DEDUP_DELETE_EXPIRED)
            .bind(now)
            .bind(limit)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn message_get(&self, id: &str) -> Result<Option<MessageRow>> {
        Ok(sqlx::query_as(MESSAGE_GET).bind(id).fetch_optional(&self.pool).await?)
    }

    async fn message_claim_due(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<MessageRow>> {
        Ok(sqlx::query_as(MESSAGE_CLAIM_DUE)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn message_claim_flow_controlled(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<MessageRow>> {
        let mut tx = self.pool.begin().await?;
        let keys: Vec<KeyState> = sqlx::query_as(FLOW_CONTROL_READY).bind(now).fetch_all(&mut *tx).await?;
        let mut claimed: Vec<MessageRow> = Vec::new();
        for key in keys {
            let allowance = key.allowance(now, limit - claimed.len() as i64);
            let rows: Vec<MessageRow> = if allowance.start > 0 {
                sqlx::query_as(MESSAGE_CLAIM_DUE_FOR_KEY)
                    .bind(now)
                    .bind(lease_until)
                    .bind(allowance.start)
                    .bind(&key.key)
                    .fetch_all(&mut *tx)
                    .await?
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
        Ok(sqlx::query_scalar(FLOW_CONTROL_ANY).fetch_one(&self.pool).await?)
    }

    async fn message_in_flight_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(MESSAGE_IN_FLIGHT_COUNT)
            .fetch_one(&self.pool)
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn flow_control_get(&self, key: &str) -> Result<Option<FlowControlRow>> {
        let query = format!("{FLOW_CONTROL_SELECT} where k.key = $1");
        Ok(sqlx::query_as(&query).bind(key).fetch_optional(&self.pool).await?)
    }

    async fn flow_control_list(&self, search: &str) -> Result<Vec<FlowControlRow>> {
        let query = format!("{FLOW_CONTROL_SELECT} where strpos(k.key, $1) > 0 order by k.key");
        Ok(sqlx::query_as(&query).bind(search).fetch_all(&self.pool).await?)
    }

    async fn flow_control_set_paused(&self, key: &str, paused: bool, now: i64) -> Result<bool> {
        let done = sqlx::query(FLOW_CONTROL_SET_PAUSED)
            .bind(key)
            .bind(paused)
            .bind(now)
            .execute(&self.pool)
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
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn flow_control_unpin(&self, key: &str, parallelism: bool, rate: bool, now: i64) -> Result<bool> {
        let done = sqlx::query(FLOW_CONTROL_UNPIN)
            .bind(key)
            .bind(parallelism)
            .bind(rate)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn flow_control_reset_rate(&self, key: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(FLOW_CONTROL_RESET_RATE)
            .bind(key)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn message_next_due_at(&self, now: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(MESSAGE_NEXT_DUE_AT)
            .bind(now)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn message_extend_leases(&self, claims: &[(String, i32)], lease_until: i64) -> Result<u64> {
        let (ids, attempts): (Vec<String>, Vec<i32>) = claims.iter().cloned().unzip();
        let done = sqlx::query(MESSAGE_EXTEND_LEASES)
            .bind(lease_until)
            .bind(ids)
            .bind(attempts)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn message_complete(&self, now: i64, completions: &[Completion]) -> Result<u64> {
        // One transaction: the guarded updates, then the callbacks of the completions that applied.
        let mut tx = self.pool.begin().await?;
        let mut applied: Vec<String> = Vec::new();
        let delivered: Vec<&Completion> = completions
            .iter()
            .filter(|c| matches!(c.kind, CompletionKind::Delivered))
            .collect();
        if !delivered.is_empty() {
            let statuses: Vec<i32> = delivered.iter().map(|c| c.status).collect();
            let (ids, attempts) = ids_and_attempts(delivered.into_iter());
            let done: Vec<String> = sqlx::query_scalar(MESSAGE_COMPLETE_DELIVERED)
                .bind(now)
                .bind(ids)
                .bind(attempts)
                .bind(statuses)
                .fetch_all(&mut *tx)
                .await?;
            applied.extend(done);
        }
        let retries: Vec<(&Completion, i64)> = completions
            .iter()
            .filter_map(|c| match c.kind {
                CompletionKind::Retry { due_at } => Some((c, due_at)),
                _ => None,
            })
            .collect();
        if !retries.is_empty() {
            let (ids, attempts) = ids_and_attempts(retries.iter().map(|(c, _)| *c));
            let due: Vec<i64> = retries.iter().map(|(_, due)| *due).collect();
            let done: Vec<String> = sqlx::query_scalar(MESSAGE_COMPLETE_RETRY)
                .bind(now)
                .bind(ids)
                .bind(attempts)
                .bind(due)
                .bind(retries.iter().map(|(c, _)| c.status).collect::<Vec<_>>())
                .bind(retries.iter().map(|(c, _)| c.error.clone()).collect::<Vec<_>>())
                .fetch_all(&mut *tx)
                .await?;
            applied.extend(done);
        }
        let failed: Vec<(&Completion, &DlqEntry)> = completions
            .iter()
            .filter_map(|c| match &c.kind {
                CompletionKind::Failed(entry) => Some((c, entry)),
                _ => None,
            })
            .collect();
        if !failed.is_empty() {
            let (ids, attempts) = ids_and_attempts(failed.iter().map(|(c, _)| *c));
            let entries: Vec<&DlqEntry> = failed.iter().map(|(_, e)| *e).collect();
            let column = |f: fn(&DlqEntry) -> Option<String>| entries.iter().map(|e| f(e)).collect::<Vec<_>>();
            let done: Vec<String> = sqlx::query_scalar(MESSAGE_COMPLETE_FAILED)
                .bind(now)
                .bind(ids)
                .bind(attempts)
                .bind(column(|e| Some(e.dlq_id.clone())))
                .bind(entries.iter().map(|e| e.response_status).collect::<Vec<_>>())
                .bind(column(|e| Some(headers::to_json(&e.response_header))))
                .bind(entries.iter().map(|e| e.response_body.as_slice()).collect::<Vec<_>>())
                .bind(column(|e| e.error.clone()))
                .fetch_all(&mut *tx)
                .await?;
            applied.extend(done);
        }
        let spawned: Vec<NewMessage> = completions
            .iter()
            .filter(|c| !c.spawn.is_empty() && applied.contains(&c.id))
            .flat_map(|c| c.spawn.iter().cloned())
            .collect();
        insert_messages(&mut *tx, &spawned).await?;
        tx.commit().await?;
        Ok(applied.len() as u64)
    }

    async fn message_rescue_expired(&self, now: i64) -> Result<u64> {
        let rescued: i64 = sqlx::query_scalar(MESSAGE_RESCUE_EXPIRED)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(rescued as u64)
    }

    async fn message_cancel(&self, now: i64, id: &str) -> Result<CancelResult> {
        let new_state: Option<String> = sqlx::query_scalar(MESSAGE_CANCEL)
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(state) = new_state {
            return Ok(super::cancel_result(&state));
        }
        let state: Option<String> = sqlx::query_scalar(MESSAGE_STATE)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(super::not_cancelable(state.as_deref()))
    }

    async fn message_cancel_many(&self, now: i64, filter: &Filter) -> Result<u64> {
        let mut qb = QueryBuilder::new(
            "-- message_cancel_many: cancel every pending match, flag every match in flight; log the changes\n",
        );
        qb.push("with changed as (update messages m set state = case when m.state = 'pending' then 'canceled' ");
        qb.push("else m.state end, cancel_requested = (m.state = 'in_progress'), ");
        qb.push("finished_at = case when m.state = 'pending' then ");
        qb.push_bind(now);
        qb.push(" else m.finished_at end, updated_at = ");
        qb.push_bind(now);
        qb.push(" where m.state in ('pending', 'in_progress')");
        push_filter(&mut qb, filter, "m.created_at", &DIALECT);
        qb.push(" returning m.id, m.state), logged as (insert into message_events (message_id, time, state) ");
        qb.push("select id, ");
        qb.push_bind(now);
        qb.push(", case when state = 'canceled' then 'CANCELED' else 'CANCEL_REQUESTED' end from changed) ");
        qb.push("select count(*) from changed");
        let cancelled: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(cancelled as u64)
    }

    async fn message_delete_finished(&self, before: i64, limit: i64) -> Result<u64> {
        let deleted: i64 = sqlx::query_scalar(MESSAGE_DELETE_FINISHED)
            .bind(before)
            .bind(limit)
            .fetch_one(&self.pool)
            .await?;
        Ok(deleted as u64)
    }

    async fn event_list(&self, page: &EventPage) -> Result<Vec<EventRow>> {
        let mut qb = super::event_query(page, &DIALECT);
        Ok(qb.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn dlq_list(&self, page: &DlqPage) -> Result<Vec<DlqRow>> {
        let mut qb = QueryBuilder::new(DLQ_SELECT);
        push_filter(&mut qb, &page.filter, "d.created_at", &DIALECT);
        super::push_dlq_page(&mut qb, page);
        Ok(qb.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn dlq_get(&self, dlq_id: &str) -> Result<Option<DlqRow>> {
        let mut qb = QueryBuilder::new(DLQ_SELECT);
        qb.push(" and d.dlq_id = ").push_bind(dlq_id);
        Ok(qb.build_query_as().fetch_optional(&self.pool).await?)
    }

    async fn dlq_delete(&self, dlq_ids: &[String]) -> Result<u64> {
        let done = sqlx::query(DLQ_DELETE).bind(dlq_ids).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn dlq_retry(&self, entries: &[(String, NewMessage)]) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let mut retried = Vec::new();
        for (dlq_id, message) in entries {
            let taken = sqlx::query(DLQ_DELETE_ONE).bind(dlq_id).execute(&mut *tx).await?;
            if taken.rows_affected() == 1 {
                retried.push(message.clone());
            }
        }
        let ids = retried.iter().map(|m| m.id.clone()).collect();
        insert_messages(&mut *tx, &retried).await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn dlq_delete_expired(&self, before: i64, limit: i64) -> Result<u64> {
        let done = sqlx::query(DLQ_DELETE_EXPIRED)
            .bind(before)
            .bind(limit)
            .execute(&self.pool)
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn schedule_get(&self, id: &str) -> Result<Option<ScheduleRow>> {
        Ok(sqlx::query_as(SCHEDULE_GET).bind(id).fetch_optional(&self.pool).await?)
    }

    async fn schedule_list(&self) -> Result<Vec<ScheduleRow>> {
        Ok(sqlx::query_as(SCHEDULE_LIST).fetch_all(&self.pool).await?)
    }

    async fn schedule_delete(&self, id: &str) -> Result<bool> {
        Ok(sqlx::query(SCHEDULE_DELETE)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }

    async fn schedule_pause(&self, id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(SCHEDULE_PAUSE)
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn schedule_resume(&self, id: &str, next_fire_at: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(SCHEDULE_RESUME)
            .bind(id)
            .bind(next_fire_at)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn schedule_due(&self, now: i64, limit: i64) -> Result<Vec<ScheduleRow>> {
        Ok(sqlx::query_as(SCHEDULE_DUE)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn schedule_next_fire_at(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(SCHEDULE_NEXT_FIRE_AT).fetch_one(&self.pool).await?)
    }

    async fn schedule_fire(&self, now: i64, fires: &[Fire]) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let fired: Vec<String> = sqlx::query_scalar(SCHEDULE_ADVANCE)
            .bind(now)
            .bind(fires.iter().map(|f| f.schedule_id.clone()).collect::<Vec<_>>())
            .bind(fires.iter().map(|f| f.slot).collect::<Vec<_>>())
            .bind(fires.iter().map(|f| f.next_fire_at).collect::<Vec<_>>())
            .bind(fires.iter().map(super::message_ids_column).collect::<Vec<_>>())
            .fetch_all(&mut *tx)
            .await?;
        let messages: Vec<NewMessage> = fires
            .iter()
            .filter(|f| fired.contains(&f.schedule_id))
            .flat_map(|f| f.messages.iter().cloned())
            .collect();
        insert_messages(&mut *tx, &messages).await?;
        tx.commit().await?;
        Ok(fired)
    }

    async fn message_states(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(MESSAGE_STATES).bind(ids).fetch_all(&self.pool).await?)
    }

    async fn leader_try_acquire(&self) -> Result<Option<Leadership>> {
        // A connection of its own, detached from the pool: the lock lives exactly as long as it does.
        let mut conn = self.pool.acquire().await?.detach();
        let acquired: bool = sqlx::query_scalar(LEADER_TRY_ACQUIRE).fetch_one(&mut conn).await?;
        Ok(acquired.then_some(Leadership::Postgres(conn)))
    }

    async fn url_group_upsert_endpoints(
        &self,
        name: &str,
        endpoints: &[(String, Option<String>)],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(URL_GROUP_TOUCH)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let (urls, names): (Vec<String>, Vec<Option<String>>) = endpoints.iter().cloned().unzip();
        sqlx::query(URL_GROUP_ENDPOINTS_UPSERT)
            .bind(name)
            .bind(now)
            .bind(urls)
            .bind(names)
            .execute(&mut *tx)
            .await?;
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
        let mut tx = self.pool.begin().await?;
        let touched = sqlx::query(URL_GROUP_MARK_UPDATED)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if touched.rows_affected() == 0 {
            return Ok(None);
        }
        sqlx::query(URL_GROUP_ENDPOINTS_REMOVE)
            .bind(name)
            .bind(urls)
            .bind(names)
            .execute(&mut *tx)
            .await?;
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
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let endpoints = sqlx::query_as(URL_GROUP_ENDPOINTS)
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        Ok(assemble_groups(vec![group], endpoints).pop())
    }

    async fn url_group_list(&self) -> Result<Vec<UrlGroup>> {
        let groups = sqlx::query_as(URL_GROUP_LIST).fetch_all(&self.pool).await?;
        let endpoints = sqlx::query_as(URL_GROUP_ENDPOINTS)
            .bind(None::<String>)
            .fetch_all(&self.pool)
            .await?;
        Ok(assemble_groups(groups, endpoints))
    }

    async fn url_group_delete(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query(URL_GROUP_DELETE)
            .bind(name)
            .execute(&self.pool)
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn queue_ensure(&self, name: &str, now: i64) -> Result<()> {
        sqlx::query(QUEUE_ENSURE)
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn queue_get(&self, name: &str) -> Result<Option<QueueRow>> {
        let query = format!("{QUEUE_SELECT} where q.name = $1");
        Ok(sqlx::query_as(&query).bind(name).fetch_optional(&self.pool).await?)
    }

    async fn queue_list(&self) -> Result<Vec<QueueRow>> {
        let query = format!("{QUEUE_SELECT} order by q.name");
        Ok(sqlx::query_as(&query).fetch_all(&self.pool).await?)
    }

    async fn queue_delete(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query(QUEUE_DELETE)
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }

    async fn queue_set_paused(&self, name: &str, paused: bool, now: i64) -> Result<bool> {
        let done = sqlx::query(QUEUE_SET_PAUSED)
            .bind(name)
            .bind(paused)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn signing_keys_get(&self) -> Result<Option<SigningKeys>> {
        let row: Option<(String, String)> = sqlx::query_as(SIGNING_KEYS_GET).fetch_optional(&self.pool).await?;
        Ok(row.map(|(current, next)| SigningKeys { current, next }))
    }

    async fn signing_keys_init(&self, keys: &SigningKeys) -> Result<SigningKeys> {
        sqlx::query(SIGNING_KEYS_INIT)
            .bind(&keys.current)
            .bind(&keys.next)
            .execute(&self.pool)
            .await?;
        Ok(self.signing_keys_get().await?.unwrap_or_else(|| keys.clone()))
    }

    async fn signing_keys_rotate(&self, new_next: &str) -> Result<SigningKeys> {
        let (current, next): (String, String) = sqlx::query_as(SIGNING_KEYS_ROTATE)
            .bind(new_next)
            .fetch_one(&self.pool)
            .await?;
        Ok(SigningKeys { current, next })
    }
}
