//! Quorums: who has to answer before something is decided.
//!
//! Every protocol counts votes through [`Votes`] and asks a [`QuorumSystem`]
//! how many it needs (a majority, or a fast quorum of one of SwiftPaxos's two
//! kinds), so the counting logic exists once.

use crate::ballot::Ballot;
use crate::ids::ReplicaId;
use std::fmt;

/// The most replicas a deployment may have: sets are 64-bit masks.
pub const MAX_REPLICAS: usize = 64;

/// A set of replicas, as a bit mask.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReplicaSet(u64);

impl ReplicaSet {
    /// The empty set.
    pub const EMPTY: ReplicaSet = ReplicaSet(0);

    /// Every replica `0..n`.
    pub fn all(n: usize) -> ReplicaSet {
        assert!(n <= MAX_REPLICAS, "at most {MAX_REPLICAS} replicas");
        if n == MAX_REPLICAS {
            ReplicaSet(u64::MAX)
        } else {
            ReplicaSet((1u64 << n) - 1)
        }
    }

    /// Adds `r`; answers whether it was new.
    pub fn insert(&mut self, r: ReplicaId) -> bool {
        let bit = 1u64 << r;
        let new = self.0 & bit == 0;
        self.0 |= bit;
        new
    }

    /// Removes `r`; answers whether it was there.
    pub fn remove(&mut self, r: ReplicaId) -> bool {
        let was = self.contains(r);
        self.0 &= !(1u64 << r);
        was
    }

    /// Whether `r` is in the set.
    pub fn contains(self, r: ReplicaId) -> bool {
        r < MAX_REPLICAS && self.0 & (1u64 << r) != 0
    }

    /// How many replicas are in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every member of `self` is in `other`.
    pub fn is_subset_of(self, other: ReplicaSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The members in increasing order.
    pub fn iter(self) -> impl Iterator<Item = ReplicaId> {
        (0..MAX_REPLICAS).filter(move |r| self.0 & (1u64 << r) != 0)
    }
}

impl FromIterator<ReplicaId> for ReplicaSet {
    fn from_iter<I: IntoIterator<Item = ReplicaId>>(iter: I) -> Self {
        let mut set = ReplicaSet::EMPTY;
        for r in iter {
            set.insert(r);
        }
        set
    }
}

impl fmt::Debug for ReplicaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The distinct replicas that voted for one thing (a slot, a ballot, a
/// command's dependencies). Duplicated votes, as after a retransmission,
/// count once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Votes {
    voters: ReplicaSet,
}

impl Votes {
    /// No votes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `r`'s vote; answers whether it was new.
    pub fn add(&mut self, r: ReplicaId) -> bool {
        self.voters.insert(r)
    }

    /// How many distinct replicas voted.
    pub fn count(&self) -> usize {
        self.voters.len()
    }

    /// Who voted.
    pub fn voters(&self) -> ReplicaSet {
        self.voters
    }

    /// Whether at least `size` replicas voted.
    pub fn reached(&self, size: usize) -> bool {
        self.count() >= size
    }

    /// Whether every member of `quorum` voted.
    pub fn covers(&self, quorum: ReplicaSet) -> bool {
        quorum.is_subset_of(self.voters)
    }
}

/// The fast quorums of a deployment, the two kinds SwiftPaxos supports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FastQuorums {
    /// Any `3n/4 + 1` replicas that include the ballot's leader.
    ThreeQuarters,
    /// One fixed majority per leader that includes that leader; leaders the
    /// quorum file does not name use the leader and its successors by id.
    Fixed(Vec<(ReplicaId, ReplicaSet)>),
}

/// The quorums of an `n`-replica deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumSystem {
    n: usize,
    fast: FastQuorums,
}

impl QuorumSystem {
    /// `n` replicas with the three-quarters fast quorums.
    pub fn new(n: usize) -> Self {
        Self::with_fast_quorums(n, FastQuorums::ThreeQuarters)
    }

