//! The local cluster `bench` starts: replicas on glommio executors of
//! this process, each shard on its own TCP port, with the emulated delays
//! `--delay`/`--latency` ask for; and the faults `--fault` inflicts on it
//! (a replica killed, restarted from its log, or frozen).

use crate::BenchArgs;
use glommio::ExecutorJoinHandle as JoinHandle;
use protocols::protocol::Protocol;
use protocols::quorum::QuorumSystem;
use protocols::{DeliberateBugs, ReplicaConfig, Timing};
use runtime::live::cores::CorePlan;
use runtime::live::cut::CutSwitch;
use runtime::live::link::Delays;
use runtime::live::server::{run_replica, ReplicaSpec, StallSwitch};
use runtime::wire::Wire;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Timeouts for a cluster on one machine: generous enough that a loaded
/// 2-core box does not trigger leader changes (with 10 ms-sized timeouts a
/// starved executor looked dead, and SwiftPaxos fell from ~60k to ~10k
/// ops/s after the needless recoveries).
pub fn loopback_timing() -> Timing {
    Timing::for_max_delay(Duration::from_millis(50))
}

/// Free ports on `ips` (one each, in order).
fn free_ports(ips: &[Ipv4Addr]) -> Result<Vec<SocketAddr>, String> {
    let listeners: Vec<TcpListener> = ips
        .iter()
        .map(|ip| TcpListener::bind((*ip, 0)).map_err(|e| format!("cannot find a free port on {ip}: {e}")))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map_err(|e| e.to_string()))
        .collect()
}

/// How links are delayed: not at all, uniformly, or per site from a region table.
pub enum Emulation {
    /// Loopback only (or one delay for every link).
    Uniform(Duration),
    /// Every replica and client site at a loopback address of its own.
    Sites(SitePlan),
}

/// Where every node sits when a region table is given.
pub struct SitePlan {
    /// Replica `r`'s address: 127.0.0.(r+1).
    pub replica_ips: Vec<Ipv4Addr>,
    /// The client sites' names and addresses (127.0.1.(j+1)).
    pub client_sites: Vec<(String, Ipv4Addr)>,
    /// Each client site's closest replica.
    pub closest: Vec<usize>,
    /// The region table rewritten over those addresses.
    pub table: net::LatencyTable,
    /// The largest one-way delay between replicas (timeouts grow with it).
    pub slowest: Duration,
}

impl Emulation {
    /// The emulation `--delay` or `--latency` asks for.
    pub fn from_args(args: &BenchArgs) -> Result<Emulation, String> {
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
        let replica_sites = if args.replica_sites.is_empty() {
            names.iter().take(args.replicas).cloned().collect()
        } else {
            args.replica_sites.clone()
        };
        if replica_sites.len() != args.replicas {
            return Err(format!(
                "--replica-sites names {} regions for {} replicas",
                replica_sites.len(),
                args.replicas
            ));
        }
        let client_sites = if args.client_sites.is_empty() {
            names.to_vec()
        } else {
            args.client_sites.clone()
        };
        if client_sites.len() > 250 || args.replicas > 250 {
            return Err("at most 250 replica and 250 client sites".into());
        }
        for name in replica_sites.iter().chain(&client_sites) {
            if !names.contains(name) {
                return Err(format!(
                    "{shown}: unknown region `{name}` (the table knows: {})",
                    names.join(", ")
                ));
            }
        }
        let replica_ips: Vec<Ipv4Addr> = (0..replica_sites.len())
            .map(|r| Ipv4Addr::new(127, 0, 0, r as u8 + 1))
            .collect();
        let client_ips: Vec<Ipv4Addr> = (0..client_sites.len())
            .map(|c| Ipv4Addr::new(127, 0, 1, c as u8 + 1))
            .collect();
        let nodes: Vec<(Ipv4Addr, &String)> = replica_ips
            .iter()
            .copied()
            .zip(&replica_sites)
            .chain(client_ips.iter().copied().zip(&client_sites))
            .collect();
        let mut by_ip = net::LatencyTable::default();
        for (a, region_a) in &nodes {
            for (b, region_b) in &nodes {
                let one_way = table
                    .one_way(region_a, region_b)
                    .ok_or_else(|| format!("{shown}: no latency between `{region_a}` and `{region_b}`"))?;
                by_ip.insert_round_trip(&a.to_string(), &b.to_string(), one_way * 2);
            }
        }
        let one_way = |a: &str, b: &str| table.one_way(a, b).unwrap_or(Duration::ZERO);
        let closest = client_sites
            .iter()
            .map(|c| {
                (0..replica_sites.len())
                    .min_by_key(|&r| one_way(c, &replica_sites[r]))
                    .unwrap_or(0)
            })
            .collect();
        let slowest = replica_sites
            .iter()
            .flat_map(|a| replica_sites.iter().map(move |b| (a, b)))
            .map(|(a, b)| one_way(a, b))
            .max()
            .unwrap_or_default();
        Ok(Emulation::Sites(SitePlan {
            replica_ips,
            client_sites: client_sites.into_iter().zip(client_ips).collect(),
            closest,
            table: by_ip,
            slowest,
        }))
    }

