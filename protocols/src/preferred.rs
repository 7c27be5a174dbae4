//! Which replica a client asks first, learned from who answers.
//!
//! Some clients send each command to one replica (EPaxos: the nearest,
//! which leads it) or ask one replica for the answer (Fast Paxos: the
//! nearest learner replies). While that replica is down or cut off from
//! the others, every command would wait a whole retry timeout before the
//! client tries elsewhere. [`PreferredReplica`] remembers instead: once a
//! command timed out at the preferred replica (or the link to it failed),
//! the next replica that answers becomes the one asked first, for every
//! later command. The first choice is probed again after a backoff,
//! alongside the replica now asked (so a probe never delays a command),
//! and it is preferred again once it answers a probe promptly.

use crate::ids::{CommandId, ReplicaId};
use crate::time::Time;
use std::time::Duration;

/// The first probe of the first choice waits this many retry timeouts.
const FIRST_PROBE_AFTER: u32 = 2;
/// Probes that fail back off, doubling up to this many retry timeouts.
const MAX_PROBE_BACKOFF: u32 = 32;

/// A probe of the first choice while another replica is asked.
#[derive(Clone, Copy, Debug)]
struct Probe {
    /// When the next probe may go.
    due: Time,
    /// The wait after a probe that fails.
    backoff: Duration,
    /// The probe out now: its command and when it went.
    sent: Option<(CommandId, Time)>,
}

/// A client's preferred replica: its first choice while that one answers,
/// else the last replica that answered in its place.
#[derive(Clone, Debug)]
pub struct PreferredReplica {
    n: usize,
    /// The replica chosen from the deployment (the nearest).
    first: ReplicaId,
    /// The replica asked first now.
    current: ReplicaId,
    /// `current` let a command time out or its link failed: the next
    /// replica to answer takes its place.
    doubted: bool,
    /// How long an answer may take and still count as prompt.
    retry: Duration,
    /// Set while the client is away from (or doubts) its first choice.
    probe: Option<Probe>,
}

impl PreferredReplica {
    /// Prefers `first` of `n` replicas; an answer slower than `retry` is not prompt.
    pub fn new(first: ReplicaId, n: usize, retry: Duration) -> Self {
        PreferredReplica {
            n,
            first,
            current: first,
            doubted: false,
            retry,
            probe: None,
        }
    }

    /// The replica asked first now.
    pub fn current(&self) -> ReplicaId {
        self.current
    }

    /// Where command `id`, submitted now, goes: the preferred replica and,
    /// when a probe is due, the first choice as well.
    pub fn targets(&mut self, id: CommandId, now: Time) -> (ReplicaId, Option<ReplicaId>) {
        self.expire_probe(now);
        let (current, first) = (self.current, self.first);
        let probe = match &mut self.probe {
            Some(p) if p.sent.is_none() && now >= p.due && first != current => {
                p.sent = Some((id, now));
                Some(first)
            }
            _ => None,
        };
        (current, probe)
    }

    /// A command sent to `replica` went unanswered for a retry timeout.
    pub fn timed_out(&mut self, replica: ReplicaId, now: Time) {
        if replica == self.current {
            self.doubt(now);
        }
    }

    /// The client's link to `replica` failed (its connection closed or
    /// could not be made): it is not asked first until it answers again.
    pub fn unreachable(&mut self, replica: ReplicaId, now: Time) {
        if replica == self.current {
            self.doubt(now);
            self.current = (replica + 1) % self.n;
        }
    }

    /// `from` answered command `id` (even one no longer in flight: a
    /// probe's answer may come after another replica's).
    pub fn answered(&mut self, from: ReplicaId, id: CommandId, now: Time) {
        if let Some((probed, sent)) = self.probe.and_then(|p| p.sent) {
            if probed == id && from == self.first {
                if now.since(sent) <= self.retry {
                    self.prefer_first();
                } else {
                    self.probe_failed(now);
                }
                return;
            }
        }
        if self.doubted {
            self.doubted = false;
            self.current = from;
            if from == self.first {
                self.prefer_first();
            }
        }
    }

    fn doubt(&mut self, now: Time) {
        self.doubted = true;
        if self.probe.is_none() {
            let backoff = self.retry * FIRST_PROBE_AFTER;
            self.probe = Some(Probe {
                due: now + backoff,
                backoff,
                sent: None,
            });
        }
    }

    fn prefer_first(&mut self) {
        self.current = self.first;
        self.doubted = false;
        self.probe = None;
    }

