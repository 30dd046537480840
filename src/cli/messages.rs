//! `postdate messages ls | get | cancel`: `GET /v2/messages`, `GET /v2/messages/{id}`, and cancel one,
//! several or all (spec §4).

use clap::{Args, Subcommand};

use super::filters::{Filters, Paging, Query, UrlPartFilters};
use super::http::Client;
use super::render::{absolute, clip, header_lines, now_ms, relative, relative_opt, show, wire_name, Details, Table};
use super::{segment, CliError, Server};
use crate::wire::{BulkActionAccepted, BulkBody, Cancelled, Message, MessagePage};

pub const EXAMPLES: &str = "\
Examples:
  postdate messages ls
  postdate messages ls --state RETRY --label billing --count 20
  postdate messages get msg_26hZCxZCuWyyTWPmSVBrNC
  postdate messages cancel msg_26hZCxZCuWyyTWPmSVBrNC msg_26hZCxZCuWyyTWPmSVBrND
  postdate messages cancel --all --queue orders
  postdate messages cancel --all --label nightly --async
  postdate messages ls --json | jq -r '.messages[].messageId'";

#[derive(Subcommand)]
pub enum MessagesCommand {
    /// Lists messages, oldest first: waiting, in flight, and finished ones until retention removes them.
    #[command(after_help = "Example:\n  postdate messages ls --state CREATED --url https://example.com/hook")]
    Ls(ListArgs),
    /// Shows one message.
    #[command(after_help = "Example:\n  postdate messages get msg_26hZCxZCuWyyTWPmSVBrNC")]
    Get {
        /// The message id.
        id: String,
    },
    /// Cancels the named messages, or with --all every waiting message (that matches the filters).
    #[command(
        after_help = "Examples:\n  postdate messages cancel msg_1 msg_2\n  postdate messages cancel --all --label nightly"
    )]
    Cancel(CancelArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Only messages in this state: CREATED, RETRY, ACTIVE, CANCEL_REQUESTED, DELIVERED, FAILED, CANCELED
    /// (repeatable).
    #[arg(long)]
    state: Vec<String>,
    #[command(flatten)]
    filters: Filters,
    #[command(flatten)]
    url_parts: UrlPartFilters,
    #[command(flatten)]
    paging: Paging,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("selection").required(true).args(["ids", "all"])))]
pub struct CancelArgs {
    /// Ids of the messages to cancel.
    #[arg(conflicts_with = "all")]
    ids: Vec<String>,
    /// Cancel every waiting message, or every one matching the filters given with it.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    filters: Filters,
    #[command(flatten)]
    url_parts: UrlPartFilters,
    /// Answer at once with the id of a bulk action that cancels in the background (follow it with
    /// `GET /v2/bulkActions/{id}`).
    #[arg(long = "async")]
    run_async: bool,
}

pub async fn run(command: MessagesCommand, server: &Server) -> Result<(), CliError> {
    let client = Client::new(server)?;
    match command {
        MessagesCommand::Ls(args) => list(&client, args, server.json).await,
        MessagesCommand::Get { id } => {
            let message: Message = client.get(&format!("/v2/messages/{}", segment(&id))).send().await?;
            show(server.json, &message, |m| details(m, now_ms()));
            Ok(())
        }
        MessagesCommand::Cancel(args) => cancel(&client, args, server.json).await,
    }
}

async fn list(client: &Client, args: ListArgs, json: bool) -> Result<(), CliError> {
    let mut query = Query::default();
    query
        .add_all("state", &args.state)
        .filters(&args.filters)
        .url_parts(&args.url_parts)
        .paging(&args.paging);
    let page: MessagePage = client.get("/v2/messages").query(&query.pairs).send().await?;
    show(json, &page, |page| {
        print_more(page.cursor.as_deref());
        table(&page.messages, now_ms()).or("no messages")
    });
    Ok(())
}

fn table(messages: &[Message], now: i64) -> Table {
    let mut table = Table::new(&["ID", "STATE", "URL", "DUE", "RETRIED", "CREATED"]);
    for m in messages {
        table.row(vec![
            m.message_id.clone(),
            wire_name(&m.state),
            m.url.clone(),
            relative_opt(m.next_delivery_time, now),
            format!("{}/{}", m.retried, m.max_retries),
            relative(m.created_at, now),
        ]);
    }
    table
}

/// Tells how to get the next page, on stderr so that the table stays clean for pipes.
pub fn print_more(cursor: Option<&str>) {
    if let Some(cursor) = cursor {
        eprintln!("more: add --cursor {cursor}");
    }
}

/// The message field by field, times in UTC and relative to now.
pub fn details(m: &Message, now: i64) -> String {
    let mut d = Details::new();
    d.line("id", m.message_id.clone())
        .line("state", wire_name(&m.state))
        .line("url", m.url.clone())
        .line("method", m.method.clone())
        .opt("url group", m.routing.topic_name.clone())
        .opt("endpoint", m.routing.endpoint_name.clone())
        .opt("queue", m.routing.queue_name.clone())
        .opt("schedule", m.routing.schedule_id.clone())
        .opt("flow control", m.routing.flow_control_key.clone())
        .opt("labels", (!m.labels.all.is_empty()).then(|| m.labels.all.join(", ")))
        .line("created", absolute(m.created_at, now))
        .line("not before", absolute(m.not_before, now))
        .opt("next attempt", m.next_delivery_time.map(|at| absolute(at, now)))
        .line("retried", format!("{} of {}", m.retried, m.max_retries))
        .opt("retry delay", m.retry_delay_expression.clone())
        .opt("timeout", m.timeout.map(|ms| format!("{ms} ms")))
        .opt("callback", m.callbacks.callback.clone())
        .opt("failure callback", m.callbacks.failure_callback.clone())
        .opt("caller", m.caller_ip.clone())
        .opt("header", (!m.header.is_empty()).then(|| header_lines(&m.header)))
        .opt("body", m.body.body.as_deref().map(|b| clip(b, 200)))
        .opt("body (base64)", m.body.body_base64.as_deref().map(|b| clip(b, 200)));
    d.render()
}

async fn cancel(client: &Client, args: CancelArgs, json: bool) -> Result<(), CliError> {
    let mut filters = Query::default();
    filters.filters(&args.filters).url_parts(&args.url_parts);
    if !args.ids.is_empty() && !filters.is_empty() {
        // Ids take precedence over filters in the API: refuse rather than silently ignore the filters.
        return Err(CliError::Usage(
            "give message ids or --all with filters, not both".into(),
        ));
    }
    if args.run_async {
        let accepted: BulkActionAccepted = if args.ids.is_empty() {
            let mut query = filters.pairs.clone();
            query.push(("async".to_string(), "true".to_string()));
            client.delete("/v2/messages").query(&query).send().await?
        } else {
            let body = BulkBody {
                run_async: Some(true),
                ..BulkBody::message_ids(&args.ids)
            };
            client.delete("/v2/messages").json(&body).send().await?
        };
        show(json, &accepted, |a| format!("bulk action {} accepted\n", a.action_id));
        return Ok(());
    }
    let cancelled: Cancelled = match args.ids.as_slice() {
        [id] => client.delete(&format!("/v2/messages/{}", segment(id))).send().await?,
        // `--all` alone sends no query at all: the API's "cancel everything" (spec §4.3).
        [] => client.delete("/v2/messages").query(&filters.pairs).send().await?,
        ids => {
            let body = BulkBody::message_ids(ids);
            client.delete("/v2/messages").json(&body).send().await?
        }
    };
    show(json, &cancelled, |c| format!("cancelled {} message(s)\n", c.cancelled));
    Ok(())
}
