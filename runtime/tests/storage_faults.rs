//! A disk that lies, in the simulator (`--disk-faults`): torn unsynced
//! tails at a crash, synced entries and snapshots damaged while a replica
//! is down, failed syncs. The checkers judge the runs as always; a planted
//! host bug that believes a damaged log (cutting it at the first bad entry,
//! as a host that cannot tell a fault from a torn tail would) is caught.
//! The 300-seed matrix of every protocol is `sim … --disk-faults` (README).

mod common;

use common::{is_safety_violation, uniform_10ms};
use protocols::protocol::Protocol;
use protocols::DeliberateBugs;
use runtime::sim::{run, Restarts, SimConfig};
use runtime::wire::Wire;

fn lying_disk(replicas: usize, conflicts: u32, seed: u64) -> SimConfig {
    SimConfig {
        faults: true,
        restarts: Restarts::Durable,
        disk_faults: true,
        ..uniform_10ms(replicas, 20, 1000, conflicts, seed)
    }
}

/// Representative seeds of `P` at 3 and 5 replicas: no violation, and the
/// faults were there to be survived.
fn survives_a_lying_disk<P: Protocol>()
where
    P::Message: Wire,
{
    let (mut storage_faults, mut torn_tails) = (0, 0);
    for replicas in [3, 5] {
        for conflicts in [2, 50] {
            for seed in 0..6 {
                let outcome = run::<P>(&lying_disk(replicas, conflicts, seed));
                let v = outcome.violations();
                assert!(
                    v.is_empty(),
                    "{}, {replicas} replicas, {conflicts}%, seed {seed}: {v:?}",
                    P::NAME
                );
                storage_faults += outcome.storage_faults;
                torn_tails += outcome.torn_tails;
            }
        }
    }
    assert!(
        storage_faults > 0 && torn_tails > 0,
        "{}: {storage_faults} storage faults, {torn_tails} torn tails",
        P::NAME
    );
}

#[test]
fn paxos_survives_a_lying_disk() {
    survives_a_lying_disk::<protocols::paxos::Paxos>();
}

#[test]
fn n2paxos_survives_a_lying_disk() {
    survives_a_lying_disk::<protocols::n2paxos::N2Paxos>();
}

#[test]
fn curp_survives_a_lying_disk() {
    survives_a_lying_disk::<protocols::curp::Curp>();
}

#[test]
fn fastpaxos_survives_a_lying_disk() {
    survives_a_lying_disk::<protocols::fastpaxos::FastPaxos>();
}

#[test]
fn swiftpaxos_survives_a_lying_disk() {
    survives_a_lying_disk::<protocols::swift::SwiftPaxos>();
}

#[test]
fn epaxos_survives_a_lying_disk() {
    survives_a_lying_disk::<protocols::epaxos::EPaxos>();
}

#[test]
fn failed_syncs_stop_their_replica_and_the_run_goes_on() {
    let failed: u64 = (0..30)
        .map(|seed| {
            let outcome = run::<protocols::paxos::Paxos>(&lying_disk(3, 10, seed));
            assert_eq!(outcome.violations(), Vec::<String>::new(), "seed {seed}");
            outcome.sync_failures
        })
        .sum();
    assert!(failed > 0, "no sync failed in 30 seeds");
}

#[test]
fn a_host_that_believes_a_damaged_log_is_caught() {
    // Found with `sim --protocol paxos --replicas 3 --conflicts 50 --seeds 100
    // --faults --restarts durable --disk-faults --plant-trust-damaged-log
    // --commands 2000`: seed 10 is the first whose violations include a
    // client-visible one (72 was, before the fault draws included cuts
    // that leave clients every replica).
    let bugs = DeliberateBugs {
        trust_damaged_log: true,
        ..DeliberateBugs::default()
    };
    let config = |seed| SimConfig {
        bugs,
        commands: 2000,
        ..lying_disk(3, 50, seed)
    };
    let caught = run::<protocols::paxos::Paxos>(&config(10)).violations();
    assert!(caught.iter().any(|v| is_safety_violation(v)), "{caught:?}");
    assert!(caught.iter().any(|v| v.starts_with("linearizability")), "{caught:?}");
    let honest = SimConfig {
        bugs: DeliberateBugs::default(),
        ..config(10)
    };
    assert_eq!(
        run::<protocols::paxos::Paxos>(&honest).violations(),
        Vec::<String>::new()
    );
}
