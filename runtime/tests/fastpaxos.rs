//! Fast Paxos in the simulator: the fast path, a collision recovered
//! without the coordinator, crashes and random faults.

mod common;

use common::{assert_random_faults_pass, uniform_10ms};
use protocols::fastpaxos::FastPaxos;
use protocols::Time;
use runtime::sim::{run, Fault, SimConfig};
use std::time::Duration;

#[test]
fn without_collisions_a_command_takes_exactly_three_one_way_delays() {
    // client → every acceptor (10 ms); their votes → the client's closest
    // replica (10 ms), which learns from a fast quorum, executes and
    // answers (10 ms): 3 delays, no leader on the way.
    for replicas in [3, 5] {
        let outcome = run::<FastPaxos>(&uniform_10ms(replicas, 10, 500, 0, 1));
        assert_eq!(outcome.violations(), Vec::<String>::new());
        assert_eq!(outcome.samples.len(), 500);
        for s in &outcome.samples {
            assert_eq!(s.latency, Duration::from_millis(30), "{replicas} replicas: {s:?}");
            assert_eq!(s.fast_path, Some(true));
        }
    }
}

#[test]
fn a_collision_is_recovered_without_the_coordinator() {
    // Two clients propose at once. Client 0 reaches replicas 3 and 4 5 ms
    // late, client 1 reaches replicas 0, 1 and 2 5 ms late. Each acceptor
    // votes for the command it got first in instance 0 (at 10 ms) and for
    // the other in instance 1 (at 15 ms): instance 0 gets client 0's command
    // three times and client 1's twice, instance 1 the reverse; neither has
    // a fast quorum (4 of 5). Once all five votes of instance 0 are in,
    // every replica sees the same votes; as neither value can have been
    // chosen, each picks both commands (the most voted first) and votes for
    // that in the recovery round, which decides it: client → acceptors
    // (10 ms), fast votes (10 ms), recovery votes (10 ms), closest replica →
    // client (10 ms) = 40 ms for both clients (when the recovery round took
    // only the most voted value, client 1's command waited for instance 1:
    // 45 ms). No leader round trip: a classic round would add prepare and accept.
    let late = Duration::from_millis(5);
    let (client0, client1) = (5, 6);
    let mut scripted = Vec::new();
    for (site, replicas) in [(client0, [3, 4].as_slice()), (client1, [0, 1, 2].as_slice())] {
        for &r in replicas {
            scripted.push((
                Time::ZERO,
                Fault::SpikeStart {
                    a: site,
                    b: r,
                    extra: late,
                },
            ));
            scripted.push((Time::from_millis(1), Fault::SpikeEnd { a: site, b: r }));
        }
    }
    let config = SimConfig {
        writes: 100,
        scripted,
        ..uniform_10ms(5, 2, 2, 100, 3)
    };
    let outcome = run::<FastPaxos>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    let mut latencies: Vec<(usize, Duration)> = outcome.samples.iter().map(|s| (s.client, s.latency)).collect();
    latencies.sort();
    assert_eq!(
        latencies,
        [(0, Duration::from_millis(40)), (1, Duration::from_millis(40))]
    );
    assert!(
        outcome.samples.iter().all(|s| s.fast_path == Some(false)),
        "{:?}",
        outcome.samples
    );
}

#[test]
fn crashes_leave_the_classic_round_to_finish_the_log() {
    // With a replica gone, a collided instance never gets every vote, so the
    // leader's classic round decides it; then the leader itself crashes and
    // its successor recovers the log suffix.
    for replicas in [3, 5] {
        let scripted = vec![
            (Time::from_millis(400), Fault::Crash(replicas - 1)),
            (Time::from_millis(900), Fault::Crash(0)),
        ];
        let scripted = if replicas == 3 {
            scripted[1..].to_vec()
        } else {
            scripted
        };
        let config = SimConfig {
            scripted,
            ..uniform_10ms(replicas, 20, 2000, 20, 4)
        };
        let outcome = run::<FastPaxos>(&config);
        assert_eq!(outcome.violations(), Vec::<String>::new(), "{replicas} replicas");
        assert_eq!(outcome.replicas[1].applied.len(), 2000, "{replicas} replicas");
    }
}

#[test]
fn random_faults_pass() {
    assert_random_faults_pass::<FastPaxos>(25);
}
