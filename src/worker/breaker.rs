//! A circuit breaker per destination host, which protects capacity without consuming messages.
//!
//! Only attempts that show the host *unreachable* count against it: refused or reset connections before the
//! request was sent, DNS failures, connect timeouts. An HTTP status of any kind, a response slower than the
//! message's own timeout or a connection closed after the request was sent all show a host that is up.
//! A host's circuit opens when, over the recent `window`, at least `min_attempts` attempts dialled it and at
//! least `failure_rate` percent of them could not reach it (a rate, as Convoy does, so a burst of failures
//! among hundreds of concurrent deliveries to a host that answers most of them does not open it).
//!
//! While a circuit is open its host's attempts are *postponed*, not made: the message is handed back to wait
//! until the probe time, with its attempt count and retries unchanged. When the `cooldown` ends, the first
//! attempt probes the host; the others wait for the probe's turn (`probe_turn`, a little longer than the
//! connect timeout, which bounds how long an unreachable verdict takes). The probe's verdict decides: a host
//! that was reached closes the circuit (and its window starts afresh), an unreachable one opens it for another
//! cooldown. A probe that has not reported when its turn ends lets the next attempt probe.
//!
//! Times come from the engine's clock, so tests move them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Percentage of dialled attempts over the window that could not reach the host for its circuit to open;
    /// 0 turns breakers off.
    pub failure_rate: u8,
    /// Fewest attempts dialled over the window before the rate is judged.
    pub min_attempts: u32,
    /// How far back attempts count.
    pub window: Duration,
    /// How long an open circuit postpones its host's attempts before one probes it.
    pub cooldown: Duration,
    /// How long the other attempts wait for a probe's verdict before the next attempt may probe.
    pub probe_turn: Duration,
}

impl BreakerConfig {
    /// Breakers that never open.
    pub fn off() -> BreakerConfig {
        BreakerConfig {
            failure_rate: 0,
            min_attempts: 1,
            window: Duration::from_secs(30),
            cooldown: Duration::from_secs(30),
            probe_turn: Duration::from_secs(6),
        }
    }
}

/// What an attempt that dialled its host found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The host was reached: it answered (any status), or took longer than the message's timeout, or closed
    /// the connection after the request was sent.
    Reached,
    /// The host could not be reached: refused or reset before the request was sent, DNS failure, connect
    /// timeout.
    Unreachable,
}

/// Whether an attempt may dial its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Pass,
    /// Pass as the probe of a circuit whose cooldown is over: report its verdict with `probe: true`.
    Probe,
    /// Do not dial: wait until `until` (Unix ms).
    Postpone {
        until: i64,
        why: Why,
    },
}

/// Why a circuit postpones attempts, for the message's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Open after `failures` of `attempts` attempts over the window could not reach the host (or after a
    /// probe that could not, then `attempts` is 1).
    Open { failures: u32, attempts: u32 },
    /// A probe is under way; its turn ends at the postponement's `until`.
    Probing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Circuit {
    Closed,
    /// Postponing until `until`, then the first attempt probes.
    Open {
        until: i64,
    },
    /// A probe went at some time before `until`; the others wait until then.
    Probing {
        until: i64,
    },
}

/// Attempts and failures that started within one slice of the window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: i64,
    attempts: u32,
    failures: u32,
}

#[derive(Debug)]
struct HostState {
    buckets: VecDeque<Bucket>,
    circuit: Circuit,
    /// What opened the circuit last, for the log.
    opened_after: (u32, u32),
}

/// Slices of a window: a count falls out of the window within a tenth of it after it has aged out.
const BUCKETS: i64 = 10;

pub struct Breakers {
    config: BreakerConfig,
    hosts: Mutex<Hosts>,
}

#[derive(Default)]
struct Hosts {
    states: HashMap<String, HostState>,
    /// When hosts without recent attempts were last forgotten.
    swept_at: i64,
}

impl Breakers {
    pub fn new(config: BreakerConfig) -> Breakers {
        Breakers {
            config,
            hosts: Mutex::new(Hosts::default()),
        }
    }

    fn enabled(&self) -> bool {
        self.config.failure_rate > 0
    }

    fn window_ms(&self) -> i64 {
        (self.config.window.as_millis() as i64).max(1)
    }

    fn bucket_ms(&self) -> i64 {
        (self.window_ms() / BUCKETS).max(1)
    }

    fn ms(duration: Duration) -> i64 {
        i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
    }

