//! Faults during a run (`--fault`) and what they did: how long nothing
//! completed, and how long until throughput was back.

use crate::BenchArgs;
use runtime::live::timeline::{Timeline, SLOT, SLOTS_PER_BUCKET};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What happens to the replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// It crashes: its process (here, its executors) stops and its
    /// connections close.
    Kill,
    /// It starts again on its address, from its write-ahead log.
    Restart,
    /// It freezes for this long, then carries on.
    Stall(Duration),
    /// Its links are cut, as a network fault would (messages vanish, the
    /// connections stay): with `peer`, only the one with that replica
    /// (`cut:r0-r1`); without, those with every other replica (`cut:r0`);
    /// with `clients`, the clients' too (`isolate:r0`). Healed after
    /// `heal_after`, if given (`…@3s+4s`).
    Cut {
        peer: Option<usize>,
        clients: bool,
        heal_after: Option<Duration>,
    },
    /// A cut ends (scheduled by the run for a cut with a length).
    Heal { peer: Option<usize>, clients: bool },
}

/// One fault: what, to which replica, when (from the measurement's start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// To which replica (0 leads the first ballot).
    pub replica: usize,
    /// Whether it was named as the leader.
    pub named_leader: bool,
    /// When, after the warm-up.
    pub at: Duration,
}

impl FromStr for Fault {
    type Err = String;
    /// `kill-leader@3s`, `kill:r2@3s`, `restart:r2@6s`, `stall:r0@1s+200ms`,
    /// `cut:r0@3s`, `cut:r0-r1@3s+4s`, `isolate:r0@3s+4s`.
    fn from_str(text: &str) -> Result<Fault, String> {
        let bad = |why: &str| {
            format!(
                "fault `{text}`: {why} (expected e.g. kill-leader@3s, kill:r2@3s, restart:r2@6s, stall:r0@1s+200ms, cut:r0@3s, cut:r0-r1@3s+4s, isolate:r0@3s+4s)"
            )
        };
        let replica_named = |r: &str| r.strip_prefix('r').and_then(|n| n.parse::<usize>().ok());
        let (what, when) = text.trim().split_once('@').ok_or_else(|| bad("no @TIME"))?;
        let (kind, target) = match what.split_once(':') {
            Some((kind, replica)) => (kind, replica),
            None => what
                .rsplit_once('-')
                .filter(|(_, t)| *t == "leader")
                .ok_or_else(|| bad("no replica (kill:r2 or kill-leader)"))?,
        };
        let (target, peer) = match target.split_once('-').filter(|_| kind == "cut") {
            Some((one, other)) => (
                one,
                Some(replica_named(other).ok_or_else(|| bad("a replica is r0, r1, …"))?),
            ),
            None => (target, None),
        };
        let (replica, named_leader) = match target {
            "leader" => (0, true),
            r => (replica_named(r).ok_or_else(|| bad("a replica is r0, r1, …"))?, false),
        };
        let (at, length) = match when.split_once('+') {
            Some((at, length)) => (at, Some(net::duration::parse_go_duration(length).map_err(|e| bad(&e))?)),
            None => (when, None),
        };
        let at = net::duration::parse_go_duration(at).map_err(|e| bad(&e))?;
        let kind = match (kind, length) {
            ("kill", None) => FaultKind::Kill,
            ("restart", None) => FaultKind::Restart,
            ("stall", Some(length)) if !length.is_zero() => FaultKind::Stall(length),
            ("stall", _) => return Err(bad("a stall needs its length: stall:r0@1s+200ms")),
            ("cut" | "isolate", Some(length)) if length.is_zero() => return Err(bad("a cut of no length")),
            ("cut" | "isolate", heal_after) => FaultKind::Cut {
                peer,
                clients: kind == "isolate",
                heal_after,
            },
            ("kill" | "restart", Some(_)) => return Err(bad("only a stall has a length")),
            _ => return Err(bad("the kinds are kill, restart, stall, cut and isolate")),
        };
        Ok(Fault {
            kind,
            replica,
            named_leader,
            at,
        })
    }
}

