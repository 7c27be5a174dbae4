//! The load generator behind the `bench` binary.
//!
//! It starts `--replicas` replicas of the chosen protocol in this process,
//! each on its own glommio executor and TCP port on 127.0.0.1, and runs
//! `--clients × --outstanding` closed-loop logical clients on client
//! executors that connect to them like any remote client would. After
//! `--warmup` it measures for `--duration` and reports.

mod report;

pub use report::Summary;

use clap::Parser;
use glommio::{LocalExecutorBuilder, Placement};
use hdrhistogram::Histogram;
use protocols::protocol::Protocol;
use protocols::quorum::QuorumSystem;
use protocols::{DeliberateBugs, ReplicaConfig, Timing};
use runtime::live::clients::{run_clients, ClientHostReport, ClientHostSpec, Workload};
use runtime::live::link::Delays;
use runtime::live::server::{run_replica, ReplicaSpec};
use runtime::live::wire::Wire;
use std::net::{SocketAddr, TcpListener};
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
    /// A latency file with one `uniform RTT` line: every link gets half of it
    /// one way. (Per-address files need one address per node: use
    /// `swiftpaxos -latency`.)
    #[arg(long)]
    pub latency: Option<std::path::PathBuf>,
    /// Benchmark a running deployment instead (not supported yet).
    #[arg(long)]
    pub connect: Option<std::path::PathBuf>,
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
    if args.connect.is_some() {
        return Err("--connect is not implemented yet (issue 5)".into());
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

fn free_ports(count: usize) -> Result<Vec<SocketAddr>, String> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}")))
        .collect::<Result<_, _>>()?;
    listeners.iter().map(|l| l.local_addr().map_err(|e| e.to_string())).collect()
}

/// The one-way delay every link gets, from `--delay` or a uniform `--latency` file.
fn link_delay(args: &BenchArgs) -> Result<Duration, String> {
    if args.delay.is_some() && args.latency.is_some() {
        return Err("--delay and --latency exclude each other".into());
    }
    if let Some(d) = args.delay {
        return Ok(d);
    }
    let Some(path) = &args.latency else { return Ok(Duration::ZERO) };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table = net::LatencyTable::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if !table.is_uniform() {
        return Err(format!("{}: bench runs every node on 127.0.0.1, so it takes `uniform RTT` files only; per-address files work with `swiftpaxos -latency`", path.display()));
    }
    Ok(table.one_way("a", "b").unwrap_or(Duration::ZERO))
}

fn run_protocol<P: Protocol>(args: &BenchArgs) -> Result<Summary, String>
where
    P::Message: Wire,
{
    let n = args.replicas;
    let quorums = QuorumSystem::new(n);
    let delay = link_delay(args)?;
    let delays = if delay.is_zero() { Delays::None } else { Delays::Uniform(delay) };
    let timing = if delay.is_zero() { loopback_timing() } else { Timing::for_max_delay(delay.max(Duration::from_millis(50))) };
    let ports = free_ports(n * args.shards)?;
    let shards: Vec<Vec<SocketAddr>> = (0..args.shards).map(|s| (0..n).map(|r| ports[r * args.shards + s]).collect()).collect();
    let stop = Arc::new(AtomicBool::new(false));

    let mut replicas = Vec::new();
    for (s, addresses) in shards.iter().enumerate() {
        for id in 0..n {
            let spec = ReplicaSpec {
                config: ReplicaConfig { id, quorums: quorums.clone(), timing, bugs: DeliberateBugs::default() },
                addresses: addresses.clone(),
                delays: delays.clone(),
            };
            let stop = stop.clone();
            let handle = LocalExecutorBuilder::new(Placement::Unbound)
                .name(&format!("replica-{id}-shard-{s}"))
                .spawn(move || async move { run_replica::<P>(spec, stop).await })
                .map_err(|e| format!("cannot start replica {id} shard {s}: {e}"))?;
            replicas.push(handle);
        }
    }

    let logical = args.clients * args.outstanding;
    let workload = Workload { conflicts: args.conflicts, writes: args.writes, key: runtime::live::clients::CONFLICT_KEY, value: bytes_of(args.value_size) };
    let progress = Arc::new(AtomicU64::new(0));
    let mut hosts = Vec::new();
    let per_host = logical.div_ceil(args.client_threads);
    for h in 0..args.client_threads {
        let first = (h * per_host) as u64;
        let last = ((h + 1) * per_host).min(logical) as u64;
        if first >= last {
            break;
        }
        let spec = ClientHostSpec {
            clients: first..last,
            shards: shards.clone(),
            quorums: quorums.clone(),
            timing,
            closest: (first..last).map(|c| c as usize % n).collect(),
            workload: workload.clone(),
            commands_per_client: None,
            warmup: args.warmup,
            measure: args.duration,
            delays: delays.clone(),
        };
        let (progress, stop) = (progress.clone(), stop.clone());
        let handle = LocalExecutorBuilder::new(Placement::Unbound)
            .name(&format!("clients-{h}"))
            .spawn(move || async move { run_clients::<P>(spec, progress, stop).await })
            .map_err(|e| format!("cannot start client host {h}: {e}"))?;
        hosts.push(handle);
    }

    show_progress(args, &progress, hosts.len());

    let mut reports: Vec<ClientHostReport> = Vec::new();
    let mut failure = None;
    for h in hosts {
        match h.join() {
            Ok(Ok(r)) => reports.push(r),
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
    if let Some(f) = failure {
        return Err(f);
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let (mut fast, mut slow, mut single) = (0, 0, 0);
    for r in &reports {
        latency.add(&r.latency_us).map_err(|e| e.to_string())?;
        fast += r.fast;
        slow += r.slow;
        single += r.single_path;
    }
    let summary = Summary::new(args, P::NAME, &latency, fast, slow, single);
    if !args.no_write {
        let path = summary.write_json(&args.output)?;
        return Ok(summary.with_written(path));
    }
    Ok(summary)
}

fn bytes_of(size: usize) -> bytes::Bytes {
    bytes::Bytes::from(vec![b'v'; size])
}

/// Draws a progress bar (warm-up, then measurement, with the live rate)
/// until the client hosts are done.
fn show_progress(args: &BenchArgs, progress: &AtomicU64, hosts: usize) {
    let total = args.warmup + args.duration;
    let bar = if args.quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(total.as_millis() as u64) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {elapsed}/{duration} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let (mut last_count, mut last_at) = (0u64, start);
    while start.elapsed() < total + Duration::from_millis(200) && hosts > 0 {
        std::thread::sleep(Duration::from_millis(200));
        let count = progress.load(Ordering::Relaxed);
        let rate = (count - last_count) as f64 / last_at.elapsed().as_secs_f64().max(1e-3);
        (last_count, last_at) = (count, Instant::now());
        let phase = if start.elapsed() < args.warmup { "warm-up" } else { "measuring" };
        bar.set_position(start.elapsed().as_millis().min(total.as_millis()) as u64);
        bar.set_message(format!("{phase}, {rate:.0} ops/s"));
    }
    bar.finish_and_clear();
}
