//! Flint's output: a table per protocol for people, JSON for machines.
//! Each block says which message flow its figures assume.

use super::choose::{mean, Criteria, LeaderRule, Objective, Plan};
use super::formulas::{self, Estimate};
use super::sites::Sites;
use super::Estimates;
use crate::protocol_name::ProtocolName;
use serde_json::{json, Value};
use std::fmt::Write;

/// The name a table heading uses.
pub fn display_name(p: ProtocolName) -> &'static str {
    match p {
        ProtocolName::SwiftPaxos => "SwiftPaxos",
        ProtocolName::Paxos => "Paxos",
        ProtocolName::N2Paxos => "N2Paxos",
        ProtocolName::Curp => "CURP",
        ProtocolName::FastPaxos => "Fast Paxos",
        ProtocolName::EPaxos => "EPaxos",
    }
}

/// What the Accord block says of itself.
pub const ACCORD_NOTE: &str = "estimate only, not implemented here";

/// The flow Accord's figures assume.
pub const ACCORD_FLOW: &str = "the original Flint's model: the client's site coordinates; fast = a round trip to the nearest fast quorum; slow = the medium path or a conflicting transaction's convoy (5 ms clock skew), whichever is later";

fn names(sites: &Sites, replicas: &[usize]) -> Vec<String> {
    replicas.iter().map(|&r| sites.replicas[r].clone()).collect()
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// How the leader was chosen, in words.
pub fn criteria_text(criteria: Criteria) -> String {
    let (rule, ties) = match criteria.rule {
        LeaderRule::SlowPath => ("slow-path", "fast path"),
        LeaderRule::FastPath => ("fast-path", "slow path"),
    };
    let over = match criteria.minimize {
        Objective::Average => "mean over clients",
        Objective::Worst => "worst client",
    };
    format!("leader rule {rule} ({over}; ties: {ties}, then --replicas order)")
}

/// The heading of one plan: protocol, leader, fast quorum.
pub fn heading(sites: &Sites, plan: &Plan) -> String {
    let mut heading = display_name(plan.protocol).to_string();
    match plan.leader {
        Some(l) => heading += &format!(": leader {}", sites.replicas[l]),
        None => heading += ": leaderless (each client's closest replica leads its commands)",
    }
    if let Some(q) = &plan.fast_quorum {
        heading += &format!(", fast quorum {{{}}}", names(sites, q).join(", "));
    }
    heading
}

fn client_rows(out: &mut String, sites: &Sites, estimates: &[Estimate]) {
    let width = sites.clients.iter().map(String::len).max().unwrap_or(0).max(8);
    let _ = writeln!(out, "  {:<width$}  {:>9}  {:>9}", "client", "fast ms", "slow ms");
    for (c, e) in estimates.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:<width$}  {:>9}  {:>9.1}",
            sites.clients[c],
            ms(e.fast),
            e.slow
        );
    }
    let fast: Option<Vec<f64>> = estimates.iter().map(|e| e.fast).collect();
    let _ = writeln!(
        out,
        "  {:<width$}  {:>9}  {:>9.1}",
        "average",
        ms(fast.map(|f| mean(f.into_iter()))),
        mean(estimates.iter().map(|e| e.slow))
    );
}

/// One block per protocol: the chosen leader (and fast quorum), the flow
/// assumed, each client's fast- and slow-path latency and the averages;
/// then Accord's block.
pub fn text(sites: &Sites, estimates: &Estimates, criteria: Criteria, source: &str) -> String {
    let mut out = format!("table: {source}\n{}\n\n", criteria_text(criteria));
    for plan in &estimates.plans {
        let _ = writeln!(out, "{}", heading(sites, plan));
        let _ = writeln!(out, "  flow: {}", formulas::flow(plan.protocol));
        client_rows(&mut out, sites, &plan.estimates);
        let _ = writeln!(out);
    }
    if let Some(accord) = &estimates.accord {
        let _ = writeln!(out, "Accord: {ACCORD_NOTE}");
        let _ = writeln!(out, "  flow: {ACCORD_FLOW}");
        client_rows(&mut out, sites, accord);
        let _ = writeln!(out);
    }
    out
}

fn clients_json(sites: &Sites, estimates: &[Estimate]) -> Vec<Value> {
    estimates
        .iter()
        .enumerate()
        .map(|(c, e)| {
            json!({
                "client": sites.clients[c],
                "closest_replica": sites.replicas[sites.closest(c)],
                "fast_ms": e.fast,
                "slow_ms": e.slow,
            })
        })
        .collect()
}

/// The same as JSON.
pub fn json(sites: &Sites, estimates: &Estimates, criteria: Criteria, source: &str) -> Value {
    let protocols: Vec<Value> = estimates
        .plans
        .iter()
        .map(|plan| {
            json!({
                "protocol": plan.protocol.to_string(),
                "flow": formulas::flow(plan.protocol),
                "leader": plan.leader.map(|l| sites.replicas[l].clone()),
                "fast_quorum": plan.fast_quorum.as_ref().map(|q| names(sites, q)),
                "clients": clients_json(sites, &plan.estimates),
                "average": { "fast_ms": plan.average_fast(), "slow_ms": plan.average_slow() },
            })
        })
        .collect();
    let accord = estimates.accord.as_ref().map(|accord| {
        json!({
            "note": ACCORD_NOTE,
            "flow": ACCORD_FLOW,
            "clients": clients_json(sites, accord),
        })
    });
    json!({
        "table": source,
        "replicas": sites.replicas,
        "clients": sites.clients,
        "leader_rule": format!("{:?}", criteria.rule).to_lowercase().replace("path", "-path"),
        "minimize": format!("{:?}", criteria.minimize).to_lowercase(),
        "protocols": protocols,
        "accord": accord,
    })
}
