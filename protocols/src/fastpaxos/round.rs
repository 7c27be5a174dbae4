//! Fast Paxos rounds and the value-picking rule every kind of recovery uses.

use crate::ballot::Ballot;
use crate::log::{noop_batch, Batch};
use std::fmt;

/// The kind of a round within a ballot, in the order rounds are tried.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub enum Step {
    /// Acceptors vote for client commands directly.
    Fast,
    /// Acceptors vote for the value they picked from a collided fast round.
    Recovery,
    /// The ballot's leader proposes one value after a prepare phase.
    Classic,
}

/// A round of one instance: rounds of a higher ballot come later, and within
/// a ballot, fast before recovery before classic.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Round {
    /// The leader ballot the round belongs to.
    pub ballot: Ballot,
    /// Which round of that ballot.
    pub step: Step,
}

impl Round {
    /// `step` of `ballot`.
    pub fn new(ballot: Ballot, step: Step) -> Self {
        Round { ballot, step }
    }

    /// Whether a fast quorum (rather than a majority) decides this round.
    pub fn is_fast(self) -> bool {
        self.step != Step::Classic
    }
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:?}", self.ballot, self.step)
    }
}

/// Fast Paxos's rule for a coordinator (or, in uncoordinated recovery, an
/// acceptor) holding `reports` from `reports.len()` acceptors — each the
/// round and value it last voted for, if any. Among the votes of the highest
/// round `k`: a classic round's value is the only one; in a fast round, a
/// value voted by at least `fast_quorum − (n − reports)` of them may have
/// been chosen and must be kept (at most one can, when the reports come from
/// a majority). Otherwise any value is safe, and this picks all of them:
/// every command voted in round `k`, the most voted value's first, then by
/// lowest command id, so every replica seeing the same votes picks the same,
/// and no voted command loses the instance and waits for another (while a
/// fast-quorum member is down every instance goes this way, and a command
/// that lost again and again starved). A no-op when nobody voted.
pub fn pick(reports: &[Option<(Round, Batch)>], n: usize, fast_quorum: usize) -> Batch {
    pick_adding(reports, n, fast_quorum, &[])
}

/// [`pick`], for a coordinator that also heard `also_heard` voted at the
/// instance (the fast votes it received directly): when any value is safe,
/// those commands join the union too, so that a command voted by replicas
/// whose promises came late does not lose the instance.
pub fn pick_adding(reports: &[Option<(Round, Batch)>], n: usize, fast_quorum: usize, also_heard: &[&Batch]) -> Batch {
    let Some(k) = reports.iter().flatten().map(|(r, _)| *r).max() else {
        return noop_batch();
    };
    let mut counts: Vec<(&Batch, usize)> = Vec::new();
    for (_, value) in reports.iter().flatten().filter(|(r, _)| *r == k) {
        match counts.iter_mut().find(|(v, _)| *v == value) {
            Some((_, c)) => *c += 1,
            None => counts.push((value, 1)),
        }
    }
    if !k.is_fast() {
        return counts[0].0.clone();
    }
    // A value that may have been chosen has `threshold` votes; at most one
    // value can, and it is then also the most voted, so the most voted is
    // right in both cases.
    let threshold = (fast_quorum + reports.len()).saturating_sub(n);
    counts.sort_by(|(va, ca), (vb, cb)| cb.cmp(ca).then_with(|| first_id(va).cmp(&first_id(vb))));
    debug_assert!(
        counts.len() < 2 || counts[1].1 < threshold || counts[0].1 < threshold,
        "two values may have been chosen"
    );
    if counts.len() == 1 || counts[0].1 >= threshold {
        return counts[0].0.clone();
    }
    let mut union: Vec<(crate::ids::CommandId, crate::command::Command)> = Vec::new();
    for value in counts.iter().map(|(v, _)| *v).chain(also_heard.iter().copied()) {
        for (id, command) in value.iter() {
            if !union.iter().any(|(seen, _)| seen == id) {
                union.push((*id, command.clone()));
            }
        }
    }
    std::sync::Arc::from(union)
}

fn first_id(value: &Batch) -> Option<crate::ids::CommandId> {
    value.first().map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::ids::CommandId;
    use std::sync::Arc;

    fn value(client: u64) -> Batch {
        Arc::from(vec![(CommandId::new(client, 1), Command::Noop)])
    }

    fn fast(b: u64) -> Round {
        Round::new(Ballot(b), Step::Fast)
    }

    #[test]
    fn rounds_order_by_ballot_then_step() {
        assert!(fast(0) < Round::new(Ballot(0), Step::Recovery));
        assert!(Round::new(Ballot(0), Step::Classic) < fast(1));
    }

    #[test]
    fn a_value_that_may_have_been_chosen_is_kept() {
        // n = 5, fast quorum 4, reports from a majority of 3: a value with
        // 4 + 3 - 5 = 2 votes there may have been chosen; it wins even
        // against a lower id.
        let reports = vec![
            Some((fast(0), value(9))),
            Some((fast(0), value(9))),
            Some((fast(0), value(1))),
        ];
        assert_eq!(pick(&reports, 5, 4), value(9));
        // Only the highest round counts.
        let reports = vec![
            Some((fast(0), value(9))),
            Some((fast(0), value(9))),
            Some((Round::new(Ballot(0), Step::Classic), value(1))),
        ];
        assert_eq!(pick(&reports, 5, 4), value(1));
    }

    #[test]
    fn otherwise_every_voted_command_most_voted_first_and_a_noop_for_nothing() {
        let reports = vec![
            Some((fast(0), value(3))),
            Some((fast(0), value(2))),
            Some((fast(0), value(3))),
            Some((fast(0), value(2))),
            None,
        ];
        // Two votes each, below the 4 + 5 - 5 = 4 that may have been
        // chosen: both, the lower id first.
        let both: Batch = Arc::from(vec![
            (CommandId::new(2, 1), Command::Noop),
            (CommandId::new(3, 1), Command::Noop),
        ]);
        assert_eq!(pick(&reports, 5, 4), both);
        assert_eq!(pick(&[None, None, None], 5, 4), noop_batch());
    }
}
