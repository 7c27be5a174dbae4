//! EPaxos in the simulator: exact delays of both paths, a planted execution
//! bug the checkers must catch, random faults, and the failure scenarios
//! reported against the original EPaxos code and the original prototype,
//! each built deterministically.

mod common;

use common::{assert_random_faults_pass, is_safety_violation, uniform_10ms};
use net::LatencyMatrix;
use protocols::epaxos::EPaxos;
use protocols::quorum::ReplicaSet;
use protocols::{DeliberateBugs, Time};
use runtime::sim::{run, Fault, Placement, SimConfig, SimOutcome};
use std::time::Duration;

/// `replicas` replicas 10 ms apart; client `c` sits at replica `sites[c]`'s
/// site (0 ms from it), so it leads its commands there.
fn clients_at(replicas: usize, sites: &[usize], commands: usize, seed: u64) -> SimConfig {
    let placement = Placement {
        matrix: LatencyMatrix::uniform(replicas, Duration::from_millis(10)),
        replica_sites: (0..replicas).collect(),
        client_sites: sites.to_vec(),
    };
    SimConfig {
        placement,
        writes: 100,
        ..uniform_10ms(replicas, sites.len(), commands, 100, seed)
    }
}

/// The recovery counters a replica reports in its state line.
fn recovery_count(outcome: &SimOutcome, replica: usize, what: &str) -> u32 {
    let line = &outcome.replica_states[replica];
    let counts = line
        .split("recovery:")
        .nth(1)
        .unwrap_or_else(|| panic!("no recovery counts in {line}"));
    let tail = counts
        .split(&format!(" {what} "))
        .nth(1)
        .unwrap_or_else(|| panic!("no `{what}` in {line}"));
    tail.split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad `{what}` in {line}"))
}

fn total(outcome: &SimOutcome, what: &str) -> u32 {
    (0..outcome.replica_states.len())
        .map(|r| recovery_count(outcome, r, what))
        .sum()
}

fn spike(a: usize, b: usize, extra_ms: u64) -> [(Time, Fault); 2] {
    [
        (
            Time::ZERO,
            Fault::SpikeStart {
                a,
                b,
                extra: Duration::from_millis(extra_ms),
            },
        ),
        (Time::from_millis(1), Fault::SpikeEnd { a, b }),
    ]
}

#[test]
fn conflict_free_commands_take_exactly_four_one_way_delays() {
    // Fast path: client → command leader (10 ms) → PreAccept to the others
    // (10 ms) → a fast quorum of unchanged PreAcceptOks back (10 ms) → the
    // leader commits, executes and answers (10 ms): 4 delays.
    for replicas in [3, 5] {
        let outcome = run::<EPaxos>(&uniform_10ms(replicas, 10, 500, 0, 1));
        assert_eq!(outcome.violations(), Vec::<String>::new());
        assert_eq!(outcome.samples.len(), 500);
        for s in &outcome.samples {
            assert_eq!(s.latency, Duration::from_millis(40), "{replicas} replicas: {s:?}");
            assert_eq!(s.fast_path, Some(true));
        }
    }
}

#[test]
fn a_conflict_seen_in_two_orders_takes_the_slow_path() {
    // Clients beside replicas 0 and 1 PUT the same key at once. Replica 0's
    // PreAccept reaches 3 and 4 5 ms late and replica 1's reaches 2 late, so
    // 2 sees command 0 first while 3 and 4 see command 1 first.
    // - Command 1: replicas 3 and 4 answer unchanged at 10 ms; with its
    //   leader that is a fast quorum (3 of 5): committed and answered at
    //   20 ms, two delays for a client beside its leader.
    // - Command 0: only replica 2 answers unchanged; replicas 1, 3 and 4
    //   add command 1, so no fast quorum can form: slow path. Accept at
    //   20 ms, a majority of AcceptOks at 40 ms, committed depending on
    //   command 1 (committed since 30 ms here): executed and answered at
    //   40 ms, four delays.
    let mut scripted = Vec::new();
    scripted.extend(spike(0, 3, 5));
    scripted.extend(spike(0, 4, 5));
    scripted.extend(spike(1, 2, 5));
    let config = SimConfig {
        scripted,
        ..clients_at(5, &[0, 1], 2, 3)
    };
    let outcome = run::<EPaxos>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    let mut seen: Vec<_> = outcome
        .samples
        .iter()
        .map(|s| (s.client, s.latency, s.fast_path))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (0, Duration::from_millis(40), Some(false)),
            (1, Duration::from_millis(20), Some(true))
        ]
    );
}

