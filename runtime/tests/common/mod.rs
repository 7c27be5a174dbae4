//! Helpers shared by the simulator's integration tests.

use protocols::quorum::FastQuorums;
use protocols::DeliberateBugs;
use runtime::sim::{Placement, SimConfig};
use std::time::Duration;

/// A run of `replicas` replicas and `clients` clients, all 10 ms apart, no faults.
pub fn uniform_10ms(replicas: usize, clients: usize, commands: usize, conflicts: u32, seed: u64) -> SimConfig {
    SimConfig {
        replicas,
        clients,
        commands,
        conflicts,
        writes: 50,
        scans: 0,
        seed,
        placement: Placement::uniform(replicas, clients, Duration::from_millis(10)),
        faults: false,
        scripted: Vec::new(),
        fast_quorums: FastQuorums::ThreeQuarters,
        bugs: DeliberateBugs::default(),
        wait_closest: false,
    }
}

/// Whether a violation breaks safety (as opposed to liveness).
pub fn is_safety_violation(v: &str) -> bool {
    v.starts_with("linearizability") || v.contains("differently") || v.contains("reads key") || v.contains("twice")
}
