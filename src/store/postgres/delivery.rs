//! Postgres: the delivery cycle: claim, lease, complete, rescue.

use super::*;
use crate::store::ABANDONED_ERROR;

const MESSAGE_NEXT_DUE_AT: &str = "
-- message_next_due_at: when the next pending message becomes due (queued messages waiting for those ahead
-- of them are woken when those finish)
select min(due_at) from messages where state = 'pending' and due_at > $1";

/// Skips rows another statement holds (a completion writing them, which needs no lease any more) instead of
/// waiting for them: an extension that waited on rows locked in another order deadlocked with completions.
const MESSAGE_EXTEND_LEASES: &str = "
-- message_extend_leases: keep the leases of attempts still in flight; skip rows being completed
with held as (
    select m.id from messages m
    join unnest($2::text[], $3::int[]) as c(id, attempt) on m.id = c.id and m.attempt = c.attempt
    where m.state = 'in_progress'
    order by m.id
    for update of m skip locked
)
update messages m set lease_until = $1 from held where m.id = held.id";

/// Taken first in every completion transaction: its rows are then locked in one order (by id), whatever
/// order the batch and its statements have, so two statements that lock overlapping rows cannot deadlock.
const MESSAGE_LOCK_FOR_COMPLETION: &str = "
-- message_complete (lock): lock the rows of the batch in id order
select id from messages where id = any($1::text[]) order by id for update";

const MESSAGE_COMPLETE_DELIVERED: &str = "
-- message_complete (delivered): finish attempts that got a 2xx; log DELIVERED
with done as (
    update messages m set state = 'delivered', lease_until = null, finished_at = $1, updated_at = $1
    from unnest($2::text[], $3::int[], $4::int[]) as c(id, attempt, status)
    where m.id = c.id and m.attempt = c.attempt and m.state = 'in_progress'
    returning m.id, c.status
), logged as (
    insert into message_events (message_id, time, state, response_status)
    select id, $1, 'DELIVERED', status from done
)
select id from done";

const MESSAGE_COMPLETE_RETRY: &str = "
-- message_complete (retry): make failed attempts due again, unless a cancel was requested meanwhile;
-- log ERROR, then RETRY (or CANCELED)
with done as (
    update messages m
    set state = case when m.cancel_requested then 'canceled' else 'pending' end,
        finished_at = case when m.cancel_requested then $1 end,
        due_at = c.due_at, lease_until = null, updated_at = $1
    from unnest($2::text[], $3::int[], $4::bigint[], $5::int[], $6::text[], $7::text[], $8::bytea[])
         as c(id, attempt, due_at, status, error, response_header, response_body)
    where m.id = c.id and m.attempt = c.attempt and m.state = 'in_progress'
    returning m.id, m.state, c.due_at, c.status, c.error, c.response_header, c.response_body
), logged as (
    insert into message_events (message_id, time, state, response_status, error, next_delivery_time,
                                response_header, response_body)
    select id, $1, 'ERROR', status, error, due_at, response_header, response_body from done
    union all
    select id, $1, case when state = 'canceled' then 'CANCELED' else 'RETRY' end, null, null,
           case when state = 'pending' then due_at end, null, null
    from done
)
select id from done";

const MESSAGE_COMPLETE_FAILED: &str = "
-- message_complete (failed): finish attempts that exhausted their retries and dead-letter them
with failed as (
    update messages m
    set state = case when m.cancel_requested then 'canceled' else 'failed' end,
        lease_until = null, finished_at = $1, updated_at = $1
    from unnest($2::text[], $3::int[]) as c(id, attempt)
    where m.id = c.id and m.attempt = c.attempt and m.state = 'in_progress'
    returning m.id, m.state
), entries as (
    select * from unnest($2::text[], $4::text[], $5::int[], $6::text[], $7::bytea[], $8::text[], $9::text[],
                         $10::bytea[])
         as e(message_id, dlq_id, response_status, response_header, response_body, error, log_header, log_body)
), dead as (
    insert into dlq (dlq_id, message_id, response_status, response_header, response_body, error, created_at)
    select e.dlq_id, e.message_id, e.response_status, e.response_header, e.response_body, e.error, $1
    from failed join entries e on e.message_id = failed.id
    where failed.state = 'failed'
), logged as (
    -- log ERROR, then FAILED (or CANCELED)
    insert into message_events (message_id, time, state, response_status, error, response_header, response_body)
    select failed.id, $1, 'ERROR', e.response_status, e.error, e.log_header, e.log_body
    from failed join entries e on e.message_id = failed.id
    union all
    select id, $1, case when state = 'canceled' then 'CANCELED' else 'FAILED' end, null, null, null, null
    from failed
)
select id from failed";

