//! SQLite: async bulk actions (the statements; the steps are shared, in `shared::bulk_actions`).

use super::messages::cancel_matching;
use super::*;

const BULK_ACTION_CREATE: &str = "
-- bulk_action_create: the action with its filter and its bound, the greatest message id now (one read at
-- the end of the primary key, whatever the number of matches); finished at once when it selects nothing
-- (an explicit empty id list, or no message at all)
with bound as (select case when ?5 then null else (select max(id) from messages) end as cutoff)
insert into bulk_actions (id, kind, state, filter, cutoff, chunk, total, processed, created_at, completed_at)
select ?1, 'cancel', case when cutoff is null then 'finished' else 'in_progress' end, ?2, cutoff, ?3,
       case when cutoff is null then 0 end, 0, ?4, case when cutoff is null then ?4 end
from bound
returning *";

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
update bulk_actions set lease_until = ?5
where id = ?1 and lease_holder = ?2 and processed = ?3 and total is ?4 and state = 'in_progress'
returning cutoff, counted_at, chunk";

const BULK_ACTION_COUNTED: &str = "
-- bulk_action_step (counted): the selection's total, and when it was counted
update bulk_actions set total = ?2, counted_at = ?3 where id = ?1";

const BULK_ACTION_PROGRESS: &str = "
-- bulk_action_step (progress): the chunk is done; after the last one the action is finished
update bulk_actions
set processed = ?2, cursor = ?3,
    state = case when ?5 then 'finished' else state end,
    completed_at = case when ?5 then ?4 end,
    lease_holder = case when ?5 then null else lease_holder end,
    lease_until = case when ?5 then null else lease_until end
where id = ?1";

const BULK_ACTION_FINISH: &str = "
-- bulk_action_step (finish): nothing is left to do
update bulk_actions set state = 'finished', completed_at = ?2, lease_holder = null, lease_until = null
where id = ?1";

const BULK_ACTION_DELETE_FINISHED: &str = "
-- bulk_action_delete_finished: retention for finished actions
delete from bulk_actions where id in (select id from bulk_actions where completed_at < ?1 limit ?2)";

impl BulkActionStore for SqliteStore {
    shared::bulk_action_store!();
}

/// The rest of a bulk action's selection after its bound: what its filter matches and was not finished
/// before `since` (see `shared::bulk_actions`).
fn push_selected(qb: &mut QueryBuilder<'_, sqlx::Sqlite>, filter: &Filter, since: i64) {
    qb.push(" and (m.finished_at is null or m.finished_at >= ")
        .push_bind(since)
        .push(")");
    push_filter(qb, filter, "m.created_at", &DIALECT);
}
