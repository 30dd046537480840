//! Postgres: the dead-letter queue.

use super::*;

const DLQ_SELECT: &str = "
-- dlq_list / dlq_get: DLQ entries joined with their message
select m.*, d.dlq_id, d.response_status, d.response_header, d.response_body, d.error as dlq_error,
       d.created_at as dlq_created_at
from dlq d join messages m on m.id = d.message_id
where true";

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
    async fn dlq_list(&self, page: &DlqPage) -> Result<Vec<DlqEntry>> {
        let mut qb = QueryBuilder::new(DLQ_SELECT);
        push_filter(&mut qb, &page.filter, "d.created_at", &DIALECT);
        crate::store::push_dlq_page(&mut qb, page);
        let rows: Vec<DlqRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        decode_all(rows)
    }

    async fn dlq_get(&self, dlq_id: &str) -> Result<Option<DlqEntry>> {
        let mut qb = QueryBuilder::new(DLQ_SELECT);
        qb.push(" and d.dlq_id = ").push_bind(dlq_id);
        let row: Option<DlqRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        decode_one(row)
    }

    async fn dlq_delete(&self, dlq_ids: &[String]) -> Result<u64> {
        let done = sqlx::query(DLQ_DELETE).bind(dlq_ids).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn dlq_retry(&self, entries: &[(String, NewMessage)]) -> Result<Vec<String>> {
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

    async fn dlq_delete_expired(&self, before: i64, limit: i64) -> Result<u64> {
        let done = sqlx::query(DLQ_DELETE_EXPIRED)
            .bind(before)
            .bind(limit)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
