//! SQLite: the delivery cycle: claim, lease, complete, rescue.

use super::*;
use crate::store::ABANDONED_ERROR;

const MESSAGE_NEXT_DUE_AT: &str = "
-- message_next_due_at: when the next pending message becomes due (queued messages waiting for those ahead
-- of them are woken when those finish)
select min(due_at) from messages where state = 'pending' and due_at > ?1";

const MESSAGE_EXTEND_LEASE: &str = "
-- message_extend_leases: keep the lease of one attempt still in flight
update messages set lease_until = ?1 where id = ?2 and attempt = ?3 and state = 'in_progress'";

const MESSAGE_COMPLETE_RETRY: &str = "
-- message_complete (retry): make a failed attempt due again, unless a cancel was requested meanwhile
update messages
set state = case when cancel_requested then 'canceled' else 'pending' end,
    finished_at = case when cancel_requested then ?1 end,
    due_at = ?4, lease_until = null, updated_at = ?1
where id = ?2 and attempt = ?3 and state = 'in_progress'
returning state";

const MESSAGE_COMPLETE_FAILED: &str = "
-- message_complete (failed): finish an attempt that exhausted its retries
update messages
set state = case when cancel_requested then 'canceled' else 'failed' end,
    lease_until = null, finished_at = ?1, updated_at = ?1
where id = ?2 and attempt = ?3 and state = 'in_progress'
returning state";

const MESSAGE_COMPLETE_HAND_BACK: &str = "
-- message_complete (hand back): undo an attempt that was not made (out of file descriptors or memory,
-- the host at its share, or its circuit open): due again, the attempt not counted, unless a cancel was
-- requested
update messages
set state = case when cancel_requested then 'canceled' else 'pending' end,
    finished_at = case when cancel_requested then ?1 end,
    attempt = attempt - 1, due_at = ?4, lease_until = null, updated_at = ?1
where id = ?2 and attempt = ?3 and state = 'in_progress'
returning state";

const DLQ_INSERT: &str = "
-- message_complete (failed): dead-letter the message with its last response
insert into dlq (dlq_id, message_id, response_status, response_header, response_body, error, created_at)
values (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const MESSAGE_RESCUE_EXPIRED: &str = "
-- message_rescue_expired: messages whose lease lapsed become due again, except the caller's own (?2, a
-- JSON array of ids)
update messages
set state = case when cancel_requested then 'canceled' else 'pending' end,
    finished_at = case when cancel_requested then ?1 end,
    due_at = ?1, lease_until = null, updated_at = ?1
where state = 'in_progress' and lease_until < ?1 and id not in (select value from json_each(?2))
returning id, state";

const MESSAGE_RESCUE_ABANDONED: &str = "
-- message_rescue_abandoned: messages in progress under abandoned leases become due again at once, whatever
-- their lease: every one when ?2 is null (the caller owns the file alone), else those of instance ?2. They
-- keep their due time (already past): they go before what fell due while the instance was down.
update messages
set state = case when cancel_requested then 'canceled' else 'pending' end,
    finished_at = case when cancel_requested then ?1 end,
    due_at = min(due_at, ?1), lease_until = null, updated_at = ?1
where state = 'in_progress' and (?2 is null or lease_holder = ?2)
returning id, state";

impl DeliveryStore for SqliteStore {
    shared::delivery_store!();

    async fn message_claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Message>> {
        let mut tx = self.begin_write().await?;
        let skip_hosts = super::hosts_json(claim.skip_hosts);
        let claimed = claim_and_log(&mut tx, MESSAGE_CLAIM_DUE, claim, &skip_hosts, None).await?;
        tx.commit().await?;
        Ok(decode_claimed(claimed))
    }

    async fn message_extend_leases(&self, claims: &[(String, i32)], lease_until: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut extended = 0;
        for (id, attempt) in claims {
            let done = sqlx::query(MESSAGE_EXTEND_LEASE)
                .bind(lease_until)
                .bind(id)
                .bind(attempt)
                .execute(&mut *tx)
                .await?;
            extended += done.rows_affected();
        }
        tx.commit().await?;
        Ok(extended)
    }

