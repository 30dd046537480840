//! `postdate bulk-actions ls | show` (issue 23): the history and progress of async bulk actions.

use clap::Subcommand;

use super::http::Client;
use super::messages::print_more;
use super::render::{absolute, now_ms, relative, relative_opt, show, wire_name, Details, Table};
use super::{segment, CliError, Server};
use crate::wire::{BulkAction, BulkActionPage, BulkFilter};

pub const EXAMPLES: &str = "\
Examples:
  postdate bulk-actions ls
  postdate bulk-actions show act_1a2b3c";

#[derive(Subcommand)]
pub enum BulkActionsCommand {
    /// Lists the bulk actions kept, newest first, with their progress.
    #[command(after_help = "Example:\n  postdate bulk-actions ls --count 20")]
    Ls {
        /// Actions per page (at most 1000).
        #[arg(long, default_value_t = 100)]
        count: u32,
        /// The page after this cursor (printed at the end of the previous page).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Shows one bulk action: its state, progress and filter.
    #[command(after_help = "Example:\n  postdate bulk-actions show act_1a2b3c")]
    Show {
        /// The action's id (`messages cancel --async` prints it).
        id: String,
    },
}

pub async fn run(command: BulkActionsCommand, server: &Server) -> Result<(), CliError> {
    let client = Client::new(server)?;
    match command {
        BulkActionsCommand::Ls { count, cursor } => {
            let mut query = vec![("count".to_string(), count.to_string())];
            query.extend(cursor.map(|cursor| ("cursor".to_string(), cursor)));
            let page: BulkActionPage = client.get("/v2/bulkActions").query(&query).send().await?;
            show(server.json, &page, |page| {
                print_more(page.cursor.as_deref());
                table(&page.actions, now_ms()).or("no bulk actions")
            });
        }
        BulkActionsCommand::Show { id } => {
            let action: BulkAction = client.get(&format!("/v2/bulkActions/{}", segment(&id))).send().await?;
            show(server.json, &action, |action| details(action, now_ms()));
        }
    }
    Ok(())
}

/// "processed/total"; "?" for a total not counted yet.
fn progress(action: &BulkAction) -> String {
    match action.total {
        Some(total) => format!("{}/{total}", action.processed),
        None => format!("{}/?", action.processed),
    }
}

fn table(actions: &[BulkAction], now: i64) -> Table {
    let mut table = Table::new(&["ID", "KIND", "STATE", "PROGRESS", "FILTER", "CREATED", "COMPLETED"]);
    for action in actions {
        table.row(vec![
            action.action_id.clone(),
            wire_name(&action.kind),
            wire_name(&action.state),
            progress(action),
            filter_text(&action.filter),
            relative(action.created_at, now),
            relative_opt(action.completed_at, now),
        ]);
    }
    table
}

fn details(action: &BulkAction, now: i64) -> String {
    Details::new()
        .line("id", action.action_id.clone())
        .line("kind", wire_name(&action.kind))
        .line("state", wire_name(&action.state))
        .line("progress", progress(action))
        .line("filter", filter_text(&action.filter))
        .line("created", absolute(action.created_at, now))
        .opt("completed", action.completed_at.map(|at| absolute(at, now)))
        .render()
}

/// The filter as the query keys it was given with ("all" when it has none).
fn filter_text(filter: &BulkFilter) -> String {
    match serde_json::to_value(filter) {
        Ok(serde_json::Value::Object(keys)) if !keys.is_empty() => keys
            .iter()
            .map(|(key, value)| match value {
                serde_json::Value::Array(items) => {
                    let items: Vec<String> = items.iter().map(plain).collect();
                    format!("{key}={}", items.join(","))
                }
                other => format!("{key}={}", plain(other)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => "all".to_string(),
    }
}

fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