    /// A probe unanswered for a retry timeout failed.
    fn expire_probe(&mut self, now: Time) {
        if let Some((_, sent)) = self.probe.and_then(|p| p.sent) {
            if now.since(sent) > self.retry {
                self.probe_failed(now);
            }
        }
    }

    fn probe_failed(&mut self, now: Time) {
        if let Some(p) = &mut self.probe {
            p.backoff = (p.backoff * 2).min(self.retry * MAX_PROBE_BACKOFF);
            p.due = now + p.backoff;
            p.sent = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_millis(100);

    fn ms(t: u64) -> Time {
        Time::from_millis(t)
    }

    /// A client whose first choice, 0, timed out at `at` ms and whose
    /// retry `replica` answered a millisecond later.
    fn moved_to(replica: ReplicaId, at: u64) -> PreferredReplica {
        let mut p = PreferredReplica::new(0, 3, RETRY);
        p.timed_out(0, ms(at));
        p.answered(replica, CommandId::new(1, 1), ms(at + 1));
        p
    }

    #[test]
    fn a_timeout_moves_every_later_command_to_the_replica_that_answered() {
        let mut p = PreferredReplica::new(0, 3, RETRY);
        assert_eq!(p.targets(CommandId::new(1, 1), ms(0)), (0, None));
        p.timed_out(0, ms(100));
        // The retry went to replica 1, which answered.
        p.answered(1, CommandId::new(1, 1), ms(101));
        assert_eq!(p.current(), 1);
        assert_eq!(
            p.targets(CommandId::new(1, 2), ms(102)),
            (1, None),
            "no probe before the backoff"
        );
    }

    #[test]
    fn a_timeout_elsewhere_or_a_late_answer_from_the_current_one_changes_nothing() {
        let mut p = PreferredReplica::new(0, 3, RETRY);
        p.timed_out(2, ms(100));
        p.answered(2, CommandId::new(1, 1), ms(101));
        assert_eq!(p.current(), 0);
    }

    #[test]
    fn the_first_choice_is_probed_after_a_backoff_and_preferred_again_when_it_answers_promptly() {
        let mut p = moved_to(1, 100);
        // Due at 100 + 2 × 100 ms.
        assert_eq!(p.targets(CommandId::new(1, 2), ms(299)), (1, None));
        let probe = CommandId::new(1, 3);
        assert_eq!(p.targets(probe, ms(300)), (1, Some(0)));
        assert_eq!(
            p.targets(CommandId::new(1, 4), ms(301)),
            (1, None),
            "one probe at a time"
        );
        p.answered(1, probe, ms(302));
        assert_eq!(p.current(), 1, "the other replica's answer is not the probe's");
        p.answered(0, probe, ms(310));
        assert_eq!(p.current(), 0);
        assert_eq!(p.targets(CommandId::new(1, 5), ms(311)), (0, None));
    }

    #[test]
    fn failed_probes_back_off_up_to_a_cap() {
        let mut p = moved_to(2, 0);
        let mut now = 200;
        let mut gaps = Vec::new();
        let mut last_probe = None;
        for seq in 2..2000u64 {
            if let (_, Some(0)) = p.targets(CommandId::new(1, seq), ms(now)) {
                if let Some(last) = last_probe {
                    gaps.push(now - last);
                }
                last_probe = Some(now);
            }
            now += 10;
        }
        assert!(gaps.len() >= 4, "{gaps:?}");
        assert!(gaps.windows(2).all(|w| w[1] >= w[0]), "backing off: {gaps:?}");
        assert!(
            *gaps.last().expect("gaps") <= 100 + 10 + 32 * 100 + 10,
            "capped: {gaps:?}"
        );
        assert_eq!(p.current(), 2);
    }

    #[test]
    fn a_late_answer_to_a_probe_does_not_bring_the_client_back() {
        let mut p = moved_to(1, 0);
        let probe = CommandId::new(1, 2);
        assert_eq!(p.targets(probe, ms(200)), (1, Some(0)));
        p.answered(0, probe, ms(350));
        assert_eq!(p.current(), 1);
    }

    #[test]
    fn a_failed_link_moves_on_at_once() {
        let mut p = PreferredReplica::new(1, 3, RETRY);
        p.unreachable(1, ms(5));
        assert_eq!(p.targets(CommandId::new(1, 1), ms(6)).0, 2);
        p.unreachable(2, ms(7));
        assert_eq!(p.targets(CommandId::new(1, 2), ms(8)).0, 0);
        p.answered(0, CommandId::new(1, 2), ms(9));
        assert_eq!(p.current(), 0);
    }
}
