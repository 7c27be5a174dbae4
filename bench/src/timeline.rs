//! A run's timeline as `bench` reports it: throughput and p50/p99 per
//! 100 ms of the measurement, in the JSON and (with `--plot`) as a PNG with
//! the faults marked.

use crate::faults::FaultReport;
use crate::plots::{self, Panel, Series, SeriesLabelPosition};
use runtime::live::timeline::{Timeline, SLOT, SLOTS_PER_BUCKET};
use serde::Serialize;
use std::path::Path;

/// One 100 ms bucket.
#[derive(Clone, Debug, Serialize)]
pub struct TimelinePoint {
    /// The bucket's start, seconds from the measurement's start.
    pub t_s: f64,
    /// Completions in the bucket, per second.
    pub throughput_ops: f64,
    /// Median latency of those completions (none: nothing completed).
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
}

/// The buckets of a merged timeline.
pub fn points(timeline: &Timeline) -> Vec<TimelinePoint> {
    let bucket_s = SLOT.as_secs_f64() * SLOTS_PER_BUCKET as f64;
    timeline
        .completions
        .chunks(SLOTS_PER_BUCKET)
        .zip(&timeline.latency_us)
        .enumerate()
        .map(|(b, (slots, latency))| {
            let at = |q: f64| {
                latency
                    .as_ref()
                    .filter(|h| !h.is_empty())
                    .map(|h| h.value_at_quantile(q) as f64 / 1e3)
            };
            TimelinePoint {
                t_s: b as f64 * bucket_s,
                throughput_ops: slots.iter().sum::<u64>() as f64 / (slots.len() as f64 * SLOT.as_secs_f64()),
                p50_ms: at(0.5),
                p99_ms: at(0.99),
            }
        })
        .collect()
}

/// Draws throughput and latency over time side by side, a red line at
/// each fault.
pub fn write_png(path: &Path, caption: &str, points: &[TimelinePoint], faults: &[FaultReport]) -> Result<(), String> {
    let markers: Vec<f64> = faults.iter().map(|f| f.at_s).collect();
    let series = |label: &str, pick: fn(&TimelinePoint) -> Option<f64>| Series {
        label: label.into(),
        points: points.iter().filter_map(|p| pick(p).map(|v| (p.t_s, v))).collect(),
    };
    let panel = |title: &str, y_label: &str, series: Vec<Series>| Panel {
        title: title.into(),
        x_label: "time since the measurement began (s)".into(),
        y_label: y_label.into(),
        series,
        reference: None,
        x_names: None,
        x_max: None,
        legend: SeriesLabelPosition::UpperRight,
        markers: markers.clone(),
        y_max: None,
        log_y: false,
    };
    let throughput = panel(
        "throughput per 100 ms",
        "kops/s",
        vec![series("throughput", |p| Some(p.throughput_ops / 1e3))],
    );
    let latency = panel(
        "latency per 100 ms",
        "ms",
        vec![series("p50", |p| p.p50_ms), series("p99", |p| p.p99_ms)],
    );
    plots::write_png(path, caption, &[throughput, latency], (640, 420))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_carry_rate_and_percentiles() {
        let mut t = Timeline::new(Duration::from_millis(300));
        for i in 0..100 {
            t.record(Duration::from_millis(i % 100), Duration::from_millis(2));
        }
        let p = points(&t);
        assert_eq!(p.len(), 3);
        assert!((p[0].throughput_ops - 1000.0).abs() < 1e-6, "{p:?}");
        assert!(p[0].p50_ms.is_some_and(|ms| (ms - 2.0).abs() < 0.1));
        assert_eq!((p[1].throughput_ops, p[1].p99_ms), (0.0, None));
    }
}
