//! The guide's example protocol (`protocols::primary_backup`,
//! docs/adding-a-protocol.md) in the simulator, judged by the same
//! checkers as the six: what a new protocol gets for its folder alone.

mod common;

use common::uniform_10ms;
use protocols::primary_backup::PrimaryBackup;
use protocols::quorum::ReplicaSet;
use protocols::Time;
use runtime::sim::{run, Fault, SimConfig};
use std::time::Duration;

#[test]
fn every_command_takes_four_one_way_delays_and_passes_the_checkers() {
    // client → primary → backups → primary → client: 4 × 10 ms, at any
    // conflict rate (the primary orders everything).
    for (replicas, conflicts) in [(3, 0), (3, 50), (5, 100)] {
        let outcome = run::<PrimaryBackup>(&uniform_10ms(replicas, 10, 500, conflicts, 1));
        assert_eq!(outcome.violations(), Vec::<String>::new());
        assert_eq!(outcome.samples.len(), 500);
        for s in &outcome.samples {
            assert_eq!(s.latency, Duration::from_millis(40), "{replicas} replicas: {s:?}");
        }
    }
}

#[test]
fn copies_lost_to_a_cut_backup_are_sent_again() {
    // Backup 2 loses its links to the other replicas for 300 ms: the copies
    // sent meanwhile are lost, the primary resends them after a retry
    // timeout, and every command completes, each once.
    let ms = |m| Time::ZERO + Duration::from_millis(m);
    let config = SimConfig {
        scripted: vec![
            (ms(100), Fault::Cut(ReplicaSet::from_iter([2]))),
            (ms(400), Fault::Heal),
        ],
        ..uniform_10ms(3, 10, 1000, 10, 2)
    };
    let outcome = run::<PrimaryBackup>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    assert_eq!(outcome.samples.len(), 1000);
    assert!(
        outcome.samples.iter().any(|s| s.latency > Duration::from_millis(300)),
        "some command waited out the cut"
    );
}
