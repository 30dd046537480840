//! The rate bound of the unauthenticated webhook endpoint (`/v2/workflows/hooks/…`): anyone who knows a
//! run's webhook URL may call it, so each run takes at most `PER_RUN` calls a second and the instance at
//! most `ALL_RUNS`, refused with a 429 before the database is read. Fixed one-second windows keep the
//! memory to the runs admitted in the current second.

use std::collections::HashMap;
use std::sync::Mutex;

/// Calls a second one run's webhooks take.
pub const PER_RUN: u32 = 20;
/// Calls a second all webhooks of this instance take.
pub const ALL_RUNS: u32 = 1_000;
const WINDOW_MS: i64 = 1_000;

#[derive(Debug, Default)]
pub struct HookLimiter {
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    start: i64,
    admitted: u32,
    per_run: HashMap<String, u32>,
}

impl HookLimiter {
    /// Admits one call for `run_id` at `now` (Unix ms), or says in how many ms the next window opens.
    pub fn admit(&self, run_id: &str, now: i64) -> Result<(), i64> {
        let mut window = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if now >= window.start + WINDOW_MS || now < window.start {
            *window = Window {
                start: now - now.rem_euclid(WINDOW_MS),
                ..Window::default()
            };
        }
        let retry_in = window.start + WINDOW_MS - now;
        if window.admitted >= ALL_RUNS {
            return Err(retry_in);
        }
        let calls = window.per_run.get(run_id).copied().unwrap_or(0);
        if calls >= PER_RUN {
            return Err(retry_in);
        }
        window.per_run.insert(run_id.to_string(), calls + 1);
        window.admitted += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_gets_its_share_a_second_and_the_instance_its_total() {
        let limiter = HookLimiter::default();
        for _ in 0..PER_RUN {
            assert_eq!(limiter.admit("wfr_a", 10_100), Ok(()));
        }
        assert_eq!(
            limiter.admit("wfr_a", 10_400),
            Err(600),
            "the run's share is spent until 11,000"
        );
        assert_eq!(limiter.admit("wfr_b", 10_400), Ok(()), "another run has its own");
        assert_eq!(limiter.admit("wfr_a", 11_000), Ok(()), "a new second, a new share");

        let limiter = HookLimiter::default();
        for n in 0..ALL_RUNS {
            assert_eq!(limiter.admit(&format!("wfr_{n}"), 5_000), Ok(()));
        }
        assert_eq!(limiter.admit("wfr_new", 5_999), Err(1), "the instance's total is spent");
    }
}
