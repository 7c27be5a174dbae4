//! The load generator behind the `bench` binary.
//!
//! For each protocol `--protocol` names (and each point of `--sweep`) it
//! starts `--replicas` replicas in this process, each shard on its own
//! glommio executor and TCP port on loopback ([`cluster`]), and drives them
//! with logical clients on client executors that connect like any remote
//! client: closed loop (`--clients × --outstanding`), or open loop at
//! `--rate`. After `--warmup` it measures for `--duration`, inflicting the
//! `--fault`s on the way, and reports throughput, latency percentiles, a
//! timeline per 100 ms and what each fault did ([`report`]).

pub mod args;
pub mod cluster;
pub mod faults;
pub mod plots;
mod report;
pub mod sweep;
pub mod timeline;

pub use args::BenchArgs;
pub use report::{table, Memory, SiteSummary, Summary};

use cluster::{Emulation, FaultTarget, LocalCluster};
use faults::{Fault, FaultKind};
use glommio::ExecutorJoinHandle as JoinHandle;
use protocols::protocol::Protocol;
use protocols::quorum::QuorumSystem;
use runtime::live::clients::{run_clients, ClientHostReport, ClientHostSpec, Load};
use runtime::live::cores::CorePlan;
use runtime::live::link::Delays;
use runtime::live::workload::{Keys, Workload, CONFLICT_KEY};
use runtime::protocol_name::{ProtocolName, WithProtocol};
use runtime::wire::Wire;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything one `bench` invocation measured.
pub struct Outcome {
    /// One summary per protocol and point, in the order run.
    pub summaries: Vec<Summary>,
    /// The sweep's CSV and PNG, when there was a sweep.
    pub sweep_files: Vec<PathBuf>,
}

/// Runs the benchmarks `args` describes, handing each summary to
/// `on_summary` as soon as it is measured (a sweep takes a while).
pub fn run(args: &BenchArgs, mut on_summary: impl FnMut(&Summary)) -> Result<Outcome, String> {
    let args = &args.resolved();
    args.validate()?;
    let points = args.points();
    let mut summaries = Vec::new();
    for protocol in args.protocols()? {
        for point in &points {
            let summary = protocol.dispatch(RunOne(point))?;
            on_summary(&summary);
            summaries.push(summary);
        }
    }
    let mut sweep_files = Vec::new();
    if let (Some(sweep), false) = (&args.sweep, args.no_write) {
        let stem = sweep.stem(&summaries);
        sweep_files.push(sweep::write_csv(&args.output, &stem, &summaries)?);
        if args.plot {
            sweep_files.push(sweep::write_png(&args.output, &stem, &summaries)?);
        }
    }
    Ok(Outcome { summaries, sweep_files })
}

/// One protocol at one point.
struct RunOne<'a>(&'a BenchArgs);

impl WithProtocol for RunOne<'_> {
    type Output = Result<Summary, String>;
    fn run<P: Protocol>(self) -> Self::Output
    where
        P::Message: Wire,
    {
        let args = self.0;
        let mut summary = match &args.connect {
            Some(config) => run_against::<P>(args, config)?,
            None => run_local::<P>(args)?,
        };
        if !args.no_write {
            let path = summary.write_json(&args.output)?;
            summary = summary.with_written(path);
            if args.plot {
                summary.plot_timeline(&args.output)?;
            }
        }
        Ok(summary)
    }
}

/// The workload the flags describe.
fn workload(args: &BenchArgs) -> Result<Workload, String> {
    Ok(Workload {
        conflicts: args.conflicts,
        writes: args.writes,
        scans: args.scans,
        scan_length: args.scan_length,
        keys: Keys::parse(&args.keys, args.keyspace)?,
        key: CONFLICT_KEY,
        value: bytes::Bytes::from(vec![b'v'; args.value_size]),
        verify: false,
    })
}

/// One client host to start: which logical clients, where they sit.
struct PlannedHost {
    clients: std::ops::Range<u64>,
    closest: Vec<usize>,
    delays: Delays,
    host: Option<Ipv4Addr>,
    name: String,
}

