//! Postgres backend. Claims use `for update skip locked`, so several instances share one database; batch
//! writes bind arrays and `unnest` them, one round trip per batch. States are literals in hot queries so
//! cached plans keep using the partial indexes.

use sqlx::postgres::{PgConnectOptions, PgConnection, PgExecutor, PgPoolOptions};
use sqlx::{ConnectOptions, QueryBuilder};
use std::str::FromStr;
use std::time::Duration;

use super::body_budget::{by_body_bytes, STATEMENT_BODY_BYTES};
use super::filter::{push_filter, Dialect};
use super::model::*;
use super::read_model::*;
use super::rows::{
    decode_all, decode_claimed, decode_one, BulkActionRow, Decode, DlqRow, EventRow, MessageRow, ScheduleRow,
};
use super::rows::{HistoryRow, RunRow, WaiterRow};
use super::{
    shared, Backend, BulkActionStore, DeliveryStore, DlqStore, FlowControlStore, KeyStore, MessageStore, PeerStore,
    QueueStore, Result, ScheduleStore, StatsStore, UrlGroupStore, WorkflowStore,
};
use crate::domain::flow_control::{FlowControl, KeyState};
use crate::domain::ids::{DlqId, MessageId, ScheduleId};
use crate::domain::message::{labels_column, NewMessage};
use crate::domain::schedule::NewSchedule;
use crate::domain::signing::SigningKeys;
use crate::domain::state::MessageState;
use crate::domain::workflow::history::HistoryEntry;
use crate::domain::workflow::wait::{Resolution, Waiter};
use crate::domain::workflow::RunState;
use crate::domain::workflow::WorkflowLink;
use crate::domain::{callback, headers, redact};

mod bulk_actions;
mod delivery;
mod dlq;
mod flow_control;
mod keys;
mod messages;
mod peers;
mod pooler;
mod queues;
mod schedules;
mod session;
mod stats;
mod url_groups;
mod workflows;
use workflows::fail_runs;

use session::Sessions;

/// Longest wait for a connection before a statement fails as "database unavailable".
const DATABASE_WAIT: Duration = Duration::from_secs(2);

const DIALECT: Dialect = Dialect { contains_fn: "strpos" };

#[derive(Clone, Debug)]
pub struct PgStore {
    pool: Sessions,
    /// Where `LISTEN` connects: a direct URL given for it, or the pool's own server; `None` behind a
    /// transaction pooler without a direct URL (then instances find each other's messages by polling).
    listen_url: Option<String>,
}

