//! Accepted messages: deduplication, reading, running now and the list pages (inserting, cancelling,
//! retention and `message_states` differ: Postgres logs events and binds arrays in the statement itself);
//! and of the delivery cycle only `message_next_due_at`, the hot path being each backend's own.

macro_rules! message_store {
    () => {
        async fn message_insert_deduplicated(
            &self,
            dedup: &DedupEntry<'_>,
            now: i64,
            messages: &[NewMessage],
        ) -> Result<Option<String>> {
            let mut tx = self.begin_write().await?;
            sqlx::query(DEDUP_EXPIRE_KEY)
                .bind(dedup.key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let claimed = sqlx::query(DEDUP_CLAIM)
                .bind(dedup.key)
                .bind(dedup.published)
                .bind(dedup.expires_at)
                .execute(&mut *tx)
                .await?;
            if claimed.rows_affected() == 0 {
                let original: String = sqlx::query_scalar(DEDUP_PUBLISHED)
                    .bind(dedup.key)
                    .fetch_one(&mut *tx)
                    .await?;
                return Ok(Some(original));
            }
            insert_messages(&mut tx, messages).await?;
            tx.commit().await?;
            Ok(None)
        }

        $crate::store::shared::binds_in_order! {
            dedup_delete_expired(now: i64, limit: i64) -> u64 = DEDUP_DELETE_EXPIRED;
        }

        async fn message_get(&self, id: &str) -> Result<Option<Message>> {
            let row: Option<MessageRow> = sqlx::query_as(MESSAGE_GET)
                .bind(id)
                .fetch_optional(self.reads())
                .await?;
            decode_one(row)
        }

        async fn message_run_now(&self, now: i64, id: &str) -> Result<RunNowResult> {
            let done = sqlx::query(MESSAGE_RUN_NOW)
                .bind(id)
                .bind(now)
                .execute(self.writes())
                .await?;
            if done.rows_affected() == 1 {
                return Ok(RunNowResult::Due);
            }
            let found: Option<(String, Option<String>)> = sqlx::query_as(MESSAGE_RUN_NOW_REFUSED)
                .bind(id)
                .fetch_optional(self.reads())
                .await?;
            Ok(crate::store::not_runnable(found))
        }

        async fn message_list(&self, page: &MessagePage) -> Result<Vec<Message>> {
            let mut qb = crate::store::list_query::ListQuery::messages(page, &DIALECT);
            let rows: Vec<MessageRow> = qb.build_query_as().fetch_all(self.reads()).await?;
            decode_all(rows)
        }

        async fn list_window_end(&self, window: &ListWindow<'_>, rows: i64) -> Result<Option<String>> {
            let mut qb = crate::store::list_query::ListQuery::window_end(window, rows);
            Ok(qb.build_query_scalar().fetch_optional(self.reads()).await?)
        }

        async fn event_list(&self, page: &EventPage) -> Result<Vec<LogEntry>> {
            let mut qb = crate::store::list_query::ListQuery::events(page, &DIALECT);
            let rows: Vec<EventRow> = qb.build_query_as().fetch_all(self.reads()).await?;
            decode_all(rows)
        }
    };
}

macro_rules! delivery_store {
    () => {
        async fn message_next_due_at(&self, now: i64) -> Result<Option<i64>> {
            Ok(sqlx::query_scalar(MESSAGE_NEXT_DUE_AT)
                .bind(now)
                .fetch_one(self.reads())
                .await?)
        }
    };
}

/// The claim's queue rule, one text for both databases' claim statements (it has no placeholders): a queued
/// message waits until fewer than its queue's `parallelism` unfinished messages are ahead of it.
macro_rules! queue_turn_sql {
    () => {
        "
-- a queued message waits until fewer than `parallelism` unfinished ones are ahead of it
and (queue_name is null or exists (
      select 1 from queues q
      where q.name = messages.queue_name and not q.paused
        and (select count(*) from messages ahead
             where ahead.queue_name = messages.queue_name and ahead.state in ('pending', 'in_progress')
               and ahead.queue_order < messages.queue_order) < q.parallelism))"
    };
}

pub(in crate::store) use {delivery_store, message_store, queue_turn_sql};
