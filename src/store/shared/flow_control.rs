//! Flow-control keys: everything but the claim (SQLite logs its events itself) and the two reads whose
//! SQL the backend completes with a placeholder and a dialect function.

macro_rules! flow_control_store {
    () => {
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
