//! Inputs of store operations (new rows, completions, filters, pages) and the URL-group model.

use super::read_model::DeadLetter;
use crate::domain::state::{LogState, MessageState};

/// The end of one attempt, written back with a guarded update (`id` and `attempt` must still match).
#[derive(Debug, Clone)]
pub struct Completion {
    pub id: crate::domain::ids::MessageId,
    pub attempt: i32,
    pub kind: CompletionKind,
    /// Whether the message is in a queue or under flow control (its end may let another one go).
    pub queued: bool,
    /// The attempt's HTTP status (0 without a response) and why it failed, for the log.
    pub status: i32,
    pub error: Option<String>,
    /// What the destination answered, for the ERROR log entry of a failed attempt (none without a response,
    /// and for deliveries and hand-backs, whose entries do not show it).
    pub response: Option<super::read_model::LoggedResponse>,
    /// Messages this attempt creates (callbacks), stored with the completion only if it applies.
    pub spawn: Vec<crate::domain::message::NewMessage>,
    /// The workflow run this attempt fails (the final failure of one of its steps): the completion that
    /// applies ends the run, and only then are its failure callbacks among `spawn` stored.
    pub fails_run: Option<String>,
}

#[derive(Debug, Clone)]
pub enum CompletionKind {
    Delivered,
    Retry {
        due_at: i64,
    },
    Failed(DeadLetter),
    /// The attempt was not made: this machine ran out of a resource (file descriptors, memory), the host was
    /// at its share of in-flight deliveries, or its circuit is open (the message waits for the probe). The
    /// message is due again at `due_at`, the attempt is not counted, and `error` says why in its log.
    HandBack {
        due_at: i64,
    },
}

/// Filters shared by bulk cancel and the DLQ (spec §4.3, §9.1): OR within a field, AND across fields. An
/// async bulk action keeps its filter as this JSON (the `filter` column of `bulk_actions`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    pub message_ids: Vec<String>,
    pub dlq_ids: Vec<String>,
    pub url: Vec<String>,
    pub host: Vec<String>,
    pub path: Vec<String>,
    pub topic_name: Vec<String>,
    pub queue_name: Vec<String>,
    pub schedule_id: Vec<String>,
    pub caller_ip: Vec<String>,
    pub label: Vec<String>,
    pub flow_control_key: Vec<String>,
    pub response_status: Vec<i32>,
    /// Messages of these workflow runs.
    pub workflow_run_id: Vec<String>,
    /// Only messages of workflow runs (`source=workflow`).
    pub workflow_only: bool,
    /// Inclusive bounds, Unix ms.
    pub from_date: Option<i64>,
    pub to_date: Option<i64>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether a list page with this filter (and `states`, if any are given) searches, and so looks at no
    /// more than a search window of rows. Rows named by id are found by the primary key, and a page
    /// without any filter is full at once: neither searches.
    pub fn is_searched(&self, states: bool) -> bool {
        let names_rows = !self.message_ids.is_empty() || !self.dlq_ids.is_empty();
        !names_rows && (states || !self.is_empty())
    }
}

/// How many rows past its cursor a filtered list page looks at, at most. Filters on a URL, host, label,
/// state or time are not indexed (an index per filter would slow every insert), so without this bound a
/// filter that matches little reads the whole table: 1,000,000 messages take about half a second. With it a
/// page costs the same whatever the filter, and may hold fewer rows than asked for, or none, while its
/// cursor says where the search goes on. With 1,000,000 messages, a page that searches 50,000 rows takes
/// 25–57 ms on SQLite and 41–55 ms on Postgres (BENCHMARKS.md, the console).
pub const SEARCH_WINDOW: i64 = 50_000;

/// One page of a list and the cursor of the next one, when more may follow.
#[derive(Debug, Clone)]
pub struct Listed<T, C> {
    pub rows: Vec<T>,
    pub next: Option<C>,
}

/// The search window of a list page: from after `after`, in `order`, [`SEARCH_WINDOW`] rows of the list's
/// table. `list_window_end` reads the id of its last row, or none when fewer rows remain.
#[derive(Debug, Clone, Copy)]
pub enum ListWindow<'a> {
    Messages { after: Option<&'a str>, order: Order },
    Dlq { after: Option<&'a str>, order: Order },
    Events { after: Option<i64>, order: Order },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    EarliestFirst,
    LatestFirst,
}

/// One page of DLQ entries: those matching `filter`, after `cursor` in `order`, at most `count`.
#[derive(Debug, Clone, Default)]
pub struct DlqPage {
    pub filter: Filter,
    pub cursor: Option<String>,
    /// The last id the page may reach (the end of its search window).
    pub until: Option<String>,
    pub order: Order,
    pub count: i64,
}

impl DlqPage {
    /// The page of exactly one entry (`dlq_get`).
    pub fn only(dlq_id: &str) -> DlqPage {
        DlqPage {
            filter: Filter {
                dlq_ids: vec![dlq_id.to_string()],
                ..Filter::default()
            },
            count: 1,
            ..DlqPage::default()
        }
    }
}

/// A page of `message_list`: messages matching the filter and any of `states`, by id (creation order) from
/// the cursor, the last id of the previous page.
#[derive(Debug, Clone, Default)]
pub struct MessagePage {
    pub filter: Filter,
    pub states: Vec<crate::domain::state::ShownState>,
    pub cursor: Option<String>,
    /// The last id the page may reach (the end of its search window).
    pub until: Option<String>,
    pub order: Order,
    pub count: i64,
}

/// What a cancel request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelResult {
    /// Pending: it will never be delivered.
    Canceled,
    /// In flight: it may still be delivered, but it will not be retried.
    CancelRequested,
    NotFound,
    AlreadyFinished(MessageState),
}

