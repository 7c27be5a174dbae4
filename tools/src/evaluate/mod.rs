//! `evaluate`: the paper's geo evaluation (NSDI '24, Figure 7) reproduced
//! in the deterministic simulator with the real protocol code — 5 replicas
//! and 13 client sites from the reference deployment, each client on the
//! replica its `-- Proxy --` entry names, conflict rates from 0 to 100% —
//! plus Flint's estimates beside the simulated medians. Writes CSV and PNG
//! under `results/geo/`.

use crate::deployment;
use crate::flint::choose::{plan_with, Plan};
use crate::flint::formulas;
use crate::flint::simulate::{explain, per_site, sim_config};
use crate::flint::sites::Sites;
use crate::protocol_name::ProtocolName;
use bench::plots::{self, Panel, Series};
use clap::Parser;
use net::LatencyTable;
use protocols::quorum::FastQuorums;
use runtime::sim::SimConfig;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The command line of `evaluate`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "evaluate",
    about = "Reproduce the paper's geo evaluation (speedup over Paxos per conflict rate, latency CDF) in the simulator; write CSV and PNG."
)]
pub struct EvaluateArgs {
    /// Folder with aws.conf, quorum.conf and aws-latency-table.txt.
    #[arg(long, default_value = "../shared/reference")]
    pub reference: PathBuf,
    /// Where to write the CSV and PNG files.
    #[arg(long, default_value = "results/geo")]
    pub out: PathBuf,
    /// Conflict rates (percent), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0u32, 2, 5, 10, 25, 50, 100])]
    pub conflicts: Vec<u32>,
    /// Closed-loop clients per client site.
    #[arg(long, default_value_t = 10)]
    pub clients_per_site: usize,
    /// Commands per client.
    #[arg(long, default_value_t = 100)]
    pub commands_per_client: usize,
    /// The simulator's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// A folder of `bench --latency TABLE --replica-sites … --client-sites …`
    /// results (JSON) to compare with the simulated medians at the same
    /// conflict rate (`tools/evaluate.sh` makes them). Skipped if absent.
    #[arg(long, default_value = "results/geo/runtime")]
    pub runtime: PathBuf,
}

/// What the runtime comparison allows before it asks for an explanation.
pub const RUNTIME_TOLERANCE: f64 = 0.10;

/// One protocol as the evaluation runs it.
#[derive(Clone, Debug)]
pub struct Variant {
    /// The label in files and legends.
    pub label: &'static str,
    /// The protocol.
    pub protocol: ProtocolName,
    /// SwiftPaxos with three-quarters fast quorums instead of the file's fixed one.
    pub three_quarters: bool,
}

/// Every protocol; SwiftPaxos in both fast-quorum kinds.
pub const VARIANTS: [Variant; 7] = [
    Variant {
        label: "SwiftPaxos",
        protocol: ProtocolName::SwiftPaxos,
        three_quarters: false,
    },
    Variant {
        label: "SwiftPaxos-3/4",
        protocol: ProtocolName::SwiftPaxos,
        three_quarters: true,
    },
    Variant {
        label: "Paxos",
        protocol: ProtocolName::Paxos,
        three_quarters: false,
    },
    Variant {
        label: "N2Paxos",
        protocol: ProtocolName::N2Paxos,
        three_quarters: false,
    },
    Variant {
        label: "CURP",
        protocol: ProtocolName::Curp,
        three_quarters: false,
    },
    Variant {
        label: "FastPaxos",
        protocol: ProtocolName::FastPaxos,
        three_quarters: false,
    },
    Variant {
        label: "EPaxos",
        protocol: ProtocolName::EPaxos,
        three_quarters: false,
    },
];

/// The reference deployment, resolved.
pub struct Setup {
    /// The region table.
    pub table: LatencyTable,
    /// Replicas (the quorum file's leader first) and the 13 client sites.
    pub sites: Sites,
    /// The quorum file, over `sites.replicas`.
    pub fixed: FastQuorums,
    /// The fixed fast quorum of the leader (replica 0).
    pub fixed_quorum: Vec<usize>,
}

fn read(dir: &Path, name: &str) -> Result<(String, String), String> {
    let path = dir.join(name);
    let shown = path.display().to_string();
    std::fs::read_to_string(&path)
        .map(|text| (text, shown.clone()))
        .map_err(|e| format!("{shown}: {e}"))
}

