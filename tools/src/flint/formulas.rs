//! Each protocol's latency for one client, in one-way delays, as our
//! implementation's message flow makes it (not the paper's idealisation):
//! the simulator running the real code should agree with these on an idle,
//! conflict-free deployment, which `flint --simulate` checks.
//!
//! Notation: `c` the client, `L` the leader, `p` the client's closest
//! replica, `d(x, y)` one-way delay, `m` a majority, "k-th" the k-th
//! smallest arrival. A replica's own vote arrives at no cost.

use super::sites::{kth_smallest, Sites};
use crate::protocol_name::ProtocolName;
use protocols::quorum::QuorumSystem;

/// One client's expected latency in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// With no conflict (or collision), for protocols that have a fast path.
    /// Never above `slow`: a client takes whichever completes first.
    pub fast: Option<f64>,
    /// When the fast path fails (a conflict, a collision), or the only path.
    pub slow: f64,
}

impl Estimate {
    /// What a client sees without conflicts: the fast path where there is one.
    pub fn expected(&self) -> f64 {
        self.fast.unwrap_or(self.slow)
    }
}

/// The message flow a protocol's figures assume, in a line: our own
/// implementation's, which can differ from the original Flint's model
/// (N2Paxos and CURP there answer only from the closest replica).
pub fn flow(p: ProtocolName) -> &'static str {
    match p {
        ProtocolName::Paxos => "ours: client to leader, Accept/Accepted with a majority, leader answers (4 delays)",
        ProtocolName::N2Paxos => "ours: acceptors send Accepted to every replica; the client's closest replica answers once it learns, or the leader first",
        ProtocolName::Curp => "ours, over our N2Paxos: fast = the master's SpecReply and 3n/4+1 witnesses' Recorded; slow = SpecReply and a majority of Ordered",
        ProtocolName::SwiftPaxos => "ours: fast = a round trip to each member of the fixed fast quorum; slow = the leader's Reply and a majority of SlowAcks, sent on the leader's FastAck",
        ProtocolName::FastPaxos => "ours: proposals to all, votes to all, the closest replica decides on ceil(3n/4) votes; collisions recovered uncoordinated",
        ProtocolName::EPaxos => "ours: the closest replica leads; fast = PreAccept to a fast quorum; slow = then Accept to a majority",
    }
}

/// Multi-Paxos: `c → L`, `Accept` to all, the m-th `Accepted` back at `L`
/// (its own counts), `L → c`. Four delays.
pub fn paxos(s: &Sites, c: usize, leader: usize) -> Estimate {
    Estimate {
        fast: None,
        slow: s.cr(c, leader) + leader_commit(s, leader) + s.cr(c, leader),
    }
}

/// When `L` holds a majority of `Accepted`, counted from its `Accept`.
fn leader_commit(s: &Sites, leader: usize) -> f64 {
    let votes = (0..s.n()).map(|r| 2.0 * s.rr(leader, r)).collect();
    kth_smallest(votes, QuorumSystem::new(s.n()).majority())
}

/// N2Paxos: acceptors broadcast `Accepted`, so `p` commits once it holds
/// `L`'s `Accept` and m votes (`L`'s is its `Accept`, `p`'s own comes with
/// it, acceptor `r`'s after `d(L, r) + d(r, p)`), then answers; `L`'s own
/// `Reply` (the Multi-Paxos path) may come first.
pub fn n2paxos(s: &Sites, c: usize, leader: usize) -> Estimate {
    let p = s.closest(c);
    let accept_at_p = s.rr(leader, p);
    let votes = (0..s.n())
        .map(|r| {
            if r == p || r == leader {
                accept_at_p
            } else {
                s.rr(leader, r) + s.rr(r, p)
            }
        })
        .collect();
    let learned = kth_smallest(votes, QuorumSystem::new(s.n()).majority()).max(accept_at_p);
    let via_closest = s.cr(c, leader) + learned + s.cr(c, p);
    Estimate {
        fast: None,
        slow: via_closest.min(paxos(s, c, leader).slow),
    }
}

/// CURP over N2Paxos. Fast: the master's `SpecReply` and `3n/4+1`
/// witnesses' `Recorded`, each a round trip from the client. Slow: the
/// `SpecReply` and a majority of `Ordered` (the master's included), acceptor
/// `r`'s arriving after `d(c, L) + d(L, r) + d(r, c)`.
pub fn curp(s: &Sites, c: usize, leader: usize) -> Estimate {
    let q = QuorumSystem::new(s.n());
    let spec_reply = 2.0 * s.cr(c, leader);
    let recorded = kth_smallest((0..s.n()).map(|r| 2.0 * s.cr(c, r)).collect(), q.three_quarters());
    let ordered = (0..s.n())
        .map(|r| {
            if r == leader {
                spec_reply
            } else {
                s.cr(c, leader) + s.rr(leader, r) + s.cr(c, r)
            }
        })
        .collect();
    let slow = kth_smallest(ordered, q.majority()).max(spec_reply);
    Estimate {
        fast: Some(recorded.max(spec_reply).min(slow)),
        slow,
    }
}