impl PlannedHost {
    /// Its spec, with its share of the open loop's rate.
    #[allow(clippy::too_many_arguments)]
    fn spec(
        self,
        args: &BenchArgs,
        shards: &[Vec<SocketAddr>],
        quorums: &QuorumSystem,
        timing: protocols::Timing,
        workload: &Workload,
        h: usize,
        epoch: Instant,
    ) -> (ClientHostSpec, String) {
        let logical = (args.clients * args.outstanding) as f64;
        let load = match args.rate {
            None => Load::Closed,
            Some(rate) => Load::Open {
                rate: rate * (self.clients.end - self.clients.start) as f64 / logical,
                arrivals: args.arrivals,
                seed: args.seed.wrapping_add(h as u64),
            },
        };
        let spec = ClientHostSpec {
            clients: self.clients,
            session: 0,
            shards: shards.to_vec(),
            quorums: quorums.clone(),
            timing,
            closest: self.closest,
            workload: workload.clone(),
            commands_per_client: None,
            warmup: args.warmup,
            measure: args.duration,
            delays: self.delays,
            host: self.host,
            load,
            epoch: Some(epoch),
        };
        (spec, self.name)
    }
}

/// The client hosts of a local run: one per client site (with a region
/// table) or per `--client-threads`.
fn plan_hosts(args: &BenchArgs, emulation: &Emulation, n: usize) -> Vec<PlannedHost> {
    let logical = args.clients * args.outstanding;
    let mut planned = Vec::new();
    match emulation {
        Emulation::Sites(plan) => {
            let sites = plan.client_sites.len();
            let mut first = 0u64;
            for (j, (name, ip)) in plan.client_sites.iter().enumerate() {
                let count = (logical / sites + usize::from(j < logical % sites)) as u64;
                if count == 0 {
                    continue;
                }
                planned.push(PlannedHost {
                    clients: first..first + count,
                    closest: vec![plan.closest[j]; count as usize],
                    delays: Delays::Table {
                        table: plan.table.clone(),
                        from: ip.to_string(),
                    },
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
                    planned.push(PlannedHost {
                        clients: first..last,
                        closest: (first..last).map(|c| c as usize % n).collect(),
                        delays,
                        host: None,
                        name: format!("clients-{h}"),
                    });
                }
            }
        }
    }
    planned
}

/// Spawns the client hosts; returns their handles and names.
#[allow(clippy::type_complexity)]
fn spawn_hosts<P: Protocol>(
    specs: Vec<(ClientHostSpec, String)>,
    cores: &mut CorePlan,
    progress: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<(JoinHandle<std::io::Result<ClientHostReport>>, String)>, String>
where
    P::Message: Wire,
{
    let mut hosts = Vec::new();
    for (h, (spec, name)) in specs.into_iter().enumerate() {
        let (progress, stop) = (progress.clone(), stop.clone());
        let handle = cores
            .next_executor(&format!("clients-{h}"))
            .spawn(move || async move { run_clients::<P>(spec, progress, stop).await })
            .map_err(|e| format!("cannot start client host {name}: {e}"))?;
        hosts.push((handle, name));
    }
    Ok(hosts)
}

/// Waits for the client hosts; their reports with their names, or the first failure.
fn join_hosts(
    hosts: Vec<(JoinHandle<std::io::Result<ClientHostReport>>, String)>,
    hint: &str,
) -> (Vec<(ClientHostReport, String)>, Option<String>) {
    let mut reports = Vec::new();
    let mut failure = None;
    for (h, name) in hosts {
        match h.join() {
            Ok(Ok(r)) => reports.push((r, name)),
            Ok(Err(e)) => failure = Some(format!("a client host failed{hint}: {e}")),
            Err(e) => failure = Some(format!("a client host panicked: {e:?}")),
        }
    }
    (reports, failure)
}

fn run_local<P: Protocol>(args: &BenchArgs) -> Result<Summary, String>
where
    P::Message: Wire,
{
    let emulation = Emulation::from_args(args)?;
    let planned = plan_hosts(args, &emulation, args.replicas);
    let cores = CorePlan::new(args.pin, args.replicas * args.shards + planned.len()).with_spin(args.spin);
    let mut cluster = LocalCluster::<P>::start(args, &emulation, cores)?;
    let workload = workload(args)?;
    let (shards, quorums, timing) = (cluster.shards.clone(), cluster.quorums.clone(), cluster.timing);
    let epoch = Instant::now();
    let specs = planned
        .into_iter()
        .enumerate()
        .map(|(h, p)| p.spec(args, &shards, &quorums, timing, &workload, h, epoch))
        .collect();
    let (progress, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let hosts = match spawn_hosts::<P>(specs, cluster.cores(), &progress, &stop) {
        Ok(hosts) => hosts,
        Err(e) => {
            let _ = cluster.stop();
            return Err(e);
        }
    };
    let host_count = hosts.len();
    let (memory, fault_failure) = drive(args, epoch, &progress, host_count, Some(&mut cluster));
    let (reports, mut failure) = join_hosts(hosts, "");
    stop.store(true, Ordering::Relaxed);
    let pinned = cluster.cores().pins();
    let warnings = match cluster.stop() {
        Ok(warnings) => warnings,
        Err(e) => {
            failure.get_or_insert(e);
            Vec::new()
        }
    };
    if let Some(f) = fault_failure.or(failure) {
        return Err(f);
    }
    let names: Vec<String> = reports.iter().map(|(_, n)| n.clone()).collect();
    let reports: Vec<ClientHostReport> = reports.into_iter().map(|(r, _)| r).collect();
    let mut summary = Summary::merge(args, P::NAME, &reports)?;
    summary.pinned = pinned;
    summary.memory = memory;
    summary.warnings = warnings;
    if matches!(emulation, Emulation::Sites(_)) {
        summary.per_site = reports
            .iter()
            .zip(&names)
            .map(|(r, name)| SiteSummary::new(name, r))
            .collect();
    }
    Ok(summary)
}

/// A running deployment, from its config: the replicas' addresses per
/// shard and the quorum system its servers use.
fn deployment_target(
    args: &BenchArgs,
    protocol: &str,
    path: &std::path::Path,
) -> Result<(Vec<Vec<SocketAddr>>, QuorumSystem), String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let d = runtime::deployment::parse(&text, &file).map_err(|e| e.to_string())?;
    if d.replicas.is_empty() {
        return Err(format!("{file}: no replicas in -- Replicas --"));
    }
    if let Some(s) = d.setting(None, "protocol") {
        let theirs: ProtocolName = s
            .value
            .parse()
            .map_err(|e| format!("{file}:{}: protocol: {e}", s.line))?;
        if theirs.to_string() != protocol {
            return Err(format!(
                "{file}:{}: the deployment runs {theirs}; pass --protocol {theirs}",
                s.line
            ));
        }
    }
    let base = runtime::deployment::replica_addresses(&d)?;
    let shards = (0..args.shards as u16)
        .map(|s| runtime::deployment::shard_addresses(&base, s))
        .collect();
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
    let (shards, quorums) = deployment_target(args, P::NAME, config)?;
    let n = quorums.n();
    let logical = args.clients * args.outstanding;
    let per_host = logical.div_ceil(args.client_threads);
    // Client ids of their own, so that a second bench against the same
    // deployment does not collide with this one's sessions.
    let base = 10_000_000 + u64::from(std::process::id() % 1000) * 1_000_000;
    let workload = workload(args)?;
    let epoch = Instant::now();
    let specs = (0..args.client_threads)
        .map(|h| ((h * per_host) as u64, ((h + 1) * per_host).min(logical) as u64))
        .take_while(|(first, last)| first < last)
        .enumerate()
        .map(|(h, (first, last))| {
            let planned = PlannedHost {
                clients: base + first..base + last,
                closest: (first..last).map(|c| c as usize % n).collect(),
                delays: Delays::None,
                host: None,
                name: format!("clients-{h}"),
            };
            planned.spec(args, &shards, &quorums, cluster::loopback_timing(), &workload, h, epoch)
        })
        .collect::<Vec<_>>();
    let mut cores = CorePlan::new(args.pin, specs.len()).with_spin(args.spin);
    let (progress, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let hosts = spawn_hosts::<P>(specs, &mut cores, &progress, &stop)?;
    let (memory, _) = drive(args, epoch, &progress, hosts.len(), None);
    let (reports, failure) = join_hosts(hosts, " (is the deployment running?)");
    stop.store(true, Ordering::Relaxed);
    if let Some(f) = failure {
        return Err(f);
    }
    let reports: Vec<ClientHostReport> = reports.into_iter().map(|(r, _)| r).collect();
    let mut summary = Summary::merge(args, P::NAME, &reports)?;
    summary.replicas = n;
    summary.pinned = cores.pins();
    summary.memory = memory;
    summary.target = format!("the deployment of {}", config.display());
    Ok(summary)
}

/// This process's resident memory in MiB (`VmRSS`), where /proc has it.
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Until the client hosts are done (their clocks start at `epoch`): draws a progress bar (warm-up, then
/// measurement, with the live rate), inflicts the faults when they are
/// due, and samples resident memory 10 s into the measurement and at its
/// end (replicas and clients share this process). Returns the memory
/// samples and the first fault that could not be carried out.
fn drive(
    args: &BenchArgs,
    epoch: Instant,
    progress: &AtomicU64,
    hosts: usize,
    mut cluster: Option<&mut dyn FaultTarget>,
) -> (Option<Memory>, Option<String>) {
    let total = args.warmup + args.duration;
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total.as_millis() as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {elapsed}/{duration} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut pending: Vec<Fault> = args.fault.clone();
    pending.sort_by_key(|f| std::cmp::Reverse(f.at));
    let mut failure = None;
    let start = epoch;
    let (mut last_count, mut last_at, mut last_bar) = (0u64, start, start);
    let mut at_10s = None;
    while start.elapsed() < total + Duration::from_millis(200) && hosts > 0 {
        if at_10s.is_none() && start.elapsed() >= args.warmup + Duration::from_secs(10) {
            at_10s = resident_mib();
        }
        let next_fault = pending.last().map(|f| args.warmup + f.at);
        let nap = next_fault.map_or(Duration::from_millis(200), |due| {
            due.saturating_sub(start.elapsed()).min(Duration::from_millis(200))
        });
        std::thread::sleep(nap);
        while let Some(fault) = pending
            .last()
            .copied()
            .filter(|f| start.elapsed() >= args.warmup + f.at)
        {
            pending.pop();
            if let Some(target) = cluster.as_deref_mut() {
                let done = match fault.kind {
                    FaultKind::Kill => target.kill(fault.replica),
                    FaultKind::Restart => target.restart(fault.replica),
                    FaultKind::Stall(pause) => {
                        target.stall(fault.replica, pause);
                        Ok(())
                    }
                    FaultKind::Cut { peer, clients, .. } => {
                        target.cut(fault.replica, peer, clients, true);
                        if let Some(heal) = fault.heal() {
                            pending.push(heal);
                            pending.sort_by_key(|f| std::cmp::Reverse(f.at));
                        }
                        Ok(())
                    }
                    FaultKind::Heal { peer, clients } => {
                        target.cut(fault.replica, peer, clients, false);
                        Ok(())
                    }
                };
                match done {
                    Ok(()) => bar.println(format!("fault: {fault}")),
                    Err(e) => {
                        failure.get_or_insert(format!("--fault {fault}: {e}"));
                    }
                }
            }
        }
        if last_bar.elapsed() >= Duration::from_millis(200) {
            let count = progress.load(Ordering::Relaxed);
            let rate = (count - last_count) as f64 / last_at.elapsed().as_secs_f64().max(1e-3);
            (last_count, last_at, last_bar) = (count, Instant::now(), Instant::now());
            let phase = if start.elapsed() < args.warmup {
                "warm-up"
            } else {
                "measuring"
            };
            bar.set_position(start.elapsed().as_millis().min(total.as_millis()) as u64);
            bar.set_message(format!("{phase}, {rate:.0} ops/s"));
        }
    }
    bar.finish_and_clear();
    let memory = at_10s.and_then(|at_10s| {
        Some(Memory {
            rss_mib_at_10s: at_10s,
            rss_mib_at_end: resident_mib()?,
        })
    });
    (memory, failure)
}
