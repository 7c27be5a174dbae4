//! Accord (Apache Cassandra's CEP-15 transactions), estimated only: we do
//! not implement it. The model is the message flow the original Flint
//! assumes, so users can set our protocols beside the figure they know:
//!
//! - The client's site is its transaction's coordinator (co-located).
//! - With `n` replicas, `f = ⌊(n−1)/2⌋` and `e = min(f, ⌈(n−f)/2⌉)`: a
//!   slow quorum has `n−f` replicas, a fast (electorate) quorum `n−e`.
//!   `reach(k)` is the one-way delay to the nearest `k` replicas, the k-th
//!   smallest from the coordinator.
//! - **Fast path**: one round trip to the nearest fast quorum,
//!   `2·reach(n−e)`.
//! - **Medium path** (the fast path failed): the better of three round
//!   trips to the nearest slow quorum and one to each quorum,
//!   `min(6·reach(n−f), 2·reach(n−f) + 2·reach(n−e))`.
//! - **Convoy**: a conflicting transaction coordinated at another replica
//!   site `x` and submitted just after ours (our quorum round trip plus a
//!   5 ms clock skew plus 1 ms) may have to be decided first. If it reaches
//!   some member of our nearest slow quorum no later than our second round
//!   does, it keeps that start; otherwise it starts at the latest time for
//!   which that still holds. Sites are taken in `--replicas` order and the
//!   start carries from one to the next. We then wait for its medium path
//!   at `x` and its outcome to travel from `x` to us.
//! - **Slow path**: the later of the medium path and the worst convoy.

use super::choose::subsets;
use super::formulas::Estimate;
use super::sites::{kth_smallest, Sites};

/// The clock skew the model allows between coordinators, in ms.
pub const CLOCK_SKEW_MS: f64 = 5.0;

/// The quorum sizes of `n` replicas: (slow `n−f`, fast `n−e`).
pub fn quorum_sizes(n: usize) -> (usize, usize) {
    let f = n.saturating_sub(1) / 2;
    let e = f.min((n - f).div_ceil(2));
    (n - f, n - e)
}

/// One client's Accord estimate.
pub fn estimate(s: &Sites, c: usize) -> Estimate {
    let from_client: Vec<f64> = (0..s.n()).map(|r| s.cr(c, r)).collect();
    let (_, fast_size) = quorum_sizes(s.n());
    let fast = 2.0 * kth_smallest(from_client.clone(), fast_size);
    let slow = medium_path(&from_client).max(convoy(s, c, &from_client));
    Estimate { fast: Some(fast), slow }
}

/// The medium path of a coordinator whose one-way delays to the replicas
/// are `delays`.
fn medium_path(delays: &[f64]) -> f64 {
    let (slow_size, fast_size) = quorum_sizes(delays.len());
    let to_slow = kth_smallest(delays.to_vec(), slow_size);
    let to_fast = kth_smallest(delays.to_vec(), fast_size);
    (6.0 * to_slow).min(2.0 * to_slow + 2.0 * to_fast)
}

/// The latest a conflicting transaction from another replica site can make
/// client `c` wait.
fn convoy(s: &Sites, c: usize, from_client: &[f64]) -> f64 {
    let (slow_size, _) = quorum_sizes(s.n());
    let to_quorum = kth_smallest(from_client.to_vec(), slow_size);
    let quorum = nearest_quorum(from_client, slow_size);
    let mut start = to_quorum + CLOCK_SKEW_MS + 1.0;
    let mut worst: f64 = 0.0;
    for x in (0..s.n()).filter(|&x| s.replicas[x] != s.clients[c]) {
        let our_second_round_at = |r: usize| 2.0 * to_quorum + s.cr(c, r);
        let seen_in_time = quorum.iter().any(|&r| start + s.rr(x, r) <= our_second_round_at(r));
        if !seen_in_time {
            start = quorum
                .iter()
                .map(|&r| our_second_round_at(r) - s.rr(x, r))
                .fold(0.0, f64::max);
        }
        let from_x: Vec<f64> = (0..s.n()).map(|r| s.rr(x, r)).collect();
        worst = worst.max(start + medium_path(&from_x) + s.cr(c, x));
    }
    worst
}

/// The first `size`-subset, in lexicographic order, whose farthest member
/// is nearest.
fn nearest_quorum(delays: &[f64], size: usize) -> Vec<usize> {
    let mut best: Option<(f64, Vec<usize>)> = None;
    for quorum in subsets(delays.len(), size) {
        let farthest = quorum.iter().map(|&r| delays[r]).fold(0.0, f64::max);
        let nearer = match &best {
            None => true,
            Some((so_far, _)) => farthest < *so_far,
        };
        if nearer {
            best = Some((farthest, quorum));
        }
    }
    best.map(|(_, q)| q).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_sizes_follow_f_and_e() {
        // n = 3: f = 1, e = min(1, 1) = 1. n = 5: f = 2, e = min(2, 2) = 2.
        // n = 7: f = 3, e = min(3, 2) = 2, so the fast quorum is larger.
        assert_eq!(quorum_sizes(3), (2, 2));
        assert_eq!(quorum_sizes(5), (3, 3));
        assert_eq!(quorum_sizes(7), (4, 5));
    }

    /// The formulas' example: replicas A, B, C (one-way A–B 30, A–C 40,
    /// B–C 35), client X at 5, 12, 14.
    #[test]
    fn the_hand_example() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        let rr = vec![vec![0.0, 30.0, 40.0], vec![30.0, 0.0, 35.0], vec![40.0, 35.0, 0.0]];
        let sites = Sites::from_delays(names(&["A", "B", "C"]), names(&["X"]), rr, vec![vec![5.0, 12.0, 14.0]]);
        // Both quorums have 2 replicas: reach = 12 (A and B). Fast 24;
        // medium min(72, 48) = 48. Convoy: start 12 + 5 + 1 = 18, our
        // second round reaches A at 24 + 5 = 29 and B at 24 + 12 = 36.
        // x = A: 18 + 0 ≤ 29, start stays; A's medium: reach 30 → 120;
        //        18 + 120 + 5 = 143.
        // x = B: 18 + 0 ≤ 36 (B itself); B's reach 30 → 120; 18 + 120 + 12 = 150.
        // x = C: 18 + 40 = 58 > 29 and 18 + 35 = 53 > 36: start becomes
        //        max(29 − 40, 36 − 35) = 1; C's reach 35 → 140; 1 + 140 + 14 = 155.
        // Slow = max(48, 155) = 155.
        assert_eq!(
            estimate(&sites, 0),
            Estimate {
                fast: Some(24.0),
                slow: 155.0
            }
        );
    }
}
