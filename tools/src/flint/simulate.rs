//! `flint --simulate`: the same placement in the deterministic simulator,
//! running the real protocol code, and the simulated median per client site
//! beside the estimate. A site where they differ by more than
//! [`TOLERANCE`] is flagged with the reason the run shows.

use super::choose::Plan;
use super::report::display_name;
use super::sites::Sites;
use super::FlintArgs;
use crate::protocol_name::ProtocolName;
use net::LatencyTable;
use protocols::quorum::{FastQuorums, ReplicaSet};
use protocols::DeliberateBugs;
use runtime::sim::{Placement, Restarts, SimConfig, SimOutcome};
use serde_json::{json, Value};
use std::fmt::Write;

/// How far the simulated median may stray from the estimate unflagged.
pub const TOLERANCE: f64 = 0.05;

/// One client site: estimate against simulation.
#[derive(Clone, Debug)]
pub struct SiteComparison {
    /// The client's index in the sites.
    pub client: usize,
    /// The conflict-free estimate (fast path where there is one), ms.
    pub estimate_ms: f64,
    /// The slow-path estimate, ms.
    pub slow_ms: f64,
    /// The simulated median, ms.
    pub simulated_ms: f64,
    /// Share of the site's commands that took the fast path, if the protocol reports one.
    pub fast_share: Option<f64>,
    /// Why the two differ by more than the tolerance; `None` when they agree.
    pub flag: Option<String>,
}

/// One protocol's comparison.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Which protocol.
    pub protocol: ProtocolName,
    /// Per client site.
    pub sites: Vec<SiteComparison>,
    /// How many commands the simulation completed.
    pub commands: usize,
}

/// The simulator's settings for `plan` on `sites`: one closed-loop client
/// per client site, the plan's leader leading the first ballot.
pub fn sim_config(
    table: &LatencyTable,
    sites: &Sites,
    plan: &Plan,
    conflicts: u32,
    commands_per_site: usize,
    seed: u64,
) -> Result<SimConfig, String> {
    let clients = sites.clients.len();
    let placement =
        Placement::from_table(table, &sites.replicas, &sites.clients, clients).map_err(|e| e.to_string())?;
    let fast_quorums = match plan.leader {
        Some(leader) => {
            let members: ReplicaSet = match &plan.fast_quorum {
                Some(q) => q.iter().copied().collect(),
                None => std::iter::once(leader)
                    .chain((0..sites.n()).filter(|&r| r != leader))
                    .take(sites.n() / 2 + 1)
                    .collect(),
            };
            FastQuorums::Fixed(vec![(leader, members)])
        }
        None => FastQuorums::Fixed(Vec::new()),
    };
    Ok(SimConfig {
        replicas: sites.n(),
        clients,
        commands: clients * commands_per_site,
        conflicts,
        writes: 100,
        scans: 0,
        seed,
        placement,
        faults: false,
        scripted: Vec::new(),
        fast_quorums,
        bugs: DeliberateBugs::default(),
        wait_closest: false,
        restarts: Restarts::Never,
        disk_faults: false,
        release_lag: protocols::DEFAULT_RELEASE_LAG,
    })
}

/// The median (ms) and fast-path share of each client site's commands, in
/// client order; a site with no completed command has no median.
pub fn per_site(outcome: &SimOutcome, config: &SimConfig, sites: &Sites) -> Vec<(Option<f64>, Option<f64>, Vec<f64>)> {
    let names = config.placement.matrix.sites();
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); sites.clients.len()];
    let mut fast: Vec<(u64, u64)> = vec![(0, 0); sites.clients.len()];
    for s in &outcome.samples {
        let Some(c) = sites.clients.iter().position(|name| *name == names[s.site]) else {
            continue;
        };
        latencies[c].push(s.latency.as_secs_f64() * 1e3);
        if let Some(f) = s.fast_path {
            fast[c].0 += u64::from(f);
            fast[c].1 += 1;
        }
    }
    latencies
        .into_iter()
        .zip(fast)
        .map(|(mut l, (f, total))| {
            l.sort_by(f64::total_cmp);
            let median = (!l.is_empty()).then(|| l[l.len() / 2]);
            (median, (total > 0).then(|| f as f64 / total as f64), l)
        })
        .collect()
}

