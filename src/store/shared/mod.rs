//! The Rust around a statement that is the same on both databases, written once. Many operations differ
//! between Postgres and SQLite only in their SQL text (`$1` against `?1`, `strpos` against `instr`, …) and in
//! the pool they run on; the binding, executing and decoding around that SQL is identical. Each macro here
//! expands those methods inside a backend's `impl XxxStore for …` block, next to the methods that do differ.
//!
//! Macros rather than generic functions over `sqlx::Database`: the bodies name each backend's own SQL
//! constants, row types and helpers, and a `macro_rules!` expansion resolves those at the call site (every
//! backend file has the same constant names, see the module comment of `store`), so each backend keeps its
//! SQL beside its other statements and the trait bounds of a generic executor never appear. What a method
//! runs on is named through two accessors each backend defines, which keep SQLite's split between its
//! writer and its reader pools (Postgres answers both with its one pool):
//!
//! - `self.reads()`: statements that only read;
//! - `self.writes()`: statements that write, and the few reads that must see the writer's latest commit;
//! - `self.begin_write()`: a transaction for writes (`BEGIN IMMEDIATE` on SQLite).
//!
//! Where a body would only bind each argument in order and report the rows changed, the method is one line
//! of `binds_in_order!`. The hot path (`message_claim_due`, `message_complete`, `message_insert`,
//! `message_extend_leases`) is not here: its statements differ in structure between the databases. SQL stays
//! in the backends, except where the text is the same on both: two selects, the schedule upsert (SQLite
//! reads `$1` as Postgres does) and the claim's queue rule.

mod bulk_actions;
pub(in crate::store) use bulk_actions::SELECTED_SINCE_SLACK;
mod dlq;
mod flow_control;
mod keys;
mod messages;
mod queues;
mod schedules;
mod stats;
mod url_groups;
pub(super) mod workflows;

pub(super) use bulk_actions::bulk_action_store;
pub(super) use dlq::dlq_store;
pub(super) use flow_control::{flow_control_store, FLOW_CONTROL_SELECT};
pub(super) use keys::key_store;
pub(super) use messages::{delivery_store, message_store, queue_turn_sql};
pub(super) use queues::{queue_store, QUEUE_SELECT};
pub(super) use schedules::{schedule_store, SCHEDULE_UPSERT};
pub(super) use stats::stats_store;
pub(super) use url_groups::url_group_store;
pub(super) use workflows::{append_history_fn, workflow_store};

/// Methods that bind their arguments, in order, to one statement on the writer, and answer what their
/// return type says of the rows it changed (see [`Changed`]).
macro_rules! binds_in_order {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty = $sql:ident;)*) => {
        $(
            async fn $name(&self, $($arg: $ty),*) -> Result<$out> {
                let done = sqlx::query($sql)$(.bind($arg))*.execute(self.writes()).await?;
                Ok($crate::store::shared::Changed::from_rows_affected(done.rows_affected()))
            }
        )*
    };
}

pub(super) use binds_in_order;

/// What a write answers of the rows it changed.
pub(super) trait Changed {
    fn from_rows_affected(rows: u64) -> Self;
}

/// Nothing: an upsert, whose row is there either way.
impl Changed for () {
    fn from_rows_affected(_: u64) -> Self {}
}

/// Whether it changed the one row its key names (a pause, a pin, a delete by name); `false` when there is
/// no such row.
impl Changed for bool {
    fn from_rows_affected(rows: u64) -> Self {
        rows == 1
    }
}

/// How many rows it changed (retention deletes a batch).
impl Changed for u64 {
    fn from_rows_affected(rows: u64) -> Self {
        rows
    }
}
