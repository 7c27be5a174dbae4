//! Linearizability of one register whose writes are unique, in polynomial
//! time: Gibbons & Korach's zones for read-mapped histories ("Testing
//! shared memories", SIAM J. Comput. 1997).
//!
//! Every PUT value is unique, so each read names the write it saw. A write
//! and the reads of it form a *cluster*, and in any linearization a cluster
//! is one contiguous block: the write, then its reads, then the next write.
//! Of a cluster's operations, the earliest to finish (at `f`) must take
//! effect by `f`, and the latest to start (at `s`) not before `s`:
//!
//! - if `f < s`, the block spans at least `[f, s]`: a *forward zone*;
//! - otherwise every operation of the cluster overlaps `[s, f]`, and the
//!   block can sit at any one point of it: a *backward zone*.
//!
//! The history is linearizable if and only if no read ends before the write
//! it saw starts; no two forward zones cross (two blocks cannot both span a
//! common stretch); and no backward zone lies inside a forward zone (its
//! block would split the other). Sorting makes it `O(n log n)`. The initial value is a write at the beginning of time, and
//! an unanswered write either took effect (some read saw it: it ends at
//! infinity) or can be dropped (nobody did).
//!
//! Times: operation `a` precedes `b` when `a` was answered at or before
//! `b`'s invocation (a client's next command starts the instant its last
//! one completes). Starts map to `2t + 1` and ends to `2t`, which turns
//! that rule into strict order and leaves no ties between a start and an end.

use super::key_op::{Access, KeyOp};
use bytes::Bytes;
use std::collections::HashMap;

/// A reason the history has no linearization, naming the operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Witness(pub String);

/// One write and the reads of it.
struct Cluster {
    /// The write (`None`: the initial value).
    write: Option<usize>,
    /// The earliest end in the cluster, and whose.
    first_end: (u128, usize),
    /// The latest start in the cluster, and whose.
    last_start: (u128, usize),
}

impl Cluster {
    fn is_forward(&self) -> bool {
        self.first_end.0 < self.last_start.0
    }
}

fn start(op: &KeyOp) -> u128 {
    2 * u128::from(op.invoked) + 1
}

fn end(op: &KeyOp) -> u128 {
    2 * u128::from(op.responded)
}

/// Whether `ops` can use this check: no two writes of the same value.
pub(crate) fn writes_are_unique(ops: &[KeyOp]) -> bool {
    let mut seen = std::collections::HashSet::new();
    ops.iter().all(|op| match &op.access {
        Access::Write(v) => seen.insert(v.clone()),
        Access::Read(_) => true,
    })
}

