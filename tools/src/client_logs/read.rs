//! Reading client logs in the original's format, from our client or from
//! the original's: per file the latencies, the slow-path total and the
//! test's length; over a directory, throughput and percentiles.

use hdrhistogram::Histogram;
use net::duration::parse_go_duration;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What one log file holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CloneLog {
    /// Every `latency` line, in milliseconds.
    pub latencies_ms: Vec<f64>,
    /// The last `Slow Paths:` total, if any line gave one.
    pub slow_paths: Option<u64>,
    /// `Test took`, if the file has it.
    pub test_took: Option<Duration>,
}

/// Drops Go's log prefix (`2026/12/01 16:48:21 `, with or without
/// microseconds) if the line has one.
fn message(line: &str) -> &str {
    let mut rest = line.trim_end();
    for looks_like in [
        |w: &str| w.len() == 10 && w.as_bytes()[4] == b'/',
        |w: &str| w.len() >= 8 && w.as_bytes()[2] == b':',
    ] {
        match rest.split_once(' ') {
            Some((word, tail)) if looks_like(word) => rest = tail,
            _ => break,
        }
    }
    rest
}

/// Parses one file's text; `name` only labels errors. Lines that are not
/// one of the three kinds (diagnostics, `Returning:` …) are skipped.
pub fn parse(text: &str, name: &str) -> Result<CloneLog, String> {
    let mut log = CloneLog::default();
    for (number, line) in text.lines().enumerate() {
        let at = |what: &str, e: &dyn std::fmt::Display| format!("{name}:{}: {what}: {e}", number + 1);
        let m = message(line);
        if let Some(value) = m.strip_prefix("latency ") {
            let ms: f64 = value.trim().parse().map_err(|e| at("latency", &e))?;
            if !ms.is_finite() || ms < 0.0 {
                return Err(at("latency", &"not a duration in milliseconds"));
            }
            log.latencies_ms.push(ms);
        } else if let Some(value) = m.strip_prefix("Slow Paths:") {
            log.slow_paths = Some(value.trim().parse().map_err(|e| at("Slow Paths", &e))?);
        } else if let Some(value) = m.strip_prefix("Test took ") {
            log.test_took = Some(parse_go_duration(value).map_err(|e| at("Test took", &e))?);
        }
    }
    Ok(log)
}

/// The files of `dir` that hold at least one of the three kinds of line,
/// by name, each parsed.
pub fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, CloneLog)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut logs = Vec::new();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let log = parse(&text, &path.display().to_string())?;
        if !log.latencies_ms.is_empty() || log.test_took.is_some() || log.slow_paths.is_some() {
            logs.push((path, log));
        }
    }
    Ok(logs)
}

/// A run's figures over all its clones' files.
#[derive(Debug)]
pub struct Summary {
    /// Files read.
    pub files: usize,
    /// `latency` lines, over all files.
    pub completed: u64,
    /// The sum of the files' last `Slow Paths:` totals, if any file had one.
    pub slow_paths: Option<u64>,
    /// The longest `Test took`: the clones ran side by side.
    pub longest_test: Option<Duration>,
    /// Latencies in microseconds, as our client's summary records them.
    pub latency_us: Histogram<u64>,
}

impl Summary {
    /// Sums up the files.
    pub fn of(logs: &[(PathBuf, CloneLog)]) -> Summary {
        let mut latency_us = Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
        for ms in logs.iter().flat_map(|(_, l)| &l.latencies_ms) {
            // Through whole nanoseconds, so a latency reads back to the microsecond our client recorded.
            let _ = latency_us.record((((ms * 1e6).round() as u64) / 1000).max(1));
        }
        let slow: Vec<u64> = logs.iter().filter_map(|(_, l)| l.slow_paths).collect();
        Summary {
            files: logs.len(),
            completed: logs.iter().map(|(_, l)| l.latencies_ms.len() as u64).sum(),
            slow_paths: (!slow.is_empty()).then(|| slow.iter().sum()),
            longest_test: logs.iter().filter_map(|(_, l)| l.test_took).max(),
            latency_us,
        }
    }

