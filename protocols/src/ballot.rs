//! Ballots: totally ordered, each owned by one replica (`ballot mod n`).

use crate::ids::ReplicaId;
use std::fmt;

/// A ballot number. Ballot `b` of an `n`-replica deployment is led by replica
/// `b mod n`, so two replicas never compete with the same ballot.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Ballot(pub u64);

impl Ballot {
    /// The first ballot, led by replica 0: every run starts with it.
    pub const INITIAL: Ballot = Ballot(0);

    /// The replica that leads this ballot.
    pub fn leader(self, n: usize) -> ReplicaId {
        (self.0 % n as u64) as ReplicaId
    }

    /// The smallest ballot above `self` that `replica` leads.
    pub fn next_owned_by(self, replica: ReplicaId, n: usize) -> Ballot {
        let n = n as u64;
        let round = self.0 / n + 1;
        let mut candidate = round * n + replica as u64;
        if candidate - n > self.0 {
            candidate -= n;
        }
        Ballot(candidate)
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_is_ballot_mod_n() {
        assert_eq!(Ballot(0).leader(5), 0);
        assert_eq!(Ballot(7).leader(5), 2);
        assert_eq!(Ballot(10).leader(3), 1);
    }

    #[test]
    fn next_owned_is_the_smallest_higher_ballot_of_that_replica() {
        for n in 1..8usize {
            for b in 0..40u64 {
                for r in 0..n {
                    let next = Ballot(b).next_owned_by(r, n);
                    assert!(next > Ballot(b));
                    assert_eq!(next.leader(n), r);
                    assert!(next.0 - b <= n as u64, "b={b} r={r} n={n} next={next}");
                }
            }
        }
    }
}
