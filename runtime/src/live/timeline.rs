//! What completed when during a measurement: completions per 10 ms slot
//! (fine enough to see how long nothing completed after a fault) and
//! latencies per 100 ms bucket (the timeline researchers plot).

use hdrhistogram::Histogram;
use std::time::Duration;

/// The width of a completion-count slot.
pub const SLOT: Duration = Duration::from_millis(10);
/// Slots per latency bucket: buckets are 100 ms wide.
pub const SLOTS_PER_BUCKET: usize = 10;

/// Completions per slot and latency per bucket, from the measurement's start.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Commands completed in each 10 ms slot.
    pub completions: Vec<u64>,
    /// Latencies (µs) of the commands completed in each 100 ms bucket;
    /// made on a bucket's first completion (a CLI client measures for an
    /// hour and most of it may never be used).
    pub latency_us: Vec<Option<Histogram<u64>>>,
}

fn bucket_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid histogram bounds")
}

impl Timeline {
    /// An empty timeline covering `measure`.
    pub fn new(measure: Duration) -> Timeline {
        let slots = (measure.as_nanos().div_ceil(SLOT.as_nanos()) as usize).max(1);
        let buckets = slots.div_ceil(SLOTS_PER_BUCKET);
        Timeline {
            completions: vec![0; slots],
            latency_us: vec![None; buckets],
        }
    }

    /// A command completed `at` into the measurement after `latency`.
    pub fn record(&mut self, at: Duration, latency: Duration) {
        let slot = ((at.as_nanos() / SLOT.as_nanos()) as usize).min(self.completions.len() - 1);
        self.completions[slot] += 1;
        let bucket = self.latency_us[slot / SLOTS_PER_BUCKET].get_or_insert_with(bucket_histogram);
        let _ = bucket.record((latency.as_micros() as u64).max(1));
    }

    /// Adds another host's timeline of the same measurement.
    pub fn merge(&mut self, other: &Timeline) {
        for (mine, theirs) in self.completions.iter_mut().zip(&other.completions) {
            *mine += theirs;
        }
        for (mine, theirs) in self.latency_us.iter_mut().zip(&other.latency_us) {
            if let Some(theirs) = theirs {
                let _ = mine.get_or_insert_with(bucket_histogram).add(theirs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_land_in_their_slot_and_bucket() {
        let mut t = Timeline::new(Duration::from_millis(250));
        assert_eq!((t.completions.len(), t.latency_us.len()), (25, 3));
        t.record(Duration::from_millis(5), Duration::from_millis(1));
        t.record(Duration::from_millis(105), Duration::from_millis(7));
        t.record(Duration::from_secs(9), Duration::from_millis(2)); // past the end: last slot
        assert_eq!((t.completions[0], t.completions[10], t.completions[24]), (1, 1, 1));
        let mut other = Timeline::new(Duration::from_millis(250));
        other.record(Duration::from_millis(6), Duration::from_millis(3));
        t.merge(&other);
        assert_eq!(t.completions[0], 2);
        assert_eq!(t.latency_us[0].as_ref().map(Histogram::len), Some(2));
        assert!(t.latency_us.iter().all(Option::is_some));
        assert!(
            Timeline::new(Duration::from_secs(3600))
                .latency_us
                .iter()
                .all(Option::is_none),
            "made on first use"
        );
    }
}
