//! SQLite: async bulk actions.

use super::messages::cancel_matching;
use super::*;

const BULK_ACTION_GET: &str = "
-- bulk_action_get: one action by id
select * from bulk_actions where id = ?1";

const BULK_ACTION_LIST: &str = "
-- bulk_action_list: actions newest first, older than the cursor when given
select * from bulk_actions where (?1 is null or id < ?1) order by id desc limit ?2";

const BULK_ACTION_CLAIM: &str = "
-- bulk_action_claim: lease the oldest unfinished action no other worker holds, or one this worker holds
-- (one writer: no locks needed)
update bulk_actions set lease_holder = ?1, lease_until = ?3
where id = (select id from bulk_actions
            where state = 'in_progress' and (lease_holder = ?1 or lease_until is null or lease_until < ?2)
            order by created_at, id
            limit 1)
returning *";

const BULK_ACTION_HOLD: &str = "
-- bulk_action_step (hold): extend the lease, only while this worker holds the action at this progress
update bulk_actions set lease_until = ?4
where id = ?1 and lease_holder = ?2 and processed = ?3 and state = 'in_progress'
returning total";

const BULK_ACTION_NEXT_CHUNK: &str = "
-- bulk_action_step (chunk): the end of the next chunk of the selection
select position, last_id from bulk_action_chunks where action_id = ?1 and position > ?2
order by position limit 1";

const BULK_ACTION_PROGRESS: &str = "
-- bulk_action_step (progress): the chunk is done; after the last one the action is finished
update bulk_actions
set processed = ?2, cursor = ?3,
    state = case when ?2 >= total then 'finished' else state end,
    completed_at = case when ?2 >= total then ?4 end,
    lease_holder = case when ?2 >= total then null else lease_holder end,
    lease_until = case when ?2 >= total then null else lease_until end
where id = ?1";

const BULK_ACTION_FINISH: &str = "
-- bulk_action_step (finish): no chunk is left
update bulk_actions set state = 'finished', completed_at = ?2, lease_holder = null, lease_until = null
where id = ?1";

const BULK_ACTION_DELETE_FINISHED: &str = "
-- bulk_action_delete_finished: retention for finished actions (their chunks go with them: on delete cascade)
delete from bulk_actions where id in (select id from bulk_actions where completed_at < ?1 limit ?2)";

const BULK_ACTION_INSERT: &str = "
-- bulk_action_create (action): the action, before its chunks (whose foreign key SQLite checks at once)
insert into bulk_actions (id, kind, state, filter, total, processed, created_at)
values (?1, 'cancel', 'in_progress', ?2, 0, 0, ?3)";

const BULK_ACTION_COUNTED: &str = "
-- bulk_action_create (total): the exact total is the position of the last chunk; none: finished at once
update bulk_actions
set total = (select coalesce(max(position), 0) from bulk_action_chunks where action_id = ?1),
    state = case when exists (select 1 from bulk_action_chunks where action_id = ?1) then 'in_progress'
                 else 'finished' end,
    completed_at = case when exists (select 1 from bulk_action_chunks where action_id = ?1) then null
                        else ?2 end
where id = ?1
returning *";

impl BulkActionStore for SqliteStore {
    shared::bulk_action_store!();

    async fn bulk_action_create(&self, action: &NewBulkAction) -> Result<BulkAction> {
        let filter = serde_json::to_string(&action.filter).expect("a filter serialises");
        let mut tx = self.begin_write().await?;
        sqlx::query(BULK_ACTION_INSERT)
            .bind(action.id.as_str())
            .bind(&filter)
            .bind(action.now)
            .execute(&mut *tx)
            .await?;
        let mut qb = QueryBuilder::new(
            "
-- bulk_action_create (chunks): what the filter selects now, cut into chunks of the selection
insert into bulk_action_chunks (action_id, position, last_id)
select ",
        );
        qb.push_bind(action.id.as_str().to_string());
        qb.push(
            ", position, id from (
    select m.id, row_number() over w as position, lead(m.id) over w as next_id
    from messages m
    where m.state in ('pending', 'in_progress') and not (m.state = 'in_progress' and m.cancel_requested)",
        );
        push_filter(&mut qb, &action.filter, "m.created_at", &DIALECT);
        if action.selects_nothing {
            qb.push(" and false");
        }
        qb.push(
            "
    window w as (order by m.id)
) where position % ",
        );
        qb.push_bind(action.chunk.max(1));
        qb.push(" = 0 or next_id is null");
        qb.build().execute(&mut *tx).await?;
        let row: BulkActionRow = sqlx::query_as(BULK_ACTION_COUNTED)
            .bind(action.id.as_str())
            .bind(action.now)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Decode::decode(row)
    }
}