impl PgStore {
    pub async fn connect(url: &str, settings: &super::ConnectSettings) -> Result<Self> {
        let mut options = PgConnectOptions::from_str(url)?
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let route = route(&options, settings).await?;
        if route.transaction_pooler || route.no_extra_float_digits {
            // No startup parameter PgBouncer refuses.
            options = options.extra_float_digits(None);
        }
        if route.transaction_pooler {
            // No statement cache (see `session`).
            options = options.statement_cache_capacity(0);
        }
        let settings = &super::ConnectSettings {
            transaction_pooler: route.transaction_pooler,
            ..settings.clone()
        };
        let mut pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            // Short: while the database is unreachable, requests answer 503 within seconds instead of
            // queueing behind each other; the engine's loops retry on their own.
            .acquire_timeout(DATABASE_WAIT);
        if !settings.transaction_pooler {
            // Behind a transaction pooler this is `set local` in every transaction instead.
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move { sqlx::query(NO_BITMAP_SCANS).execute(conn).await.map(drop) })
            });
        }
        let pool = Sessions {
            pool: pool.connect_with(options).await?,
            transaction_pooler: settings.transaction_pooler,
        };
        let listen_url = match (&settings.listen_url, settings.transaction_pooler) {
            (Some(direct), _) => Some(direct.clone()),
            (None, false) => Some(url.to_string()),
            (None, true) => None,
        };
        let autovacuum: String = sqlx::query_scalar(AUTOVACUUM_SETTING).fetch_one(&pool).await?;
        if autovacuum != "on" {
            tracing::warn!(
                "autovacuum is off on this PostgreSQL server: delivered messages leave dead rows that slow every \
                 claim until the messages table is vacuumed; turn autovacuum on or run VACUUM regularly"
            );
        }
        Ok(PgStore { pool, listen_url })
    }

    /// Whether statements run in transaction-pooler mode (configured, or found at start).
    pub fn transaction_pooler(&self) -> bool {
        self.pool.transaction_pooler
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Where the operations in [`super::shared`] read: the one pool.
    fn reads(&self) -> &Sessions {
        &self.pool
    }

    /// Where the operations in [`super::shared`] write: the same pool.
    fn writes(&self) -> &Sessions {
        &self.pool
    }

    /// A transaction for writes (the name SQLite's backend has for its `BEGIN IMMEDIATE`).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

/// How to reach the server: what the settings say, completed by what the pooler probe found.
#[derive(Debug, Clone, Copy)]
struct Route {
    transaction_pooler: bool,
    /// PgBouncer refused the `extra_float_digits` startup parameter sqlx sends (it has no
    /// `ignore_startup_parameters = extra_float_digits`): leave it out.
    no_extra_float_digits: bool,
}

/// Unless the settings say the URL leads to a transaction pooler, probes whether it does (see `pooler`) and
/// switches to pooler mode when it does, saying so. Refusing to start instead would make every pooled URL
/// pasted without the flag a failed deployment, while pooler mode is correct on any server (it only costs
/// speed), so a probe that cannot misfire on a direct server makes switching the better answer.
async fn route(options: &PgConnectOptions, settings: &super::ConnectSettings) -> Result<Route> {
    if settings.transaction_pooler {
        return Ok(Route {
            transaction_pooler: true,
            no_extra_float_digits: true,
        });
    }
    let (probe, no_extra_float_digits) = match pooler::probe(options).await {
        Err(error) if refuses_a_startup_parameter(&error) => {
            let found = pooler::probe(&options.clone().extra_float_digits(None)).await?;
            (found, true)
        }
        found => (found?, false),
    };
    let transaction_pooler = match probe {
        pooler::Probe::Direct => false,
        pooler::Probe::TransactionPooler { evidence } => {
            tracing::warn!(
                %evidence,
                "the database URL leads to a connection pooler in transaction mode: running in transaction-pooler \
                 mode, as with --transaction-pooler (no session state, no statement cache; without \
                 --listen-database-url other instances' messages are found by polling). Set \
                 --transaction-pooler (POSTDATE_TRANSACTION_POOLER=true) to say so and skip this check"
            );
            true
        }
    };
    Ok(Route {
        transaction_pooler,
        no_extra_float_digits,
    })
}

/// PgBouncer's answer to a startup parameter it was not told to ignore.
fn refuses_a_startup_parameter(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.message().contains("unsupported startup parameter"))
}

/// The hot statements (claim in due order, completion by id) were planned as bitmap scans of the partial
/// indexes whenever the statistics lagged behind a busy table, and a bitmap scan reads every dead index
/// entry again each time (only plain index scans mark them dead), so each claim got slower with every
/// message delivered until the next vacuum: 4,000 deliveries/s instead of 9,700. Set per session (not as a
/// startup option, which connection poolers such as PgBouncer refuse).
const NO_BITMAP_SCANS: &str = "
-- (every connection): plain index scans only, see above
set enable_bitmapscan = off";

const MIGRATION_LOCK: &str = "
-- (migrate behind a transaction pooler): one instance migrates at a time, until its transaction ends
select pg_advisory_xact_lock(7460453511254771)";

const AUTOVACUUM_SETTING: &str = "
-- (start): whether the server vacuums tables by itself
show autovacuum";

