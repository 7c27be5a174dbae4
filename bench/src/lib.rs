//! The load generator behind the `bench` binary.
//!
//! It starts `--replicas` replicas of the chosen protocol in this process,
//! each on its own glommio executor and TCP port on 127.0.0.1, and runs
//! `--clients × --outstanding` closed-loop logical clients on client
//! executors that connect to them like any remote client would. After
//! `--warmup` it measures for `--duration` and reports.

mod report;

pub use report::{Memory, SiteSummary, Summary};

use clap::Parser;
use glommio::LocalExecutorBuilder;
use protocols::protocol::Protocol;
use protocols::quorum::QuorumSystem;
use protocols::{DeliberateBugs, ReplicaConfig, Timing};
use runtime::live::clients::{run_clients, ClientHostReport, ClientHostSpec, Workload};
use runtime::live::cores::{CorePlan, Pinning};
use runtime::live::link::Delays;
use runtime::live::server::{run_replica, ReplicaSpec};
use runtime::live::wire::Wire;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tools::protocol_name::ProtocolName;

/// `bench`'s command line.
#[derive(Parser, Debug, Clone)]
#[command(name = "bench", about = "Closed-loop benchmark of a protocol on a local cluster (loopback)")]
pub struct BenchArgs {
    /// Protocol: swiftpaxos|swift, paxos, n2paxos, curp, fastpaxos, epaxos (any case).
    #[arg(long, default_value = "swiftpaxos")]
    pub protocol: ProtocolName,
    /// Closed-loop clients.
    #[arg(long, default_value_t = 512)]
    pub clients: usize,
    /// Commands each client keeps in flight.
    #[arg(long, default_value_t = 1)]
    pub outstanding: usize,
    /// Replicas in the local cluster.
    #[arg(long, default_value_t = 3)]
    pub replicas: usize,
    /// Percentage of commands on the shared key (exact: 2 means 2 in every 100).
    #[arg(long, default_value_t = 2)]
    pub conflicts: u32,
    /// Percentage of PUTs (exact); the rest are GETs.
    #[arg(long, default_value_t = 50)]
    pub writes: u32,
    /// Bytes per PUT value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// How long to measure (Go syntax: 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long to run before measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Client executors (threads) the logical clients are spread over.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Shards per replica: independent protocol instances, one executor
    /// each; keys hash to shards, and shard i talks only to shard i.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Emulated one-way delay on every link (Go syntax: 10ms).
    #[arg(long, value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// A latency file: one `uniform RTT` line (every link gets half of it
    /// one way), or a region table (`REGION REGION RTT` lines, as
    /// shared/reference/aws-latency-table.txt) with --replica-sites and
    /// --client-sites: each replica and each client site then gets its own
    /// loopback address and the table's delays, and the summary adds a line
    /// per client site.
    #[arg(long)]
    pub latency: Option<std::path::PathBuf>,
    /// With a region table: the replicas' regions, comma-separated, replica
    /// 0 (the first leader) first. Default: the table's first N regions.
    #[arg(long, value_delimiter = ',')]
    pub replica_sites: Vec<String>,
    /// With a region table: the client sites, comma-separated; the clients
    /// are spread evenly over them, each site's on its own client executor.
    /// Default: every region of the table.
    #[arg(long, value_delimiter = ',')]
    pub client_sites: Vec<String>,
    /// Benchmark a running deployment instead: its config in the original's
    /// format (as `swiftpaxos -run server` reads it). bench then starts no
    /// replica and connects its clients to the config's replicas (shard s on
    /// each port + s, with `--shards S`); `--replicas` and the latency
    /// options do not apply. The protocol must be the deployment's.
    #[arg(long)]
    pub connect: Option<std::path::PathBuf>,
    /// With --connect: the servers' quorum file (`-quorum`), so that
    /// SwiftPaxos clients count the same fast quorums.
    #[arg(long)]
    pub quorum: Option<std::path::PathBuf>,
    /// Pin executors to cores: `auto` (only when every executor gets a core
    /// of its own), `on` (round-robin even when cores are fewer), `off`.
    #[arg(long, default_value = "auto", value_parser = str::parse::<Pinning>)]
    pub pin: Pinning,
    /// Durable mode: each replica shard keeps a write-ahead log under this
    /// directory (in a fresh subdirectory per run, removed at the end) and
    /// syncs it (one `fdatasync` per batch) before its messages leave, to
    /// measure what durability costs. Without it replicas write nothing.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Where the JSON result goes.
    #[arg(long, default_value = "results")]
    pub output: std::path::PathBuf,
    /// Do not write the JSON result.
    #[arg(long)]
    pub no_write: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    net::duration::parse_go_duration(s)
}

