//! Postgres: flow-control keys and the claim that respects them.

use super::*;
use shared::FLOW_CONTROL_SELECT;

const FLOW_CONTROL_READY: &str = "
-- message_claim_flow_controlled (keys): keys not paused with due messages, locked for this claim
select k.key, k.parallelism, k.rate, k.period_ms, k.rate_count, k.rate_period_start,
       (select count(*) from messages m where m.flow_control_key = k.key and m.state = 'in_progress') as in_flight
from flow_control_keys k
where not k.paused
  and exists (select 1 from messages m where m.flow_control_key = k.key and m.state = 'pending' and m.due_at <= $1)
order by k.key
limit 1000
for update of k skip locked";

const FLOW_CONTROL_COUNT: &str = "
-- message_claim_flow_controlled (count): record the deliveries started in the key's rate window
update flow_control_keys set rate_count = $2, rate_period_start = $3 where key = $1";

const FLOW_CONTROL_ANY: &str = "
-- flow_control_any: whether any flow-control key exists
select exists (select 1 from flow_control_keys)";

const MESSAGE_IN_FLIGHT_COUNT: &str = "
-- message_in_flight_count: deliveries running on every instance
select count(*) from messages where state = 'in_progress'";

const FLOW_CONTROL_CONFIGURE: &str = "
-- flow_control_configure: create the key, or take the limits a message brings unless they are pinned
insert into flow_control_keys (key, parallelism, rate, period_ms, rate_period_start, created_at, updated_at)
values ($1, $2, $3, coalesce($4, 1000), $5, $5, $5)
on conflict (key) do update set
    parallelism = case when flow_control_keys.pinned_parallelism or not $6 then flow_control_keys.parallelism
                       else excluded.parallelism end,
    rate = case when flow_control_keys.pinned_rate or not $6 then flow_control_keys.rate else excluded.rate end,
    period_ms = case when flow_control_keys.pinned_rate or not $6 then flow_control_keys.period_ms
                     else excluded.period_ms end,
    updated_at = excluded.updated_at";

const FLOW_CONTROL_SET_PAUSED: &str = "
-- flow_control_set_paused: pause or resume a key
update flow_control_keys set paused = $2, updated_at = $3 where key = $1";

const FLOW_CONTROL_PIN: &str = "
-- flow_control_pin: fix limits against later messages and start a new rate window
update flow_control_keys set
    parallelism = case when $2::int is null then parallelism else $2 end,
    pinned_parallelism = pinned_parallelism or $2::int is not null,
    rate = case when $3::int is null then rate else $3 end,
    period_ms = coalesce($4, period_ms),
    pinned_rate = pinned_rate or $3::int is not null or $4::bigint is not null,
    rate_count = 0, rate_period_start = $5, updated_at = $5
where key = $1";

const FLOW_CONTROL_UNPIN: &str = "
-- flow_control_unpin: let later messages set these limits again
update flow_control_keys set
    pinned_parallelism = pinned_parallelism and not $2, pinned_rate = pinned_rate and not $3, updated_at = $4
where key = $1";

const FLOW_CONTROL_RESET_RATE: &str = "
-- flow_control_reset_rate: clear the rate count and start a new period now
update flow_control_keys set rate_count = 0, rate_period_start = $2, updated_at = $2 where key = $1";

impl FlowControlStore for PgStore {
    shared::flow_control_store!();

    async fn flow_control_get(&self, key: &str) -> Result<Option<FlowControlKey>> {
        let query = format!("{FLOW_CONTROL_SELECT} where k.key = $1");
        Ok(sqlx::query_as(&query).bind(key).fetch_optional(&self.pool).await?)
    }

    async fn flow_control_list(&self, search: &str) -> Result<Vec<FlowControlKey>> {
        let query = format!("{FLOW_CONTROL_SELECT} where strpos(k.key, $1) > 0 order by k.key");
        Ok(sqlx::query_as(&query).bind(search).fetch_all(&self.pool).await?)
    }
}

/// The hosts a claim leaves out, as `MESSAGE_CLAIM_DUE_FOR_KEY` binds them: an array.
fn skip_hosts_param(hosts: &[String]) -> &[String] {
    hosts
}

/// Leases up to `claim.limit` due messages of flow-control key `key` (the claim statement logs them ACTIVE;
/// `skip_hosts` is `claim.skip_hosts` as `skip_hosts_param` binds it).
async fn claim_for_key(
    conn: &mut PgConnection,
    key: &str,
    claim: &Claim<'_>,
    skip_hosts: &[String],
) -> Result<Vec<MessageRow>> {
    Ok(sqlx::query_as(MESSAGE_CLAIM_DUE_FOR_KEY)
        .bind(claim.now)
        .bind(claim.lease_until)
        .bind(claim.limit)
        .bind(skip_hosts)
        .bind(claim.holder)
        .bind(key)
        .fetch_all(conn)
        .await?)
}