    /// Completed commands per second over the longest test.
    pub fn throughput(&self) -> Option<f64> {
        self.longest_test
            .filter(|t| !t.is_zero())
            .map(|t| self.completed as f64 / t.as_secs_f64())
    }

    /// The report `parse-client-logs` prints.
    pub fn render(&self) -> String {
        let mut text = format!("files: {}\ncommands: {}\n", self.files, self.completed);
        match (self.throughput(), self.longest_test) {
            (Some(ops), Some(t)) => {
                text += &format!(
                    "throughput: {ops:.0} ops/s (over the longest test, {:.3} s)\n",
                    t.as_secs_f64()
                )
            }
            _ => text += "throughput: unknown (no `Test took` line)\n",
        }
        let l = &self.latency_us;
        if self.completed > 0 {
            let ms = |q: f64| l.value_at_quantile(q) as f64 / 1000.0;
            text += &format!(
                "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms\n",
                ms(0.5),
                ms(0.9),
                ms(0.99),
                ms(0.999),
                l.max() as f64 / 1000.0
            );
        }
        if let Some(slow) = self.slow_paths {
            let share = if self.completed == 0 {
                0.0
            } else {
                100.0 * slow as f64 / self.completed as f64
            };
            text += &format!("slow paths: {slow} ({share:.1}%)\n");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the original's client writes them (Go's log prefix, `%v` floats).
    const ORIGINAL: &str = "\
2026/12/01 16:48:09 dialing master...
2026/12/01 16:48:09 latency 9.244569
2026/12/01 16:48:09 Slow Paths: 1
2026/12/01 16:48:10 latency 10.5
2026/12/01 16:48:10 Returning: 0
2026/12/01 16:48:10 latency 120.000001
2026/12/01 16:48:11 Slow Paths: 2
2026/12/01 16:48:21 Test took 11.780058467s
";

    #[test]
    fn reads_the_originals_lines() {
        let log = parse(ORIGINAL, "client").unwrap();
        assert_eq!(log.latencies_ms, [9.244569, 10.5, 120.000001]);
        assert_eq!(log.slow_paths, Some(2));
        assert_eq!(log.test_took, Some(Duration::from_nanos(11_780_058_467)));
    }

    #[test]
    fn takes_lines_with_microsecond_stamps_or_none() {
        let log = parse("2026/12/01 16:48:09.123456 latency 3\nlatency 4\nTest took 1m2s\n", "x").unwrap();
        assert_eq!(log.latencies_ms, [3.0, 4.0]);
        assert_eq!(log.test_took, Some(Duration::from_secs(62)));
    }

    #[test]
    fn a_malformed_line_names_the_file_and_line() {
        let err = parse(
            "2026/12/01 16:48:09 latency 3\n2026/12/01 16:48:09 latency fast\n",
            "logs/client2",
        )
        .unwrap_err();
        assert!(err.starts_with("logs/client2:2: latency:"), "{err}");
        let err = parse("Test took forever\n", "c").unwrap_err();
        assert!(err.starts_with("c:1: Test took:"), "{err}");
    }

    #[test]
    fn a_directory_sums_its_clones() {
        let dir = std::env::temp_dir().join(format!("parse-client-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("client"), ORIGINAL).unwrap();
        std::fs::write(
            dir.join("client1"),
            "2026/12/01 16:48:09 latency 1\n2026/12/01 16:48:09 latency 2\n2026/12/01 16:48:09 Test took 500ms\n",
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), "nothing to see\n").unwrap();
        let logs = read_dir(&dir).unwrap();
        assert_eq!(logs.len(), 2, "the notes file holds no client lines");
        let s = Summary::of(&logs);
        assert_eq!((s.files, s.completed, s.slow_paths), (2, 5, Some(2)));
        assert_eq!(s.longest_test, Some(Duration::from_nanos(11_780_058_467)));
        assert!((s.throughput().unwrap() - 5.0 / 11.780058467).abs() < 1e-9);
        let text = s.render();
        assert!(text.contains("slow paths: 2 (40.0%)"), "{text}");
        assert!(
            text.contains("p50 9.247 ms"),
            "the median of 1, 2, 9.24, 10.5, 120 ms is 9.24 ms at histogram precision: {text}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
