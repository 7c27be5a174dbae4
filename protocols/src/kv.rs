//! The ordered key-value store every protocol replicates.

use crate::command::{Command, CommandResult, Key};
use bytes::Bytes;
use std::collections::BTreeMap;

/// The state machine: an ordered map, so that SCAN reads a key range.
#[derive(Debug, Default, Clone)]
pub struct KvStore {
    map: BTreeMap<Key, Bytes>,
}

impl KvStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
                CommandResult::Range(self.map.range(range).map(|(k, v)| (*k, v.clone())).collect())
            }
            Command::Noop => CommandResult::Done,
        }
    }

    /// The value under `key`, without executing anything.
    pub fn get(&self, key: Key) -> Option<&Bytes> {
        self.map.get(&key)
    }

    /// The values in `range`, in key order, without executing anything.
    pub fn range(&self, range: std::ops::RangeInclusive<Key>) -> impl Iterator<Item = (Key, &Bytes)> {
        self.map.range(range).map(|(k, v)| (*k, v))
    }

    /// Every key and its value, in key order (for snapshots).
    pub fn iter(&self) -> impl Iterator<Item = (Key, &Bytes)> {
        self.map.iter().map(|(k, v)| (*k, v))
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
        Command::Put { key, value: Bytes::from_static(v.as_bytes()) }
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
        assert_eq!(kv.execute(&Command::Scan { key: 7, count: 0 }), CommandResult::Range(vec![]));
    }

    #[test]
    fn noop_changes_nothing() {
        let mut kv = KvStore::new();
        assert_eq!(kv.execute(&Command::Noop), CommandResult::Done);
        assert!(kv.is_empty());
    }
}
