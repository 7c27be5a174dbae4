//! Latency files of the original tool and the delay matrix emulation uses.
//!
//! A file is either one line `uniform RTT` or lines `A B RTT`, where `A` and
//! `B` name sites (addresses in `latency.conf`, region names in a region
//! table) and `RTT` is a round-trip time in Go's duration syntax. One-way
//! delay is half the round trip; where both directions are given, their mean.

use crate::duration::parse_go_duration;
use std::collections::HashMap;
use std::time::Duration;
use thiserror::Error;

/// What is wrong with a latency file or a placement on it.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LatencyError {
    /// A line that does not parse; `line` is 1-based.
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    /// Two sites whose delay the file does not give.
    #[error("no latency between `{a}` and `{b}` (known sites: {known})")]
    MissingPair { a: String, b: String, known: String },
    /// The file names no site at all.
    #[error("the file gives no latencies")]
    Empty,
}

/// A parsed latency file: round-trip times between named sites.
#[derive(Clone, Debug, Default)]
pub struct LatencyTable {
    uniform_rtt: Option<Duration>,
    rtt: HashMap<(String, String), Duration>,
    names: Vec<String>,
}

impl LatencyTable {
    /// Parses the text of a latency file. `//` starts a comment.
    pub fn parse(text: &str) -> Result<LatencyTable, LatencyError> {
        let mut table = LatencyTable::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split("//").next().unwrap_or("").trim();
            let words: Vec<&str> = content.split_whitespace().collect();
            let bad = |message: String| LatencyError::Line { line, message };
            match words.as_slice() {
                [] => {}
                ["uniform", rtt] => {
                    table.uniform_rtt = Some(parse_go_duration(rtt).map_err(bad)?);
                }
                [a, b, rtt] => {
                    let rtt = parse_go_duration(rtt).map_err(bad)?;
                    table.insert_round_trip(a, b, rtt);
                }
                _ => {
                    return Err(bad(format!(
                        "expected `SITE SITE RTT` or `uniform RTT`, found `{content}`"
                    )))
                }
            }
        }
        if table.uniform_rtt.is_none() && table.rtt.is_empty() {
            return Err(LatencyError::Empty);
        }
        Ok(table)
    }

    /// Adds (or replaces) the round trip from `a` to `b`, for tables built
    /// from other formats than the text file (a CSV matrix, a model).
    pub fn insert_round_trip(&mut self, a: &str, b: &str, rtt: Duration) {
        for name in [a, b] {
            if !self.names.iter().any(|n| n == name) {
                self.names.push(name.to_string());
            }
        }
        self.rtt.insert((a.to_string(), b.to_string()), rtt);
    }

    /// A table where every pair of distinct sites is `one_way` apart.
    pub fn uniform(one_way: Duration) -> LatencyTable {
        LatencyTable {
            uniform_rtt: Some(one_way * 2),
            ..Default::default()
        }
    }

    /// The sites named in the file, in order of first appearance.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the file is one `uniform` line.
    pub fn is_uniform(&self) -> bool {
        self.uniform_rtt.is_some() && self.rtt.is_empty()
    }

    /// The one-way delay from `a` to `b`: half the round trip, averaged over
    /// both directions where the file gives both. A site is 0 from itself
    /// unless the file says otherwise.
    pub fn one_way(&self, a: &str, b: &str) -> Option<Duration> {
        let forward = self.rtt.get(&(a.to_string(), b.to_string()));
        let backward = self.rtt.get(&(b.to_string(), a.to_string()));
        let rtt = match (forward, backward) {
            (Some(f), Some(b)) => (*f + *b) / 2,
            (Some(x), None) | (None, Some(x)) => *x,
            (None, None) if a == b => Duration::ZERO,
            (None, None) => self.uniform_rtt?,
        };
        Some(rtt / 2)
    }
}

/// One-way delays between the sites of one run, indexed by site number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyMatrix {
    sites: Vec<String>,
    delays: Vec<Duration>,
}

impl LatencyMatrix {
    /// `sites` numbered sites, every distinct pair `one_way` apart.
    pub fn uniform(sites: usize, one_way: Duration) -> LatencyMatrix {
        let names = (0..sites).map(|i| format!("site{i}")).collect::<Vec<_>>();
        let delays = (0..sites * sites)
            .map(|k| {
                if k / sites == k % sites {
                    Duration::ZERO
                } else {
                    one_way
                }
            })
            .collect();
        LatencyMatrix { sites: names, delays }
    }

