//! Flow-control keys: everything but the two reads whose SQL the backend completes with a placeholder and a
//! dialect function. The claim's loop over keys is here; each backend leases one key's messages
//! (`claim_for_key`: SQLite also logs them, which Postgres's statement does itself) with the skipped hosts
//! as its statement binds them (`skip_hosts_param`).

/// The same text on both databases (it has no placeholders, like `store::EVENT_SELECT`); each backend appends
/// its own condition.
pub(in crate::store) const FLOW_CONTROL_SELECT: &str = "
-- flow_control_get / flow_control_list: keys with their waitlist and deliveries in flight
select k.key, k.parallelism, k.rate, k.period_ms, k.paused, k.pinned_parallelism, k.pinned_rate, k.rate_count,
       k.rate_period_start,
       (select count(*) from messages m where m.flow_control_key = k.key and m.state = 'pending') as waiting,
       (select count(*) from messages m where m.flow_control_key = k.key and m.state = 'in_progress') as in_flight
from flow_control_keys k";

macro_rules! flow_control_store {
    () => {
        async fn message_claim_flow_controlled(&self, claim: &Claim<'_>) -> Result<Vec<Message>> {
            let mut tx = self.begin_write().await?;
            let keys: Vec<KeyState> = sqlx::query_as(FLOW_CONTROL_READY)
                .bind(claim.now)
                .fetch_all(&mut *tx)
                .await?;
            let skip_hosts = skip_hosts_param(claim.skip_hosts);
            let mut claimed: Vec<MessageRow> = Vec::new();
            for key in keys {
                let allowance = key.allowance(claim.now, claim.limit - claimed.len() as i64);
                let rows = if allowance.start > 0 {
                    let for_key = Claim {
                        limit: allowance.start,
                        ..*claim
                    };
                    claim_for_key(&mut tx, &key.key, &for_key, &skip_hosts).await?
                } else {
                    Vec::new()
                };
                sqlx::query(FLOW_CONTROL_COUNT)
                    .bind(&key.key)
                    .bind(allowance.window_count + rows.len() as i32)
                    .bind(allowance.window_start)
                    .execute(&mut *tx)
                    .await?;
                claimed.extend(rows);
            }
            tx.commit().await?;
            Ok(decode_claimed(claimed))
        }

        async fn flow_control_any(&self) -> Result<bool> {
            Ok(sqlx::query_scalar(FLOW_CONTROL_ANY)
                .fetch_one(self.reads())
                .await?)
        }

        async fn message_in_flight_count(&self) -> Result<i64> {
            Ok(sqlx::query_scalar(MESSAGE_IN_FLIGHT_COUNT)
                .fetch_one(self.reads())
                .await?)
        }

        async fn flow_control_configure(&self, flow: &FlowControl, now: i64) -> Result<()> {
            sqlx::query(FLOW_CONTROL_CONFIGURE)
                .bind(&flow.key)
                .bind(flow.parallelism)
                .bind(flow.rate)
                .bind(flow.period_ms)
                .bind(now)
                .bind(flow.sets_limits())
                .execute(self.writes())
                .await?;
            Ok(())
        }

        $crate::store::shared::binds_in_order! {
            flow_control_set_paused(key: &str, paused: bool, now: i64) -> bool = FLOW_CONTROL_SET_PAUSED;
            flow_control_pin(
                key: &str, parallelism: Option<i32>, rate: Option<i32>, period_ms: Option<i64>, now: i64
            ) -> bool = FLOW_CONTROL_PIN;
            flow_control_unpin(key: &str, parallelism: bool, rate: bool, now: i64) -> bool = FLOW_CONTROL_UNPIN;
            flow_control_reset_rate(key: &str, now: i64) -> bool = FLOW_CONTROL_RESET_RATE;
        }
    };
}

pub(in crate::store) use flow_control_store;