/// Reads the reference files. Client sites: the config's clients, then
/// every replica region no client is listed in (13 for the reference).
/// Each client must use its closest replica, as the `-- Proxy --` section
/// of the reference says; the simulator sends clients there.
pub fn setup(reference: &Path) -> Result<Setup, String> {
    let (text, shown) = read(reference, "aws.conf")?;
    let config = deployment::parse(&text, &shown).map_err(|e| e.to_string())?;
    let (text, shown) = read(reference, "aws-latency-table.txt")?;
    let table = LatencyTable::parse(&text).map_err(|e| format!("{shown}: {e}"))?;
    let (quorum_text, quorum_shown) = read(reference, "quorum.conf")?;
    let aliases: Vec<&str> = config.replicas.iter().map(|n| n.alias.as_str()).collect();
    let FastQuorums::Fixed(entries) =
        protocols::quorum_file::parse(&quorum_text, &aliases).map_err(|e| format!("{quorum_shown}: {e}"))?
    else {
        return Err(format!(
            "{quorum_shown}: the evaluation needs a fixed fast quorum with its leader (`l ALIAS`)"
        ));
    };
    let Some(&(leader, _)) = entries.first() else {
        return Err(format!("{quorum_shown}: no leader"));
    };
    let mut replicas: Vec<String> = aliases.iter().map(|a| a.to_string()).collect();
    let leader_name = replicas.remove(leader);
    replicas.insert(0, leader_name);
    let names: Vec<&str> = replicas.iter().map(String::as_str).collect();
    let fixed = protocols::quorum_file::parse(&quorum_text, &names).map_err(|e| format!("{quorum_shown}: {e}"))?;
    let fixed_quorum: Vec<usize> = match &fixed {
        FastQuorums::Fixed(entries) => entries.first().map(|(_, q)| q.iter().collect()).unwrap_or_default(),
        FastQuorums::ThreeQuarters => Vec::new(),
    };
    let mut clients: Vec<String> = config.clients.iter().map(|n| n.alias.clone()).collect();
    for r in &replicas {
        if !clients.contains(r) {
            clients.push(r.clone());
        }
    }
    let sites = Sites::from_table(&table, &replicas, &clients)?;
    for (c, client) in sites.clients.iter().enumerate() {
        let proxy = config.proxy.get(client).cloned().unwrap_or_else(|| client.clone());
        let closest = &sites.replicas[sites.closest(c)];
        if &proxy != closest {
            return Err(format!("client `{client}`: the Proxy section names `{proxy}` but the closest replica is `{closest}`; the simulator sends clients to the closest"));
        }
    }
    Ok(Setup {
        table,
        sites,
        fixed,
        fixed_quorum,
    })
}

/// The estimate plan of `variant` (the leader is replica 0).
pub fn plan(setup: &Setup, variant: &Variant) -> Plan {
    let mut plan = plan_with(variant.protocol, &setup.sites, 0, &setup.fixed_quorum);
    if variant.three_quarters {
        plan.fast_quorum = None;
        plan.estimates = (0..setup.sites.clients.len())
            .map(|c| formulas::swiftpaxos_three_quarters(&setup.sites, c, 0))
            .collect();
    }
    plan
}

/// The simulator's settings for `variant` at `conflicts`%.
pub fn config(setup: &Setup, variant: &Variant, conflicts: u32, args: &EvaluateArgs) -> Result<SimConfig, String> {
    let plan = plan(setup, variant);
    let mut config = sim_config(
        &setup.table,
        &setup.sites,
        &plan,
        conflicts,
        args.commands_per_client * args.clients_per_site,
        args.seed,
    )?;
    let clients = setup.sites.clients.len() * args.clients_per_site;
    config.placement =
        runtime::sim::Placement::from_table(&setup.table, &setup.sites.replicas, &setup.sites.clients, clients)
            .map_err(|e| e.to_string())?;
    config.clients = clients;
    config.commands = clients * args.commands_per_client;
    config.fast_quorums = if variant.three_quarters {
        FastQuorums::ThreeQuarters
    } else {
        setup.fixed.clone()
    };
    Ok(config)
}

/// What one (variant, conflict rate) run gave.
pub struct RunResult {
    /// Index into [`VARIANTS`].
    pub variant: usize,
    /// The conflict rate.
    pub conflicts: u32,
    /// Per client site: median ms, fast-path share, sorted latencies.
    pub sites: Vec<(Option<f64>, Option<f64>, Vec<f64>)>,
}

