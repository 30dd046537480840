//! Go-style durations as QStash headers carry them: `10s`, `1.5s`, `1d10h30m`, `250ms` (spec §2).

use std::time::Duration;

/// Longest duration we accept from any header: far beyond every configured limit, small enough to never
/// overflow millisecond arithmetic.
const MAX_NANOS: u128 = 100 * 365 * 86_400 * 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: expected a number with a unit (ns, us, ms, s, m, h, d), e.g. 30s, 5m, 1d10h")]
pub struct InvalidDuration(pub String);

/// Parses a sequence of `<number><unit>`; a bare integer means seconds. Negative values are rejected.
pub fn parse_duration(input: &str) -> Result<Duration, InvalidDuration> {
    let s = input.trim();
    let invalid = || InvalidDuration(input.to_string());
    if s.is_empty() {
        return Err(invalid());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| invalid())?;
        return checked(u128::from(secs) * 1_000_000_000).ok_or_else(invalid);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after_unit) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            _ => return Err(invalid()),
        };
        total = total
            .checked_add(scaled(number, unit_nanos).ok_or_else(invalid)?)
            .filter(|t| *t <= MAX_NANOS)
            .ok_or_else(invalid)?;
        rest = after_unit;
    }
    checked(total).ok_or_else(invalid)
}

/// `number` (digits with at most one dot) times `unit_nanos`, exactly, without floating point.
fn scaled(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    if whole.len() > 20 || fraction.len() > 18 {
        return None;
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut nanos = whole.checked_mul(unit_nanos)?;
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().ok()?;
        let scale = 10u128.pow(fraction.len() as u32);
        nanos = nanos.checked_add(digits.checked_mul(unit_nanos)? / scale)?;
    }
    (nanos <= MAX_NANOS).then_some(nanos)
}

fn checked(nanos: u128) -> Option<Duration> {
    (nanos <= MAX_NANOS).then(|| Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u128 {
        parse_duration(s).unwrap().as_millis()
    }

    #[test]
    fn parses_units_and_sequences() {
        assert_eq!(ms("10s"), 10_000);
        assert_eq!(ms("5m"), 300_000);
        assert_eq!(ms("2h"), 7_200_000);
        assert_eq!(ms("7d"), 604_800_000);
        assert_eq!(ms("1d10h30m"), 124_200_000);
        assert_eq!(ms("250ms"), 250);
        assert_eq!(ms("1.5s"), 1_500);
        assert_eq!(ms(".5m"), 30_000);
        assert_eq!(parse_duration("1500us").unwrap().as_micros(), 1_500);
        assert_eq!(parse_duration("3ns").unwrap().as_nanos(), 3);
        assert_eq!(ms(" 30 "), 30_000, "a bare integer is seconds");
        assert_eq!(ms("0s"), 0);
    }

    #[test]
    fn rejects_garbage_and_overflow() {
        for bad in ["", "s", "10x", "-5s", "1..5s", "5 s", "abc", "1e3s", ".s", "10sm"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_duration("99999999999999999999999999d").is_err());
        assert!(parse_duration("36600d").is_err());
        assert!(parse_duration("18446744073709551616s").is_err());
    }
}
