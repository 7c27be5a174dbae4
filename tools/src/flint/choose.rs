//! Choosing the leader (and SwiftPaxos's fixed fast quorum) that serves a
//! set of clients best: every candidate is estimated, and the best by the
//! [`Criteria`] wins.
//!
//! Ties are settled the same way on every run: candidates are tried in a
//! fixed order and a later one replaces the best so far only when it is
//! strictly better, so the first of equals wins. The order is
//! - leader-based protocols: leaders in `--replicas` order;
//! - SwiftPaxos: fast quorums in lexicographic order of their members'
//!   positions in `--replicas` (`{1,2,3}` before `{1,2,4}` before
//!   `{1,3,4}`…), and within a quorum its members as leaders in
//!   `--replicas` order.
//!
//! Scores are compared at 0.01 ms, the resolution the original Flint rounds
//! its averages to, so figures that differ only by floating-point noise
//! count as equal and go to the secondary score, then to the order above.

use super::formulas::{self, Estimate};
use super::sites::Sites;
use crate::protocol_name::ProtocolName;
use protocols::quorum::QuorumSystem;

/// How per-client latencies are combined into one figure per candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Objective {
    /// The mean over clients.
    Average,
    /// The latency of the worst-served client.
    Worst,
}

/// Which path's latency decides, the other settling ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LeaderRule {
    /// The lowest slow-path latency, ties settled by the fast path: the
    /// original Flint's default. A leader chosen this way stays good when
    /// commands conflict and the fast path fails.
    SlowPath,
    /// The lowest latency without conflicts (the fast path where there is
    /// one), ties settled by the slow path: best for conflict-free loads.
    FastPath,
}

/// Everything that decides which candidate is best.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Criteria {
    /// Which path decides.
    pub rule: LeaderRule,
    /// How clients are combined.
    pub minimize: Objective,
}

impl Default for Criteria {
    /// The original Flint's choice: the lowest mean slow-path latency.
    fn default() -> Criteria {
        Criteria {
            rule: LeaderRule::SlowPath,
            minimize: Objective::Average,
        }
    }
}

/// A protocol's configuration for one placement and its estimates.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Which protocol.
    pub protocol: ProtocolName,
    /// The leader, for leader-based protocols (a replica number).
    pub leader: Option<usize>,
    /// SwiftPaxos's fixed fast quorum (replica numbers, leader included).
    pub fast_quorum: Option<Vec<usize>>,
    /// One estimate per client, in client order.
    pub estimates: Vec<Estimate>,
}

impl Plan {
    /// The mean over clients of the conflict-free latency.
    pub fn average_expected(&self) -> f64 {
        mean(self.estimates.iter().map(Estimate::expected))
    }

    /// The mean over clients of the slow-path latency.
    pub fn average_slow(&self) -> f64 {
        mean(self.estimates.iter().map(|e| e.slow))
    }

    /// The mean over clients of the fast-path latency, where there is one.
    pub fn average_fast(&self) -> Option<f64> {
        let fast: Option<Vec<f64>> = self.estimates.iter().map(|e| e.fast).collect();
        fast.map(|f| mean(f.into_iter()))
    }

    /// (deciding score, tie-breaking score), both rounded to 0.01 ms.
    pub fn score(&self, criteria: Criteria) -> (f64, f64) {
        let combine = |path: fn(&Estimate) -> f64| {
            let values = self.estimates.iter().map(path);
            hundredths(match criteria.minimize {
                Objective::Average => mean(values),
                Objective::Worst => values.fold(0.0, f64::max),
            })
        };
        let (fast, slow) = (combine(Estimate::expected), combine(|e| e.slow));
        match criteria.rule {
            LeaderRule::SlowPath => (slow, fast),
            LeaderRule::FastPath => (fast, slow),
        }
    }
}

