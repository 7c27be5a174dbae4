//! Helpers shared by the simulator's integration tests.

use protocols::quorum::FastQuorums;
use protocols::DeliberateBugs;
use runtime::sim::{Placement, Restarts, SimConfig};
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
        restarts: Restarts::Never,
        disk_faults: false,
        release_lag: runtime::sim::SIM_RELEASE_LAG,
    }
}

/// Runs `seeds` faulty seeds of `P` for 3 and 5 replicas at 2% and 50%
/// conflicts (20 clients, 1000 commands) and fails on the first violation.
#[allow(dead_code)] // each test binary uses its own subset of these helpers
pub fn assert_random_faults_pass<P: protocols::protocol::Protocol>(seeds: u64)
where
    P::Message: runtime::wire::Wire,
{
    for replicas in [3, 5] {
        for conflicts in [2, 50] {
            for seed in 0..seeds {
                let config = SimConfig {
                    faults: true,
                    ..uniform_10ms(replicas, 20, 1000, conflicts, seed)
                };
                let v = runtime::sim::run::<P>(&config).violations();
                assert!(v.is_empty(), "{replicas} replicas, {conflicts}%, seed {seed}: {v:?}");
            }
        }
    }
}

/// Whether a violation breaks safety (as opposed to liveness).
#[allow(dead_code)]
pub fn is_safety_violation(v: &str) -> bool {
    v.starts_with("linearizability") || v.contains("differently") || v.contains("reads key") || v.contains("twice")
}
