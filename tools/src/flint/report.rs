//! Flint's output: a table per protocol for people, JSON for machines.

use super::choose::Plan;
use super::sites::Sites;
use super::FlintArgs;
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

fn names(sites: &Sites, replicas: &[usize]) -> Vec<String> {
    replicas.iter().map(|&r| sites.replicas[r].clone()).collect()
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// One table per protocol: the chosen leader (and fast quorum), then each
/// client's fast- and slow-path latency and the averages.
pub fn text(sites: &Sites, plans: &[Plan]) -> String {
    let width = sites.clients.iter().map(String::len).max().unwrap_or(0).max(8);
    let mut out = String::new();
    for plan in plans {
        let mut heading = display_name(plan.protocol).to_string();
        match plan.leader {
            Some(l) => heading += &format!(": leader {}", sites.replicas[l]),
            None => heading += ": leaderless (each client's closest replica leads its commands)",
        }
        if let Some(q) = &plan.fast_quorum {
            heading += &format!(", fast quorum {{{}}}", names(sites, q).join(", "));
        }
        let _ = writeln!(out, "{heading}");
        let _ = writeln!(out, "  {:<width$}  {:>9}  {:>9}", "client", "fast ms", "slow ms");
        for (c, e) in plan.estimates.iter().enumerate() {
            let _ = writeln!(out, "  {:<width$}  {:>9}  {:>9.1}", sites.clients[c], ms(e.fast), e.slow);
        }
        let _ = writeln!(out, "  {:<width$}  {:>9}  {:>9.1}", "average", ms(plan.average_fast()), plan.average_slow());
        let _ = writeln!(out);
    }
    out
}

/// The same as JSON.
pub fn json(args: &FlintArgs, sites: &Sites, plans: &[Plan]) -> Value {
    let protocols: Vec<Value> = plans
        .iter()
        .map(|plan| {
            json!({
                "protocol": plan.protocol.to_string(),
                "leader": plan.leader.map(|l| sites.replicas[l].clone()),
                "fast_quorum": plan.fast_quorum.as_ref().map(|q| names(sites, q)),
                "clients": plan.estimates.iter().enumerate().map(|(c, e)| json!({
                    "client": sites.clients[c],
                    "closest_replica": sites.replicas[sites.closest(c)],
                    "fast_ms": e.fast,
                    "slow_ms": e.slow,
                })).collect::<Vec<_>>(),
                "average": { "fast_ms": plan.average_fast(), "slow_ms": plan.average_slow() },
            })
        })
        .collect();
    json!({
        "table": args.table.display().to_string(),
        "replicas": sites.replicas,
        "clients": sites.clients,
        "minimize": format!("{:?}", args.minimize).to_lowercase(),
        "protocols": protocols,
    })
}