/// Decides whether one register's history (writes unique) is linearizable.
pub(crate) fn check(ops: &[KeyOp]) -> Result<(), Witness> {
    let name = |i: usize| describe_op(&ops[i]);
    let writer: HashMap<&Bytes, usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| {
            if let Access::Write(v) = &op.access {
                Some((v, i))
            } else {
                None
            }
        })
        .collect();

    // Clusters, by write (index `ops.len()` stands for the initial value).
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        match &op.access {
            Access::Write(_) => members.entry(i).or_default().push(i),
            Access::Read(None) => members.entry(ops.len()).or_default().push(i),
            Access::Read(Some(v)) => match writer.get(v) {
                Some(&w) => {
                    if end(op) < start(&ops[w]) {
                        return Err(Witness(format!(
                            "{} returned the value of {}, which was invoked only after that read was answered",
                            name(i),
                            name(w)
                        )));
                    }
                    members.entry(w).or_default().push(i);
                }
                None => return Err(Witness(format!("{} returned a value no PUT wrote", name(i)))),
            },
        }
    }

    let mut forward = Vec::new();
    let mut backward = Vec::new();
    for (w, cluster_ops) in members {
        let write = (w < ops.len()).then_some(w);
        let pending_unread = write.is_some_and(|w| ops[w].responded == u64::MAX) && cluster_ops.len() == 1;
        if pending_unread {
            continue; // may not have happened: it constrains nothing
        }
        // The initial value was written before everything: end 0 comes before every start.
        let mut first_end = (if write.is_none() { 0 } else { u128::MAX }, w);
        let mut last_start = (0, w);
        for &i in &cluster_ops {
            first_end = first_end.min((end(&ops[i]), i));
            last_start = last_start.max((start(&ops[i]), i));
        }
        let cluster = Cluster {
            write,
            first_end,
            last_start,
        };
        if cluster.is_forward() {
            forward.push(cluster);
        } else {
            backward.push(cluster);
        }
    }

    // No two forward zones cross: sorted by where they begin, each must end
    // before the next begins.
    forward.sort_by_key(|c| c.first_end.0);
    for pair in forward.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.last_start.0 > b.first_end.0 {
            return Err(Witness(format!(
                "{} and {} each need the register from one of their operations' answers to a later one's invocation, and those spans cross: {}; {}",
                cluster_name(a, ops),
                cluster_name(b, ops),
                span(a, ops),
                span(b, ops)
            )));
        }
    }
    // No backward zone inside a forward one: only the forward zone that
    // begins last before it could hold it (they are disjoint now).
    for b in &backward {
        let (s, f) = (b.last_start.0, b.first_end.0);
        let i = forward.partition_point(|z| z.first_end.0 < s);
        if let Some(z) = i.checked_sub(1).map(|i| &forward[i]) {
            if f < z.last_start.0 {
                return Err(Witness(format!(
                    "{} must take effect inside the span of {} ({}), which no other write may interrupt: its operations all lie between {} and {}",
                    cluster_name(b, ops),
                    cluster_name(z, ops),
                    span(z, ops),
                    name(b.last_start.1),
                    name(b.first_end.1)
                )));
            }
        }
    }
    Ok(())
}

fn cluster_name(c: &Cluster, ops: &[KeyOp]) -> String {
    match c.write {
        Some(w) => format!("the write {} and its reads", describe_op(&ops[w])),
        None => "the reads of the initial value".to_string(),
    }
}

fn span(c: &Cluster, ops: &[KeyOp]) -> String {
    let at = |i: usize| {
        if i < ops.len() {
            describe_op(&ops[i])
        } else {
            "the start".to_string()
        }
    };
    format!("from {} to {}", at(c.first_end.1), at(c.last_start.1))
}

