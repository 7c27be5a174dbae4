//! Exactly-once execution: the KV store plus, per client, the results of its
//! recent commands.
//!
//! Clients retry after timeouts and leaders change, so one command can reach
//! the log (or the dependency graph) more than once. Every replica applies
//! commands through [`StateMachine::apply`], which executes a command the first
//! time and afterwards hands back the stored result, so a retry is answered
//! without being applied twice.

use crate::command::{Command, CommandResult};
use crate::ids::{ClientId, CommandId};
use crate::kv::KvStore;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// How many results a replica keeps per client. A client never has more
/// commands in flight than this, so anything older is answered already.
pub const SESSION_WINDOW: usize = 1024;

/// The outcome of [`StateMachine::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// First execution of the command: its result, which changed the store.
    Fresh(CommandResult),
    /// A duplicate whose result is still remembered; the store is unchanged.
    Duplicate(CommandResult),
    /// A duplicate too old to remember; the client stopped waiting long ago.
    Forgotten,
}

impl Applied {
    /// The result to send the client, if there is one to send.
    pub fn result(&self) -> Option<&CommandResult> {
        match self {
            Applied::Fresh(r) | Applied::Duplicate(r) => Some(r),
            Applied::Forgotten => None,
        }
    }
}

#[derive(Debug, Clone)]
struct ClientSession {
    results: BTreeMap<u64, CommandResult>,
    forgotten_below: u64,
    /// Every command of the client numbered below this executed here
    /// (sequence numbers start at 1).
    executed_below: u64,
}

impl Default for ClientSession {
    fn default() -> Self {
        ClientSession { results: BTreeMap::new(), forgotten_below: 0, executed_below: 1 }
    }
}

/// The replicated state machine as replicas see it: the store and the client sessions.
#[derive(Debug, Default, Clone)]
pub struct StateMachine {
    store: KvStore,
    sessions: HashMap<ClientId, ClientSession>,
}

impl StateMachine {
    /// A state machine with an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Executes `command` once per `id`; see [`Applied`].
    pub fn apply(&mut self, id: CommandId, command: &Command) -> Applied {
        let session = self.sessions.entry(id.client).or_default();
        if id.seq < session.forgotten_below {
            return Applied::Forgotten;
        }
        if let Some(result) = session.results.get(&id.seq) {
            return Applied::Duplicate(result.clone());
        }
        let result = self.store.execute(command);
        session.results.insert(id.seq, result.clone());
        while session.results.contains_key(&session.executed_below) {
            session.executed_below += 1;
        }
        if session.results.len() > SESSION_WINDOW {
            if let Some((oldest, _)) = session.results.pop_first() {
                session.forgotten_below = oldest + 1;
            }
        }
        Applied::Fresh(result)
    }

    /// Whether `id` was executed here and its result is still known.
    pub fn result_of(&self, id: CommandId) -> Option<&CommandResult> {
        self.sessions.get(&id.client)?.results.get(&id.seq)
    }

    /// Per client, the number below which all its commands executed here:
    /// what a replica reports so that commands executed everywhere can be
    /// released ([`crate::gc`]).
    pub fn executed_prefixes(&self) -> Vec<(ClientId, u64)> {
        let mut v: Vec<(ClientId, u64)> = self.sessions.iter().map(|(c, s)| (*c, s.executed_below)).collect();
        v.sort_unstable();
        v
    }

    /// The same for one client (1 when it executed nothing here).
    pub fn executed_prefixes_of(&self, client: ClientId) -> u64 {
        self.sessions.get(&client).map_or(1, |s| s.executed_below)
    }

    /// Read access to the store, for tests and inspection.
    pub fn store(&self) -> &KvStore {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_command_is_applied_once_and_its_result_remembered() {
        let mut sm = StateMachine::new();
        let id = CommandId::new(1, 1);
        let put = Command::Put { key: 1, value: Bytes::from_static(b"a") };
        assert_eq!(sm.apply(id, &put), Applied::Fresh(CommandResult::Done));
        sm.apply(CommandId::new(2, 1), &Command::Put { key: 1, value: Bytes::from_static(b"b") });
        // A retry of the first PUT must not overwrite the second.
        assert_eq!(sm.apply(id, &put), Applied::Duplicate(CommandResult::Done));
        assert_eq!(
            sm.apply(CommandId::new(2, 2), &Command::Get { key: 1 }),
            Applied::Fresh(CommandResult::Value(Some(Bytes::from_static(b"b"))))
        );
    }

    #[test]
    fn the_executed_prefix_waits_for_gaps() {
        let mut sm = StateMachine::new();
        sm.apply(CommandId::new(4, 1), &Command::Noop);
        sm.apply(CommandId::new(4, 3), &Command::Noop);
        assert_eq!(sm.executed_prefixes(), vec![(4, 2)]);
        sm.apply(CommandId::new(4, 2), &Command::Noop);
        assert_eq!(sm.executed_prefixes(), vec![(4, 4)]);
    }

    #[test]
    fn old_results_are_forgotten_but_never_re_executed() {
        let mut sm = StateMachine::new();
        for seq in 1..=(SESSION_WINDOW as u64 + 10) {
            sm.apply(CommandId::new(9, seq), &Command::Noop);
        }
        assert_eq!(sm.apply(CommandId::new(9, 1), &Command::Noop), Applied::Forgotten);
        assert!(sm.result_of(CommandId::new(9, SESSION_WINDOW as u64 + 10)).is_some());
    }
}
