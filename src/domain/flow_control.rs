//! Flow control (spec §8): `Upstash-Flow-Control-Key` and `Upstash-Flow-Control-Value`
//! (`parallelism=<n>, rate=<n>, period=<duration>`, any subset, any order).

use super::duration::parse_duration;
use super::option_rules::{invalid, InvalidOption};

/// A period is at most a week (spec §14).
pub const MAX_PERIOD_MS: i64 = 7 * 86_400_000;
pub const DEFAULT_PERIOD_MS: i64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowControl {
    pub key: String,
    /// The limits this message sets for its key; all `None` when the value header is absent or empty.
    pub parallelism: Option<i32>,
    pub rate: Option<i32>,
    pub period_ms: Option<i64>,
}

impl FlowControl {
    pub fn sets_limits(&self) -> bool {
        self.parallelism.is_some() || self.rate.is_some() || self.period_ms.is_some()
    }
}

pub fn to_column(flow: &Option<FlowControl>) -> Option<String> {
    flow.as_ref()
        .map(|f| serde_json::to_string(f).expect("flow control serialises"))
}

/// Parses the key and value headers; `None` when there is no key.
pub fn parse(key: Option<&str>, value: Option<&str>) -> Result<Option<FlowControl>, InvalidOption> {
    let Some(key) = key.map(str::trim) else {
        return Ok(None);
    };
    if key.is_empty() || key.len() > 256 || key.contains(char::is_control) {
        return Err(invalid(
            "Upstash-Flow-Control-Key",
            "must be 1 to 256 printable characters",
        ));
    }
    let mut flow = FlowControl {
        key: key.to_string(),
        parallelism: None,
        rate: None,
        period_ms: None,
    };
    for part in value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (name, number) = part
            .split_once('=')
            .map(|(n, v)| (n.trim(), v.trim()))
            .ok_or_else(|| invalid("Upstash-Flow-Control-Value", format!("{part:?} is not name=value")))?;
        let positive = |what: &str| {
            number.parse::<i32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                invalid(
                    "Upstash-Flow-Control-Value",
                    format!("{what} must be a whole number of 1 or more"),
                )
            })
        };
        match name {
            "parallelism" => flow.parallelism = Some(positive("parallelism")?),
            "rate" | "ratePerSecond" => flow.rate = Some(positive("rate")?),
            "period" => {
                let ms = parse_duration(number)
                    .map_err(|e| invalid("Upstash-Flow-Control-Value", e.to_string()))?
                    .as_millis() as i64;
                if !(1_000..=MAX_PERIOD_MS).contains(&ms) {
                    return Err(invalid(
                        "Upstash-Flow-Control-Value",
                        "period must be between 1s and 7d",
                    ));
                }
                flow.period_ms = Some(ms);
            }
            other => {
                return Err(invalid(
                    "Upstash-Flow-Control-Value",
                    format!("unknown setting {other:?}: use parallelism, rate and period"),
                ))
            }
        }
    }
    Ok(Some(flow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_any_subset_in_any_order() {
        let f = parse(Some("k"), Some("rate=10, parallelism=2,period=1m"))
            .unwrap()
            .unwrap();
        assert_eq!((f.parallelism, f.rate, f.period_ms), (Some(2), Some(10), Some(60_000)));
        let f = parse(Some("k"), Some("period=30, rate=1")).unwrap().unwrap();
        assert_eq!(
            (f.rate, f.period_ms),
            (Some(1), Some(30_000)),
            "a bare number is seconds"
        );
        let key_only = parse(Some("k"), Some("")).unwrap().unwrap();
        assert!(!key_only.sets_limits(), "Python may send an empty value");
        assert_eq!(parse(None, Some("rate=1")).unwrap(), None);
    }

    #[test]
    fn refuses_bad_values() {
        for bad in [
            "rate=0",
            "parallelism=-1",
            "rate",
            "speed=3",
            "period=2w",
            "period=8d",
            "period=500ms",
        ] {
            assert!(parse(Some("k"), Some(bad)).is_err(), "{bad}");
        }
        assert!(parse(Some(""), None).is_err());
    }
}

/// A key's limits and counters when the dispatcher claims for it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct KeyState {
    pub key: String,
    pub parallelism: Option<i32>,
    pub rate: Option<i32>,
    pub period_ms: i64,
    pub rate_count: i32,
    pub rate_period_start: i64,
    pub in_flight: i64,
}

/// How many of a key's messages may start now, and the rate window they count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub start: i64,
    pub window_start: i64,
    pub window_count: i32,
}

impl KeyState {
    /// At most `max`, fewer than `parallelism` in flight, fewer than `rate` started in the current period (a
    /// fixed window that restarts at the first claim after it ends).
    pub fn allowance(&self, now: i64, max: i64) -> Allowance {
        let (window_start, window_count) = if now >= self.rate_period_start + self.period_ms {
            (now, 0)
        } else {
            (self.rate_period_start, self.rate_count)
        };
        let by_parallelism = self.parallelism.map_or(i64::MAX, |p| i64::from(p) - self.in_flight);
        let by_rate = self.rate.map_or(i64::MAX, |r| i64::from(r) - i64::from(window_count));
        Allowance {
            start: by_parallelism.min(by_rate).min(max).max(0),
            window_start,
            window_count,
        }
    }
}

#[cfg(test)]
mod allowance_tests {
    use super::*;

    fn state(parallelism: Option<i32>, rate: Option<i32>, count: i32, in_flight: i64) -> KeyState {
        KeyState {
            key: "k".into(),
            parallelism,
            rate,
            period_ms: 1_000,
            rate_count: count,
            rate_period_start: 0,
            in_flight,
        }
    }

    #[test]
    fn the_tighter_limit_wins() {
        assert_eq!(state(Some(3), None, 0, 1).allowance(10, 100).start, 2);
        assert_eq!(state(None, Some(5), 4, 0).allowance(10, 100).start, 1);
        assert_eq!(state(Some(3), Some(5), 4, 0).allowance(10, 100).start, 1);
        assert_eq!(state(None, None, 0, 0).allowance(10, 7).start, 7);
        assert_eq!(state(Some(1), None, 0, 2).allowance(10, 100).start, 0, "never negative");
    }

    #[test]
    fn a_new_period_resets_the_rate_count() {
        let a = state(None, Some(5), 5, 0).allowance(999, 100);
        assert_eq!((a.start, a.window_start, a.window_count), (0, 0, 5));
        let b = state(None, Some(5), 5, 0).allowance(1_000, 100);
        assert_eq!((b.start, b.window_start, b.window_count), (5, 1_000, 0));
    }
}
