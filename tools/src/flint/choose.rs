//! Choosing the leader (and SwiftPaxos's fixed fast quorum) that serves a
//! set of clients best, as Flint does: try every candidate, keep the best by
//! the objective, break ties by the mean slow-path latency.

use super::formulas::{self, Estimate};
use super::sites::Sites;
use crate::protocol_name::ProtocolName;
use protocols::quorum::QuorumSystem;

/// What "best" means when choosing a leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Objective {
    /// The lowest mean, over clients, of the conflict-free latency.
    Average,
    /// The lowest conflict-free latency of the worst-served client.
    Worst,
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

    fn score(&self, objective: Objective) -> (f64, f64) {
        let primary = match objective {
            Objective::Average => self.average_expected(),
            Objective::Worst => self.estimates.iter().map(Estimate::expected).fold(0.0, f64::max),
        };
        (primary, self.average_slow())
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// The best plan of `protocol` for `sites`.
pub fn best_plan(protocol: ProtocolName, sites: &Sites, objective: Objective) -> Plan {
    let candidates: Vec<Plan> = match protocol {
        ProtocolName::FastPaxos => vec![plan(protocol, sites, None, None, |c| formulas::fastpaxos(sites, c))],
        ProtocolName::EPaxos => vec![plan(protocol, sites, None, None, |c| formulas::epaxos(sites, c))],
        ProtocolName::Paxos => each_leader(sites, |l| plan(protocol, sites, Some(l), None, |c| formulas::paxos(sites, c, l))),
        ProtocolName::N2Paxos => each_leader(sites, |l| plan(protocol, sites, Some(l), None, |c| formulas::n2paxos(sites, c, l))),
        ProtocolName::Curp => each_leader(sites, |l| plan(protocol, sites, Some(l), None, |c| formulas::curp(sites, c, l))),
        ProtocolName::SwiftPaxos => {
            let majority = QuorumSystem::new(sites.n()).majority();
            let mut plans = Vec::new();
            for leader in 0..sites.n() {
                for quorum in subsets_with(sites.n(), majority, leader) {
                    plans.push(plan(protocol, sites, Some(leader), Some(quorum.clone()), |c| formulas::swiftpaxos(sites, c, leader, &quorum)));
                }
            }
            plans
        }
    };
    let mut best: Option<Plan> = None;
    for candidate in candidates {
        let better = match &best {
            None => true,
            Some(b) => candidate.score(objective).partial_cmp(&b.score(objective)) == Some(std::cmp::Ordering::Less),
        };
        if better {
            best = Some(candidate);
        }
    }
    best.expect("every protocol has at least one candidate when there is a replica")
}

/// A plan with a fixed leader (and quorum), for a placement chosen elsewhere
/// (the evaluation uses the reference quorum file's leader for everyone).
pub fn plan_with(protocol: ProtocolName, sites: &Sites, leader: usize, fast_quorum: &[usize]) -> Plan {
    match protocol {
        ProtocolName::FastPaxos => plan(protocol, sites, None, None, |c| formulas::fastpaxos(sites, c)),
        ProtocolName::EPaxos => plan(protocol, sites, None, None, |c| formulas::epaxos(sites, c)),
        ProtocolName::Paxos => plan(protocol, sites, Some(leader), None, |c| formulas::paxos(sites, c, leader)),
        ProtocolName::N2Paxos => plan(protocol, sites, Some(leader), None, |c| formulas::n2paxos(sites, c, leader)),
        ProtocolName::Curp => plan(protocol, sites, Some(leader), None, |c| formulas::curp(sites, c, leader)),
        ProtocolName::SwiftPaxos => {
            plan(protocol, sites, Some(leader), Some(fast_quorum.to_vec()), |c| formulas::swiftpaxos(sites, c, leader, fast_quorum))
        }
    }
}

fn plan(protocol: ProtocolName, sites: &Sites, leader: Option<usize>, fast_quorum: Option<Vec<usize>>, estimate: impl Fn(usize) -> Estimate) -> Plan {
    Plan { protocol, leader, fast_quorum, estimates: (0..sites.clients.len()).map(estimate).collect() }
}

fn each_leader(sites: &Sites, plan_for: impl Fn(usize) -> Plan) -> Vec<Plan> {
    (0..sites.n()).map(plan_for).collect()
}

/// Every `size`-subset of `0..n` that holds `member`, in lexicographic order.
pub fn subsets_with(n: usize, size: usize, member: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for mask in 0u64..(1u64 << n) {
        if mask.count_ones() as usize == size && mask & (1 << member) != 0 {
            out.push((0..n).filter(|r| mask & (1 << r) != 0).collect());
        }
    }
    out.sort();
    out
}
