//! Async bulk actions: the operations both backends share; each backend has its statements (`BULK_ACTION_*`)
//! and its chunk's cancel (`cancel_matching`, the statement of `message_cancel_many` within an id range).
//!
//! Acceptance stores the filter and a bound (the greatest message id then; message ids sort by creation
//! time, so later messages sort after it). The worker's first step counts the selection: the messages the
//! filter matches up to the bound that were not finished before the count ([`SELECTED_SINCE_SLACK`]
//! before it, exactly). Every later step walks the next chunk of the same selection in id order, cancels
//! what of it waits (or flags what is in flight) and adds the whole chunk to `processed`, those it found
//! delivered, failed, canceled or asked to stop included. A message's `finished_at` is set once, when it
//! ends, and never moves back, so whether it is selected cannot change between the count and the walk:
//! the walk meets exactly `total` messages, and `processed = total` when it ends.

/// How long before the count a message may have ended and still be selected. Another instance may finish a
/// message just after the count with a clock slightly behind this one's; were its `finished_at` earlier
/// than the count, the walk would skip a message the count took. A message that ended within the slack
/// is counted and found already ended, so the walk still meets what the count took.
pub(in crate::store) const SELECTED_SINCE_SLACK: i64 = 10_000;

macro_rules! bulk_action_store {
    () => {
        async fn bulk_action_create(&self, action: &NewBulkAction) -> Result<BulkAction> {
            let filter = serde_json::to_string(&action.filter).expect("a filter serialises");
            let row: BulkActionRow = sqlx::query_as(BULK_ACTION_CREATE)
                .bind(action.id.as_str())
                .bind(filter)
                .bind(action.chunk.max(1))
                .bind(action.now)
                .bind(action.selects_nothing)
                .fetch_one(self.writes())
                .await?;
            Decode::decode(row)
        }

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
            let held: Option<(Option<String>, Option<i64>, i64)> = sqlx::query_as(BULK_ACTION_HOLD)
                .bind(action.id.as_str())
                .bind(lease.holder)
                .bind(action.processed)
                .bind(action.total)
                .bind(lease.until)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((cutoff, counted_at, chunk)) = held else {
                return Ok(BulkStep::NotHeld);
            };
            let (cutoff, total) = match (cutoff, action.total) {
                (Some(cutoff), Some(total)) => (cutoff, total),
                // The first step: count the selection.
                (cutoff, _) => {
                let total = match cutoff {
                    Some(cutoff) => {
                        let since = lease.now - $crate::store::shared::SELECTED_SINCE_SLACK;
                        let mut qb = QueryBuilder::new(
                            "-- bulk_action_step (count): the messages the action selects\nselect count(*) from messages m where m.id <= ",
                        );
                        qb.push_bind(cutoff);
                        push_selected(&mut qb, &action.filter, since);
                        let total: i64 = qb.build_query_scalar().fetch_one(&mut *tx).await?;
                        total
                    }
                    None => 0,
                };
                if total == 0 {
                    sqlx::query(BULK_ACTION_FINISH)
                        .bind(action.id.as_str())
                        .bind(lease.now)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(BULK_ACTION_COUNTED)
                    .bind(action.id.as_str())
                    .bind(total)
                    .bind(lease.now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(BulkStep::Counted { total });
                }
            };
            let since = counted_at.unwrap_or(action.created_at) - $crate::store::shared::SELECTED_SINCE_SLACK;
            let mut qb = QueryBuilder::new(
                "-- bulk_action_step (chunk): the next chunk of the selection, in id order\nselect m.id from messages m where m.id <= ",
            );
            qb.push_bind(cutoff);
            if let Some(after) = &action.cursor {
                qb.push(" and m.id > ").push_bind(after.as_str().to_string());
            }
            push_selected(&mut qb, &action.filter, since);
            qb.push(" order by m.id limit ").push_bind(chunk);
            let ids: Vec<String> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
            let Some(last_id) = ids.last() else {
                sqlx::query(BULK_ACTION_FINISH)
                    .bind(action.id.as_str())
                    .bind(lease.now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(BulkStep::Finished);
            };
            let header = "-- bulk_action_step (cancel): cancel the chunk's pending matches, flag those in flight\n";
            let range = (action.cursor.as_ref().map(|c| c.as_str()), last_id.as_str());
            let cancelled = cancel_matching(&mut tx, header, lease.now, &action.filter, Some(range)).await?;
            let processed = action.processed + ids.len() as i64;
            // A short chunk is the end of the walk; a full one may be followed by an empty one.
            let finished = (ids.len() as i64) < chunk || processed >= total;
            sqlx::query(BULK_ACTION_PROGRESS)
                .bind(action.id.as_str())
                .bind(processed)
                .bind(last_id)
                .bind(lease.now)
                .bind(finished)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(BulkStep::Chunk {
                processed,
                cancelled,
                finished,
            })
        }

        $crate::store::shared::binds_in_order! {
            bulk_action_delete_finished(before: i64, limit: i64) -> u64 = BULK_ACTION_DELETE_FINISHED;
        }
    };
}

pub(in crate::store) use bulk_action_store;
