//! Workflow steps on their way out: a step's body is the run's history up to itself, read just before
//! its delivery (histories are append-only, so what a delivery reads is what it would have read at
//! publish), and the callbacks an attempt makes stay linked to the run.

use crate::domain::message::NewMessage;
use crate::domain::workflow::history;
pub use crate::domain::workflow::{answered_by_workflow, NON_WORKFLOW_DESTINATION};
use crate::domain::workflow::{Role, WorkflowLink};
use crate::store::{Message, Store};

/// The message with its delivery body: for a step, the run's history up to and including it, and the
/// initial payload kept for its failure callback; any other message as it is.
pub async fn with_history(store: &Store, message: &Message) -> crate::store::Result<Option<Message>> {
    let Some(link) = message.workflow.as_ref().filter(|link| link.delivers_history()) else {
        return Ok(None);
    };
    let entries = store.workflow_history(&link.run_id, link.seq).await?;
    let mut composed = message.clone();
    composed.body = history::to_json(&entries);
    if let Some(link) = &mut composed.workflow {
        link.initial_body = entries.into_iter().next().map(|first| first.body);
    }
    Ok(Some(composed))
}

/// A callback of a run's message, linked to the run: the failure callback of a step (stored only by the
/// completion that fails the run), the callbacks of a call. Others stay as they are.
pub fn linked(mut callback: NewMessage, source: &Message, role: Role) -> NewMessage {
    let Some(link) = &source.workflow else {
        return callback;
    };
    let applies = match role {
        Role::FailureCallback => link.role == Role::Step,
        Role::CallCallback => link.role == Role::Call,
        Role::Step | Role::Call => false,
    };
    if applies {
        callback.workflow = Some(WorkflowLink {
            run_id: link.run_id.clone(),
            role,
            seq: None,
            run_created_at: link.run_created_at,
            detect_trigger: false,
            initial_body: None,
        });
    }
    callback
}