/// Timeouts for a cluster on one machine: generous enough that a loaded
/// 2-core box does not trigger leader changes (with 10 ms-sized timeouts a
/// starved executor looked dead, and SwiftPaxos fell from ~60k to ~10k
/// ops/s after the needless recoveries).
fn loopback_timing() -> Timing {
    Timing::for_max_delay(Duration::from_millis(50))
}

/// Runs the benchmark described by `args`.
pub fn run(args: &BenchArgs) -> Result<Summary, String> {
    if !(1..=64).contains(&args.shards) {
        return Err(format!("--shards must be between 1 and 64, not {}", args.shards));
    }
    if args.connect.is_none() && args.quorum.is_some() {
        return Err("--quorum goes with --connect (a local cluster uses the default quorums)".into());
    }
    if !(1..=64).contains(&args.replicas) {
        return Err(format!("--replicas must be between 1 and 64, not {}", args.replicas));
    }
    if args.clients == 0 || args.outstanding == 0 || args.client_threads == 0 {
        return Err("--clients, --outstanding and --client-threads must be at least 1".into());
    }
    if args.conflicts > 100 || args.writes > 100 {
        return Err("--conflicts and --writes are percentages (0 to 100)".into());
    }
    match args.protocol {
        ProtocolName::Paxos => run_protocol::<protocols::paxos::Paxos>(args),
        ProtocolName::SwiftPaxos => run_protocol::<protocols::swift::SwiftPaxos>(args),
        ProtocolName::N2Paxos => run_protocol::<protocols::n2paxos::N2Paxos>(args),
        ProtocolName::Curp => run_protocol::<protocols::curp::Curp>(args),
        ProtocolName::FastPaxos => run_protocol::<protocols::fastpaxos::FastPaxos>(args),
        ProtocolName::EPaxos => run_protocol::<protocols::epaxos::EPaxos>(args),
    }
}

/// Free ports on `ips` (one each, in order).
fn free_ports(ips: &[Ipv4Addr]) -> Result<Vec<SocketAddr>, String> {
    let listeners: Vec<TcpListener> = ips
        .iter()
        .map(|ip| TcpListener::bind((*ip, 0)).map_err(|e| format!("cannot find a free port on {ip}: {e}")))
        .collect::<Result<_, _>>()?;
    listeners.iter().map(|l| l.local_addr().map_err(|e| e.to_string())).collect()
}

/// How links are delayed: not at all, uniformly, or per site from a region table.
enum Emulation {
    /// Loopback only (or one delay for every link).
    Uniform(Duration),
    /// Every replica and client site at a loopback address of its own.
    Sites(SitePlan),
}

/// Where every node sits when a region table is given.
struct SitePlan {
    /// Replica `r`'s address: 127.0.0.(r+1).
    replica_ips: Vec<Ipv4Addr>,
    /// The client sites' names and addresses (127.0.1.(j+1)).
    client_sites: Vec<(String, Ipv4Addr)>,
    /// Each client site's closest replica.
    closest: Vec<usize>,
    /// The region table rewritten over those addresses.
    table: net::LatencyTable,
    /// The largest one-way delay between replicas (timeouts grow with it).
    slowest: Duration,
}

