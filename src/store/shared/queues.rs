//! Queues: every operation but `queue_get` (whose SQL the backend appends a placeholder to).

macro_rules! queue_store {
    () => {
        async fn queue_upsert(&self, name: &str, parallelism: i32, paused: bool, now: i64) -> Result<()> {
            sqlx::query(QUEUE_UPSERT)
                .bind(name)
                .bind(parallelism)
                .bind(paused)
                .bind(now)
                .execute(self.writes())
                .await?;
            Ok(())
        }

        async fn queue_ensure(&self, name: &str, now: i64) -> Result<()> {
            sqlx::query(QUEUE_ENSURE)
                .bind(name)
                .bind(now)
                .execute(self.writes())
                .await?;
            Ok(())
        }

        async fn queue_list(&self) -> Result<Vec<Queue>> {
            let query = format!("{QUEUE_SELECT} order by q.name");
            Ok(sqlx::query_as(&query).fetch_all(self.reads()).await?)
        }

        $crate::store::shared::changes_one_row! {
            queue_delete(name: &str) = QUEUE_DELETE;
            queue_set_paused(name: &str, paused: bool, now: i64) = QUEUE_SET_PAUSED;
        }
    };
}

pub(in crate::store) use queue_store;