const MESSAGE_COMPLETE_HAND_BACK: &str = "
-- message_complete (hand back): undo attempts that were not made (out of file descriptors or memory, the
-- host at its share, or its circuit open): due again, the attempt not counted, unless a cancel was
-- requested; log RETRY with the reason
with done as (
    update messages m
    set state = case when m.cancel_requested then 'canceled' else 'pending' end,
        finished_at = case when m.cancel_requested then $1 end,
        attempt = m.attempt - 1, due_at = c.due_at, lease_until = null, updated_at = $1
    from unnest($2::text[], $3::int[], $4::bigint[], $5::text[]) as c(id, attempt, due_at, error)
    where m.id = c.id and m.attempt = c.attempt and m.state = 'in_progress'
    returning m.id, m.state, c.due_at, c.error
), logged as (
    insert into message_events (message_id, time, state, error, next_delivery_time)
    select id, $1, case when state = 'canceled' then 'CANCELED' else 'RETRY' end, error,
           case when state = 'pending' then due_at end
    from done
)
select id from done";

const MESSAGE_RESCUE_EXPIRED: &str = "
-- message_rescue_expired: messages whose lease lapsed become due again, except the caller's own ($2) and
-- rows being completed right now (skipped); log RETRY
with expired as (
    select id from messages
    where state = 'in_progress' and lease_until < $1 and id <> all($2::text[])
    order by id
    for update skip locked
), rescued as (
    update messages m
    set state = case when m.cancel_requested then 'canceled' else 'pending' end,
        finished_at = case when m.cancel_requested then $1 end,
        due_at = $1, lease_until = null, updated_at = $1
    from expired where m.id = expired.id
    returning m.id, m.state
), logged as (
    insert into message_events (message_id, time, state, error, next_delivery_time)
    select id, $1, case when state = 'canceled' then 'CANCELED' else 'RETRY' end,
           'its lease lapsed before the result was recorded (the instance delivering it stopped or lost the database)',
           case when state = 'pending' then $1 end
    from rescued
)
select count(*) from rescued";

const MESSAGE_RESCUE_ABANDONED: &str = "
-- message_rescue_abandoned: messages in progress under abandoned leases become due again at once, whatever
-- their lease: every one when $2 is null (the caller is alone on the database), else those of instance $2;
-- rows being completed right now are skipped; they keep their due time (already past), so they go before what
-- fell due while the instance was down; log RETRY
with abandoned as (
    select id from messages
    where state = 'in_progress' and ($2::text is null or lease_holder = $2)
    order by id
    for update skip locked
), rescued as (
    update messages m
    set state = case when m.cancel_requested then 'canceled' else 'pending' end,
        finished_at = case when m.cancel_requested then $1 end,
        due_at = least(m.due_at, $1), lease_until = null, updated_at = $1
    from abandoned where m.id = abandoned.id
    returning m.id, m.state
), logged as (
    insert into message_events (message_id, time, state, error, next_delivery_time)
    select id, $1, case when state = 'canceled' then 'CANCELED' else 'RETRY' end, $3,
           case when state = 'pending' then $1 end
    from rescued
)
select count(*) from rescued";

impl DeliveryStore for PgStore {
    shared::delivery_store!();