/// What a "run now" request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunNowResult {
    /// It was waiting or retrying and is due now.
    Due,
    NotFound,
    /// An attempt is under way.
    InFlight,
    /// It waits in this FIFO queue: running it out of turn would break the queue's order.
    Queued(String),
    Finished(MessageState),
}

/// One slot of one schedule to fire: move the schedule from `slot` to `next_fire_at` and store `messages`.
#[derive(Debug, Clone)]
pub struct Fire {
    pub schedule_id: crate::domain::ids::ScheduleId,
    pub slot: i64,
    pub next_fire_at: i64,
    pub messages: Vec<crate::domain::message::NewMessage>,
}

/// Who asks for the lease of a singleton loop: the loop's name and this instance's id.
#[derive(Debug, Clone)]
pub struct LeaderLease {
    pub name: &'static str,
    pub holder: String,
}

/// A subscription to the wake-ups other instances send (Postgres `LISTEN`); SQLite has one instance.
#[derive(Debug)]
pub enum PeerListener {
    Postgres(sqlx::postgres::PgListener),
}

/// A URL group and its endpoints, in the order they were added.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlGroup {
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub endpoints: Vec<Endpoint>,
    /// Default headers for every publish to the group (webhook-receiver mode); empty when none are set.
    pub headers: crate::domain::headers::HeaderMap,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Endpoint {
    pub group_name: String,
    pub url: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct UrlGroupRow {
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub headers: Option<String>,
}

/// Assembles groups from their rows and all their endpoints (ordered by group, then addition).
pub(crate) fn assemble_groups(groups: Vec<UrlGroupRow>, endpoints: Vec<Endpoint>) -> super::Result<Vec<UrlGroup>> {
    groups
        .into_iter()
        .map(|g| {
            let headers = match &g.headers {
                None => Default::default(),
                Some(json) => serde_json::from_str(json).map_err(|e| super::StoreError::Corrupt {
                    table: "url_groups",
                    id: g.name.clone(),
                    column: "headers",
                    reason: e.to_string(),
                })?,
            };
            Ok(UrlGroup {
                endpoints: endpoints.iter().filter(|e| e.group_name == g.name).cloned().collect(),
                name: g.name,
                created_at: g.created_at,
                updated_at: g.updated_at,
                headers,
            })
        })
        .collect()
}

/// One page of log entries: matching `filter` and one of `states` (any when empty), after `cursor` (an
/// entry id) in `order`, at most `count`.
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub filter: Filter,
    pub states: Vec<LogState>,
    pub cursor: Option<i64>,
    /// The last id the page may reach (the end of its search window).
    pub until: Option<i64>,
    pub order: Order,
    pub count: i64,
}

/// What a claim asks for: messages due at `now`, leased until `lease_until`, at most `limit`, none to the
/// hosts in `skip_hosts`. One value for the two claims a dispatcher makes in turn (`message_claim_due`, then
/// `message_claim_flow_controlled` with the room left) and for the per-key statements of the second.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub now: i64,
    pub lease_until: i64,
    pub limit: i64,
    pub skip_hosts: &'a [String],
    /// The claiming instance's id, kept with each lease (see [`Abandoned`]).
    pub holder: &'a str,
}

/// Leases `message_rescue_abandoned` takes back at once, whatever their `lease_until`: only the caller can
/// know that no live process still delivers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abandoned {
    /// Every lease: the caller is the only process on the database (SQLite, under its file lock), so every
    /// lease it does not hold itself was left by a process that is gone.
    All,
    /// The leases taken under this instance id: the caller is that instance, restarted (the operator
    /// promises that one process at a time runs under an id).
    HeldBy(String),
}

/// What a publish under a deduplication key leaves behind: the key, the publish's answer (given back to a
/// duplicate instead of storing its messages) and when the key stops counting.
#[derive(Debug, Clone, Copy)]
pub struct DedupEntry<'a> {
    pub key: &'a str,
    pub published: &'a str,
    pub expires_at: i64,
}

/// Which endpoints of a URL group to remove: those with one of `urls`, and those named one of `names`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointSelection {
    pub urls: Vec<String>,
    pub names: Vec<String>,
}

