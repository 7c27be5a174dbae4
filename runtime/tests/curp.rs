//! CURP in the simulator: exact delays of both paths, a master crash, faults.

mod common;

use common::{assert_random_faults_pass, uniform_10ms};
use protocols::curp::Curp;
use protocols::Time;
use runtime::sim::{run, Fault, SimConfig};
use std::time::Duration;

#[test]
fn commuting_commands_take_exactly_two_one_way_delays() {
    // Fast path: client → every replica (10 ms); the master's speculative
    // answer and every witness's record come straight back (10 ms): 2 delays.
    for replicas in [3, 5] {
        let outcome = run::<Curp>(&uniform_10ms(replicas, 10, 500, 0, 1));
        assert_eq!(outcome.violations(), Vec::<String>::new());
        assert_eq!(outcome.samples.len(), 500);
        for s in &outcome.samples {
            assert_eq!(s.latency, Duration::from_millis(20), "{replicas} replicas: {s:?}");
            assert_eq!(s.fast_path, Some(true));
        }
    }
}

#[test]
fn a_conflict_takes_the_slow_path() {
    // Two clients PUT the same key at once. Client 0's request reaches
    // witnesses 3 and 4 5 ms late, so they record client 1's PUT and refuse
    // client 0's: neither PUT gets the 4 records of 5 the fast path needs.
    // - The master proposes the PUT it takes first at once, and its slow path
    //   takes 3 delays: client → master (10 ms), the master's Accept →
    //   acceptors (10 ms), their Ordered → client (10 ms) = 30 ms.
    // - The other PUT conflicts with a proposed, unexecuted command, so the
    //   master holds it until that one commits (its acceptors' votes are back
    //   at 30 ms) and only then proposes it: 30 + 2 delays = 50 ms.
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
    let outcome = run::<Curp>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    let mut latencies: Vec<Duration> = outcome.samples.iter().map(|s| s.latency).collect();
    latencies.sort();
    assert_eq!(
        latencies,
        [Duration::from_millis(30), Duration::from_millis(50)],
        "{:?}",
        outcome.samples
    );
    assert!(
        outcome.samples.iter().all(|s| s.fast_path == Some(false)),
        "{:?}",
        outcome.samples
    );
}

#[test]
fn killing_the_master_mid_run_loses_no_acknowledged_command() {
    // The new master replays what witnesses hold; every fast-path answer
    // must survive that, and the same writes must be read everywhere after.
    for replicas in [3, 5] {
        let config = SimConfig {
            scripted: vec![(Time::from_millis(700), Fault::Crash(0))],
            ..uniform_10ms(replicas, 20, 2000, 20, 4)
        };
        let outcome = run::<Curp>(&config);
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
        for survivor in 1..replicas {
            assert_eq!(outcome.replicas[survivor].applied.len(), 2000, "replica {survivor}");
        }
    }
}

#[test]
fn random_faults_pass() {
    assert_random_faults_pass::<Curp>(25);
}