    /// The delays between the named `sites`, looked up in `table`.
    pub fn from_table(table: &LatencyTable, sites: &[String]) -> Result<LatencyMatrix, LatencyError> {
        let mut delays = Vec::with_capacity(sites.len() * sites.len());
        for a in sites {
            for b in sites {
                let d = table.one_way(a, b).ok_or_else(|| LatencyError::MissingPair {
                    a: a.clone(),
                    b: b.clone(),
                    known: table.names().join(", "),
                })?;
                delays.push(d);
            }
        }
        Ok(LatencyMatrix {
            sites: sites.to_vec(),
            delays,
        })
    }

    /// How many sites.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// Whether there are no sites.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The sites' names.
    pub fn sites(&self) -> &[String] {
        &self.sites
    }

    /// The one-way delay from site `a` to site `b`.
    pub fn one_way(&self, a: usize, b: usize) -> Duration {
        self.delays[a * self.sites.len() + b]
    }

    /// The largest one-way delay, from which timeouts are derived.
    pub fn max_one_way(&self) -> Duration {
        self.delays.iter().copied().max().unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_round_trips_and_asymmetric_pairs_are_averaged() {
        let t = LatencyTable::parse("a b 100ms\nb a 120ms\na c 40ms // comment\n\n").unwrap();
        assert_eq!(t.one_way("a", "b"), Some(Duration::from_millis(55)));
        assert_eq!(t.one_way("b", "a"), Some(Duration::from_millis(55)));
        assert_eq!(t.one_way("c", "a"), Some(Duration::from_millis(20)));
        assert_eq!(t.one_way("a", "a"), Some(Duration::ZERO));
        assert_eq!(t.one_way("b", "c"), None);
        assert_eq!(t.names(), ["a", "b", "c"]);
    }

    #[test]
    fn uniform_line_applies_to_every_distinct_pair() {
        let t = LatencyTable::parse("uniform 50ms").unwrap();
        assert!(t.is_uniform());
        assert_eq!(t.one_way("x", "y"), Some(Duration::from_millis(25)));
        assert_eq!(t.one_way("x", "x"), Some(Duration::ZERO));
    }

    #[test]
    fn errors_name_the_line() {
        let err = LatencyTable::parse("a b 10ms\na b\n").unwrap_err();
        assert!(matches!(err, LatencyError::Line { line: 2, .. }), "{err}");
        let err = LatencyTable::parse("a b 10 parsecs").unwrap_err();
        assert!(matches!(err, LatencyError::Line { line: 1, .. }), "{err}");
        assert_eq!(LatencyTable::parse("// nothing\n").unwrap_err(), LatencyError::Empty);
    }

    #[test]
    fn reference_files_parse() {
        for file in ["latency.conf", "aws-latency-table.txt"] {
            let path = format!("{}/../../shared/reference/{file}", env!("CARGO_MANIFEST_DIR"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let t = LatencyTable::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(t.names().len() >= 5, "{file}");
        }
        let text = std::fs::read_to_string(format!(
            "{}/../../shared/reference/aws-latency-table.txt",
            env!("CARGO_MANIFEST_DIR")
        ));
        if let Ok(text) = text {
            let t = LatencyTable::parse(&text).unwrap();
            // ap-south-1 <-> ap-northeast-1 is 128 ms round trip in both directions.
            assert_eq!(
                t.one_way("ap-south-1", "ap-northeast-1"),
                Some(Duration::from_millis(64))
            );
        }
    }

    #[test]
    fn matrix_from_table_and_uniform() {
        let t = LatencyTable::parse("a b 10ms\nb c 20ms\na c 30ms").unwrap();
        let sites = vec!["a".to_string(), "c".to_string()];
        let m = LatencyMatrix::from_table(&t, &sites).unwrap();
        assert_eq!(m.one_way(0, 1), Duration::from_millis(15));
        assert_eq!(m.max_one_way(), Duration::from_millis(15));
        assert!(LatencyMatrix::from_table(&t, &["a".into(), "z".into()]).is_err());
        let u = LatencyMatrix::uniform(3, Duration::from_millis(10));
        assert_eq!(
            (u.one_way(0, 0), u.one_way(2, 1)),
            (Duration::ZERO, Duration::from_millis(10))
        );
    }
}
