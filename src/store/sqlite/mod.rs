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
use crate::domain::{callback, headers, redact};

mod bulk_actions;
mod delivery;
mod dlq;
mod flow_control;
mod keys;
mod messages;
mod owner;
mod peers;
mod queues;
mod schedules;
mod stats;
mod url_groups;
mod workflows;
use workflows::fail_runs;
mod writes;
use writes::{advance_schedules, complete_delivered, insert_messages, log, Event, EventLog};

const DIALECT: Dialect = Dialect { contains_fn: "instr" };

#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The lock that makes this process the only one on the file, until `close` (see `owner`).
    owner: Option<std::sync::Arc<owner::SoleOwner>>,
}

impl SqliteStore {
    /// Connects to the file; with `sole_owner`, first takes its lock (see `owner`), or fails when another
    /// process holds it.
    pub async fn connect(url: &str, sole_owner: bool) -> Result<Self> {
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
        let owner = match sole_owner {
            true => owner::SoleOwner::take(options.get_filename())?.map(std::sync::Arc::new),
            false => None,
        };
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
        Ok(SqliteStore { writer, reader, owner })
    }

    /// Whether this process holds the file's lock, so no other process can hold a lease on it.
    pub fn is_sole_owner(&self) -> bool {
        self.owner.is_some()
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
        if let Some(owner) = &self.owner {
            owner.release();
        }
    }
}

/// The claim statement, for messages without a flow-control key or for those of one key (?6); `?5` is the
/// claiming instance. `?4` is a
/// JSON array of hosts at their share of this instance's capacity (SQLite has no array parameters); it is
/// `[]` in the common case.
macro_rules! claim_sql {
    ($which:literal) => {
        concat!(
            "
-- message_claim_due: lease the earliest due messages and bump their attempt (one writer: no locks needed)
update messages
set state = 'in_progress', attempt = attempt + 1, lease_until = ?2, lease_holder = ?5, updated_at = ?1
where id in (select id from messages
             where state = 'pending' and due_at <= ?1
               and url_host not in (select value from json_each(?4)) ",
            $which,
            shared::queue_turn_sql!(),
            "
             order by due_at
             limit ?3)
returning *"
        )
    };
}

const MESSAGE_CLAIM_DUE: &str = claim_sql!("and flow_control_key is null");
const MESSAGE_CLAIM_DUE_FOR_KEY: &str = claim_sql!("and flow_control_key = ?6");

/// Hosts as the JSON array the claim reads with `json_each` (SQLite has no array parameters).
fn hosts_json(hosts: &[String]) -> String {
    serde_json::to_string(hosts).expect("a list of strings serialises")
}

/// The log state of a cancel's or rescue's result.
fn log_state(new_state: &str, otherwise: &'static str) -> &'static str {
    match new_state {
        "canceled" => "CANCELED",
        "in_progress" => "CANCEL_REQUESTED",
        _ => otherwise,
    }
}

impl SqliteStore {
    /// Where the operations in [`super::shared`] read: the read-only pool that runs beside the writer.
    fn reads(&self) -> &SqlitePool {
        &self.reader
    }

    /// Where the operations in [`super::shared`] write: the one writer.
    fn writes(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl Backend for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/sqlite").run(&self.writer).await?;
        Ok(())
    }
}
