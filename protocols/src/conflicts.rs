//! The per-key conflict table: which earlier commands a new one must follow.
//!
//! Dependency-tracking protocols (SwiftPaxos, EPaxos, CURP's witnesses) ask,
//! for each incoming command, which known commands it conflicts with. The
//! answer is *direct*: every conflicting command the table still holds, not
//! only the latest one. Recovery protocols reason about what replicas
//! reported, and a chain through a command whose dependencies recovery may
//! still change would not be a safe substitute for a direct edge.
//!
//! The table stays small through [`ConflictTable::cover`]: once a write
//! *commits* with dependencies that name earlier commands on its key, those
//! can go — a newer command depends on the committed write, whose
//! dependencies never change again, and so reaches them through it. A read
//! covers nothing: later reads do not depend on it. The table belongs to one
//! shard and one core, so it needs no locks.

use crate::command::{Command, Key};
use crate::keymap::{for_each_key_in, KeyMap};
use smallvec::SmallVec;
use std::hash::Hash;
use std::ops::RangeInclusive;

/// Most keys hold one command at a time (each client writes keys of its
/// own): inline, so recording one allocates nothing beyond the map's slot.
type Held<Id> = SmallVec<[Id; 1]>;

#[derive(Debug, Clone)]
struct KeyEntry<Id> {
    writes: Held<Id>,
    reads: Held<Id>,
}

impl<Id> Default for KeyEntry<Id> {
    fn default() -> Self {
        KeyEntry {
            writes: SmallVec::new(),
            reads: SmallVec::new(),
        }
    }
}

impl<Id> KeyEntry<Id> {
    fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.reads.is_empty()
    }
}

/// The conflicting commands not yet covered, per key, for commands
/// identified by `Id` (a command id, an instance, a slot).
#[derive(Debug, Clone)]
pub struct ConflictTable<Id> {
    keys: KeyMap<KeyEntry<Id>>,
    /// SCANs span ranges that may hold keys nobody wrote yet, so a later
    /// PUT finds them here rather than in `keys`.
    scans: Vec<(RangeInclusive<Key>, Id)>,
}

impl<Id> Default for ConflictTable<Id> {
    fn default() -> Self {
        ConflictTable {
            keys: KeyMap::default(),
            scans: Vec::new(),
        }
    }
}

