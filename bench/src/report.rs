//! What `bench` prints and writes.

use crate::BenchArgs;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest command.
    pub max: f64,
}

/// One benchmark's result, as printed and as written to `results/`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The exact command line.
    pub command: String,
    /// The git commit the binary was run from (`unknown` outside a checkout).
    pub git_commit: String,
    /// Cores of the machine.
    pub cores: usize,
    /// Seconds since the Unix epoch when it finished.
    pub finished_at_unix: u64,
    /// Protocol name.
    pub protocol: String,
    /// Replicas.
    pub replicas: usize,
    /// Closed-loop clients.
    pub clients: usize,
    /// Commands in flight per client.
    pub outstanding: usize,
    /// Conflict percentage.
    pub conflicts: u32,
    /// Write percentage.
    pub writes: u32,
    /// Value size in bytes.
    pub value_size: usize,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// Measured seconds.
    pub duration_s: f64,
    /// Commands completed while measuring.
    pub completed: u64,
    /// Commands per second while measuring.
    pub throughput_ops: f64,
    /// Latency percentiles (ms).
    pub latency_ms: Percentiles,
    /// Share of commands on the fast path, for protocols that have one.
    pub fast_path_share: Option<f64>,
    /// Where the JSON went, if written.
    #[serde(skip)]
    pub written: Option<PathBuf>,
}

impl Summary {
    /// Builds the summary from the merged measurements.
    pub fn new(args: &BenchArgs, protocol: &str, latency_us: &Histogram<u64>, fast: u64, slow: u64, single: u64) -> Summary {
        let completed = fast + slow + single;
        let ms = |q: f64| latency_us.value_at_quantile(q) as f64 / 1000.0;
        Summary {
            command: std::env::args().collect::<Vec<_>>().join(" "),
            git_commit: git_commit(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            finished_at_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            protocol: protocol.to_string(),
            replicas: args.replicas,
            clients: args.clients,
            outstanding: args.outstanding,
            conflicts: args.conflicts,
            writes: args.writes,
            value_size: args.value_size,
            warmup_s: args.warmup.as_secs_f64(),
            duration_s: args.duration.as_secs_f64(),
            completed,
            throughput_ops: completed as f64 / args.duration.as_secs_f64().max(1e-9),
            latency_ms: Percentiles { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), p999: ms(0.999), max: latency_us.max() as f64 / 1000.0 },
            fast_path_share: (fast + slow > 0).then(|| fast as f64 / (fast + slow) as f64),
            written: None,
        }
    }

    /// Writes the JSON into `dir`; returns the file's path.
    pub fn write_json(&self, dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("bench-{}-{}c-{}.json", self.protocol, self.clients, self.finished_at_unix));
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// The same summary, noting where it was written.
    pub fn with_written(mut self, path: PathBuf) -> Summary {
        self.written = Some(path);
        self
    }
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} replicas on loopback, {} clients x {} outstanding, {}% conflicts, {}% writes, {}-byte values",
            self.protocol, self.replicas, self.clients, self.outstanding, self.conflicts, self.writes, self.value_size
        )?;
        writeln!(f, "measured {:.1} s after a {:.1} s warm-up: {} commands", self.duration_s, self.warmup_s, self.completed)?;
        writeln!(f, "throughput: {:.0} ops/s", self.throughput_ops)?;
        let l = &self.latency_ms;
        writeln!(f, "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms", l.p50, l.p90, l.p99, l.p999, l.max)?;
        match self.fast_path_share {
            Some(s) => writeln!(f, "fast path: {:.1}% of commands", s * 100.0)?,
            None => writeln!(f, "fast path: n/a (one path only)")?,
        }
        if let Some(p) = &self.written {
            writeln!(f, "written: {}", p.display())?;
        }
        Ok(())
    }
}
