//! What `bench` prints and writes.

use crate::faults::{self, FaultReport};
use crate::timeline::{self, TimelinePoint};
use crate::BenchArgs;
use hdrhistogram::Histogram;
use runtime::live::clients::ClientHostReport;
use runtime::live::timeline::Timeline;
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

/// Resident memory of the bench process (replicas and clients), sampled
/// 10 s into the measurement and at its end: flat when executed commands
/// are released.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// MiB 10 s into the measurement.
    pub rss_mib_at_10s: f64,
    /// MiB at the end.
    pub rss_mib_at_end: f64,
}

/// The clients of one site (their own executor and emulated address).
#[derive(Debug, Clone, Serialize)]
pub struct SiteSummary {
    /// The region.
    pub site: String,
    /// Commands completed while measuring.
    pub completed: u64,
    /// Latency percentiles (ms).
    pub latency_ms: Percentiles,
    /// Share of the site's commands on the fast path, where there is one.
    pub fast_path_share: Option<f64>,
}

impl SiteSummary {
    /// From one client host's report.
    pub fn new(site: &str, report: &ClientHostReport) -> SiteSummary {
        let h = &report.latency_us;
        SiteSummary {
            site: site.to_string(),
            completed: h.len(),
            latency_ms: percentiles(h),
            fast_path_share: (report.fast + report.slow > 0)
                .then(|| report.fast as f64 / (report.fast + report.slow) as f64),
        }
    }
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Percentiles {
        p50: ms(0.5),
        p90: ms(0.9),
        p99: ms(0.99),
        p999: ms(0.999),
        max: h.max() as f64 / 1000.0,
    }
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
    /// Shards per replica (protocol instances, one executor each).
    pub shards: usize,
    /// Clients (closed loop), or the pool carrying the open loop's commands.
    pub clients: usize,
    /// Commands in flight per client.
    pub outstanding: usize,
    /// Open loop: how starts were spaced.
    pub arrivals: Option<String>,
    /// Open loop: the load offered, ops/s (the rate asked for).
    pub offered_ops: Option<f64>,
    /// Open loop: the starts the arrival process drew in the measurement,
    /// per second (Poisson arrivals wander around the rate).
    pub drawn_ops: Option<f64>,
    /// Open loop: commands due by the end that had not completed.
    pub pending_at_end: Option<u64>,
    /// Conflict percentage (with the shared key).
    pub conflicts: u32,
    /// Where keys came from, in words.
    pub keys: String,
    /// Write percentage (of the commands that are not SCANs).
    pub writes: u32,
    /// SCAN percentage.
    pub scans: u32,
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
    /// Memory growth, for runs measured 10 s or longer.
    pub memory: Option<Memory>,
    /// What was measured: a local cluster on loopback, or a deployment.
    pub target: String,
    /// Whether executors were pinned to cores (`--pin`).
    pub pinned: bool,
    /// Per client site, when a region table placed them (`--latency` with sites).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_site: Vec<SiteSummary>,
    /// Throughput and latency per 100 ms of the measurement.
    pub timeline: Vec<TimelinePoint>,
    /// What each `--fault` did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultReport>,
    /// What went wrong around the measurement without spoiling it (a
    /// replica that would not stop in time).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Where the JSON went, if written.
    #[serde(skip)]
    pub written: Option<PathBuf>,
    /// Where the timeline PNG went, if drawn.
    #[serde(skip)]
    pub plotted: Option<PathBuf>,
}

/// The key model in words, for the summary.
fn keys_text(args: &BenchArgs) -> String {
    match args.keys.as_str() {
        "shared" => format!("shared key {}%", args.conflicts),
        other => format!("{other} over {} keys", args.keyspace),
    }
}

