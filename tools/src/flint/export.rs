//! `flint --export DIR`: the chosen placement as files the deployment CLI
//! (`swiftpaxos -run … -config … -latency … -quorum …`) reads, like the
//! original tool's export key. Every node gets its own loopback address, so
//! the exported deployment runs on one machine with emulated latency.

use super::choose::Plan;
use super::sites::Sites;
use super::Estimates;
use net::LatencyTable;
use std::fmt::Write;
use std::path::Path;

/// The loopback address of replica `r`.
pub fn replica_address(r: usize) -> String {
    format!("127.0.0.{}", r + 1)
}

/// The loopback address of client `c`.
pub fn client_address(c: usize) -> String {
    format!("127.0.1.{}", c + 1)
}

/// Writes `deployment.conf`, `latency.conf`, one quorum file per
/// leader-based plan (`quorum.conf` is the first of them: SwiftPaxos's when
/// every protocol was estimated) and `estimates.txt`, the report (Accord's
/// figures included: it has no deployment here, so that is where it
/// applies). Returns the files' names.
pub fn write(
    dir: &Path,
    table: &LatencyTable,
    sites: &Sites,
    estimates: &Estimates,
    report: &str,
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let plans = &estimates.plans;
    let mut files = vec![
        ("deployment.conf".to_string(), deployment(sites, plans)),
        ("latency.conf".to_string(), latency(table, sites)),
        ("estimates.txt".to_string(), report.to_string()),
    ];
    for plan in plans.iter().filter(|p| p.leader.is_some()) {
        let text = quorum(sites, plan);
        if !files.iter().any(|(name, _)| name == "quorum.conf") {
            files.push(("quorum.conf".into(), text.clone()));
        }
        files.push((format!("quorum-{}.conf", plan.protocol), text));
    }
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(files.into_iter().map(|(name, _)| name).collect())
}

/// The deployment config in the original's format, with `-- Proxy --`
/// giving each client its closest replica.
pub fn deployment(sites: &Sites, plans: &[Plan]) -> String {
    let mut out = String::from("// Written by `flint --export`.\n\n-- Replicas --\n\n");
    for (r, name) in sites.replicas.iter().enumerate() {
        let _ = writeln!(out, "{name} {}", replica_address(r));
    }
    out += "\n-- Clients --\n\n";
    for (c, name) in sites.clients.iter().enumerate() {
        let _ = writeln!(out, "{name} {}", client_address(c));
    }
    out += "\n-- Master --\n\nmaster 127.0.2.1\n\nmasterPort: 7087\n\n";
    let protocol = plans
        .first()
        .map_or("swiftpaxos".to_string(), |p| p.protocol.to_string());
    let _ = writeln!(out, "protocol: {protocol}\n\nreqs:        1000\nwrites:      100\nconflicts:   2\ncommandSize: 100\nkey:         42\n");
    out += &proxy_section(sites);
    out
}

/// `-- Proxy --`: each replica's alias, then the clients that use it
/// (`(local)` where a client shares its replica's region).
pub fn proxy_section(sites: &Sites) -> String {
    let mut out = String::from("-- Proxy --\n");
    for (r, replica) in sites.replicas.iter().enumerate() {
        let _ = writeln!(out, "\nserver_alias {replica}");
        for (_, client) in sites.clients.iter().enumerate().filter(|(c, _)| sites.closest(*c) == r) {
            let local = if client == replica { " (local)" } else { "" };
            let _ = writeln!(out, "{client}{local}");
        }
    }
    out + "---\n"
}

/// Round trips between every pair of nodes' addresses (both directions).
pub fn latency(table: &LatencyTable, sites: &Sites) -> String {
    let nodes: Vec<(String, &String)> = sites
        .replicas
        .iter()
        .enumerate()
        .map(|(r, name)| (replica_address(r), name))
        .chain(
            sites
                .clients
                .iter()
                .enumerate()
                .map(|(c, name)| (client_address(c), name)),
        )
        .collect();
    let mut out = String::from("// Written by `flint --export`: round trips between the nodes of deployment.conf.\n");
    for (a, region_a) in &nodes {
        for (b, region_b) in &nodes {
            let rtt = table.one_way(region_a, region_b).unwrap_or_default() * 2;
            let _ = writeln!(out, "{a} {b} {}us", rtt.as_micros());
        }
    }
    out
}

/// The quorum file: the leader marked `l`, and SwiftPaxos's fixed fast
/// quorum (other protocols: the leader and a majority it is fastest to).
pub fn quorum(sites: &Sites, plan: &Plan) -> String {
    let Some(leader) = plan.leader else {
        return String::new();
    };
    let members = match &plan.fast_quorum {
        Some(q) => q.clone(),
        None => {
            let mut by_distance: Vec<usize> = (0..sites.n()).collect();
            by_distance.sort_by(|&a, &b| sites.rr(leader, a).total_cmp(&sites.rr(leader, b)));
            by_distance.truncate(sites.n() / 2 + 1);
            by_distance.sort();
            by_distance
        }
    };
    members
        .iter()
        .map(|&r| {
            if r == leader {
                format!("l {}\n", sites.replicas[r])
            } else {
                format!("{}\n", sites.replicas[r])
            }
        })
        .collect()
}
