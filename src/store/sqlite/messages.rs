//! SQLite: accepted messages: insert (with deduplication), read, cancel, retention, log.

use super::*;

const DEDUP_EXPIRE_KEY: &str = "
-- message_insert_deduplicated (expire): a key past its window no longer counts
delete from dedup where key = ?1 and expires_at <= ?2";

const DEDUP_CLAIM: &str = "
-- message_insert_deduplicated (claim): the first publish under a key claims it
insert into dedup (key, published, expires_at) values (?1, ?2, ?3) on conflict (key) do nothing";

const DEDUP_PUBLISHED: &str = "
-- message_insert_deduplicated (duplicate): the answer of the publish that claimed the key
select published from dedup where key = ?1";

const DEDUP_DELETE_EXPIRED: &str = "
-- dedup_delete_expired: retention for keys whose window has passed
delete from dedup where key in (select key from dedup where expires_at <= ?1 limit ?2)";

const MESSAGE_GET: &str = "
-- message_get: one message by id, whatever its state
select * from messages where id = ?1";

const MESSAGE_CANCEL: &str = "
-- message_cancel: cancel a pending message, or flag one in flight so it is not retried
update messages
set state = case when state = 'pending' then 'canceled' else state end,
    cancel_requested = (state = 'in_progress'),
    finished_at = case when state = 'pending' then ?2 else finished_at end,
    updated_at = ?2
where id = ?1 and state in ('pending', 'in_progress')
returning id, state";

const MESSAGE_RUN_NOW: &str = "
-- message_run_now: make a waiting or retrying message due at once, keeping its attempt count; not one
-- waiting in a FIFO queue, whose turn comes in the queue's order
update messages set due_at = ?2, updated_at = ?2 where id = ?1 and state = 'pending' and queue_name is null";

const MESSAGE_RUN_NOW_REFUSED: &str = "
-- message_run_now: why a message was not made due (its state, and the queue it waits in)
select state, queue_name from messages where id = ?1";

const MESSAGE_STATE: &str = "
-- message_state: the state of one message
select state from messages where id = ?1";

const MESSAGE_DELETE_FINISHED: &str = "
-- message_delete_finished: retention for finished messages no DLQ entry holds
delete from messages where id in (
    select id from messages m
    where finished_at < ?1 and not exists (select 1 from dlq d where d.message_id = m.id)
    limit ?2)";

const MESSAGE_STATE_OF: &str = "
-- message_states: the state of one message, if it still exists
select id, state from messages where id = ?1";

impl MessageStore for SqliteStore {
    shared::message_store!();

    async fn message_insert(&self, messages: &[NewMessage]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_messages(&mut tx, messages).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn message_insert_within(&self, messages: &[NewMessage], wait: Duration) -> Result<()> {
        // Only the wait for the writer is bounded: once the transaction runs it is not abandoned.
        let mut conn = tokio::time::timeout(wait, self.writer.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        insert_messages(&mut tx, messages).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn message_cancel(&self, now: i64, id: &str) -> Result<CancelResult> {
        let mut tx = self.begin_write().await?;
        let changed: Option<(String, String)> = sqlx::query_as(MESSAGE_CANCEL)
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((id, state)) = changed {
            log(&mut tx, now, Event::new(&id, log_state(&state, "CANCELED"))).await?;
            tx.commit().await?;
            return Ok(crate::store::cancel_result(&state));
        }
        drop(tx);
        let state: Option<String> = sqlx::query_scalar(MESSAGE_STATE)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        crate::store::not_cancelable(id, state.as_deref())
    }

    async fn message_cancel_many(&self, now: i64, filter: &Filter) -> Result<u64> {
        let header = "-- message_cancel_many: cancel every pending match, flag every match in flight\n";
        let mut tx = self.begin_write().await?;
        let cancelled = cancel_matching(&mut tx, header, now, filter, None).await?;
        tx.commit().await?;
        Ok(cancelled)
    }

    async fn message_delete_finished(&self, before: i64, limit: i64) -> Result<u64> {
        let done = sqlx::query(MESSAGE_DELETE_FINISHED)
            .bind(before)
            .bind(limit)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn message_states(&self, ids: &[String]) -> Result<Vec<(String, MessageState)>> {
        let mut states = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<(String, String)> = sqlx::query_as(MESSAGE_STATE_OF)
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
            states.extend(row);
        }
        crate::store::decode_states(states)
    }
}

/// Message ids after `after` (from the first when `None`) up to and including `last`: one chunk of a bulk
/// action.
pub(super) type IdRange<'a> = (Option<&'a str>, &'a str);

/// The statement of `message_cancel_many` and of a bulk action's chunk (`header` names which), in the
/// caller's write transaction: cancels every pending message `filter` matches (within `range`, when
/// given), flags every match in flight, logs the changes and answers how many changed.
pub(super) async fn cancel_matching(
    conn: &mut sqlx::SqliteConnection,
    header: &'static str,
    now: i64,
    filter: &Filter,
    range: Option<IdRange<'_>>,
) -> Result<u64> {
    // SQLite's UPDATE takes no table alias, so the filter's `m.` columns read from a subquery.
    let mut qb = QueryBuilder::new(header);
    qb.push("update messages set state = case when state = 'pending' then 'canceled' else state end, ");
    qb.push("cancel_requested = (state = 'in_progress'), finished_at = case when state = 'pending' then ");
    qb.push_bind(now);
    qb.push(" else finished_at end, updated_at = ");
    qb.push_bind(now);
    qb.push(" where id in (select m.id from messages m where m.state in ('pending', 'in_progress')");
    // A delivery already asked to stop is not asked again, nor counted again.
    qb.push(" and not (m.state = 'in_progress' and m.cancel_requested)");
    push_filter(&mut qb, filter, "m.created_at", &DIALECT);
    if let Some((after, last)) = range {
        if let Some(after) = after {
            qb.push(" and m.id > ").push_bind(after.to_string());
        }
        qb.push(" and m.id <= ").push_bind(last.to_string());
    }
    qb.push(") returning id, state");
    let changed: Vec<(String, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut log = EventLog::default();
    for (id, state) in &changed {
        log.push(now, Event::new(id, log_state(state, "CANCELED")));
    }
    log.write(conn).await?;
    Ok(changed.len() as u64)
}
