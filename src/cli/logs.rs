//! `postdate logs [filters] [--follow]`: the log of state changes, `GET /v2/events` (spec §10).
//!
//! `--follow` pages forward with the cursor. The cursor marks a position in the log that holds in either
//! order: a newest-first page's cursor is where an oldest-first read continues. The last page has no cursor,
//! so at the end of the log the follower keeps the last cursor it had and skips the entries after it that it
//! has already printed.

use std::time::Duration;

use clap::Args;

use super::filters::{Filters, Query, UrlPartFilters};
use super::http::Client;
use super::messages::print_more;
use super::render::{clip, now_ms, relative, show, wire_name, Table};
use super::{CliError, Server};
use crate::wire::{LogEntry, LogPage};

pub const EXAMPLES: &str = "\
Examples:
  postdate logs
  postdate logs --message-id msg_26hZCxZCuWyyTWPmSVBrNC
  postdate logs --state FAILED --from 1h
  postdate logs --follow
  postdate logs --follow --json | jq -c 'select(.state == \"ERROR\")'";

/// The largest page the API gives; a follower catching up reads this many at once.
const FOLLOW_PAGE: u32 = 1_000;

#[derive(Args)]
pub struct LogsArgs {
    /// Only entries of this state: CREATED, ACTIVE, RETRY, ERROR, DELIVERED, FAILED, CANCEL_REQUESTED,
    /// CANCELED, or IN_PROGRESS (ACTIVE, RETRY and ERROR).
    #[arg(long)]
    state: Option<String>,
    /// Only entries of this message (repeatable).
    #[arg(long, value_name = "ID")]
    message_id: Vec<String>,
    #[command(flatten)]
    filters: Filters,
    #[command(flatten)]
    url_parts: UrlPartFilters,
    /// Entries to show (at most 1000); with --follow, how many of the latest to show first.
    #[arg(long, default_value_t = 20)]
    count: u32,
    /// The page after this cursor (printed at the end of the previous page).
    #[arg(long, conflicts_with = "follow")]
    cursor: Option<String>,
    /// Keep printing entries as they are written, oldest first, until interrupted (ctrl-c). With --json,
    /// one JSON entry per line.
    #[arg(long, short = 'f')]
    follow: bool,
    /// How often --follow asks for new entries.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = interval)]
    interval: Duration,
    #[command(flatten)]
    server: Server,
}

fn interval(input: &str) -> Result<Duration, String> {
    match crate::domain::duration::parse_duration(input) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("{input:?} is not a duration such as 500ms or 2s")),
    }
}

impl LogsArgs {
    fn filter_query(&self) -> Query {
        let mut query = Query::default();
        query
            .add_opt("state", self.state.as_ref())
            .add_all("messageIds", &self.message_id)
            .filters(&self.filters)
            .url_parts(&self.url_parts);
        query
    }
}

pub async fn run(args: LogsArgs) -> Result<(), CliError> {
    let client = Client::new(&args.server)?;
    let mut query = args.filter_query();
    query
        .add("count", args.count)
        .add("order", "latestFirst")
        .add_opt("cursor", args.cursor.as_ref());
    let page: LogPage = client.get("/v2/events").query(&query.pairs).send().await?;
    if !args.follow {
        show(args.server.json, &page, |page| {
            print_more(page.cursor.as_deref());
            table(&page.events, now_ms()).or("no log entries")
        });
        return Ok(());
    }
    // The latest entries, oldest first, then everything written after them.
    for entry in page.events.iter().rev() {
        print_followed(entry, args.server.json);
    }
    let mut tail = Tail::after_latest(&page, args.count);
    loop {
        let mut query = args.filter_query();
        query
            .add("count", FOLLOW_PAGE)
            .add("order", "earliestFirst")
            .add_opt("cursor", tail.cursor.as_ref());
        let page: LogPage = client.get("/v2/events").query(&query.pairs).send().await?;
        let caught_up = page.cursor.is_none();
        for entry in tail.unseen(page) {
            print_followed(&entry, args.server.json);
        }
        if caught_up {
            tokio::time::sleep(args.interval).await;
        }
    }
}

/// Where a follower is: the last cursor it got, and how many entries after it were already printed.
#[derive(Debug, PartialEq)]
struct Tail {
    cursor: Option<String>,
    seen: usize,
}

impl Tail {
    /// After the newest entry of a newest-first page of `asked` entries. A full page's cursor is its oldest
    /// entry's position, after which all the others lie. A filtered page that is not full but has a cursor
    /// stopped at the end of its search window, older than all its entries. Without a cursor, the page holds
    /// the whole log.
    fn after_latest(page: &LogPage, asked: u32) -> Tail {
        let full = page.events.len() >= asked as usize;
        match &page.cursor {
            Some(cursor) => Tail {
                cursor: Some(cursor.clone()),
                seen: page.events.len().saturating_sub(usize::from(full)),
            },
            None => Tail {
                cursor: None,
                seen: page.events.len(),
            },
        }
    }