/// SwiftPaxos with the fast quorum `fast_quorum` (which holds `L`). Fast:
/// every member's `FastAck` (the leader's `Reply`) a round trip from the
/// client. Slow: `L`'s `Reply` and a majority of `SlowAck`s, replica `r`
/// sending its own on `L`'s `FastAck`: `d(c, L) + d(L, r) + d(r, c)`.
pub fn swiftpaxos(s: &Sites, c: usize, leader: usize, fast_quorum: &[usize]) -> Estimate {
    let reply = 2.0 * s.cr(c, leader);
    let fast = fast_quorum.iter().map(|&r| 2.0 * s.cr(c, r)).fold(reply, f64::max);
    let slow_acks = (0..s.n())
        .map(|r| {
            if r == leader {
                reply
            } else {
                s.cr(c, leader) + s.rr(leader, r) + s.cr(c, r)
            }
        })
        .collect();
    let slow = kth_smallest(slow_acks, QuorumSystem::new(s.n()).majority()).max(reply);
    Estimate {
        fast: Some(fast.min(slow)),
        slow,
    }
}

/// SwiftPaxos with three-quarters fast quorums: any `3n/4+1` replicas
/// with `L`, so the client waits for the nearest such set.
pub fn swiftpaxos_three_quarters(s: &Sites, c: usize, leader: usize) -> Estimate {
    let size = QuorumSystem::new(s.n()).three_quarters();
    let mut others: Vec<usize> = (0..s.n()).filter(|&r| r != leader).collect();
    others.sort_by(|&a, &b| s.cr(c, a).total_cmp(&s.cr(c, b)));
    let quorum: Vec<usize> = std::iter::once(leader)
        .chain(others.into_iter().take(size.saturating_sub(1)))
        .collect();
    swiftpaxos(s, c, leader, &quorum)
}

/// Fast Paxos: the client proposes to every acceptor, each broadcasts its
/// vote, and `p` decides on `ceil(3n/4)` equal votes, executes and answers
/// (three delays). After a collision every replica waits for all `n` votes,
/// votes again in the recovery round (fast too) and `p` decides on
/// `ceil(3n/4)` of those: one more delay after the slowest first vote.
pub fn fastpaxos(s: &Sites, c: usize) -> Estimate {
    let n = s.n();
    let k = QuorumSystem::new(n).fast_paxos();
    let p = s.closest(c);
    let first_vote_at = |to: usize, from: usize| s.cr(c, from) + s.rr(from, to);
    let fast = kth_smallest((0..n).map(|r| first_vote_at(p, r)).collect(), k) + s.cr(c, p);
    let all_votes_at = |r: usize| (0..n).map(|v| first_vote_at(r, v)).fold(0.0, f64::max);
    let recovered = kth_smallest((0..n).map(|r| all_votes_at(r) + s.rr(r, p)).collect(), k);
    Estimate {
        fast: Some(fast),
        slow: recovered + s.cr(c, p),
    }
}

/// EPaxos: `p` leads its client's command. Fast: `PreAccept` and `f +
/// ⌊(f+1)/2⌋` unchanged answers (its own included), commit, execute,
/// answer (four delays). Slow: then `Accept` and a majority of `AcceptOk`.
pub fn epaxos(s: &Sites, c: usize) -> Estimate {
    let n = s.n();
    let q = QuorumSystem::new(n);
    let p = s.closest(c);
    let round_trips: Vec<f64> = (0..n).map(|r| 2.0 * s.rr(p, r)).collect();
    let pre_accept = kth_smallest(round_trips.clone(), q.epaxos_fast());
    let accept = kth_smallest(round_trips, q.majority());
    let edges = 2.0 * s.cr(c, p);
    Estimate {
        fast: Some(edges + pre_accept),
        slow: edges + pre_accept + accept,
    }
}

#[cfg(test)]
mod tests {
    //! One hand-computed example: replicas A, B, C (one-way A–B 30, A–C 40,
    //! B–C 35 ms) and a client X at 5, 12 and 14 ms from them; X's closest
    //! replica is A. Every figure below is worked out in its comment.
    use super::*;

    fn example() -> Sites {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Sites::from_delays(
            names(&["A", "B", "C"]),
            names(&["X"]),
            vec![vec![0.0, 30.0, 40.0], vec![30.0, 0.0, 35.0], vec![40.0, 35.0, 0.0]],
            vec![vec![5.0, 12.0, 14.0]],
        )
    }
    const A: usize = 0;
    const B: usize = 1;