#[test]
fn the_checkers_catch_execution_that_ignores_dependencies() {
    // Test-only switch: each replica executes a command as soon as it
    // commits. Conflicting commands then run in commit order, which differs
    // between replicas; the agreement and linearizability checkers must say so.
    let bugs = DeliberateBugs {
        epaxos_execute_on_commit: true,
        ..DeliberateBugs::default()
    };
    let caught = (0..20).any(|seed| {
        let config = SimConfig {
            bugs,
            faults: true,
            ..uniform_10ms(5, 20, 1000, 50, seed)
        };
        run::<EPaxos>(&config)
            .violations()
            .iter()
            .any(|v| is_safety_violation(v))
    });
    assert!(caught, "20 seeds of broken execution and no safety violation reported");
    // The same seeds pass with the switch off.
    for seed in 0..20 {
        let config = SimConfig {
            faults: true,
            ..uniform_10ms(5, 20, 1000, 50, seed)
        };
        assert_eq!(run::<EPaxos>(&config).violations(), Vec::<String>::new(), "seed {seed}");
    }
}

#[test]
fn a_replica_cut_off_past_the_release_lag_catches_up_by_state_transfer() {
    // Replica 2 is cut off for two seconds: the others stop waiting for it
    // (it is silent and far behind) and release the instances it never
    // saw. After the heal their released prefixes show it behind; it
    // installs an image and ends with every command.
    for replicas in [3, 5] {
        let cut_off: ReplicaSet = [2].into_iter().collect();
        let config = SimConfig {
            scripted: vec![
                (Time::from_millis(500), Fault::Partition(cut_off)),
                (Time::from_millis(2500), Fault::Heal),
            ],
            ..uniform_10ms(replicas, 20, 4000, 20, 5)
        };
        let outcome = run::<EPaxos>(&config);
        assert_eq!(outcome.violations(), Vec::<String>::new(), "{replicas} replicas");
        assert!(
            outcome.state_transfers >= 1,
            "{replicas} replicas: replica 2 caught up without a state transfer"
        );
        assert_eq!(outcome.replicas[2].applied.len(), 4000, "{replicas} replicas");
    }
}

#[test]
fn random_faults_pass() {
    assert_random_faults_pass::<EPaxos>(20);
}

/// `a` and `b` (replica sites) cut apart from `at` on, as one group.
fn partition(at_ms: u64, group: &[usize]) -> (Time, Fault) {
    (
        Time::from_millis(at_ms),
        Fault::Partition(group.iter().copied().collect::<ReplicaSet>()),
    )
}

#[test]
fn efficient_epaxos_27_a_command_executed_before_its_commit_is_broadcast_keeps_its_attributes() {
    // efficient/epaxos#27: the leader commits on the fast path, executes and
    // answers, and dies before its Commit reaches anyone. Recovery must
    // commit the same attributes everywhere.
    // Client 0 sits at replica 0: its PUT is pre-accepted unchanged by 2, 3
    // and 4 at 10 ms and committed fast at 20 ms; client 0 has its answer at
    // 20 ms. Replica 0 is cut off at 25 ms (its Commit, due at 30 ms, is
    // lost) and crashes. A conflicting PUT led by replica 1 depends on it
    // and cannot execute until it is recovered: with the fast-path evidence
    // (unchanged pre-accepts in the default ballot) the recoverer checks with
    // `TryPreAccept` that the attributes are still possible, and accepts them.
    let mut config = clients_at(5, &[0, 1], 2, 5);
    config.placement.matrix = LatencyMatrix::uniform(6, Duration::from_millis(10));
    config.placement.client_sites = vec![0, 5];
    config.scripted = vec![partition(25, &[0]), (Time::from_millis(26), Fault::Crash(0))];
    let outcome = run::<EPaxos>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    let first = outcome.samples.iter().find(|s| s.client == 0).expect("client 0 done");
    assert_eq!(
        (first.latency, first.fast_path),
        (Duration::from_millis(20), Some(true)),
        "{:?}\n{:?}",
        outcome.samples,
        outcome.history.ops
    );
    assert!(
        total(&outcome, "tried-then-accepted") >= 1,
        "{:?}",
        outcome.replica_states
    );
    for survivor in 1..5 {
        assert_eq!(outcome.replicas[survivor].applied.len(), 2, "replica {survivor}");
    }
}

