//! SQLite: the dead-letter queue.

use super::*;

const DLQ_DELETE_ONE: &str = "
-- dlq_delete / dlq_retry (take): remove one entry, if it is still there
delete from dlq where dlq_id = ?1";

const DLQ_DELETE_EXPIRED: &str = "
-- dlq_delete_expired: DLQ retention
delete from dlq where dlq_id in (select dlq_id from dlq where created_at < ?1 limit ?2)";

impl DlqStore for SqliteStore {
    shared::dlq_store!();

    async fn dlq_delete(&self, dlq_ids: &[DlqId]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut deleted = 0;
        for id in dlq_ids {
            deleted += sqlx::query(DLQ_DELETE_ONE)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn dlq_retry(&self, entries: &[(DlqId, NewMessage)]) -> Result<Vec<MessageId>> {
        let mut tx = self.begin_write().await?;
        let mut retried = Vec::new();
        for (dlq_id, message) in entries {
            let taken = sqlx::query(DLQ_DELETE_ONE).bind(dlq_id).execute(&mut *tx).await?;
            if taken.rows_affected() == 1 {
                insert_messages(&mut tx, std::slice::from_ref(message)).await?;
                retried.push(message.id.clone());
            }
        }
        tx.commit().await?;
        Ok(retried)
    }
}
