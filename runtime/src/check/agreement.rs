//! Agreement among replicas: the same conflicting commands in the same order,
//! nothing applied twice, nothing invented, nothing acknowledged lost.

use super::history::History;
use protocols::{Command, CommandId, Key};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What one replica applied, in order, and whether it was up at the end.
#[derive(Clone, Debug, Default)]
pub struct ReplicaLog {
    /// Command ids in the order the replica applied them.
    pub applied: Vec<CommandId>,
    /// Whether the replica had crashed by the end of the run.
    pub crashed: bool,
}

/// Checks the replicas' logs against each other and against the clients'
/// history. With `quiescent` (the run ended after every fault healed and the
/// system drained), every live replica must also have applied the same set,
/// including every command a client saw completed.
pub fn check_agreement(history: &History, replicas: &[ReplicaLog], quiescent: bool) -> Vec<String> {
    let mut violations = Vec::new();
    let ops = history.by_id();

    for (r, log) in replicas.iter().enumerate() {
        let mut seen = HashSet::new();
        for id in &log.applied {
            if !seen.insert(*id) {
                violations.push(format!("agreement: replica {r} applied {id} twice"));
            }
            if !ops.contains_key(id) {
                violations.push(format!(
                    "agreement: replica {r} applied {id}, which no client submitted"
                ));
            }
        }
    }

    // Per key, the order of writes must be one sequence that every replica
    // follows a prefix of, and each read must sit after the same writes.
    let written: BTreeSet<Key> = history
        .ops
        .iter()
        .filter_map(|op| {
            if let Command::Put { key, .. } = op.command {
                Some(key)
            } else {
                None
            }
        })
        .collect();
    let views: Vec<BTreeMap<Key, KeyView>> = replicas.iter().map(|log| key_views(log, &ops, &written)).collect();
    for a in 0..replicas.len() {
        for b in a + 1..replicas.len() {
            for (key, va) in &views[a] {
                let Some(vb) = views[b].get(key) else { continue };
                let common = va.writes.len().min(vb.writes.len());
                if let Some(i) = (0..common).find(|&i| va.writes[i] != vb.writes[i]) {
                    violations.push(format!(
                        "agreement: replicas {a} and {b} order writes to key {key} differently: write #{i} is {} at {a} and {} at {b}",
                        va.writes[i], vb.writes[i]
                    ));
                    continue;
                }
                for (read, before_a) in &va.reads {
                    if let Some(before_b) = vb.reads.get(read) {
                        if before_a != before_b {
                            violations.push(format!(
                                "agreement: {read} reads key {key} after {before_a} writes at replica {a} but after {before_b} at replica {b}"
                            ));
                        }
                    }
                }
            }
        }
    }

    if quiescent {
        let live: Vec<(usize, HashSet<CommandId>)> = replicas
            .iter()
            .enumerate()
            .filter(|(_, log)| !log.crashed)
            .map(|(r, log)| (r, log.applied.iter().copied().collect()))
            .collect();
        if let Some((first, reference)) = live.first() {
            for (r, set) in &live[1..] {
                if set != reference {
                    let missing_here = reference.difference(set).count();
                    let extra_here = set.difference(reference).count();
                    violations.push(format!(
                        "agreement: live replicas {first} and {r} applied different sets ({missing_here} only at {first}, {extra_here} only at {r})"
                    ));
                }
            }
            for op in history.ops.iter().filter(|op| op.completed.is_some()) {
                for (r, set) in &live {
                    if !set.contains(&op.id) {
                        violations.push(format!(
                            "agreement: {} completed at its client but live replica {r} never applied it",
                            op.id
                        ));
                        break;
                    }
                }
            }
        }
    }
    violations
}

#[derive(Default)]
struct KeyView {
    writes: Vec<CommandId>,
    /// Each read with the number of writes on the key applied before it.
    reads: HashMap<CommandId, usize>,
}

fn key_views(
    log: &ReplicaLog,
    ops: &HashMap<CommandId, &super::history::Operation>,
    written: &BTreeSet<Key>,
) -> BTreeMap<Key, KeyView> {
    let mut views: BTreeMap<Key, KeyView> = BTreeMap::new();
    for id in &log.applied {
        let Some(op) = ops.get(id) else { continue };
        match &op.command {
            Command::Put { key, .. } => views.entry(*key).or_default().writes.push(*id),
            Command::Get { .. } | Command::Scan { .. } => {
                let range = op.command.key_range().expect("reads have keys");
                for key in written.range(range) {
                    let view = views.entry(*key).or_default();
                    let before = view.writes.len();
                    view.reads.insert(*id, before);
                }
            }
            Command::Noop => {}
        }
    }
    views
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::Operation;
    use bytes::Bytes;
    use protocols::{CommandResult, Time};

    fn history() -> History {
        let put = |c, v: &'static str| Operation {
            id: CommandId::new(c, 1),
            command: Command::Put {
                key: 1,
                value: Bytes::from_static(v.as_bytes()),
            },
            invoked: Time(0),
            completed: Some((Time(10), CommandResult::Done)),
        };
        let get = Operation {
            id: CommandId::new(3, 1),
            command: Command::Get { key: 1 },
            invoked: Time(0),
            completed: Some((Time(10), CommandResult::Value(None))),
        };
        History {
            ops: vec![put(1, "a"), put(2, "b"), get],
        }
    }
    fn log(ids: &[(u64, u64)]) -> ReplicaLog {
        ReplicaLog {
            applied: ids.iter().map(|&(c, s)| CommandId::new(c, s)).collect(),
            crashed: false,
        }
    }

    #[test]
    fn same_order_and_prefixes_agree() {
        let logs = [log(&[(3, 1), (1, 1), (2, 1)]), log(&[(3, 1), (1, 1)])];
        assert!(check_agreement(&history(), &logs, false).is_empty());
    }

    #[test]
    fn different_write_orders_are_caught() {
        let logs = [log(&[(1, 1), (2, 1)]), log(&[(2, 1), (1, 1)])];
        let v = check_agreement(&history(), &logs, false);
        assert!(
            v.iter().any(|s| s.contains("order writes to key 1 differently")),
            "{v:?}"
        );
    }

    #[test]
    fn a_read_between_different_writes_is_caught() {
        let logs = [log(&[(1, 1), (3, 1), (2, 1)]), log(&[(1, 1), (2, 1), (3, 1)])];
        let v = check_agreement(&history(), &logs, false);
        assert!(v.iter().any(|s| s.contains("reads key 1 after 1 writes")), "{v:?}");
    }

    #[test]
    fn duplicates_and_inventions_are_caught() {
        let logs = [log(&[(1, 1), (1, 1), (9, 9)])];
        let v = check_agreement(&history(), &logs, false);
        assert!(v.iter().any(|s| s.contains("twice")), "{v:?}");
        assert!(v.iter().any(|s| s.contains("no client submitted")), "{v:?}");
    }

    #[test]
    fn quiescent_live_replicas_must_hold_everything_acknowledged() {
        let logs = [log(&[(1, 1), (2, 1), (3, 1)]), log(&[(1, 1), (2, 1)])];
        let v = check_agreement(&history(), &logs, true);
        assert!(v.iter().any(|s| s.contains("different sets")), "{v:?}");
        assert!(v.iter().any(|s| s.contains("never applied")), "{v:?}");
        // A crashed replica is excused.
        let mut logs = logs;
        logs[1].crashed = true;
        assert!(check_agreement(&history(), &logs, true).is_empty());
    }
}