/// The emulation `--delay` or `--latency` asks for.
fn emulation(args: &BenchArgs) -> Result<Emulation, String> {
    if args.delay.is_some() && args.latency.is_some() {
        return Err("--delay and --latency exclude each other".into());
    }
    if let Some(d) = args.delay {
        return Ok(Emulation::Uniform(d));
    }
    let Some(path) = &args.latency else {
        if !args.replica_sites.is_empty() || !args.client_sites.is_empty() {
            return Err("--replica-sites and --client-sites need a region table (--latency FILE)".into());
        }
        return Ok(Emulation::Uniform(Duration::ZERO));
    };
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let table = net::LatencyTable::parse(&text).map_err(|e| format!("{shown}: {e}"))?;
    if table.is_uniform() {
        return Ok(Emulation::Uniform(table.one_way("a", "b").unwrap_or(Duration::ZERO)));
    }
    let names = table.names();
    let replica_sites = if args.replica_sites.is_empty() { names.iter().take(args.replicas).cloned().collect() } else { args.replica_sites.clone() };
    if replica_sites.len() != args.replicas {
        return Err(format!("--replica-sites names {} regions for {} replicas", replica_sites.len(), args.replicas));
    }
    let client_sites = if args.client_sites.is_empty() { names.to_vec() } else { args.client_sites.clone() };
    if client_sites.len() > 250 || args.replicas > 250 {
        return Err("at most 250 replica and 250 client sites".into());
    }
    for name in replica_sites.iter().chain(&client_sites) {
        if !names.contains(name) {
            return Err(format!("{shown}: unknown region `{name}` (the table knows: {})", names.join(", ")));
        }
    }
    let replica_ips: Vec<Ipv4Addr> = (0..replica_sites.len()).map(|r| Ipv4Addr::new(127, 0, 0, r as u8 + 1)).collect();
    let client_ips: Vec<Ipv4Addr> = (0..client_sites.len()).map(|c| Ipv4Addr::new(127, 0, 1, c as u8 + 1)).collect();
    let nodes: Vec<(Ipv4Addr, &String)> = replica_ips.iter().copied().zip(&replica_sites).chain(client_ips.iter().copied().zip(&client_sites)).collect();
    let mut rewritten = String::new();
    for (a, region_a) in &nodes {
        for (b, region_b) in &nodes {
            let one_way = table.one_way(region_a, region_b).ok_or_else(|| format!("{shown}: no latency between `{region_a}` and `{region_b}`"))?;
            rewritten += &format!("{a} {b} {}us\n", (one_way * 2).as_micros());
        }
    }
    let table_by_ip = net::LatencyTable::parse(&rewritten).map_err(|e| format!("rewriting {shown}: {e}"))?;
    let one_way = |a: &str, b: &str| table.one_way(a, b).unwrap_or(Duration::ZERO);
    let closest = client_sites
        .iter()
        .map(|c| (0..replica_sites.len()).min_by_key(|&r| one_way(c, &replica_sites[r])).unwrap_or(0))
        .collect();
    let slowest = replica_sites.iter().flat_map(|a| replica_sites.iter().map(move |b| (a, b))).map(|(a, b)| one_way(a, b)).max().unwrap_or_default();
    Ok(Emulation::Sites(SitePlan { replica_ips, client_sites: client_sites.into_iter().zip(client_ips).collect(), closest, table: table_by_ip, slowest }))
}

