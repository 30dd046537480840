//! Cron expressions in plain language ("every Monday at 09:00"), and their next fire times in their zone.
//! The common shapes get a sentence; anything else is spelt out field by field.

use chrono::TimeZone;

use crate::domain::cron::{Cron, CronError};

const DAYS: [&str; 8] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The sentence for `expression` (already known to parse), with its zone.
pub fn describe(cron: &Cron) -> String {
    let fields: Vec<&str> = cron
        .expression()
        .split_whitespace()
        .filter(|t| !t.starts_with("CRON_TZ="))
        .collect();
    let zone = cron.zone().name().to_string();
    let [minute, hour, day, month, weekday] = fields[..] else {
        return cron.expression().to_string();
    };
    let number = |s: &str| s.parse::<u32>().ok();
    let time = match (number(hour), number(minute)) {
        (Some(h), Some(m)) => Some(format!("{h:02}:{m:02}")),
        _ => None,
    };
    let sentence = match (minute, hour, day, month, weekday, &time) {
        ("*", "*", "*", "*", "*", _) => "every minute".to_string(),
        (m, "*", "*", "*", "*", _) if m.starts_with("*/") => format!("every {} minutes", &m[2..]),
        (m, "*", "*", "*", "*", _) if number(m).is_some() => format!("every hour at minute {m}"),
        (_, _, "*", "*", "*", Some(t)) => format!("every day at {t}"),
        (_, _, "*", "*", w, Some(t)) => match weekday_names(w) {
            Some(days) => format!("every {days} at {t}"),
            None => field_by_field(&fields),
        },
        (_, _, d, "*", "*", Some(t)) if number(d).is_some() => format!("on day {d} of every month at {t}"),
        _ => field_by_field(&fields),
    };
    format!("{sentence} ({zone} time)")
}

/// "Monday", "Monday, Wednesday and Friday", "Monday to Friday" for numeric weekday fields.
fn weekday_names(field: &str) -> Option<String> {
    if let Some((from, to)) = field.split_once('-') {
        let (from, to) = (from.parse::<usize>().ok()?, to.parse::<usize>().ok()?);
        return Some(format!("{} to {}", DAYS.get(from)?, DAYS.get(to)?));
    }
    let names: Vec<&str> = field
        .split(',')
        .map(|d| d.parse::<usize>().ok().and_then(|d| DAYS.get(d).copied()))
        .collect::<Option<_>>()?;
    Some(match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => return None,
    })
}

fn field_by_field(fields: &[&str]) -> String {
    let names = ["minute", "hour", "day of month", "month", "day of week"];
    let parts: Vec<String> = names
        .iter()
        .zip(fields)
        .filter(|(_, value)| **value != "*")
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    format!("at {}", parts.join(", "))
}

/// The next `count` fire times after `now_ms`: (Unix ms, the wall-clock time in the schedule's zone).
pub fn next_fires(cron: &Cron, now_ms: i64, count: usize) -> Vec<(i64, String)> {
    let mut times = Vec::with_capacity(count);
    let mut after = now_ms;
    while times.len() < count {
        let Some(at) = cron.next_after(after) else { break };
        let local = cron
            .zone()
            .timestamp_millis_opt(at)
            .single()
            .map(|t| t.format("%a %Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_default();
        times.push((at, local));
        after = at;
    }
    times
}

/// Parses for the preview, with the parser's own message on failure.
pub fn parse(expression: &str) -> Result<Cron, CronError> {
    Cron::parse(expression)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(expression: &str) -> String {
        describe(&Cron::parse(expression).unwrap())
    }

    #[test]
    fn common_shapes_read_as_sentences() {
        assert_eq!(
            text("CRON_TZ=Europe/Berlin 0 9 * * 1"),
            "every Monday at 09:00 (Europe/Berlin time)"
        );
        assert_eq!(text("0 2 * * *"), "every day at 02:00 (UTC time)");
        assert_eq!(text("0 3 1 * *"), "on day 1 of every month at 03:00 (UTC time)");
        assert_eq!(text("*/5 * * * *"), "every 5 minutes (UTC time)");
        assert_eq!(text("30 8 * * 1-5"), "every Monday to Friday at 08:30 (UTC time)");
        assert_eq!(
            text("0 0 1 1 *"),
            "at minute 0, hour 0, day of month 1, month 1 (UTC time)"
        );
    }

    #[test]
    fn next_fires_are_shown_in_the_schedule_zone() {
        let cron = Cron::parse("CRON_TZ=Europe/Berlin 0 9 * * 1").unwrap();
        // Tuesday 2026-12-01 00:00 UTC.
        let fires = next_fires(&cron, 1_796_083_200_000, 5);
        assert_eq!(fires.len(), 5);
        assert_eq!(fires[0].1, "Mon 2026-12-07 09:00 CET");
        assert_eq!(fires[1].0 - fires[0].0, 7 * 24 * 3600 * 1000);
    }
}
