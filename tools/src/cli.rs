//! `swiftpaxos`, the original tool's command line: one deployment config,
//! three roles. `-run server -alias A` runs replica `A`, `-run client -alias
//! C` runs client machine `C`'s workload against the replica its `-- Proxy
//! --` entry names, `-run master` serves the replica list. Flags take one
//! dash or two (`-config` or `--config`).

use crate::client_logs::write::CloneLogs;
use crate::deployment::{self, replica_addresses, shard_addresses, Deployment};
use crate::protocol_name::{ProtocolName, WithProtocol};
use clap::Parser;
use glommio::{LocalExecutorBuilder, Placement};
use net::LatencyTable;
use protocols::protocol::Protocol;
use protocols::quorum::QuorumSystem;
use protocols::{DeliberateBugs, ReplicaConfig, Timing};
use runtime::live::clients::{run_clients_observed, ClientHostSpec, Load, Workload};
use runtime::live::link::Delays;
use runtime::live::server::{run_replica, ReplicaSpec};
use runtime::wire::Wire;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

/// The command line.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "swiftpaxos",
    about = "Run a master, a server or a client of a deployment described by one config file"
)]
pub struct CliArgs {
    /// Which role: master, server or client.
    #[arg(long)]
    pub run: String,
    /// The deployment config (the original's format).
    #[arg(long)]
    pub config: PathBuf,
    /// This node's alias in the config (servers and clients).
    #[arg(long)]
    pub alias: Option<String>,
    /// Protocol, overriding the config's `protocol:`.
    #[arg(long)]
    pub protocol: Option<ProtocolName>,
    /// A quorum file in the original's format (SwiftPaxos fast quorums, first leader).
    #[arg(long)]
    pub quorum: Option<PathBuf>,
    /// A latency file in the original's format (`ADDR ADDR RTT` lines, or
    /// `uniform RTT`): every message is held for its link's one-way delay.
    #[arg(long)]
    pub latency: Option<PathBuf>,
    /// Servers and the master: write diagnostics to this file instead of
    /// standard error. Clients: write the original's latency logs, one file
    /// per clone (`NAME`, `NAME1`, `NAME2`, …; `latency <ms>` per command,
    /// `Slow Paths: <N>`, `Test took <duration>`).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Write diagnostics to this file instead of standard error (for
    /// clients, whose `-log` holds the latency logs).
    #[arg(long)]
    pub diagnostics: Option<PathBuf>,
    /// Servers: durable mode. Each shard keeps a write-ahead log in this
    /// directory (`ALIAS.sSHARD.wal`), syncs it before the messages that
    /// depend on it leave, and replays it when the server starts again.
    /// Without it a server keeps nothing across a restart: it comes back
    /// empty and rejoins from the others (every one must answer) before it votes.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Servers with -data-dir: compact a shard's log into a snapshot once it
    /// holds this many bytes.
    #[arg(long, default_value_t = runtime::live::server::COMPACT_LOG_AFTER)]
    pub compact_log_after: u64,
    /// Servers: how many log positions a replica may fall behind the most
    /// advanced before the others release their logs past it (memory stays
    /// bounded while it is down); it then rejoins by state transfer
    /// (slots for Multi-Paxos, N2Paxos, CURP and Fast Paxos; commands for
    /// SwiftPaxos and instances of a row for EPaxos, once it is silent).
    #[arg(long, default_value_t = protocols::DEFAULT_RELEASE_LAG)]
    pub release_lag: u64,
    /// Protocol instances per replica (servers and clients must agree):
    /// shard `s` of a replica listens on its port + `s`; keys hash to shards.
    #[arg(long, default_value_t = 1)]
    pub shards: u16,
    /// Servers: an idle shard executor spins this long (Go syntax: 50us)
    /// before it parks; 0 parks at once (see `bench --spin`).
    #[arg(long, default_value = "0", value_parser = net::duration::parse_go_duration)]
    pub spin: Duration,
    /// Servers: keep transparent huge pages. Off by default: with them a
    /// replica's memory moves in 2 MiB steps (replicas holding the same
    /// state differed by up to 15%) and latency showed 200 ms spikes
    /// (results/restarts.md, "Huge pages").
    #[arg(long)]
    pub thp: bool,
    /// Client: after the workload, read back every key this client alone
    /// wrote and check it holds the last acknowledged write (PUT values are
    /// made unique for this); any loss is printed and makes the exit code 1.
    #[arg(long)]
    pub verify: bool,
}

