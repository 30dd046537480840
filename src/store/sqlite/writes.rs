//! The SQLite hot-path writes as multi-row statements. Every statement crosses from the async task to
//! sqlx's SQLite worker thread and back, and that hop (two context switches) costs more than the statement
//! itself; so a batch of N messages is stored, logged and completed in a handful of statements, not in N.

use crate::domain::workflow::WorkflowLink;
use std::collections::HashSet;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::super::body_budget::{by_body_bytes, STATEMENT_BODY_BYTES};
use super::super::{Fire, LoggedResponse, Result};
use crate::domain::message::NewMessage;
use crate::domain::{callback, headers, redact};

/// Rows per multi-row statement come from these sizes only, so the few statement texts built repeat and
/// stay prepared in sqlx's statement cache (the largest keeps every statement under SQLite's 32,766
/// bound parameters).
const CHUNK_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// Splits `items` into runs of the sizes above, largest first.
fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        let size = CHUNK_SIZES.into_iter().find(|size| *size <= rest.len())?;
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// One log entry (spec §10.3).
pub(super) struct Event<'a> {
    pub message_id: &'a str,
    pub state: &'a str,
    pub status: Option<i32>,
    pub error: Option<&'a str>,
    pub next_delivery_time: Option<i64>,
    /// The destination's answer (ERROR entries of attempts that got one).
    pub response: Option<&'a LoggedResponse>,
}

impl<'a> Event<'a> {
    pub fn new(message_id: &'a str, state: &'a str) -> Self {
        Event {
            message_id,
            state,
            status: None,
            error: None,
            next_delivery_time: None,
            response: None,
        }
    }
}

/// The log entries of one write transaction, written together at its end in the order they were pushed.
#[derive(Default)]
pub(super) struct EventLog<'a> {
    entries: Vec<(i64, Event<'a>)>,
}

impl<'a> EventLog<'a> {
    pub fn push(&mut self, time: i64, event: Event<'a>) {
        self.entries.push((time, event));
    }

    pub async fn write(self, conn: &mut SqliteConnection) -> Result<()> {
        for chunk in chunks(&self.entries) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "-- (every transition): log entries\n\
                 insert into message_events (message_id, time, state, response_status, error, next_delivery_time, \
                                             response_header, response_body) ",
            );
            qb.push_values(chunk, |mut row, (time, event)| {
                row.push_bind(event.message_id)
                    .push_bind(*time)
                    .push_bind(event.state)
                    .push_bind(event.status)
                    .push_bind(event.error)
                    .push_bind(event.next_delivery_time)
                    .push_bind(event.response.map(|r| headers::to_json(&r.header)))
                    .push_bind(event.response.map(|r| r.body.as_slice()));
            });
            qb.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Logs one entry now.
pub(super) async fn log(conn: &mut SqliteConnection, now: i64, event: Event<'_>) -> Result<()> {
    let mut log = EventLog::default();
    log.push(now, event);
    log.write(conn).await
}

const LAST_QUEUE_ORDER: &str = "
-- message_insert (queue order): the largest FIFO position given so far (one writer: no race)
select coalesce(max(queue_order), 0) from messages where queue_order is not null";

/// Stores accepted messages and logs CREATED for each. A queued message without a position takes the next
/// one after every position given so far; callbacks bring their source's.
pub(super) async fn insert_messages(conn: &mut SqliteConnection, messages: &[NewMessage]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut next_order = None;
    let mut rows = Vec::with_capacity(messages.len());
    for m in messages {
        let order = match (&m.queue_name, m.queue_order) {
            (None, _) => None,
            (Some(_), Some(order)) => Some(order),
            (Some(_), None) => {
                let last = match next_order {
                    Some(last) => last,
                    None => sqlx::query_scalar(LAST_QUEUE_ORDER).fetch_one(&mut *conn).await?,
                };
                next_order = Some(last + 1);
                next_order
            }
        };
        rows.push((m, order));
    }
    // Runs within the body budget first (a fan-out shares one body in memory, but each statement copies
    // its bodies into its binds), then the cached row counts.
    let mut start = 0;
    let runs = by_body_bytes(messages, STATEMENT_BODY_BYTES).map(|run| {
        let rows = &rows[start..start + run.len()];
        start += run.len();
        rows
    });
    for chunk in runs.flat_map(chunks) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "-- message_insert: store accepted messages
insert into messages (id, state, attempt, max_retries, due_at, url, url_host, url_path, method, header, body,
                      timeout_ms, not_before, created_at, updated_at, caller_ip, labels, schedule_id,
                      retry_delay_expression, topic_name, endpoint_name, callback, failure_callback, queue_name,
                      queue_order, flow_control_key, redact, workflow) ",
        );
        qb.push_values(chunk, |mut row, (m, order)| {
            row.push_bind(m.id.as_str())
                .push("'pending'")
                .push("0")
                .push_bind(m.max_retries)
                .push_bind(m.not_before)
                .push_bind(m.url.as_str())
                .push_bind(m.url.host())
                .push_bind(m.url.path())
                .push_bind(m.method.as_str())
                .push_bind(headers::to_json(&m.header))
                .push_bind(&m.body[..])
                .push_bind(m.timeout_ms)
                .push_bind(m.not_before)
                .push_bind(m.created_at)
                .push_bind(m.created_at)
                .push_bind(m.caller_ip.as_deref())
                .push_bind(m.labels_column())
                .push_bind(m.schedule_id.as_deref())
                .push_bind(m.retry_delay_expression.as_deref())
                .push_bind(m.topic_name.as_deref())
                .push_bind(m.endpoint_name.as_deref())
                .push_bind(callback::to_column(&m.callback))
                .push_bind(callback::to_column(&m.failure_callback))
                .push_bind(m.queue_name.as_deref())
                .push_bind(*order)
                .push_bind(m.flow_control_key.as_deref())
                .push_bind(redact::to_column(&m.redact))
                .push_bind(WorkflowLink::to_column(&m.workflow));
        });
        qb.build().execute(&mut *conn).await?;
    }
    let mut log = EventLog::default();
    for m in messages {
        log.push(m.created_at, Event::new(&m.id, "CREATED"));
    }
    log.write(conn).await
}

