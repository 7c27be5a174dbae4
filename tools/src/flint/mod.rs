//! `flint`: given replica and client regions and a region latency table,
//! estimates each protocol's latency per client, choosing the leader (and
//! SwiftPaxos's fixed fast quorum) that serves the clients best, and can
//! check its estimates against the simulator running the real protocol code
//! (`--simulate`). With no placement given it opens an interactive view
//! (`--tui`).

pub mod accord;
pub mod choose;
pub mod export;
pub mod formulas;
pub mod regions;
pub mod report;
pub mod simulate;
pub mod sites;
pub mod table;
pub mod tui;

use crate::protocol_name::ProtocolName;
use choose::{Criteria, LeaderRule, Objective, Plan};
use clap::Parser;
use formulas::Estimate;
use net::LatencyTable;
use sites::Sites;
use std::path::PathBuf;

/// The command line of `flint`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "flint",
    about = "Estimate each protocol's latency per client site from a region latency table, choosing the best leader and fast quorum. With no --replicas and --clients, opens the interactive view."
)]
pub struct FlintArgs {
    /// Region latency table: lines `REGION REGION RTT` (round trips, Go duration syntax), as shared/reference/aws-latency-table.txt, or CSV (a matrix with a header row of regions, or `REGION,REGION,RTT` rows). Without it, a bundled model of AWS regions (great-circle distance).
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Replica regions, comma-separated (at most 16).
    #[arg(long, value_delimiter = ',')]
    pub replicas: Vec<String>,
    /// Client regions, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub clients: Vec<String>,
    /// A protocol (swiftpaxos|swift, paxos, n2paxos, curp, fastpaxos, epaxos, accord; any case) or `all`.
    #[arg(long, default_value = "all")]
    pub protocol: String,
    /// Which path decides the leader (and fast quorum): the slow path, ties settled by the fast path (the original Flint's rule, robust when commands conflict), or the fast path, ties settled by the slow path.
    #[arg(long, value_enum, default_value = "slow-path")]
    pub leader_rule: LeaderRule,
    /// How clients are combined when choosing: their mean, or the worst-served client.
    #[arg(long, value_enum, default_value = "average")]
    pub minimize: Objective,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Write the chosen placement's deployment config (with its `-- Proxy --` section), latency file, quorum files and the estimates into this directory.
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
    /// Open the interactive view (the default when neither --replicas nor --clients is given); --replicas and --clients preselect regions.
    #[arg(long)]
    pub tui: bool,
}

impl FlintArgs {
    /// How the leader is chosen.
    pub fn criteria(&self) -> Criteria {
        Criteria {
            rule: self.leader_rule,
            minimize: self.minimize,
        }
    }

    /// Whether `flint` should open the interactive view.
    pub fn wants_tui(&self) -> bool {
        self.tui || (self.replicas.is_empty() && self.clients.is_empty())
    }
}

/// What `--protocol` asks to estimate: some of our protocols, and Accord.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Our protocols, in the order reports list them.
    pub protocols: Vec<ProtocolName>,
    /// Whether the Accord estimate (not implemented here) is included.
    pub accord: bool,
}

/// The protocols `--protocol` names.
pub fn selection(arg: &str) -> Result<Selection, String> {
    if arg.eq_ignore_ascii_case("all") {
        Ok(Selection {
            protocols: ProtocolName::ALL.to_vec(),
            accord: true,
        })
    } else if arg.eq_ignore_ascii_case("accord") {
        Ok(Selection {
            protocols: Vec::new(),
            accord: true,
        })
    } else {
        Ok(Selection {
            protocols: vec![arg.parse()?],
            accord: false,
        })
    }
}

/// Resolves the regions against the table.
pub fn resolve(table: &LatencyTable, replicas: &[String], clients: &[String]) -> Result<Sites, String> {
    if replicas.len() > 16 {
        return Err(format!(
            "--replicas names {} regions; Flint tries every quorum, so at most 16",
            replicas.len()
        ));
    }
    Sites::from_table(table, replicas, clients)
}

/// Every estimate of one placement.
#[derive(Clone, Debug)]
pub struct Estimates {
    /// One plan per selected protocol of ours.
    pub plans: Vec<Plan>,
    /// Accord's per-client estimates, when selected.
    pub accord: Option<Vec<Estimate>>,
}

/// Estimates `selection` on `sites`.
pub fn estimate(sites: &Sites, selection: &Selection, criteria: Criteria) -> Estimates {
    Estimates {
        plans: selection
            .protocols
            .iter()
            .map(|&p| choose::best_plan(p, sites, criteria))
            .collect(),
        accord: selection
            .accord
            .then(|| (0..sites.clients.len()).map(|c| accord::estimate(sites, c)).collect()),
    }
}

/// Runs `flint` without the interactive view and returns what it prints.
pub fn run(args: &FlintArgs) -> Result<String, String> {
    let selection = selection(&args.protocol)?;
    let loaded = table::load(args.table.as_deref())?;
    let sites = resolve(&loaded.table, &args.replicas, &args.clients)?;
    let estimates = estimate(&sites, &selection, args.criteria());
    let comparisons = if args.simulate {
        estimates
            .plans
            .iter()
            .map(|plan| simulate::compare(&loaded.table, &sites, plan, args))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let text = report::text(&sites, &estimates, args.criteria(), &loaded.source);
    let written = match &args.export {
        Some(dir) => export::write(dir, &loaded.table, &sites, &estimates, &text)?,
        None => Vec::new(),
    };
    if args.json {
        let mut value = report::json(&sites, &estimates, args.criteria(), &loaded.source);
        if args.simulate {
            value["simulation"] = simulate::json(&sites, &comparisons);
        }
        if let Some(dir) = &args.export {
            value["exported"] = serde_json::json!({ "dir": dir.display().to_string(), "files": written });
        }
        return serde_json::to_string_pretty(&value)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string());
    }
    let mut output = text;
    if args.simulate {
        output += &simulate::text(&sites, &comparisons);
    }
    if let Some(dir) = &args.export {
        output += &format!("\nexported to {}: {}\n", dir.display(), written.join(", "));
    }
    Ok(output)
}