impl<Id: Copy + Eq + Hash + Ord> ConflictTable<Id> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every held command `command` conflicts with, without duplicates, in
    /// the order recorded: writes of its keys for a read; writes, reads and
    /// covering scans for a write. (No id is held twice: a command is
    /// recorded on its one key as a write or a read, or once as a scan.)
    pub fn dependencies(&self, command: &Command) -> Vec<Id> {
        let mut deps = Vec::new();
        let mut push = |id: Id| deps.push(id);
        match command {
            Command::Put { key, .. } => {
                if let Some(entry) = self.keys.get(key) {
                    entry
                        .writes
                        .iter()
                        .chain(entry.reads.iter())
                        .copied()
                        .for_each(&mut push);
                }
                self.scans
                    .iter()
                    .filter(|(r, _)| r.contains(key))
                    .for_each(|(_, id)| push(*id));
            }
            Command::Get { key } => {
                if let Some(entry) = self.keys.get(key) {
                    entry.writes.iter().copied().for_each(&mut push);
                }
            }
            Command::Scan { .. } => {
                let range = command.key_range().expect("a scan has a key range");
                self.for_each_key_in(&range, |entry| entry.writes.iter().copied().for_each(&mut push));
            }
            Command::Noop => {}
        }
        deps
    }

    /// Records `command` as held on its keys (recording twice is harmless).
    pub fn record(&mut self, id: Id, command: &Command) {
        match command {
            Command::Put { key, .. } => {
                let entry = self.keys.entry(*key).or_default();
                if !entry.writes.contains(&id) {
                    entry.writes.push(id);
                }
            }
            Command::Get { key } => {
                let entry = self.keys.entry(*key).or_default();
                if !entry.reads.contains(&id) {
                    entry.reads.push(id);
                }
            }
            Command::Scan { .. } => {
                if !self.scans.iter().any(|(_, s)| *s == id) {
                    let range = command.key_range().expect("a scan has a key range");
                    self.scans.push((range, id));
                }
            }
            Command::Noop => {}
        }
    }

    /// `id`, a command on `command`'s keys, committed with dependencies
    /// `deps`: if it writes, the commands of its key it names
    /// directly are reached through it from now on, and leave the table.
    /// Pass only dependencies that are themselves committed: recovery can
    /// make two writes depend on each other, and each must not cover the
    /// other away.
    pub fn cover(&mut self, id: Id, command: &Command, deps: &[Id]) {
        let Command::Put { key, .. } = command else { return };
        if deps.is_empty() {
            return;
        }
        // Sorted as `deps_of` builds them; a set from elsewhere is sorted here.
        let sorted: std::borrow::Cow<'_, [Id]> = if deps.windows(2).all(|w| w[0] <= w[1]) {
            deps.into()
        } else {
            let mut v = deps.to_vec();
            v.sort_unstable();
            v.into()
        };
        let deps = &*sorted;
        if let Some(entry) = self.keys.get_mut(key) {
            entry.writes.retain(|w| *w == id || deps.binary_search(w).is_err());
            entry.reads.retain(|r| deps.binary_search(r).is_err());
        }
        // A SCAN spans other keys too: a write to one of them does not order
        // it before later writes to the others, so it stays. (SCANs therefore
        // accumulate until `remove`; bounding them is left to garbage collection.)
    }

    /// Forgets `id` altogether (an instance that will never execute).
    pub fn remove(&mut self, id: Id, command: &Command) {
        match command {
            Command::Put { key, .. } | Command::Get { key } => {
                if let Some(entry) = self.keys.get_mut(key) {
                    // Oldest first, and the oldest go first: found early.
                    if let Some(at) = entry.writes.iter().position(|w| *w == id) {
                        entry.writes.remove(at);
                    } else if let Some(at) = entry.reads.iter().position(|r| *r == id) {
                        entry.reads.remove(at);
                    }
                    if entry.is_empty() {
                        self.keys.remove(key);
                        crate::shrink::give_back(&mut self.keys);
                    }
                }
            }
            Command::Scan { .. } => self.scans.retain(|(_, s)| *s != id),
            Command::Noop => {}
        }
    }

    /// Looks the keys of `commands` up, changing nothing, so that removals
    /// of those commands right after find their keys in cache: lookups
    /// that do not wait for each other overlap their cache misses, one
    /// removal at a time does not.
    pub fn warm<'a>(&self, commands: impl IntoIterator<Item = &'a Command>) {
        for command in commands {
            if let Command::Put { key, .. } | Command::Get { key } = command {
                std::hint::black_box(self.keys.get(key).map(|entry| entry.writes.len()));
            }
        }
    }

    /// How many commands the table holds, to check it stays bounded.
    pub fn len(&self) -> usize {
        self.keys
            .values()
            .map(|e| e.writes.len() + e.reads.len())
            .sum::<usize>()
            + self.scans.len()
    }

    /// Whether the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn for_each_key_in(&self, range: &RangeInclusive<Key>, mut f: impl FnMut(&KeyEntry<Id>)) {
        for_each_key_in(&self.keys, range, |_, entry| f(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn put(key: Key) -> Command {
        Command::Put {
            key,
            value: Bytes::from_static(b"x"),
        }
    }
    fn get(key: Key) -> Command {
        Command::Get { key }
    }

    #[test]
    fn a_write_depends_directly_on_every_held_write_and_read() {
        let mut t = ConflictTable::new();
        t.record(1, &put(5));
        t.record(2, &get(5));
        t.record(3, &get(5));
        t.record(4, &put(5));
        assert_eq!(t.dependencies(&put(5)), vec![1, 4, 2, 3]);
        assert_eq!(t.dependencies(&get(5)), vec![1, 4]);
        assert_eq!(t.dependencies(&put(6)), Vec::<u32>::new());
    }

    #[test]
    fn a_committed_write_covers_what_it_names() {
        let mut t = ConflictTable::new();
        t.record(1, &put(5));
        t.record(2, &get(5));
        t.record(3, &get(5));
        t.record(4, &put(5));
        t.cover(4, &put(5), &[1, 2]);
        assert_eq!(t.dependencies(&put(5)), vec![4, 3], "3 was not named, so it stays");
        // A committed read covers nothing: a later read must still see the writes.
        // (Callers pass only committed dependencies; here all of them are.)
        t.cover(3, &get(5), &[4]);
        assert_eq!(t.dependencies(&get(5)), vec![4]);
        assert_eq!(t.len(), 2);
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
        // A write to one key of the scan's range does not cover it: a later
        // write to another key of the range must still be ordered after it.
        t.record(4, &put(7));
        t.cover(4, &put(7), &[3]);
        assert_eq!(t.dependencies(&put(5)), vec![3]);
        assert_eq!(t.dependencies(&put(7)), vec![4, 3]);
    }

    #[test]
    fn wide_scans_are_answered_without_walking_the_range() {
        let mut t = ConflictTable::new();
        t.record(1, &put(i64::MAX));
        assert_eq!(
            t.dependencies(&Command::Scan {
                key: 0,
                count: u64::MAX
            }),
            vec![1]
        );
    }

    #[test]
    fn removed_commands_leave_the_table_empty() {
        let mut t = ConflictTable::new();
        let cmds = [
            (1, put(1)),
            (2, get(1)),
            (3, Command::Scan { key: 0, count: 3 }),
            (4, get(2)),
        ];
        for (id, c) in &cmds {
            t.record(*id, c);
            t.record(*id, c);
        }
        for (id, c) in &cmds {
            t.remove(*id, c);
        }
        assert!(t.is_empty());
    }
}