impl Summary {
    /// Builds the summary from the merged measurements.
    pub fn new(
        args: &BenchArgs,
        protocol: &str,
        latency_us: &Histogram<u64>,
        fast: u64,
        slow: u64,
        single: u64,
    ) -> Summary {
        let completed = fast + slow + single;
        Summary {
            command: std::env::args().collect::<Vec<_>>().join(" "),
            git_commit: git_commit(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            finished_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            protocol: protocol.to_string(),
            replicas: args.replicas,
            shards: args.shards,
            clients: args.clients,
            outstanding: args.outstanding,
            arrivals: args.rate.map(|_| format!("{:?}", args.arrivals).to_lowercase()),
            offered_ops: args.rate,
            drawn_ops: None,
            pending_at_end: None,
            conflicts: args.conflicts,
            keys: keys_text(args),
            writes: args.writes,
            scans: args.scans,
            value_size: args.value_size,
            warmup_s: args.warmup.as_secs_f64(),
            duration_s: args.duration.as_secs_f64(),
            completed,
            throughput_ops: completed as f64 / args.duration.as_secs_f64().max(1e-9),
            latency_ms: percentiles(latency_us),
            fast_path_share: (fast + slow > 0).then(|| fast as f64 / (fast + slow) as f64),
            written: None,
            plotted: None,
            timeline: Vec::new(),
            faults: Vec::new(),
            warnings: Vec::new(),
            pinned: false,
            memory: None,
            target: "loopback".into(),
            per_site: Vec::new(),
        }
    }

    /// Merges the client hosts' measurements into one summary.
    pub fn merge(args: &BenchArgs, protocol: &str, reports: &[ClientHostReport]) -> Result<Summary, String> {
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
        let (mut fast, mut slow, mut single, mut offered, mut pending) = (0, 0, 0, 0, 0);
        let mut merged = Timeline::new(args.duration);
        for r in reports {
            latency.add(&r.latency_us).map_err(|e| e.to_string())?;
            fast += r.fast;
            slow += r.slow;
            single += r.single_path;
            offered += r.offered;
            pending += r.pending_at_end;
            merged.merge(&r.timeline);
        }
        let mut summary = Summary::new(args, protocol, &latency, fast, slow, single);
        if args.rate.is_some() {
            summary.drawn_ops = Some(offered as f64 / args.duration.as_secs_f64().max(1e-9));
            summary.pending_at_end = Some(pending);
        }
        summary.timeline = timeline::points(&merged);
        summary.faults = faults::analyse(&args.fault, &merged);
        Ok(summary)
    }

    /// A name for this run's files: protocol, load, time.
    pub fn stem(&self) -> String {
        let load = match self.offered_ops {
            Some(rate) => format!("{}c-{rate:.0}ops", self.clients),
            None => format!("{}c", self.clients),
        };
        format!("bench-{}-{load}-{}", self.protocol, self.finished_at_unix)
    }

    /// Draws the timeline under `dir`; returns the PNG's path.
    pub fn plot_timeline(&mut self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{}-timeline.png", self.stem()));
        let load = match self.offered_ops {
            Some(rate) => format!("open loop {rate:.0} ops/s"),
            None => format!("{} clients", self.clients),
        };
        let caption = format!("{}: {load}, {} replicas, {}", self.protocol, self.replicas, self.keys);
        timeline::write_png(&path, &caption, &self.timeline, &self.faults)?;
        self.plotted = Some(path);
        Ok(())
    }

    /// Writes the JSON under `--output` unless `--no-write`.
    pub fn write_unless(self, args: &BenchArgs) -> Result<Summary, String> {
        if args.no_write {
            return Ok(self);
        }
        let path = self.write_json(&args.output)?;
        Ok(self.with_written(path))
    }

    /// Writes the JSON into `dir`; returns the file's path.
    pub fn write_json(&self, dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{}.json", self.stem()));
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
        let load = match self.offered_ops {
            Some(_) => format!("open loop over a pool of {} clients", self.clients),
            None => format!("{} clients x {} outstanding", self.clients, self.outstanding),
        };
        let scans = if self.scans > 0 {
            format!(", {}% scans", self.scans)
        } else {
            String::new()
        };
        let shards = if self.shards > 1 {
            format!(" x {} shards", self.shards)
        } else {
            String::new()
        };
        writeln!(
            f,
            "{}: {} replicas{shards} on {}, {load}, {}, {}% writes{scans}, {}-byte values",
            self.protocol, self.replicas, self.target, self.keys, self.writes, self.value_size
        )?;
        writeln!(
            f,
            "measured {:.1} s after a {:.1} s warm-up: {} commands; executors {}",
            self.duration_s,
            self.warmup_s,
            self.completed,
            if self.pinned { "pinned to cores" } else { "not pinned" }
        )?;
        if let (Some(offered), Some(arrivals)) = (self.offered_ops, &self.arrivals) {
            writeln!(
                f,
                "offered: {offered:.0} ops/s ({arrivals} arrivals, {:.0} ops/s drawn)",
                self.drawn_ops.unwrap_or(0.0)
            )?;
        }
        writeln!(f, "throughput: {:.0} ops/s", self.throughput_ops)?;
        if let Some(pending) = self.pending_at_end {
            writeln!(
                f,
                "pending at the end: {pending} commands (started or due, not completed)"
            )?;
        }
        let l = &self.latency_ms;
        writeln!(
            f,
            "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms",
            l.p50, l.p90, l.p99, l.p999, l.max
        )?;
        match self.fast_path_share {
            Some(s) => writeln!(f, "fast path: {:.1}% of commands", s * 100.0)?,
            None => writeln!(f, "fast path: n/a (one path only)")?,
        }
        if let Some(m) = &self.memory {
            let growth = 100.0 * (m.rss_mib_at_end / m.rss_mib_at_10s - 1.0);
            writeln!(
                f,
                "memory: RSS {:.0} MiB 10 s into the measurement, {:.0} MiB at its end ({growth:+.1}%)",
                m.rss_mib_at_10s, m.rss_mib_at_end
            )?;
        }
        if !self.per_site.is_empty() {
            writeln!(
                f,
                "{:<16} {:>9} {:>9} {:>9} {:>9} {:>10}",
                "client site", "commands", "p50 ms", "p90 ms", "p99 ms", "fast path"
            )?;
            for s in &self.per_site {
                let fast = s
                    .fast_path_share
                    .map_or("-".to_string(), |x| format!("{:.1}%", 100.0 * x));
                let l = &s.latency_ms;
                writeln!(
                    f,
                    "{:<16} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>10}",
                    s.site, s.completed, l.p50, l.p90, l.p99, fast
                )?;
            }
        }
        for fault in &self.faults {
            writeln!(f, "fault: {}", fault.fault)?;
            match fault.silent_from_s {
                Some(from) => writeln!(
                    f,
                    "  no command completed for: {:.0} ms (from {from:.2} s)",
                    fault.silent_ms
                )?,
                None => writeln!(f, "  no command completed for: 0 ms (commands kept completing)")?,
            }
            match fault.recovered_in_ms {
                Some(ms) => writeln!(
                    f,
                    "  recovered in: {ms:.0} ms (throughput back to 90% of {:.0} ops/s)",
                    fault.before_ops
                )?,
                None if fault.before_ops <= 0.0 => writeln!(
                    f,
                    "  recovered in: unknown (no throughput before the fault to compare with)"
                )?,
                None => writeln!(
                    f,
                    "  recovered in: not within the run (90% of {:.0} ops/s)",
                    fault.before_ops
                )?,
            }
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        if let Some(p) = &self.written {
            writeln!(f, "written: {}", p.display())?;
        }
        if let Some(p) = &self.plotted {
            writeln!(f, "timeline: {}", p.display())?;
        }
        Ok(())
    }
}

/// One line per summary, as a Markdown table: what `bench --protocol all`
/// ends with, to compare protocols measured in the same run.
pub fn table(summaries: &[Summary]) -> String {
    let mut out = String::from("| protocol | clients | offered ops/s | throughput ops/s | p50 ms | p99 ms | p99.9 ms | fast path | RSS MiB (10 s → end) |\n");
    out += "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for s in summaries {
        let l = &s.latency_ms;
        let offered = s.offered_ops.map_or("closed loop".to_string(), |o| format!("{o:.0}"));
        let fast = s
            .fast_path_share
            .map_or("-".to_string(), |f| format!("{:.1}%", 100.0 * f));
        let rss = s.memory.as_ref().map_or("-".to_string(), |m| {
            format!("{:.0} → {:.0}", m.rss_mib_at_10s, m.rss_mib_at_end)
        });
        out += &format!(
            "| {} | {} | {offered} | {:.0} | {:.2} | {:.2} | {:.2} | {fast} | {rss} |\n",
            s.protocol, s.clients, s.throughput_ops, l.p50, l.p99, l.p999
        );
    }
    out
}
