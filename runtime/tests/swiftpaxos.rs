//! SwiftPaxos in the simulator: exact delays of both paths, both fast-quorum
//! kinds, and a leader crash.

mod common;

use common::uniform_10ms;
use protocols::quorum::{FastQuorums, ReplicaSet};
use protocols::swift::SwiftPaxos;
use protocols::Time;
use runtime::sim::{run, Fault, SimConfig};
use std::time::Duration;

fn kinds() -> [FastQuorums; 2] {
    [FastQuorums::ThreeQuarters, FastQuorums::Fixed(Vec::new())]
}

#[test]
fn conflict_free_commands_take_exactly_two_one_way_delays() {
    // Fast path: client → every replica, replicas (leader with its result) → client: 2 × 10 ms.
    for replicas in [3, 5] {
        for fast_quorums in kinds() {
            let config = SimConfig {
                fast_quorums: fast_quorums.clone(),
                ..uniform_10ms(replicas, 10, 500, 0, 1)
            };
            let outcome = run::<SwiftPaxos>(&config);
            assert_eq!(outcome.violations(), Vec::<String>::new());
            assert_eq!(outcome.samples.len(), 500);
            for s in &outcome.samples {
                assert_eq!(
                    s.latency,
                    Duration::from_millis(20),
                    "{replicas} replicas, {fast_quorums:?}: {s:?}"
                );
                assert_eq!(s.fast_path, Some(true));
            }
        }
    }
}

#[test]
fn a_conflict_seen_in_two_orders_takes_the_slow_path_in_three_delays() {
    // Two clients PUT the same key at once. Client 0's proposal reaches
    // replicas 3 and 4 5 ms late, so they see client 1's first while the
    // leader (0) and replicas 1, 2 see client 0's first. Neither command has
    // a fast quorum (4 of 5) agreeing with the leader's dependencies, so both
    // go the slow path: client → replicas (10 ms), leader's FastAck →
    // replicas (10 ms), their SlowAcks → client (10 ms) = 3 × 10 ms.
    let client0_site = 5;
    let late = Duration::from_millis(5);
    let config = SimConfig {
        writes: 100,
        scripted: vec![
            (
                Time::ZERO,
                Fault::SpikeStart {
                    a: client0_site,
                    b: 3,
                    extra: late,
                },
            ),
            (
                Time::ZERO,
                Fault::SpikeStart {
                    a: client0_site,
                    b: 4,
                    extra: late,
                },
            ),
            (Time::from_millis(1), Fault::SpikeEnd { a: client0_site, b: 3 }),
            (Time::from_millis(1), Fault::SpikeEnd { a: client0_site, b: 4 }),
        ],
        ..uniform_10ms(5, 2, 2, 100, 3)
    };
    let outcome = run::<SwiftPaxos>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    assert_eq!(outcome.samples.len(), 2);
    for s in &outcome.samples {
        assert_eq!(s.latency, Duration::from_millis(30), "{s:?}");
        assert_eq!(s.fast_path, Some(false));
    }
}

#[test]
fn killing_the_leader_mid_run_loses_no_acknowledged_command() {
    for fast_quorums in kinds() {
        let config = SimConfig {
            fast_quorums,
            scripted: vec![(Time::from_millis(700), Fault::Crash(0))],
            ..uniform_10ms(5, 20, 2000, 20, 4)
        };
        let outcome = run::<SwiftPaxos>(&config);
        // Linearizable results, the same order everywhere, every command completed
        // and applied by every survivor, the ones acknowledged before the crash included.
        assert_eq!(outcome.violations(), Vec::<String>::new());
        let before_crash = outcome
            .history
            .ops
            .iter()
            .filter(|op| op.completed.as_ref().is_some_and(|(t, _)| *t < Time::from_millis(700)))
            .count();
        assert!(
            before_crash > 100,
            "the crash came mid-run ({before_crash} done before it)"
        );
        for survivor in 1..5 {
            assert_eq!(outcome.replicas[survivor].applied.len(), 2000, "replica {survivor}");
        }
        assert!(
            outcome.samples.iter().any(|s| s.latency > Duration::from_millis(30)),
            "someone waited for the new leader"
        );
    }
}

#[test]
fn a_follower_cut_off_past_the_release_lag_catches_up_by_state_transfer() {
    // Replica 2 is cut off for two seconds: the others stop waiting for it
    // (it is silent and far behind), release the commands it never saw,
    // and leave it out of their leader's dependencies. After the heal it
    // learns it is behind, installs an image, and ends with every command.
    for replicas in [3, 5] {
        let cut_off: ReplicaSet = [2].into_iter().collect();
        let config = SimConfig {
            scripted: vec![
                (Time::from_millis(500), Fault::Partition(cut_off)),
                (Time::from_millis(2500), Fault::Heal),
            ],
            ..uniform_10ms(replicas, 20, 4000, 20, 5)
        };
        let outcome = run::<SwiftPaxos>(&config);
        assert_eq!(outcome.violations(), Vec::<String>::new(), "{replicas} replicas");
        assert!(
            outcome.state_transfers >= 1,
            "{replicas} replicas: replica 2 caught up without a state transfer"
        );
        assert_eq!(outcome.replicas[2].applied.len(), 4000, "{replicas} replicas");
    }
}

#[test]
fn random_faults_pass_for_both_kinds_and_sizes() {
    for replicas in [3, 5] {
        for fast_quorums in kinds() {
            for conflicts in [2, 50] {
                for seed in 0..25 {
                    let config = SimConfig {
                        faults: true,
                        fast_quorums: fast_quorums.clone(),
                        ..uniform_10ms(replicas, 20, 1000, conflicts, seed)
                    };
                    let v = run::<SwiftPaxos>(&config).violations();
                    assert!(
                        v.is_empty(),
                        "{replicas} replicas, {fast_quorums:?}, {conflicts}% conflicts, seed {seed}: {v:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn same_seed_same_trace() {
    let config = SimConfig {
        faults: true,
        ..uniform_10ms(5, 20, 1000, 10, 9)
    };
    assert_eq!(
        run::<SwiftPaxos>(&config).trace_hash,
        run::<SwiftPaxos>(&config).trace_hash
    );
}
