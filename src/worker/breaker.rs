//! A circuit breaker per destination host. After `failures` attempts in a row that could not connect or
//! timed out, the host's circuit opens for `cooldown`: its messages are not sent but fail at once and are
//! retried on their normal schedule, so a host that is down costs no capacity and no connection attempts.
//! When the cooldown ends one attempt probes the host (one per cooldown); any answer closes the circuit.
//! Times come from the engine's clock, so tests move them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Connection failures or timeouts in a row that open a host's circuit; 0 turns breakers off.
    pub failures: u32,
    pub cooldown: Duration,
}

/// Whether an attempt may dial its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Pass,
    /// The circuit is open until `until` (Unix ms) after `failures` failures in a row.
    Open {
        until: i64,
        failures: u32,
    },
}

#[derive(Debug, Default)]
struct HostState {
    failures: u32,
    /// While open: the end of the cooldown (or of the running probe's turn).
    open_until: Option<i64>,
}

pub struct Breakers {
    config: BreakerConfig,
    hosts: Mutex<HashMap<String, HostState>>,
}

impl Breakers {
    pub fn new(config: BreakerConfig) -> Breakers {
        Breakers {
            config,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn cooldown_ms(&self) -> i64 {
        self.config.cooldown.as_millis() as i64
    }

    /// Whether an attempt to `host` at `now` may dial. Once a cooldown has passed, the first attempt is let
    /// through as the probe and the circuit stays open for the others for another cooldown.
    pub fn check(&self, host: &str, now: i64) -> Gate {
        if self.config.failures == 0 {
            return Gate::Pass;
        }
        let mut hosts = self.hosts.lock().expect("breaker lock is never poisoned");
        let Some(state) = hosts.get_mut(host) else {
            return Gate::Pass;
        };
        match state.open_until {
            Some(until) if until > now => Gate::Open {
                until,
                failures: state.failures,
            },
            Some(_) => {
                state.open_until = Some(now + self.cooldown_ms());
                tracing::info!(host, failures = state.failures, "circuit half-open: probing the host");
                Gate::Pass
            }
            None => Gate::Pass,
        }
    }

    /// Records what an attempt that dialled `host` found: `reachable` for any HTTP answer, false for a
    /// failed connection or a timeout.
    pub fn record(&self, host: &str, reachable: bool, now: i64) {
        if self.config.failures == 0 {
            return;
        }
        let mut hosts = self.hosts.lock().expect("breaker lock is never poisoned");
        if reachable {
            if let Some(state) = hosts.remove(host) {
                if state.open_until.is_some() {
                    tracing::info!(host, "circuit closed: the host answered");
                }
            }
            return;
        }
        let state = hosts.entry(host.to_string()).or_default();
        state.failures = state.failures.saturating_add(1);
        if state.failures >= self.config.failures {
            if state.open_until.is_none() {
                tracing::warn!(
                    host,
                    failures = state.failures,
                    cooldown_ms = self.cooldown_ms(),
                    "circuit opened: the host failed to connect or timed out repeatedly; its messages fail \
                     without being sent until a probe gets an answer"
                );
            }
            state.open_until = Some(now + self.cooldown_ms());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers(failures: u32) -> Breakers {
        Breakers::new(BreakerConfig {
            failures,
            cooldown: Duration::from_secs(10),
        })
    }

    fn open(until: i64, failures: u32) -> Gate {
        Gate::Open { until, failures }
    }

    #[test]
    fn a_host_opens_after_enough_failures_in_a_row_and_an_answer_resets_the_count() {
        let b = breakers(3);
        b.record("h", false, 0);
        b.record("h", false, 0);
        b.record("h", true, 0);
        b.record("h", false, 0);
        b.record("h", false, 0);
        assert_eq!(b.check("h", 0), Gate::Pass, "two in a row since the answer");
        b.record("h", false, 5);
        assert_eq!(b.check("h", 6), open(10_005, 3));
        assert_eq!(b.check("other", 6), Gate::Pass, "other hosts are not affected");
    }

    #[test]
    fn after_the_cooldown_one_probe_goes_and_its_result_decides() {
        let b = breakers(1);
        b.record("h", false, 0);
        assert!(matches!(b.check("h", 9_999), Gate::Open { .. }));
        assert_eq!(b.check("h", 10_000), Gate::Pass, "the probe");
        assert!(matches!(b.check("h", 10_001), Gate::Open { .. }), "one probe at a time");
        b.record("h", false, 10_500);
        assert_eq!(b.check("h", 20_000), open(20_500, 2));
        assert_eq!(b.check("h", 20_500), Gate::Pass, "the next probe");
        b.record("h", true, 20_600);
        assert_eq!(b.check("h", 20_601), Gate::Pass, "closed");
    }

    #[test]
    fn zero_failures_turns_breakers_off() {
        let b = breakers(0);
        for _ in 0..10 {
            b.record("h", false, 0);
        }
        assert_eq!(b.check("h", 0), Gate::Pass);
    }
}
