//! `bench`'s command line and what its values mean.

use crate::faults::Fault;
use crate::sweep::{parse_rate, Sweep};
use clap::Parser;
use runtime::live::cores::Pinning;
use runtime::live::workload::Arrivals;
use runtime::protocol_name::ProtocolName;
use std::path::PathBuf;
use std::time::Duration;

/// `bench`'s command line.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "bench",
    about = "Benchmark protocols on a local cluster (loopback) or a running deployment: closed or open loop, sweeps, timelines, faults during the run"
)]
pub struct BenchArgs {
    /// Protocols: one name (swiftpaxos|swift, paxos, n2paxos, curp, fastpaxos, epaxos; any case), a comma-separated list, or `all`. Each is measured in turn.
    #[arg(long, default_value = "swiftpaxos")]
    pub protocol: String,
    /// Closed loop: clients, each keeping --outstanding commands in flight. Open loop (--rate): the pool of clients that carry the commands, one each at a time.
    #[arg(long, default_value_t = 512)]
    pub clients: usize,
    /// Commands each client keeps in flight (closed loop).
    #[arg(long, default_value_t = 1)]
    pub outstanding: usize,
    /// Open loop: start commands at this rate (ops/s; `20000`, `20k`, `1.5m`) whatever is outstanding, and count latency from each command's intended start.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Open loop: how starts are spaced.
    #[arg(long, default_value = "poisson", value_parser = str::parse::<Arrivals>)]
    pub arrivals: Arrivals,
    /// Measure every point of `clients=1,8,64` or `rate=10k,50k` for every protocol, and write a CSV (and with --plot a PNG) under --output.
    #[arg(long, value_parser = str::parse::<Sweep>)]
    pub sweep: Option<Sweep>,
    /// Also draw PNGs under --output: each run's timeline, and the sweep's throughput–latency curve.
    #[arg(long)]
    pub plot: bool,
    /// Faults during the run, comma-separated, times from the start of the measurement: `kill-leader@3s`, `kill:r2@3s`, `restart:r2@6s` (from its log with --data-dir, else empty: it rejoins), `stall:r0@1s+200ms` (freeze a replica for 200 ms). The leader is r0, which leads the first ballot.
    #[arg(long, value_delimiter = ',', value_parser = str::parse::<Fault>)]
    pub fault: Vec<Fault>,
    /// Replicas in the local cluster.
    #[arg(long, default_value_t = 3)]
    pub replicas: usize,
    /// With --keys shared: percentage of commands on the shared key (exact: 2 means 2 in every 100 of each client's commands, at positions of its own).
    #[arg(long, default_value_t = 2)]
    pub conflicts: u32,
    /// Percentage of PUTs among the commands that are not SCANs (exact); the rest are GETs.
    #[arg(long, default_value_t = 50)]
    pub writes: u32,
    /// Percentage of commands that are SCANs (exact); needs --shards 1.
    #[arg(long, default_value_t = 0)]
    pub scans: u32,
    /// Keys a SCAN reads after its first.
    #[arg(long, default_value_t = 10)]
    pub scan_length: u64,
    /// Where keys come from: `shared` (the original's: --conflicts on one shared key, the rest on keys of each client's own), `uniform` or `zipf:S` (e.g. zipf:0.99) over --keyspace keys all clients share.
    #[arg(long, default_value = "shared")]
    pub keys: String,
    /// With --keys uniform|zipf: how many keys.
    #[arg(long, default_value_t = 100_000)]
    pub keyspace: u64,
    /// Bytes per PUT value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// How long to measure (Go syntax: 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long to run before measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Seeds the open loop's Poisson arrivals.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Client executors (threads) the logical clients are spread over.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Shards per replica: independent protocol instances, one executor
    /// each; keys hash to shards, and shard i talks only to shard i.
    /// `auto`: as many as the machine's cores allow, one core per replica
    /// shard (cores / replicas, at least 1), so the main job uses every core.
    #[arg(long, default_value = "auto", value_parser = parse_shards)]
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
    pub latency: Option<PathBuf>,
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
    /// each port + s, with `--shards S`); `--replicas`, the latency options
    /// and --fault do not apply. The protocol must be the deployment's.
    #[arg(long)]
    pub connect: Option<PathBuf>,
    /// With --connect: the servers' quorum file (`-quorum`), so that
    /// SwiftPaxos clients count the same fast quorums.
    #[arg(long)]
    pub quorum: Option<PathBuf>,
    /// Pin executors to cores: `auto` (only when every executor gets a core
    /// of its own), `on` (round-robin even when cores are fewer), `off`.
    #[arg(long, default_value = "auto", value_parser = str::parse::<Pinning>)]
    pub pin: Pinning,
    /// How an idle executor waits: spin this long (Go syntax: 50us) before parking; 0 parks at once (the default: on a machine with fewer cores than executors, spinning takes the core from a busy neighbour).
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub spin: Duration,
    /// Keep transparent huge pages. Off by default, as for servers: with
    /// them the allocator's pages fault in 2 MiB at a time (the kernel
    /// zeroing them was 10% of a SwiftPaxos profile) and p99 was 1.3-2x
    /// higher for SwiftPaxos and Multi-Paxos at the same throughput
    /// (results/README.md, "Four cuts in per-command cost, and huge pages
    /// off in `bench`").
    #[arg(long)]
    pub thp: bool,
    /// Durable mode: each replica shard keeps a write-ahead log under this
    /// directory (in a fresh subdirectory per run, removed at the end) and
    /// syncs it (one `fdatasync` per batch) before its messages leave, to
    /// measure what durability costs; replicas restarted by --fault replay
    /// it. Without it replicas write nothing.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// How many log slots a replica may fall behind the most advanced
    /// before the others release past it; it then rejoins by state
    /// transfer (Multi-Paxos, N2Paxos, CURP and Fast Paxos).
    #[arg(long, default_value_t = protocols::DEFAULT_RELEASE_LAG)]
    pub release_lag: u64,
    /// Where the JSON results (and CSV, PNG) go.
    #[arg(long, default_value = "results")]
    pub output: PathBuf,
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

/// A shard count, or `auto` (kept as 0 until [`BenchArgs::resolved`]).
fn parse_shards(s: &str) -> Result<usize, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(0);
    }
    match s.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a shard count (1 to 64, or auto)")),
    }
}

