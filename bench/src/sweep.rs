//! `--sweep`: one parameter over a list of values, every point measured
//! for every protocol, then one CSV and one throughput–latency chart.

use crate::plots::{self, Panel, Series, SeriesLabelPosition};
use crate::Summary;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What a sweep varies.
#[derive(Clone, Debug, PartialEq)]
pub enum Sweep {
    /// The number of clients (closed loop, or the open loop's pool).
    Clients(Vec<usize>),
    /// The open loop's rate, ops/s.
    Rate(Vec<f64>),
}

impl FromStr for Sweep {
    type Err = String;
    /// `clients=1,8,64,512` or `rate=10k,50k,100k`.
    fn from_str(text: &str) -> Result<Sweep, String> {
        let (name, values) = text
            .split_once('=')
            .ok_or_else(|| format!("sweep `{text}`: expected clients=1,8,64 or rate=10k,50k"))?;
        let values: Vec<&str> = values.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Err(format!("sweep `{text}`: no values"));
        }
        match name.trim() {
            "clients" => values
                .iter()
                .map(|v| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|&c| c > 0)
                        .ok_or_else(|| format!("sweep `{text}`: `{v}` is not a number of clients"))
                })
                .collect::<Result<_, _>>()
                .map(Sweep::Clients),
            "rate" => values
                .iter()
                .map(|v| parse_rate(v))
                .collect::<Result<_, _>>()
                .map(Sweep::Rate),
            other => Err(format!("sweep `{text}`: `{other}` cannot be swept (clients or rate)")),
        }
    }
}

/// A rate: a number of ops/s, with an optional `k` or `m` multiplier
/// (`--rate`, and each point of `--sweep rate=…`).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (number, factor) = match t.strip_suffix('k') {
        Some(n) => (n, 1e3),
        None => match t.strip_suffix('m') {
            Some(n) => (n, 1e6),
            None => (t.as_str(), 1.0),
        },
    };
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v * factor),
        _ => Err(format!("`{s}` is not a rate (ops/s: 20000, 20k, 1.5m)")),
    }
}

impl Sweep {
    /// A file name for this sweep of these protocols.
    pub fn stem(&self, summaries: &[Summary]) -> String {
        let mut protocols: Vec<&str> = summaries.iter().map(|s| s.protocol.as_str()).collect();
        protocols.dedup();
        let what = match self {
            Sweep::Clients(_) => "clients",
            Sweep::Rate(_) => "rate",
        };
        format!("sweep-{what}-{}", protocols.join("-"))
    }
}

/// Writes the sweep's CSV (one row per protocol and point); returns its path.
pub fn write_csv(dir: &Path, stem: &str, summaries: &[Summary]) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{stem}.csv"));
    let shown = path.display().to_string();
    let mut w = csv::Writer::from_path(&path).map_err(|e| format!("{shown}: {e}"))?;
    let header = [
        "protocol",
        "clients",
        "outstanding",
        "offered_ops",
        "drawn_ops",
        "throughput_ops",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "fast_path_share",
        "pending_at_end",
    ];
    w.write_record(header).map_err(|e| format!("{shown}: {e}"))?;
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    for s in summaries {
        let l = &s.latency_ms;
        w.write_record([
            s.protocol.clone(),
            s.clients.to_string(),
            s.outstanding.to_string(),
            opt(s.offered_ops),
            opt(s.drawn_ops),
            format!("{:.1}", s.throughput_ops),
            format!("{:.3}", l.p50),
            format!("{:.3}", l.p90),
            format!("{:.3}", l.p99),
            format!("{:.3}", l.p999),
            format!("{:.3}", l.max),
            opt(s.fast_path_share),
            s.pending_at_end.map_or(String::new(), |p| p.to_string()),
        ])
        .map_err(|e| format!("{shown}: {e}"))?;
    }
    w.flush().map_err(|e| format!("{shown}: {e}"))?;
    Ok(path)
}

/// Draws the throughput–latency curves: p50 and p99 (log scale) against
/// achieved throughput, one line per protocol, points joined in the
/// sweep's order; returns the PNG's path.
pub fn write_png(dir: &Path, stem: &str, summaries: &[Summary]) -> Result<PathBuf, String> {
    let path = dir.join(format!("{stem}.png"));
    let mut protocols: Vec<&str> = summaries.iter().map(|s| s.protocol.as_str()).collect();
    protocols.dedup();
    let curve = |pick: fn(&Summary) -> f64| -> Vec<Series> {
        protocols
            .iter()
            .map(|p| {
                // In the sweep's order (growing load): past saturation
                // throughput may fall back, and the curve shows it.
                let points = summaries
                    .iter()
                    .filter(|s| s.protocol == *p)
                    .map(|s| (s.throughput_ops / 1e3, pick(s)))
                    .collect();
                Series {
                    label: p.to_string(),
                    points,
                }
            })
            .collect()
    };
    // An overloaded open-loop point queues for seconds; cut the axis at
    // five times the worst latency of the points that kept up.
    let kept_up = |s: &&Summary| s.offered_ops.is_none_or(|offered| s.throughput_ops >= 0.9 * offered);
    let cut = |pick: fn(&Summary) -> f64| {
        let overloaded = summaries.iter().any(|s| !kept_up(&s));
        let worst = summaries.iter().filter(kept_up).map(pick).fold(0.0, f64::max);
        (overloaded && worst > 0.0).then_some(5.0 * worst)
    };
    let panel = |title: &str, pick: fn(&Summary) -> f64| Panel {
        title: match cut(pick) {
            Some(at) => format!("{title} (cut at {at:.1} ms)"),
            None => title.into(),
        },
        x_label: "throughput (kops/s)".into(),
        y_label: "latency (ms)".into(),
        series: curve(pick),
        reference: None,
        x_names: None,
        x_max: None,
        legend: SeriesLabelPosition::UpperLeft,
        markers: Vec::new(),
        y_max: cut(pick),
        log_y: true,
    };
    let first = &summaries[0];
    let caption = format!("Throughput–latency, {} replicas, {}", first.replicas, first.keys);
    plots::write_png(
        &path,
        &caption,
        &[panel("p50", |s| s.latency_ms.p50), panel("p99", |s| s.latency_ms.p99)],
        (640, 480),
    )?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_parse() {
        assert_eq!("clients=1,32,256".parse(), Ok(Sweep::Clients(vec![1, 32, 256])));
        assert_eq!("rate=10k,50000".parse(), Ok(Sweep::Rate(vec![10_000.0, 50_000.0])));
        for bad in ["clients", "clients=", "clients=0", "rate=fast", "shards=1,2"] {
            assert!(bad.parse::<Sweep>().is_err(), "{bad}");
        }
    }
}
