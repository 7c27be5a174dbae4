//! `sim`: runs a protocol in the deterministic simulator over many seeds and
//! checks every run (linearizability, agreement, liveness).

use crate::protocol_name::{ProtocolName, WithProtocol};
use clap::Parser;
use hdrhistogram::Histogram;
use net::duration::parse_go_duration;
use net::LatencyTable;
use protocols::protocol::{Protocol, ReplicaProtocol};
use protocols::quorum::FastQuorums;
use protocols::DeliberateBugs;
use runtime::sim::{self, Placement, Restarts, SimConfig, SimOutcome};
use runtime::wire::Wire;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The command line of `sim`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "sim",
    about = "Run a protocol's real code in the deterministic simulator over many seeds and check every run."
)]
pub struct SimArgs {
    /// Protocol: swiftpaxos|swift, paxos, n2paxos, curp, fastpaxos, epaxos (any case).
    #[arg(long, default_value = "paxos", value_parser = str::parse::<ProtocolName>)]
    pub protocol: ProtocolName,
    /// Number of replicas (1 to 64).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub replicas: u16,
    /// How many seeds to run, from --first-seed on.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Run only this seed (to replay a failure); overrides --seeds and --first-seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Commands per run, shared among the clients.
    #[arg(long, default_value_t = 2000)]
    pub commands: usize,
    /// Closed-loop clients, one command outstanding each.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub clients: u32,
    /// Percentage of commands on the one shared key (0-100).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub conflicts: u32,
    /// Percentage of commands that are PUTs (0-100); the rest are GETs.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub writes: u32,
    /// Percentage of the reads that are SCANs of four keys around the key (0-100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub scans: u32,
    /// Inject faults: crashes of up to f replicas (the leader included; with --restarts they come back), healing partitions, delay spikes, jitter.
    #[arg(long)]
    pub faults: bool,
    /// Every pair of distinct nodes (clients included) this far apart one way, in Go syntax (default 10ms).
    #[arg(long, value_parser = parse_go_duration, conflicts_with = "latency")]
    pub delay: Option<Duration>,
    /// A latency file (`A B RTT` lines or `uniform RTT`, round trips) such as the original's latency.conf or a region table.
    #[arg(long)]
    pub latency: Option<PathBuf>,
    /// With --latency: the replicas' sites, comma-separated (default: the file's first N sites).
    #[arg(long, value_delimiter = ',')]
    pub replica_sites: Vec<String>,
    /// With --latency: the sites clients are spread over, comma-separated (default: every site in the file).
    #[arg(long, value_delimiter = ',')]
    pub client_sites: Vec<String>,
    /// Fast quorums (SwiftPaxos): `three-quarters` (any 3n/4+1 replicas with the leader) or `majority` (one fixed majority with the leader: the leader and its successors by id, or the quorum file's).
    #[arg(long, default_value = "three-quarters", value_parser = ["three-quarters", "majority"])]
    pub fast_quorum: String,
    /// A quorum file in the original's format (`l ALIAS` marks the leader, `---` the next ballot's pair, `3/4` the three-quarters kind); aliases are the replica sites of --replica-sites, or 0..n-1 with --delay.
    #[arg(long)]
    pub quorum: Option<PathBuf>,
    /// Clients also ask their closest replica for the result once it executes, and complete on whichever answer comes first (the original's `waitClosest`).
    #[arg(long)]
    pub wait_closest: bool,
    /// Also print latency percentiles and the fast-path share per client site.
    #[arg(long)]
    pub per_site: bool,
    /// Print every violation and the fault schedule of failing seeds.
    #[arg(long)]
    pub verbose: bool,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Crashed replicas restart (with --faults: 1..=f replicas crash and come
    /// back, several times): `durable`, rebuilt from what they had synced to
    /// their simulated disk (sometimes the whole cluster at once), or
    /// `volatile`, empty, rejoining from the others before they act.
    #[arg(long, value_parser = parse_restarts, requires = "faults", default_value = None)]
    pub restarts: Option<Restarts>,
    /// With --restarts durable: the disk lies too. A crash tears the
    /// unsynced tail, the synced log and snapshot of at most f replicas are
    /// damaged while they are down (a restart must find it and rejoin), and
    /// now and then a sync fails (the replica stops and is restarted).
    #[arg(long, requires = "restarts")]
    pub disk_faults: bool,
    /// How many log positions a replica may fall behind before the others
    /// release past it (it then rejoins by state transfer); small by
    /// default so that outages in a short run end in state transfers.
    #[arg(long, default_value_t = runtime::sim::SIM_RELEASE_LAG)]
    pub release_lag: u64,
    /// Test-only: messages leave before the records ahead of them are synced, to see the checkers catch it.
    #[arg(long, hide = true)]
    pub plant_send_before_sync: bool,
    /// Test-only: plant a bug in Multi-Paxos (a new leader skips phase 1) to see the checkers catch it.
    #[arg(long, hide = true)]
    pub plant_paxos_skip_phase1: bool,
    /// Test-only: with --restarts volatile, a restarted replica votes at once instead of rejoining, to see the checkers catch it.
    #[arg(long, hide = true, requires = "restarts")]
    pub plant_rejoin_at_once: bool,
    /// Test-only: with --disk-faults, a replica whose log is damaged cuts it at the first bad entry and votes, to see the checkers catch it.
    #[arg(long, hide = true, requires = "disk_faults")]
    pub plant_trust_damaged_log: bool,
}

/// What a whole `sim` invocation found.
#[derive(Debug)]
pub struct SimReport {
    /// Seeds that passed.
    pub passed: u64,
    /// Seeds that failed, with their violations.
    pub failed: Vec<(u64, Vec<String>)>,
    /// Latencies of every completed command, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Commands completed on a fast path, and commands that reported a path.
    pub fast_path: (u64, u64),
    /// The same per client site, by site name, in placement order.
    pub per_site: Vec<SiteReport>,
    /// Messages simulated, and the wall-clock time spent simulating (summed over threads).
    pub messages: u64,
    /// See `messages`.
    pub busy: Duration,
    /// State transfers installed, and in how many seeds.
    pub state_transfers: (u64, u64),
    /// Restarts rebuilt from a compacted log (a snapshot of the replica),
    /// and in how many seeds: how much the compaction path was exercised.
    pub restored_from_snapshot: (u64, u64),
    /// Volatile restarts that rejoined, and in how many seeds.
    pub rejoins: (u64, u64),
    /// With disk faults: restarts that found a storage fault (and rejoined),
    /// torn tails cut, failed syncs; each with the seeds it happened in.
    pub storage_faults: (u64, u64),
    /// See `storage_faults`.
    pub torn_tails: (u64, u64),
    /// See `storage_faults`.
    pub sync_failures: (u64, u64),
}

/// Latencies and fast-path share of the clients of one site.
#[derive(Debug)]
pub struct SiteReport {
    /// The site's name.
    pub site: String,
    /// Latencies in microseconds.
    pub latency_us: Histogram<u64>,
    /// Fast-path commands, and commands that reported a path.
    pub fast_path: (u64, u64),
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

/// The simulation settings every seed shares.
pub fn base_config(args: &SimArgs) -> Result<SimConfig, String> {
    let replicas = args.replicas as usize;
    let clients = args.clients as usize;
    let placement = match &args.latency {
        None => Placement::uniform(replicas, clients, args.delay.unwrap_or(Duration::from_millis(10))),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let table = LatencyTable::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            if table.is_uniform() {
                let one_way = table.one_way("a", "b").unwrap_or_default();
                Placement::uniform(replicas, clients, one_way)
            } else {
                let replica_sites = if args.replica_sites.is_empty() {
                    if table.names().len() < replicas {
                        return Err(format!(
                            "{}: names {} sites, fewer than {replicas} replicas",
                            path.display(),
                            table.names().len()
                        ));
                    }
                    table.names()[..replicas].to_vec()
                } else {
                    args.replica_sites.clone()
                };
                if replica_sites.len() != replicas {
                    return Err(format!(
                        "--replica-sites names {} sites for {replicas} replicas",
                        replica_sites.len()
                    ));
                }
                let client_sites = if args.client_sites.is_empty() {
                    table.names().to_vec()
                } else {
                    args.client_sites.clone()
                };
                Placement::from_table(&table, &replica_sites, &client_sites, clients)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
        }
    };
    Ok(SimConfig {
        replicas,
        clients,
        commands: args.commands,
        conflicts: args.conflicts,
        writes: args.writes,
        scans: args.scans,
        seed: 0,
        placement,
        faults: args.faults,
        scripted: Vec::new(),
        fast_quorums: fast_quorums(args, &placement_aliases(args, replicas))?,
        bugs: DeliberateBugs {
            paxos_skip_phase1: args.plant_paxos_skip_phase1,
            send_before_sync: args.plant_send_before_sync,
            rejoin_at_once: args.plant_rejoin_at_once,
            trust_damaged_log: args.plant_trust_damaged_log,
            ..DeliberateBugs::default()
        },
        wait_closest: args.wait_closest,
        restarts: args.restarts.unwrap_or_default(),
        disk_faults: args.disk_faults,
        release_lag: args.release_lag,
    })
}

/// The replicas' names as a quorum file refers to them.
fn placement_aliases(args: &SimArgs, replicas: usize) -> Vec<String> {
    if args.latency.is_some() && !args.replica_sites.is_empty() {
        args.replica_sites.clone()
    } else {
        (0..replicas).map(|r| r.to_string()).collect()
    }
}

/// The fast quorums asked for on the command line.
fn fast_quorums(args: &SimArgs, aliases: &[String]) -> Result<FastQuorums, String> {
    if let Some(path) = &args.quorum {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let names: Vec<&str> = aliases.iter().map(String::as_str).collect();
        return protocols::quorum_file::parse(&text, &names).map_err(|e| format!("{}: {e}", path.display()));
    }
    Ok(match args.fast_quorum.as_str() {
        "majority" => FastQuorums::Fixed(Vec::new()),
        _ => FastQuorums::ThreeQuarters,
    })
}

/// Runs one seed of `protocol`.
pub fn run_one(protocol: ProtocolName, config: &SimConfig) -> Result<SimOutcome, String> {
    protocol.dispatch(Simulate(config))
}

/// One seed with `P`, refusing restarts from disk for a protocol that
/// records nothing to restart from.
struct Simulate<'a>(&'a SimConfig);

impl WithProtocol for Simulate<'_> {
    type Output = Result<SimOutcome, String>;
    fn run<P: Protocol>(self) -> Self::Output
    where
        P::Message: Wire,
    {
        if self.0.restarts == Restarts::Durable && !<P::Replica as ReplicaProtocol>::DURABLE {
            return Err(format!(
                "--restarts durable: {} does not record what must survive a crash yet",
                P::NAME
            ));
        }
        if self.0.restarts == Restarts::Volatile && !<P::Replica as ReplicaProtocol>::REJOINS {
            return Err(format!(
                "--restarts volatile: {} cannot rejoin after losing its state yet",
                P::NAME
            ));
        }
        Ok(sim::run::<P>(self.0))
    }
}

