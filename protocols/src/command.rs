//! The commands of the replicated key-value store and the conflict relation
//! that every dependency-tracking protocol relies on.

use bytes::Bytes;
use std::ops::RangeInclusive;

/// Keys of the store, as in the original tool.
pub type Key = i64;

/// A command of the original tool's state machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Command {
    /// Writes `value` under `key`.
    Put { key: Key, value: Bytes },
    /// Reads the value under `key`.
    Get { key: Key },
    /// Reads every value in `key..=key + count`, in key order.
    Scan { key: Key, count: u64 },
    /// Does nothing; fills log slots that recovery found empty.
    Noop,
}

/// What a client gets back for its command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum CommandResult {
    /// A PUT or NONE was applied.
    Done,
    /// A GET's answer: the value, or `None` if the key was never written.
    Value(Option<Bytes>),
    /// A SCAN's answer: the present keys of the range with their values.
    Range(Vec<(Key, Bytes)>),
}

impl Command {
    /// The keys the command reads or writes, as an inclusive range
    /// (`None` for a no-op). A SCAN's range saturates at `Key::MAX`.
    pub fn key_range(&self) -> Option<RangeInclusive<Key>> {
        match *self {
            Command::Put { key, .. } | Command::Get { key } => Some(key..=key),
            Command::Scan { key, count } => {
                let count = i64::try_from(count).unwrap_or(i64::MAX);
                Some(key..=key.saturating_add(count))
            }
            Command::Noop => None,
        }
    }

    /// Bytes of payload the command carries (a PUT's value), for sizing
    /// messages that hold many commands.
    pub fn value_len(&self) -> usize {
        match self {
            Command::Put { value, .. } => value.len(),
            _ => 0,
        }
    }

    /// Whether the command changes the store.
    pub fn is_write(&self) -> bool {
        matches!(self, Command::Put { .. })
    }

    /// Two commands conflict when they touch a common key and at least one
    /// writes: only then does their order change a result.
    pub fn conflicts_with(&self, other: &Command) -> bool {
        if !self.is_write() && !other.is_write() {
            return false;
        }
        match (self.key_range(), other.key_range()) {
            (Some(a), Some(b)) => a.start() <= b.end() && b.start() <= a.end(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: Key) -> Command {
        Command::Put {
            key,
            value: Bytes::from_static(b"v"),
        }
    }

    #[test]
    fn writes_to_the_same_key_conflict() {
        assert!(put(1).conflicts_with(&put(1)));
        assert!(put(1).conflicts_with(&Command::Get { key: 1 }));
        assert!(Command::Get { key: 1 }.conflicts_with(&put(1)));
    }

    #[test]
    fn reads_never_conflict_with_reads() {
        assert!(!Command::Get { key: 1 }.conflicts_with(&Command::Get { key: 1 }));
        let scan = Command::Scan { key: 0, count: 10 };
        assert!(!scan.conflicts_with(&Command::Get { key: 5 }));
        assert!(!scan.conflicts_with(&scan));
    }

    #[test]
    fn different_keys_do_not_conflict() {
        assert!(!put(1).conflicts_with(&put(2)));
        assert!(!put(1).conflicts_with(&Command::Get { key: 2 }));
    }

    #[test]
    fn scan_covers_key_to_key_plus_count_inclusive() {
        let scan = Command::Scan { key: 10, count: 5 };
        assert!(scan.conflicts_with(&put(10)));
        assert!(scan.conflicts_with(&put(15)));
        assert!(put(15).conflicts_with(&scan));
        assert!(!scan.conflicts_with(&put(16)));
        assert!(!scan.conflicts_with(&put(9)));
    }

    #[test]
    fn scan_range_saturates() {
        let scan = Command::Scan {
            key: i64::MAX - 1,
            count: u64::MAX,
        };
        assert_eq!(scan.key_range(), Some(i64::MAX - 1..=i64::MAX));
        assert!(scan.conflicts_with(&put(i64::MAX)));
    }

    #[test]
    fn noop_conflicts_with_nothing() {
        assert!(!Command::Noop.conflicts_with(&put(1)));
        assert!(!put(1).conflicts_with(&Command::Noop));
    }
}
