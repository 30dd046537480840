//! SQLite: queues.

use super::*;
use shared::QUEUE_SELECT;

const QUEUE_UPSERT: &str = "
-- queue_upsert: create a queue, or set its parallelism and paused state
insert into queues (name, parallelism, paused, created_at, updated_at) values (?1, ?2, ?3, ?4, ?4)
on conflict (name) do update set parallelism = excluded.parallelism, paused = excluded.paused,
                                 updated_at = excluded.updated_at";

const QUEUE_ENSURE: &str = "
-- queue_ensure: create a queue with parallelism 1 unless it exists
insert into queues (name, parallelism, paused, created_at, updated_at) values (?1, 1, false, ?2, ?2)
on conflict (name) do nothing";

const QUEUE_DELETE: &str = "
-- queue_delete: remove a queue
delete from queues where name = ?1";

const QUEUE_SET_PAUSED: &str = "
-- queue_set_paused: pause or resume a queue
update queues set paused = ?2, updated_at = ?3 where name = ?1";

impl QueueStore for SqliteStore {
    shared::queue_store!();

    async fn queue_get(&self, name: &str) -> Result<Option<Queue>> {
        let query = format!("{QUEUE_SELECT} where q.name = ?1");
        Ok(sqlx::query_as(&query).bind(name).fetch_optional(&self.reader).await?)
    }
}