/// Finishes the attempts (id, attempt) that got a 2xx, where that attempt is still the one in flight;
/// returns the ids it finished.
pub(super) async fn complete_delivered(
    conn: &mut SqliteConnection,
    now: i64,
    attempts: &[(&str, i32)],
) -> Result<HashSet<String>> {
    let mut done = HashSet::with_capacity(attempts.len());
    for chunk in chunks(attempts) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "-- message_complete (delivered): finish attempts that got a 2xx
update messages set state = 'delivered', lease_until = null, finished_at = ",
        );
        qb.push_bind(now).push(", updated_at = ").push_bind(now);
        qb.push("\nfrom (select column1 as id, column2 as attempt from (");
        qb.push_values(chunk, |mut row, (id, attempt)| {
            row.push_bind(*id).push_bind(*attempt);
        });
        qb.push(
            ")) as c\nwhere messages.id = c.id and messages.attempt = c.attempt and messages.state = 'in_progress'",
        );
        qb.push("\nreturning messages.id");
        let ids: Vec<String> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
        done.extend(ids);
    }
    Ok(done)
}

/// Moves each fired schedule past its slot, only where it is still at that slot and not paused; returns
/// the ids of the schedules it moved.
pub(super) async fn advance_schedules(
    conn: &mut SqliteConnection,
    now: i64,
    fires: &[Fire],
) -> Result<HashSet<String>> {
    let mut advanced = HashSet::with_capacity(fires.len());
    for chunk in chunks(fires) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "-- schedule_fire (advance): move each schedule past its slot, only if it is still there and not paused
update schedules set next_fire_at = f.next_fire_at, last_fire_at = f.slot, last_message_ids = f.message_ids,
                     updated_at = ",
        );
        qb.push_bind(now);
        qb.push(
            "\nfrom (select column1 as id, column2 as slot, column3 as next_fire_at, column4 as message_ids from (",
        );
        qb.push_values(chunk, |mut row, fire| {
            row.push_bind(fire.schedule_id.as_str())
                .push_bind(fire.slot)
                .push_bind(fire.next_fire_at)
                .push_bind(super::super::message_ids_column(fire));
        });
        qb.push(")) as f\nwhere schedules.id = f.id and schedules.next_fire_at = f.slot and not schedules.is_paused");
        qb.push("\nreturning schedules.id");
        let ids: Vec<String> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
        advanced.extend(ids);
    }
    Ok(advanced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_use_only_the_cached_sizes_and_cover_everything_in_order() {
        let items: Vec<usize> = (0..1_000).collect();
        let sizes: Vec<usize> = chunks(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, [256, 256, 256, 64, 64, 64, 16, 16, 4, 4]);
        assert_eq!(
            chunks(&items[..7]).map(<[usize]>::len).collect::<Vec<_>>(),
            [4, 1, 1, 1]
        );
        assert!(sizes.iter().all(|s| CHUNK_SIZES.contains(s)));
        let joined: Vec<usize> = chunks(&items).flatten().copied().collect();
        assert_eq!(joined, items);
        assert_eq!(chunks::<u8>(&[]).count(), 0);
    }
}