    /// Whether an attempt to `host` at `now` may dial.
    pub fn check(&self, host: &str, now: i64) -> Gate {
        if !self.enabled() {
            return Gate::Pass;
        }
        let mut hosts = self.hosts.lock().expect("breaker lock is never poisoned");
        let Some(state) = hosts.states.get_mut(host) else {
            return Gate::Pass;
        };
        match state.circuit {
            Circuit::Closed => Gate::Pass,
            Circuit::Open { until } if now < until => {
                let (failures, attempts) = state.opened_after;
                Gate::Postpone {
                    until,
                    why: Why::Open { failures, attempts },
                }
            }
            Circuit::Probing { until } if now < until => Gate::Postpone {
                until,
                why: Why::Probing,
            },
            Circuit::Open { .. } | Circuit::Probing { .. } => {
                state.circuit = Circuit::Probing {
                    until: now + Self::ms(self.config.probe_turn).max(1),
                };
                tracing::info!(host, "circuit half-open: one delivery probes the host");
                Gate::Probe
            }
        }
    }

    /// An attempt let through as a probe did not dial after all (this machine ran out of a resource, or
    /// the destination policy refused it): the next attempt probes instead.
    pub fn probe_abandoned(&self, host: &str, now: i64) {
        let mut hosts = self.hosts.lock().expect("breaker lock is never poisoned");
        if let Some(state) = hosts.states.get_mut(host) {
            if matches!(state.circuit, Circuit::Probing { .. }) {
                state.circuit = Circuit::Open { until: now };
            }
        }
    }

