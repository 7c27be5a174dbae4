//! EPaxos's per-key conflict map: for each key and each replica's row of
//! instances, the highest instance that touched it, and the highest sequence
//! number. A command's attributes (its dependencies and sequence number)
//! come from here.
//!
//! EPaxos depends on "every conflicting instance of row `q` up to
//! `deps[q]`", so the map keeps only maxima and never shrinks per key; this
//! is also what makes recovery's reasoning hold (an instance that saw `C`
//! has a `deps[C.leader]` of at least `C.slot`). Unlike the direct-dependency
//! [`crate::conflicts::ConflictTable`] of SwiftPaxos, nothing is ever
//! covered away, so no transitive argument is needed.

use super::instance::{Attributes, InstanceId, RowDeps};
use crate::command::{Command, Key};
use crate::keymap::{for_each_key_in, KeyMap};
use smallvec::SmallVec;
use std::ops::RangeInclusive;

/// One key's maxima: per row, one more than the highest slot that wrote
/// the key (0: none), then the same for reads; and the highest sequence
/// numbers of each. Inline up to five replicas, so a key costs one map
/// slot and no allocation of its own (a bench run touches half a million).
#[derive(Clone, Debug)]
struct Rows {
    slots: SmallVec<[u64; 10]>,
    write_seq: u64,
    read_seq: u64,
}

impl Rows {
    fn new(n: usize) -> Self {
        Rows {
            slots: SmallVec::from_elem(0, 2 * n),
            write_seq: 0,
            read_seq: 0,
        }
    }

    fn writes(&self) -> &[u64] {
        &self.slots[..self.slots.len() / 2]
    }

    fn reads(&self) -> &[u64] {
        &self.slots[self.slots.len() / 2..]
    }

    /// Notes `instance` as a write (or a read) of the key.
    fn bump(&mut self, instance: InstanceId, read: bool, seq: u64) {
        let n = self.slots.len() / 2;
        let slot = &mut self.slots[instance.leader + if read { n } else { 0 }];
        *slot = (*slot).max(instance.slot + 1);
        let top = if read { &mut self.read_seq } else { &mut self.write_seq };
        *top = (*top).max(seq);
    }
}

/// The conflict map of one replica. Keyed by hash, not in key order: the
/// map only grows, and a search down an ordered map of half a million
/// keys cost EPaxos more than anything else it does per command
/// (SCANs walk their range the way the SwiftPaxos table does); resized
/// a few keys at a time ([`crate::keymap`]).
#[derive(Clone, Debug)]
pub struct ConflictMap {
    n: usize,
    keys: KeyMap<Rows>,
    /// SCANs, which read keys nobody may have written yet.
    scans: Vec<(RangeInclusive<Key>, InstanceId, u64)>,
}

impl ConflictMap {
    /// An empty map for `n` replicas.
    pub fn new(n: usize) -> Self {
        ConflictMap {
            n,
            keys: KeyMap::default(),
            scans: Vec::new(),
        }
    }

    /// The attributes `command` gets here now: for each row, the highest
    /// instance it conflicts with, and one more than their highest sequence.
    pub fn attributes(&self, command: &Command) -> Attributes {
        // Per row, one more than the highest conflicting slot (0: none).
        let mut tops: SmallVec<[u64; 5]> = SmallVec::from_elem(0, self.n);
        let mut seq = 0;
        let mut take = |row: &[u64], s: u64| {
            for (top, r) in tops.iter_mut().zip(row) {
                *top = (*top).max(*r);
            }
            seq = seq.max(s);
        };
        match command {
            Command::Put { key, .. } => {
                if let Some(rows) = self.keys.get(key) {
                    take(rows.writes(), rows.write_seq);
                    take(rows.reads(), rows.read_seq);
                }
                for (_, instance, s) in self.scans.iter().filter(|(r, _, _)| r.contains(key)) {
                    let mut row: SmallVec<[u64; 5]> = SmallVec::from_elem(0, self.n);
                    row[instance.leader] = instance.slot + 1;
                    take(&row, *s);
                }
            }
            Command::Get { key } => {
                if let Some(rows) = self.keys.get(key) {
                    take(rows.writes(), rows.write_seq);
                }
            }
            Command::Scan { .. } => {
                let range = command.key_range().expect("a scan has a key range");
                for_each_key_in(&self.keys, &range, |_, rows| take(rows.writes(), rows.write_seq));
            }
            Command::Noop => {}
        }
        let deps: RowDeps = tops.iter().map(|&top| top.checked_sub(1)).collect();
        Attributes { seq: seq + 1, deps }
    }

    /// Looks up the keys of `commands` without using what it finds, so
    /// that handling those commands right after finds them in cache. The
    /// map holds every key ever touched (half a million in `bench`, tens
    /// of megabytes), so nearly every lookup misses; lookups that do not
    /// wait for each other overlap their misses, where handling a batch's
    /// commands one at a time waited for each miss in turn.
    pub fn warm<'a>(&self, commands: impl IntoIterator<Item = &'a Command>) {
        for command in commands {
            if let Command::Put { key, .. } | Command::Get { key } = command {
                std::hint::black_box(self.keys.get(key).map(|rows| rows.write_seq));
            }
        }
    }

    /// Records that `instance` holds `command` with sequence number `seq`.
    pub fn record(&mut self, instance: InstanceId, command: &Command, seq: u64) {
        let n = self.n;
        match command {
            Command::Put { key, .. } => self
                .keys
                .entry(*key)
                .or_insert_with(|| Rows::new(n))
                .bump(instance, false, seq),
            Command::Get { key } => self
                .keys
                .entry(*key)
                .or_insert_with(|| Rows::new(n))
                .bump(instance, true, seq),
            Command::Scan { .. } => {
                let range = command.key_range().expect("a scan has a key range");
                if !self.scans.iter().any(|(_, i, _)| *i == instance) {
                    self.scans.push((range, instance, seq));
                }
            }
            Command::Noop => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn put(key: Key) -> Command {
        Command::Put {
            key,
            value: Bytes::from_static(b"v"),
        }
    }

    #[test]
    fn attributes_name_the_highest_conflicting_instance_per_row() {
        let mut map = ConflictMap::new(3);
        map.record(InstanceId { leader: 0, slot: 4 }, &put(1), 1);
        map.record(InstanceId { leader: 2, slot: 7 }, &Command::Get { key: 1 }, 2);
        map.record(InstanceId { leader: 0, slot: 2 }, &put(1), 1);
        let a = map.attributes(&put(1));
        assert_eq!(&*a.deps, &[Some(4), None, Some(7)]);
        assert_eq!(a.seq, 3);
        // Reads do not depend on reads.
        assert_eq!(&*map.attributes(&Command::Get { key: 1 }).deps, &[Some(4), None, None]);
        assert_eq!(&*map.attributes(&put(9)).deps, &[None, None, None]);
    }

    #[test]
    fn a_put_depends_on_a_scan_covering_its_key() {
        let mut map = ConflictMap::new(2);
        map.record(
            InstanceId { leader: 1, slot: 3 },
            &Command::Scan { key: 10, count: 4 },
            5,
        );
        let a = map.attributes(&put(12));
        assert_eq!(&*a.deps, &[None, Some(3)]);
        assert_eq!(a.seq, 6);
    }
}