    /// `n` replicas with the given fast quorums.
    pub fn with_fast_quorums(n: usize, fast: FastQuorums) -> Self {
        assert!((1..=MAX_REPLICAS).contains(&n), "between 1 and {MAX_REPLICAS} replicas");
        QuorumSystem { n, fast }
    }

    /// How many replicas there are.
    pub fn n(&self) -> usize {
        self.n
    }

    /// How many crashes the system tolerates: `(n - 1) / 2`.
    pub fn f(&self) -> usize {
        (self.n - 1) / 2
    }

    /// The size of a classic quorum, `n/2 + 1`: any two intersect.
    pub fn majority(&self) -> usize {
        self.n / 2 + 1
    }

    /// The kind of fast quorums in use.
    pub fn fast_quorums(&self) -> &FastQuorums {
        &self.fast
    }

    /// The size of a fast quorum of the three-quarters kind, `3n/4 + 1`
    /// (as in the original prototype).
    pub fn three_quarters(&self) -> usize {
        3 * self.n / 4 + 1
    }

    /// The size of a Fast Paxos fast quorum, `ceil(3n/4)`: any two fast
    /// quorums and a majority share a replica (`2·ceil(3n/4) + n/2 + 1 > 2n`),
    /// which is what lets a recovering coordinator tell a possibly chosen
    /// value from a majority's reports.
    pub fn fast_paxos(&self) -> usize {
        (3 * self.n).div_ceil(4)
    }

    /// The corrected EPaxos fast quorum, `f + ⌊(f+1)/2⌋` with the command
    /// leader (never below a majority): the paper's optimised size, which
    /// recovery's possible-fast-quorum rule and Flint's estimate both assume.
    pub fn epaxos_fast(&self) -> usize {
        let f = self.f();
        (f + f.div_ceil(2)).max(self.majority()).max(1)
    }

    /// Whether `votes` form a fast quorum for `ballot`: enough replicas, the
    /// ballot's leader among them, or the fixed quorum of that leader.
    pub fn is_fast_quorum(&self, ballot: Ballot, votes: ReplicaSet) -> bool {
        let leader = ballot.leader(self.n);
        match &self.fast {
            FastQuorums::ThreeQuarters => votes.contains(leader) && votes.len() >= self.three_quarters(),
            FastQuorums::Fixed(_) => self.fixed_fast_quorum(leader).is_subset_of(votes),
        }
    }

    /// Whether `votes` form a classic quorum that includes `ballot`'s leader,
    /// as SwiftPaxos's slow path needs.
    pub fn is_slow_quorum(&self, ballot: Ballot, votes: ReplicaSet) -> bool {
        votes.contains(ballot.leader(self.n)) && votes.len() >= self.majority()
    }

    /// The ballot every run starts in: led by the first leader of the quorum
    /// file (its first `l ALIAS` line, as the original starts), else replica 0.
    pub fn initial_ballot(&self) -> Ballot {
        match &self.fast {
            FastQuorums::Fixed(entries) => entries
                .first()
                .map_or(Ballot::INITIAL, |(leader, _)| Ballot(*leader as u64)),
            FastQuorums::ThreeQuarters => Ballot::INITIAL,
        }
    }

