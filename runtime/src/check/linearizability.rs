//! Linearizability of client results, checked key by key.
//!
//! Each key is a register: PUTs write it, GETs read it, a SCAN reads every
//! written key in its range. A key's history is linearizable when its
//! operations can be put in one order that respects real time (an operation
//! answered before another was invoked comes first) and in which every read
//! returns the latest write. The search is Wing & Gong's, with Lowe's
//! memoisation of (linearized set, register value) states. Checking keys
//! separately is sound because linearizability is compositional.

use super::history::History;
use bytes::Bytes;
use protocols::{Command, CommandId, CommandResult, Key};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// States explored per key before the search gives up and says so.
const SEARCH_BUDGET: usize = 5_000_000;

#[derive(Clone, Debug)]
enum Access {
    Write(Bytes),
    Read(Option<Bytes>),
}

#[derive(Clone, Debug)]
struct KeyOp {
    id: CommandId,
    invoked: u64,
    /// `u64::MAX` for a write that never completed (it may or may not have happened).
    responded: u64,
    access: Access,
}

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
        let mut push = |key: Key, access: Access| per_key.entry(key).or_default().push(KeyOp { id: op.id, invoked, responded, access });
        match (&op.command, result) {
            (Command::Put { key, value }, None | Some(CommandResult::Done)) => push(*key, Access::Write(value.clone())),
            (Command::Get { key }, Some(CommandResult::Value(v))) => push(*key, Access::Read(v.clone())),
            (Command::Scan { .. }, Some(CommandResult::Range(found))) => {
                let range = op.command.key_range().expect("a scan has a key range");
                for (k, _) in found.iter().filter(|(k, _)| !written.contains(k) || !range.contains(k)) {
                    violations.push(format!("linearizability: scan {} returned key {k}, which no PUT in its range wrote", op.id));
                }
                for key in written.range(range) {
                    let value = found.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                    push(*key, Access::Read(value));
                }
            }
            (Command::Noop, _) | (Command::Get { .. } | Command::Scan { .. }, None) => {}
            (command, Some(result)) => {
                violations.push(format!("linearizability: {} ({command:?}) got a result of the wrong kind: {result:?}", op.id))
            }
        }
    }
    for (key, mut ops) in per_key {
        ops.sort_by_key(|op| (op.invoked, op.responded));
        match linearize(&ops) {
            Search::Found => {}
            Search::Impossible => violations.push(describe(key, &ops, "has no linearization")),
            Search::GaveUp => violations.push(describe(key, &ops, "could not be decided within the search budget")),
        }
    }
    violations
}

fn describe(key: Key, ops: &[KeyOp], what: &str) -> String {
    let show: Vec<String> = ops
        .iter()
        .take(12)
        .map(|op| {
            let end = if op.responded == u64::MAX { "…".to_string() } else { op.responded.to_string() };
            let access = match &op.access {
                Access::Write(v) => format!("put {}", String::from_utf8_lossy(v)),
                Access::Read(v) => format!("get→{}", v.as_ref().map_or("nil".into(), |v| String::from_utf8_lossy(v).to_string())),
            };
            format!("{} {access} [{}, {end}]", op.id, op.invoked)
        })
        .collect();
    let more = if ops.len() > 12 { format!(" … and {} more", ops.len() - 12) } else { String::new() };
    format!("linearizability: key {key} {what} ({} operations: {}{more})", ops.len(), show.join("; "))
}

enum Search {
    Found,
    Impossible,
    GaveUp,
}

struct Frame {
    candidates: Vec<usize>,
    next: usize,
    /// The operation this frame applied and the register before it.
    applied: Option<(usize, Option<usize>)>,
}