/// Rewrites `-flag` into `--flag` so both spellings work, as in the original.
pub fn normalize_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let single = a.starts_with('-')
                && !a.starts_with("--")
                && a.len() > 2
                && a[1..].chars().next().is_some_and(char::is_alphabetic);
            if i > 0 && single {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

/// The latency file, if any.
fn latency(args: &CliArgs) -> Result<Option<LatencyTable>, String> {
    let Some(path) = &args.latency else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    LatencyTable::parse(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Delays from the node at `address` (its host part names it in the latency file).
fn delays(table: &Option<LatencyTable>, address: &str) -> Delays {
    match table {
        None => Delays::None,
        Some(t) => Delays::Table {
            table: t.clone(),
            from: address.split(':').next().unwrap_or(address).to_string(),
        },
    }
}

/// Timeouts sized for the slowest link among the replicas (and never below
/// what a loaded machine needs).
fn timing(table: &Option<LatencyTable>, d: &Deployment) -> Timing {
    let host = |a: &str| a.split(':').next().unwrap_or(a).to_string();
    let slowest = table.as_ref().map_or(Duration::ZERO, |t| {
        d.replicas
            .iter()
            .flat_map(|a| d.replicas.iter().map(move |b| (host(&a.address), host(&b.address))))
            .filter_map(|(a, b)| t.one_way(&a, &b))
            .max()
            .unwrap_or(Duration::ZERO)
    });
    Timing::for_max_delay(slowest.max(Duration::from_millis(50)))
}

/// Runs the role; returns what to print at the end.
pub fn run(args: &CliArgs) -> Result<String, String> {
    let file = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config).map_err(|e| format!("{file}: {e}"))?;
    let d = deployment::parse(&text, &file).map_err(|e| e.to_string())?;
    let protocol = match &args.protocol {
        Some(p) => *p,
        None => match d.setting(None, "protocol") {
            Some(s) => s
                .value
                .parse()
                .map_err(|e| format!("{file}:{}: protocol: {e}", s.line))?,
            None => ProtocolName::SwiftPaxos,
        },
    };
    match args.run.as_str() {
        "server" => dispatch(protocol, |p| p.server(args, &d)),
        "client" => dispatch(protocol, |p| p.client(args, &d, protocol)),
        "master" => master(&d),
        other => Err(format!("-run must be master, server or client, not `{other}`")),
    }
}

/// Picks the protocol type for a role.
fn dispatch<F: FnOnce(&dyn Role) -> Result<String, String>>(protocol: ProtocolName, role: F) -> Result<String, String> {
    struct Pick<F>(F);
    impl<F: FnOnce(&dyn Role) -> Result<String, String>> WithProtocol for Pick<F> {
        type Output = Result<String, String>;
        fn run<P: Protocol>(self) -> Self::Output
        where
            P::Message: Wire,
        {
            (self.0)(&With::<P>::default())
        }
    }
    protocol.dispatch(Pick(role))
}

trait Role {
    fn server(&self, args: &CliArgs, d: &Deployment) -> Result<String, String>;
    fn client(&self, args: &CliArgs, d: &Deployment, protocol: ProtocolName) -> Result<String, String>;
}

struct With<P>(std::marker::PhantomData<P>);

impl<P> Default for With<P> {
    fn default() -> Self {
        With(std::marker::PhantomData)
    }
}

fn quorums(args: &CliArgs, d: &Deployment) -> Result<QuorumSystem, String> {
    let n = d.replicas.len();
    let Some(path) = &args.quorum else {
        return Ok(QuorumSystem::new(n));
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let aliases: Vec<&str> = d.replicas.iter().map(|r| r.alias.as_str()).collect();
    let fast = protocols::quorum_file::parse(&text, &aliases).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(QuorumSystem::with_fast_quorums(n, fast))
}

impl<P: Protocol> Role for With<P>
where
    P::Message: Wire,
{
    fn server(&self, args: &CliArgs, d: &Deployment) -> Result<String, String> {
        let alias = args.alias.as_deref().ok_or("-run server needs -alias")?;
        let id = d
            .replica_id(alias)
            .ok_or_else(|| format!("{}: `{alias}` is not a replica in -- Replicas --", d.file))?;
        let table = latency(args)?;
        let base = replica_addresses(d)?;
        if !args.thp {
            runtime::live::memory::without_transparent_huge_pages();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        // One executor per shard, each on a core of its own when there are enough.
        let mut cores =
            runtime::live::cores::CorePlan::new(runtime::live::cores::Pinning::Auto, usize::from(args.shards.max(1)))
                .with_spin(args.spin);
        for s in 0..args.shards.max(1) {
            let spec = ReplicaSpec {
                config: ReplicaConfig {
                    id,
                    quorums: quorums(args, d)?,
                    timing: timing(&table, d),
                    bugs: DeliberateBugs::default(),
                    release_lag: args.release_lag,
                },
                addresses: shard_addresses(&base, s),
                delays: delays(&table, &d.replicas[id].address),
                wal: args.data_dir.as_ref().map(|dir| dir.join(format!("{alias}.s{s}.wal"))),
                compact_log_after: args.compact_log_after,
                stall: None,
                cut: None,
            };
            tracing::info!(alias, id, shard = s, address = %spec.addresses[id], protocol = P::NAME, "server starting");
            let stop = stop.clone();
            let handle = cores
                .next_executor(&format!("{alias}-{s}"))
                .spawn(move || async move {
                    // One shard that must stop (a failed sync) stops the
                    // whole server: its process exits with the reason.
                    let result = run_replica::<P>(spec, stop.clone()).await;
                    if result.is_err() {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    result
                })
                .map_err(|e| e.to_string())?;
            handles.push(handle);
        }
        for h in handles {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("server {alias}: {e}")),
                Err(e) => return Err(format!("server {alias}: {e:?}")),
            }
        }
        Ok(format!("server {alias} stopped\n"))
    }

    fn client(&self, args: &CliArgs, d: &Deployment, protocol: ProtocolName) -> Result<String, String> {
        let alias = args.alias.as_deref().ok_or("-run client needs -alias")?;
        let index = d
            .clients
            .iter()
            .position(|c| c.alias == alias)
            .ok_or_else(|| format!("{}: `{alias}` is not a client in -- Clients --", d.file))?;
        let closest = d.proxy.get(alias).and_then(|s| d.replica_id(s)).unwrap_or(0);
        let a = Some(alias);
        let clones = d.number(a, "clones", 0).map_err(|e| e.to_string())?;
        let reqs = d.number(a, "reqs", 1000).map_err(|e| e.to_string())?;
        let pipeline = d.flag(a, "pipeline", false).map_err(|e| e.to_string())?;
        let pendings = d.number(a, "pendings", 1).map_err(|e| e.to_string())?;
        let outstanding = if pipeline { pendings.max(1) } else { 1 };
        let workload = Workload {
            key: d.number(a, "key", 42).map_err(|e| e.to_string())? as i64,
            verify: args.verify,
            ..Workload::original(
                d.percent(a, "conflicts", 0).map_err(|e| e.to_string())?,
                d.percent(a, "writes", 100).map_err(|e| e.to_string())?,
                bytes::Bytes::from(vec![
                    b'v';
                    d.number(a, "commandSize", 100).map_err(|e| e.to_string())? as usize
                ]),
            )
        };
        let run_time = d
            .duration(a, "runTime")
            .map_err(|e| e.to_string())?
            .unwrap_or(Duration::from_secs(3600));
        let logical = (clones + 1) * outstanding;
        if logical >= 1_000_000 {
            return Err(format!("{}: client {alias}: (clones + 1) x pendings is {logical} logical clients; a host runs fewer than 1,000,000", d.file));
        }
        let first = index as u64 * 1_000_000;
        let n = d.replicas.len();
        let table = latency(args)?;
        let base = replica_addresses(d)?;
        let spec = ClientHostSpec {
            clients: first..first + logical,
            session: session_number(),
            shards: (0..args.shards.max(1)).map(|s| shard_addresses(&base, s)).collect(),
            quorums: quorums(args, d)?,
            timing: timing(&table, d),
            closest: vec![closest % n; logical as usize],
            workload,
            commands_per_client: Some(commands_per_slot(clones + 1, outstanding, reqs)),
            warmup: Duration::ZERO,
            measure: run_time,
            delays: delays(&table, &d.clients[index].address),
            host: d.clients[index].address.split(':').next().and_then(|h| h.parse().ok()),
            load: Load::Closed,
            epoch: None,
        };
        let (progress, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let mut logs = CloneLogs::new(
            (clones + 1) as usize,
            outstanding as usize,
            protocol.has_slow_path(),
            args.log.as_deref(),
        )?;
        let handle = LocalExecutorBuilder::new(Placement::Unbound)
            .name(alias)
            .spawn(move || async move {
                let report = run_clients_observed::<P>(spec, progress, stop, |done| logs.completed(done)).await;
                report.map(|r| (r, logs.finish()))
            })
            .map_err(|e| e.to_string())?;
        let (report, totals) = match handle.join() {
            Ok(Ok((r, totals))) => (r, totals.map_err(|e| format!("client {alias}: {e}"))?),
            Ok(Err(e)) => return Err(format!("client {alias}: {e}")),
            Err(e) => return Err(format!("client {alias}: {e:?}")),
        };
        let done = report.fast + report.slow + report.single_path;
        if !report.lost.is_empty() {
            return Err(format!(
                "client {alias}: {done} commands completed, but {} acknowledged writes were not read back:\n{}",
                report.lost.len(),
                report.lost.join("\n")
            ));
        }
        let verified = if args.verify {
            format!("read back {} acknowledged writes: all present\n", report.verified)
        } else {
            String::new()
        };
        let l = &report.latency_us;
        let ms = |q: f64| l.value_at_quantile(q) as f64 / 1000.0;
        let slow_paths = if protocol.has_slow_path() {
            format!(
                "slow paths: {} ({:.1}%)\n",
                totals.slow,
                100.0 * totals.slow as f64 / (totals.completed.max(1)) as f64
            )
        } else {
            String::new()
        };
        Ok(format!(
            "client {alias}: {done} commands completed ({} clients x {outstanding} outstanding)\nthroughput: {:.0} ops/s over {:.3} s\np50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms\n",
            clones + 1,
            totals.throughput(),
            totals.elapsed.as_secs_f64(),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            l.max() as f64 / 1000.0
        ) + &slow_paths
            + &verified)
    }
}

/// A number that differs from one client run to the next (below 2^24):
/// the servers outlive a client host, and a rerun with the same client
/// numbers must not look like the earlier run's clients to them.
fn session_number() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    ((nanos ^ (u64::from(std::process::id()) << 20)) % ((1 << 24) - 1)) + 1
}

/// How many commands each logical client runs so that each of `clones`
/// clones, spread over `outstanding` logical clients, runs exactly `reqs`.
fn commands_per_slot(clones: u64, outstanding: u64, reqs: u64) -> Vec<u64> {
    let outstanding = outstanding.max(1);
    (0..clones)
        .flat_map(|_| (0..outstanding).map(move |slot| reqs / outstanding + u64::from(slot < reqs % outstanding)))
        .collect()
}

/// The master holds the configuration: it answers every connection on
/// `masterPort` with the replicas, one `alias address` line each.
fn master(d: &Deployment) -> Result<String, String> {
    use std::io::Write;
    let node = d
        .master
        .as_ref()
        .ok_or_else(|| format!("{}: no -- Master -- section", d.file))?;
    let port = d.number(None, "masterPort", 7087).map_err(|e| e.to_string())?;
    let host = node.address.split(':').next().unwrap_or(&node.address);
    let listener = std::net::TcpListener::bind((host, port as u16))
        .map_err(|e| format!("{}:{}: master: {e}", d.file, node.line))?;
    tracing::info!(address = %host, port, replicas = d.replicas.len(), "master serving the replica list");
    let list: String = d
        .replicas
        .iter()
        .map(|r| format!("{} {}\n", r.alias, r.address))
        .collect();
    for stream in listener.incoming().flatten() {
        let mut stream = stream;
        let _ = stream.write_all(list.as_bytes());
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_flag_spellings_work() {
        let argv =
            normalize_flags(["swiftpaxos", "-run", "server", "--config", "x.conf", "-alias", "a"].map(String::from));
        assert_eq!(
            argv,
            ["swiftpaxos", "--run", "server", "--config", "x.conf", "--alias", "a"]
        );
        let args = CliArgs::try_parse_from(argv).unwrap();
        assert_eq!((args.run.as_str(), args.alias.as_deref()), ("server", Some("a")));
    }

    #[test]
    fn each_clone_runs_exactly_reqs_over_its_window() {
        assert_eq!(commands_per_slot(2, 3, 10), [4, 3, 3, 4, 3, 3]);
        assert_eq!(commands_per_slot(1, 1, 7), [7]);
        assert_eq!(commands_per_slot(1, 4, 2), [1, 1, 0, 0]);
    }
}
