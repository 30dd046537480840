//! Postgres: async bulk actions.

use super::messages::cancel_matching;
use super::*;

const BULK_ACTION_GET: &str = "
-- bulk_action_get: one action by id
select * from bulk_actions where id = $1";

const BULK_ACTION_LIST: &str = "
-- bulk_action_list: actions newest first, older than the cursor when given
select * from bulk_actions where ($1::text is null or id < $1) order by id desc limit $2";

const BULK_ACTION_CLAIM: &str = "
-- bulk_action_claim: lease the oldest unfinished action no other worker holds, or one this worker holds;
-- skip one another worker is stepping right now
update bulk_actions set lease_holder = $1, lease_until = $3
where id = (select id from bulk_actions
            where state = 'in_progress' and (lease_holder = $1 or lease_until is null or lease_until < $2)
            order by created_at, id
            limit 1
            for update skip locked)
returning *";

const BULK_ACTION_HOLD: &str = "
-- bulk_action_step (hold): extend the lease, only while this worker holds the action at this progress
update bulk_actions set lease_until = $4
where id = $1 and lease_holder = $2 and processed = $3 and state = 'in_progress'
returning total";

const BULK_ACTION_NEXT_CHUNK: &str = "
-- bulk_action_step (chunk): the end of the next chunk of the selection
select position, last_id from bulk_action_chunks where action_id = $1 and position > $2
order by position limit 1";

const BULK_ACTION_PROGRESS: &str = "
-- bulk_action_step (progress): the chunk is done; after the last one the action is finished
update bulk_actions
set processed = $2, cursor = $3,
    state = case when $2 >= total then 'finished' else state end,
    completed_at = case when $2 >= total then $4::bigint end,
    lease_holder = case when $2 >= total then null else lease_holder end,
    lease_until = case when $2 >= total then null else lease_until end
where id = $1";

const BULK_ACTION_FINISH: &str = "
-- bulk_action_step (finish): no chunk is left
update bulk_actions set state = 'finished', completed_at = $2, lease_holder = null, lease_until = null
where id = $1";

const BULK_ACTION_DELETE_FINISHED: &str = "
-- bulk_action_delete_finished: retention for finished actions, with their chunks
delete from bulk_actions where id in (select id from bulk_actions where completed_at < $1 limit $2)";

impl BulkActionStore for PgStore {
    shared::bulk_action_store!();

    async fn bulk_action_create(&self, action: &NewBulkAction) -> Result<BulkAction> {
        let filter = serde_json::to_string(&action.filter).expect("a filter serialises");
        let mut qb = QueryBuilder::new(
            "
-- bulk_action_create: what the filter selects now, cut into chunks of the selection; the action with its
-- exact total, finished at once when it selects nothing
with matched as (
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
), ends as (
    select id, position from matched where position % ",
        );
        qb.push_bind(action.chunk.max(1));
        qb.push(
            " = 0 or next_id is null
), chunks as (
    insert into bulk_action_chunks (action_id, position, last_id) select ",
        );
        qb.push_bind(action.id.as_str().to_string());
        qb.push(
            ", position, id from ends
), counted as (
    select coalesce(max(position), 0) as total from ends
)
insert into bulk_actions (id, kind, state, filter, total, processed, created_at, completed_at)
select ",
        );
        qb.push_bind(action.id.as_str().to_string());
        qb.push(", 'cancel', case when total = 0 then 'finished' else 'in_progress' end, ");
        qb.push_bind(filter);
        qb.push(", total, 0, ");
        qb.push_bind(action.now);
        qb.push(", case when total = 0 then ");
        qb.push_bind(action.now);
        qb.push("::bigint end from counted returning *");
        let row: BulkActionRow = qb.build_query_as().fetch_one(&self.pool).await?;
        Decode::decode(row)
    }
}
