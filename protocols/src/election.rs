//! Leader suspicion with a pre-vote, shared by every leader-based protocol.
//!
//! A follower that has not heard its leader for a leader timeout (plus half a
//! timeout per rank after the leader, so successors try one at a time) does
//! not raise its ballot at once: it asks the others whether they lost the
//! leader too (a pre-vote, as in Raft). Only with a majority of grants does it
//! start the protocol's own leader change. So a replica that was cut off alone
//! never comes back with a higher ballot that deposes a working leader.
//!
//! The protocol owns its messages and ballots; this type owns the timing and
//! the grants.

use crate::ballot::Ballot;
use crate::ids::ReplicaId;
use crate::protocol::Timing;
use crate::quorum::Votes;
use crate::time::Time;
use std::time::Duration;

/// What [`Election::tick`] asks the protocol to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionStep {
    /// Nothing.
    Wait,
    /// Broadcast a pre-vote request for the current ballot.
    AskPreVotes,
}

/// The suspicion and pre-vote state of one replica.
#[derive(Clone, Debug)]
pub struct Election {
    id: ReplicaId,
    n: usize,
    timing: Timing,
    last_heard: Time,
    /// Grants gathered while suspecting, and when the request last went out.
    suspecting: Option<(Votes, Time)>,
}

impl Election {
    /// A replica that heard its leader at time zero.
    pub fn new(id: ReplicaId, n: usize, timing: Timing) -> Self {
        Election {
            id,
            n,
            timing,
            last_heard: Time::ZERO,
            suspecting: None,
        }
    }

    /// The leader (or a candidate for a new ballot) showed it is alive:
    /// stop suspecting.
    pub fn heard_leader(&mut self, now: Time) {
        self.last_heard = now;
        self.suspecting = None;
    }

    /// Whether a follower has heard its leader within a leader timeout: such
    /// a replica refuses pre-votes.
    pub fn leader_recently_heard(&self, now: Time) -> bool {
        self.suspecting.is_none() && now.since(self.last_heard) < self.timing.leader_timeout
    }

    /// Whether this replica is asking for pre-votes.
    pub fn is_suspecting(&self) -> bool {
        self.suspecting.is_some()
    }

    fn suspicion_timeout(&self, ballot: Ballot) -> Duration {
        let leader = ballot.leader(self.n);
        let rank = (self.id + self.n - leader - 1) % self.n;
        self.timing.leader_timeout + self.timing.leader_timeout / 2 * rank as u32
    }

    /// For a follower of `ballot`: starts suspecting when the leader has been
    /// quiet too long, and repeats the pre-vote request every retry period.
    pub fn tick(&mut self, ballot: Ballot, now: Time) -> ElectionStep {
        let timeout = self.suspicion_timeout(ballot);
        match &mut self.suspecting {
            Some((_, sent)) if now.since(*sent) >= self.timing.retry => {
                *sent = now;
                ElectionStep::AskPreVotes
            }
            Some(_) => ElectionStep::Wait,
            None if now.since(self.last_heard) >= timeout => {
                let mut grants = Votes::new();
                grants.add(self.id);
                self.suspecting = Some((grants, now));
                ElectionStep::AskPreVotes
            }
            None => ElectionStep::Wait,
        }
    }

    /// Records a grant; answers whether a majority now agrees the leader is
    /// gone, in which case the protocol starts its leader change.
    pub fn granted(&mut self, from: ReplicaId) -> bool {
        let majority = self.n / 2 + 1;
        match &mut self.suspecting {
            Some((grants, _)) => {
                grants.add(from);
                grants.reached(majority)
            }
            None => false,
        }
    }

    /// Whether this replica, alone, is already a majority (n = 1).
    pub fn alone_is_majority(&self) -> bool {
        self.n == 1
    }

    /// The leader change is under way: no more suspicion until it settles.
    pub fn candidacy_started(&mut self, now: Time) {
        self.heard_leader(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing::for_max_delay(Duration::from_millis(10))
    }

    #[test]
    fn successors_suspect_one_after_another() {
        let t = timing();
        let mut first = Election::new(1, 5, t);
        let mut second = Election::new(2, 5, t);
        let at = Time::ZERO + t.leader_timeout;
        assert_eq!(first.tick(Ballot(0), at), ElectionStep::AskPreVotes);
        assert_eq!(second.tick(Ballot(0), at), ElectionStep::Wait);
        assert_eq!(
            second.tick(Ballot(0), at + t.leader_timeout / 2),
            ElectionStep::AskPreVotes
        );
    }

    #[test]
    fn a_majority_of_grants_is_needed_and_hearing_the_leader_cancels() {
        let t = timing();
        let mut e = Election::new(1, 5, t);
        e.tick(Ballot(0), Time::ZERO + t.leader_timeout);
        assert!(e.is_suspecting());
        assert!(!e.granted(2));
        assert!(e.granted(3));
        e.heard_leader(Time::ZERO + t.leader_timeout * 2);
        assert!(!e.is_suspecting());
        assert!(!e.granted(4), "grants count only while suspecting");
    }

    #[test]
    fn pre_votes_are_refused_while_the_leader_is_heard() {
        let t = timing();
        let mut e = Election::new(3, 5, t);
        e.heard_leader(Time::from_millis(100));
        assert!(e.leader_recently_heard(Time::from_millis(101)));
        assert!(!e.leader_recently_heard(Time::from_millis(100) + t.leader_timeout));
    }
}
