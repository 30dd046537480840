//! Deliveries and failed attempts per minute over the last hour, for the console's chart. Sampled from the
//! metrics counters by the stats refresher (every few seconds), so the delivery path pays nothing for it.
//! Per instance: with several instances sharing a database, each one's console shows its own deliveries.

use std::collections::VecDeque;
use std::sync::Mutex;

const MINUTE_MS: i64 = 60_000;
/// Minutes shown, plus the one before the first (its totals are the base of the first difference).
const KEPT: usize = 61;

/// What happened in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MinuteCounts {
    /// Start of the minute, Unix ms.
    pub minute_start: i64,
    pub delivered: u64,
    pub failed: u64,
}

/// The counters' totals at the last sample of each minute.
#[derive(Debug, Default)]
pub struct ThroughputHistory {
    samples: Mutex<Samples>,
}

#[derive(Debug, Default, Clone)]
struct Samples {
    by_minute: VecDeque<MinuteCounts>,
    /// The totals before the oldest kept sample (zero at start: the counters start at zero).
    base: MinuteCounts,
}

impl ThroughputHistory {
    /// Records the running totals at `now_ms`; the last sample of a minute stands for the whole minute.
    pub fn sample(&self, now_ms: i64, delivered_total: u64, failed_total: u64) {
        let minute_start = now_ms - now_ms.rem_euclid(MINUTE_MS);
        let sample = MinuteCounts {
            minute_start,
            delivered: delivered_total,
            failed: failed_total,
        };
        let mut samples = self.samples.lock().expect("never poisoned");
        match samples.by_minute.back_mut() {
            Some(last) if last.minute_start == minute_start => *last = sample,
            _ => samples.by_minute.push_back(sample),
        }
        while samples.by_minute.len() > KEPT {
            if let Some(oldest) = samples.by_minute.pop_front() {
                samples.base = oldest;
            }
        }
    }

    /// The 60 minutes up to the one holding `now_ms`, oldest first; minutes without samples count 0.
    pub fn last_hour(&self, now_ms: i64) -> Vec<MinuteCounts> {
        let samples = self.samples.lock().expect("never poisoned").clone();
        let current = now_ms - now_ms.rem_euclid(MINUTE_MS);
        (0..60)
            .rev()
            .map(|ago| {
                let minute_start = current - ago * MINUTE_MS;
                let totals = samples.by_minute.iter().find(|s| s.minute_start == minute_start);
                let before = samples
                    .by_minute
                    .iter()
                    .rev()
                    .find(|s| s.minute_start < minute_start)
                    .unwrap_or(&samples.base);
                match totals {
                    Some(t) => MinuteCounts {
                        minute_start,
                        delivered: t.delivered.saturating_sub(before.delivered),
                        failed: t.failed.saturating_sub(before.failed),
                    },
                    None => MinuteCounts {
                        minute_start,
                        ..MinuteCounts::default()
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_minute_counts_what_happened_since_the_minute_before() {
        let history = ThroughputHistory::default();
        let t0 = 1_767_225_600_000;
        history.sample(t0 + 1_000, 10, 1);
        history.sample(t0 + 59_000, 15, 2);
        history.sample(t0 + MINUTE_MS + 5_000, 22, 2);
        history.sample(t0 + 3 * MINUTE_MS + 5_000, 30, 5);
        let hour = history.last_hour(t0 + 3 * MINUTE_MS + 6_000);
        assert_eq!(hour.len(), 60);
        let last: Vec<(u64, u64)> = hour[56..].iter().map(|m| (m.delivered, m.failed)).collect();
        assert_eq!(last, vec![(15, 2), (7, 0), (0, 0), (8, 3)]);
        assert_eq!(hour[59].minute_start, t0 + 3 * MINUTE_MS);
    }
}