    /// The fixed fast quorum of `leader` (meaningful for the fixed kind; the
    /// three-quarters kind answers with the leader and its successors).
    pub fn fixed_fast_quorum(&self, leader: ReplicaId) -> ReplicaSet {
        if let FastQuorums::Fixed(entries) = &self.fast {
            if let Some((_, set)) = entries.iter().find(|(l, _)| *l == leader) {
                return *set;
            }
        }
        let size = match self.fast {
            FastQuorums::ThreeQuarters => self.three_quarters(),
            FastQuorums::Fixed(_) => self.majority(),
        };
        (0..size).map(|i| (leader + i) % self.n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_and_fault_tolerance() {
        for (n, maj, f) in [(1, 1, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (7, 4, 3)] {
            let q = QuorumSystem::new(n);
            assert_eq!((q.majority(), q.f()), (maj, f), "n={n}");
        }
    }

    #[test]
    fn fast_paxos_quorums_leave_a_majority_able_to_tell_the_chosen_value() {
        for n in 1..=15usize {
            let q = QuorumSystem::new(n);
            assert_eq!(q.fast_paxos(), (3 * n).div_ceil(4), "n={n}");
            assert!(2 * q.fast_paxos() + q.majority() > 2 * n, "n={n}");
        }
    }

    #[test]
    fn any_two_majorities_intersect() {
        for n in 1..=9usize {
            let q = QuorumSystem::new(n);
            let sets: Vec<u64> = (0u64..(1 << n))
                .filter(|s| s.count_ones() as usize >= q.majority())
                .collect();
            for a in &sets {
                for b in &sets {
                    assert_ne!(a & b, 0, "n={n}");
                }
            }
        }
    }

    #[test]
    fn three_quarters_sizes_match_the_original() {
        let sizes: Vec<usize> = [3, 4, 5, 7, 9]
            .iter()
            .map(|&n| QuorumSystem::new(n).three_quarters())
            .collect();
        assert_eq!(sizes, vec![3, 4, 4, 6, 7]);
    }

    #[test]
    fn three_quarters_fast_quorum_needs_size_and_leader() {
        let q = QuorumSystem::new(5);
        let ballot = Ballot(1); // led by replica 1
        assert!(q.is_fast_quorum(ballot, [0, 1, 2, 3].into_iter().collect()));
        assert!(
            !q.is_fast_quorum(ballot, [0, 2, 3, 4].into_iter().collect()),
            "leader missing"
        );
        assert!(!q.is_fast_quorum(ballot, [0, 1, 2].into_iter().collect()), "too small");
    }

    #[test]
    fn fixed_fast_quorum_is_exactly_the_listed_majority() {
        let fixed: ReplicaSet = [1, 3, 4].into_iter().collect();
        let q = QuorumSystem::with_fast_quorums(5, FastQuorums::Fixed(vec![(3, fixed)]));
        assert!(q.is_fast_quorum(Ballot(3), fixed));
        assert!(q.is_fast_quorum(Ballot(8), [0, 1, 3, 4].into_iter().collect()));
        assert!(
            !q.is_fast_quorum(Ballot(3), [0, 1, 2, 3].into_iter().collect()),
            "4 is missing"
        );
        // A leader without an entry falls back to itself and its successors.
        assert_eq!(q.fixed_fast_quorum(0), [0, 1, 2].into_iter().collect());
    }

    #[test]
    fn the_quorum_files_first_leader_leads_the_first_ballot() {
        let fixed: ReplicaSet = [1, 3, 4].into_iter().collect();
        let q = QuorumSystem::with_fast_quorums(5, FastQuorums::Fixed(vec![(3, fixed)]));
        assert_eq!(q.initial_ballot().leader(5), 3);
        assert_eq!(QuorumSystem::new(5).initial_ballot(), Ballot::INITIAL);
        assert_eq!(
            QuorumSystem::with_fast_quorums(5, FastQuorums::Fixed(vec![])).initial_ballot(),
            Ballot::INITIAL
        );
    }

    #[test]
    fn slow_quorum_is_a_majority_with_the_leader() {
        let q = QuorumSystem::new(3);
        assert!(q.is_slow_quorum(Ballot(0), [0, 2].into_iter().collect()));
        assert!(!q.is_slow_quorum(Ballot(0), [1, 2].into_iter().collect()));
    }

    #[test]
    fn votes_count_each_replica_once() {
        let mut v = Votes::new();
        assert!(v.add(2));
        assert!(!v.add(2));
        assert!(v.add(0));
        assert_eq!(v.count(), 2);
        assert!(v.reached(2));
        assert!(!v.reached(3));
        assert!(v.covers([0, 2].into_iter().collect()));
    }
}
