//! Cron expressions as crontab writes them (spec §5.1): five fields (minute, hour, day of month, month,
//! day of week), an optional `CRON_TZ=<IANA zone> ` prefix, UTC otherwise.
//!
//! Hand-written rather than the `cron` crate, whose Quartz dialect numbers weekdays 1–7 from Sunday (so
//! `0 9 * * 1` would mean Sunday) and ANDs day-of-month with day-of-week. Here, as in Vixie cron:
//! weekdays are 0–7 (0 and 7 are Sunday) or SUN–SAT; when both day fields are restricted a day matches
//! either; a field that starts with `*` counts as unrestricted.
//!
//! Daylight saving: a slot is a local wall-clock time, and each wall-clock time fires at most once. A local
//! time that does not exist that day (the hour skipped in spring) is skipped; a local time that occurs
//! twice (the hour repeated in autumn) fires once, at its first occurrence.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Search no further than this for the next slot (`0 0 29 2 1`, a Monday 29 February, recurs within 28).
const SEARCH_YEARS: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("invalid cron expression {expression:?}: {reason}")]
    Invalid { expression: String, reason: String },
    #[error("unknown time zone {0:?} in CRON_TZ: use an IANA name such as Europe/Berlin")]
    UnknownZone(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    expression: String,
    zone: Tz,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// Whether each day field starts with `*` (then the other one alone decides).
    any_day_of_month: bool,
    any_day_of_week: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for min, min+1, …
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
/// 7 is accepted as Sunday and folded onto 0 after parsing.
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

impl Cron {
    pub fn parse(input: &str) -> Result<Cron, CronError> {
        let expression = input.trim().to_string();
        let invalid = |reason: String| CronError::Invalid {
            expression: expression.clone(),
            reason,
        };
        let mut tokens: Vec<&str> = expression.split_whitespace().collect();
        let mut zone = Tz::UTC;
        if let Some(name) = tokens.first().and_then(|t| t.strip_prefix("CRON_TZ=")) {
            zone = name.parse().map_err(|_| CronError::UnknownZone(name.to_string()))?;
            tokens.remove(0);
        }
        if tokens.first().is_some_and(|t| t.starts_with('@')) {
            return Err(invalid(
                "descriptors such as @daily are not supported: use five fields, e.g. 0 0 * * *".into(),
            ));
        }
        if tokens.len() != 5 {
            return Err(invalid(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), got {}",
                tokens.len()
            )));
        }
        let field = |text: &str, spec: &Field| parse_field(text, spec).map_err(&invalid);
        let minutes = field(tokens[0], &MINUTE)?;
        let hours = field(tokens[1], &HOUR)?;
        let days_of_month = field(tokens[2], &DAY_OF_MONTH)?;
        let months = field(tokens[3], &MONTH)?;
        let mut days_of_week = field(tokens[4], &DAY_OF_WEEK)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week | 1) & !(1 << 7);
        }
        Ok(Cron {
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            any_day_of_month: tokens[2].starts_with(['*', '?']),
            any_day_of_week: tokens[4].starts_with(['*', '?']),
            zone,
            expression,
        })
    }

    /// The zone its slots are wall-clock times of (`CRON_TZ`, UTC by default).
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The expression as given, trimmed.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first slot strictly after `after_ms` (Unix ms), or `None` if there is none in the next 50 years
    /// (e.g. 31 February).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after: DateTime<Utc> = Utc.timestamp_millis_opt(after_ms).single()?;
        let local = after.with_timezone(&self.zone).naive_local();
        let mut t = local.date().and_hms_opt(local.hour(), local.minute(), 0)? + Duration::minutes(1);
        let limit = t + Duration::days(366 * SEARCH_YEARS);
        while t < limit {
            let date = t.date();
            if !bit(self.months, date.month()) {
                t = first_of_next_month(date)?.and_hms_opt(0, 0, 0)?;
            } else if !self.day_matches(date) {
                t = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
            } else if !bit(self.hours, t.hour()) {
                t = match next_bit(self.hours, t.hour() + 1, 23) {
                    Some(hour) => date.and_hms_opt(hour, 0, 0)?,
                    None => date.succ_opt()?.and_hms_opt(0, 0, 0)?,
                };
            } else if !bit(self.minutes, t.minute()) {
                t = match next_bit(self.minutes, t.minute() + 1, 59) {
                    Some(minute) => date.and_hms_opt(t.hour(), minute, 0)?,
                    None => date.and_hms_opt(t.hour(), 0, 0)? + Duration::hours(1),
                };
            } else {
                if let Some(at) = self.first_instant_after(t, after_ms) {
                    return Some(at);
                }
                t += Duration::minutes(1);
            }
        }
        None
    }

    /// The UTC time of local slot `t`: none in a spring-forward gap, the first occurrence after `after_ms`
    /// in an autumn overlap.
    fn first_instant_after(&self, t: NaiveDateTime, after_ms: i64) -> Option<i64> {
        let candidates = match self.zone.from_local_datetime(&t) {
            LocalResult::Single(at) => vec![at],
            LocalResult::Ambiguous(first, second) => vec![first, second],
            LocalResult::None => vec![],
        };
        candidates
            .into_iter()
            .map(|at| at.timestamp_millis())
            .find(|ms| *ms > after_ms)
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = bit(self.days_of_month, date.day());
        let dow = bit(self.days_of_week, date.weekday().num_days_from_sunday());
        if self.any_day_of_month || self.any_day_of_week {
            dom && dow
        } else {
            dom || dow
        }
    }
}

