//! The only place with SQL. `Store` is a closed enum over two backends that implement the same
//! crate-private traits (`Backend` and one per resource: messages, delivery, flow control, DLQ, schedules,
//! URL groups, queues, keys, bulk actions), so the compiler keeps Postgres and SQLite in step. Each backend keeps each
//! resource in a file of the same name; the Rust around the SQL that is the same on both is written once,
//! in `shared`. One operation, one name: `message_claim_due` is the SQL constant,
//! the trait method and the conformance test.

mod body_budget;
mod filter;
mod list_query;
pub mod model;
mod postgres;
pub mod read_model;
mod rows;
mod shared;
mod sqlite;

use crate::domain::flow_control::FlowControl;
use crate::domain::ids::{DlqId, MessageId, ScheduleId};
use crate::domain::message::NewMessage;
use crate::domain::schedule::NewSchedule;
use crate::domain::signing::SigningKeys;
pub use model::*;
pub use read_model::*;

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL: expected postgres://… or sqlite://…")]
    UnsupportedUrl,
    #[error(
        "another postdate process is using the SQLite database {database} (it holds {lock}): stop it first, \
         or give this one another --database-url"
    )]
    InUse { database: String, lock: String },
    /// A stored value the code cannot read (written by another version, or edited by hand). Named, never
    /// defaulted: a row read wrongly could be delivered wrongly.
    #[error("corrupt {column} in {table} row {id:?}: {reason}")]
    Corrupt {
        table: &'static str,
        id: String,
        column: &'static str,
        reason: String,
    },
}

impl StoreError {
    /// Whether the database could not be reached or did not answer in time (as opposed to refusing the
    /// statement): the caller may retry the same thing later.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
            // Class 08: connection exceptions; 57P01-03: the server is shutting down or starting;
            // 53300: too many connections.
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")),
            _ => false,
        }
    }
}

/// Every store operation, one trait per resource (each backend implements them in files of the same names).
/// Times are bound from the caller's clock.
#[allow(async_fn_in_trait)] // crate-private and only used through the closed `Store` enum
pub(crate) trait Backend:
    MessageStore
    + DeliveryStore
    + FlowControlStore
    + DlqStore
    + ScheduleStore
    + UrlGroupStore
    + QueueStore
    + KeyStore
    + PeerStore
    + StatsStore
    + BulkActionStore
    + WorkflowStore
{
    async fn migrate(&self) -> Result<()>;
}

