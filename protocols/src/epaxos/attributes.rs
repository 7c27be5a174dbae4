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

use super::instance::{Attributes, InstanceId};
use crate::command::{Command, Key};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

#[derive(Clone, Debug)]
struct Rows {
    writes: Vec<Option<u64>>,
    reads: Vec<Option<u64>>,
    write_seq: u64,
    read_seq: u64,
}

impl Rows {
    fn new(n: usize) -> Self {
        Rows { writes: vec![None; n], reads: vec![None; n], write_seq: 0, read_seq: 0 }
    }
}

/// The conflict map of one replica.
#[derive(Clone, Debug)]
pub struct ConflictMap {
    n: usize,
    keys: BTreeMap<Key, Rows>,
    /// SCANs, which read keys nobody may have written yet.
    scans: Vec<(RangeInclusive<Key>, InstanceId, u64)>,
}

impl ConflictMap {
    /// An empty map for `n` replicas.
    pub fn new(n: usize) -> Self {
        ConflictMap { n, keys: BTreeMap::new(), scans: Vec::new() }
    }

    /// The attributes `command` gets here now: for each row, the highest
    /// instance it conflicts with, and one more than their highest sequence.
    pub fn attributes(&self, command: &Command) -> Attributes {
        let mut deps: Vec<Option<u64>> = vec![None; self.n];
        let mut seq = 0;
        let mut take = |row: &[Option<u64>], s: u64, deps: &mut Vec<Option<u64>>| {
            for (d, r) in deps.iter_mut().zip(row) {
                *d = (*d).max(*r);
            }
            seq = seq.max(s);
        };
        match command {
            Command::Put { key, .. } => {
                if let Some(rows) = self.keys.get(key) {
                    take(&rows.writes, rows.write_seq, &mut deps);
                    take(&rows.reads, rows.read_seq, &mut deps);
                }
                for (_, instance, s) in self.scans.iter().filter(|(r, _, _)| r.contains(key)) {
                    let mut row = vec![None; self.n];
                    row[instance.leader] = Some(instance.slot);
                    take(&row, *s, &mut deps);
                }
            }
            Command::Get { key } => {
                if let Some(rows) = self.keys.get(key) {
                    take(&rows.writes, rows.write_seq, &mut deps);
                }
            }
            Command::Scan { .. } => {
                let range = command.key_range().expect("a scan has a key range");
                for rows in self.keys.range(range).map(|(_, r)| r) {
                    take(&rows.writes, rows.write_seq, &mut deps);
                }
            }
            Command::Noop => {}
        }
        Attributes { seq: seq + 1, deps: Arc::from(deps) }
    }

    /// Records that `instance` holds `command` with sequence number `seq`.
    pub fn record(&mut self, instance: InstanceId, command: &Command, seq: u64) {
        let n = self.n;
        let bump = |row: &mut Vec<Option<u64>>| row[instance.leader] = row[instance.leader].max(Some(instance.slot));
        match command {
            Command::Put { key, .. } => {
                let rows = self.keys.entry(*key).or_insert_with(|| Rows::new(n));
                bump(&mut rows.writes);
                rows.write_seq = rows.write_seq.max(seq);
            }
            Command::Get { key } => {
                let rows = self.keys.entry(*key).or_insert_with(|| Rows::new(n));
                bump(&mut rows.reads);
                rows.read_seq = rows.read_seq.max(seq);
            }
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
        Command::Put { key, value: Bytes::from_static(b"v") }
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
        map.record(InstanceId { leader: 1, slot: 3 }, &Command::Scan { key: 10, count: 4 }, 5);
        let a = map.attributes(&put(12));
        assert_eq!(&*a.deps, &[None, Some(3)]);
        assert_eq!(a.seq, 6);
    }
}