fn bit(bits: u64, n: u32) -> bool {
    bits & (1u64 << n) != 0
}

fn next_bit(bits: u64, from: u32, max: u32) -> Option<u32> {
    (from..=max).find(|n| bit(bits, *n))
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    let (year, month) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
}

/// One field: a comma list of `*`, `?` (day fields), `n`, `a-b`, each optionally `/step`.
fn parse_field(text: &str, field: &Field) -> Result<u64, String> {
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| (1..=field.max).contains(s))
                    .ok_or_else(|| {
                        format!(
                            "{} field: step {step:?} must be a number from 1 to {}",
                            field.name, field.max
                        )
                    })?;
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = match range {
            "*" => (field.min, field.max),
            "?" if field.name.starts_with("day") => (field.min, field.max),
            _ => match range.split_once('-') {
                Some((a, b)) => (value(a, field)?, value(b, field)?),
                // `a/step` runs from a to the end of the field.
                None if item.contains('/') => (value(range, field)?, field.max),
                None => {
                    let v = value(range, field)?;
                    (v, v)
                }
            },
        };
        if low > high {
            return Err(format!("{} field: range {range:?} runs backwards", field.name));
        }
        for n in (low..=high).step_by(step as usize) {
            bits |= 1 << n;
        }
    }
    Ok(bits)
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(i) = field.names.iter().position(|name| *name == upper) {
        return Ok(field.min + i as u32);
    }
    text.parse::<u32>()
        .ok()
        .filter(|v| (field.min..=field.max).contains(v))
        .ok_or_else(|| {
            format!(
                "{} field: {text:?} is not a value from {} to {}",
                field.name, field.min, field.max
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix ms of a UTC time written `2026-01-07T10:00`.
    fn utc(s: &str) -> i64 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    fn show(ms: i64) -> String {
        Utc.timestamp_millis_opt(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    }

    /// The next `n` slots after `from` (UTC), as UTC strings.
    /// `expr`'s next slots after `from`, as many as `expected` holds, are `expected`.
    fn assert_next(expr: &str, from: &str, expected: &[&str]) {
        assert_eq!(next(expr, from, expected.len()), expected, "{expr} after {from}");
    }

    fn next(expr: &str, from: &str, n: usize) -> Vec<String> {
        let cron = Cron::parse(expr).unwrap();
        let mut at = utc(from);
        (0..n)
            .map(|_| {
                at = cron.next_after(at).expect("a next slot");
                show(at)
            })
            .collect()
    }

    #[test]
    fn the_weekly_report_fires_on_mondays_at_nine() {
        // 2026-01-07 is a Wednesday.
        assert_next(
            "0 9 * * 1",
            "2026-01-07T10:00",
            &["2026-01-12T09:00", "2026-01-19T09:00"],
        );
        assert_next("0 9 * * MON", "2026-01-12T08:59", &["2026-01-12T09:00"]);
    }

    #[test]
    fn a_slot_is_strictly_after_the_given_time() {
        assert_next("0 2 * * *", "2026-01-07T02:00", &["2026-01-08T02:00"]);
        let cron = Cron::parse("* * * * *").unwrap();
        assert_eq!(
            cron.next_after(utc("2026-01-07T02:00") + 59_999),
            Some(utc("2026-01-07T02:01"))
        );
    }

    #[test]
    fn month_ends_and_leap_days() {
        assert_next(
            "0 3 1 * *",
            "2026-01-31T12:00",
            &["2026-02-01T03:00", "2026-03-01T03:00"],
        );
        assert_next(
            "0 0 31 * *",
            "2026-04-01T00:00",
            &["2026-05-31T00:00", "2026-07-31T00:00"],
        );
        assert_next("0 0 29 2 *", "2026-01-01T00:00", &["2028-02-29T00:00"]);
        assert_eq!(
            Cron::parse("0 0 31 2 *").unwrap().next_after(0),
            None,
            "31 February never comes"
        );
    }

    #[test]
    fn day_of_month_with_day_of_week_matches_either() {
        // The 13th or any Friday (2026-02-13 is a Friday, 2026-02-06 too).
        assert_next(
            "0 0 13 * 5",
            "2026-02-01T00:00",
            &[
                "2026-02-06T00:00",
                "2026-02-13T00:00",
                "2026-02-20T00:00",
                "2026-02-27T00:00",
            ],
        );
        assert_next(
            "0 0 13 * 2",
            "2026-02-01T00:00",
            &["2026-02-03T00:00", "2026-02-10T00:00"],
        );
        // A day field starting with `*` leaves the other alone in charge.
        // Mondays that fall on the 1st, 11th, 21st or 31st: 11 May and 1 June 2026.
        assert_next(
            "0 0 */10 * 1",
            "2026-02-01T00:00",
            &["2026-05-11T00:00", "2026-06-01T00:00"],
        );
        assert_next("0 0 13 * *", "2026-02-01T00:00", &["2026-02-13T00:00"]);
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        assert_next(
            "*/15 * * * *",
            "2026-01-01T00:07",
            &["2026-01-01T00:15", "2026-01-01T00:30", "2026-01-01T00:45"],
        );
        assert_next(
            "0-10/5 8-9 * * MON-FRI",
            "2026-01-09T09:06",
            &["2026-01-09T09:10", "2026-01-12T08:00", "2026-01-12T08:05"],
        );
        assert_next(
            "5/20 * * * *",
            "2026-01-01T00:00",
            &["2026-01-01T00:05", "2026-01-01T00:25", "2026-01-01T00:45"],
        );
        assert_next(
            "0 12 1 jan,jul *",
            "2026-02-01T00:00",
            &["2026-07-01T12:00", "2027-01-01T12:00"],
        );
        // 0 and 7 are both Sunday (2026-01-11 is a Sunday).
        assert_next("0 0 * * 7", "2026-01-07T00:00", &["2026-01-11T00:00"]);
        assert_next(
            "0 0 * * 5-7",
            "2026-01-07T00:00",
            &["2026-01-09T00:00", "2026-01-10T00:00", "2026-01-11T00:00"],
        );
        assert_next("0 0 ? * SUN", "2026-01-07T00:00", &["2026-01-11T00:00"]);
    }

    #[test]
    fn time_zones_shift_the_slot() {
        // Istanbul is UTC+3 all year.
        assert_next(
            "CRON_TZ=Europe/Istanbul 0 4 * * *",
            "2026-06-01T00:00",
            &["2026-06-01T01:00", "2026-06-02T01:00"],
        );
        // New York: UTC-5 in winter, UTC-4 in summer.
        assert_next(
            "CRON_TZ=America/New_York 0 9 * * 1",
            "2026-01-07T00:00",
            &["2026-01-12T14:00"],
        );
        assert_next(
            "CRON_TZ=America/New_York 0 9 * * 1",
            "2026-07-01T00:00",
            &["2026-07-06T13:00"],
        );
    }

    #[test]
    fn a_local_time_skipped_in_spring_does_not_fire_that_day() {
        // 2026-03-08: New York clocks jump from 02:00 to 03:00 (07:00 UTC).
        assert_eq!(
            next("CRON_TZ=America/New_York 30 2 * * *", "2026-03-07T12:00", 2),
            ["2026-03-09T06:30", "2026-03-10T06:30"],
            "02:30 does not exist on 8 March"
        );
        assert_eq!(
            next("CRON_TZ=America/New_York 0 * * * *", "2026-03-08T05:30", 3),
            ["2026-03-08T06:00", "2026-03-08T07:00", "2026-03-08T08:00"],
            "01:00 EST, then 03:00 EDT: no 02:00"
        );
    }

    #[test]
    fn a_local_time_repeated_in_autumn_fires_once() {
        // 2026-11-01: New York clocks fall back from 02:00 EDT to 01:00 EST (06:00 UTC).
        assert_eq!(
            next("CRON_TZ=America/New_York 30 1 * * *", "2026-10-31T12:00", 2),
            ["2026-11-01T05:30", "2026-11-02T06:30"],
            "01:30 happens twice on 1 November and fires at the first"
        );
        assert_eq!(
            next("CRON_TZ=America/New_York 0 * * * *", "2026-11-01T04:30", 3),
            ["2026-11-01T05:00", "2026-11-01T07:00", "2026-11-01T08:00"],
            "01:00 fires once; the repeated 01:00 EST does not fire again"
        );
        // Created during the second pass of the repeated hour, the schedule still fires its next slot.
        let cron = Cron::parse("CRON_TZ=America/New_York 45 1 * * *").unwrap();
        assert_eq!(
            cron.next_after(utc("2026-11-01T06:10")).map(show).as_deref(),
            Some("2026-11-01T06:45")
        );
    }

    #[test]
    fn the_expression_is_kept_trimmed() {
        assert_eq!(Cron::parse("  */10 * * * * ").unwrap().expression(), "*/10 * * * *");
    }

    #[test]
    fn bad_expressions_name_the_problem() {
        let reason = |e: &str| Cron::parse(e).unwrap_err().to_string();
        assert!(reason("* * * *").contains("expected 5 fields"));
        assert!(reason("0 * * * * *").contains("got 6"));
        assert!(reason("61 * * * *").contains("minute field"));
        assert!(reason("0 24 * * *").contains("hour field"));
        assert!(reason("0 0 0 * *").contains("day-of-month field"));
        assert!(reason("0 0 * 13 *").contains("month field"));
        assert!(reason("0 0 * * 8").contains("day-of-week field"));
        assert!(reason("*/0 * * * *").contains("step"));
        assert!(reason("5-1 * * * *").contains("backwards"));
        assert!(reason("? * * * *").contains("minute field"));
        assert!(reason("@daily").contains("descriptors"));
        assert!(reason("").contains("expected 5 fields"));
        assert!(reason("CRON_TZ=Mars/Olympus 0 0 * * *").contains("unknown time zone"));
        let letters = reason("a b c d e");
        assert!(letters.contains("minute field"), "{letters}");
    }
}
