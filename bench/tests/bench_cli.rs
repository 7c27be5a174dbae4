//! `bench` as users run it: a short run of every protocol on a local
//! cluster, the summary lines the issue names, and clear errors.

use std::process::{Command, Output};
use std::sync::Mutex;

/// One bench at a time: each one loads the machine's cores, and the
/// assertions on rates and percentiles assume the run has them.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn bench(args: &[&str]) -> Output {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .output()
        .expect("bench runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_protocol_runs_on_a_local_cluster_and_reports() {
    for protocol in ["swift", "Paxos", "n2paxos", "curp", "fastpaxos", "EPAXOS"] {
        let out = bench(&[
            "--protocol",
            protocol,
            "--clients",
            "16",
            "--duration",
            "400ms",
            "--warmup",
            "200ms",
            "--no-write",
            "--quiet",
        ]);
        let text = stdout(&out);
        assert!(
            out.status.success(),
            "{protocol}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let throughput: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("throughput: ")?.strip_suffix(" ops/s")?.parse().ok())
            .unwrap_or_else(|| panic!("{protocol}: no throughput line in\n{text}"));
        assert!(throughput > 0.0, "{protocol}: nothing completed\n{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("p50 ") && l.contains(" p99.9 ") && l.contains(" max ")),
            "{protocol}:\n{text}"
        );
        assert!(text.contains("fast path: "), "{protocol}:\n{text}");
    }
}

#[test]
fn emulated_delay_holds_every_message_its_one_way_time() {
    // With 10 ms on every link a Multi-Paxos command needs four one-way
    // delays (client → leader → acceptors → leader → client), so none can
    // finish in under 40 ms; SwiftPaxos's fast path needs two (20 ms).
    for (protocol, floor) in [("paxos", 40.0), ("swift", 20.0)] {
        let out = bench(&[
            "--protocol",
            protocol,
            "--clients",
            "4",
            "--delay",
            "10ms",
            "--duration",
            "1s",
            "--warmup",
            "300ms",
            "--no-write",
            "--quiet",
        ]);
        let text = stdout(&out);
        assert!(
            out.status.success(),
            "{protocol}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p50: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("p50 ")?.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no p50 in {text}"));
        assert!(
            p50 >= floor,
            "{protocol}: p50 {p50} ms under the {floor} ms the delays impose\n{text}"
        );
    }
}

