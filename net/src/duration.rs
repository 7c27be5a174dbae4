//! Go's duration syntax (`128ms`, `1.5s`, `1m30s`), as the original tool's
//! latency files and flags use it.
//!
//! Written by hand: the crates that parse durations (humantime and friends)
//! reject fractional values such as `1.5s`, which Go accepts.

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
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if number_len == 0 {
            return Err(format!("`{s}`: expected a number at `{rest}`"));
        }
        let value: f64 = rest[..number_len].parse().map_err(|_| format!("`{s}`: bad number `{}`", &rest[..number_len]))?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
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
    fn rejects_malformed_durations() {
        for bad in ["", "ms", "10", "10 ms", "-5ms", "5parsecs", "1..2s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should fail");
        }
    }
}
