//! `flint`: given replica and client regions and a region latency table,
//! estimates each protocol's latency per client, choosing the leader (and
//! SwiftPaxos's fixed fast quorum) that serves the clients best — as the
//! original tool does — and can check its estimates against the simulator
//! running the real protocol code (`--simulate`).

pub mod choose;
pub mod export;
pub mod formulas;
pub mod report;
pub mod simulate;
pub mod sites;

use crate::protocol_name::ProtocolName;
use choose::{Objective, Plan};
use clap::Parser;
use net::LatencyTable;
use sites::Sites;
use std::path::PathBuf;

/// The command line of `flint`.
#[derive(Parser, Debug, Clone)]
#[command(name = "flint", about = "Estimate each protocol's latency per client site from a region latency table, choosing the best leader and fast quorum.")]
pub struct FlintArgs {
    /// Region latency table: lines `REGION REGION RTT` (round trips, Go duration syntax), as shared/reference/aws-latency-table.txt.
    #[arg(long)]
    pub table: PathBuf,
    /// Replica regions, comma-separated (at most 16).
    #[arg(long, value_delimiter = ',', required = true)]
    pub replicas: Vec<String>,
    /// Client regions, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub clients: Vec<String>,
    /// A protocol (swiftpaxos|swift, paxos, n2paxos, curp, fastpaxos, epaxos; any case) or `all`.
    #[arg(long, default_value = "all")]
    pub protocol: String,
    /// How to choose the leader: the lowest mean latency over clients, or the lowest latency of the worst-served client.
    #[arg(long, value_enum, default_value = "average")]
    pub minimize: Objective,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Write the chosen placement's deployment config (with its `-- Proxy --` section), latency file and quorum file into this directory.
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Also run the simulator on the same placement and compare its median per client site with the estimate.
    #[arg(long)]
    pub simulate: bool,
    /// With --simulate: percentage of commands on one shared key.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub conflicts: u32,
    /// With --simulate: commands each client site completes.
    #[arg(long, default_value_t = 60)]
    pub commands_per_site: usize,
    /// With --simulate: the seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The protocols `--protocol` names.
pub fn protocols(arg: &str) -> Result<Vec<ProtocolName>, String> {
    if arg.eq_ignore_ascii_case("all") {
        Ok(ProtocolName::ALL.to_vec())
    } else {
        Ok(vec![arg.parse()?])
    }
}

/// Reads the table and resolves the regions.
pub fn load(args: &FlintArgs) -> Result<(LatencyTable, Sites), String> {
    let shown = args.table.display();
    let text = std::fs::read_to_string(&args.table).map_err(|e| format!("{shown}: {e}"))?;
    let table = LatencyTable::parse(&text).map_err(|e| format!("{shown}: {e}"))?;
    if table.is_uniform() {
        return Err(format!("{shown}: a region table names regions; a `uniform` line alone gives Flint nothing to choose from"));
    }
    if args.replicas.len() > 16 {
        return Err(format!("--replicas names {} regions; Flint tries every quorum, so at most 16", args.replicas.len()));
    }
    let sites = Sites::from_table(&table, &args.replicas, &args.clients).map_err(|e| format!("{shown}: {e}"))?;
    Ok((table, sites))
}

/// Runs `flint` and returns what it prints.
pub fn run(args: &FlintArgs) -> Result<String, String> {
    let protocols = protocols(&args.protocol)?;
    let (table, sites) = load(args)?;
    let plans: Vec<Plan> = protocols.iter().map(|&p| choose::best_plan(p, &sites, args.minimize)).collect();
    let comparisons = if args.simulate {
        plans.iter().map(|plan| simulate::compare(&table, &sites, plan, args)).collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let written = match &args.export {
        Some(dir) => export::write(dir, &table, &sites, &plans)?,
        None => Vec::new(),
    };
    if args.json {
        let mut value = report::json(args, &sites, &plans);
        if args.simulate {
            value["simulation"] = simulate::json(&sites, &comparisons);
        }
        if let Some(dir) = &args.export {
            value["exported"] = serde_json::json!({ "dir": dir.display().to_string(), "files": written });
        }
        return serde_json::to_string_pretty(&value).map(|s| s + "\n").map_err(|e| e.to_string());
    }
    let mut output = report::text(&sites, &plans);
    if args.simulate {
        output += &simulate::text(&sites, &comparisons);
    }
    if let Some(dir) = &args.export {
        output += &format!("\nexported to {}: {}\n", dir.display(), written.join(", "));
    }
    Ok(output)
}