#[test]
fn sharded_replicas_serve_every_key() {
    // Two protocol instances per replica, keys hashed over them; commands
    // of one client go to both shards.
    for protocol in ["paxos", "swift", "epaxos"] {
        let out = bench(&[
            "--protocol",
            protocol,
            "--clients",
            "16",
            "--shards",
            "2",
            "--duration",
            "400ms",
            "--warmup",
            "200ms",
            "--no-write",
            "--quiet",
        ]);
        let text = stdout(&out);
        assert!(
            out.status.success(),
            "{protocol}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("throughput: 0 ops/s"), "{protocol}: {text}");
    }
}

#[test]
fn results_are_written_as_json() {
    let dir = std::env::temp_dir().join(format!("bench-json-{}", std::process::id()));
    let out = bench(&[
        "--protocol",
        "paxos",
        "--clients",
        "8",
        "--duration",
        "500ms",
        "--warmup",
        "100ms",
        "--quiet",
        "--output",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .expect("a JSON file")
        .unwrap()
        .path();
    let json = std::fs::read_to_string(&file).unwrap();
    for field in [
        "\"command\"",
        "\"git_commit\"",
        "\"cores\"",
        "\"throughput_ops\"",
        "\"p99\"",
    ] {
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
        "--protocol",
        "paxos",
        "--replicas",
        "3",
        "--latency",
        &table.display().to_string(),
        "--replica-sites",
        "A,B,C",
        "--client-sites",
        "A,X",
        "--clients",
        "4",
        "--duration",
        "1500ms",
        "--warmup",
        "300ms",
        "--no-write",
        "--quiet",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let p50_of = |site: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(site))
            .unwrap_or_else(|| panic!("no line for {site}:\n{text}"));
        line.split_whitespace()
            .nth(2)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    // Emulated delays are a floor; loopback and scheduling add a little.
    let (a, x) = (p50_of("A"), p50_of("X"));
    assert!((30.0..36.0).contains(&a), "A: {a} ms\n{text}");
    assert!((40.0..46.0).contains(&x), "X: {x} ms\n{text}");
    let out = bench(&[
        "--protocol",
        "paxos",
        "--latency",
        &table.display().to_string(),
        "--replica-sites",
        "A,B,Q",
        "--no-write",
        "--quiet",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown region `Q`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn line_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.split_whitespace().next()?.parse().ok())
}

fn p99(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.split("p99 ").nth(1)?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no p99 in:\n{text}"))
}

#[test]
fn the_open_loop_offers_its_rate_and_reaches_it() {
    let out = bench(&[
        "--protocol",
        "paxos",
        "--rate",
        "20000",
        "--duration",
        "3s",
        "--warmup",
        "1s",
        "--no-write",
        "--quiet",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("\noffered: 20000 ops/s (poisson arrivals"), "{text}");
    let throughput = line_value(&text, "throughput: ").unwrap_or(0.0);
    assert!(
        (18_000.0..=22_000.0).contains(&throughput),
        "achieved {throughput}, not within 10% of 20000:\n{text}"
    );
    assert!(text.contains("pending at the end: "), "{text}");
}

/// r0 (the Multi-Paxos leader) freezes for 200 ms one second into the
/// measurement. Open loop at 2,000 ops/s over 2 s, the ~400 commands due
/// meanwhile wait up to 200 ms, from their intended start: 50 ms × 2,000 =
/// 100 of the ~4,000 commands wait 150 ms or more, so p99 is at least 150
/// ms. Closed loop, only the 64 commands in flight wait; the clients send
/// nothing meanwhile, so the stall is 64 of ~100,000 commands: p99 hides it.
#[test]
fn a_stall_shows_in_the_open_loop_and_hides_in_the_closed_loop() {
    let common = [
        "--protocol",
        "paxos",
        "--clients",
        "64",
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--fault",
        "stall:r0@1s+200ms",
        "--no-write",
        "--quiet",
    ];
    let open = bench(&[&common[..], &["--rate", "2000"]].concat());
    let open_text = stdout(&open);
    assert!(
        open.status.success(),
        "{open_text}\n{}",
        String::from_utf8_lossy(&open.stderr)
    );
    assert!(p99(&open_text) >= 150.0, "open loop:\n{open_text}");
    assert!(
        open_text.contains("fault: stall r0 for 200 ms at 1.000 s"),
        "{open_text}"
    );
    let closed = bench(&common);
    let closed_text = stdout(&closed);
    assert!(
        closed.status.success(),
        "{closed_text}\n{}",
        String::from_utf8_lossy(&closed.stderr)
    );
    assert!(p99(&closed_text) < 50.0, "closed loop:\n{closed_text}");
    // The stall itself is seen by both: nothing completes for most of it.
    for text in [&open_text, &closed_text] {
        let silent = line_value(text, "  no command completed for: ").unwrap_or(0.0);
        assert!(silent >= 100.0, "{text}");
    }
}

#[test]
fn a_sweep_writes_its_csv_and_curve() {
    let dir = std::env::temp_dir().join(format!("bench-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = bench(&[
        "--protocol",
        "paxos,swift",
        "--sweep",
        "clients=1,32,256",
        "--plot",
        "--output",
        &dir.display().to_string(),
        "--duration",
        "1s",
        "--warmup",
        "300ms",
        "--quiet",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(dir.join("sweep-clients-paxos-swiftpaxos.csv")).expect("the sweep's CSV");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 7, "a header and 2 × 3 points:\n{csv}");
    assert!(
        rows[1].starts_with("paxos,1,") && rows[6].starts_with("swiftpaxos,256,"),
        "{csv}"
    );
    let png = std::fs::read(dir.join("sweep-clients-paxos-swiftpaxos.png")).expect("the sweep's PNG");
    assert!(png.starts_with(b"\x89PNG"));
    // Every run also drew its timeline and wrote its JSON, timeline included.
    let files: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        files.iter().filter(|f| f.ends_with("-timeline.png")).count(),
        6,
        "{files:?}"
    );
    let json = files
        .iter()
        .find(|f| f.ends_with(".json"))
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_default())
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        json["timeline"].as_array().map(Vec::len),
        Some(10),
        "1 s in 100 ms buckets"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killing_the_leader_shows_the_dip_and_the_recovery() {
    let dir = std::env::temp_dir().join(format!("bench-fault-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = bench(&[
        "--protocol",
        "swift",
        "--clients",
        "64",
        "--fault",
        "kill-leader@1s",
        "--duration",
        "12s",
        "--warmup",
        "2s",
        "--plot",
        "--output",
        &dir.display().to_string(),
        "--quiet",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("fault: kill r0 (the first leader) at 1.000 s"), "{text}");
    // A new leader needs the old one's timeout (550 ms here) and recovery.
    // Back to 90% of the throughput before took 0.7-5.8 s in ten local
    // runs of this build (two replicas left: SwiftPaxos's slow path
    // only, and the new leader's tables carry what the dead replica never
    // acknowledged until releases stop waiting for it), so the run lasts
    // 12 s. The warm-up is 2 s: after half a second the run itself was
    // still speeding up (a fresh store and tables growing), and the
    // second before the fault measured the warm-up as much as the normal
    // case.
    let silent = line_value(&text, "  no command completed for: ").unwrap_or(0.0);
    assert!(silent >= 300.0, "{text}");
    assert!(line_value(&text, "  recovered in: ").is_some(), "{text}");
    let plotted = text
        .lines()
        .find_map(|l| l.strip_prefix("timeline: "))
        .unwrap_or_default();
    assert!(
        std::fs::read(plotted).is_ok_and(|png| png.starts_with(b"\x89PNG")),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_replica_restarts_from_its_log_during_the_run() {
    let dir = std::env::temp_dir().join(format!("bench-restart-{}", std::process::id()));
    let out = bench(&[
        "--protocol",
        "paxos",
        "--clients",
        "32",
        "--fault",
        "kill:r1@500ms,restart:r1@1s,kill-leader@1500ms",
        "--data-dir",
        &dir.display().to_string(),
        "--duration",
        "5s",
        "--warmup",
        "300ms",
        "--no-write",
        "--quiet",
    ]);
    let text = stdout(&out);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    // With r1 back, killing the leader leaves a majority (r1, r2): the run
    // recovers. Had r1 not come back, nothing could complete after 1.5 s.
    let reports: Vec<&str> = text.lines().filter(|l| l.starts_with("fault: ")).collect();
    assert_eq!(reports.len(), 3, "{text}");
    // Commands complete again before the run ends (3.5 s after the kill).
    let last = text.rsplit("fault: kill r0").next().unwrap_or_default();
    let silent = line_value(last, "  no command completed for: ").unwrap_or(f64::INFINITY);
    assert!(silent < 3000.0, "{text}");
}

#[test]
fn skewed_keys_and_scans_run() {
    let out = bench(&[
        "--protocol",
        "paxos",
        "--keys",
        "zipf:0.99",
        "--keyspace",
        "1000",
        "--scans",
        "5",
        "--clients",
        "16",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--no-write",
        "--quiet",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("zipf:0.99 over 1000 keys, 50% writes, 5% scans"),
        "{text}"
    );
    assert!(line_value(&text, "throughput: ").unwrap_or(0.0) > 0.0, "{text}");
    let out = bench(&["--keys", "normal", "--no-write", "--quiet"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown key distribution `normal`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bench(&["--fault", "restart:r1@1s", "--no-write", "--quiet"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not down"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