/// Accepted messages: insert (with deduplication), read, cancel, retention, log.
#[allow(async_fn_in_trait)]
pub(crate) trait MessageStore {
    async fn message_insert(&self, messages: &[NewMessage]) -> Result<()>;
    /// Like `message_insert`, but gives up (storing nothing) when no connection is free within `wait`.
    async fn message_insert_within(&self, messages: &[NewMessage], wait: std::time::Duration) -> Result<()>;
    /// Stores `messages` and `dedup` unless its key was claimed by an earlier publish that has not expired at
    /// `now`: then nothing is stored and that publish's `published` answer comes back.
    async fn message_insert_deduplicated(
        &self,
        dedup: &DedupEntry<'_>,
        now: i64,
        messages: &[NewMessage],
    ) -> Result<Option<String>>;
    /// Retention for deduplication keys whose window has passed.
    async fn dedup_delete_expired(&self, now: i64, limit: i64) -> Result<u64>;
    async fn message_get(&self, id: &str) -> Result<Option<Message>>;
    async fn message_cancel(&self, now: i64, id: &str) -> Result<CancelResult>;
    /// Makes a pending message (waiting or retrying) due at `now` without touching its attempt count.
    async fn message_run_now(&self, now: i64, id: &str) -> Result<RunNowResult>;
    async fn message_cancel_many(&self, now: i64, filter: &Filter) -> Result<u64>;
    /// Retention: deletes up to `limit` messages finished before `before` that no DLQ entry holds.
    async fn message_delete_finished(&self, before: i64, limit: i64) -> Result<u64>;
    /// (id, state) of those of `ids` that still exist.
    async fn message_states(&self, ids: &[String]) -> Result<Vec<(String, crate::domain::state::MessageState)>>;
    /// Log entries (spec §10), newest first unless the page asks otherwise.
    async fn event_list(&self, page: &EventPage) -> Result<Vec<LogEntry>>;
    /// Messages, pending or finished until retention, one page at a time.
    async fn message_list(&self, page: &MessagePage) -> Result<Vec<Message>>;
    async fn list_window_end(&self, window: &ListWindow<'_>, rows: i64) -> Result<Option<String>>;
}

/// The delivery cycle: claim, lease, complete, rescue.
#[allow(async_fn_in_trait)]
pub(crate) trait DeliveryStore {
    /// Leases up to `claim.limit` due messages (earliest first) until `claim.lease_until` and bumps their
    /// attempt, leaving out those to the hosts in `claim.skip_hosts`.
    async fn message_claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Message>>;
    /// The earliest due time after `now` of any pending message.
    async fn message_next_due_at(&self, now: i64) -> Result<Option<i64>>;
    /// Keeps leases of attempts still in flight alive; returns how many were extended.
    async fn message_extend_leases(&self, claims: &[(String, i32)], lease_until: i64) -> Result<u64>;
    /// Writes the end of attempts back, guarded by (id, attempt, in_progress); returns rows changed.
    async fn message_complete(&self, now: i64, completions: &[Completion]) -> Result<u64>;
    /// Makes messages whose lease expired (their instance died or lost the database) due again, except
    /// `held` (the caller's own leases, whose results are still coming); returns how many.
    async fn message_rescue_expired(&self, now: i64, held: &[String]) -> Result<u64>;
    /// Makes messages in progress under `abandoned` leases due at `now` at once, whatever their lease
    /// (at start, see [`Abandoned`]); returns how many.
    async fn message_rescue_abandoned(&self, now: i64, abandoned: &Abandoned) -> Result<u64>;
}

/// The log entry's error of a message taken back by `message_rescue_abandoned`.
const ABANDONED_ERROR: &str =
    "its instance stopped before the result was recorded; taken back when the instance started again";

/// Flow-control keys and the claim that respects them.
#[allow(async_fn_in_trait)]
pub(crate) trait FlowControlStore {
    /// Leases due messages of flow-control keys within each key's parallelism and rate, up to `claim.limit` in
    /// all, leaving out those to the hosts in `claim.skip_hosts`.
    async fn message_claim_flow_controlled(&self, claim: &Claim<'_>) -> Result<Vec<Message>>;
    /// Whether any flow-control key exists.
    async fn flow_control_any(&self) -> Result<bool>;
    /// Messages in flight on every instance.
    async fn message_in_flight_count(&self) -> Result<i64>;
    /// Creates the key, or (unless pinned) sets the limits a message brings.
    async fn flow_control_configure(&self, flow: &FlowControl, now: i64) -> Result<()>;
    async fn flow_control_get(&self, key: &str) -> Result<Option<FlowControlKey>>;
    async fn flow_control_list(&self, search: &str) -> Result<Vec<FlowControlKey>>;
    async fn flow_control_set_paused(&self, key: &str, paused: bool, now: i64) -> Result<bool>;
    /// Fixes the given limits against later messages; resets the rate window.
    async fn flow_control_pin(
        &self,
        key: &str,
        parallelism: Option<i32>,
        rate: Option<i32>,
        period_ms: Option<i64>,
        now: i64,
    ) -> Result<bool>;
    async fn flow_control_unpin(&self, key: &str, parallelism: bool, rate: bool, now: i64) -> Result<bool>;
    async fn flow_control_reset_rate(&self, key: &str, now: i64) -> Result<bool>;
}

/// The dead-letter queue.
#[allow(async_fn_in_trait)]
pub(crate) trait DlqStore {
    async fn dlq_list(&self, page: &DlqPage) -> Result<Vec<DlqEntry>>;
    async fn dlq_get(&self, dlq_id: &str) -> Result<Option<DlqEntry>>;
    async fn dlq_delete(&self, dlq_ids: &[DlqId]) -> Result<u64>;
    /// Atomically turns each entry into its new message and removes the entry; an entry already gone
    /// (deleted or retried concurrently) is skipped. Returns the ids of the new messages.
    async fn dlq_retry(&self, entries: &[(DlqId, NewMessage)]) -> Result<Vec<MessageId>>;
    /// Retention: deletes up to `limit` DLQ entries created before `before`.
    async fn dlq_delete_expired(&self, before: i64, limit: i64) -> Result<u64>;
}

/// Cron schedules, firing and the scheduler lock.
#[allow(async_fn_in_trait)]
pub(crate) trait ScheduleStore {
    /// Creates the schedule, or replaces every setting of the one with its id (keeping its paused state,
    /// creation time and last fire).
    async fn schedule_upsert(&self, schedule: &NewSchedule) -> Result<()>;
    async fn schedule_get(&self, id: &str) -> Result<Option<Schedule>>;
    async fn schedule_list(&self) -> Result<Vec<Schedule>>;
    async fn schedule_delete(&self, id: &str) -> Result<bool>;
    async fn schedule_pause(&self, id: &str, now: i64) -> Result<bool>;
    /// Unpauses and sets the next slot (computed from now, so no missed slot fires).
    async fn schedule_resume(&self, id: &str, next_fire_at: i64, now: i64) -> Result<bool>;
    /// Schedules not paused whose next slot is at or before `now`, earliest first.
    async fn schedule_due(&self, now: i64, limit: i64) -> Result<Vec<Schedule>>;
    async fn schedule_next_fire_at(&self) -> Result<Option<i64>>;
    /// Fires slots in one transaction: each schedule moves to its next slot only if it is still at the slot
    /// being fired and not paused, and only then are its messages stored. Returns the ids of the schedules
    /// this call fired, so several instances firing the same slot create its messages once.
    async fn schedule_fire(&self, now: i64, fires: &[Fire]) -> Result<Vec<ScheduleId>>;
    /// Takes the lease of a singleton loop when it is free or lapsed at `now`, until `until`; returns the
    /// new term, or `None` while another holder's lease runs.
    async fn leader_acquire(&self, lease: &LeaderLease, now: i64, until: i64) -> Result<Option<i64>>;
    /// Extends the lease while `term` is still the holder's; false once another instance took over.
    async fn leader_renew(&self, lease: &LeaderLease, term: i64, until: i64) -> Result<bool>;
    /// Gives the lease up so that another instance takes over at once.
    async fn leader_release(&self, lease: &LeaderLease, term: i64) -> Result<()>;
}

/// URL groups and their endpoints.
#[allow(async_fn_in_trait)]
pub(crate) trait UrlGroupStore {
    /// Creates the group if needed and adds or renames endpoints (keyed by URL; give each URL once).
    async fn url_group_upsert_endpoints(
        &self,
        name: &str,
        endpoints: &[(String, Option<String>)],
        now: i64,
    ) -> Result<()>;
    /// Removes the endpoints with one of `urls` or `names`; a group left empty is deleted. `None` when the
    /// group does not exist.
    async fn url_group_remove_endpoints(&self, name: &str, removed: &EndpointSelection, now: i64)
        -> Result<Option<()>>;
    async fn url_group_get(&self, name: &str) -> Result<Option<UrlGroup>>;
    async fn url_group_list(&self) -> Result<Vec<UrlGroup>>;
    async fn url_group_delete(&self, name: &str) -> Result<bool>;
    /// Replaces the group's default headers (none when empty); false when the group does not exist.
    async fn url_group_set_headers(
        &self,
        name: &str,
        headers: &crate::domain::headers::HeaderMap,
        now: i64,
    ) -> Result<bool>;
}

/// Queues.
#[allow(async_fn_in_trait)]
pub(crate) trait QueueStore {
    /// Creates the queue or sets its parallelism and paused state.
    async fn queue_upsert(&self, name: &str, parallelism: i32, paused: bool, now: i64) -> Result<()>;
    /// Creates the queue with parallelism 1 unless it exists (enqueue creates queues).
    async fn queue_ensure(&self, name: &str, now: i64) -> Result<()>;
    async fn queue_get(&self, name: &str) -> Result<Option<Queue>>;
    async fn queue_list(&self) -> Result<Vec<Queue>>;
    async fn queue_delete(&self, name: &str) -> Result<bool>;
    async fn queue_set_paused(&self, name: &str, paused: bool, now: i64) -> Result<bool>;
}

/// Async bulk actions: accepted at once with their exact total, run in chunks by one worker at a time.
#[allow(async_fn_in_trait)]
pub(crate) trait BulkActionStore {
    /// Stores the action with the number of messages its filter selects now (waiting, retrying, or in
    /// flight and not yet asked to stop) and the last id of every `chunk` of them; FINISHED at once when
    /// it selects nothing. Messages stored later are never part of it.
    async fn bulk_action_create(&self, action: &NewBulkAction) -> Result<BulkAction>;
    async fn bulk_action_get(&self, id: &str) -> Result<Option<BulkAction>>;
    /// Up to `limit` actions, newest first, older than the action `before` when given.
    async fn bulk_action_list(&self, before: Option<&str>, limit: i64) -> Result<Vec<BulkAction>>;
    /// Leases the oldest unfinished action that no other worker holds (its lease lapsed, or it never had
    /// one) or that `lease.holder` holds already, until `lease.until`.
    async fn bulk_action_claim(&self, lease: &BulkLease<'_>) -> Result<Option<BulkAction>>;
    /// Runs the next chunk of `action` (as claimed) in one transaction: cancels its messages, records the
    /// progress, extends the lease, and finishes the action after its last chunk. Changes nothing unless
    /// `lease.holder` still holds the action at the progress `action` shows.
    async fn bulk_action_step(&self, action: &BulkAction, lease: &BulkLease<'_>) -> Result<BulkStep>;
    /// Retention: deletes up to `limit` actions finished before `before`.
    async fn bulk_action_delete_finished(&self, before: i64, limit: i64) -> Result<u64>;
}

/// Workflow runs and their histories.
#[allow(async_fn_in_trait)]
pub(crate) trait WorkflowStore {
    /// Creates the run and stores its first message as history entry 0, unless a run with its id exists:
    /// then nothing is stored and the id of that run's first message comes back.
    async fn workflow_trigger(
        &self,
        run: &crate::domain::workflow::NewRun,
        first: &NewMessage,
    ) -> Result<Option<String>>;
    /// Stores `messages` into a started run in one transaction, each at the next history position.
    async fn workflow_append(&self, run_id: &str, now: i64, messages: &[NewMessage]) -> Result<Appended>;
    async fn workflow_run_get(&self, run_id: &str) -> Result<Option<crate::domain::workflow::Run>>;
    /// The run's history in publish order, up to and including position `up_to` when given.
    async fn workflow_history(
        &self,
        run_id: &str,
        up_to: Option<i64>,
    ) -> Result<Vec<crate::domain::workflow::history::HistoryEntry>>;
    /// Ends a started run in state `end` with its result.
    async fn workflow_end(
        &self,
        run_id: &str,
        end: crate::domain::workflow::RunState,
        result: Option<&[u8]>,
        now: i64,
    ) -> Result<Ended>;
    /// Up to `limit` runs in `state`, oldest first, created after the run at `after` (its creation time
    /// and id) when given: the pages a bulk operation on runs walks.
    async fn workflow_runs_page(
        &self,
        state: crate::domain::workflow::RunState,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<crate::domain::workflow::Run>>;
    /// Up to `limit` runs (in `state` when given), newest first, created before the run at `before` (its
    /// creation time and id) when given: the pages of the workflow logs.
    async fn workflow_runs_newest(
        &self,
        state: Option<crate::domain::workflow::RunState>,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<crate::domain::workflow::Run>>;
    /// Starts `run` in place of the failed run `from` whose DLQ entry `dlq_id` is taken (all or nothing;
    /// false when the entry is gone): `from`'s history before `first_seq` is copied, and `first` takes
    /// position `first_seq`.
    async fn workflow_rerun(
        &self,
        dlq_id: &str,
        from: &str,
        run: &crate::domain::workflow::NewRun,
        first_seq: i64,
        first: &NewMessage,
    ) -> Result<bool>;
    /// The ids of the messages published into the run, in publish order.
    async fn workflow_message_ids(&self, run_id: &str) -> Result<Vec<String>>;
    /// Retention: deletes up to `limit` runs that ended before `before`, with their histories.
    async fn workflow_delete_finished(&self, before: i64, limit: i64) -> Result<u64>;
    /// Makes the step wait for its event, unless a lookback notify kept it: then the run resumes at once.
    async fn workflow_wait(
        &self,
        waiter: &crate::domain::workflow::wait::Waiter,
        max_per_run: i64,
        now: i64,
        resume: &Resume<'_>,
    ) -> Result<Waited>;
    /// Resumes the steps waiting for `event_id` (of `run_id` only, when given) with `data`; when a named
    /// run has none waiting, keeps the event for its next wait.
    async fn workflow_notify(
        &self,
        event_id: &str,
        run_id: Option<&str>,
        data: &[u8],
        now: i64,
        resume: &Resume<'_>,
    ) -> Result<Notify>;
    /// Resumes up to `limit` steps whose deadline has passed, as timed out; returns how many.
    async fn workflow_expire_waiters(&self, now: i64, limit: i64, resume: &Resume<'_>) -> Result<u64>;
    /// The steps waiting for `event_id`, oldest first (at most 1,000).
    async fn workflow_waiters(&self, event_id: &str) -> Result<Vec<crate::domain::workflow::wait::Waiter>>;
}

/// What the metrics gauges show of the database.
#[allow(async_fn_in_trait)]
pub(crate) trait StatsStore {
    /// Messages by state, DLQ entries, the oldest due message and schedules, each counted up to 100,000.
    async fn store_stats(&self, now: i64) -> Result<crate::metrics::StoreStats>;
    /// Connections of this process's pools: (in use, idle).
    fn pool_connections(&self) -> (u32, u32);
}

/// The row of `store_stats`, the same on both databases.
type StatsRow = (i64, i64, i64, i64, i64, Option<i64>, i64, i64, i64, i64, i64, i64, i64);

fn stats_from_row(row: StatsRow) -> crate::metrics::StoreStats {
    let (waiting, due, in_flight, retrying, dlq_entries, oldest_due_at, schedules_active, schedules_paused) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
    crate::metrics::StoreStats {
        waiting,
        due,
        in_flight,
        retrying,
        dlq_entries,
        oldest_due_at,
        schedules_active,
        schedules_paused,
        workflow_runs: [row.8, row.9, row.10, row.11],
        workflow_waiters: row.12,
    }
}

/// Signing keys.
#[allow(async_fn_in_trait)]
pub(crate) trait KeyStore {
    async fn signing_keys_get(&self) -> Result<Option<SigningKeys>>;
    /// Stores `keys` unless keys are stored already; returns the stored keys.
    async fn signing_keys_init(&self, keys: &SigningKeys) -> Result<SigningKeys>;
    /// Next becomes current, `new_next` becomes next.
    async fn signing_keys_rotate(&self, new_next: &str) -> Result<SigningKeys>;
}

/// One of the two backends, and the metrics every operation's duration goes to.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    /// Rows a filtered list page looks at, at most: [`SEARCH_WINDOW`], smaller in tests.
    search_window: i64,
}

#[derive(Clone, Debug)]
enum Db {
    Postgres(postgres::PgStore),
    Sqlite(sqlite::SqliteStore),
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        impl Store {
            $(
                pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                    let started = std::time::Instant::now();
                    let result = match &self.db {
                        Db::Postgres(s) => s.$name($($arg),*).await,
                        Db::Sqlite(s) => s.$name($($arg),*).await,
                    };
                    if let Some(metrics) = &self.metrics {
                        metrics.store_operation(stringify!($name), started.elapsed());
                    }
                    result
                }
            )*
        }
    };
}

delegate! {
    migrate() -> ();
    message_insert(messages: &[NewMessage]) -> ();
    message_insert_within(messages: &[NewMessage], wait: std::time::Duration) -> ();
    message_insert_deduplicated(dedup: &DedupEntry<'_>, now: i64, messages: &[NewMessage]) -> Option<String>;
    dedup_delete_expired(now: i64, limit: i64) -> u64;
    message_get(id: &str) -> Option<Message>;
    message_claim_due(claim: &Claim<'_>) -> Vec<Message>;
    message_next_due_at(now: i64) -> Option<i64>;
    message_claim_flow_controlled(claim: &Claim<'_>) -> Vec<Message>;
    message_in_flight_count() -> i64;
    flow_control_any() -> bool;
    flow_control_configure(flow: &FlowControl, now: i64) -> ();
    flow_control_get(key: &str) -> Option<FlowControlKey>;
    flow_control_list(search: &str) -> Vec<FlowControlKey>;
    flow_control_set_paused(key: &str, paused: bool, now: i64) -> bool;
    flow_control_pin(key: &str, parallelism: Option<i32>, rate: Option<i32>, period_ms: Option<i64>, now: i64) -> bool;
    flow_control_unpin(key: &str, parallelism: bool, rate: bool, now: i64) -> bool;
    flow_control_reset_rate(key: &str, now: i64) -> bool;
    message_extend_leases(claims: &[(String, i32)], lease_until: i64) -> u64;
    message_complete(now: i64, completions: &[Completion]) -> u64;
    message_rescue_expired(now: i64, held: &[String]) -> u64;
    message_rescue_abandoned(now: i64, abandoned: &Abandoned) -> u64;
    message_cancel(now: i64, id: &str) -> CancelResult;
    message_run_now(now: i64, id: &str) -> RunNowResult;
    message_cancel_many(now: i64, filter: &Filter) -> u64;
    message_delete_finished(before: i64, limit: i64) -> u64;
    event_list(page: &EventPage) -> Vec<LogEntry>;
    message_list(page: &MessagePage) -> Vec<Message>;
    dlq_list(page: &DlqPage) -> Vec<DlqEntry>;
    list_window_end(window: &ListWindow<'_>, rows: i64) -> Option<String>;
    dlq_get(dlq_id: &str) -> Option<DlqEntry>;
    dlq_delete(dlq_ids: &[DlqId]) -> u64;
    dlq_retry(entries: &[(DlqId, NewMessage)]) -> Vec<MessageId>;
    dlq_delete_expired(before: i64, limit: i64) -> u64;
    schedule_upsert(schedule: &NewSchedule) -> ();
    schedule_get(id: &str) -> Option<Schedule>;
    schedule_list() -> Vec<Schedule>;
    schedule_delete(id: &str) -> bool;
    schedule_pause(id: &str, now: i64) -> bool;
    schedule_resume(id: &str, next_fire_at: i64, now: i64) -> bool;
    schedule_due(now: i64, limit: i64) -> Vec<Schedule>;
    schedule_next_fire_at() -> Option<i64>;
    schedule_fire(now: i64, fires: &[Fire]) -> Vec<ScheduleId>;
    message_states(ids: &[String]) -> Vec<(String, crate::domain::state::MessageState)>;
    leader_acquire(lease: &LeaderLease, now: i64, until: i64) -> Option<i64>;
    leader_renew(lease: &LeaderLease, term: i64, until: i64) -> bool;
    leader_release(lease: &LeaderLease, term: i64) -> ();
    url_group_upsert_endpoints(name: &str, endpoints: &[(String, Option<String>)], now: i64) -> ();
    url_group_remove_endpoints(name: &str, removed: &EndpointSelection, now: i64) -> Option<()>;
    url_group_get(name: &str) -> Option<UrlGroup>;
    url_group_list() -> Vec<UrlGroup>;
    url_group_delete(name: &str) -> bool;
    url_group_set_headers(name: &str, headers: &crate::domain::headers::HeaderMap, now: i64) -> bool;
    queue_upsert(name: &str, parallelism: i32, paused: bool, now: i64) -> ();
    queue_ensure(name: &str, now: i64) -> ();
    queue_get(name: &str) -> Option<Queue>;
    queue_list() -> Vec<Queue>;
    queue_delete(name: &str) -> bool;
    queue_set_paused(name: &str, paused: bool, now: i64) -> bool;
    signing_keys_get() -> Option<SigningKeys>;
    signing_keys_init(keys: &SigningKeys) -> SigningKeys;
    signing_keys_rotate(new_next: &str) -> SigningKeys;
    peers_wake() -> ();
    peers_listen() -> Option<PeerListener>;
    store_stats(now: i64) -> crate::metrics::StoreStats;
    bulk_action_create(action: &NewBulkAction) -> BulkAction;
    bulk_action_get(id: &str) -> Option<BulkAction>;
    bulk_action_list(before: Option<&str>, limit: i64) -> Vec<BulkAction>;
    bulk_action_claim(lease: &BulkLease<'_>) -> Option<BulkAction>;
    bulk_action_step(action: &BulkAction, lease: &BulkLease<'_>) -> BulkStep;
    bulk_action_delete_finished(before: i64, limit: i64) -> u64;
    workflow_trigger(run: &crate::domain::workflow::NewRun, first: &NewMessage) -> Option<String>;
    workflow_append(run_id: &str, now: i64, messages: &[NewMessage]) -> Appended;
    workflow_run_get(run_id: &str) -> Option<crate::domain::workflow::Run>;
    workflow_history(run_id: &str, up_to: Option<i64>) -> Vec<crate::domain::workflow::history::HistoryEntry>;
    workflow_end(run_id: &str, end: crate::domain::workflow::RunState, result: Option<&[u8]>, now: i64) -> Ended;
    workflow_runs_page(state: crate::domain::workflow::RunState, after: Option<(i64, &str)>, limit: i64) -> Vec<crate::domain::workflow::Run>;
    workflow_runs_newest(state: Option<crate::domain::workflow::RunState>, before: Option<(i64, &str)>, limit: i64) -> Vec<crate::domain::workflow::Run>;
    workflow_rerun(dlq_id: &str, from: &str, run: &crate::domain::workflow::NewRun, first_seq: i64, first: &NewMessage) -> bool;
    workflow_message_ids(run_id: &str) -> Vec<String>;
    workflow_delete_finished(before: i64, limit: i64) -> u64;
    workflow_wait(waiter: &crate::domain::workflow::wait::Waiter, max_per_run: i64, now: i64, resume: &Resume<'_>) -> Waited;
    workflow_notify(event_id: &str, run_id: Option<&str>, data: &[u8], now: i64, resume: &Resume<'_>) -> Notify;
    workflow_expire_waiters(now: i64, limit: i64, resume: &Resume<'_>) -> u64;
    workflow_waiters(event_id: &str) -> Vec<crate::domain::workflow::wait::Waiter>;
}

/// Wake-ups between instances sharing a database.
#[allow(async_fn_in_trait)]
pub(crate) trait PeerStore {
    /// Tells every listening instance that a message is due soon.
    async fn peers_wake(&self) -> Result<()>;
    /// Starts listening for those wake-ups; `None` where there are no other instances (SQLite).
    async fn peers_listen(&self) -> Result<Option<PeerListener>>;
}

impl PeerListener {
    /// Waits for the next wake-up. A lost connection is re-established (wake-ups sent meanwhile are lost:
    /// the dispatcher's poll still finds their messages).
    pub async fn recv(&mut self) -> Result<()> {
        match self {
            PeerListener::Postgres(listener) => listener.recv().await.map(drop).map_err(StoreError::from),
        }
    }
}

/// How to reach the database beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct ConnectSettings {
    /// Largest pool (Postgres).
    pub max_connections: u32,
    /// The URL leads to a connection pooler in transaction mode (Postgres): no session state.
    pub transaction_pooler: bool,
    /// A direct URL for `LISTEN` (Postgres); by default the database URL, none behind a transaction pooler.
    pub listen_url: Option<String>,
    /// Take the SQLite file's lock, so that this is the only process on it (see `sqlite::owner`).
    pub sole_owner: bool,
}

impl Store {
    /// Connects to `postgres://…` or `sqlite://…` (a SQLite file and its folder are created if missing).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        let settings = ConnectSettings {
            max_connections,
            ..ConnectSettings::default()
        };
        Store::connect_with(url, &settings).await
    }

    pub async fn connect_with(url: &str, settings: &ConnectSettings) -> Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::of(Db::Postgres(
                postgres::PgStore::connect(url, settings).await?,
            )))
        } else if url.starts_with("sqlite:") {
            Ok(Store::of(Db::Sqlite(
                sqlite::SqliteStore::connect(url, settings.sole_owner).await?,
            )))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    fn of(db: Db) -> Store {
        Store {
            db,
            metrics: None,
            search_window: SEARCH_WINDOW,
        }
    }

    /// The same store, timing every operation into `metrics`.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Store {
        self.metrics = Some(metrics);
        self
    }

    /// Filtered list pages look at no more than `rows` rows each (tests use a few).
    pub fn with_search_window(mut self, rows: i64) -> Store {
        self.search_window = rows.max(1);
        self
    }

    /// Connections of this process's database pools: (in use, idle).
    pub fn pool_connections(&self) -> (u32, u32) {
        match &self.db {
            Db::Postgres(s) => s.pool_connections(),
            Db::Sqlite(s) => s.pool_connections(),
        }
    }

    /// Whether this process is the only one on the database (SQLite under its file lock): every lease it
    /// does not hold itself was then left by a process that is gone.
    pub fn is_sole_owner(&self) -> bool {
        match &self.db {
            Db::Postgres(_) => false,
            Db::Sqlite(s) => s.is_sole_owner(),
        }
    }

    /// Whether Postgres statements run in transaction-pooler mode: configured, or found at start because
    /// the URL leads to a pooler in transaction mode. Always false on SQLite.
    pub fn transaction_pooler(&self) -> bool {
        match &self.db {
            Db::Postgres(s) => s.transaction_pooler(),
            Db::Sqlite(_) => false,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match &self.db {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Postgres(s) => s.close().await,
            Db::Sqlite(s) => s.close().await,
        }
    }
}

/// The `last_message_ids` column of a fired schedule: its messages' ids, comma-separated.
fn message_ids_column(fire: &Fire) -> String {
    fire.messages
        .iter()
        .map(|m| m.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// (id, state) pairs as `message_states` reads them.
fn decode_states(rows: Vec<(String, String)>) -> Result<Vec<(String, crate::domain::state::MessageState)>> {
    rows.into_iter()
        .map(|(id, state)| match crate::domain::state::MessageState::parse(&state) {
            Some(parsed) => Ok((id, parsed)),
            None => Err(StoreError::Corrupt {
                table: "messages",
                id,
                column: "state",
                reason: format!("unknown state {state:?}"),
            }),
        })
        .collect()
}

/// Reads the state `message_cancel` returned for a message it changed.
fn cancel_result(new_state: &str) -> CancelResult {
    if new_state == "in_progress" {
        CancelResult::CancelRequested
    } else {
        CancelResult::Canceled
    }
}

/// Why `message_cancel` changed nothing, from the message's current state (`None`: there is no such message).
fn not_cancelable(id: &str, state: Option<&str>) -> Result<CancelResult> {
    let Some(state) = state else {
        return Ok(CancelResult::NotFound);
    };
    match crate::domain::state::MessageState::parse(state) {
        Some(state) => Ok(CancelResult::AlreadyFinished(state)),
        None => Err(StoreError::Corrupt {
            table: "messages",
            id: id.to_string(),
            column: "state",
            reason: format!("unknown state {state:?}"),
        }),
    }
}

/// Why `message_run_now` changed nothing, from the message's current state and queue.
fn not_runnable(found: Option<(String, Option<String>)>) -> RunNowResult {
    use crate::domain::state::MessageState;
    let Some((state, queue)) = found else {
        return RunNowResult::NotFound;
    };
    match (MessageState::parse(&state), queue) {
        (Some(MessageState::InProgress), _) => RunNowResult::InFlight,
        (Some(MessageState::Pending), Some(queue)) => RunNowResult::Queued(queue),
        (Some(state), _) => RunNowResult::Finished(state),
        (None, _) => RunNowResult::NotFound,
    }
}

/// Lists, a page at a time. A filtered page first finds the end of its search window, then reads the rows
/// that match within it; the next cursor is the last row's id when the page is full, else the window's end
/// when rows remain beyond it.
impl Store {
    pub async fn message_page(&self, page: &MessagePage) -> Result<Listed<Message, String>> {
        let window = ListWindow::Messages {
            after: page.cursor.as_deref(),
            order: page.order,
        };
        let searched = page.filter.is_searched(!page.states.is_empty());
        let read = |until, count| async move {
            self.message_list(&MessagePage {
                until,
                count,
                ..page.clone()
            })
            .await
        };
        self.page(searched.then_some(window), page.count, Ok, read, |m| m.id.to_string())
            .await
    }

    pub async fn dlq_page(&self, page: &DlqPage) -> Result<Listed<DlqEntry, String>> {
        let window = ListWindow::Dlq {
            after: page.cursor.as_deref(),
            order: page.order,
        };
        let searched = page.filter.is_searched(false);
        let read = |until, count| async move {
            self.dlq_list(&DlqPage {
                until,
                count,
                ..page.clone()
            })
            .await
        };
        self.page(searched.then_some(window), page.count, Ok, read, |e| {
            e.dead_letter.dlq_id.to_string()
        })
        .await
    }

    pub async fn event_page(&self, page: &EventPage) -> Result<Listed<LogEntry, i64>> {
        let window = ListWindow::Events {
            after: page.cursor,
            order: page.order,
        };
        let searched = page.filter.is_searched(!page.states.is_empty());
        let event_id = |end: String| {
            end.parse::<i64>().map_err(|_| StoreError::Corrupt {
                table: "message_events",
                id: end.clone(),
                column: "id",
                reason: "not an integer".into(),
            })
        };
        let read = |until, count| async move {
            self.event_list(&EventPage {
                until,
                count,
                ..page.clone()
            })
            .await
        };
        self.page(searched.then_some(window), page.count, event_id, read, |e| e.id)
            .await
    }

    /// The page of `count` rows that `read(until, count + 1)` returns, where `until` is the end of `window`
    /// (as `cursor_of` reads it) for a page that searches, none for one that does not.
    async fn page<T, C: Clone, Rows>(
        &self,
        window: Option<ListWindow<'_>>,
        count: i64,
        cursor_of: impl Fn(String) -> Result<C>,
        read: impl FnOnce(Option<C>, i64) -> Rows,
        id: impl Fn(&T) -> C,
    ) -> Result<Listed<T, C>>
    where
        Rows: std::future::Future<Output = Result<Vec<T>>>,
    {
        let until = match window {
            Some(window) => self.list_window_end(&window, self.search_window).await?,
            None => None,
        };
        let until = until.map(cursor_of).transpose()?;
        let rows = read(until.clone(), count + 1).await?;
        Ok(listed(rows, count, until, id))
    }
}

/// `rows` read with a limit of `count + 1`, as a page of at most `count` and the next cursor.
fn listed<T, C>(mut rows: Vec<T>, count: i64, window_end: Option<C>, id: impl Fn(&T) -> C) -> Listed<T, C> {
    let full = rows.len() as i64 > count;
    rows.truncate(count.max(0) as usize);
    let next = match full {
        true => rows.last().map(id),
        false => window_end,
    };
    Listed { rows, next }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn connection_failures_are_unavailable_and_refused_statements_are_not() {
        let unavailable = |e: sqlx::Error| StoreError::Database(e).is_unavailable();
        assert!(unavailable(sqlx::Error::PoolTimedOut));
        assert!(unavailable(sqlx::Error::PoolClosed));
        assert!(unavailable(sqlx::Error::Io(
            std::io::ErrorKind::ConnectionRefused.into()
        )));
        assert!(!unavailable(sqlx::Error::RowNotFound));
        assert!(!unavailable(sqlx::Error::Protocol("bad".into())));
        assert!(!StoreError::UnsupportedUrl.is_unavailable());
    }
}
