//! Releasing executed commands. A replica may forget a command (its log
//! entry, its conflict-table and dependency records) once *every* replica
//! has executed it: no catch-up, recovery or fetch can ask for it again.
//! Replicas report how far they executed; the minimum is the stable
//! frontier. A replica that is down holds the frontier back (its last
//! report stays) for as long as it is within a bound of the others
//! ([`ExecutedEverywhere::stable_within`]); past it, the others release
//! without it and it rejoins by state transfer, so memory stays bounded
//! during an outage.

use crate::ids::ReplicaId;

/// The execution frontiers replicas reported (each only moves forward).
#[derive(Clone, Debug)]
pub struct ExecutedEverywhere {
    frontiers: Vec<u64>,
}

impl ExecutedEverywhere {
    /// No reports yet from any of `n` replicas: nothing is stable.
    pub fn new(n: usize) -> Self {
        ExecutedEverywhere { frontiers: vec![0; n] }
    }

    /// Replica `r` executed everything below `frontier`.
    pub fn report(&mut self, r: ReplicaId, frontier: u64) {
        if let Some(f) = self.frontiers.get_mut(r) {
            *f = (*f).max(frontier);
        }
    }

    /// Everything below this is executed at every replica.
    pub fn stable(&self) -> u64 {
        self.frontiers.iter().copied().min().unwrap_or(0)
    }

    /// Everything below this is executed at `leader` and at every replica
    /// at most `lag` behind it: a replica further behind (down,
    /// partitioned, slow) is not waited for, so memory stays bounded; it
    /// rejoins by state transfer ([`crate::transfer`]). Measured from the
    /// leader, never from the most advanced replica: the leader recovers
    /// what is undecided (a Fast Paxos follower may decide instances its
    /// leader has not), so nothing it has not executed may be released.
    pub fn stable_within(&self, lag: u64, leader: ReplicaId) -> u64 {
        let Some(&anchor) = self.frontiers.get(leader) else {
            return 0;
        };
        self.frontiers
            .iter()
            .copied()
            .filter(|f| f.saturating_add(lag) >= anchor)
            .min()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_replica_sets_the_stable_frontier() {
        let mut e = ExecutedEverywhere::new(3);
        e.report(0, 10);
        e.report(1, 7);
        assert_eq!(e.stable(), 0, "replica 2 has not reported");
        e.report(2, 9);
        assert_eq!(e.stable(), 7);
        e.report(1, 3);
        assert_eq!(e.stable(), 7, "reports never move back");
        e.report(7, 100);
        assert_eq!(e.stable(), 7, "unknown replicas are ignored");
    }

    #[test]
    fn a_replica_too_far_behind_is_not_waited_for() {
        let mut e = ExecutedEverywhere::new(3);
        e.report(0, 100);
        e.report(1, 95);
        e.report(2, 10);
        assert_eq!(e.stable_within(1000, 0), 10);
        assert_eq!(e.stable_within(50, 0), 95, "replica 2 is 90 behind the leader");
        assert_eq!(e.stable_within(5, 0), 95, "replica 1 is just within");
        // A leader behind its followers: nothing it has not executed goes.
        assert_eq!(e.stable_within(5, 2), 10);
        assert_eq!(e.stable_within(5, 9), 0, "unknown leader");
    }
}