impl Fault {
    /// The end of this fault, if it is a cut with a length.
    pub fn heal(&self) -> Option<Fault> {
        match self.kind {
            FaultKind::Cut {
                peer,
                clients,
                heal_after: Some(after),
            } => Some(Fault {
                kind: FaultKind::Heal { peer, clients },
                at: self.at + after,
                ..*self
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.named_leader {
            format!("r{} (the first leader)", self.replica)
        } else {
            format!("r{}", self.replica)
        };
        match self.kind {
            FaultKind::Kill => write!(f, "kill {who}"),
            FaultKind::Restart => write!(f, "restart {who}"),
            FaultKind::Stall(d) => write!(f, "stall {who} for {} ms", d.as_millis()),
            FaultKind::Cut {
                peer,
                clients,
                heal_after,
            } => {
                match (peer, clients) {
                    (Some(p), _) => write!(f, "cut the link {who}-r{p}"),
                    (None, false) => write!(f, "cut {who} off from the other replicas"),
                    (None, true) => write!(f, "isolate {who} from everyone"),
                }?;
                if let Some(d) = heal_after {
                    write!(f, " for {} ms", d.as_millis())?;
                }
                Ok(())
            }
            FaultKind::Heal { peer: Some(p), .. } => write!(f, "heal the link {who}-r{p}"),
            FaultKind::Heal { .. } => write!(f, "heal {who}'s links"),
        }?;
        write!(f, " at {:.3} s", self.at.as_secs_f64())
    }
}

/// Checks a fault plan against the run: replicas exist, times fall in the
/// measurement, a restart follows a kill (from its log with `--data-dir`,
/// else empty, rejoining as [`protocols::rejoin`] says).
pub fn check(faults: &[Fault], args: &BenchArgs) -> Result<(), String> {
    let mut down = vec![false; args.replicas];
    let mut sorted = faults.to_vec();
    sorted.sort_by_key(|f| f.at);
    for f in &sorted {
        if f.replica >= args.replicas {
            return Err(format!(
                "--fault {f}: there are {} replicas (r0 to r{})",
                args.replicas,
                args.replicas - 1
            ));
        }
        if f.at >= args.duration {
            return Err(format!(
                "--fault {f}: after the measurement ends ({:.1} s)",
                args.duration.as_secs_f64()
            ));
        }
        match f.kind {
            FaultKind::Kill if down[f.replica] => return Err(format!("--fault {f}: r{} is already down", f.replica)),
            FaultKind::Kill => down[f.replica] = true,
            FaultKind::Restart if !down[f.replica] => return Err(format!("--fault {f}: r{} is not down", f.replica)),
            FaultKind::Restart => down[f.replica] = false,
            FaultKind::Stall(_) if down[f.replica] => return Err(format!("--fault {f}: r{} is down", f.replica)),
            FaultKind::Stall(_) | FaultKind::Heal { .. } => {}
            FaultKind::Cut { peer: Some(p), .. } if p >= args.replicas || p == f.replica => {
                return Err(format!(
                    "--fault {f}: a link joins two of the {} replicas (r0 to r{})",
                    args.replicas,
                    args.replicas - 1
                ))
            }
            FaultKind::Cut { .. } => {}
        }
    }
    Ok(())
}

/// What one fault did to the clients, read from the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct FaultReport {
    /// The fault, in words.
    pub fault: String,
    /// When, in seconds from the measurement's start.
    pub at_s: f64,
    /// The longest stretch with no completion that began after the fault
    /// (and before the next one), in ms (10 ms resolution).
    pub silent_ms: f64,
    /// When that stretch began, in seconds.
    pub silent_from_s: Option<f64>,
    /// Mean throughput over the second before the fault.
    pub before_ops: f64,
    /// From the fault until throughput was back to 90% of `before_ops`:
    /// to the end of the first 100 ms bucket that reaches it and from which
    /// the next 500 ms average it too (a burst of delayed answers alone
    /// does not count); `None` if it was not within the run.
    pub recovered_in_ms: Option<f64>,
}

/// What each fault of `faults` did, from the merged timeline.
pub fn analyse(faults: &[Fault], timeline: &Timeline) -> Vec<FaultReport> {
    let mut sorted = faults.to_vec();
    sorted.sort_by_key(|f| f.at);
    let slot_s = SLOT.as_secs_f64();
    let slots = &timeline.completions;
    sorted
        .iter()
        .enumerate()
        .map(|(i, fault)| {
            let slot_ms = SLOT.as_millis() as usize;
            let first = (fault.at.as_millis() as usize / slot_ms).min(slots.len());
            let until = sorted.get(i + 1).map_or(slots.len(), |next| {
                (next.at.as_millis() as usize / slot_ms).min(slots.len())
            });
            // The longest run of empty slots that starts in [first, until).
            let (mut best, mut best_from) = (0usize, None);
            let mut s = first;
            while s < slots.len() {
                if slots[s] != 0 {
                    if s >= until {
                        break;
                    }
                    s += 1;
                    continue;
                }
                let start = s;
                while s < slots.len() && slots[s] == 0 {
                    s += 1;
                }
                if start < until.max(first + 1) && s - start > best {
                    (best, best_from) = (s - start, Some(start));
                }
            }
            let window = ((1.0 / slot_s) as usize).min(first);
            let before_ops = if window == 0 {
                0.0
            } else {
                slots[first - window..first].iter().sum::<u64>() as f64 / (window as f64 * slot_s)
            };
            FaultReport {
                fault: fault.to_string(),
                at_s: fault.at.as_secs_f64(),
                silent_ms: best as f64 * slot_s * 1e3,
                silent_from_s: best_from.map(|s| s as f64 * slot_s),
                before_ops,
                recovered_in_ms: recovered_in(slots, fault.at, before_ops),
            }
        })
        .collect()
}

fn recovered_in(slots: &[u64], at: Duration, before_ops: f64) -> Option<f64> {
    if before_ops <= 0.0 {
        return None;
    }
    let bucket = SLOT * SLOTS_PER_BUCKET as u32;
    let bucket_s = bucket.as_secs_f64();
    let per_bucket: Vec<f64> = slots
        .chunks(SLOTS_PER_BUCKET)
        .map(|c| c.iter().sum::<u64>() as f64 / bucket_s)
        .collect();
    let first = at.as_millis().div_ceil(bucket.as_millis()) as usize;
    const AHEAD: usize = 5;
    let back = 0.9 * before_ops;
    (first..per_bucket.len()).find_map(|b| {
        let ahead = &per_bucket[b..(b + AHEAD).min(per_bucket.len())];
        let mean = ahead.iter().sum::<f64>() / ahead.len() as f64;
        (per_bucket[b] >= back && mean >= back)
            .then(|| ((b + 1) as f64 * bucket.as_millis() as f64) - at.as_secs_f64() * 1e3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_as_the_issue_writes_them() {
        let f: Fault = "kill-leader@3s".parse().expect("kill-leader");
        assert_eq!(
            f,
            Fault {
                kind: FaultKind::Kill,
                replica: 0,
                named_leader: true,
                at: Duration::from_secs(3)
            }
        );
        let f: Fault = "restart:r2@6s".parse().expect("restart");
        assert_eq!((f.kind, f.replica), (FaultKind::Restart, 2));
        let f: Fault = "stall:r1@1s+200ms".parse().expect("stall");
        assert_eq!(f.kind, FaultKind::Stall(Duration::from_millis(200)));
        let f: Fault = "cut:r0@3s".parse().expect("cut");
        assert_eq!(
            (f.replica, f.kind),
            (
                0,
                FaultKind::Cut {
                    peer: None,
                    clients: false,
                    heal_after: None
                }
            )
        );
        assert_eq!(f.heal(), None);
        let f: Fault = "cut:r0-r1@3s+4s".parse().expect("cut a link");
        assert_eq!(
            f.kind,
            FaultKind::Cut {
                peer: Some(1),
                clients: false,
                heal_after: Some(Duration::from_secs(4))
            }
        );
        let heal = f.heal().expect("healed");
        assert_eq!(
            (heal.at, heal.kind),
            (
                Duration::from_secs(7),
                FaultKind::Heal {
                    peer: Some(1),
                    clients: false
                }
            )
        );
        let f: Fault = "isolate:r2@1s+500ms".parse().expect("isolate");
        assert_eq!(f.to_string(), "isolate r2 from everyone for 500 ms at 1.000 s");
        assert!(matches!(f.kind, FaultKind::Cut { clients: true, .. }));
        for bad in [
            "kill@3s",
            "kill:x2@1s",
            "explode:r1@1s",
            "stall:r0@1s",
            "kill:r1",
            "kill:r1@1s+5ms",
            "cut:r0-x@1s",
            "isolate:r0-r1@1s",
            "cut:r0@1s+0s",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    /// 1,000 ops/s for 3 s, nothing from 3.0 to 3.5 s, half rate to 4 s,
    /// then full rate again.
    #[test]
    fn the_dip_is_measured_from_the_timeline() {
        let mut t = Timeline::new(Duration::from_secs(6));
        for slot in 0..600 {
            let per_slot = match slot {
                0..300 => 10,
                300..350 => 0,
                350..400 => 5,
                _ => 10,
            };
            for _ in 0..per_slot {
                t.record(SLOT * slot + Duration::from_millis(1), Duration::from_millis(1));
            }
        }
        let fault = "kill-leader@3s".parse::<Fault>().expect("fault");
        let report = &analyse(&[fault], &t)[0];
        assert_eq!(report.silent_ms, 500.0);
        assert_eq!(report.silent_from_s, Some(3.0));
        assert!((report.before_ops - 1000.0).abs() < 1e-6);
        // Buckets from 3.0 s: 0 ×5, 500 ×5, then 1000: the first at 900 or
        // more (and whose next five average that) is the one at 4.0 s, so
        // recovery ends at 4.1 s: 1,100 ms.
        assert_eq!(report.recovered_in_ms.map(|ms| ms.round()), Some(1100.0));
    }

    #[test]
    fn a_plan_is_checked_against_the_run() {
        use clap::Parser;
        let args = |extra: &[&str]| {
            let mut argv = vec!["bench", "--duration", "8s"];
            argv.extend_from_slice(extra);
            BenchArgs::try_parse_from(argv).expect("arguments parse")
        };
        // From its log, or (volatile) empty, rejoining.
        assert!(args(&["--fault", "kill:r1@3s,restart:r1@5s"]).validate().is_ok());
        assert!(args(&["--fault", "kill:r1@3s,restart:r1@5s", "--data-dir", "/tmp"])
            .validate()
            .is_ok());
        assert!(args(&["--fault", "restart:r1@5s", "--data-dir", "/tmp"])
            .validate()
            .unwrap_err()
            .contains("not down"));
        assert!(args(&["--fault", "kill:r5@3s"])
            .validate()
            .unwrap_err()
            .contains("3 replicas"));
        assert!(args(&["--fault", "kill:r1@9s"])
            .validate()
            .unwrap_err()
            .contains("after the measurement"));
    }
}