/// Runs every (variant, rate) in the simulator, checking each run.
pub fn simulate_all(setup: &Setup, args: &EvaluateArgs) -> Result<Vec<RunResult>, String> {
    let jobs: Vec<(usize, u32)> = (0..VARIANTS.len())
        .flat_map(|v| args.conflicts.iter().map(move |&c| (v, c)))
        .collect();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(jobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(v, conflicts)) = jobs.get(i) else { break };
                let result = (|| {
                    let config = config(setup, &VARIANTS[v], conflicts, args)?;
                    let outcome = crate::sim::run_one(VARIANTS[v].protocol, &config)?;
                    let violations = outcome.violations();
                    if !violations.is_empty() {
                        return Err(format!(
                            "{} at {conflicts}%: the run failed its checks: {}",
                            VARIANTS[v].label,
                            violations.join("; ")
                        ));
                    }
                    Ok(RunResult {
                        variant: v,
                        conflicts,
                        sites: per_site(&outcome, &config, &setup.sites),
                    })
                })();
                results.lock().expect("no worker panics holding the lock").push(result);
            });
        }
    });
    let mut results = results
        .into_inner()
        .expect("workers are done")
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    results.sort_by_key(|r| (r.variant, r.conflicts));
    Ok(results)
}

/// Speedup of a protocol over Paxos at one rate, on mean latencies (the
/// median hides a conflict rate below half the commands): over the mean of
/// the sites' means, and the best and worst site's own ratio (with the site).
#[derive(Clone, Debug)]
pub struct Speedup {
    /// Paxos's mean over the sites' mean latency, over the protocol's.
    pub average: f64,
    /// The largest per-site ratio, and its site.
    pub best: (f64, usize),
    /// The smallest per-site ratio, and its site.
    pub worst: (f64, usize),
}

fn means(run: &RunResult) -> Vec<f64> {
    run.sites
        .iter()
        .map(|s| {
            if s.2.is_empty() {
                f64::NAN
            } else {
                s.2.iter().sum::<f64>() / s.2.len() as f64
            }
        })
        .collect()
}

/// The speedup of `run` over `paxos` (same rate).
pub fn speedup(run: &RunResult, paxos: &RunResult) -> Speedup {
    let (mine, theirs) = (means(run), means(paxos));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratios: Vec<f64> = theirs.iter().zip(&mine).map(|(p, m)| p / m).collect();
    let mut best = (f64::NEG_INFINITY, 0);
    let mut worst = (f64::INFINITY, 0);
    for (site, &r) in ratios.iter().enumerate() {
        if r > best.0 {
            best = (r, site);
        }
        if r < worst.0 {
            worst = (r, site);
        }
    }
    Speedup {
        average: mean(&theirs) / mean(&mine),
        best,
        worst,
    }
}