fn hundredths(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The mean of `values` (0 for none): what the reports and the view show
/// per protocol.
pub fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// Every candidate plan of `protocol`, in the tie-breaking order the module
/// documentation gives.
pub fn candidates(protocol: ProtocolName, sites: &Sites) -> Vec<Plan> {
    match protocol {
        ProtocolName::FastPaxos | ProtocolName::EPaxos => vec![plan_with(protocol, sites, 0, &[])],
        ProtocolName::Paxos | ProtocolName::N2Paxos | ProtocolName::Curp => (0..sites.n())
            .map(|leader| plan_with(protocol, sites, leader, &[]))
            .collect(),
        ProtocolName::SwiftPaxos => {
            let majority = QuorumSystem::new(sites.n()).majority();
            subsets(sites.n(), majority)
                .into_iter()
                .flat_map(|quorum| quorum.clone().into_iter().map(move |leader| (leader, quorum.clone())))
                .map(|(leader, quorum)| plan_with(protocol, sites, leader, &quorum))
                .collect()
        }
    }
}

/// The best plan of `protocol` for `sites`: the first candidate with the
/// lowest score.
pub fn best_plan(protocol: ProtocolName, sites: &Sites, criteria: Criteria) -> Plan {
    let mut best: Option<(Plan, (f64, f64))> = None;
    for candidate in candidates(protocol, sites) {
        let score = candidate.score(criteria);
        let better = match &best {
            None => true,
            Some((_, b)) => score.partial_cmp(b) == Some(std::cmp::Ordering::Less),
        };
        if better {
            best = Some((candidate, score));
        }
    }
    best.map(|(plan, _)| plan)
        .expect("every protocol has at least one candidate when there is a replica")
}

/// A plan with a fixed leader (and quorum), for a placement chosen elsewhere
/// (the evaluation uses the reference quorum file's leader for everyone).
/// Leaderless protocols ignore both.
pub fn plan_with(protocol: ProtocolName, sites: &Sites, leader: usize, fast_quorum: &[usize]) -> Plan {
    match protocol {
        ProtocolName::FastPaxos => plan(protocol, sites, None, None, |c| formulas::fastpaxos(sites, c)),
        ProtocolName::EPaxos => plan(protocol, sites, None, None, |c| formulas::epaxos(sites, c)),
        ProtocolName::Paxos => plan(protocol, sites, Some(leader), None, |c| {
            formulas::paxos(sites, c, leader)
        }),
        ProtocolName::N2Paxos => plan(protocol, sites, Some(leader), None, |c| {
            formulas::n2paxos(sites, c, leader)
        }),
        ProtocolName::Curp => plan(protocol, sites, Some(leader), None, |c| {
            formulas::curp(sites, c, leader)
        }),
        ProtocolName::SwiftPaxos => plan(protocol, sites, Some(leader), Some(fast_quorum.to_vec()), |c| {
            formulas::swiftpaxos(sites, c, leader, fast_quorum)
        }),
    }
}

fn plan(
    protocol: ProtocolName,
    sites: &Sites,
    leader: Option<usize>,
    fast_quorum: Option<Vec<usize>>,
    estimate: impl Fn(usize) -> Estimate,
) -> Plan {
    Plan {
        protocol,
        leader,
        fast_quorum,
        estimates: (0..sites.clients.len()).map(estimate).collect(),
    }
}

/// Every `size`-subset of `0..n`, in lexicographic order.
pub fn subsets(n: usize, size: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = (0u64..(1u64 << n))
        .filter(|mask| mask.count_ones() as usize == size)
        .map(|mask| (0..n).filter(|r| mask & (1 << r) != 0).collect())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_come_in_lexicographic_order() {
        assert_eq!(
            subsets(4, 3),
            [vec![0, 1, 2], vec![0, 1, 3], vec![0, 2, 3], vec![1, 2, 3]]
        );
    }

    /// Three replicas at the same distance from one client and from each
    /// other: every candidate ties, so the first in the documented order
    /// wins, on every run.
    #[test]
    fn ties_go_to_the_first_candidate_in_the_documented_order() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        let equal = vec![vec![0.0, 20.0, 20.0], vec![20.0, 0.0, 20.0], vec![20.0, 20.0, 0.0]];
        let sites = Sites::from_delays(
            names(&["A", "B", "C"]),
            names(&["X"]),
            equal,
            vec![vec![10.0, 10.0, 10.0]],
        );
        for rule in [LeaderRule::SlowPath, LeaderRule::FastPath] {
            for minimize in [Objective::Average, Objective::Worst] {
                let criteria = Criteria { rule, minimize };
                let swift = best_plan(ProtocolName::SwiftPaxos, &sites, criteria);
                assert_eq!(
                    (swift.leader, swift.fast_quorum),
                    (Some(0), Some(vec![0, 1])),
                    "{criteria:?}"
                );
                assert_eq!(best_plan(ProtocolName::Curp, &sites, criteria).leader, Some(0));
            }
        }
    }

    /// The formulas' example (one-way A–B 30, A–C 40, B–C 35; X at 5, 12,
    /// 14). Slow path per leader: A 47 (second of A's reply 10, B's SlowAck
    /// 5 + 30 + 12 = 47, C's 5 + 40 + 14 = 59), B 47 (second of 12 + 30 + 5
    /// = 47, its reply 24, 12 + 35 + 14 = 61), C 59. A and B tie on the slow
    /// path, and on the fast path of quorum {A, B} (max of 10 and 24 = 24),
    /// so the first in order, {A, B} led by A, wins.
    #[test]
    fn equal_slow_paths_go_to_the_fast_path_then_to_the_order() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        let rr = vec![vec![0.0, 30.0, 40.0], vec![30.0, 0.0, 35.0], vec![40.0, 35.0, 0.0]];
        let sites = Sites::from_delays(names(&["A", "B", "C"]), names(&["X"]), rr, vec![vec![5.0, 12.0, 14.0]]);
        let b = plan_with(ProtocolName::SwiftPaxos, &sites, 1, &[0, 1]);
        assert_eq!(b.score(Criteria::default()), (47.0, 24.0));
        let best = best_plan(ProtocolName::SwiftPaxos, &sites, Criteria::default());
        assert_eq!(best.score(Criteria::default()), (47.0, 24.0));
        assert_eq!((best.leader, best.fast_quorum), (Some(0), Some(vec![0, 1])));
    }
}