impl BenchArgs {
    /// The arguments of each point of `--sweep` (just these without one).
    pub fn points(&self) -> Vec<BenchArgs> {
        let point = |clients, rate| BenchArgs {
            clients,
            rate,
            sweep: None,
            ..self.clone()
        };
        match &self.sweep {
            Some(Sweep::Clients(list)) => list.iter().map(|&clients| point(clients, self.rate)).collect(),
            Some(Sweep::Rate(list)) => list.iter().map(|&rate| point(self.clients, Some(rate))).collect(),
            None => vec![self.clone()],
        }
    }

    /// The arguments with `--shards auto` made a number: this machine's
    /// cores over the replicas (at least 1; 1 with SCANs, whose ranges
    /// would cross shards).
    pub fn resolved(&self) -> BenchArgs {
        let mut args = self.clone();
        if args.shards == 0 {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            args.shards = if args.scans > 0 {
                1
            } else {
                (cores / args.replicas.max(1)).clamp(1, 64)
            };
        }
        args
    }

    /// The protocols `--protocol` names.
    pub fn protocols(&self) -> Result<Vec<ProtocolName>, String> {
        ProtocolName::parse_list(&self.protocol)
    }

    /// Checks what clap cannot: ranges, and options that exclude each other.
    pub fn validate(&self) -> Result<(), String> {
        self.protocols()?;
        if self.shards > 64 {
            return Err(format!("--shards must be between 1 and 64, not {}", self.shards));
        }
        if self.connect.is_none() && self.quorum.is_some() {
            return Err("--quorum goes with --connect (a local cluster uses the default quorums)".into());
        }
        if !(1..=64).contains(&self.replicas) {
            return Err(format!("--replicas must be between 1 and 64, not {}", self.replicas));
        }
        if self.clients == 0 || self.outstanding == 0 || self.client_threads == 0 {
            return Err("--clients, --outstanding and --client-threads must be at least 1".into());
        }
        if self.conflicts > 100 || self.writes > 100 || self.scans > 100 {
            return Err("--conflicts, --writes and --scans are percentages (0 to 100)".into());
        }
        if self.scans > 0 && self.shards > 1 {
            return Err("--scans needs --shards 1 (a SCAN's range would cross shards)".into());
        }
        runtime::live::workload::Keys::parse(&self.keys, self.keyspace).map_err(|e| format!("--keys: {e}"))?;
        if self.rate.is_some() && self.outstanding != 1 {
            return Err(
                "--outstanding is for the closed loop; with --rate the clients are a pool, one command each".into(),
            );
        }
        if matches!(self.sweep, Some(Sweep::Rate(_))) && self.rate.is_some() {
            return Err("--sweep rate=… sets the rate; drop --rate".into());
        }
        if !self.fault.is_empty() && self.connect.is_some() {
            return Err("--fault acts on the local cluster; with --connect bench starts no replica".into());
        }
        crate::faults::check(&self.fault, self)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_multipliers() {
        assert_eq!(parse_rate("20000"), Ok(20_000.0));
        assert_eq!(parse_rate("20k"), Ok(20_000.0));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000.0));
        assert!(parse_rate("fast").is_err() && parse_rate("-3").is_err() && parse_rate("0").is_err());
    }

    #[test]
    fn auto_shards_give_each_replica_shard_a_core() {
        let parse = |extra: &[&str]| {
            BenchArgs::try_parse_from([&["bench"], extra].concat())
                .expect("arguments parse")
                .resolved()
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(parse(&[]).shards, (cores / 3).max(1));
        assert_eq!(parse(&["--replicas", "1"]).shards, cores.min(64));
        assert_eq!(parse(&["--shards", "2"]).shards, 2);
        assert_eq!(parse(&["--replicas", "1", "--scans", "5"]).shards, 1);
        assert!(BenchArgs::try_parse_from(["bench", "--shards", "0"]).is_err());
        assert!(BenchArgs::try_parse_from(["bench", "--shards", "many"]).is_err());
    }
}
