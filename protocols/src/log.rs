//! A replicated log of slots, as the slot-based protocols (Multi-Paxos,
//! N2Paxos, CURP's ordering layer) keep it: accepted values with the ballot
//! that accepted them, a commit mark, and a cursor of in-order execution.

use crate::ballot::Ballot;
use crate::command::Command;
use crate::ids::CommandId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A log position.
pub type Slot = u64;

/// What a slot decides: a batch of client commands (empty for a no-op).
/// Shared, because the same batch travels to every replica.
pub type Batch = Arc<[(CommandId, Command)]>;

/// The batch that fills a gap nobody proposed anything for.
pub fn noop_batch() -> Batch {
    Arc::from(Vec::new())
}

/// One slot as this replica knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The ballot in which this replica accepted `value` (or learnt it committed).
    pub ballot: Ballot,
    /// The accepted value.
    pub value: Batch,
    /// Whether the value is known chosen.
    pub committed: bool,
}

/// The slots this replica knows, and how far it executed them.
#[derive(Clone, Debug, Default)]
pub struct SlotLog {
    entries: BTreeMap<Slot, Entry>,
    executed: Slot,
    /// Slots below this were executed everywhere and dropped.
    forgotten: Slot,
}

impl SlotLog {
    /// An empty log; slot 0 is the first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Jumps to a state image taken after executing every slot below
    /// `executed` (a snapshot of its own, or a state transfer): entries
    /// below go, entries at and above stay (they are this replica's votes);
    /// slots below `forgotten` count as released.
    pub fn install(&mut self, forgotten: Slot, executed: Slot) {
        if executed <= self.executed {
            return;
        }
        self.entries = self.entries.split_off(&executed);
        self.executed = executed;
        self.forgotten = forgotten.min(executed).max(self.forgotten);
    }

    /// Keeps an executed slot's value (from a snapshot) so that lagging
    /// replicas can still catch up from it.
    pub fn keep_executed(&mut self, slot: Slot, ballot: Ballot, value: Batch) {
        if (self.forgotten..self.executed).contains(&slot) {
            self.entries.insert(
                slot,
                Entry {
                    ballot,
                    value,
                    committed: true,
                },
            );
        }
    }

    /// Slots below this were executed everywhere and dropped.
    pub fn forgotten(&self) -> Slot {
        self.forgotten
    }

    /// The first slot not yet executed; every slot below is committed and executed.
    pub fn execution_frontier(&self) -> Slot {
        self.executed
    }

    /// The slot after the highest one known, or the frontier if none is.
    pub fn end(&self) -> Slot {
        self.entries
            .last_key_value()
            .map_or(self.executed, |(s, _)| s + 1)
            .max(self.executed)
    }

    /// The entry at `slot`, if known.
    pub fn get(&self, slot: Slot) -> Option<&Entry> {
        self.entries.get(&slot)
    }

    /// Whether `slot` is known committed (executed slots are).
    pub fn is_committed(&self, slot: Slot) -> bool {
        slot < self.executed || self.entries.get(&slot).is_some_and(|e| e.committed)
    }

    /// Records that `value` was accepted in `ballot` at `slot`. A committed
    /// slot keeps its value: a chosen value never changes.
    pub fn accept(&mut self, slot: Slot, ballot: Ballot, value: Batch) {
        if self.is_committed(slot) {
            return;
        }
        self.entries.insert(
            slot,
            Entry {
                ballot,
                value,
                committed: false,
            },
        );
    }

    /// Records that `value` is chosen at `slot`; answers whether that is news.
    pub fn commit(&mut self, slot: Slot, ballot: Ballot, value: Batch) -> bool {
        if self.is_committed(slot) {
            return false;
        }
        self.entries.insert(
            slot,
            Entry {
                ballot,
                value,
                committed: true,
            },
        );
        true
    }

