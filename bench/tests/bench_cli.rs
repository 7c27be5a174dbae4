//! `bench` as users run it: a short run of every protocol on a local
//! cluster, the summary lines the issue names, and clear errors.

use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench")).args(args).output().expect("bench runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_protocol_runs_on_a_local_cluster_and_reports() {
    for protocol in ["swift", "Paxos", "n2paxos", "curp", "fastpaxos", "EPAXOS"] {
        let out = bench(&["--protocol", protocol, "--clients", "16", "--duration", "1s", "--warmup", "200ms", "--no-write", "--quiet"]);
        let text = stdout(&out);
        assert!(out.status.success(), "{protocol}: {text}\n{}", String::from_utf8_lossy(&out.stderr));
        let throughput: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("throughput: ")?.strip_suffix(" ops/s")?.parse().ok())
            .unwrap_or_else(|| panic!("{protocol}: no throughput line in\n{text}"));
        assert!(throughput > 0.0, "{protocol}: nothing completed\n{text}");
        assert!(text.lines().any(|l| l.starts_with("p50 ") && l.contains(" p99.9 ") && l.contains(" max ")), "{protocol}:\n{text}");
        assert!(text.contains("fast path: "), "{protocol}:\n{text}");
    }
}

#[test]
fn emulated_delay_holds_every_message_its_one_way_time() {
    // With 10 ms on every link a Multi-Paxos command needs four one-way
    // delays (client → leader → acceptors → leader → client), so none can
    // finish in under 40 ms; SwiftPaxos's fast path needs two (20 ms).
    for (protocol, floor) in [("paxos", 40.0), ("swift", 20.0)] {
        let out = bench(&["--protocol", protocol, "--clients", "4", "--delay", "10ms", "--duration", "1s", "--warmup", "300ms", "--no-write", "--quiet"]);
        let text = stdout(&out);
        assert!(out.status.success(), "{protocol}: {text}\n{}", String::from_utf8_lossy(&out.stderr));
        let p50: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("p50 ")?.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no p50 in {text}"));
        assert!(p50 >= floor, "{protocol}: p50 {p50} ms under the {floor} ms the delays impose\n{text}");
    }
}

#[test]
fn sharded_replicas_serve_every_key() {
    // Two protocol instances per replica, keys hashed over them; commands
    // of one client go to both shards.
    for protocol in ["paxos", "swift", "epaxos"] {
        let out = bench(&["--protocol", protocol, "--clients", "16", "--shards", "2", "--duration", "1s", "--warmup", "200ms", "--no-write", "--quiet"]);
        let text = stdout(&out);
        assert!(out.status.success(), "{protocol}: {text}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains("throughput: 0 ops/s"), "{protocol}: {text}");
    }
}

#[test]
fn results_are_written_as_json() {
    let dir = std::env::temp_dir().join(format!("bench-json-{}", std::process::id()));
    let out = bench(&["--protocol", "paxos", "--clients", "8", "--duration", "500ms", "--warmup", "100ms", "--quiet", "--output", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = std::fs::read_dir(&dir).unwrap().next().expect("a JSON file").unwrap().path();
    let json = std::fs::read_to_string(&file).unwrap();
    for field in ["\"command\"", "\"git_commit\"", "\"cores\"", "\"throughput_ops\"", "\"p99\""] {
        assert!(json.contains(field), "{field} missing from {json}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_gets_a_clear_error() {
    let out = bench(&["--protocol", "raft"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown protocol"));
    let out = bench(&["--clients", "many"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
    let out = bench(&["--duration", "ten seconds"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bench(&["--delay", "1ms", "--latency", "x", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bench(&["--shards", "0", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shards"));
}

#[test]
fn a_region_table_places_every_site_at_its_own_delay() {
    // Replicas A, B, C (one-way A–B 15, A–C 20, B–C 25 ms) and clients at A
    // and at X (X–A 5, X–B 30, X–C 40). Multi-Paxos led by A: the majority
    // round trip from A is 30 ms, so A's clients take 0 + 30 + 0 = 30 ms
    // and X's 5 + 30 + 5 = 40 ms. Each site gets its own line.
    let dir = std::env::temp_dir().join(format!("bench-sites-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let table = dir.join("table.txt");
    std::fs::write(&table, "A B 30ms\nA C 40ms\nB C 50ms\nX A 10ms\nX B 60ms\nX C 80ms\n").expect("write");
    let out = bench(&[
        "--protocol", "paxos", "--replicas", "3", "--latency", &table.display().to_string(), "--replica-sites", "A,B,C", "--client-sites", "A,X",
        "--clients", "4", "--duration", "1500ms", "--warmup", "300ms", "--no-write", "--quiet",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let p50_of = |site: &str| -> f64 {
        let line = text.lines().find(|l| l.split_whitespace().next() == Some(site)).unwrap_or_else(|| panic!("no line for {site}:\n{text}"));
        line.split_whitespace().nth(2).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"))
    };
    // Emulated delays are a floor; loopback and scheduling add a little.
    let (a, x) = (p50_of("A"), p50_of("X"));
    assert!((30.0..36.0).contains(&a), "A: {a} ms\n{text}");
    assert!((40.0..46.0).contains(&x), "X: {x} ms\n{text}");
    let out = bench(&["--protocol", "paxos", "--latency", &table.display().to_string(), "--replica-sites", "A,B,Q", "--no-write", "--quiet"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown region `Q`"), "{}", String::from_utf8_lossy(&out.stderr));
}
