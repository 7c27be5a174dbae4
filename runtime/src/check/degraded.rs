//! Progress while degraded: with at most f replicas down or cut off, every
//! client keeps completing commands at the pace of a working cluster, not
//! one command per retry timeout.
//!
//! The liveness check asks only that every command completes once faults
//! heal; a protocol whose clients wait a timeout per command while a
//! replica is down passes it and is still useless meanwhile. This check
//! looks at each stretch of a run in which the same replicas are out (one
//! to f, no delay spike on) and, from `settle` after the stretch began
//! (elections and the clients' first timeouts are over), allows no command
//! sent during the stretch to wait longer than `allowed` inside it.

use super::History;
use protocols::quorum::ReplicaSet;
use protocols::Time;
use std::time::Duration;

/// From `from` on (until the next period), these replicas were down,
/// rejoining, or cut off from the clients or from the majority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultPeriod {
    /// When the period began.
    pub from: Time,
    /// The replicas out of service.
    pub out: ReplicaSet,
    /// Whether a delay spike between sites was on (not checked: slow is
    /// not the same as unavailable).
    pub spike: bool,
}

/// What the check allows.
#[derive(Clone, Copy, Debug)]
pub struct DegradedRules {
    /// The replicas that may be out while progress is still owed.
    pub f: usize,
    /// How long after a period begins it is checked.
    pub settle: Duration,
    /// The longest a command may wait inside the checked part of a period.
    pub allowed: Duration,
}

/// Every command that waited longer than the rules allow inside a checked
/// period; the run ended at `end`.
pub fn check_degraded_progress(
    history: &History,
    periods: &[FaultPeriod],
    end: Time,
    rules: DegradedRules,
) -> Vec<String> {
    let mut waits = Vec::new();
    for (i, period) in periods.iter().enumerate() {
        if period.spike || period.out.is_empty() || period.out.len() > rules.f {
            continue;
        }
        let checked_from = period.from + rules.settle;
        let until = periods.get(i + 1).map_or(end, |next| next.from);
        if checked_from >= until {
            continue;
        }
        // Commands sent before the period began are not owed: they were
        // sent under other faults (perhaps when nothing could answer) and
        // may be waiting out a retry backoff.
        for op in history.ops.iter().filter(|op| op.invoked >= period.from) {
            let done = op.completed.as_ref().map_or(end, |(t, _)| *t);
            let (a, b) = (op.invoked.max(checked_from), done.min(until));
            if b > a && b.since(a) > rules.allowed {
                waits.push((op.id, b.since(a), checked_from, until, period.out));
            }
        }
    }
    let Some(&(id, waited, from, until, out)) = waits.iter().max_by_key(|w| w.1) else {
        return Vec::new();
    };
    vec![format!(
        "degraded progress: {} commands waited longer than {:?} while at most {} replicas were out, e.g. {id} waited {:.1} ms between {:.1} ms and {:.1} ms with {out:?} out",
        waits.len(),
        rules.allowed,
        rules.f,
        waited.as_secs_f64() * 1e3,
        from.as_nanos() as f64 / 1e6,
        until.as_nanos() as f64 / 1e6,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Operation;
    use protocols::{Command, CommandId, CommandResult};

    fn op(seq: u64, invoked: u64, completed: Option<u64>) -> Operation {
        Operation {
            id: CommandId::new(1, seq),
            command: Command::Noop,
            invoked: Time::from_millis(invoked),
            completed: completed.map(|t| (Time::from_millis(t), CommandResult::Done)),
        }
    }

    const RULES: DegradedRules = DegradedRules {
        f: 1,
        settle: Duration::from_millis(100),
        allowed: Duration::from_millis(50),
    };

    fn period(from: u64, out: &[usize], spike: bool) -> FaultPeriod {
        FaultPeriod {
            from: Time::from_millis(from),
            out: out.iter().copied().collect(),
            spike,
        }
    }

    #[test]
    fn a_command_waiting_a_timeout_while_one_replica_is_down_is_reported() {
        let history = History {
            ops: vec![op(1, 0, Some(10)), op(2, 150, Some(160)), op(3, 200, Some(400))],
        };
        let periods = [period(0, &[], false), period(20, &[0], false)];
        let v = check_degraded_progress(&history, &periods, Time::from_millis(500), RULES);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("1 commands") && v[0].contains("waited 200.0 ms"), "{v:?}");
    }

    #[test]
    fn the_settling_time_too_many_replicas_out_and_spikes_are_not_checked() {
        // Waits inside the settling time (20..120) only.
        let history = History {
            ops: vec![op(1, 20, Some(115))],
        };
        let periods = [period(0, &[], false), period(20, &[0], false)];
        assert!(check_degraded_progress(&history, &periods, Time::from_millis(500), RULES).is_empty());
        // Two of three out: nothing is owed.
        let history = History {
            ops: vec![op(1, 200, Some(400))],
        };
        let periods = [period(0, &[0, 1], false)];
        assert!(check_degraded_progress(&history, &periods, Time::from_millis(500), RULES).is_empty());
        let periods = [period(0, &[0], true)];
        assert!(check_degraded_progress(&history, &periods, Time::from_millis(500), RULES).is_empty());
    }

    #[test]
    fn a_command_still_waiting_at_the_end_counts_to_the_end() {
        let history = History {
            ops: vec![op(1, 150, None)],
        };
        let periods = [period(0, &[2], false)];
        let v = check_degraded_progress(&history, &periods, Time::from_millis(300), RULES);
        assert_eq!(v.len(), 1, "{v:?}");
    }
}
