//! Speculative execution for leaders that answer before commit (SwiftPaxos's
//! optimistic leader, CURP's master).
//!
//! The leader computes a command's result at once, on the committed state
//! plus the writes of commands it speculated earlier, without touching the
//! committed state. If the command commits in the leader's ballot, its
//! dependencies are exactly those earlier commands, so the speculative result
//! is the committed one; if a leader change reorders it, the client never saw
//! that result complete, and the overlay is simply dropped ([`Speculation::clear`]).

use crate::command::{Command, CommandResult, Key};
use crate::ids::CommandId;
use crate::session::StateMachine;
use bytes::Bytes;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// Writes and results of commands executed speculatively and not yet applied.
#[derive(Clone, Debug, Default)]
pub struct Speculation {
    /// Per key, the latest speculative write and who made it.
    overlay: BTreeMap<Key, (Bytes, CommandId)>,
    results: HashMap<CommandId, CommandResult>,
}

impl Speculation {
    /// Nothing speculated.
    pub fn new() -> Self {
        Self::default()
    }

    /// The result `command` has when executed after everything speculated
    /// so far; a command already applied gets its real result.
    pub fn execute(&mut self, state: &StateMachine, id: CommandId, command: &Command) -> CommandResult {
        if let Some(result) = state.result_of(id).or_else(|| self.results.get(&id)) {
            return result.clone();
        }
        let store = state.store();
        let result = match command {
            Command::Put { key, value } => {
                self.overlay.insert(*key, (value.clone(), id));
                CommandResult::Done
            }
            Command::Get { key } => CommandResult::Value(
                self.overlay
                    .get(key)
                    .map(|(v, _)| v)
                    .or_else(|| store.get(*key))
                    .cloned(),
            ),
            Command::Scan { .. } => {
                let range = command.key_range().expect("a scan has a key range");
                let mut merged: BTreeMap<Key, Bytes> =
                    store.range(range.clone()).map(|(k, v)| (k, v.clone())).collect();
                merged.extend(self.overlay.range(range).map(|(k, (v, _))| (*k, v.clone())));
                CommandResult::Range(merged.into_iter().collect())
            }
            Command::Noop => CommandResult::Done,
        };
        self.results.insert(id, result.clone());
        result
    }

    /// Whether `id` was speculated (and not settled since).
    pub fn contains(&self, id: CommandId) -> bool {
        self.results.contains_key(&id)
    }

    /// `id` was applied to the committed state: its speculative traces go.
    pub fn settle(&mut self, id: CommandId, command: &Command) {
        self.results.remove(&id);
        if let Command::Put { key, .. } = command {
            if self.overlay.get(key).is_some_and(|(_, writer)| *writer == id) {
                self.overlay.remove(key);
            }
        }
    }

    /// Drops every speculation (the ballot changed).
    pub fn clear(&mut self) {
        self.overlay.clear();
        self.results.clear();
    }

    /// How many speculative results are held.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether nothing is speculated.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: Key, v: &'static str) -> Command {
        Command::Put {
            key,
            value: Bytes::from_static(v.as_bytes()),
        }
    }
    fn value(v: &'static str) -> CommandResult {
        CommandResult::Value(Some(Bytes::from_static(v.as_bytes())))
    }

    #[test]
    fn speculative_reads_see_speculative_writes_without_changing_the_state() {
        let mut state = StateMachine::new();
        state.apply(CommandId::new(9, 1), &put(1, "committed"));
        let mut s = Speculation::new();
        assert_eq!(
            s.execute(&state, CommandId::new(1, 1), &Command::Get { key: 1 }),
            value("committed")
        );
        s.execute(&state, CommandId::new(1, 2), &put(1, "spec"));
        assert_eq!(
            s.execute(&state, CommandId::new(1, 3), &Command::Get { key: 1 }),
            value("spec")
        );
        assert_eq!(state.store().get(1), Some(&Bytes::from_static(b"committed")));
        let scan = s.execute(&state, CommandId::new(1, 4), &Command::Scan { key: 0, count: 5 });
        assert_eq!(scan, CommandResult::Range(vec![(1, Bytes::from_static(b"spec"))]));
    }

    #[test]
    fn settling_the_latest_writer_hands_over_to_the_state() {
        let mut state = StateMachine::new();
        let mut s = Speculation::new();
        let (w1, w2) = (CommandId::new(1, 1), CommandId::new(2, 1));
        s.execute(&state, w1, &put(1, "a"));
        s.execute(&state, w2, &put(1, "b"));
        state.apply(w1, &put(1, "a"));
        s.settle(w1, &put(1, "a"));
        assert_eq!(
            s.execute(&state, CommandId::new(3, 1), &Command::Get { key: 1 }),
            value("b"),
            "w2 still speculative"
        );
        state.apply(w2, &put(1, "b"));
        s.settle(w2, &put(1, "b"));
        s.clear();
        assert_eq!(
            s.execute(&state, CommandId::new(3, 2), &Command::Get { key: 1 }),
            value("b")
        );
    }

    #[test]
    fn a_retry_gets_the_same_result() {
        let state = StateMachine::new();
        let mut s = Speculation::new();
        let id = CommandId::new(1, 1);
        assert_eq!(
            s.execute(&state, id, &Command::Get { key: 7 }),
            CommandResult::Value(None)
        );
        s.execute(&state, CommandId::new(2, 1), &put(7, "x"));
        assert_eq!(
            s.execute(&state, id, &Command::Get { key: 7 }),
            CommandResult::Value(None)
        );
    }
}
