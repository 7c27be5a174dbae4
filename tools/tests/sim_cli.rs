//! The `sim` binary as a user runs it. The seed matrices run a
//! representative slice in the regular suite and in full under
//! `tools/long-tests.sh` ([`common::sized`]).

mod common;

use common::sized;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .expect("the sim binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn last_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_string()
}

fn reference(file: &str) -> String {
    format!("{}/../../shared/reference/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn paxos_passes_faulty_seeds_with_5_and_3_replicas() {
    let seeds = sized(60, 200).to_string();
    for replicas in ["5", "3"] {
        let out = sim(&[
            "--protocol",
            "paxos",
            "--replicas",
            replicas,
            "--seeds",
            &seeds,
            "--faults",
        ]);
        assert_eq!(
            last_line(&out),
            format!("{seeds} passed, 0 failed"),
            "replicas {replicas}:\n{}",
            stdout(&out)
        );
        assert!(out.status.success());
        assert!(stdout(&out).contains("latency (simulated ms"), "{}", stdout(&out));
    }
}

#[test]
fn uniform_delay_gives_exact_paxos_percentiles() {
    let out = sim(&[
        "--protocol",
        "PAXOS",
        "--delay",
        "10ms",
        "--conflicts",
        "0",
        "--seeds",
        "3",
    ]);
    let text = stdout(&out);
    assert!(text.contains("p50 40.0  p90 40.0  p99 40.0  max 40.0"), "{text}");
    assert_eq!(last_line(&out), "3 passed, 0 failed");
}

#[test]
fn failing_seeds_print_a_replay_command_that_reproduces_them() {
    let out = sim(&[
        "--replicas",
        "5",
        "--seeds",
        "40",
        "--faults",
        "--plant-paxos-skip-phase1",
    ]);
    assert_eq!(out.status.code(), Some(1), "failures exit 1");
    let text = stdout(&out);
    let replay = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: sim "))
        .expect("a replay line")
        .to_string();
    let failing_seed = text
        .lines()
        .find_map(|l| l.strip_prefix("FAIL seed "))
        .expect("a failing seed")
        .trim_end_matches(':')
        .to_string();
    assert!(replay.contains(&format!("--seed {failing_seed}")), "{replay}");

    let args: Vec<&str> = replay.split_whitespace().collect();
    let again = sim(&args);
    assert_eq!(last_line(&again), "0 passed, 1 failed", "{}", stdout(&again));
    assert!(stdout(&again).contains(&format!("FAIL seed {failing_seed}:")));
}

#[test]
fn region_table_placement_runs() {
    let table = reference("aws-latency-table.txt");
    if !std::path::Path::new(&table).exists() {
        return;
    }
    let out = sim(&[
        "--latency",
        &table,
        "--replica-sites",
        "ap-south-1,ap-northeast-1,eu-west-3,us-west-1,af-south-1",
        "--client-sites",
        "ap-east-1,eu-west-1,us-east-1",
        "--seeds",
        "5",
        "--faults",
    ]);
    assert_eq!(last_line(&out), "5 passed, 0 failed", "{}", stdout(&out));
}

#[test]
fn bad_input_gets_a_clear_error() {
    let out = sim(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: sim"));

    let out = sim(&["--protocol", "raft"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown protocol `raft`"));

    let out = sim(&["--conflicts", "101"]);
    assert_eq!(out.status.code(), Some(2));

    let dir = std::env::temp_dir().join(format!("sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad-latency.conf");
    std::fs::write(&bad, "a b 10ms\na b ten\n").expect("write");
    let out = sim(&["--latency", bad.to_str().expect("utf-8 path"), "--replicas", "2"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("bad-latency.conf: line 2:"), "{err}");

    let out = sim(&["--latency", "/no/such/file"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file"));

    let out = sim(&["--latency", bad.to_str().expect("utf-8 path"), "--delay", "5ms"]);
    assert_eq!(out.status.code(), Some(2), "--delay and --latency exclude each other");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn swiftpaxos_passes_faulty_seeds_for_both_kinds_sizes_and_conflict_rates() {
    let seeds = sized(40, 300).to_string();
    for kind in ["three-quarters", "majority"] {
        for replicas in ["5", "3"] {
            for conflicts in ["2", "50"] {
                let out = sim(&[
                    "--protocol",
                    "swiftpaxos",
                    "--replicas",
                    replicas,
                    "--seeds",
                    &seeds,
                    "--faults",
                    "--conflicts",
                    conflicts,
                    "--fast-quorum",
                    kind,
                ]);
                assert_eq!(
                    last_line(&out),
                    format!("{seeds} passed, 0 failed"),
                    "{kind}, {replicas} replicas, {conflicts}%:\n{}",
                    stdout(&out)
                );
                assert!(stdout(&out).contains("fast path: "), "{}", stdout(&out));
            }
        }
    }
}

#[test]
fn swiftpaxos_with_a_quorum_file_and_per_site_report() {
    let table = reference("aws-latency-table.txt");
    let quorum = reference("quorum.conf");
    if !std::path::Path::new(&table).exists() {
        return;
    }
    let out = sim(&[
        "--protocol",
        "swift",
        "--latency",
        &table,
        "--replica-sites",
        "ap-south-1,ap-northeast-1,eu-west-3,us-west-1,af-south-1",
        "--client-sites",
        "ap-east-1,eu-west-1,us-east-1",
        "--quorum",
        &quorum,
        "--seeds",
        "5",
        "--faults",
        "--conflicts",
        "2",
        "--per-site",
    ]);
    let text = stdout(&out);
    assert_eq!(last_line(&out), "5 passed, 0 failed", "{text}");
    for site in ["ap-east-1", "eu-west-1", "us-east-1"] {
        assert!(text.lines().any(|l| l.starts_with(site)), "{site} missing:\n{text}");
    }
    let bad = sim(&["--protocol", "swift", "--quorum", &table]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line 1"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// The peers of issue 4 that exist, each held to the same bar.
const PEERS: [&str; 4] = ["n2paxos", "curp", "fastpaxos", "epaxos"];

#[test]
fn every_peer_passes_faulty_seeds() {
    let seeds = sized(30, 300).to_string();
    for protocol in PEERS {
        for replicas in ["5", "3"] {
            for conflicts in ["2", "50"] {
                let out = sim(&[
                    "--protocol",
                    protocol,
                    "--replicas",
                    replicas,
                    "--seeds",
                    &seeds,
                    "--faults",
                    "--conflicts",
                    conflicts,
                ]);
                assert_eq!(
                    last_line(&out),
                    format!("{seeds} passed, 0 failed"),
                    "{protocol}, {replicas} replicas, {conflicts}%:\n{}",
                    stdout(&out)
                );
            }
        }
    }
}

#[test]
fn scans_under_faults_pass_for_every_protocol() {
    // SCANs read several keys: a regression guard for ordering them against
    // writes to any key of their range (a single-key write once "covered" them).
    let seeds = sized(20, 100).to_string();
    for protocol in ["paxos", "swiftpaxos"].into_iter().chain(PEERS) {
        for replicas in ["3", "5"] {
            let out = sim(&[
                "--protocol",
                protocol,
                "--replicas",
                replicas,
                "--seeds",
                &seeds,
                "--faults",
                "--conflicts",
                "20",
                "--scans",
                "30",
            ]);
            assert_eq!(
                last_line(&out),
                format!("{seeds} passed, 0 failed"),
                "{protocol}, {replicas} replicas:\n{}",
                stdout(&out)
            );
        }
    }
}

#[test]
fn every_protocol_passes_faulty_seeds_with_durable_restarts() {
    // Replicas crash and come back with what they had synced (several
    // times, and sometimes the whole cluster at once). The long run has 60
    // seeds per case; results/restarts.md records 300-seed runs.
    let seeds = sized(15, 60).to_string();
    for protocol in ["paxos", "swiftpaxos"].into_iter().chain(PEERS) {
        for replicas in ["3", "5"] {
            for conflicts in ["2", "50"] {
                let out = sim(&[
                    "--protocol",
                    protocol,
                    "--replicas",
                    replicas,
                    "--seeds",
                    &seeds,
                    "--faults",
                    "--restarts",
                    "durable",
                    "--conflicts",
                    conflicts,
                    "--commands",
                    "1000",
                ]);
                assert_eq!(
                    last_line(&out),
                    format!("{seeds} passed, 0 failed"),
                    "{protocol}, {replicas} replicas, {conflicts}%:\n{}",
                    stdout(&out)
                );
            }
        }
    }
}

#[test]
fn every_protocol_passes_faulty_seeds_with_volatile_restarts() {
    // Replicas crash and come back empty (several times, at most f without
    // their state at once) and rejoin from the others. The long run has 60
    // seeds per case; results/restarts.md records 300-seed runs.
    let seeds = sized(15, 60).to_string();
    for protocol in ["paxos", "swiftpaxos"].into_iter().chain(PEERS) {
        for replicas in ["3", "5"] {
            for conflicts in ["2", "50"] {
                let out = sim(&[
                    "--protocol",
                    protocol,
                    "--replicas",
                    replicas,
                    "--seeds",
                    &seeds,
                    "--faults",
                    "--restarts",
                    "volatile",
                    "--conflicts",
                    conflicts,
                    "--commands",
                    "1000",
                ]);
                assert_eq!(
                    last_line(&out),
                    format!("{seeds} passed, 0 failed"),
                    "{protocol}, {replicas} replicas, {conflicts}%:\n{}",
                    stdout(&out)
                );
                let rejoined = stdout(&out)
                    .lines()
                    .find_map(|l| l.strip_prefix("volatile restarts rejoined: ").map(str::to_string))
                    .expect("a rejoin count");
                assert!(
                    !rejoined.starts_with("0 "),
                    "{protocol}: no restart rejoined: {rejoined}"
                );
            }
        }
    }
}

#[test]
fn a_volatile_replica_that_votes_at_once_is_caught() {
    // Planted: a restarted replica acts at once, empty, instead of
    // rejoining: it votes on what its earlier life forgot. (In 40 seeds
    // both protocols fail several, seeds 6 and 12 with stale reads.)
    for protocol in ["paxos", "swiftpaxos"] {
        let out = sim(&[
            "--protocol",
            protocol,
            "--replicas",
            "3",
            "--seeds",
            "40",
            "--faults",
            "--restarts",
            "volatile",
            "--conflicts",
            "50",
            "--plant-rejoin-at-once",
        ]);
        assert_eq!(out.status.code(), Some(1), "{protocol}: {}", stdout(&out));
        let text = stdout(&out);
        // Not only replicas missing history: clients read what cannot be.
        assert!(
            text.contains("linearizability:"),
            "{protocol}: a linearizability violation:\n{text}"
        );
        let replay = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("replay: sim "))
            .expect("a replay line");
        assert!(
            replay.contains("--restarts volatile") && replay.contains("--plant-rejoin-at-once"),
            "{replay}"
        );
    }
}

#[test]
fn a_host_that_sends_before_syncing_is_caught() {
    // 1 ms links: a sync (0.1-15 ms) is then usually slower than a round
    // trip, so what the bug lets out early is often not on disk at a crash.
    // (Seeds 1, 3 and 33 of the 40 catch it.)
    let out = sim(&[
        "--protocol",
        "paxos",
        "--replicas",
        "3",
        "--seeds",
        "40",
        "--faults",
        "--restarts",
        "durable",
        "--conflicts",
        "50",
        "--delay",
        "1ms",
        "--plant-send-before-sync",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let replay = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: sim "))
        .expect("a replay line");
    assert!(
        replay.contains("--restarts durable") && replay.contains("--plant-send-before-sync"),
        "{replay}"
    );

    let without_faults = sim(&["--restarts", "durable"]);
    assert_eq!(without_faults.status.code(), Some(2), "--restarts needs --faults");
}

#[test]
fn every_protocol_passes_faulty_seeds_at_full_conflict() {
    // Every command on one key: the register checker decides these at any
    // contention (the exhaustive search used to give up here). The long run
    // has 200 seeds with 3 replicas and 100 with 5; results/checker.md has
    // all 200.
    let (three, five) = sized((40, 20), (200, 100));
    for protocol in ["paxos", "swiftpaxos"].into_iter().chain(PEERS) {
        for (replicas, seeds) in [("3", three.to_string()), ("5", five.to_string())] {
            let out = sim(&[
                "--protocol",
                protocol,
                "--replicas",
                replicas,
                "--conflicts",
                "100",
                "--faults",
                "--seeds",
                &seeds,
                "--first-seed",
                "9000",
            ]);
            assert_eq!(
                last_line(&out),
                format!("{seeds} passed, 0 failed"),
                "{protocol}, {replicas} replicas:\n{}",
                stdout(&out)
            );
        }
    }
}