    /// The entries of an oldest-first page read at this tail's cursor not printed before; moves the tail.
    fn unseen(&mut self, page: LogPage) -> Vec<LogEntry> {
        let fresh: Vec<LogEntry> = page.events.into_iter().skip(self.seen).collect();
        match page.cursor {
            Some(next) => {
                self.cursor = Some(next);
                self.seen = 0;
            }
            None => self.seen += fresh.len(),
        }
        fresh
    }
}

/// One line per entry, as it comes: a table cannot be aligned ahead of entries not yet written.
fn print_followed(entry: &LogEntry, json: bool) {
    if json {
        match serde_json::to_string(entry) {
            Ok(line) => println!("{line}"),
            Err(error) => eprintln!("postdate: cannot print a log entry as JSON: {error}"),
        }
        return;
    }
    let time = chrono::DateTime::from_timestamp_millis(entry.time)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| entry.time.to_string());
    let state = wire_name(&entry.state);
    let line = format!(
        "{time}  {state:<16}  {}  {}  {}",
        entry.message_id,
        entry.url,
        detail(entry, now_ms())
    );
    println!("{}", line.trim_end());
}

/// What an entry adds to its state: the status, the error, the start of the response body, when the next
/// attempt is due.
fn detail(entry: &LogEntry, now: i64) -> String {
    let mut parts = Vec::new();
    // 0: no HTTP response at all; the error says why.
    if let Some(status) = entry.response_status.filter(|s| *s > 0) {
        parts.push(format!("HTTP {status}"));
    }
    if let Some(error) = &entry.error {
        parts.push(clip(error, 60));
    }
    if let Some(body) = entry.response_text().filter(|b| !b.trim().is_empty()) {
        parts.push(format!("response {:?}", clip(body.trim(), 60)));
    }
    if let Some(at) = entry.next_delivery_time {
        parts.push(format!("next attempt {}", relative(at, now)));
    }
    parts.join(", ")
}

fn table(entries: &[LogEntry], now: i64) -> Table {
    let mut table = Table::new(&["TIME", "STATE", "MESSAGE ID", "URL", "DETAIL"]);
    for entry in entries {
        table.row(vec![
            relative(entry.time, now),
            wire_name(&entry.state),
            entry.message_id.clone(),
            entry.url.clone(),
            detail(entry, now),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(message_id: &str) -> LogEntry {
        serde_json::from_value(serde_json::json!({
            "time": 1, "messageId": message_id, "state": "CREATED", "url": "http://x", "method": "POST",
            "maxRetries": 0
        }))
        .unwrap()
    }

    fn page(ids: &[&str], cursor: Option<&str>) -> LogPage {
        LogPage {
            events: ids.iter().map(|id| entry(id)).collect(),
            logs: None,
            cursor: cursor.map(str::to_string),
        }
    }

    fn ids(entries: &[LogEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.message_id.as_str()).collect()
    }

    #[test]
    fn an_error_entry_shows_its_status_and_the_start_of_the_response_body() {
        let error: LogEntry = serde_json::from_value(serde_json::json!({
            "time": 1, "messageId": "m", "state": "ERROR", "url": "http://x", "method": "POST", "maxRetries": 0,
            "responseStatus": 500, "error": "the destination answered 500", "responseBody": "cXVvdGEgZXhjZWVkZWQK"
        }))
        .unwrap();
        assert_eq!(
            detail(&error, 0),
            "HTTP 500, the destination answered 500, response \"quota exceeded\""
        );
        let redacted = LogEntry {
            response_body: Some("REDACTED:ab12".into()),
            ..error
        };
        assert!(detail(&redacted, 0).ends_with("response \"REDACTED:ab12\""));
    }

    #[test]
    fn a_follower_starts_after_the_newest_entry_it_has_shown() {
        // Newest first: c, b, a; the cursor is a's position, after which b and c lie (already shown).
        assert_eq!(
            Tail::after_latest(&page(&["c", "b", "a"], Some("7")), 3),
            Tail {
                cursor: Some("7".into()),
                seen: 2
            }
        );
        assert_eq!(
            Tail::after_latest(&page(&["b", "a"], None), 3),
            Tail { cursor: None, seen: 2 }
        );
        // Two matches in a search window that ended at 5, older than both: both lie after the cursor.
        assert_eq!(
            Tail::after_latest(&page(&["b", "a"], Some("5")), 3),
            Tail {
                cursor: Some("5".into()),
                seen: 2
            }
        );
    }

    #[test]
    fn a_follower_prints_each_entry_once_across_polls_and_pages() {
        let mut tail = Tail {
            cursor: Some("7".into()),
            seen: 2,
        };
        assert!(tail.unseen(page(&["b", "c"], None)).is_empty());
        assert_eq!(ids(&tail.unseen(page(&["b", "c", "d"], None))), ["d"]);
        assert_eq!(tail.seen, 3);
        // A full page comes with a cursor: the next read starts after it.
        assert_eq!(ids(&tail.unseen(page(&["b", "c", "d", "e"], Some("11")))), ["e"]);
        assert_eq!(
            tail,
            Tail {
                cursor: Some("11".into()),
                seen: 0
            }
        );
        assert_eq!(ids(&tail.unseen(page(&["f"], None))), ["f"]);
    }
}
