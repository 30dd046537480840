//! Async bulk actions: every operation but `bulk_action_create` (Postgres stores an action and its chunks
//! in one statement, SQLite in a transaction of several). The chunk's cancel is each backend's
//! `cancel_matching`.

macro_rules! bulk_action_store {
    () => {
        async fn bulk_action_get(&self, id: &str) -> Result<Option<BulkAction>> {
            let row: Option<BulkActionRow> = sqlx::query_as(BULK_ACTION_GET)
                .bind(id)
                .fetch_optional(self.reads())
                .await?;
            decode_one(row)
        }

        async fn bulk_action_list(&self, before: Option<&str>, limit: i64) -> Result<Vec<BulkAction>> {
            let rows: Vec<BulkActionRow> = sqlx::query_as(BULK_ACTION_LIST)
                .bind(before)
                .bind(limit)
                .fetch_all(self.reads())
                .await?;
            decode_all(rows)
        }

        async fn bulk_action_claim(&self, lease: &BulkLease<'_>) -> Result<Option<BulkAction>> {
            let row: Option<BulkActionRow> = sqlx::query_as(BULK_ACTION_CLAIM)
                .bind(lease.holder)
                .bind(lease.now)
                .bind(lease.until)
                .fetch_optional(self.writes())
                .await?;
            decode_one(row)
        }

        async fn bulk_action_step(&self, action: &BulkAction, lease: &BulkLease<'_>) -> Result<BulkStep> {
            let mut tx = self.begin_write().await?;
            // First the action's row (the only lock a step takes besides its messages', always before them).
            let held: Option<i64> = sqlx::query_scalar(BULK_ACTION_HOLD)
                .bind(action.id.as_str())
                .bind(lease.holder)
                .bind(action.processed)
                .bind(lease.until)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(total) = held else {
                return Ok(BulkStep::NotHeld);
            };
            let next: Option<(i64, String)> = sqlx::query_as(BULK_ACTION_NEXT_CHUNK)
                .bind(action.id.as_str())
                .bind(action.processed)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((position, last_id)) = next else {
                sqlx::query(BULK_ACTION_FINISH)
                    .bind(action.id.as_str())
                    .bind(lease.now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(BulkStep::Finished);
            };
            let header = "-- bulk_action_step (cancel): cancel the chunk's pending matches, flag those in flight\n";
            let range = (action.cursor.as_deref(), last_id.as_str());
            let cancelled = cancel_matching(&mut tx, header, lease.now, &action.filter, Some(range)).await?;
            sqlx::query(BULK_ACTION_PROGRESS)
                .bind(action.id.as_str())
                .bind(position)
                .bind(&last_id)
                .bind(lease.now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(BulkStep::Chunk {
                processed: position,
                cancelled,
                finished: position >= total,
            })
        }

        $crate::store::shared::binds_in_order! {
            bulk_action_delete_finished(before: i64, limit: i64) -> u64 = BULK_ACTION_DELETE_FINISHED;
        }
    };
}

pub(in crate::store) use bulk_action_store;
