//! The key-value store every protocol replicates.

use crate::command::{Command, CommandResult, Key};
use crate::keymap::{for_each_key_in, KeyMap};
use bytes::Bytes;
use std::ops::RangeInclusive;

/// The state machine: a hash map from key to value. Every replica
/// executes every command, and with the main job's 512k keys an ordered
/// map's lookups missed cache at each level (the store's B-tree was 7% of
/// a SwiftPaxos profile). Keys are integers, so a SCAN probes each key of
/// a range narrower than the store, or walks the store for a wider one,
/// and sorts what it found: the same answer an ordered map gives.
/// Resized a few keys at a time ([`crate::keymap`]).
#[derive(Debug, Default, Clone)]
pub struct KvStore {
    map: KeyMap<Bytes>,
}

impl KvStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks up `command`'s key without using what it finds, so that
    /// executing it soon after finds the key's slot in cache (see
    /// [`crate::protocol::ReplicaProtocol::warm`]).
    pub fn warm(&self, command: &Command) {
        if let Command::Put { key, .. } | Command::Get { key } = command {
            std::hint::black_box(self.map.get(key).map(Bytes::len));
        }
    }

    /// Applies `command` and returns what its client is told.
    pub fn execute(&mut self, command: &Command) -> CommandResult {
        match command {
            Command::Put { key, value } => {
                self.map.insert(*key, value.clone());
                CommandResult::Done
            }
            Command::Get { key } => CommandResult::Value(self.map.get(key).cloned()),
            Command::Scan { .. } => {
                let range = command.key_range().expect("a scan has a key range");
                CommandResult::Range(self.range(range).map(|(k, v)| (k, v.clone())).collect())
            }
            Command::Noop => CommandResult::Done,
        }
    }

    /// The value under `key`, without executing anything.
    pub fn get(&self, key: Key) -> Option<&Bytes> {
        self.map.get(&key)
    }

    /// The values in `range`, in key order, without executing anything.
    pub fn range(&self, range: RangeInclusive<Key>) -> impl Iterator<Item = (Key, &Bytes)> {
        let mut found: Vec<(Key, &Bytes)> = Vec::new();
        for_each_key_in(&self.map, &range, |key, value| found.push((key, value)));
        found.sort_unstable_by_key(|(k, _)| *k);
        found.into_iter()
    }

    /// Every key and its value, in key order (for snapshots, which must
    /// be the same at every replica holding the same state).
    pub fn iter(&self) -> impl Iterator<Item = (Key, &Bytes)> {
        let mut all: Vec<(Key, &Bytes)> = self.map.iter().map(|(k, v)| (*k, v)).collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all.into_iter()
    }

    /// Sets `key` to `value` directly (rebuilding from a snapshot).
    pub fn insert(&mut self, key: Key, value: Bytes) {
        self.map.insert(key, value);
    }

    /// How many keys hold a value.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key holds a value.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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

    #[test]
    fn get_of_unwritten_key_is_none() {
        let mut kv = KvStore::new();
        assert_eq!(kv.execute(&Command::Get { key: 7 }), CommandResult::Value(None));
    }

    #[test]
    fn put_then_get_returns_the_last_value() {
        let mut kv = KvStore::new();
        assert_eq!(kv.execute(&put(7, "a")), CommandResult::Done);
        kv.execute(&put(7, "b"));
        assert_eq!(
            kv.execute(&Command::Get { key: 7 }),
            CommandResult::Value(Some(Bytes::from_static(b"b")))
        );
        assert_eq!(kv.len(), 1);
    }

    #[test]
    fn scan_returns_present_keys_in_order_within_inclusive_range() {
        let mut kv = KvStore::new();
        for (k, v) in [(1, "one"), (3, "three"), (5, "five"), (6, "six")] {
            kv.execute(&put(k, v));
        }
        let result = kv.execute(&Command::Scan { key: 1, count: 4 });
        assert_eq!(
            result,
            CommandResult::Range(vec![
                (1, Bytes::from_static(b"one")),
                (3, Bytes::from_static(b"three")),
                (5, Bytes::from_static(b"five")),
            ])
        );
        assert_eq!(
            kv.execute(&Command::Scan { key: 7, count: 0 }),
            CommandResult::Range(vec![])
        );
    }

    #[test]
    fn noop_changes_nothing() {
        let mut kv = KvStore::new();
        assert_eq!(kv.execute(&Command::Noop), CommandResult::Done);
        assert!(kv.is_empty());
    }

    #[test]
    fn scans_and_snapshots_read_in_key_order_like_an_ordered_map() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut kv = KvStore::new();
        let mut model = std::collections::BTreeMap::new();
        let edges = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        for (i, key) in edges
            .iter()
            .copied()
            .chain((0..3000).map(|_| rng.gen_range(-5000..5000)))
            .enumerate()
        {
            let value = Bytes::from(i.to_string());
            kv.execute(&Command::Put {
                key,
                value: value.clone(),
            });
            model.insert(key, value);
        }
        let mut ranges: Vec<(i64, i64)> = (0..300)
            .map(|_| {
                let low = rng.gen_range(-6000..6000);
                (low, low + rng.gen_range(-5..9000))
            })
            .collect();
        ranges.extend([
            (i64::MIN, i64::MAX),
            (i64::MAX - 3, i64::MAX),
            (i64::MIN, i64::MIN + 2),
            (5, 4),
        ]);
        for (low, high) in ranges {
            let got: Vec<_> = kv.range(low..=high).map(|(k, v)| (k, v.clone())).collect();
            let want: Vec<_> = if low > high {
                Vec::new()
            } else {
                model.range(low..=high).map(|(k, v)| (*k, v.clone())).collect()
            };
            assert_eq!(got, want, "range {low}..={high}");
        }
        let all: Vec<_> = kv.iter().map(|(k, v)| (k, v.clone())).collect();
        assert_eq!(all, model.into_iter().collect::<Vec<_>>());
    }
}
