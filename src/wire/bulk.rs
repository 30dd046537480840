//! Async bulk actions (issue 23): the answer of an async bulk cancel, and the actions' history.

use crate::store::{BulkActionKind, BulkActionState, Filter};

/// The answer of a bulk cancel with `async: true`: the action runs in the background.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkActionAccepted {
    /// Follow it with `GET /v2/bulkActions/{actionId}`.
    pub action_id: String,
}

/// `IN_PROGRESS` until every selected message is dealt with, then `FINISHED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkState {
    InProgress,
    Finished,
}

/// What an action does: `CANCEL` (a bulk cancel of messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkKind {
    Cancel,
}

/// The filter an action was accepted with, by the names of the query keys; empty: every message.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topic_name: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue_name: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule_id: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caller_ip: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flow_control_key: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_date: Option<i64>,
}

impl BulkFilter {
    pub fn of(filter: &Filter) -> BulkFilter {
        BulkFilter {
            message_ids: filter.message_ids.clone(),
            url: filter.url.clone(),
            host: filter.host.clone(),
            path: filter.path.clone(),
            topic_name: filter.topic_name.clone(),
            queue_name: filter.queue_name.clone(),
            schedule_id: filter.schedule_id.clone(),
            caller_ip: filter.caller_ip.clone(),
            label: filter.label.clone(),
            flow_control_key: filter.flow_control_key.clone(),
            from_date: filter.from_date,
            to_date: filter.to_date,
        }
    }
}

/// An async bulk action and its progress, kept for `--bulk-action-retention` (7 days) after it finished.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkAction {
    pub action_id: String,
    pub kind: BulkKind,
    pub state: BulkState,
    /// The messages the action selects, counted exactly by the worker's first step: absent until then (the
    /// answer to `async: true` does not wait for the count). They are the messages the filter matched that
    /// were stored before the action was accepted and had not ended before the count (waiting, retrying,
    /// in flight, or already asked to stop); messages published later are never part of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Of those, how many the action has dealt with: canceled (asked to stop, when in flight), or found
    /// already delivered, failed, canceled or asked to stop when it got to them. Equal to `total` once
    /// finished.
    pub processed: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms; absent while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    pub filter: BulkFilter,
}

impl BulkAction {
    pub fn of(action: &crate::store::BulkAction) -> BulkAction {
        BulkAction {
            action_id: action.id.to_string(),
            kind: match action.kind {
                BulkActionKind::Cancel => BulkKind::Cancel,
            },
            state: match action.state {
                BulkActionState::InProgress => BulkState::InProgress,
                BulkActionState::Finished => BulkState::Finished,
            },
            total: action.total,
            processed: action.processed,
            created_at: action.created_at,
            completed_at: action.completed_at,
            filter: BulkFilter::of(&action.filter),
        }
    }
}

/// One page of actions, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct BulkActionPage {
    pub actions: Vec<BulkAction>,
    /// Pass it as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
