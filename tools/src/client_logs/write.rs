//! Our client's side: the original's per-clone log files, and the totals
//! the stdout summary prints.

use super::{clone_file_name, go_log_timestamp, go_milliseconds};
use net::duration::format_go_duration;
use runtime::live::clients::Completed;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

/// One clone's running totals.
#[derive(Clone, Debug, Default)]
struct Clone {
    completed: u64,
    slow: u64,
    /// When its first command was sent and its last one completed, from the host's start.
    first_sent: Option<Duration>,
    last_done: Duration,
}

/// Follows a client host's completions, clone by clone: writes the
/// original's log lines when `-log` is given and keeps the totals the
/// summary prints either way.
pub struct CloneLogs {
    /// Logical clients per clone (the `pendings` window): logical client
    /// `i` belongs to clone `i / per_clone`.
    per_clone: usize,
    /// Whether the protocol has a slow path, so the files carry `Slow Paths:`.
    has_slow_path: bool,
    clones: Vec<Clone>,
    files: Vec<BufWriter<File>>,
    /// The first write error, reported at the end (a full disk must not stop the load).
    error: Option<String>,
}

impl CloneLogs {
    /// Totals for `clones` clones of `per_clone` logical clients each, and
    /// with `log`, the files `log`, `log1`, … created (truncated) now.
    pub fn new(clones: usize, per_clone: usize, has_slow_path: bool, log: Option<&Path>) -> Result<CloneLogs, String> {
        let files = match log {
            None => Vec::new(),
            Some(base) => (0..clones)
                .map(|c| {
                    let path = clone_file_name(base, c);
                    File::create(&path)
                        .map(BufWriter::new)
                        .map_err(|e| format!("-log {}: {e}", path.display()))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(CloneLogs {
            per_clone: per_clone.max(1),
            has_slow_path,
            clones: vec![Clone::default(); clones],
            files,
            error: None,
        })
    }

    /// Records one completion: a `latency` line in its clone's file, and a
    /// `Slow Paths:` line with the clone's new total when it took the slow
    /// path (as the original prints them).
    pub fn completed(&mut self, done: Completed) {
        let index = done.client / self.per_clone;
        let Some(clone) = self.clones.get_mut(index) else {
            return;
        };
        clone.completed += 1;
        clone.first_sent = Some(clone.first_sent.map_or(done.sent, |s| s.min(done.sent)));
        clone.last_done = clone.last_done.max(done.sent + done.latency);
        let slow = done.fast_path == Some(false);
        clone.slow += u64::from(slow);
        let total_slow = clone.slow;
        let mut lines = format!("{}latency {}\n", go_log_timestamp(), go_milliseconds(done.latency));
        if slow {
            lines += &format!("{}Slow Paths: {total_slow}\n", go_log_timestamp());
        }
        self.write(index, &lines);
    }

    fn write(&mut self, clone: usize, text: &str) {
        if let Some(file) = self.files.get_mut(clone) {
            if let Err(e) = file.write_all(text.as_bytes()) {
                self.error.get_or_insert_with(|| format!("writing a client log: {e}"));
            }
        }
    }

    /// Ends every file with `Test took`: from the clone's first command
    /// sent to its last completed. For protocols with a slow path a clone
    /// that never took it writes `Slow Paths: 0` first, so every file holds
    /// the total (the last `Slow Paths:` line). Returns the totals.
    pub fn finish(mut self) -> Result<Totals, String> {
        for index in 0..self.clones.len() {
            let clone = &self.clones[index];
            let took = clone
                .last_done
                .saturating_sub(clone.first_sent.unwrap_or(clone.last_done));
            let mut lines = String::new();
            if self.has_slow_path && clone.slow == 0 {
                lines += &format!("{}Slow Paths: {}\n", go_log_timestamp(), clone.slow);
            }
            lines += &format!("{}Test took {}\n", go_log_timestamp(), format_go_duration(took));
            self.write(index, &lines);
        }
        for file in &mut self.files {
            if let Err(e) = file.flush() {
                self.error.get_or_insert_with(|| format!("writing a client log: {e}"));
            }
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        let started = self
            .clones
            .iter()
            .filter_map(|c| c.first_sent)
            .min()
            .unwrap_or_default();
        let ended = self.clones.iter().map(|c| c.last_done).max().unwrap_or_default();
        Ok(Totals {
            completed: self.clones.iter().map(|c| c.completed).sum(),
            slow: self.clones.iter().map(|c| c.slow).sum(),
            elapsed: ended.saturating_sub(started),
        })
    }
}

/// What a client host completed, for the summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Totals {
    /// Commands completed (read-backs excluded).
    pub completed: u64,
    /// Of those, on the slow path.
    pub slow: u64,
    /// From the first command sent to the last completed.
    pub elapsed: Duration,
}

impl Totals {
    /// Completed commands per second over `elapsed`.
    pub fn throughput(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.completed as f64 / self.elapsed.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(client: usize, sent_ms: u64, latency_us: u64, fast_path: Option<bool>) -> Completed {
        Completed {
            client,
            sent: Duration::from_millis(sent_ms),
            latency: Duration::from_micros(latency_us),
            fast_path,
        }
    }

    #[test]
    fn each_clone_gets_its_file_with_the_originals_lines() {
        let dir = std::env::temp_dir().join(format!("clone-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("client");
        // Two clones of two logical clients each: clients 0, 1 are clone 0; 2, 3 clone 1.
        let mut logs = CloneLogs::new(2, 2, true, Some(&base)).unwrap();
        logs.completed(done(0, 0, 1500, Some(true)));
        logs.completed(done(1, 0, 2500, Some(false)));
        logs.completed(done(3, 1, 9_244, Some(false)));
        logs.completed(done(0, 2, 1000, Some(false)));
        let totals = logs.finish().unwrap();
        assert_eq!((totals.completed, totals.slow), (4, 3));
        assert_eq!(totals.elapsed, Duration::from_micros(10_244));

        let first = std::fs::read_to_string(&base).unwrap();
        let messages: Vec<&str> = first.lines().map(|l| &l[20..]).collect();
        assert_eq!(
            messages,
            [
                "latency 1.5",
                "latency 2.5",
                "Slow Paths: 1",
                "latency 1",
                "Slow Paths: 2",
                "Test took 3ms"
            ]
        );
        let second = std::fs::read_to_string(dir.join("client1")).unwrap();
        let messages: Vec<&str> = second.lines().map(|l| &l[20..]).collect();
        assert_eq!(messages, ["latency 9.244", "Slow Paths: 1", "Test took 9.244ms"]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_clone_without_slow_paths_says_zero() {
        let dir = std::env::temp_dir().join(format!("clone-logs-zero-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("c");
        let mut logs = CloneLogs::new(1, 1, true, Some(&base)).unwrap();
        logs.completed(done(0, 0, 2000, Some(true)));
        logs.finish().unwrap();
        let text = std::fs::read_to_string(&base).unwrap();
        let messages: Vec<&str> = text.lines().map(|l| &l[20..]).collect();
        assert_eq!(messages, ["latency 2", "Slow Paths: 0", "Test took 2ms"]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn one_path_protocols_write_no_slow_paths_and_no_files_without_log() {
        let mut logs = CloneLogs::new(1, 1, false, None).unwrap();
        logs.completed(done(0, 0, 4000, None));
        logs.completed(done(0, 4, 4000, None));
        let totals = logs.finish().unwrap();
        assert_eq!(
            (totals.completed, totals.slow, totals.elapsed),
            (2, 0, Duration::from_millis(8))
        );
        assert_eq!(totals.throughput(), 250.0);
    }
}