/// `3.12 put v [10.000 ms, 12.500 ms]`.
pub(crate) fn describe_op(op: &KeyOp) -> String {
    let ms = |t: u64| {
        if t == u64::MAX {
            "…".to_string()
        } else {
            format!("{:.3} ms", t as f64 / 1e6)
        }
    };
    let access = match &op.access {
        Access::Write(v) => format!("put {}", String::from_utf8_lossy(&v[..v.len().min(16)])),
        Access::Read(v) => format!(
            "get→{}",
            v.as_ref()
                .map_or("nil".into(), |v| String::from_utf8_lossy(&v[..v.len().min(16)])
                    .to_string())
        ),
    };
    format!("{} {access} [{}, {}]", op.id, ms(op.invoked), ms(op.responded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::wgl::{linearize, Search};
    use proptest::prelude::*;
    use protocols::CommandId;

    /// A small single-key history: each op is (is_write, invoked, length or
    /// pending, which write a read saw: 0 for the initial value).
    fn history(spec: &[(bool, u64, Option<u64>, usize)]) -> Vec<KeyOp> {
        let writes: Vec<usize> = spec.iter().enumerate().filter(|(_, s)| s.0).map(|(i, _)| i).collect();
        spec.iter()
            .enumerate()
            .filter(|(_, (write, _, length, _))| *write || length.is_some())
            .map(|(i, &(write, invoked, length, saw))| {
                let value = |w: usize| Bytes::from(format!("w{w}"));
                let access = if write {
                    Access::Write(value(i))
                } else if saw == 0 || writes.is_empty() {
                    Access::Read(None)
                } else {
                    Access::Read(Some(value(writes[(saw - 1) % writes.len()])))
                };
                KeyOp {
                    id: CommandId::new(i as u64, 1),
                    invoked,
                    responded: length.map_or(u64::MAX, |l| invoked + l),
                    access,
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Both checkers give the same verdict on random small histories,
        /// valid and not (reads see random writes; small integer times make
        /// ties between an answer and an invocation common). Operations take
        /// some time: one answered at the instant it was invoked would both
        /// precede and follow the next one invoked then.
        #[test]
        fn the_zones_agree_with_the_exhaustive_search(
            spec in proptest::collection::vec((any::<bool>(), 0u64..12, proptest::option::weighted(0.9, 1u64..8), 0usize..5), 1..9)
        ) {
            let ops = history(&spec);
            let by_zones = check(&ops).is_ok();
            let by_search = linearize(&ops) == Search::Found;
            prop_assert_eq!(by_zones, by_search, "{:#?}", ops);
        }
    }

    #[test]
    fn the_random_histories_hold_both_verdicts() {
        // The property above means something only if both verdicts are common.
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let strategy = proptest::collection::vec(
            (
                any::<bool>(),
                0u64..12,
                proptest::option::weighted(0.9, 1u64..8),
                0usize..5,
            ),
            1..9,
        );
        let mut runner = TestRunner::deterministic();
        let valid = (0..2000)
            .filter(|_| check(&history(&strategy.new_tree(&mut runner).unwrap().current())).is_ok())
            .count();
        assert!((300..1700).contains(&valid), "{valid} of 2000 valid");
    }

    fn op(
        i: u64,
        write: Option<&'static str>,
        read: Option<Option<&'static str>>,
        invoked: u64,
        responded: u64,
    ) -> KeyOp {
        let access = match (write, read) {
            (Some(v), _) => Access::Write(Bytes::from_static(v.as_bytes())),
            (None, Some(v)) => Access::Read(v.map(|v| Bytes::from_static(v.as_bytes()))),
            (None, None) => unreachable!(),
        };
        KeyOp {
            id: CommandId::new(i, 1),
            invoked: invoked * 1_000_000,
            responded: responded * 1_000_000,
            access,
        }
    }

    #[test]
    fn crossing_writes_are_named_in_the_witness() {
        // a then b overlap; one reader sees b, then a later one sees a.
        let ops = vec![
            op(1, Some("a"), None, 0, 10),
            op(2, Some("b"), None, 0, 10),
            op(3, None, Some(Some("b")), 20, 30),
            op(4, None, Some(Some("a")), 40, 50),
        ];
        let w = check(&ops).unwrap_err().0;
        assert!(
            w.contains("1.1 put a") && w.contains("2.1 put b") && w.contains("spans cross"),
            "{w}"
        );
    }

    #[test]
    fn a_read_inside_another_writes_span_is_named() {
        // b's span runs from its write's answer (10 ms) to a read at 40 ms;
        // a read of the initial value in between cannot fit.
        let ops = vec![
            op(1, Some("b"), None, 0, 10),
            op(2, None, Some(None), 20, 30),
            op(3, None, Some(Some("b")), 40, 50),
        ];
        let w = check(&ops).unwrap_err().0;
        assert!(
            w.contains("the reads of the initial value") && w.contains("2.1 get→nil"),
            "{w}"
        );
    }

    #[test]
    fn a_read_before_its_write_and_a_ghost_value_are_named() {
        let early = vec![op(1, None, Some(Some("a")), 0, 5), op(2, Some("a"), None, 10, 20)];
        assert!(check(&early)
            .unwrap_err()
            .0
            .contains("invoked only after that read was answered"));
        let ghost = vec![op(1, None, Some(Some("z")), 0, 5)];
        assert!(check(&ghost).unwrap_err().0.contains("no PUT wrote"));
    }
}
