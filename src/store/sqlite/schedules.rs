//! SQLite: cron schedules, firing and the scheduler lock.

use super::*;
use shared::SCHEDULE_UPSERT;

const SCHEDULE_GET: &str = "
-- schedule_get: one schedule by id
select * from schedules where id = ?1";

const SCHEDULE_LIST: &str = "
-- schedule_list: every schedule, oldest first
select * from schedules order by created_at, id";

const SCHEDULE_DELETE: &str = "
-- schedule_delete: remove a schedule (the messages it fired stay)
delete from schedules where id = ?1";

const SCHEDULE_PAUSE: &str = "
-- schedule_pause: stop firing; slots passing meanwhile are skipped, not queued
update schedules set is_paused = true, updated_at = ?2 where id = ?1";

const SCHEDULE_RESUME: &str = "
-- schedule_resume: fire again from the next slot after now
update schedules set is_paused = false, next_fire_at = ?2, updated_at = ?3 where id = ?1";

const SCHEDULE_DUE: &str = "
-- schedule_due: schedules whose next slot has come, earliest first
select * from schedules where not is_paused and next_fire_at <= ?1 order by next_fire_at limit ?2";

const SCHEDULE_NEXT_FIRE_AT: &str = "
-- schedule_next_fire_at: the earliest slot of any schedule that is not paused
select min(next_fire_at) from schedules where not is_paused";

const LEADER_ACQUIRE: &str = "
-- leader_acquire: take the lease of a singleton loop if nobody holds it or its lease lapsed; next term
insert into leader_leases (name, holder, term, lease_until) values (?1, ?2, 1, ?4)
on conflict (name) do update
set holder = excluded.holder, term = leader_leases.term + 1, lease_until = excluded.lease_until
where leader_leases.lease_until < ?3
returning term";

const LEADER_RENEW: &str = "
-- leader_renew: extend the lease, only while this holder's term is the current one
update leader_leases set lease_until = ?4 where name = ?1 and holder = ?2 and term = ?3";

const LEADER_RELEASE: &str = "
-- leader_release: let another instance take over at once (on shutdown)
update leader_leases set lease_until = 0 where name = ?1 and holder = ?2 and term = ?3";

impl ScheduleStore for SqliteStore {
    shared::schedule_store!();

    async fn schedule_fire(&self, now: i64, fires: &[Fire]) -> Result<Vec<ScheduleId>> {
        let mut tx = self.begin_write().await?;
        let advanced = advance_schedules(&mut tx, now, fires).await?;
        let fired: Vec<&Fire> = fires
            .iter()
            .filter(|f| advanced.contains(f.schedule_id.as_str()))
            .collect();
        let messages: Vec<NewMessage> = fired.iter().flat_map(|f| f.messages.iter().cloned()).collect();
        insert_messages(&mut tx, &messages).await?;
        tx.commit().await?;
        Ok(fired.into_iter().map(|f| f.schedule_id.clone()).collect())
    }
}