    /// Records what an attempt that dialled `host` found; `probe` when [`Breakers::check`] let it through
    /// as the probe.
    pub fn record(&self, host: &str, reach: Reach, probe: bool, now: i64) {
        if !self.enabled() {
            return;
        }
        let (window_ms, bucket_ms) = (self.window_ms(), self.bucket_ms());
        let mut hosts = self.hosts.lock().expect("breaker lock is never poisoned");
        if now - hosts.swept_at >= window_ms {
            // Forget closed hosts without attempts in the window, so the map holds only active hosts.
            hosts.swept_at = now;
            hosts.states.retain(|_, state| {
                state.circuit != Circuit::Closed || state.buckets.back().is_some_and(|b| b.start > now - window_ms)
            });
        }
        if !hosts.states.contains_key(host) {
            let fresh = HostState {
                buckets: VecDeque::with_capacity(BUCKETS as usize + 1),
                circuit: Circuit::Closed,
                opened_after: (0, 0),
            };
            hosts.states.insert(host.to_owned(), fresh);
        }
        let state = hosts.states.get_mut(host).expect("inserted above");
        let failed = reach == Reach::Unreachable;
        while state.buckets.front().is_some_and(|b| b.start <= now - window_ms) {
            state.buckets.pop_front();
        }
        match state.buckets.back_mut() {
            Some(last) if now < last.start + bucket_ms => {
                last.attempts += 1;
                last.failures += u32::from(failed);
            }
            _ => state.buckets.push_back(Bucket {
                start: now - now.rem_euclid(bucket_ms),
                attempts: 1,
                failures: u32::from(failed),
            }),
        }
        let cooldown_ms = Self::ms(self.config.cooldown);
        match (state.circuit, probe) {
            (Circuit::Closed, _) if failed => {
                let attempts: u32 = state.buckets.iter().map(|b| b.attempts).sum();
                let failures: u32 = state.buckets.iter().map(|b| b.failures).sum();
                let rate_reached =
                    u64::from(failures) * 100 >= u64::from(self.config.failure_rate) * u64::from(attempts);
                if attempts >= self.config.min_attempts.max(1) && rate_reached {
                    tracing::warn!(
                        host,
                        failures,
                        attempts,
                        cooldown_ms,
                        "circuit opened: too many attempts could not reach the host; its deliveries wait \
                         (without spending attempts) until a probe reaches it"
                    );
                    state.opened_after = (failures, attempts);
                    state.circuit = Circuit::Open {
                        until: now + cooldown_ms,
                    };
                }
            }
            (Circuit::Closed, _) => {}
            // Attempts dialled before the circuit opened decide nothing; the probe does.
            (_, false) => {}
            (_, true) if failed => {
                tracing::info!(
                    host,
                    cooldown_ms,
                    "circuit stays open: the probe could not reach the host"
                );
                state.opened_after = (1, 1);
                state.circuit = Circuit::Open {
                    until: now + cooldown_ms,
                };
            }
            (_, true) => {
                tracing::info!(host, "circuit closed: the probe reached the host");
                state.circuit = Circuit::Closed;
                state.buckets.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reach::{Reached as Up, Unreachable as Down};

    fn breakers(failure_rate: u8, min_attempts: u32) -> Breakers {
        Breakers::new(BreakerConfig {
            failure_rate,
            min_attempts,
            window: Duration::from_secs(10),
            cooldown: Duration::from_secs(30),
            probe_turn: Duration::from_secs(6),
        })
    }

    fn record_many(b: &Breakers, reach: Reach, n: usize, now: i64) {
        for _ in 0..n {
            b.record("h", reach, false, now);
        }
    }

    fn postponed(gate: Gate) -> i64 {
        match gate {
            Gate::Postpone { until, .. } => until,
            other => panic!("not postponed: {other:?}"),
        }
    }

    #[test]
    fn a_burst_of_failures_among_many_answers_does_not_open_the_circuit() {
        let b = breakers(50, 10);
        record_many(&b, Up, 50, 0);
        // Many failures in a row, as concurrent deliveries report them together: still under half.
        record_many(&b, Down, 49, 1);
        assert_eq!(b.check("h", 2), Gate::Pass);
        b.record("h", Down, false, 3);
        assert_eq!(
            b.check("h", 4),
            Gate::Postpone {
                until: 30_003,
                why: Why::Open {
                    failures: 50,
                    attempts: 100
                }
            },
            "50 of 100: the rate is reached"
        );
        assert_eq!(b.check("other", 4), Gate::Pass, "other hosts are not affected");
    }

    #[test]
    fn the_rate_is_judged_only_after_the_fewest_attempts() {
        let b = breakers(50, 10);
        record_many(&b, Down, 9, 0);
        assert_eq!(b.check("h", 0), Gate::Pass, "nine attempts are too few to judge");
        b.record("h", Down, false, 0);
        assert_eq!(postponed(b.check("h", 0)), 30_000);
    }

    #[test]
    fn attempts_older_than_the_window_no_longer_count() {
        let b = breakers(50, 4);
        record_many(&b, Up, 100, 0);
        record_many(&b, Down, 3, 10_500);
        assert_eq!(b.check("h", 10_500), Gate::Pass, "the answers have left the window");
        b.record("h", Down, false, 10_600);
        assert_eq!(postponed(b.check("h", 10_600)), 40_600);
    }

    #[test]
    fn after_the_cooldown_one_probe_goes_and_its_verdict_decides() {
        let b = breakers(50, 1);
        b.record("h", Down, false, 0);
        assert_eq!(postponed(b.check("h", 29_999)), 30_000);
        assert_eq!(b.check("h", 30_000), Gate::Probe);
        assert_eq!(
            b.check("h", 30_001),
            Gate::Postpone {
                until: 36_000,
                why: Why::Probing
            },
            "the others wait for the probe's turn"
        );
        b.record("h", Down, false, 30_002);
        assert!(
            matches!(b.check("h", 30_003), Gate::Postpone { .. }),
            "an attempt that is not the probe decides nothing"
        );
        b.record("h", Down, true, 31_000);
        assert_eq!(
            b.check("h", 31_001),
            Gate::Postpone {
                until: 61_000,
                why: Why::Open {
                    failures: 1,
                    attempts: 1
                }
            },
            "an unreachable probe opens it for another cooldown"
        );
        assert_eq!(b.check("h", 61_000), Gate::Probe);
        b.record("h", Up, true, 61_100);
        assert_eq!(b.check("h", 61_101), Gate::Pass, "closed");
        b.record("h", Up, false, 61_200);
        assert_eq!(b.check("h", 61_201), Gate::Pass, "the window started afresh");
    }

    #[test]
    fn a_probe_that_does_not_report_in_its_turn_lets_the_next_attempt_probe() {
        let b = breakers(50, 1);
        b.record("h", Down, false, 0);
        assert_eq!(b.check("h", 30_000), Gate::Probe);
        assert_eq!(postponed(b.check("h", 35_999)), 36_000);
        assert_eq!(b.check("h", 36_000), Gate::Probe, "the next probe");
        b.probe_abandoned("h", 36_001);
        assert_eq!(
            b.check("h", 36_001),
            Gate::Probe,
            "a probe that never dialled hands its turn on"
        );
    }

    #[test]
    fn a_zero_rate_turns_breakers_off() {
        let b = breakers(0, 1);
        record_many(&b, Down, 100, 0);
        assert_eq!(b.check("h", 0), Gate::Pass);
    }

    #[test]
    fn closed_hosts_without_recent_attempts_are_forgotten() {
        let b = breakers(50, 10);
        b.record("old", Up, false, 0);
        b.record("h", Up, false, 20_000);
        let hosts = b.hosts.lock().unwrap();
        assert!(!hosts.states.contains_key("old"));
        assert!(hosts.states.contains_key("h"));
    }
}
