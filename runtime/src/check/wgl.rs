//! Wing & Gong's search for a linearization of one register's history, with
//! Lowe's memoisation of (linearized set, register value) states.
//!
//! Exponential in the number of overlapping operations, so it is the
//! fallback for histories the polynomial check ([`super::register`]) does
//! not cover (a key written twice with the same value) and the cross-check
//! that property tests hold the polynomial check to.

use super::key_op::{Access, KeyOp};
use std::collections::HashSet;

/// States explored per key before the search gives up and says so.
pub(crate) const SEARCH_BUDGET: usize = 5_000_000;

/// How a search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Search {
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

pub(crate) fn linearize(ops: &[KeyOp]) -> Search {
    let n = ops.len();
    let must_linearize = ops.iter().filter(|op| op.responded != u64::MAX).count();
    let mut done = vec![false; n];
    let mut bits = vec![0u64; n.div_ceil(64)];
    let mut done_completed = 0;
    // The register holds the value of this write (by index), or nothing.
    let mut register: Option<usize> = None;
    let mut seen: HashSet<(Vec<u64>, Option<usize>)> = HashSet::new();
    let mut stack = vec![Frame {
        candidates: candidates(ops, &done, register),
        next: 0,
        applied: None,
    }];

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
        stack.push(Frame {
            candidates: candidates(ops, &done, register),
            next: 0,
            applied: Some((i, before)),
        });
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
    let free_read = eligible
        .iter()
        .copied()
        .find(|&i| matches!(&ops[i].access, Access::Read(v) if v.as_ref() == current));
    match free_read {
        Some(i) => vec![i],
        None => eligible,
    }
}