#[test]
fn efficient_epaxos_29_and_swiftpaxos_3_recovery_after_asymmetric_pre_accept_loss() {
    // efficient/epaxos#29, and the original prototype's swiftpaxos#3 (the
    // TryPreAccept conflict status never set; the "accept directly" and
    // "TryPreAccept" sub-cases guarded by the same condition):
    // replicas {0, 1} are cut from {2, 3, 4} at 5 ms, so replica 0's PreAccept
    // (due at 10 ms) reaches only replica 1, which pre-accepts it unchanged.
    // Replica 2's conflicting PUT commits on the fast path in {2, 3, 4}
    // without it. Replica 0 crashes at 15 ms; the partition heals at 60 ms.
    // The recovery sees one unchanged pre-accept: the command might have
    // committed fast, so it must not be accepted as is (that would leave
    // two conflicting commands neither of which depends on the other). The
    // TryPreAccept meets the committed conflicting command, which proves the
    // fast path never happened: phase 1 again, and the recovered command
    // depends on the other.
    let mut config = clients_at(5, &[0, 2], 2, 7);
    config.scripted = vec![
        partition(5, &[0, 1]),
        (Time::from_millis(15), Fault::Crash(0)),
        (Time::from_millis(60), Fault::Heal),
    ];
    let outcome = run::<EPaxos>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    assert!(total(&outcome, "tried") >= 1, "{:?}", outcome.replica_states);
    assert!(total(&outcome, "conflict-decided") >= 1, "{:?}", outcome.replica_states);
    assert!(total(&outcome, "phase1") >= 1, "{:?}", outcome.replica_states);
    for survivor in 1..5 {
        assert_eq!(outcome.replicas[survivor].applied.len(), 2, "replica {survivor}");
    }
}

#[test]
fn efficient_epaxos_26_a_cycle_whose_last_commit_arrives_late_still_executes() {
    // efficient/epaxos#26: the SCC search stalled for good when it met a
    // dependency not committed yet. Three leaders PUT one key at once and see
    // each other's PreAccepts in different orders (a cycle of dependencies);
    // replica 2's messages to replica 0 are held 100 ms from 15 ms on, so
    // replica 0 commits its own and replica 1's command long before replica
    // 2's. When that Commit arrives, the whole cycle must execute there, in
    // the same order as everywhere else.
    let mut scripted = Vec::new();
    scripted.extend(spike(0, 3, 5));
    scripted.extend(spike(1, 4, 5));
    scripted.extend(spike(2, 1, 3));
    scripted.push((
        Time::from_millis(15),
        Fault::SpikeStart {
            a: 2,
            b: 0,
            extra: Duration::from_millis(100),
        },
    ));
    scripted.push((Time::from_millis(45), Fault::SpikeEnd { a: 2, b: 0 }));
    let config = SimConfig {
        scripted,
        ..clients_at(5, &[0, 1, 2], 3, 11)
    };
    let outcome = run::<EPaxos>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    assert_eq!(outcome.samples.len(), 3);
    for r in 0..5 {
        assert_eq!(outcome.replicas[r].applied.len(), 3, "replica {r}");
    }
    let at_0 = outcome.samples.iter().find(|s| s.client == 0).expect("client 0 done");
    assert!(
        at_0.latency > Duration::from_millis(100),
        "replica 0 waited for the late Commit: {:?}",
        outcome.samples
    );
}

#[test]
fn swiftpaxos_3_competing_recoveries_keep_promised_ballots() {
    // swiftpaxos#3, "ballot overwritten by the accepted ballot": a replica
    // must keep the highest ballot it promised, whatever ballot it last
    // accepted in. Replica 0's PreAccept reaches only replicas 1 and 2 (cut
    // from 3, 4 at 5 ms) and replica 0 crashes at 15 ms. Replica 1 recovers
    // first; its messages to 3 and 4 are held 400 ms (from 100 ms on), so
    // replica 2 starts a second recovery in a higher ballot while replica
    // 1's stale Prepare/Accept messages still arrive later. Both recoveries
    // run; the instance must be decided once, the same everywhere.
    let mut config = clients_at(5, &[0, 3], 2, 13);
    config.scripted = vec![
        partition(5, &[0, 1, 2]),
        (Time::from_millis(15), Fault::Crash(0)),
        (Time::from_millis(60), Fault::Heal),
        (
            Time::from_millis(100),
            Fault::SpikeStart {
                a: 1,
                b: 3,
                extra: Duration::from_millis(400),
            },
        ),
        (
            Time::from_millis(100),
            Fault::SpikeStart {
                a: 1,
                b: 4,
                extra: Duration::from_millis(400),
            },
        ),
        (Time::from_millis(700), Fault::SpikeEnd { a: 1, b: 3 }),
        (Time::from_millis(700), Fault::SpikeEnd { a: 1, b: 4 }),
    ];
    let outcome = run::<EPaxos>(&config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    let recoverers = (1..5)
        .filter(|&r| {
            recovery_count(&outcome, r, "tried")
                + recovery_count(&outcome, r, "phase1")
                + recovery_count(&outcome, r, "accepted")
                + recovery_count(&outcome, r, "committed")
                > 0
        })
        .count();
    assert!(
        recoverers >= 2,
        "two replicas recovered the instance: {:?}",
        outcome.replica_states
    );
    for survivor in 1..5 {
        assert_eq!(outcome.replicas[survivor].applied.len(), 2, "replica {survivor}");
    }
}