fn run_protocol<P: Protocol>(args: &BenchArgs) -> Result<Summary, String>
where
    P::Message: Wire,
{
    if let Some(config) = &args.connect {
        return run_against::<P>(args, config);
    }
    let n = args.replicas;
    let quorums = QuorumSystem::new(n);
    let emulation = emulation(args)?;
    let (replica_delays, timing): (Vec<Delays>, Timing) = match &emulation {
        Emulation::Uniform(d) if d.is_zero() => (vec![Delays::None; n], loopback_timing()),
        Emulation::Uniform(d) => (vec![Delays::Uniform(*d); n], Timing::for_max_delay((*d).max(Duration::from_millis(50)))),
        Emulation::Sites(plan) => (
            plan.replica_ips.iter().map(|ip| Delays::Table { table: plan.table.clone(), from: ip.to_string() }).collect(),
            Timing::for_max_delay(plan.slowest.max(Duration::from_millis(50))),
        ),
    };
    let ips: Vec<Ipv4Addr> = match &emulation {
        Emulation::Sites(plan) => plan.replica_ips.iter().flat_map(|ip| std::iter::repeat(*ip).take(args.shards)).collect(),
        Emulation::Uniform(_) => vec![Ipv4Addr::LOCALHOST; n * args.shards],
    };
    let ports = free_ports(&ips)?;
    let shards: Vec<Vec<SocketAddr>> = (0..args.shards).map(|s| (0..n).map(|r| ports[r * args.shards + s]).collect()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let client_hosts = match &emulation {
        Emulation::Sites(plan) => plan.client_sites.len().min(args.clients * args.outstanding),
        Emulation::Uniform(_) => args.client_threads,
    };
    let mut cores = CorePlan::new(args.pin, n * args.shards + client_hosts);

    let run_dir = args.data_dir.as_ref().map(|d| d.join(format!("bench-{}-{}", P::NAME, std::process::id())));
    let mut replicas = Vec::new();
    for (s, addresses) in shards.iter().enumerate() {
        for id in 0..n {
            let spec = ReplicaSpec {
                config: ReplicaConfig { id, quorums: quorums.clone(), timing, bugs: DeliberateBugs::default() },
                addresses: addresses.clone(),
                delays: replica_delays[id].clone(),
                wal: run_dir.as_ref().map(|d| d.join(format!("r{id}.s{s}.wal"))),
                compact_log_after: runtime::live::server::COMPACT_LOG_AFTER,
            };
            let stop = stop.clone();
            let handle = LocalExecutorBuilder::new(cores.next_placement())
                .name(&format!("replica-{id}-shard-{s}"))
                .spawn(move || async move { run_replica::<P>(spec, stop).await })
                .map_err(|e| format!("cannot start replica {id} shard {s}: {e}"))?;
            replicas.push(handle);
        }
    }

    let logical = args.clients * args.outstanding;
    let workload = Workload { conflicts: args.conflicts, writes: args.writes, key: runtime::live::clients::CONFLICT_KEY, value: bytes_of(args.value_size), verify: false };
    let progress = Arc::new(AtomicU64::new(0));
    // One client host per client site (site mode) or per --client-threads.
    struct Host {
        clients: std::ops::Range<u64>,
        closest: Vec<usize>,
        delays: Delays,
        host: Option<Ipv4Addr>,
        name: String,
    }
    let mut planned: Vec<Host> = Vec::new();
    match &emulation {
        Emulation::Sites(plan) => {
            let sites = plan.client_sites.len();
            let mut first = 0u64;
            for (j, (name, ip)) in plan.client_sites.iter().enumerate() {
                let count = (logical / sites + usize::from(j < logical % sites)) as u64;
                if count == 0 {
                    continue;
                }
                planned.push(Host {
                    clients: first..first + count,
                    closest: vec![plan.closest[j]; count as usize],
                    delays: Delays::Table { table: plan.table.clone(), from: ip.to_string() },
                    host: Some(*ip),
                    name: name.clone(),
                });
                first += count;
            }
        }
        Emulation::Uniform(d) => {
            let per_host = logical.div_ceil(args.client_threads);
            for h in 0..args.client_threads {
                let (first, last) = ((h * per_host) as u64, ((h + 1) * per_host).min(logical) as u64);
                if first < last {
                    let delays = if d.is_zero() { Delays::None } else { Delays::Uniform(*d) };
                    planned.push(Host { clients: first..last, closest: (first..last).map(|c| c as usize % n).collect(), delays, host: None, name: format!("clients-{h}") });
                }
            }
        }
    }
    let mut hosts = Vec::new();
    let mut host_names = Vec::new();
    for (h, planned) in planned.into_iter().enumerate() {
        let spec = ClientHostSpec {
            clients: planned.clients,
            shards: shards.clone(),
            quorums: quorums.clone(),
            timing,
            closest: planned.closest,
            workload: workload.clone(),
            commands_per_client: None,
            warmup: args.warmup,
            measure: args.duration,
            delays: planned.delays,
            host: planned.host,
        };
        let (progress, stop) = (progress.clone(), stop.clone());
        let handle = LocalExecutorBuilder::new(cores.next_placement())
            .name(&format!("clients-{h}"))
            .spawn(move || async move { run_clients::<P>(spec, progress, stop).await })
            .map_err(|e| format!("cannot start client host {}: {e}", planned.name))?;
        hosts.push(handle);
        host_names.push(planned.name);
    }

    let memory = show_progress(args, &progress, hosts.len());

    let mut reports: Vec<ClientHostReport> = Vec::new();
    let mut reported_names = Vec::new();
    let mut failure = None;
    for (h, name) in hosts.into_iter().zip(host_names) {
        match h.join() {
            Ok(Ok(r)) => {
                reports.push(r);
                reported_names.push(name);
            }
            Ok(Err(e)) => failure = Some(format!("a client host failed: {e}")),
            Err(e) => failure = Some(format!("a client host panicked: {e:?}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in replicas {
        if let Ok(Err(e)) = r.join() {
            failure.get_or_insert(format!("a replica failed: {e}"));
        }
    }
    if let Some(dir) = &run_dir {
        // The run's logs are disposable: a benchmark starts from nothing.
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(f) = failure {
        return Err(f);
    }
    let mut summary = Summary::merge(args, P::NAME, &reports)?;
    summary.pinned = cores.pins();
    summary.memory = memory;
    if matches!(emulation, Emulation::Sites(_)) {
        summary.per_site = reports.iter().zip(&reported_names).map(|(r, name)| SiteSummary::new(name, r)).collect();
    }
    summary.write_unless(args)
}

/// A running deployment, from its config: the replicas' addresses per
/// shard and the quorum system its servers use.
fn deployment_target(args: &BenchArgs, path: &std::path::Path) -> Result<(Vec<Vec<SocketAddr>>, QuorumSystem), String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let d = tools::deployment::parse(&text, &file).map_err(|e| e.to_string())?;
    if d.replicas.is_empty() {
        return Err(format!("{file}: no replicas in -- Replicas --"));
    }
    if let Some(s) = d.setting(None, "protocol") {
        let theirs: ProtocolName = s.value.parse().map_err(|e| format!("{file}:{}: protocol: {e}", s.line))?;
        if theirs != args.protocol {
            return Err(format!("{file}:{}: the deployment runs {theirs}; pass --protocol {theirs}", s.line));
        }
    }
    let base = tools::cli::replica_addresses(&d)?;
    let shards = (0..args.shards as u16).map(|s| tools::cli::shard_addresses(&base, s)).collect();
    let n = d.replicas.len();
    let quorums = match &args.quorum {
        None => QuorumSystem::new(n),
        Some(q) => {
            let text = std::fs::read_to_string(q).map_err(|e| format!("{}: {e}", q.display()))?;
            let aliases: Vec<&str> = d.replicas.iter().map(|r| r.alias.as_str()).collect();
            let fast = protocols::quorum_file::parse(&text, &aliases).map_err(|e| format!("{}: {e}", q.display()))?;
            QuorumSystem::with_fast_quorums(n, fast)
        }
    };
    Ok((shards, quorums))
}

/// `--connect`: only client hosts, against the deployment's replicas.
fn run_against<P: Protocol>(args: &BenchArgs, config: &std::path::Path) -> Result<Summary, String>
where
    P::Message: Wire,
{
    let (shards, quorums) = deployment_target(args, config)?;
    let n = quorums.n();
    let timing = loopback_timing();
    let stop = Arc::new(AtomicBool::new(false));
    let mut cores = CorePlan::new(args.pin, args.client_threads);
    let logical = args.clients * args.outstanding;
    let workload = Workload { conflicts: args.conflicts, writes: args.writes, key: runtime::live::clients::CONFLICT_KEY, value: bytes_of(args.value_size), verify: false };
    let progress = Arc::new(AtomicU64::new(0));
    let per_host = logical.div_ceil(args.client_threads);
    let mut hosts = Vec::new();
    for h in 0..args.client_threads {
        let (first, last) = ((h * per_host) as u64, ((h + 1) * per_host).min(logical) as u64);
        if first >= last {
            break;
        }
        // Client ids of their own, so that a second bench against the same
        // deployment does not collide with this one's sessions.
        let base = 10_000_000 + u64::from(std::process::id() % 1000) * 1_000_000;
        let spec = ClientHostSpec {
            clients: base + first..base + last,
            shards: shards.clone(),
            quorums: quorums.clone(),
            timing,
            closest: (first..last).map(|c| c as usize % n).collect(),
            workload: workload.clone(),
            commands_per_client: None,
            warmup: args.warmup,
            measure: args.duration,
            delays: Delays::None,
            host: None,
        };
        let (progress, stop) = (progress.clone(), stop.clone());
        let handle = LocalExecutorBuilder::new(cores.next_placement())
            .name(&format!("clients-{h}"))
            .spawn(move || async move { run_clients::<P>(spec, progress, stop).await })
            .map_err(|e| format!("cannot start client host {h}: {e}"))?;
        hosts.push(handle);
    }
    let memory = show_progress(args, &progress, hosts.len());
    let mut reports = Vec::new();
    for h in hosts {
        match h.join() {
            Ok(Ok(r)) => reports.push(r),
            Ok(Err(e)) => return Err(format!("a client host failed (is the deployment running?): {e}")),
            Err(e) => return Err(format!("a client host panicked: {e:?}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut summary = Summary::merge(args, P::NAME, &reports)?;
    summary.replicas = n;
    summary.pinned = cores.pins();
    summary.memory = memory;
    summary.target = format!("the deployment of {}", config.display());
    summary.write_unless(args)
}

fn bytes_of(size: usize) -> bytes::Bytes {
    bytes::Bytes::from(vec![b'v'; size])
}

/// This process's resident memory in MiB (`VmRSS`), where /proc has it.
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// Draws a progress bar (warm-up, then measurement, with the live rate)
/// until the client hosts are done; samples resident memory 10 s into the
/// measurement and at its end (replicas and clients share this process).
fn show_progress(args: &BenchArgs, progress: &AtomicU64, hosts: usize) -> Option<Memory> {
    let total = args.warmup + args.duration;
    let bar = if args.quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(total.as_millis() as u64) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {elapsed}/{duration} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let (mut last_count, mut last_at) = (0u64, start);
    let mut at_10s = None;
    while start.elapsed() < total + Duration::from_millis(200) && hosts > 0 {
        if at_10s.is_none() && start.elapsed() >= args.warmup + Duration::from_secs(10) {
            at_10s = resident_mib();
        }
        std::thread::sleep(Duration::from_millis(200));
        let count = progress.load(Ordering::Relaxed);
        let rate = (count - last_count) as f64 / last_at.elapsed().as_secs_f64().max(1e-3);
        (last_count, last_at) = (count, Instant::now());
        let phase = if start.elapsed() < args.warmup { "warm-up" } else { "measuring" };
        bar.set_position(start.elapsed().as_millis().min(total.as_millis()) as u64);
        bar.set_message(format!("{phase}, {rate:.0} ops/s"));
    }
    bar.finish_and_clear();
    Some(Memory { rss_mib_at_10s: at_10s?, rss_mib_at_end: resident_mib()? })
}