/// Runs the whole evaluation and writes its files; returns a summary.
pub fn run(args: &EvaluateArgs) -> Result<String, String> {
    let started = std::time::Instant::now();
    let setup = setup(&args.reference)?;
    if !args.conflicts.contains(&0) || !args.conflicts.contains(&2) {
        return Err("--conflicts must include 0 (estimate comparison) and 2 (the CDF)".into());
    }
    let results = simulate_all(&setup, args)?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let find = |v: usize, c: u32| results.iter().find(|r| r.variant == v && r.conflicts == c);
    let paxos = VARIANTS
        .iter()
        .position(|v| v.protocol == ProtocolName::Paxos)
        .expect("Paxos is a variant");
    let sites = &setup.sites;

    // Figure 7a: speedups.
    let mut speedup_csv = String::from("protocol,conflicts_pct,average,best,best_site,worst,worst_site\n");
    let mut medians_csv = String::from(
        "protocol,conflicts_pct,site,proxy,mean_ms,median_ms,p99_ms,fast_share,estimate_fast_ms,estimate_slow_ms\n",
    );
    let mut panels: Vec<Panel> = ["average site", "best site", "worst site"]
        .iter()
        .map(|t| Panel {
            title: t.to_string(),
            x_label: "conflict rate (%)".into(),
            y_label: "speedup over Paxos, mean latency (×)".into(),
            series: Vec::new(),
            reference: Some(1.0),
            x_names: Some(args.conflicts.iter().map(|c| c.to_string()).collect()),
            x_max: None,
            legend: plots::SeriesLabelPosition::LowerLeft,
            markers: Vec::new(),
            y_max: None,
            log_y: false,
        })
        .collect();
    for (v, variant) in VARIANTS.iter().enumerate() {
        let plan = plan(&setup, variant);
        let mut lines = [Vec::new(), Vec::new(), Vec::new()];
        for (i, &c) in args.conflicts.iter().enumerate() {
            let (Some(run), Some(base)) = (find(v, c), find(paxos, c)) else {
                continue;
            };
            let s = speedup(run, base);
            let _ = writeln!(
                speedup_csv,
                "{},{c},{:.4},{:.4},{},{:.4},{}",
                variant.label, s.average, s.best.0, sites.clients[s.best.1], s.worst.0, sites.clients[s.worst.1]
            );
            lines[0].push((i as f64, s.average));
            lines[1].push((i as f64, s.best.0));
            lines[2].push((i as f64, s.worst.0));
            let site_means = means(run);
            for (site, (median, fast, sorted)) in run.sites.iter().enumerate() {
                let e = plan.estimates[site];
                let p99 = sorted
                    .get((sorted.len() * 99).div_ceil(100).saturating_sub(1))
                    .map_or(String::new(), |v| format!("{v:.1}"));
                let _ = writeln!(
                    medians_csv,
                    "{},{c},{},{},{:.1},{},{p99},{},{},{:.1}",
                    variant.label,
                    sites.clients[site],
                    sites.replicas[sites.closest(site)],
                    site_means[site],
                    median.map_or(String::new(), |m| format!("{m:.1}")),
                    fast.map_or(String::new(), |f| format!("{f:.3}")),
                    e.fast.map_or(String::new(), |f| format!("{f:.1}")),
                    e.slow
                );
            }
        }
        if variant.protocol != ProtocolName::Paxos {
            for (panel, points) in panels.iter_mut().zip(lines) {
                panel.series.push(Series {
                    label: variant.label.to_string(),
                    points,
                });
            }
        }
    }
    write(&args.out, "speedup.csv", &speedup_csv)?;
    write(&args.out, "site_medians.csv", &medians_csv)?;
    plots::write_png(
        &args.out.join("speedup.png"),
        "Latency speedup over Paxos, 5 replicas, 13 client sites (simulated, real protocol code)",
        &panels,
        (560, 460),
    )?;

    // Figure 7b: CDF at 2%.
    let mut cdf_csv = String::from("protocol,percentile,latency_ms\n");
    let mut cdf = Panel {
        title: "2% conflicts, every client site".into(),
        x_label: "latency (ms)".into(),
        y_label: "fraction of commands".into(),
        series: Vec::new(),
        reference: None,
        x_names: None,
        x_max: None,
        legend: plots::SeriesLabelPosition::LowerRight,
        markers: Vec::new(),
        y_max: None,
        log_y: false,
    };
    let mut largest_p99: f64 = 0.0;
    for (v, variant) in VARIANTS.iter().enumerate() {
        let Some(run) = find(v, 2) else { continue };
        let mut all: Vec<f64> = run.sites.iter().flat_map(|s| s.2.iter().copied()).collect();
        all.sort_by(f64::total_cmp);
        if all.is_empty() {
            continue;
        }
        largest_p99 = largest_p99.max(all[(all.len() * 99).div_ceil(100).saturating_sub(1)]);
        let mut points = Vec::new();
        for p in 0..=200 {
            let q = p as f64 / 200.0;
            let idx = ((q * all.len() as f64).ceil() as usize).clamp(1, all.len()) - 1;
            points.push((all[idx], q));
            if p % 2 == 0 {
                let _ = writeln!(cdf_csv, "{},{},{:.1}", variant.label, p / 2, all[idx]);
            }
        }
        cdf.series.push(Series {
            label: variant.label.to_string(),
            points,
        });
    }
    write(&args.out, "cdf_conflicts_2.csv", &cdf_csv)?;
    cdf.x_max = Some(largest_p99 * 1.05);
    cdf.title += " (x axis cut after the slowest protocol's p99; the CSV has every percentile)";
    plots::write_png(
        &args.out.join("cdf.png"),
        "Latency CDF (simulated)",
        &[cdf],
        (1000, 560),
    )?;

    // Flint's estimates against the simulator at 0% and 2%.
    let mut compare_csv =
        String::from("protocol,conflicts_pct,site,estimate_ms,simulated_median_ms,diff_pct,fast_share,flag\n");
    let mut flagged = 0;
    let mut compared = 0;
    for (v, variant) in VARIANTS.iter().enumerate() {
        let plan = plan(&setup, variant);
        for c in [0, 2] {
            let Some(run) = find(v, c) else { continue };
            for (site, (median, fast, _)) in run.sites.iter().enumerate() {
                let (Some(median), e) = (median, plan.estimates[site]) else {
                    continue;
                };
                let flag = explain(variant.protocol, e.fast, e.slow, *median, *fast);
                compared += 1;
                flagged += usize::from(flag.is_some());
                let _ = writeln!(
                    compare_csv,
                    "{},{c},{},{:.1},{:.1},{:+.1},{},\"{}\"",
                    variant.label,
                    sites.clients[site],
                    e.expected(),
                    median,
                    100.0 * (median - e.expected()) / e.expected(),
                    fast.map_or(String::new(), |f| format!("{f:.3}")),
                    flag.unwrap_or_default().replace('"', "'")
                );
            }
        }
    }
    write(&args.out, "estimate_vs_simulation.csv", &compare_csv)?;

    let runtime = compare_runtime(args, &setup, &results)?;
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "replicas: {} (leader {}), client sites: {}",
        sites.replicas.join(", "),
        sites.replicas[0],
        sites.clients.len()
    );
    let _ = writeln!(
        summary,
        "{:<16} {}",
        "speedup (avg)",
        args.conflicts.iter().map(|c| format!("{c:>6}%")).collect::<String>()
    );
    for (v, variant) in VARIANTS.iter().enumerate() {
        let row: String = args
            .conflicts
            .iter()
            .map(|&c| match (find(v, c), find(paxos, c)) {
                (Some(r), Some(p)) => format!("{:>7.2}", speedup(r, p).average),
                _ => format!("{:>7}", "-"),
            })
            .collect();
        let _ = writeln!(summary, "{:<16} {row}", variant.label);
    }
    let _ = writeln!(summary, "estimate vs simulation: {flagged} of {compared} site medians differ by more than 5% (reasons in estimate_vs_simulation.csv)");
    match runtime {
        Some((compared, flagged)) => {
            let _ = writeln!(summary, "runtime vs simulation: {flagged} of {compared} site medians differ by more than 10% (runtime_vs_simulation.csv)");
        }
        None => {
            let _ = writeln!(
                summary,
                "runtime vs simulation: no bench results in {} (run tools/evaluate.sh)",
                args.runtime.display()
            );
        }
    }
    let _ = writeln!(
        summary,
        "wrote {} in {:.0} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(summary)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The variant a `bench` run corresponds to: bench builds its quorums with
/// `QuorumSystem::new`, so its SwiftPaxos uses three-quarters fast quorums.
fn variant_of_bench(protocol: &str) -> Option<usize> {
    let name: ProtocolName = protocol.parse().ok()?;
    VARIANTS
        .iter()
        .position(|v| v.protocol == name && (name != ProtocolName::SwiftPaxos || v.three_quarters))
}

/// Reads the bench results in `--runtime`, writes `runtime_vs_simulation.csv`
/// (bench p50 per site against the simulated median at the same conflict
/// rate), and returns (sites compared, sites over 10%); `None` without results.
fn compare_runtime(
    args: &EvaluateArgs,
    setup: &Setup,
    results: &[RunResult],
) -> Result<Option<(usize, usize)>, String> {
    let Ok(entries) = std::fs::read_dir(&args.runtime) else {
        return Ok(None);
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Ok(None);
    }
    let mut csv = String::from(
        "protocol,conflicts_pct,site,simulated_median_ms,runtime_p50_ms,diff_pct,runtime_commands,flag,bench_command\n",
    );
    let (mut compared, mut flagged) = (0, 0);
    for path in files {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{shown}: {e}"))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
        let protocol = json["protocol"]
            .as_str()
            .ok_or_else(|| format!("{shown}: no `protocol`"))?;
        let conflicts = json["conflicts"]
            .as_u64()
            .ok_or_else(|| format!("{shown}: no `conflicts`"))? as u32;
        let Some(v) = variant_of_bench(protocol) else {
            return Err(format!("{shown}: unknown protocol `{protocol}`"));
        };
        let Some(run) = results.iter().find(|r| r.variant == v && r.conflicts == conflicts) else {
            return Err(format!(
                "{shown}: no simulation at {conflicts}% conflicts to compare with"
            ));
        };
        let command = json["command"].as_str().unwrap_or_default().replace('"', "'");
        for site in json["per_site"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let name = site["site"].as_str().unwrap_or_default();
            let (Some(p50), Some(c)) = (
                site["latency_ms"]["p50"].as_f64(),
                setup.sites.clients.iter().position(|s| s == name),
            ) else {
                continue;
            };
            let Some(simulated) = run.sites[c].0 else { continue };
            let diff = (p50 - simulated) / simulated;
            let flag = if diff.abs() > RUNTIME_TOLERANCE {
                "over 10%: see results/geo/README.md"
            } else {
                ""
            };
            compared += 1;
            flagged += usize::from(!flag.is_empty());
            let _ = writeln!(
                csv,
                "{},{conflicts},{name},{simulated:.1},{p50:.1},{:+.1},{},{flag},\"{command}\"",
                VARIANTS[v].label,
                100.0 * diff,
                site["completed"].as_u64().unwrap_or(0)
            );
        }
    }
    write(&args.out, "runtime_vs_simulation.csv", &csv)?;
    Ok(Some((compared, flagged)))
}