    /// Timeouts sized for the slowest link (and never below what a loaded
    /// machine needs).
    pub fn timing(&self) -> Timing {
        match self {
            Emulation::Uniform(d) if d.is_zero() => loopback_timing(),
            Emulation::Uniform(d) => Timing::for_max_delay((*d).max(Duration::from_millis(50))),
            Emulation::Sites(plan) => Timing::for_max_delay(plan.slowest.max(Duration::from_millis(50))),
        }
    }

    /// Delays from replica `r`.
    fn replica_delays(&self, r: usize) -> Delays {
        match self {
            Emulation::Uniform(d) if d.is_zero() => Delays::None,
            Emulation::Uniform(d) => Delays::Uniform(*d),
            Emulation::Sites(plan) => Delays::Table {
                table: plan.table.clone(),
                from: plan.replica_ips[r].to_string(),
            },
        }
    }
}

/// One shard of one replica: how to start it, and the running executor.
struct Instance {
    spec: ReplicaSpec,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    name: String,
}

/// The replicas of a local cluster, started, stopped and faulted by replica.
pub struct LocalCluster<P> {
    /// `instances[r][s]`: replica `r`, shard `s`.
    instances: Vec<Vec<Instance>>,
    /// Per shard, every replica's address.
    pub shards: Vec<Vec<SocketAddr>>,
    /// The quorum system every node uses.
    pub quorums: QuorumSystem,
    /// The timeouts every node uses.
    pub timing: Timing,
    run_dir: Option<PathBuf>,
    cores: CorePlan,
    _protocol: std::marker::PhantomData<P>,
}

impl<P: Protocol> LocalCluster<P>
where
    P::Message: Wire,
{
    /// Starts `--replicas × --shards` replica executors; `cores` places
    /// them (and then the client hosts).
    pub fn start(args: &BenchArgs, emulation: &Emulation, mut cores: CorePlan) -> Result<LocalCluster<P>, String> {
        let n = args.replicas;
        let quorums = QuorumSystem::new(n);
        let timing = emulation.timing();
        let ips: Vec<Ipv4Addr> = match emulation {
            Emulation::Sites(plan) => plan
                .replica_ips
                .iter()
                .flat_map(|ip| std::iter::repeat_n(*ip, args.shards))
                .collect(),
            Emulation::Uniform(_) => vec![Ipv4Addr::LOCALHOST; n * args.shards],
        };
        let ports = free_ports(&ips)?;
        let shards: Vec<Vec<SocketAddr>> = (0..args.shards)
            .map(|s| (0..n).map(|r| ports[r * args.shards + s]).collect())
            .collect();
        let run_dir = args
            .data_dir
            .as_ref()
            .map(|d| d.join(format!("bench-{}-{}", P::NAME, std::process::id())));
        let mut instances = Vec::new();
        for id in 0..n {
            let mut of_replica = Vec::new();
            for (s, addresses) in shards.iter().enumerate() {
                let spec = ReplicaSpec {
                    config: ReplicaConfig {
                        id,
                        quorums: quorums.clone(),
                        timing,
                        bugs: DeliberateBugs::default(),
                        release_lag: args.release_lag,
                    },
                    addresses: addresses.clone(),
                    delays: emulation.replica_delays(id),
                    wal: run_dir.as_ref().map(|d| d.join(format!("r{id}.s{s}.wal"))),
                    compact_log_after: runtime::live::server::COMPACT_LOG_AFTER,
                    stall: Some(Arc::new(StallSwitch::default())),
                    cut: Some(Arc::new(CutSwitch::default())),
                };
                let mut instance = Instance {
                    spec,
                    stop: Arc::new(AtomicBool::new(false)),
                    handle: None,
                    name: format!("replica-{id}-shard-{s}"),
                };
                launch::<P>(&mut instance, &mut cores)?;
                of_replica.push(instance);
            }
            instances.push(of_replica);
        }
        Ok(LocalCluster {
            instances,
            shards,
            quorums,
            timing,
            run_dir,
            cores,
            _protocol: std::marker::PhantomData,
        })
    }

    /// The placements left for the client hosts.
    pub fn cores(&mut self) -> &mut CorePlan {
        &mut self.cores
    }

    /// Stops every replica and waits for them; removes the run's logs.
    /// Returns warnings (a replica that would not stop in time).
    pub fn stop(mut self) -> Result<Vec<String>, String> {
        let (mut failure, mut warnings) = (None, Vec::new());
        for instance in self.instances.iter_mut().flatten() {
            match halt(instance) {
                Ok(warning) => warnings.extend(warning),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(dir) = &self.run_dir {
            // The run's logs are disposable: a benchmark starts from nothing.
            let _ = std::fs::remove_dir_all(dir);
        }
        failure.map_or(Ok(warnings), Err)
    }
}

/// Spawns an instance's executor.
fn launch<P: Protocol>(instance: &mut Instance, cores: &mut CorePlan) -> Result<(), String>
where
    P::Message: Wire,
{
    let (spec, stop) = (instance.spec.clone(), instance.stop.clone());
    let handle = cores
        .next_executor(&instance.name)
        .spawn(move || async move { run_replica::<P>(spec, stop).await })
        .map_err(|e| format!("cannot start {}: {e}", instance.name))?;
    instance.handle = Some(handle);
    Ok(())
}

/// How long a stopped replica may take to finish what it is doing.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Stops an instance and waits for its executor to end, for at most
/// [`STOP_GRACE`]: a replica deep in one long step (EPaxos executing a huge
/// dependency graph after an overload) only checks its stop flag between
/// steps, and a benchmark must not hang on it. One that overstays is left
/// running and reported.
fn halt(instance: &mut Instance) -> Result<Option<String>, String> {
    instance.stop.store(true, Ordering::Relaxed);
    let Some(handle) = instance.handle.take() else {
        return Ok(None);
    };
    let (done, joined) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(handle.join());
    });
    match joined.recv_timeout(STOP_GRACE) {
        Ok(Ok(Ok(()))) => Ok(None),
        Ok(Ok(Err(e))) => Err(format!("{} failed: {e}", instance.name)),
        Ok(Err(_)) => Err(format!("{} panicked", instance.name)),
        Err(_) => Ok(Some(format!(
            "{} did not stop within {} s of being told to (busy in one long step); it is left running, so measurements after this one in the same process share the machine with it",
            instance.name,
            STOP_GRACE.as_secs()
        ))),
    }
}

