//! Async bulk actions (issue 23): their history, newest first, with each one's progress; the list refreshes
//! itself while any action is in progress.

use axum::extract::{Query, State};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::client;
use super::layout::{self, page, Refusal};
use super::Session;
use crate::state::AppState;
use crate::wire;

/// Seconds between refreshes while an action is in progress.
const REFRESH_SECS: u32 = 2;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    /// Only the table (the script's refresh, `?live=1`).
    #[serde(default)]
    live: Option<String>,
}

pub(super) async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<ListQuery>,
) -> Result<Markup, Refusal> {
    let listed: wire::BulkActionPage = client::get_as(&app, "/v2/bulkActions?count=100").await?;
    let running = listed.actions.iter().any(|a| a.state == wire::BulkState::InProgress);
    let table = table(&listed.actions);
    if q.live.is_some() {
        return Ok(table);
    }
    let body = html! {
        h1 { "Bulk actions" }
        p.muted { "Async bulk cancels (“Cancel all matching”, or the API with async: true), newest first; finished ones are kept for the bulk-action retention." }
        @if running {
            div #live data-refresh="/console/bulk-actions?live=1" data-every=(REFRESH_SECS) { (table) }
        } @else {
            div #live { (table) }
        }
    };
    Ok(page(&session, "Bulk actions", "/console/bulk-actions", body))
}

fn table(actions: &[wire::BulkAction]) -> Markup {
    if actions.is_empty() {
        return layout::empty(
            "No bulk actions.",
            html! { "Cancel all matching messages from " a href="/console/messages" { "Messages" } " to start one." },
        );
    }
    html! {
        div.scroll { table {
            thead { tr { th { "Action" } th { "Kind" } th { "State" } th { "Progress" } th { "Filter" } th { "Created" } th { "Completed" } } }
            tbody { @for a in actions {
                tr id={"action-" (a.action_id)} {
                    td.mono { (a.action_id) }
                    td { (name(&a.kind)) }
                    td { (layout::state(&name(&a.state))) }
                    td { (progress(a)) }
                    td.mono { (filter(&a.filter)) }
                    td { (layout::time(a.created_at)) }
                    td { @if let Some(at) = a.completed_at { (layout::time(at)) } @else { "—" } }
                }
            } }
        } }
    }
}

/// "processed / total", the total "counting…" until the worker has counted it.
fn progress(a: &wire::BulkAction) -> String {
    match a.total {
        Some(total) => format!("{} / {}", layout::grouped(a.processed), layout::grouped(total)),
        None => format!("{} / counting…", layout::grouped(a.processed)),
    }
}

/// The wire spelling of a unit enum (`CANCEL`, `IN_PROGRESS`).
fn name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "?".to_string(),
    }
}

/// The filter by its query keys ("every message" when it has none).
fn filter(filter: &wire::BulkFilter) -> String {
    let Ok(serde_json::Value::Object(keys)) = serde_json::to_value(filter) else {
        return "every message".to_string();
    };
    if keys.is_empty() {
        return "every message".to_string();
    }
    keys.iter()
        .map(|(key, value)| match value {
            serde_json::Value::Array(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect();
                format!("{key}={}", items.join(","))
            }
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