/// Messages an async bulk action cancels per statement: each chunk is one short transaction, after which
/// its progress is recorded.
pub const BULK_CHUNK: i64 = 1_000;

/// An async bulk cancel to store (`bulk_action_create`): its filter and, as its bound, the greatest message
/// id there is now, so that the worker later counts and cancels only messages stored before it (message ids
/// sort by creation time). Storing it reads no message but that one id: the answer does not wait on how
/// many match.
#[derive(Debug, Clone)]
pub struct NewBulkAction {
    pub id: crate::domain::ids::BulkActionId,
    pub filter: Filter,
    /// An explicit empty id list: the action selects no message whatever `filter` says (finished at once).
    pub selects_nothing: bool,
    pub now: i64,
    /// Selected messages per step ([`BULK_CHUNK`]; tests use a few).
    pub chunk: i64,
}

/// Who runs bulk actions, and until when its lease lasts: `holder` is the worker's id, `now` the time of
/// the step.
#[derive(Debug, Clone, Copy)]
pub struct BulkLease<'a> {
    pub holder: &'a str,
    pub now: i64,
    pub until: i64,
}

/// What one `bulk_action_step` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkStep {
    /// The first step: the selection is counted, `total` messages (none: the action is finished).
    Counted { total: i64 },
    /// One more chunk is done: `processed` messages of the selection are now, `cancelled` of them by
    /// this step (the others had ended, or been canceled, before it got to them). `finished` when it was
    /// the last chunk.
    Chunk {
        processed: i64,
        cancelled: u64,
        finished: bool,
    },
    /// The walk found no message left after the last chunk; the action is finished now.
    Finished,
    /// The lease is not this worker's any more (it lapsed and another worker took the action over), or
    /// the action moved on without it: nothing was changed.
    NotHeld,
}

/// What an async bulk action does. Only bulk cancel runs in the background today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkActionKind {
    Cancel,
}

impl BulkActionKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkActionKind::Cancel => "cancel",
        }
    }

    pub fn parse(text: &str) -> Option<BulkActionKind> {
        match text {
            "cancel" => Some(BulkActionKind::Cancel),
            _ => None,
        }
    }
}

/// Whether an async bulk action is still being worked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkActionState {
    InProgress,
    Finished,
}

impl BulkActionState {
    pub fn parse(text: &str) -> Option<BulkActionState> {
        match text {
            "in_progress" => Some(BulkActionState::InProgress),
            "finished" => Some(BulkActionState::Finished),
            _ => None,
        }
    }
}

/// A stored async bulk action and its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkAction {
    pub id: crate::domain::ids::BulkActionId,
    pub kind: BulkActionKind,
    pub state: BulkActionState,
    /// The filter as accepted (empty: every message).
    pub filter: Filter,
    /// The messages the action selects, counted by the worker's first step (`None` until then): those the
    /// filter matches, stored before the action was accepted (ids up to its cutoff) and not finished
    /// before the count (waiting, retrying, in flight, or asked to stop). Whether a message is selected
    /// cannot change afterwards, so the walk meets exactly these.
    pub total: Option<i64>,
    /// Of those, how many the action has dealt with: canceled (or asked to stop, when in flight), or found
    /// already ended, canceled or asked to stop when it got to them. `total` once finished.
    pub processed: i64,
    /// The last message id of the last chunk done: where the next chunk starts (after it).
    pub cursor: Option<crate::domain::ids::MessageId>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

/// What an append to a workflow run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Stored,
    /// Nothing stored: the run has ended (in this state) or does not exist (`None`).
    NotStarted(Option<crate::domain::workflow::RunState>),
}

/// What ending a workflow run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It was started and has ended now.
    Now,
    /// It had ended before, in this state.
    Already(crate::domain::workflow::RunState),
    Unknown,
}

/// Builds the step that resumes a wait (its body and destination from the waiter, its settings from the
/// run), inside the transaction that takes the waiter.
pub type Resume<'a> = dyn Fn(
        &crate::domain::workflow::Run,
        &crate::domain::workflow::wait::Waiter,
        &crate::domain::workflow::wait::Resolution,
    ) -> Option<crate::domain::message::NewMessage>
    + Send
    + Sync
    + 'a;

/// What a wait found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// The step waits for its event or its deadline.
    Waiting,
    /// A lookback notify had kept the event: the run goes on at once with this message (none if the step
    /// could not be built).
    Resumed(Option<String>),
    /// The run has ended (in this state) or does not exist.
    NotStarted(Option<crate::domain::workflow::RunState>),
    /// The run has as many waiting steps as it may.
    TooMany,
}

/// What a notify did.
#[derive(Debug, Clone, PartialEq)]
pub enum Notify {
    /// These waiters (with their run's creation time) resumed, each with the message of its step.
    Resumed(Vec<(crate::domain::workflow::wait::Waiter, i64, String)>),
    /// Nobody waited: the event is kept for the named run's next wait.
    Kept,
    /// The named run does not exist or has ended.
    UnknownRun,
}