    async fn message_claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(MESSAGE_CLAIM_DUE)
            .bind(claim.now)
            .bind(claim.lease_until)
            .bind(claim.limit)
            .bind(claim.skip_hosts)
            .bind(claim.holder)
            .fetch_all(&self.pool)
            .await?;
        Ok(decode_claimed(rows))
    }

    async fn message_extend_leases(&self, claims: &[(String, i32)], lease_until: i64) -> Result<u64> {
        let (ids, attempts): (Vec<String>, Vec<i32>) = claims.iter().cloned().unzip();
        let done = sqlx::query(MESSAGE_EXTEND_LEASES)
            .bind(lease_until)
            .bind(ids)
            .bind(attempts)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn message_complete(&self, now: i64, completions: &[Completion]) -> Result<u64> {
        // One transaction: the guarded updates, then the callbacks of the completions that applied.
        // In id order, so that each statement locks its rows in the order every other locker uses.
        let mut completions: Vec<&Completion> = completions.iter().collect();
        completions.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let mut tx = self.pool.begin().await?;
        if needs_several_statements(&completions) {
            // Each statement locks only its own kind's rows: lock them all first, in one order. A batch of
            // one kind (the common case) is one statement already, and skips this round trip and the lock
            // record Postgres writes for every row it locks.
            let ids: Vec<&str> = completions.iter().map(|c| c.id.as_str()).collect();
            sqlx::query(MESSAGE_LOCK_FOR_COMPLETION)
                .bind(ids)
                .execute(&mut *tx)
                .await?;
        }
        let completions = completions.into_iter();
        let mut applied: Vec<String> = Vec::new();
        let delivered: Vec<&Completion> = completions
            .clone()
            .filter(|c| matches!(c.kind, CompletionKind::Delivered))
            .collect();
        if !delivered.is_empty() {
            let statuses: Vec<i32> = delivered.iter().map(|c| c.status).collect();
            let done = guarded(MESSAGE_COMPLETE_DELIVERED, now, delivered.into_iter())
                .bind(statuses)
                .fetch_all(&mut *tx)
                .await?;
            applied.extend(done);
        }
        let retries = of_kind(completions.clone(), |kind| match kind {
            CompletionKind::Retry { due_at } => Some(*due_at),
            _ => None,
        });
        if !retries.is_empty() {
            let due: Vec<i64> = retries.iter().map(|(_, due)| *due).collect();
            let done = guarded(MESSAGE_COMPLETE_RETRY, now, retries.iter().map(|(c, _)| *c))
                .bind(due)
                .bind(retries.iter().map(|(c, _)| c.status).collect::<Vec<_>>())
                .bind(retries.iter().map(|(c, _)| c.error.clone()).collect::<Vec<_>>())
                .bind(logged_headers(retries.iter().map(|(c, _)| *c)))
                .bind(logged_bodies(retries.iter().map(|(c, _)| *c)))
                .fetch_all(&mut *tx)
                .await?;
            applied.extend(done);
        }
        let failed = of_kind(completions.clone(), |kind| match kind {
            CompletionKind::Failed(entry) => Some(entry),
            _ => None,
        });
        if !failed.is_empty() {
            let entries: Vec<&DeadLetter> = failed.iter().map(|(_, e)| *e).collect();
            let column = |f: fn(&DeadLetter) -> Option<String>| entries.iter().map(|e| f(e)).collect::<Vec<_>>();
            let done = guarded(MESSAGE_COMPLETE_FAILED, now, failed.iter().map(|(c, _)| *c))
                .bind(column(|e| Some(e.dlq_id.as_str().to_owned())))
                .bind(entries.iter().map(|e| e.response_status).collect::<Vec<_>>())
                .bind(column(|e| Some(headers::to_json(&e.response_header))))
                .bind(entries.iter().map(|e| e.response_body.as_slice()).collect::<Vec<_>>())
                .bind(column(|e| e.error.clone()))
                .bind(logged_headers(failed.iter().map(|(c, _)| *c)))
                .bind(logged_bodies(failed.iter().map(|(c, _)| *c)))
                .fetch_all(&mut *tx)
                .await?;
            applied.extend(done);
        }
        let handed_back = of_kind(completions.clone(), |kind| match kind {
            CompletionKind::HandBack { due_at } => Some(*due_at),
            _ => None,
        });
        if !handed_back.is_empty() {
            let done = guarded(MESSAGE_COMPLETE_HAND_BACK, now, handed_back.iter().map(|(c, _)| *c))
                .bind(handed_back.iter().map(|(_, due)| *due).collect::<Vec<_>>())
                .bind(handed_back.iter().map(|(c, _)| c.error.clone()).collect::<Vec<_>>())
                .fetch_all(&mut *tx)
                .await?;
            applied.extend(done);
        }
        let failed_runs: Vec<&str> = completions
            .clone()
            .filter(|c| applied.iter().any(|id| c.id == *id))
            .filter_map(|c| c.fails_run.as_deref())
            .collect();
        let ended_runs = match failed_runs.is_empty() {
            true => Vec::new(),
            false => fail_runs(&mut tx, now, &failed_runs).await?,
        };
        let spawned: Vec<NewMessage> = completions
            .filter(|c| !c.spawn.is_empty() && applied.iter().any(|id| c.id == *id))
            .flat_map(|c| c.spawn.iter().cloned())
            .filter(|m| shared::workflows::keep_spawned(m, &ended_runs))
            .collect();
        insert_messages(&mut tx, &spawned).await?;
        tx.commit().await?;
        Ok(applied.len() as u64)
    }

    async fn message_rescue_expired(&self, now: i64, held: &[String]) -> Result<u64> {
        let rescued: i64 = sqlx::query_scalar(MESSAGE_RESCUE_EXPIRED)
            .bind(now)
            .bind(held)
            .fetch_one(&self.pool)
            .await?;
        Ok(rescued as u64)
    }

    async fn message_rescue_abandoned(&self, now: i64, abandoned: &Abandoned) -> Result<u64> {
        let holder = match abandoned {
            Abandoned::All => None,
            Abandoned::HeldBy(holder) => Some(holder.as_str()),
        };
        let rescued: i64 = sqlx::query_scalar(MESSAGE_RESCUE_ABANDONED)
            .bind(now)
            .bind(holder)
            .bind(ABANDONED_ERROR)
            .fetch_one(&self.pool)
            .await?;
        Ok(rescued as u64)
    }
}

