//! Go's duration syntax (`128ms`, `1.5s`, `1m30s`), as the original tool's
//! latency files and flags use it.
//!
//! Written by hand: the crates that parse durations (humantime and friends)
//! reject fractional values such as `1.5s`, which Go accepts, and none
//! prints Go's `String()` form, which the original's client logs hold.

use std::time::Duration;

/// Parses a Go duration; `0` alone is allowed. Negative durations are errors.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(format!("`{s}`: expected a number at `{rest}`"));
        }
        let value: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("`{s}`: bad number `{}`", &rest[..number_len]))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("`{s}`: missing unit (ns, us, ms, s, m, h)")),
            other => return Err(format!("`{s}`: unknown unit `{other}` (ns, us, ms, s, m, h)")),
        };
        rest = &rest[unit_len..];
        total += value * nanos_per_unit;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(format!("`{s}`: too large"));
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Prints a duration as Go's `time.Duration.String()` does (`11.780058467s`,
/// `1m2.5s`, `350ms`, `1.5µs`, `0s`), so logs written in the original's
/// format read the same to the scripts that parse them.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    // Below a second Go picks the largest unit that keeps the integer part non-zero.
    let fraction = |value: u128, per_unit: u128, unit: &str| {
        let (whole, rest) = (value / per_unit, value % per_unit);
        let digits = per_unit.ilog10() as usize;
        let mut text = whole.to_string();
        if rest != 0 {
            let padded = format!("{rest:0digits$}");
            text += ".";
            text += padded.trim_end_matches('0');
        }
        text + unit
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return fraction(nanos, 1_000, "µs");
    }
    if nanos < 1_000_000_000 {
        return fraction(nanos, 1_000_000, "ms");
    }
    let (hours, rest) = (nanos / 3_600_000_000_000, nanos % 3_600_000_000_000);
    let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = fraction(rest, 1_000_000_000, "s");
    match (hours, minutes) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("128ms"), Ok(Duration::from_millis(128)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_go_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("0ms"), Ok(Duration::ZERO));
    }

    #[test]
    fn prints_durations_as_go_does() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_micros(350_000), "350ms"),
            (Duration::from_nanos(12_345_678), "12.345678ms"),
            (Duration::from_nanos(11_780_058_467), "11.780058467s"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(62_500), "1m2.5s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(3723), "1h2m3s"),
        ];
        for (d, text) in cases {
            assert_eq!(format_go_duration(d), text);
            assert_eq!(parse_go_duration(text), Ok(d), "{text} reads back");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "ms", "10", "10 ms", "-5ms", "5parsecs", "1..2s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should fail");
        }
    }
}
