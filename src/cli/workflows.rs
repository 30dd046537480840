//! `postdate workflows ls | show | cancel` (issue 19): Upstash Workflow runs, their steps, and cancels.

use clap::Subcommand;

use super::http::Client;
use super::messages::print_more;
use super::render::{absolute, clip, now_ms, relative, relative_opt, show, Details, Table};
use super::{segment, CliError, Server};
use crate::wire::{RunEnded, RunsCanceled, WorkflowRunLog, WorkflowRunLogs};

pub const EXAMPLES: &str = "\
Examples:
  postdate workflows ls --state RUN_FAILED
  postdate workflows show wfr_1a2b3c
  postdate workflows cancel wfr_1a2b3c
  postdate workflows cancel --label nightly";

#[derive(Subcommand)]
pub enum WorkflowsCommand {
    /// Lists runs, newest first, with their state and how many steps finished.
    #[command(after_help = "Example:\n  postdate workflows ls --state RUN_STARTED --url https://app.example/api/flow")]
    Ls {
        /// RUN_STARTED, RUN_SUCCESS, RUN_FAILED or RUN_CANCELED.
        #[arg(long)]
        state: Option<String>,
        /// Runs whose workflow URL starts with this.
        #[arg(long)]
        url: Option<String>,
        /// Runs with this label.
        #[arg(long)]
        label: Option<String>,
        /// Runs created at or after this time (Unix ms).
        #[arg(long)]
        from: Option<i64>,
        /// Runs created at or before this time (Unix ms).
        #[arg(long)]
        to: Option<i64>,
        /// Runs per page (at most 100).
        #[arg(long, default_value_t = 20)]
        count: u32,
        /// The page after this cursor (printed at the end of the previous page).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Shows one run: its state, result, and each step with its output or errors, in order.
    #[command(after_help = "Example:\n  postdate workflows show wfr_1a2b3c")]
    Show {
        /// The run id (`wfr_…`).
        id: String,
    },
    /// Cancels one run by id, or every started run matching `--url`/`--label` (`--all`: every one).
    #[command(
        after_help = "Examples:\n  postdate workflows cancel wfr_1a2b3c\n  postdate workflows cancel --label nightly"
    )]
    Cancel {
        /// The run id (`wfr_…`).
        id: Option<String>,
        /// Cancel started runs whose workflow URL starts with this.
        #[arg(long, conflicts_with = "id")]
        url: Option<String>,
        /// Cancel started runs with this label.
        #[arg(long, conflicts_with = "id")]
        label: Option<String>,
        /// Cancel every started run (up to 10,000 per call).
        #[arg(long, conflicts_with_all = ["id", "url", "label"])]
        all: bool,
    },
}

pub async fn run(command: WorkflowsCommand, server: &Server) -> Result<(), CliError> {
    let client = Client::new(server)?;
    match command {
        WorkflowsCommand::Ls {
            state,
            url,
            label,
            from,
            to,
            count,
            cursor,
        } => {
            let mut query = vec![("count".to_string(), count.to_string())];
            let optional = [
                ("state", state),
                ("workflowUrl", url),
                ("label", label),
                ("fromDate", from.map(|v| v.to_string())),
                ("toDate", to.map(|v| v.to_string())),
                ("cursor", cursor),
            ];
            query.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))));
            let page: WorkflowRunLogs = client.get("/v2/workflows/logs").query(&query).send().await?;
            show(server.json, &page, |page| {
                print_more(page.cursor.as_deref());
                table(&page.runs, now_ms()).or("no workflow runs")
            });
        }
        WorkflowsCommand::Show { id } => {
            let query = [("workflowRunId".to_string(), id.clone())];
            let page: WorkflowRunLogs = client.get("/v2/workflows/logs").query(&query).send().await?;
            let run = page.runs.into_iter().next().ok_or_else(|| CliError::Api {
                status: 404,
                message: format!("no workflow run {id}"),
            })?;
            show(server.json, &run, |run| details(run, now_ms()));
        }
        WorkflowsCommand::Cancel { id, url, label, all } => match id {
            Some(id) => {
                let path = format!("/v2/workflows/runs/{}?cancel=true", segment(&id));
                let ended: RunEnded = client.delete(&path).send().await?;
                show(server.json, &ended, |ended| match &ended.workflow_state {
                    Some(state) => format!("{}: {state}", ended.workflow_run_id),
                    None => format!("no workflow run {}", ended.workflow_run_id),
                });
            }
            None => {
                if url.is_none() && label.is_none() && !all {
                    return Err(CliError::Usage(
                        "name a run, or --url or --label, or --all to cancel every started run".into(),
                    ));
                }
                let mut query = vec![("count".to_string(), "10000".to_string())];
                query.extend(url.map(|u| ("workflowUrl".to_string(), u)));
                query.extend(label.map(|l| ("label".to_string(), l)));
                let canceled: RunsCanceled = client.delete("/v2/workflows/runs").query(&query).send().await?;
                show(server.json, &canceled, |c| format!("{} runs canceled", c.cancelled));
            }
        },
    }
    Ok(())
}

/// How many steps finished (the groups other than `next`).
fn finished(run: &WorkflowRunLog) -> usize {
    run.steps
        .iter()
        .filter(|g| g.kind != "next")
        .map(|g| g.steps.len())
        .sum()
}

fn table(runs: &[WorkflowRunLog], now: i64) -> Table {
    let mut table = Table::new(&["ID", "STATE", "STEPS", "URL", "CREATED", "COMPLETED"]);
    for run in runs {
        table.row(vec![
            run.workflow_run_id.clone(),
            run.workflow_state.clone(),
            finished(run).to_string(),
            clip(&run.workflow_url, 60),
            relative(run.workflow_run_created_at, now),
            relative_opt(run.workflow_run_completed_at, now),
        ]);
    }
    table
}

fn details(run: &WorkflowRunLog, now: i64) -> String {
    let mut out = Details::new()
        .line("id", run.workflow_run_id.clone())
        .line("state", run.workflow_state.clone())
        .line("url", run.workflow_url.clone())
        .line("created", absolute(run.workflow_run_created_at, now))
        .opt("completed", run.workflow_run_completed_at.map(|at| absolute(at, now)))
        .opt("labels", (!run.labels.is_empty()).then(|| run.labels.join(",")))
        .opt("invoker", run.invoker.as_ref().map(|i| i.workflow_run_id.clone()))
        .opt("result", run.workflow_run_response.as_ref().map(|r| clip(r, 200)))
        .render();
    let mut steps = Table::new(&["GROUP", "STEP", "TYPE", "STATE", "OUTPUT / ERRORS"]);
    for group in &run.steps {
        for step in &group.steps {
            let text = |key: &str| step.get(key).map(plain).unwrap_or_default();
            let detail = match step.get("errors").and_then(|e| e.as_array()) {
                Some(errors) => errors
                    .iter()
                    .map(|e| format!("{} {}", plain(&e["status"]), plain(&e["error"])))
                    .collect::<Vec<_>>()
                    .join("; "),
                None => text("out"),
            };
            steps.row(vec![
                group.kind.clone(),
                text("stepName"),
                text("stepType"),
                text("state"),
                clip(&detail, 80),
            ]);
        }
    }
    out.push('\n');
    out.push_str(&steps.or("no steps yet"));
    out
}

fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
