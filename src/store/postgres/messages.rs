//! Postgres: accepted messages: insert (with deduplication), read, cancel, retention, log.

use super::*;

const DEDUP_EXPIRE_KEY: &str = "
-- message_insert_deduplicated (expire): a key past its window no longer counts
delete from dedup where key = $1 and expires_at <= $2";

const DEDUP_CLAIM: &str = "
-- message_insert_deduplicated (claim): the first publish under a key claims it
insert into dedup (key, published, expires_at) values ($1, $2, $3) on conflict (key) do nothing";

const DEDUP_PUBLISHED: &str = "
-- message_insert_deduplicated (duplicate): the answer of the publish that claimed the key
select published from dedup where key = $1";

const DEDUP_DELETE_EXPIRED: &str = "
-- dedup_delete_expired: retention for keys whose window has passed
delete from dedup where key in (select key from dedup where expires_at <= $1 limit $2)";

const MESSAGE_GET: &str = "
-- message_get: one message by id, whatever its state
select * from messages where id = $1";

const MESSAGE_CANCEL: &str = "
-- message_cancel: cancel a pending message, or flag one in flight so it is not retried; log the change
with changed as (
    update messages
    set state = case when state = 'pending' then 'canceled' else state end,
        cancel_requested = (state = 'in_progress'),
        finished_at = case when state = 'pending' then $2 else finished_at end,
        updated_at = $2
    where id = $1 and state in ('pending', 'in_progress')
    returning id, state
), logged as (
    insert into message_events (message_id, time, state)
    select id, $2, case when state = 'canceled' then 'CANCELED' else 'CANCEL_REQUESTED' end from changed
)
select state from changed";

const MESSAGE_RUN_NOW: &str = "
-- message_run_now: make a waiting or retrying message due at once, keeping its attempt count; not one
-- waiting in a FIFO queue, whose turn comes in the queue's order
update messages set due_at = $2, updated_at = $2 where id = $1 and state = 'pending' and queue_name is null";

const MESSAGE_RUN_NOW_REFUSED: &str = "
-- message_run_now: why a message was not made due (its state, and the queue it waits in)
select state, queue_name from messages where id = $1";

const MESSAGE_STATE: &str = "
-- message_state: the state of one message
select state from messages where id = $1";

const MESSAGE_DELETE_FINISHED: &str = "
-- message_delete_finished: retention for finished messages no DLQ entry holds, with their log entries
with gone as (
    delete from messages where id in (
        select id from messages m
        where finished_at < $1 and not exists (select 1 from dlq d where d.message_id = m.id)
        limit $2)
    returning id
), events as (
    delete from message_events e using gone where e.message_id = gone.id
)
select count(*) from gone";

const MESSAGE_STATES: &str = "
-- message_states: the state of each of these messages that still exists
select id, state from messages where id = any($1)";

impl MessageStore for PgStore {
    shared::message_store!();

    async fn message_insert(&self, messages: &[NewMessage]) -> Result<()> {
        if fits_one_statement(messages) {
            // The usual case: one statement, no transaction of its own.
            return insert_message_run(&self.pool, messages).await;
        }
        let mut tx = self.pool.begin().await?;
        insert_messages(&mut tx, messages).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn message_insert_within(&self, messages: &[NewMessage], wait: Duration) -> Result<()> {
        // Only the wait for a connection is bounded: once the statement runs it is not abandoned, so a
        // publish is either stored and acknowledged or not stored.
        let mut conn = tokio::time::timeout(wait, self.pool.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        if fits_one_statement(messages) && !self.pool.transaction_pooler {
            return insert_message_run(&mut *conn, messages).await;
        }
        let mut tx = self.pool.begin_on(&mut conn).await?;
        insert_messages(&mut tx, messages).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn message_cancel(&self, now: i64, id: &str) -> Result<CancelResult> {
        let new_state: Option<String> = sqlx::query_scalar(MESSAGE_CANCEL)
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(state) = new_state {
            return Ok(crate::store::cancel_result(&state));
        }
        let state: Option<String> = sqlx::query_scalar(MESSAGE_STATE)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        crate::store::not_cancelable(id, state.as_deref())
    }

    async fn message_cancel_many(&self, now: i64, filter: &Filter) -> Result<u64> {
        let header =
            "-- message_cancel_many: cancel every pending match, flag every match in flight; log the changes\n";
        let cancelled: i64 = cancel_statement(header, now, filter, None)
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await?;
        Ok(cancelled as u64)
    }

    async fn message_delete_finished(&self, before: i64, limit: i64) -> Result<u64> {
        let deleted: i64 = sqlx::query_scalar(MESSAGE_DELETE_FINISHED)
            .bind(before)
            .bind(limit)
            .fetch_one(&self.pool)
            .await?;
        Ok(deleted as u64)
    }

    async fn message_states(&self, ids: &[String]) -> Result<Vec<(String, MessageState)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(MESSAGE_STATES).bind(ids).fetch_all(&self.pool).await?;
        crate::store::decode_states(rows)
    }
}

/// Message ids after `after` (from the first when `None`) up to and including `last`: one chunk of a bulk
/// action.
pub(super) type IdRange<'a> = (Option<&'a str>, &'a str);

/// The statement of `message_cancel_many` and of a bulk action's chunk (`header` names which): cancels
/// every pending message `filter` matches (within `range`, when given), flags every match in flight, logs
/// the changes and answers how many changed.
fn cancel_statement<'a>(
    header: &'static str,
    now: i64,
    filter: &Filter,
    range: Option<IdRange<'_>>,
) -> QueryBuilder<'a, sqlx::Postgres> {
    let mut qb = QueryBuilder::new(header);
    // The rows are locked in id order first, like completions lock theirs: two statements locking
    // overlapping rows in different orders could deadlock.
    qb.push("with locked as (select m.id from messages m where m.state in ('pending', 'in_progress')");
    // A delivery already asked to stop is not asked again, nor counted again.
    qb.push(" and not (m.state = 'in_progress' and m.cancel_requested)");
    push_filter(&mut qb, filter, "m.created_at", &DIALECT);
    if let Some((after, last)) = range {
        if let Some(after) = after {
            qb.push(" and m.id > ").push_bind(after.to_string());
        }
        qb.push(" and m.id <= ").push_bind(last.to_string());
    }
    qb.push(" order by m.id for update), ");
    qb.push("changed as (update messages m set state = case when m.state = 'pending' then 'canceled' ");
    qb.push("else m.state end, cancel_requested = (m.state = 'in_progress'), ");
    qb.push("finished_at = case when m.state = 'pending' then ");
    qb.push_bind(now);
    qb.push(" else m.finished_at end, updated_at = ");
    qb.push_bind(now);
    qb.push(" from locked where m.id = locked.id returning m.id, m.state), logged as (insert into message_events (message_id, time, state) ");
    qb.push("select id, ");
    qb.push_bind(now);
    qb.push(", case when state = 'canceled' then 'CANCELED' else 'CANCEL_REQUESTED' end from changed) ");
    qb.push("select count(*) from changed");
    qb
}

/// [`cancel_statement`] on `conn` (a bulk action's transaction): how many messages it changed.
pub(super) async fn cancel_matching(
    conn: &mut PgConnection,
    header: &'static str,
    now: i64,
    filter: &Filter,
    range: Option<IdRange<'_>>,
) -> Result<u64> {
    let cancelled: i64 = cancel_statement(header, now, filter, range)
        .build_query_scalar()
        .fetch_one(conn)
        .await?;
    Ok(cancelled as u64)
}