/// Runs `plan` in the simulator and compares per site.
pub fn compare(table: &LatencyTable, sites: &Sites, plan: &Plan, args: &FlintArgs) -> Result<Comparison, String> {
    let config = sim_config(table, sites, plan, args.conflicts, args.commands_per_site, args.seed)?;
    let outcome = crate::sim::run_one(plan.protocol, &config)?;
    let violations = outcome.violations();
    if !violations.is_empty() {
        return Err(format!(
            "{}: the simulation failed its checks: {}",
            plan.protocol,
            violations.join("; ")
        ));
    }
    let mut compared = Vec::new();
    for (c, (median, fast_share, _)) in per_site(&outcome, &config, sites).into_iter().enumerate() {
        let e = plan.estimates[c];
        let Some(simulated) = median else { continue };
        compared.push(SiteComparison {
            client: c,
            estimate_ms: e.expected(),
            slow_ms: e.slow,
            simulated_ms: simulated,
            fast_share,
            flag: explain(plan.protocol, e.fast, e.slow, simulated, fast_share),
        });
    }
    Ok(Comparison {
        protocol: plan.protocol,
        sites: compared,
        commands: outcome.samples.len(),
    })
}

/// Why a simulated median strays from the estimate by more than the
/// tolerance, from what the run shows; `None` when it does not stray.
pub fn explain(
    protocol: ProtocolName,
    fast: Option<f64>,
    slow: f64,
    simulated: f64,
    fast_share: Option<f64>,
) -> Option<String> {
    let estimate = fast.unwrap_or(slow);
    let gap = (simulated - estimate) / estimate;
    if gap.abs() <= TOLERANCE {
        return None;
    }
    let pct = |x: f64| format!("{:+.0}%", 100.0 * x);
    if let (Some(fast), Some(share)) = (fast, fast_share) {
        if share < 0.995 {
            let what = if protocol == ProtocolName::FastPaxos {
                "collisions (concurrent clients' proposals reach acceptors in different orders; every command shares one log)"
            } else {
                "conflicts"
            };
            let slow_share = 100.0 * (1.0 - share);
            let near_slow = (simulated - slow).abs() <= TOLERANCE * slow;
            let tail = if near_slow {
                format!(", and the median is the slow path's {slow:.1} ms")
            } else {
                format!(" (fast {fast:.1} ms, slow {slow:.1} ms)")
            };
            return Some(format!(
                "{}: {what}: {slow_share:.0}% of the site's commands took the slow path{tail}",
                pct(gap)
            ));
        }
    }
    if simulated > estimate {
        Some(format!(
            "{}: queueing: commands wait behind earlier ones (execution order, dependencies on other sites' commands) beyond the idle-path estimate",
            pct(gap)
        ))
    } else {
        Some(format!(
            "{}: faster than estimated: a shorter path than the formula's",
            pct(gap)
        ))
    }
}

/// The comparisons as a table per protocol.
pub fn text(sites: &Sites, comparisons: &[Comparison]) -> String {
    let width = sites.clients.iter().map(String::len).max().unwrap_or(0).max(8);
    let mut out = String::from(
        "Estimate against the simulator (real protocol code, same placement, one closed-loop client per site):\n\n",
    );
    for comparison in comparisons {
        let _ = writeln!(
            out,
            "{} ({} commands simulated)",
            display_name(comparison.protocol),
            comparison.commands
        );
        let _ = writeln!(
            out,
            "  {:<width$}  {:>11}  {:>12}  {:>7}  {:>9}",
            "client", "estimate ms", "simulated ms", "diff", "fast path"
        );
        for s in &comparison.sites {
            let diff = 100.0 * (s.simulated_ms - s.estimate_ms) / s.estimate_ms;
            let fast = s.fast_share.map_or("-".into(), |f| format!("{:.0}%", 100.0 * f));
            let _ = write!(
                out,
                "  {:<width$}  {:>11.1}  {:>12.1}  {:>+6.1}%  {:>9}",
                sites.clients[s.client], s.estimate_ms, s.simulated_ms, diff, fast
            );
            match &s.flag {
                Some(reason) => {
                    let _ = writeln!(out, "  FLAG {reason}");
                }
                None => out.push('\n'),
            }
        }
        let flagged = comparison.sites.iter().filter(|s| s.flag.is_some()).count();
        let _ = writeln!(
            out,
            "  {flagged} of {} sites differ by more than {:.0}%\n",
            comparison.sites.len(),
            100.0 * TOLERANCE
        );
    }
    out
}

/// The comparisons as JSON.
pub fn json(sites: &Sites, comparisons: &[Comparison]) -> Value {
    Value::Array(
        comparisons
            .iter()
            .map(|c| {
                json!({
                    "protocol": c.protocol.to_string(),
                    "commands": c.commands,
                    "sites": c.sites.iter().map(|s| json!({
                        "client": sites.clients[s.client],
                        "estimate_ms": s.estimate_ms,
                        "simulated_median_ms": s.simulated_ms,
                        "fast_share": s.fast_share,
                        "flag": s.flag,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}
