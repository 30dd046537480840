//! Queues: every operation but `queue_get` (whose SQL the backend appends a placeholder to).

macro_rules! queue_store {
    () => {
        async fn queue_list(&self) -> Result<Vec<Queue>> {
            let query = format!("{QUEUE_SELECT} order by q.name");
            Ok(sqlx::query_as(&query).fetch_all(self.reads()).await?)
        }

        $crate::store::shared::binds_in_order! {
            queue_upsert(name: &str, parallelism: i32, paused: bool, now: i64) -> () = QUEUE_UPSERT;
            queue_ensure(name: &str, now: i64) -> () = QUEUE_ENSURE;
            queue_delete(name: &str) -> bool = QUEUE_DELETE;
            queue_set_paused(name: &str, paused: bool, now: i64) -> bool = QUEUE_SET_PAUSED;
        }
    };
}

pub(in crate::store) use queue_store;