const MESSAGE_INSERT: &str = "
-- message_insert: store accepted messages, one row per element of the bound arrays, and log CREATED
with inserted as (
insert into messages (id, state, attempt, max_retries, due_at, url, url_host, url_path, method, header, body,
                      timeout_ms, not_before, created_at, updated_at, caller_ip, labels, schedule_id,
                      retry_delay_expression, topic_name, endpoint_name, callback, failure_callback, queue_name,
                      queue_order, flow_control_key, redact, workflow)
select id, 'pending', 0, max_retries, not_before, url, url_host, url_path, method, header, body,
       timeout_ms, not_before, created_at, created_at, caller_ip, labels, schedule_id, retry_delay_expression,
       topic_name, endpoint_name, callback, failure_callback, queue_name,
       case when queue_name is not null then coalesce(queue_order, nextval('message_queue_order')) end,
       flow_control_key, redact, workflow
from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[],
            $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[],
            $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::bigint[],
            $22::text[], $23::text[], $24::text[])
     as t(id, max_retries, url, url_host, url_path, method, header, body, timeout_ms, not_before, created_at,
          caller_ip, labels, schedule_id, retry_delay_expression, topic_name, endpoint_name, callback,
          failure_callback, queue_name, queue_order, flow_control_key, redact, workflow)
returning id, created_at
)
insert into message_events (message_id, time, state) select id, created_at, 'CREATED' from inserted";

/// The claim statement, for messages without a flow-control key or for those of one key ($6); `$5` is the
/// claiming instance. `$4` lists
/// hosts at their share of this instance's capacity, whose messages are left for later; it is empty in the
/// common case, where the filter costs nothing.
macro_rules! claim_sql {
    ($which:literal) => {
        concat!(
            "
-- message_claim_due: lease the earliest due messages and bump their attempt; skip rows other instances hold;
-- log ACTIVE
with claimed as (
    update messages m
    set state = 'in_progress', attempt = m.attempt + 1, lease_until = $2, lease_holder = $5, updated_at = $1
    from (select id from messages
          where state = 'pending' and due_at <= $1 and url_host <> all($4::text[]) ",
            $which,
            shared::queue_turn_sql!(),
            "
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
const MESSAGE_CLAIM_DUE_FOR_KEY: &str = claim_sql!("and flow_control_key = $6");

fn ids_and_attempts<'a>(completions: impl Iterator<Item = &'a Completion>) -> (Vec<String>, Vec<i32>) {
    completions.map(|c| (c.id.as_str().to_owned(), c.attempt)).unzip()
}

/// Whether `messages` go in one insert statement (see [`crate::store::body_budget`]).
fn fits_one_statement(messages: &[NewMessage]) -> bool {
    messages.iter().map(|m| m.body.len()).sum::<usize>() <= STATEMENT_BODY_BYTES
}

/// Inserts `messages` on a connection already in a transaction, a few MiB of bodies per statement.
async fn insert_messages(conn: &mut PgConnection, messages: &[NewMessage]) -> Result<()> {
    for run in by_body_bytes(messages, STATEMENT_BODY_BYTES) {
        insert_message_run(&mut *conn, run).await?;
    }
    Ok(())
}

/// One insert statement for all of `messages`.
async fn insert_message_run<'e>(executor: impl PgExecutor<'e>, messages: &[NewMessage]) -> Result<()> {
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
        .bind(column(messages, |m| &m.body[..]))
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
        .bind(column(messages, |m| WorkflowLink::to_column(&m.workflow)))
        .execute(executor)
        .await?;
    Ok(())
}

impl Backend for PgStore {
    async fn migrate(&self) -> Result<()> {
        if !self.pool.transaction_pooler {
            sqlx::migrate!("./migrations/postgres").run(&self.pool.pool).await?;
            return Ok(());
        }
        // Behind a transaction pooler a session advisory lock (sqlx's default) could outlive the migration
        // on a pooled session: all of it runs in one transaction under a transaction-scoped lock instead.
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_locking(false);
        let mut tx = self.pool.begin().await?;
        sqlx::query(MIGRATION_LOCK).execute(&mut *tx).await?;
        migrator.run(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
