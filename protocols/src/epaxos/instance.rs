//! EPaxos instances: each replica owns a row of them; an instance holds one
//! command (or a no-op) with its attributes, agreed upon per instance.

use crate::ballot::Ballot;
use crate::command::Command;
use crate::ids::{CommandId, ReplicaId};
use smallvec::SmallVec;
use std::fmt;

/// Instance `slot` of replica `leader`'s row.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct InstanceId {
    /// The replica whose row it is (its initial command leader).
    pub leader: ReplicaId,
    /// The position in that row.
    pub slot: u64,
}

impl crate::depgraph::Sequenced for InstanceId {
    fn stream(&self) -> u64 {
        self.leader as u64
    }
    fn position(&self) -> u64 {
        self.slot
    }
    fn at(stream: u64, position: u64) -> Self {
        InstanceId {
            leader: stream as ReplicaId,
            slot: position,
        }
    }
}

impl InstanceId {
    /// The ballot the command leader starts in, owned by it (`leader mod n`).
    pub fn default_ballot(self) -> Ballot {
        Ballot(self.leader as u64)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.leader, self.slot)
    }
}

/// What an instance decides: a client command, or nothing (a no-op filling
/// the instance of a command leader that failed before anyone saw it).
pub type Value = Option<(CommandId, Command)>;

/// The command of a value (a no-op for none).
pub fn command_of(value: &Value) -> &Command {
    value.as_ref().map_or(&Command::Noop, |(_, c)| c)
}

/// A command's attributes: for each row, the highest instance of that row
/// it depends on, and its sequence number (the order inside a cycle).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Attributes {
    /// One more than the highest sequence number among its dependencies.
    pub seq: u64,
    /// Per row, the highest instance it depends on.
    pub deps: RowDeps,
}

/// Per row, the highest instance depended on: inline for up to three rows
/// (the common cluster), so that computing, merging, sending and receiving
/// attributes, several times per command at every replica, allocates
/// nothing (a shared `Arc` cost an allocation each, and rkyv's pointer
/// sharing on the wire).
pub type RowDeps = SmallVec<[Option<u64>; 3]>;

impl Attributes {
    /// The attributes covering both: the union of dependencies, the higher sequence.
    pub fn merge(&self, other: &Attributes) -> Attributes {
        // Usually one side covers the other (a replica that knew nothing
        // more answers the leader's attributes unchanged): that side.
        let covers = |a: &Attributes, b: &Attributes| {
            a.seq >= b.seq && a.deps.len() == b.deps.len() && a.deps.iter().zip(b.deps.iter()).all(|(x, y)| x >= y)
        };
        if covers(self, other) {
            return self.clone();
        }
        if covers(other, self) {
            return other.clone();
        }
        let deps: RowDeps = self
            .deps
            .iter()
            .zip(other.deps.iter())
            .map(|(a, b)| (*a).max(*b))
            .collect();
        Attributes {
            seq: self.seq.max(other.seq),
            deps,
        }
    }

    /// Whether these attributes make the holder depend on `instance`.
    pub fn covers(&self, instance: InstanceId) -> bool {
        self.deps
            .get(instance.leader)
            .copied()
            .flatten()
            .is_some_and(|d| d >= instance.slot)
    }
}

/// How far an instance got at one replica, in the order it only moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Status {
    /// Nothing known.
    None,
    /// Attributes proposed (phase 1).
    PreAccepted,
    /// Attributes accepted in a ballot (phase 2).
    Accepted,
    /// Decided.
    Committed,
}

/// What a replica holds for an instance, as it reports it to a recovery.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Report {
    /// How far it got.
    pub status: Status,
    /// The ballot in which it last pre-accepted or accepted (Sutra's fix:
    /// kept apart from the ballot it promised).
    pub vbal: Ballot,
    /// The value.
    pub value: Value,
    /// The attributes.
    pub attrs: Attributes,
    /// Pre-accepted in the default ballot exactly as the command leader
    /// proposed (the only replies a fast path can have counted).
    pub unchanged: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(seq: u64, deps: &[Option<u64>]) -> Attributes {
        Attributes {
            seq,
            deps: RowDeps::from_slice(deps),
        }
    }

    #[test]
    fn merging_takes_the_higher_of_each_or_a_covering_side() {
        let big = attrs(5, &[Some(3), None, Some(7)]);
        let small = attrs(2, &[Some(1), None, None]);
        let merged = big.merge(&small);
        assert_eq!(merged, big);
        assert_eq!(small.merge(&big), big);
        let other = attrs(4, &[None, Some(2), Some(9)]);
        assert_eq!(big.merge(&other), attrs(5, &[Some(3), Some(2), Some(9)]));
        assert_eq!(other.merge(&big), attrs(5, &[Some(3), Some(2), Some(9)]));
    }
}
