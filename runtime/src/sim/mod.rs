//! The deterministic simulator: a protocol's real code over simulated time.
//!
//! Every node (replicas and closed-loop clients) lives in one event queue
//! ordered by simulated time. Messages take their link's one-way delay from
//! a [`Placement`]; links are FIFO, as TCP is, while different links reorder
//! freely. With faults on, a [schedule](faults) drawn from the seed adds
//! replica crashes (the leader among them), partitions that heal, delay
//! spikes and jitter. Everything random comes from one seeded RNG, so a seed
//! replays exactly, and [`SimOutcome::trace_hash`] proves it.

mod disk;
mod faults;
mod placement;
mod workload;
mod world;

pub use faults::{Fault, FaultSchedule};
pub use placement::{Placement, PlacementError};
pub use workload::CONFLICT_KEY;
pub use world::run;

/// How long a group sync of the simulated disk takes, at least and at most:
/// drawn per sync, so that slow disks (a sync slower than a message) are
/// part of every restart run.
pub const SYNC_LATENCY: (Duration, Duration) = (Duration::from_micros(100), Duration::from_millis(15));

use crate::check::{self, History, ReplicaLog};
use protocols::quorum::FastQuorums;
use protocols::{DeliberateBugs, Time};
use std::time::Duration;

/// One simulated run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Replicas in the deployment.
    pub replicas: usize,
    /// Closed-loop clients, each with one command outstanding.
    pub clients: usize,
    /// Commands in total, shared out among the clients.
    pub commands: usize,
    /// Percentage of commands on the one shared key [`CONFLICT_KEY`]; the
    /// rest use keys of their own client.
    pub conflicts: u32,
    /// Percentage of commands that are PUTs; the rest are GETs.
    pub writes: u32,
    /// Percentage of the reads that are SCANs of four keys around the key.
    pub scans: u32,
    /// Seeds everything random: workload, fault schedule, jitter.
    pub seed: u64,
    /// Where replicas and clients are and how far apart.
    pub placement: Placement,
    /// Whether to inject faults drawn from the seed.
    pub faults: bool,
    /// Faults at fixed times, on top of any drawn ones: scenario tests build
    /// the exact failure they need with these.
    pub scripted: Vec<(Time, Fault)>,
    /// Fast quorums, for the protocols that have them.
    pub fast_quorums: FastQuorums,
    /// Planted bugs, for checker tests only.
    pub bugs: DeliberateBugs,
    /// Clients also wait for their closest replica's answer (`waitClosest`).
    pub wait_closest: bool,
    /// Whether crashed replicas come back, and with what.
    pub restarts: Restarts,
    /// With durable restarts, a disk that lies as well as crashes: the
    /// unsynced tail is torn at a crash, synced entries and snapshots of at
    /// most f replicas are damaged while they are down, and a sync
    /// sometimes fails (its replica stops, and is restarted later).
    pub disk_faults: bool,
    /// [`protocols::ReplicaConfig::release_lag`]: small in test runs
    /// ([`SIM_RELEASE_LAG`]), so that a replica that was down or cut off
    /// rejoins by state transfer.
    pub release_lag: u64,
}

/// The release lag of simulated runs: a few dozen log positions, so that
/// outages in a run of a thousand commands end in state transfers.
pub const SIM_RELEASE_LAG: u64 = 16;

/// What a crashed replica comes back with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restarts {
    /// Crash-stop: a crashed replica stays down (records are not modelled).
    #[default]
    Never,
    /// Crash-restart from stable storage: each replica has a simulated disk;
    /// a record becomes durable when its group sync completes (after a
    /// drawn disk latency), messages queued after a record wait for that
    /// sync, and a crash loses what was not synced. A restarted replica is
    /// rebuilt from exactly what it had synced. The fault schedule crashes
    /// and restarts replicas (at most f at once), and sometimes the whole
    /// cluster at once.
    Durable,
    /// Crash-restart without stable storage: a restarted replica comes back
    /// empty and rejoins ([`protocols::rejoin`]) before it acts: every
    /// other replica acknowledges its new life, then a replica that covers
    /// what they all reported sends it a snapshot. Messages carry their
    /// sender's knowledge of lives, and those from an ended life are
    /// dropped once the receiver knows. At most f replicas are without
    /// their state at once: a crash that would make it more waits.
    Volatile,
}

/// One completed command's latency as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The client.
    pub client: usize,
    /// The client's site in the placement.
    pub site: usize,
    /// From submission to result.
    pub latency: Duration,
    /// Whether it took the fast path, for protocols that have one.
    pub fast_path: Option<bool>,
}

/// What a run did, with everything the checkers need.
#[derive(Clone, Debug)]
pub struct SimOutcome {
    /// The clients' history.
    pub history: History,
    /// What each replica applied, in order; after them, what replicas had
    /// applied before a state transfer replaced it (see `World::replaced`),
    /// as crashed replicas.
    pub replicas: Vec<ReplicaLog>,
    /// Whether every command completed and the run then drained after the
    /// last fault healed, so live replicas must hold the same commands.
    pub quiescent: bool,
    /// One sample per completed command.
    pub samples: Vec<Sample>,
    /// Messages delivered.
    pub messages: u64,
    /// Simulation events processed (deliveries, ticks, faults).
    pub events: u64,
    /// A hash of every delivery and execution in order: equal seeds, equal hashes.
    pub trace_hash: u64,
    /// Simulated time at the end.
    pub end: Time,
    /// The faults that were injected, described.
    pub faults: Vec<String>,
    /// Each replica's own description of its state at the end.
    pub replica_states: Vec<String>,
    /// With durable restarts: how many restarts began from a snapshot the
    /// replica's records had been compacted into.
    pub restored_from_snapshot: u64,
    /// How many state transfers replicas installed (a replica that fell
    /// behind what the others released).
    pub state_transfers: u64,
    /// With volatile restarts: how many restarted replicas rejoined (got
    /// every acknowledgement and a donor's snapshot).
    pub rejoins: u64,
    /// With disk faults: restarts that found their log damaged
    /// (a storage fault) and rejoined from the others instead.
    pub storage_faults: u64,
    /// Restarts that cut a torn tail off their log.
    pub torn_tails: u64,
    /// Syncs that failed, each stopping its replica.
    pub sync_failures: u64,
    /// State transfers whose image did not hold what the receiver had
    /// already applied, in its order (the replicas had diverged).
    pub transfer_violations: Vec<String>,
    /// Which replicas were out of service when, for the degraded-progress
    /// check.
    pub fault_periods: Vec<check::FaultPeriod>,
    /// What the degraded-progress check allows in this run.
    pub degraded_rules: check::DegradedRules,
}

impl SimOutcome {
    /// Every liveness, linearizability and agreement violation of the run.
    pub fn violations(&self) -> Vec<String> {
        let mut v = check::check_liveness(&self.history);
        v.extend(check::check_linearizability(&self.history));
        v.extend(check::check_agreement(&self.history, &self.replicas, self.quiescent));
        v.extend(self.transfer_violations.iter().cloned());
        v.extend(check::check_degraded_progress(
            &self.history,
            &self.fault_periods,
            self.end,
            self.degraded_rules,
        ));
        v
    }
}
