//! Linearizability of client results, checked key by key.
//!
//! Each key is a register: PUTs write it, GETs read it, a SCAN reads every
//! written key in its range. A key's history is linearizable when its
//! operations can be put in one order that respects real time (an operation
//! answered before another was invoked comes first) and in which every read
//! returns the latest write. Checking keys separately is sound because
//! linearizability is compositional.
//!
//! PUT values are unique (the workloads make them so), which makes a key's
//! history *read-mapped*: each read names the write it saw, and
//! [`register::check`](super::register) decides it in `O(n log n)` at any
//! contention, naming the operations no linearization can order. A key
//! written twice with one value falls back to Wing & Gong's search
//! ([`super::wgl`]), which may give up on a large history; it then says so
//! as a failure, never as a pass.

use super::history::History;
use super::key_op::{Access, KeyOp};
use super::register;
use super::wgl::{self, Search};
use protocols::{Command, CommandResult, Key};
use std::collections::{BTreeMap, BTreeSet};

/// Returns one sentence per key that has no linearization, or whose result
/// had the wrong shape.
pub fn check_linearizability(history: &History) -> Vec<String> {
    let mut violations = Vec::new();
    let written: BTreeSet<Key> = history
        .ops
        .iter()
        .filter_map(|op| match op.command {
            Command::Put { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    let mut per_key: BTreeMap<Key, Vec<KeyOp>> = BTreeMap::new();
    for op in &history.ops {
        let invoked = op.invoked.as_nanos();
        let responded = op.completed.as_ref().map_or(u64::MAX, |(t, _)| t.as_nanos());
        let result = op.completed.as_ref().map(|(_, r)| r);
        let mut push = |key: Key, access: Access| {
            per_key.entry(key).or_default().push(KeyOp {
                id: op.id,
                invoked,
                responded,
                access,
            })
        };
        match (&op.command, result) {
            (Command::Put { key, value }, None | Some(CommandResult::Done)) => push(*key, Access::Write(value.clone())),
            (Command::Get { key }, Some(CommandResult::Value(v))) => push(*key, Access::Read(v.clone())),
            (Command::Scan { .. }, Some(CommandResult::Range(found))) => {
                let range = op.command.key_range().expect("a scan has a key range");
                for (k, _) in found.iter().filter(|(k, _)| !written.contains(k) || !range.contains(k)) {
                    violations.push(format!(
                        "linearizability: scan {} returned key {k}, which no PUT in its range wrote",
                        op.id
                    ));
                }
                for key in written.range(range) {
                    let value = found.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                    push(*key, Access::Read(value));
                }
            }
            (Command::Noop, _) | (Command::Get { .. } | Command::Scan { .. }, None) => {}
            (command, Some(result)) => violations.push(format!(
                "linearizability: {} ({command:?}) got a result of the wrong kind: {result:?}",
                op.id
            )),
        }
    }
    for (key, mut ops) in per_key {
        ops.sort_by_key(|op| (op.invoked, op.responded));
        if let Some(v) = check_key(key, &ops) {
            violations.push(v);
        }
    }
    violations
}

/// One key's verdict: `None` when it has a linearization.
pub(crate) fn check_key(key: Key, ops: &[KeyOp]) -> Option<String> {
    if register::writes_are_unique(ops) {
        return register::check(ops)
            .err()
            .map(|w| format!("linearizability: key {key} has no linearization: {}", w.0));
    }
    match wgl::linearize(ops) {
        Search::Found => None,
        Search::Impossible => Some(describe(key, ops, "has no linearization")),
        Search::GaveUp => Some(describe(
            key,
            ops,
            &format!("could not be decided: the checker's search gave up after {} states (a key written twice with one value is beyond the polynomial check)", wgl::SEARCH_BUDGET),
        )),
    }
}

fn describe(key: Key, ops: &[KeyOp], what: &str) -> String {
    let show: Vec<String> = ops
        .iter()
        .take(12)
        .map(|op| {
            let end = if op.responded == u64::MAX {
                "…".to_string()
            } else {
                op.responded.to_string()
            };
            let access = match &op.access {
                Access::Write(v) => format!("put {}", String::from_utf8_lossy(v)),
                Access::Read(v) => format!(
                    "get→{}",
                    v.as_ref()
                        .map_or("nil".into(), |v| String::from_utf8_lossy(v).to_string())
                ),
            };
            format!("{} {access} [{}, {end}]", op.id, op.invoked)
        })
        .collect();
    let more = if ops.len() > 12 {
        format!(" … and {} more", ops.len() - 12)
    } else {
        String::new()
    };
    format!(
        "linearizability: key {key} {what} ({} operations: {}{more})",
        ops.len(),
        show.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::Operation;
    use bytes::Bytes;
    use protocols::CommandId;
    use protocols::Time;

    fn op(client: u64, seq: u64, command: Command, invoked: u64, done: Option<(u64, CommandResult)>) -> Operation {
        Operation {
            id: CommandId::new(client, seq),
            command,
            invoked: Time(invoked),
            completed: done.map(|(t, r)| (Time(t), r)),
        }
    }
    fn put(v: &'static str) -> Command {
        Command::Put {
            key: 1,
            value: Bytes::from_static(v.as_bytes()),
        }
    }
    fn get() -> Command {
        Command::Get { key: 1 }
    }
    fn val(v: &'static str) -> CommandResult {
        CommandResult::Value(Some(Bytes::from_static(v.as_bytes())))
    }
    fn check(ops: Vec<Operation>) -> Vec<String> {
        check_linearizability(&History { ops })
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = vec![
            op(1, 1, get(), 0, Some((1, CommandResult::Value(None)))),
            op(1, 2, put("a"), 2, Some((3, CommandResult::Done))),
            op(1, 3, get(), 4, Some((5, val("a")))),
        ];
        assert!(check(h).is_empty());
    }

    #[test]
    fn stale_read_after_completed_write_is_caught() {
        let h = vec![
            op(1, 1, put("a"), 0, Some((10, CommandResult::Done))),
            op(2, 1, put("b"), 20, Some((30, CommandResult::Done))),
            op(3, 1, get(), 40, Some((50, val("a")))),
        ];
        let v = check(h);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("key 1 has no linearization"), "{v:?}");
    }

    #[test]
    fn concurrent_operations_may_take_either_order() {
        // The read overlaps both writes, so it may see either.
        for seen in ["a", "b"] {
            let h = vec![
                op(1, 1, put("a"), 0, Some((10, CommandResult::Done))),
                op(2, 1, put("b"), 5, Some((15, CommandResult::Done))),
                op(3, 1, get(), 1, Some((20, val(seen)))),
            ];
            assert!(check(h).is_empty(), "read of {seen}");
        }
    }

    #[test]
    fn reads_must_agree_on_one_order_of_concurrent_writes() {
        // Two writes overlap; two later reads, one after the other, see
        // b then a: that needs a write of a after b, which nothing did.
        let h = vec![
            op(1, 1, put("a"), 0, Some((10, CommandResult::Done))),
            op(2, 1, put("b"), 0, Some((10, CommandResult::Done))),
            op(3, 1, get(), 20, Some((30, val("b")))),
            op(3, 2, get(), 40, Some((50, val("a")))),
        ];
        assert_eq!(check(h).len(), 1);
    }

    #[test]
    fn a_read_of_a_value_never_written_is_caught() {
        let h = vec![op(1, 1, get(), 0, Some((1, val("ghost"))))];
        assert_eq!(check(h).len(), 1);
    }

    #[test]
    fn an_unfinished_write_may_or_may_not_have_happened() {
        let took_effect = vec![
            op(1, 1, put("a"), 0, None),
            op(2, 1, get(), 10, Some((20, val("a")))),
            op(2, 2, get(), 30, Some((40, val("a")))),
        ];
        assert!(check(took_effect).is_empty());
        let did_not = vec![
            op(1, 1, put("a"), 0, None),
            op(2, 1, get(), 10, Some((20, CommandResult::Value(None)))),
        ];
        assert!(check(did_not).is_empty());
        // But it cannot be seen and then unseen.
        let flicker = vec![
            op(1, 1, put("a"), 0, None),
            op(2, 1, get(), 10, Some((20, val("a")))),
            op(2, 2, get(), 30, Some((40, CommandResult::Value(None)))),
        ];
        assert_eq!(check(flicker).len(), 1);
    }

    #[test]
    fn scans_are_checked_on_every_written_key_in_range() {
        let scan = Command::Scan { key: 0, count: 5 };
        let good = vec![
            op(1, 1, put("a"), 0, Some((1, CommandResult::Done))),
            op(
                2,
                1,
                scan.clone(),
                2,
                Some((3, CommandResult::Range(vec![(1, Bytes::from_static(b"a"))]))),
            ),
        ];
        assert!(check(good).is_empty());
        let missed = vec![
            op(1, 1, put("a"), 0, Some((1, CommandResult::Done))),
            op(2, 1, scan, 2, Some((3, CommandResult::Range(vec![])))),
        ];
        assert_eq!(check(missed).len(), 1);
    }

    #[test]
    fn wrong_result_kind_is_a_violation() {
        let h = vec![op(1, 1, put("a"), 0, Some((1, val("a"))))];
        assert_eq!(check(h).len(), 1);
    }

    #[test]
    fn many_concurrent_clients_are_checked_quickly() {
        // 20 clients, 50 rounds each of overlapping put/get on one key,
        // answered in a valid order: the search must not blow up.
        let mut h = Vec::new();
        let mut last = None::<&'static str>;
        let names: Vec<&'static str> = (0..1000)
            .map(|i| &*Box::leak(format!("v{i}").into_boxed_str()))
            .collect();
        for round in 0..50u64 {
            let t = round * 100;
            for c in 0..20u64 {
                let idx = (round * 20 + c) as usize;
                if c % 2 == 0 {
                    h.push(op(
                        c,
                        round + 1,
                        Command::Put {
                            key: 1,
                            value: Bytes::from_static(names[idx].as_bytes()),
                        },
                        t,
                        Some((t + 50 + c, CommandResult::Done)),
                    ));
                    last = Some(names[idx]);
                } else {
                    let seen = last.map(|v| Bytes::from_static(v.as_bytes()));
                    h.push(op(
                        c,
                        round + 1,
                        get(),
                        t,
                        Some((t + 50 + c, CommandResult::Value(seen))),
                    ));
                }
            }
        }
        assert!(check(h).is_empty());
    }
}
