//! A set of commands not yet synced (executed after commit), with a fast
//! "does this conflict with any of them?" test. Witnesses hold pairwise
//! commuting commands in one; the master tracks what it proposed in another.

use crate::command::Command;
use crate::conflicts::ConflictTable;
use crate::ids::CommandId;
use std::collections::HashMap;

/// Commands not yet synced, indexed by key through a [`ConflictTable`].
#[derive(Debug, Default, Clone)]
pub struct Unsynced {
    table: ConflictTable<CommandId>,
    commands: HashMap<CommandId, Command>,
}

impl Unsynced {
    /// Holds nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The held commands other than `id` that `command` does not commute with.
    pub fn conflicting(&self, id: CommandId, command: &Command) -> Vec<CommandId> {
        let mut deps = self.table.dependencies(command);
        deps.retain(|other| *other != id);
        deps
    }

    /// A witness's rule: holds `command` if it commutes with everything
    /// held; returns whether it is held now.
    pub fn record_if_commutes(&mut self, id: CommandId, command: &Command) -> bool {
        if self.commands.contains_key(&id) {
            return true;
        }
        if !self.conflicting(id, command).is_empty() {
            return false;
        }
        self.insert(id, command.clone());
        true
    }

    /// Holds `command` whatever it conflicts with.
    pub fn insert(&mut self, id: CommandId, command: Command) {
        self.table.record(id, &command);
        self.commands.insert(id, command);
    }

    /// Whether `id` is held.
    pub fn contains(&self, id: CommandId) -> bool {
        self.commands.contains_key(&id)
    }

    /// `id` is synced: it goes; returns its command if it was held.
    pub fn remove(&mut self, id: CommandId) -> Option<Command> {
        let command = self.commands.remove(&id)?;
        self.table.remove(id, &command);
        crate::shrink::give_back(&mut self.commands);
        Some(command)
    }

    /// Drops every held command `synced` says is synced (after a state
    /// transfer, which executes commands without reporting each).
    pub fn remove_where(&mut self, mut synced: impl FnMut(CommandId) -> bool) {
        let gone: Vec<CommandId> = self.commands.keys().copied().filter(|id| synced(*id)).collect();
        for id in gone {
            self.remove(id);
        }
    }

    /// Every held command, in id order.
    pub fn snapshot(&self) -> Vec<(CommandId, Command)> {
        let mut all: Vec<_> = self.commands.iter().map(|(id, c)| (*id, c.clone())).collect();
        all.sort_by_key(|(id, _)| *id);
        all
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// How many commands are held.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn put(key: i64) -> Command {
        Command::Put {
            key,
            value: Bytes::from_static(b"v"),
        }
    }

    #[test]
    fn a_witness_holds_only_commuting_commands_until_synced() {
        let mut w = Unsynced::new();
        let (a, b, c) = (CommandId::new(1, 1), CommandId::new(2, 1), CommandId::new(3, 1));
        assert!(w.record_if_commutes(a, &put(1)));
        assert!(!w.record_if_commutes(b, &put(1)), "same key: conflicts");
        assert!(w.record_if_commutes(c, &Command::Get { key: 2 }));
        assert!(w.record_if_commutes(a, &put(1)), "recording again is idempotent");
        assert_eq!(w.remove(a), Some(put(1)));
        assert!(w.record_if_commutes(b, &put(1)), "free once the first is synced");
        assert_eq!(w.snapshot().len(), 2);
    }
}
