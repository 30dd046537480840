//! Postgres: the dead-letter queue.

use super::*;

const DLQ_DELETE: &str = "
-- dlq_delete: remove entries by id
delete from dlq where dlq_id = any($1)";

const DLQ_DELETE_ONE: &str = "
-- dlq_retry (take): remove one entry, if it is still there
delete from dlq where dlq_id = $1";

const DLQ_DELETE_EXPIRED: &str = "
-- dlq_delete_expired: DLQ retention
delete from dlq where dlq_id in (select dlq_id from dlq where created_at < $1 limit $2)";

impl DlqStore for PgStore {
    shared::dlq_store!();

    async fn dlq_delete(&self, dlq_ids: &[DlqId]) -> Result<u64> {
        let done = sqlx::query(DLQ_DELETE).bind(dlq_ids).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn dlq_retry(&self, entries: &[(DlqId, NewMessage)]) -> Result<Vec<MessageId>> {
        let mut tx = self.pool.begin().await?;
        let mut retried = Vec::new();
        for (dlq_id, message) in entries {
            let taken = sqlx::query(DLQ_DELETE_ONE).bind(dlq_id).execute(&mut *tx).await?;
            if taken.rows_affected() == 1 {
                retried.push(message.clone());
            }
        }
        let ids = retried.iter().map(|m| m.id.clone()).collect();
        insert_messages(&mut tx, &retried).await?;
        tx.commit().await?;
        Ok(ids)
    }
}