/// What `--fault` can do to a cluster, whatever its protocol.
pub trait FaultTarget {
    /// Stops every shard of replica `r`: its executors end and its
    /// connections close, as when its process is killed.
    fn kill(&mut self, r: usize) -> Result<(), String>;
    /// Starts replica `r` again on its addresses, from its logs.
    fn restart(&mut self, r: usize) -> Result<(), String>;
    /// Freezes every shard of replica `r` for `pause`.
    fn stall(&mut self, r: usize, pause: Duration);
    /// Cuts (`cut`) or heals replica `r`'s links: with `peer`, the one
    /// with that replica; without, those with every other replica; with
    /// `clients`, those with every client as well.
    fn cut(&mut self, r: usize, peer: Option<usize>, clients: bool, cut: bool);
}

impl<P: Protocol> FaultTarget for LocalCluster<P>
where
    P::Message: Wire,
{
    fn kill(&mut self, r: usize) -> Result<(), String> {
        for instance in &mut self.instances[r] {
            // A killed replica's own failure is the point, not an error.
            if let Ok(Some(warning)) = halt(instance) {
                tracing::warn!("{warning}");
            }
        }
        Ok(())
    }

    fn restart(&mut self, r: usize) -> Result<(), String> {
        for instance in &mut self.instances[r] {
            instance.stop = Arc::new(AtomicBool::new(false));
            launch::<P>(instance, &mut self.cores)?;
        }
        Ok(())
    }

    fn stall(&mut self, r: usize, pause: Duration) {
        for instance in &self.instances[r] {
            if let Some(switch) = &instance.spec.stall {
                switch.stall_for(pause);
            }
        }
    }

    fn cut(&mut self, r: usize, peer: Option<usize>, clients: bool, cut: bool) {
        let peers: Vec<usize> = match peer {
            Some(p) => vec![p],
            None => (0..self.instances.len()).filter(|&p| p != r).collect(),
        };
        for switch in self.instances[r].iter().filter_map(|i| i.spec.cut.as_ref()) {
            peers.iter().for_each(|&p| switch.set_peer(p, cut));
            if clients {
                switch.set_clients(cut);
            }
        }
        for &p in &peers {
            for switch in self.instances[p].iter().filter_map(|i| i.spec.cut.as_ref()) {
                switch.set_peer(r, cut);
            }
        }
    }
}