    async fn message_complete(&self, now: i64, completions: &[Completion]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut log = EventLog::default();
        let mut spawned: Vec<NewMessage> = Vec::new();
        let mut ended_runs: Vec<String> = Vec::new();
        // The common case, 2xx, in a few statements for the whole batch; retries and failures one by one.
        let delivered: Vec<(&str, i32)> = completions
            .iter()
            .filter(|c| matches!(c.kind, CompletionKind::Delivered))
            .map(|c| (c.id.as_str(), c.attempt))
            .collect();
        let finished = complete_delivered(&mut tx, now, &delivered).await?;
        let mut changed = finished.len() as u64;
        for c in completions {
            match &c.kind {
                CompletionKind::Delivered => {
                    if finished.contains(c.id.as_str()) {
                        let delivered = Event {
                            status: Some(c.status),
                            ..Event::new(&c.id, "DELIVERED")
                        };
                        log.push(now, delivered);
                        spawned.extend_from_slice(&c.spawn);
                    }
                }
                CompletionKind::Retry { due_at } => {
                    let state = reschedule(&mut tx, MESSAGE_COMPLETE_RETRY, now, c, *due_at).await?;
                    if let Some(state) = state {
                        changed += 1;
                        let error = Event {
                            status: Some(c.status),
                            error: c.error.as_deref(),
                            next_delivery_time: Some(*due_at),
                            response: c.response.as_ref(),
                            ..Event::new(&c.id, "ERROR")
                        };
                        log.push(now, error);
                        let next = match state.as_str() {
                            "canceled" => Event::new(&c.id, "CANCELED"),
                            _ => Event {
                                next_delivery_time: Some(*due_at),
                                ..Event::new(&c.id, "RETRY")
                            },
                        };
                        log.push(now, next);
                        spawned.extend_from_slice(&c.spawn);
                    }
                }
                CompletionKind::HandBack { due_at } => {
                    let state = reschedule(&mut tx, MESSAGE_COMPLETE_HAND_BACK, now, c, *due_at).await?;
                    if let Some(state) = state {
                        changed += 1;
                        let event = Event {
                            error: c.error.as_deref(),
                            next_delivery_time: (state == "pending").then_some(*due_at),
                            ..Event::new(&c.id, log_state(&state, "RETRY"))
                        };
                        log.push(now, event);
                    }
                }
                CompletionKind::Failed(entry) => {
                    let state: Option<String> = sqlx::query_scalar(MESSAGE_COMPLETE_FAILED)
                        .bind(now)
                        .bind(&c.id)
                        .bind(c.attempt)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(state) = &state {
                        changed += 1;
                        let error = Event {
                            status: Some(entry.response_status),
                            error: entry.error.as_deref(),
                            response: c.response.as_ref(),
                            ..Event::new(&c.id, "ERROR")
                        };
                        log.push(now, error);
                        let last = if state == "canceled" { "CANCELED" } else { "FAILED" };
                        log.push(now, Event::new(&c.id, last));
                        spawned.extend_from_slice(&c.spawn);
                    }
                    if state.as_deref() == Some("failed") {
                        sqlx::query(DLQ_INSERT)
                            .bind(&entry.dlq_id)
                            .bind(&c.id)
                            .bind(entry.response_status)
                            .bind(headers::to_json(&entry.response_header))
                            .bind(entry.response_body.as_slice())
                            .bind(&entry.error)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        if let Some(run) = c.fails_run.as_deref() {
                            ended_runs.extend(fail_runs(&mut tx, now, &[run]).await?);
                        }
                    }
                }
            }
        }
        log.write(&mut tx).await?;
        spawned.retain(|m| shared::workflows::keep_spawned(m, &ended_runs));
        insert_messages(&mut tx, &spawned).await?;
        tx.commit().await?;
        Ok(changed)
    }

    async fn message_rescue_expired(&self, now: i64, held: &[String]) -> Result<u64> {
        let held = serde_json::Value::from(held.to_vec()).to_string();
        let mut tx = self.begin_write().await?;
        let rescued: Vec<(String, String)> = sqlx::query_as(MESSAGE_RESCUE_EXPIRED)
            .bind(now)
            .bind(held)
            .fetch_all(&mut *tx)
            .await?;
        let mut log = EventLog::default();
        for (id, state) in &rescued {
            let event = Event {
                error: Some(
                    "its lease lapsed before the result was recorded (the instance delivering it stopped or lost \
                     the database)",
                ),
                next_delivery_time: (state == "pending").then_some(now),
                ..Event::new(id, log_state(state, "RETRY"))
            };
            log.push(now, event);
        }
        log.write(&mut tx).await?;
        tx.commit().await?;
        Ok(rescued.len() as u64)
    }

    async fn message_rescue_abandoned(&self, now: i64, abandoned: &Abandoned) -> Result<u64> {
        let holder = match abandoned {
            Abandoned::All => None,
            Abandoned::HeldBy(holder) => Some(holder.as_str()),
        };
        let mut tx = self.begin_write().await?;
        let rescued: Vec<(String, String)> = sqlx::query_as(MESSAGE_RESCUE_ABANDONED)
            .bind(now)
            .bind(holder)
            .fetch_all(&mut *tx)
            .await?;
        let mut log = EventLog::default();
        for (id, state) in &rescued {
            let event = Event {
                error: Some(ABANDONED_ERROR),
                next_delivery_time: (state == "pending").then_some(now),
                ..Event::new(id, log_state(state, "RETRY"))
            };
            log.push(now, event);
        }
        log.write(&mut tx).await?;
        tx.commit().await?;
        Ok(rescued.len() as u64)
    }
}

/// Runs `statement`, the retry or the hand-back of completion `c`, which makes its message due at `due_at`
/// (or cancels it); the message's new state, none when the attempt no longer holds it.
async fn reschedule(
    conn: &mut sqlx::SqliteConnection,
    statement: &str,
    now: i64,
    c: &Completion,
    due_at: i64,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(statement)
        .bind(now)
        .bind(&c.id)
        .bind(c.attempt)
        .bind(due_at)
        .fetch_optional(conn)
        .await?)
}

/// Runs a claim statement (`MESSAGE_CLAIM_DUE`, or `MESSAGE_CLAIM_DUE_FOR_KEY` with `key` as `?5`) with
/// `skip_hosts` (`claim.skip_hosts` as JSON) and logs what it leased ACTIVE, inside the caller's transaction.
pub(super) async fn claim_and_log(
    conn: &mut sqlx::SqliteConnection,
    statement: &str,
    claim: &Claim<'_>,
    skip_hosts: &str,
    key: Option<&str>,
) -> Result<Vec<MessageRow>> {
    let mut query = sqlx::query_as(statement)
        .bind(claim.now)
        .bind(claim.lease_until)
        .bind(claim.limit)
        .bind(skip_hosts)
        .bind(claim.holder);
    if let Some(key) = key {
        query = query.bind(key);
    }
    let rows: Vec<MessageRow> = query.fetch_all(&mut *conn).await?;
    let mut log = EventLog::default();
    for row in &rows {
        log.push(claim.now, Event::new(&row.id, "ACTIVE"));
    }
    log.write(conn).await?;
    Ok(rows)
}