/// `--restarts`: `durable` (replicas come back with what they synced) or
/// `volatile` (they come back empty and rejoin, [`protocols::rejoin`]).
fn parse_restarts(text: &str) -> Result<Restarts, String> {
    match text {
        "durable" => Ok(Restarts::Durable),
        "volatile" => Ok(Restarts::Volatile),
        other => Err(format!("`{other}`: expected durable or volatile")),
    }
}

/// Runs every requested seed, spread over threads, and gathers the report.
pub fn run(args: &SimArgs) -> Result<SimReport, String> {
    let base = base_config(args)?;
    run_one(
        args.protocol,
        &SimConfig {
            commands: 0,
            ..base.clone()
        },
    )?;
    let seeds: Vec<u64> = match args.seed {
        Some(s) => vec![s],
        None => (args.first_seed..args.first_seed + args.seeds).collect(),
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(seeds.len()).max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                let started = Instant::now();
                let outcome = run_one(args.protocol, &SimConfig { seed, ..base.clone() });
                let took = started.elapsed();
                if let Ok(outcome) = outcome {
                    let violations = outcome.violations();
                    results
                        .lock()
                        .expect("no worker panics while holding the lock")
                        .push((seed, outcome, violations, took));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("workers are done");
    results.sort_by_key(|(seed, ..)| *seed);

    let mut report = SimReport {
        passed: 0,
        failed: Vec::new(),
        latency_us: new_histogram(),
        fast_path: (0, 0),
        per_site: Vec::new(),
        messages: 0,
        busy: Duration::ZERO,
        state_transfers: (0, 0),
        restored_from_snapshot: (0, 0),
        rejoins: (0, 0),
        storage_faults: (0, 0),
        torn_tails: (0, 0),
        sync_failures: (0, 0),
    };
    for (seed, outcome, violations, took) in results {
        for s in &outcome.samples {
            let us = s.latency.as_micros() as u64;
            report.latency_us.saturating_record(us);
            let name = &base.placement.matrix.sites()[s.site];
            let site = match report.per_site.iter().position(|r| &r.site == name) {
                Some(i) => i,
                None => {
                    report.per_site.push(SiteReport {
                        site: name.clone(),
                        latency_us: new_histogram(),
                        fast_path: (0, 0),
                    });
                    report.per_site.len() - 1
                }
            };
            report.per_site[site].latency_us.saturating_record(us);
            if let Some(fast) = s.fast_path {
                report.fast_path.0 += u64::from(fast);
                report.fast_path.1 += 1;
                report.per_site[site].fast_path.0 += u64::from(fast);
                report.per_site[site].fast_path.1 += 1;
            }
        }
        report.messages += outcome.messages;
        report.busy += took;
        report.state_transfers.0 += outcome.state_transfers;
        report.state_transfers.1 += u64::from(outcome.state_transfers > 0);
        report.restored_from_snapshot.0 += outcome.restored_from_snapshot;
        report.restored_from_snapshot.1 += u64::from(outcome.restored_from_snapshot > 0);
        report.rejoins.0 += outcome.rejoins;
        report.rejoins.1 += u64::from(outcome.rejoins > 0);
        for (total, count) in [
            (&mut report.storage_faults, outcome.storage_faults),
            (&mut report.torn_tails, outcome.torn_tails),
            (&mut report.sync_failures, outcome.sync_failures),
        ] {
            total.0 += count;
            total.1 += u64::from(count > 0);
        }
        if violations.is_empty() {
            report.passed += 1;
        } else {
            let mut shown = violations;
            if args.verbose {
                shown.extend(outcome.faults.iter().map(|f| format!("fault: {f}")));
                shown.extend(outcome.replica_states.iter().map(|s| format!("state: {s}")));
            }
            report.failed.push((seed, shown));
        }
    }
    Ok(report)
}

/// The command that replays `seed` with the same settings.
pub fn replay_command(args: &SimArgs, seed: u64) -> String {
    let mut cmd = format!(
        "sim --protocol {} --replicas {} --commands {} --clients {} --conflicts {} --writes {}",
        args.protocol, args.replicas, args.commands, args.clients, args.conflicts, args.writes
    );
    if args.scans > 0 {
        cmd += &format!(" --scans {}", args.scans);
    }
    if args.release_lag != runtime::sim::SIM_RELEASE_LAG {
        cmd += &format!(" --release-lag {}", args.release_lag);
    }
    if args.faults {
        cmd += " --faults";
    }
    match args.restarts {
        Some(Restarts::Durable) => cmd += " --restarts durable",
        Some(Restarts::Volatile) => cmd += " --restarts volatile",
        _ => {}
    }
    if args.disk_faults {
        cmd += " --disk-faults";
    }
    if let Some(path) = &args.latency {
        cmd += &format!(" --latency {}", path.display());
        if !args.replica_sites.is_empty() {
            cmd += &format!(" --replica-sites {}", args.replica_sites.join(","));
        }
        if !args.client_sites.is_empty() {
            cmd += &format!(" --client-sites {}", args.client_sites.join(","));
        }
    } else if let Some(d) = args.delay {
        cmd += &format!(" --delay {}ms", d.as_secs_f64() * 1e3);
    }
    if args.fast_quorum != "three-quarters" {
        cmd += &format!(" --fast-quorum {}", args.fast_quorum);
    }
    if let Some(path) = &args.quorum {
        cmd += &format!(" --quorum {}", path.display());
    }
    if args.wait_closest {
        cmd += " --wait-closest";
    }
    if args.plant_paxos_skip_phase1 {
        cmd += " --plant-paxos-skip-phase1";
    }
    if args.plant_send_before_sync {
        cmd += " --plant-send-before-sync";
    }
    if args.plant_rejoin_at_once {
        cmd += " --plant-rejoin-at-once";
    }
    if args.plant_trust_damaged_log {
        cmd += " --plant-trust-damaged-log";
    }
    cmd + &format!(" --seed {seed} --verbose")
}

/// Prints the report as the issue asks: failing seeds with their replay
/// command, latency percentiles, and `N passed, M failed` last.
pub fn print(args: &SimArgs, report: &SimReport) {
    for (seed, violations) in &report.failed {
        let limit = if args.verbose { violations.len() } else { 3 };
        println!("FAIL seed {seed}:");
        for v in violations.iter().take(limit) {
            println!("  {v}");
        }
        if violations.len() > limit {
            println!("  … {} more (add --verbose)", violations.len() - limit);
        }
        println!("  replay: {}", replay_command(args, *seed));
    }
    let h = &report.latency_us;
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        println!("latency: no command completed");
    } else {
        println!(
            "latency (simulated ms, {} commands): p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            h.len(),
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.9)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        );
    }
    if report.fast_path.1 > 0 {
        println!(
            "fast path: {:.1}% of {} commands",
            100.0 * report.fast_path.0 as f64 / report.fast_path.1 as f64,
            report.fast_path.1
        );
    }
    if args.per_site {
        println!(
            "{:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "client site", "commands", "p50 ms", "p90 ms", "p99 ms", "max ms", "fast path"
        );
        for site in &report.per_site {
            let h = &site.latency_us;
            let fast = if site.fast_path.1 > 0 {
                format!("{:.1}%", 100.0 * site.fast_path.0 as f64 / site.fast_path.1 as f64)
            } else {
                "-".into()
            };
            println!(
                "{:<16} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10}",
                site.site,
                h.len(),
                ms(h.value_at_quantile(0.5)),
                ms(h.value_at_quantile(0.9)),
                ms(h.value_at_quantile(0.99)),
                ms(h.max()),
                fast
            );
        }
    }
    let secs = report.busy.as_secs_f64();
    if secs > 0.0 {
        println!(
            "simulator: {} messages in {:.2} s of one core's time: {:.2} M messages/s per core",
            report.messages,
            secs,
            report.messages as f64 / secs / 1e6
        );
    }
    if report.state_transfers.0 > 0 {
        println!(
            "state transfers: {} in {} seeds (replicas that fell {} positions behind)",
            report.state_transfers.0, report.state_transfers.1, args.release_lag
        );
    }
    if report.restored_from_snapshot.0 > 0 {
        println!(
            "restarts from a compacted log: {} in {} seeds",
            report.restored_from_snapshot.0, report.restored_from_snapshot.1
        );
    }
    if args.restarts == Some(Restarts::Volatile) {
        println!(
            "volatile restarts rejoined: {} in {} seeds",
            report.rejoins.0, report.rejoins.1
        );
    }
    if args.disk_faults {
        let (faults, torn, failed) = (report.storage_faults, report.torn_tails, report.sync_failures);
        println!(
            "storage faults found at restart (rejoined instead): {} in {} seeds",
            faults.0, faults.1
        );
        println!(
            "torn tails cut at restart: {} in {} seeds; failed syncs (replica stopped): {} in {} seeds",
            torn.0, torn.1, failed.0, failed.1
        );
    }
    println!("{} passed, {} failed", report.passed, report.failed.len());
}
