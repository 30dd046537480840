//! The dead-letter queue: reading and retention (deleting and retrying differ: Postgres binds arrays).

macro_rules! dlq_store {
    () => {
        async fn dlq_list(&self, page: &DlqPage) -> Result<Vec<DlqEntry>> {
            let mut qb = crate::store::list_query::ListQuery::dlq(page, &DIALECT);
            let rows: Vec<DlqRow> = qb.build_query_as().fetch_all(self.reads()).await?;
            decode_all(rows)
        }

        async fn dlq_get(&self, dlq_id: &str) -> Result<Option<DlqEntry>> {
            Ok(self.dlq_list(&DlqPage::only(dlq_id)).await?.pop())
        }

        $crate::store::shared::binds_in_order! {
            dlq_delete_expired(before: i64, limit: i64) -> u64 = DLQ_DELETE_EXPIRED;
        }
    };
}

pub(in crate::store) use dlq_store;