/// A guarded completion `statement` (each row changes only while its id and attempt still match) over the
/// `batch`, with `now`, the ids and the attempts bound first; it returns the ids of the rows it changed.
fn guarded<'a, 'q>(
    statement: &'q str,
    now: i64,
    batch: impl Iterator<Item = &'a Completion>,
) -> sqlx::query::QueryScalar<'q, sqlx::Postgres, String, sqlx::postgres::PgArguments> {
    let (ids, attempts) = ids_and_attempts(batch);
    sqlx::query_scalar(statement).bind(now).bind(ids).bind(attempts)
}

/// The completions whose kind `pick` takes, each with what it takes from the kind.
fn of_kind<'a, T>(
    completions: impl Iterator<Item = &'a Completion>,
    pick: impl Fn(&'a CompletionKind) -> Option<T>,
) -> Vec<(&'a Completion, T)> {
    completions
        .filter_map(|c| pick(&c.kind).map(|picked| (c, picked)))
        .collect()
}

/// Whether the batch holds completions of more than one kind, written by more than one statement.
fn needs_several_statements(completions: &[&Completion]) -> bool {
    let kind = |c: &Completion| std::mem::discriminant(&c.kind);
    completions
        .split_first()
        .is_some_and(|(first, rest)| rest.iter().any(|c| kind(c) != kind(first)))
}

/// The response headers each completion's ERROR entry keeps, as JSON (null without a response).
fn logged_headers<'c>(completions: impl Iterator<Item = &'c Completion>) -> Vec<Option<String>> {
    completions
        .map(|c| c.response.as_ref().map(|r| headers::to_json(&r.header)))
        .collect()
}

/// The response bodies each completion's ERROR entry keeps (null without a response).
fn logged_bodies<'c>(completions: impl Iterator<Item = &'c Completion>) -> Vec<Option<&'c [u8]>> {
    completions
        .map(|c| c.response.as_ref().map(|r| r.body.as_slice()))
        .collect()
}
