//! The workflow DLQ's failure-callback retry (`client.dlq.retryFailureFunction`): a failed run's failure
//! function or failure URL is sent again, as the final failure sent it (the failed step's answer, its DLQ
//! id, the run's initial payload), for when the callback itself failed or its handler has been fixed.

use axum::extract::{Path, State};
use axum::Json;

use super::super::error::ApiError;
use crate::domain::workflow::{Role, RunState};
use crate::state::AppState;
use crate::wire::Triggered;
use crate::worker::deliver::failure_callback;

pub async fn retry_callback(
    State(app): State<AppState>,
    Path(dlq_id): Path<String>,
) -> Result<Json<Triggered>, ApiError> {
    let entry = app
        .store
        .dlq_get(&dlq_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("DLQ entry {dlq_id:?} not found")))?;
    let link = entry
        .message
        .workflow
        .as_ref()
        .filter(|link| link.role == Role::Step)
        .ok_or_else(|| ApiError::NotFound(format!("DLQ entry {dlq_id:?} is not a workflow step's")))?;
    let run = app.store.workflow_run_get(&link.run_id).await?.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "the run of DLQ entry {dlq_id} ({}) is no longer kept (--workflow-retention)",
            link.run_id
        ))
    })?;
    if run.state != RunState::Failed {
        return Err(ApiError::BadRequest(format!(
            "run {} is {}, not failed: only a failed run's failure callback is sent again",
            run.run_id,
            run.state.as_str()
        )));
    }
    let mut source = entry.message.clone();
    let first = app.store.workflow_history(&run.run_id, Some(0)).await?;
    if let Some(link) = &mut source.workflow {
        link.initial_body = first.into_iter().next().map(|entry| entry.body);
    }
    let dead = &entry.dead_letter;
    let now = app.clock.now_ms();
    let callback = failure_callback(
        &source,
        dead.response_status,
        &dead.response_header,
        &dead.response_body,
        &dlq_id,
        now,
    )
    .ok_or_else(|| {
        ApiError::BadRequest(format!(
            "run {} has no failure function or failure URL to call",
            run.run_id
        ))
    })?;
    // The callback URL passed the destination policy when it was set; the policy may have changed since.
    super::super::destinations::check_url(&app, &callback.url)?;
    app.committer.insert(&app.store, vec![callback]).await?;
    app.metrics.accepted(crate::metrics::AcceptedKind::callback, 1);
    app.wake_dispatchers();
    Ok(Json(Triggered {
        workflow_run_id: run.run_id,
        workflow_created_at: run.created_at,
        deduplicated: false,
    }))
}