fn linearize(ops: &[KeyOp]) -> Search {
    let n = ops.len();
    let must_linearize = ops.iter().filter(|op| op.responded != u64::MAX).count();
    let mut done = vec![false; n];
    let mut bits = vec![0u64; n.div_ceil(64)];
    let mut done_completed = 0;
    // The register holds the value of this write (by index), or nothing.
    let mut register: Option<usize> = None;
    let mut seen: HashSet<(Vec<u64>, Option<usize>)> = HashSet::new();
    let mut stack = vec![Frame { candidates: candidates(ops, &done, register), next: 0, applied: None }];

    while let Some(frame) = stack.last_mut() {
        if done_completed == must_linearize {
            return Search::Found;
        }
        if seen.len() > SEARCH_BUDGET {
            return Search::GaveUp;
        }
        if frame.next == frame.candidates.len() {
            let frame = stack.pop().expect("non-empty");
            if let Some((i, before)) = frame.applied {
                done[i] = false;
                bits[i / 64] &= !(1 << (i % 64));
                done_completed -= usize::from(ops[i].responded != u64::MAX);
                register = before;
            }
            continue;
        }
        let i = frame.candidates[frame.next];
        frame.next += 1;
        let after = match &ops[i].access {
            Access::Write(_) => Some(i),
            Access::Read(v) => {
                let current = register.map(|w| match &ops[w].access {
                    Access::Write(value) => value,
                    Access::Read(_) => unreachable!("the register holds writes"),
                });
                if current != v.as_ref() {
                    continue;
                }
                register
            }
        };
        bits[i / 64] |= 1 << (i % 64);
        if !seen.insert((bits.clone(), after)) {
            bits[i / 64] &= !(1 << (i % 64));
            continue;
        }
        done[i] = true;
        done_completed += usize::from(ops[i].responded != u64::MAX);
        let before = register;
        register = after;
        stack.push(Frame { candidates: candidates(ops, &done, register), next: 0, applied: Some((i, before)) });
    }
    Search::Impossible
}

/// The operations that may come next: those invoked before every other
/// pending operation's response (an operation answered at or before another's
/// invocation precedes it). If one of them is a read of the register's
/// current value, it alone: taking it now changes no state and only frees
/// the others, so no other order needs exploring.
fn candidates(ops: &[KeyOp], done: &[bool], register: Option<usize>) -> Vec<usize> {
    let (mut first, mut second, mut first_at) = (u64::MAX, u64::MAX, usize::MAX);
    for (i, op) in ops.iter().enumerate().filter(|(i, _)| !done[*i]) {
        if op.responded < first {
            (second, first, first_at) = (first, op.responded, i);
        } else if op.responded < second {
            second = op.responded;
        }
    }
    let current = register.map(|w| match &ops[w].access {
        Access::Write(value) => value,
        Access::Read(_) => unreachable!("the register holds writes"),
    });
    let eligible: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(i, op)| !done[*i] && op.invoked < if *i == first_at { second } else { first })
        .map(|(i, _)| i)
        .collect();
    let free_read = eligible.iter().copied().find(|&i| matches!(&ops[i].access, Access::Read(v) if v.as_ref() == current));
    match free_read {
        Some(i) => vec![i],
        None => eligible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::Operation;
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
        Command::Put { key: 1, value: Bytes::from_static(v.as_bytes()) }
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
        let did_not = vec![op(1, 1, put("a"), 0, None), op(2, 1, get(), 10, Some((20, CommandResult::Value(None))))];
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
            op(2, 1, scan.clone(), 2, Some((3, CommandResult::Range(vec![(1, Bytes::from_static(b"a"))])))),
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
        let names: Vec<&'static str> = (0..1000).map(|i| &*Box::leak(format!("v{i}").into_boxed_str())).collect();
        for round in 0..50u64 {
            let t = round * 100;
            for c in 0..20u64 {
                let idx = (round * 20 + c) as usize;
                if c % 2 == 0 {
                    h.push(op(c, round + 1, Command::Put { key: 1, value: Bytes::from_static(names[idx].as_bytes()) }, t, Some((t + 50 + c, CommandResult::Done))));
                    last = Some(names[idx]);
                } else {
                    let seen = last.map(|v| Bytes::from_static(v.as_bytes()));
                    h.push(op(c, round + 1, get(), t, Some((t + 50 + c, CommandResult::Value(seen)))));
                }
            }
        }
        assert!(check(h).is_empty());
    }
}