    /// Takes the next slot if it is committed, advancing the execution
    /// frontier; the caller applies the batch. Executed entries stay in the
    /// log so that lagging replicas can catch up from it.
    pub fn next_to_execute(&mut self) -> Option<(Slot, Batch)> {
        let entry = self.entries.get(&self.executed).filter(|e| e.committed)?;
        let next = (self.executed, entry.value.clone());
        self.executed += 1;
        Some(next)
    }

    /// Drops the entries below `slot` (never at or above the execution
    /// frontier): once every replica executed them, nobody asks again.
    pub fn forget_below(&mut self, slot: Slot) {
        let keep_from = slot.min(self.executed);
        if keep_from <= self.forgotten {
            return;
        }
        self.forgotten = keep_from;
        if self
            .entries
            .first_key_value()
            .is_some_and(|(first, _)| *first < keep_from)
        {
            self.entries = self.entries.split_off(&keep_from);
        }
    }

    /// Whether `slot` was executed everywhere and dropped: messages about
    /// it are stale and need no answer.
    pub fn is_forgotten(&self, slot: Slot) -> bool {
        slot < self.forgotten
    }

    /// How many entries the log holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries at `from` and above, accepted or committed.
    pub fn entries_from(&self, from: Slot) -> impl Iterator<Item = (Slot, &Entry)> {
        self.entries.range(from..).map(|(s, e)| (*s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seq: u64) -> Batch {
        Arc::from(vec![(CommandId::new(1, seq), Command::Noop)])
    }

    #[test]
    fn execution_follows_slot_order_and_waits_for_gaps() {
        let mut log = SlotLog::new();
        log.commit(1, Ballot(0), batch(2));
        assert_eq!(log.next_to_execute(), None, "slot 0 is a gap");
        log.accept(0, Ballot(0), batch(1));
        assert_eq!(log.next_to_execute(), None, "accepted is not committed");
        log.commit(0, Ballot(0), batch(1));
        assert_eq!(log.next_to_execute().map(|(s, _)| s), Some(0));
        assert_eq!(log.next_to_execute().map(|(s, _)| s), Some(1));
        assert_eq!(log.next_to_execute(), None);
        assert_eq!(log.execution_frontier(), 2);
        assert_eq!(log.end(), 2);
    }

    #[test]
    fn forgetting_keeps_the_unexecuted_part() {
        let mut log = SlotLog::new();
        for s in 0..5 {
            log.commit(s, Ballot(0), batch(s));
        }
        log.next_to_execute();
        log.next_to_execute();
        log.forget_below(4);
        assert_eq!(log.len(), 3, "slots 2..5 are not executed yet and stay");
        assert!(log.is_committed(0), "a forgotten slot counts as committed");
        assert!(log.is_forgotten(1) && !log.is_forgotten(2));
        log.accept(1, Ballot(3), batch(9));
        assert_eq!(log.len(), 3, "and is never accepted again");
    }

    #[test]
    fn installing_an_image_keeps_the_votes_above_it() {
        let mut log = SlotLog::new();
        log.commit(0, Ballot(0), batch(1));
        log.accept(7, Ballot(2), batch(7));
        log.accept(9, Ballot(2), batch(9));
        log.install(8, 8);
        assert_eq!(
            (log.execution_frontier(), log.forgotten(), log.len()),
            (8, 8, 1),
            "slot 7 is covered by the image"
        );
        assert_eq!(log.get(9).map(|e| e.ballot), Some(Ballot(2)), "the vote at 9 stays");
        log.install(3, 5);
        assert_eq!(log.execution_frontier(), 8, "an older image changes nothing");
    }

    #[test]
    fn a_committed_value_is_never_replaced() {
        let mut log = SlotLog::new();
        assert!(log.commit(0, Ballot(0), batch(1)));
        log.accept(0, Ballot(5), batch(9));
        assert!(!log.commit(0, Ballot(5), batch(9)));
        assert_eq!(log.get(0).map(|e| e.value.clone()), Some(batch(1)));
    }
}
