//! Queues: every operation but `queue_get` (whose SQL the backend appends a placeholder to).

/// The same text on both databases (it has no placeholders, like `store::EVENT_SELECT`); each backend appends
/// its own condition.
pub(in crate::store) const QUEUE_SELECT: &str = "
-- queue_get / queue_list: queues with their lag
select q.name, q.parallelism, q.paused, q.created_at, q.updated_at,
       (select count(*) from messages m
        where m.queue_name = q.name and m.state in ('pending', 'in_progress')) as lag
from queues q";

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
