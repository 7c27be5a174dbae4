//! The per-key conflict table: which earlier commands a new one must follow.
//!
//! Dependency-tracking protocols (SwiftPaxos, EPaxos, CURP's witnesses) ask,
//! for each incoming command, which known commands it conflicts with. Writes
//! on a key are totally ordered by conflict, so it is enough to remember per
//! key the last write and the reads since it: a new write depends on those,
//! a new read on the last write; earlier commands are reached transitively.
//! The table belongs to one shard and one core, so it needs no locks.

use crate::command::{Command, Key};
use std::collections::HashMap;
use std::hash::Hash;
use std::ops::RangeInclusive;

#[derive(Debug, Clone)]
struct KeyEntry<Id> {
    last_write: Option<Id>,
    reads_since_write: Vec<Id>,
}

impl<Id> Default for KeyEntry<Id> {
    fn default() -> Self {
        KeyEntry { last_write: None, reads_since_write: Vec::new() }
    }
}

impl<Id> KeyEntry<Id> {
    fn is_empty(&self) -> bool {
        self.last_write.is_none() && self.reads_since_write.is_empty()
    }
}

/// Latest conflicting commands per key, for commands identified by `Id`
/// (a command id, an instance, a slot: whatever the protocol orders).
#[derive(Debug, Clone)]
pub struct ConflictTable<Id> {
    keys: HashMap<Key, KeyEntry<Id>>,
    /// SCANs span ranges that may hold keys nobody wrote yet, so a later
    /// PUT finds them here rather than in `keys`.
    scans: Vec<(RangeInclusive<Key>, Id)>,
}

impl<Id> Default for ConflictTable<Id> {
    fn default() -> Self {
        ConflictTable { keys: HashMap::new(), scans: Vec::new() }
    }
}

impl<Id: Copy + Eq + Hash> ConflictTable<Id> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The recorded commands `command` conflicts with and must be ordered
    /// after, without duplicates, in the order found.
    pub fn dependencies(&self, command: &Command) -> Vec<Id> {
        let mut deps = Vec::new();
        let mut push = |id: Id| {
            if !deps.contains(&id) {
                deps.push(id);
            }
        };
        match command {
            Command::Put { key, .. } => {
                if let Some(entry) = self.keys.get(key) {
                    entry.last_write.into_iter().chain(entry.reads_since_write.iter().copied()).for_each(&mut push);
                }
                self.scans.iter().filter(|(r, _)| r.contains(key)).for_each(|(_, id)| push(*id));
            }
            Command::Get { key } => {
                if let Some(w) = self.keys.get(key).and_then(|e| e.last_write) {
                    push(w);
                }
            }
            Command::Scan { .. } => {
                let range = command.key_range().expect("a scan has a key range");
                self.for_each_key_in(&range, |entry| {
                    if let Some(w) = entry.last_write {
                        push(w);
                    }
                });
            }
            Command::Noop => {}
        }
        deps
    }

    /// Records `command` as the newest on its keys.
    pub fn record(&mut self, id: Id, command: &Command) {
        match command {
            Command::Put { key, .. } => {
                let entry = self.keys.entry(*key).or_default();
                entry.last_write = Some(id);
                entry.reads_since_write.clear();
            }
            Command::Get { key } => self.keys.entry(*key).or_default().reads_since_write.push(id),
            Command::Scan { .. } => {
                let range = command.key_range().expect("a scan has a key range");
                self.scans.push((range, id));
            }
            Command::Noop => {}
        }
    }

    /// Forgets `id` (executed, or committed and no longer needed as a
    /// dependency), so the table stays as small as the set of commands in flight.
    pub fn remove(&mut self, id: Id, command: &Command) {
        match command {
            Command::Put { key, .. } | Command::Get { key } => {
                if let Some(entry) = self.keys.get_mut(key) {
                    if entry.last_write == Some(id) {
                        entry.last_write = None;
                    }
                    entry.reads_since_write.retain(|r| *r != id);
                    if entry.is_empty() {
                        self.keys.remove(key);
                    }
                }
            }
            Command::Scan { .. } => self.scans.retain(|(_, s)| *s != id),
            Command::Noop => {}
        }
    }

    /// How many keys and scans the table holds, to check it stays bounded.
    pub fn len(&self) -> usize {
        self.keys.len() + self.scans.len()
    }

    /// Whether the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn for_each_key_in(&self, range: &RangeInclusive<Key>, mut f: impl FnMut(&KeyEntry<Id>)) {
        let width = range.end().abs_diff(*range.start());
        if width < self.keys.len() as u64 {
            (*range.start()..=*range.end()).filter_map(|k| self.keys.get(&k)).for_each(&mut f);
        } else {
            self.keys.iter().filter(|(k, _)| range.contains(k)).for_each(|(_, e)| f(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn put(key: Key) -> Command {
        Command::Put { key, value: Bytes::from_static(b"x") }
    }
    fn get(key: Key) -> Command {
        Command::Get { key }
    }

    #[test]
    fn a_write_depends_on_the_last_write_and_later_reads() {
        let mut t = ConflictTable::new();
        t.record(1, &put(5));
        t.record(2, &get(5));
        t.record(3, &get(5));
        assert_eq!(t.dependencies(&put(5)), vec![1, 2, 3]);
        assert_eq!(t.dependencies(&get(5)), vec![1]);
        t.record(4, &put(5));
        assert_eq!(t.dependencies(&put(5)), vec![4]);
        assert_eq!(t.dependencies(&put(6)), Vec::<u32>::new());
    }

    #[test]
    fn reads_do_not_depend_on_reads() {
        let mut t = ConflictTable::new();
        t.record(1, &get(5));
        assert!(t.dependencies(&get(5)).is_empty());
        assert!(t.dependencies(&Command::Scan { key: 0, count: 10 }).is_empty());
    }

    #[test]
    fn scans_see_writes_in_range_and_writes_see_scans() {
        let mut t = ConflictTable::new();
        t.record(1, &put(3));
        t.record(2, &put(20));
        let scan = Command::Scan { key: 0, count: 10 };
        assert_eq!(t.dependencies(&scan), vec![1]);
        t.record(3, &scan);
        // A write to a key the scan covered, never written before, still sees it.
        assert_eq!(t.dependencies(&put(7)), vec![3]);
        assert!(t.dependencies(&put(11)).is_empty());
    }

    #[test]
    fn wide_scans_are_answered_without_walking_the_range() {
        let mut t = ConflictTable::new();
        t.record(1, &put(i64::MAX));
        assert_eq!(t.dependencies(&Command::Scan { key: 0, count: u64::MAX }), vec![1]);
    }

    #[test]
    fn removed_commands_leave_the_table_empty() {
        let mut t = ConflictTable::new();
        let cmds = [(1, put(1)), (2, get(1)), (3, Command::Scan { key: 0, count: 3 }), (4, get(2))];
        for (id, c) in &cmds {
            t.record(*id, c);
        }
        for (id, c) in &cmds {
            t.remove(*id, c);
        }
        assert!(t.is_empty());
    }

    #[test]
    fn removing_an_overwritten_write_keeps_the_newer_one() {
        let mut t = ConflictTable::new();
        t.record(1, &put(1));
        t.record(2, &put(1));
        t.remove(1, &put(1));
        assert_eq!(t.dependencies(&get(1)), vec![2]);
    }
}