    #[test]
    fn paxos_is_client_leader_majority_round_trip_and_back() {
        // L = A: 5 + (second of 0, 60, 80 = 60) + 5.
        assert_eq!(paxos(&example(), 0, A), Estimate { fast: None, slow: 70.0 });
        // L = B: 12 + (second of 60, 0, 70 = 60) + 12.
        assert_eq!(paxos(&example(), 0, B).slow, 84.0);
    }

    #[test]
    fn n2paxos_learns_at_the_closest_replica() {
        // L = B, p = A: the Accept reaches A at 30 (B's vote and A's own);
        // C's vote at 35 + 40 = 75; the majority's second vote is at 30.
        // 12 + 30 + 5 = 47, below Multi-Paxos's 84.
        assert_eq!(n2paxos(&example(), 0, B), Estimate { fast: None, slow: 47.0 });
        // With the leader closest, it is Multi-Paxos.
        assert_eq!(n2paxos(&example(), 0, A).slow, 70.0);
    }

    #[test]
    fn curp_fast_needs_every_witness_of_three_and_slow_a_majority_of_ordered() {
        // L = A. SpecReply 10; 3n/4+1 = 3 Recorded: the third of 10, 24, 28.
        // Ordered: A 10, B 5 + 30 + 12 = 47, C 5 + 40 + 14 = 59; second 47.
        assert_eq!(
            curp(&example(), 0, A),
            Estimate {
                fast: Some(28.0),
                slow: 47.0
            }
        );
    }

    #[test]
    fn swiftpaxos_fast_is_the_fixed_quorums_slowest_round_trip() {
        // L = A, quorum {A, B}: max(10, 24) = 24. SlowAcks: A's with its
        // Reply at 10, B 5 + 30 + 12 = 47, C 5 + 40 + 14 = 59: second 47.
        assert_eq!(
            swiftpaxos(&example(), 0, A, &[0, 1]),
            Estimate {
                fast: Some(24.0),
                slow: 47.0
            }
        );
        // L = B, quorum {B, C}: max(24, 28) = 28; SlowAcks A 12 + 30 + 5 =
        // 47, B 24, C 12 + 35 + 14 = 61: second 47.
        assert_eq!(
            swiftpaxos(&example(), 0, B, &[1, 2]),
            Estimate {
                fast: Some(28.0),
                slow: 47.0
            }
        );
    }

    #[test]
    fn swiftpaxos_three_quarters_waits_for_the_nearest_quorum_with_the_leader() {
        // n = 3: 3n/4+1 = 3, every replica: max(10, 24, 28) = 28.
        assert_eq!(
            swiftpaxos_three_quarters(&example(), 0, A),
            Estimate {
                fast: Some(28.0),
                slow: 47.0
            }
        );
    }

    #[test]
    fn fastpaxos_decides_at_the_closest_replica_on_three_quarters_of_votes() {
        // ceil(9/4) = 3 votes at A: its own 5, B's 12 + 30 = 42, C's 14 + 40
        // = 54; fast = 54 + 5 = 59. Collision: all first votes are in at A by
        // 54, at B by max(5+30, 12, 14+35) = 49, at C by max(5+40, 12+35,
        // 14) = 47; recovery votes reach A at 54, 79, 87: 87 + 5 = 92.
        assert_eq!(
            fastpaxos(&example(), 0),
            Estimate {
                fast: Some(59.0),
                slow: 92.0
            }
        );
    }

    #[test]
    fn epaxos_commits_at_the_command_leader() {
        // f = 1: fast quorum max(1 + 1, 2) = 2, the second of 0, 60, 80 = 60;
        // 5 + 60 + 5 = 70. Slow: another majority round trip, 60: 130.
        assert_eq!(
            epaxos(&example(), 0),
            Estimate {
                fast: Some(70.0),
                slow: 130.0
            }
        );
    }

    #[test]
    fn the_best_leader_is_chosen() {
        use super::super::choose::{best_plan, Criteria, LeaderRule, Objective};
        use crate::protocol_name::ProtocolName;
        // Paxos: L = A 70, B 84, C 14 + 70 + 14 = 98.
        let plan = best_plan(ProtocolName::Paxos, &example(), Criteria::default());
        assert_eq!((plan.leader, plan.estimates[0].slow), (Some(A), 70.0));
        // SwiftPaxos: {A, B} led by A gives 24, the best of every pair.
        let plan = best_plan(
            ProtocolName::SwiftPaxos,
            &example(),
            Criteria {
                rule: LeaderRule::FastPath,
                minimize: Objective::Worst,
            },
        );
        assert_eq!(
            (plan.leader, plan.fast_quorum.clone(), plan.estimates[0].fast),
            (Some(A), Some(vec![0, 1]), Some(24.0))
        );
    }
}
