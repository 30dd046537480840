//! SQLite: workflow runs (the statements and operations are shared, in `shared::workflows`).

use super::*;

impl WorkflowStore for SqliteStore {
    shared::workflow_store!();
}

shared::append_history_fn!(sqlx::SqliteConnection);
