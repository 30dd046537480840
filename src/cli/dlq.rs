//! `postdate dlq ls | show | retry | rm`: the dead-letter queue (spec §9).

use clap::{Args, Subcommand};

use super::filters::{Filters, Paging, Query};
use super::http::Client;
use super::messages::{details, print_more};
use super::render::{clip, header_lines, now_ms, relative, show, Details, Table};
use super::{segment, CliError, Server};
use crate::wire::{BulkBody, Deleted, DlqMessage, DlqPage, Retried};

pub const EXAMPLES: &str = "\
Examples:
  postdate dlq ls
  postdate dlq ls --response-status 500 --url https://example.com/hook
  postdate dlq show 1767225999001-0
  postdate dlq retry 1767225999001-0 1767225999002-0
  postdate dlq retry --all --label billing
  postdate dlq rm 1767225999001-0";

/// The API's largest DLQ page, and the most ids one retry or delete request names.
const PAGE: usize = 100;

#[derive(Subcommand)]
pub enum DlqCommand {
    /// Lists DLQ entries, oldest first.
    #[command(after_help = "Example:\n  postdate dlq ls --response-status 500 --from 2h")]
    Ls(ListArgs),
    /// Shows one entry: the message and the last response it got.
    #[command(after_help = "Example:\n  postdate dlq show 1767225999001-0")]
    Show {
        /// The DLQ id.
        id: String,
    },
    /// Publishes entries again as new messages (they leave the DLQ); by id, or --all matching filters.
    #[command(
        after_help = "Examples:\n  postdate dlq retry 1767225999001-0\n  postdate dlq retry --all --response-status 503"
    )]
    Retry(RetryArgs),
    /// Starts failed workflow runs again from their failed step, as new runs (the finished steps are not run
    /// again; the entries leave the DLQ).
    #[command(after_help = "Example:\n  postdate dlq resume 1767225999001-0 --retries 5")]
    Resume(RerunArgs),
    /// Starts failed workflow runs again from the start, as new runs with the same initial payload.
    #[command(after_help = "Example:\n  postdate dlq restart 1767225999001-0")]
    Restart(RerunArgs),
    /// Removes entries for good.
    #[command(after_help = "Example:\n  postdate dlq rm 1767225999001-0 1767225999002-0")]
    Rm {
        /// DLQ ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// The workflow DLQ entries to start again, and the retries of the new runs.
#[derive(Args)]
pub struct RerunArgs {
    /// DLQ ids of failed workflow steps.
    #[arg(required = true)]
    ids: Vec<String>,
    /// Retries of every step of the new runs (default: the failed run's).
    #[arg(long)]
    retries: Option<u32>,
}

/// Filters of the DLQ: those of messages, plus the last response's status and the message id.
#[derive(Args)]
pub struct DlqFilters {
    #[command(flatten)]
    filters: Filters,
    /// Only entries whose last response had this HTTP status (repeatable; 0: no response).
    #[arg(long, value_name = "STATUS")]
    response_status: Vec<u16>,
    /// Only the entry of this message.
    #[arg(long, value_name = "ID")]
    message_id: Option<String>,
}

impl DlqFilters {
    fn query(&self) -> Query {
        let mut query = Query::default();
        let statuses: Vec<String> = self.response_status.iter().map(u16::to_string).collect();
        query
            .filters(&self.filters)
            .add_all("responseStatus", &statuses)
            .add_opt("messageId", self.message_id.as_ref());
        query
    }
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    filters: DlqFilters,
    #[command(flatten)]
    paging: Paging,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("selection").required(true).args(["ids", "all"])))]
pub struct RetryArgs {
    /// DLQ ids of the entries to retry.
    #[arg(conflicts_with = "all")]
    ids: Vec<String>,
    /// Retry every entry, or every one matching the filters given with it (those there when it starts).
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    filters: DlqFilters,
}

