//! The commands an acceptor received and has not seen decided, and where
//! its fast-round vote for each stands.
//!
//! An acceptor votes for queued commands in arrival order, each in its next
//! free instance; a vote that loses (another value is chosen there) or is
//! voided (a new ballot reopens fast rounds below it) puts the command
//! back among the unvoted, in its arrival place. Every operation costs a
//! few map updates, whatever the backlog: under load hundreds of commands
//! wait here, and the first version rescanned them all on every proposal
//! and decision.

use super::messages::Instance;
use crate::command::Command;
use crate::ids::CommandId;
use rustc_hash::FxHashMap as HashMap;
use std::collections::{BTreeMap, BTreeSet};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct ProposalQueue {
    /// Queued commands by arrival number.
    queued: BTreeMap<u64, (CommandId, Command)>,
    arrival: HashMap<CommandId, u64>,
    next_arrival: u64,
    /// Arrival numbers of queued commands without a live vote.
    unvoted: BTreeSet<u64>,
    /// Where this acceptor's vote for a queued command stands, and back.
    voted: HashMap<CommandId, Instance>,
    voted_at: HashMap<Instance, Vec<CommandId>>,
}

impl ProposalQueue {
    /// Nothing queued.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `id` is queued.
    pub fn contains(&self, id: CommandId) -> bool {
        self.arrival.contains_key(&id)
    }

    /// Queues `command` (not queued yet) after everything queued so far.
    pub fn push(&mut self, id: CommandId, command: Command) {
        let at = self.next_arrival;
        self.next_arrival += 1;
        self.queued.insert(at, (id, command));
        self.arrival.insert(id, at);
        self.unvoted.insert(at);
    }

    /// The earliest queued command without a live vote.
    pub fn first_unvoted(&self) -> Option<(CommandId, Command)> {
        self.unvoted.first().and_then(|at| self.queued.get(at)).cloned()
    }

    /// This acceptor voted for `id` at `instance`.
    pub fn voted(&mut self, id: CommandId, instance: Instance) {
        if let Some(at) = self.arrival.get(&id) {
            self.unvoted.remove(at);
        }
        self.voted.insert(id, instance);
        self.voted_at.entry(instance).or_default().push(id);
    }

    /// `decided` (the commands of the value chosen at `instance`) leave the
    /// queue; a command this acceptor voted for there and lost is unvoted again.
    pub fn decided(&mut self, instance: Instance, decided: impl IntoIterator<Item = CommandId>) {
        self.decided_ids(decided.into_iter().collect());
        for lost in self.voted_at.remove(&instance).unwrap_or_default() {
            if self.voted.get(&lost) == Some(&instance) {
                self.voted.remove(&lost);
                if let Some(&at) = self.arrival.get(&lost) {
                    self.unvoted.insert(at);
                }
            }
        }
    }

    /// A state transfer executed every instance below `below`: commands
    /// it executed leave; votes below it are void (another value may have
    /// been chosen there), so their commands are unvoted again.
    pub fn installed(&mut self, below: Instance, executed: impl Fn(CommandId) -> bool) {
        let gone: Vec<CommandId> = self.arrival.keys().copied().filter(|id| executed(*id)).collect();
        self.decided_ids(gone);
        let lost: Vec<Instance> = self.voted_at.keys().copied().filter(|i| *i < below).collect();
        for instance in lost {
            self.decided(instance, std::iter::empty());
        }
    }

    fn decided_ids(&mut self, ids: Vec<CommandId>) {
        for id in ids {
            self.forget_vote(id);
            if let Some(at) = self.arrival.remove(&id) {
                self.queued.remove(&at);
                self.unvoted.remove(&at);
            }
        }
    }

    /// Votes at `from` and above are void (fast rounds reopen there).
    pub fn void_from(&mut self, from: Instance) {
        let void: Vec<CommandId> = self
            .voted
            .iter()
            .filter(|(_, at)| **at >= from)
            .map(|(id, _)| *id)
            .collect();
        for id in void {
            self.forget_vote(id);
            if let Some(&at) = self.arrival.get(&id) {
                self.unvoted.insert(at);
            }
        }
    }

    fn forget_vote(&mut self, id: CommandId) {
        if let Some(instance) = self.voted.remove(&id) {
            if let Some(ids) = self.voted_at.get_mut(&instance) {
                ids.retain(|v| *v != id);
                if ids.is_empty() {
                    self.voted_at.remove(&instance);
                }
            }
        }
    }

    /// How many commands are queued.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// How many votes are live.
    pub fn votes(&self) -> usize {
        self.voted.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seq: u64) -> CommandId {
        CommandId::new(1, seq)
    }

    #[test]
    fn commands_are_voted_in_arrival_order_and_a_lost_vote_is_cast_again() {
        let mut q = ProposalQueue::new();
        for s in 1..=3 {
            q.push(id(s), Command::Noop);
        }
        assert_eq!(q.first_unvoted().map(|(i, _)| i), Some(id(1)));
        q.voted(id(1), 10);
        q.voted(id(2), 11);
        assert_eq!(q.first_unvoted().map(|(i, _)| i), Some(id(3)));
        // Instance 10 chose command 3: 3 leaves, and 1 (which lost there) is unvoted again.
        q.decided(10, [id(3)]);
        assert_eq!(q.first_unvoted().map(|(i, _)| i), Some(id(1)));
        assert_eq!((q.len(), q.votes()), (2, 1));
        q.decided(11, [id(2)]);
        assert_eq!((q.len(), q.votes()), (1, 0));
    }

    #[test]
    fn reopening_fast_rounds_voids_the_votes_above() {
        let mut q = ProposalQueue::new();
        q.push(id(1), Command::Noop);
        q.push(id(2), Command::Noop);
        q.voted(id(1), 4);
        q.voted(id(2), 7);
        q.void_from(5);
        assert_eq!(q.first_unvoted().map(|(i, _)| i), Some(id(2)));
        assert_eq!(q.votes(), 1);
    }
}