pub async fn run(command: DlqCommand, server: &Server) -> Result<(), CliError> {
    let client = Client::new(server)?;
    match command {
        DlqCommand::Ls(args) => {
            let mut query = args.filters.query();
            query.paging(&args.paging);
            let page: DlqPage = client.get("/v2/dlq").query(&query.pairs).send().await?;
            show(server.json, &page, |page| {
                print_more(page.cursor.as_deref());
                table(&page.messages, now_ms()).or("the DLQ is empty")
            });
            Ok(())
        }
        DlqCommand::Show { id } => {
            let entry: DlqMessage = client.get(&format!("/v2/dlq/{}", segment(&id))).send().await?;
            show(server.json, &entry, |entry| entry_details(entry, now_ms()));
            Ok(())
        }
        DlqCommand::Retry(args) => retry(&client, args, server.json).await,
        DlqCommand::Resume(args) => rerun(&client, "resume", args, server.json).await,
        DlqCommand::Restart(args) => rerun(&client, "restart", args, server.json).await,
        DlqCommand::Rm { ids } => {
            let deleted: Deleted = match ids.as_slice() {
                [id] => client.delete(&format!("/v2/dlq/{}", segment(id))).send().await?,
                ids => client.delete("/v2/dlq").json(&BulkBody::dlq_ids(ids)).send().await?,
            };
            show(server.json, &deleted, |d| {
                format!("removed {} DLQ entr{}\n", d.deleted, plural_y(d.deleted))
            });
            Ok(())
        }
    }
}

fn plural_y(n: u64) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}

fn table(entries: &[DlqMessage], now: i64) -> Table {
    let mut table = Table::new(&["DLQ ID", "MESSAGE ID", "URL", "STATUS", "RETRIED", "CREATED"]);
    for entry in entries {
        let m = &entry.message;
        let status = match (entry.response_status, &entry.error) {
            (0, Some(error)) => clip(error, 40),
            (status, _) => status.to_string(),
        };
        table.row(vec![
            entry.dlq_id.clone(),
            m.message_id.clone(),
            m.url.clone(),
            status,
            format!("{}/{}", m.retried, m.max_retries),
            relative(m.created_at, now),
        ]);
    }
    table
}

/// The message's details, then the last response.
fn entry_details(entry: &DlqMessage, now: i64) -> String {
    let mut d = Details::new();
    d.line("dlq id", entry.dlq_id.clone())
        .line("response status", entry.response_status.to_string())
        .opt("error", entry.error.clone())
        .opt(
            "response header",
            (!entry.response_header.is_empty()).then(|| header_lines(&entry.response_header)),
        )
        .opt("response body", entry.response_body.as_deref().map(|b| clip(b, 500)))
        .opt(
            "response (base64)",
            entry.response_body_base64.as_deref().map(|b| clip(b, 500)),
        );
    format!("{}{}", d.render(), details(&entry.message, now))
}

async fn retry(client: &Client, args: RetryArgs, json: bool) -> Result<(), CliError> {
    let filters = args.filters.query();
    if !args.ids.is_empty() && !filters.is_empty() {
        return Err(CliError::Usage("give DLQ ids or --all with filters, not both".into()));
    }
    let ids = match args.all {
        true => matching_ids(client, &filters).await?,
        false => args.ids,
    };
    let mut retried = Retried {
        responses: Vec::new(),
        cursor: None,
    };
    // By id, in pages of the ids found first: an entry that fails again gets a new DLQ id and is not
    // retried twice by the same command.
    for chunk in ids.chunks(PAGE) {
        let body = BulkBody::dlq_ids(chunk);
        let answer: Retried = client.post("/v2/dlq/retry").json(&body).send().await?;
        retried.responses.extend(answer.responses);
    }
    show(json, &retried, |retried| {
        let count = retried.responses.len();
        let ids = retried.responses.iter().map(|m| format!("{}\n", m.message_id));
        format!("retried {count} DLQ entr{} as new messages\n", plural_y(count as u64)) + &ids.collect::<String>()
    });
    Ok(())
}

/// The ids of every entry matching `filters` now, page by page.
async fn matching_ids(client: &Client, filters: &Query) -> Result<Vec<String>, CliError> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = Query {
            pairs: filters.pairs.clone(),
        };
        query.add("count", PAGE).add_opt("cursor", cursor.as_ref());
        let page: DlqPage = client.get("/v2/dlq").query(&query.pairs).send().await?;
        ids.extend(page.messages.into_iter().map(|entry| entry.dlq_id));
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(ids),
        }
    }
}

/// `dlq resume | restart`: the new runs, one line each.
async fn rerun(client: &Client, how: &str, args: RerunArgs, json: bool) -> Result<(), CliError> {
    let query: Vec<(String, String)> = args.ids.iter().map(|id| ("dlqIds".to_string(), id.clone())).collect();
    let mut call = client.post(&format!("/v2/workflows/dlq/{how}")).query(&query);
    if let Some(retries) = args.retries {
        call = call.header("Upstash-Retries", &retries.to_string());
    }
    let runs: crate::wire::RerunRuns = call.send().await?;
    show(json, &runs, |runs| {
        runs.workflow_runs
            .iter()
            .map(|run| format!("started {}\n", run.workflow_run_id))
            .collect()
    });
    Ok(())
}
