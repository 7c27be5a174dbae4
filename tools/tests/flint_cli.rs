//! The `flint` binary as a user runs it.

use std::process::{Command, Output};

fn flint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flint"))
        .args(args)
        .output()
        .expect("the flint binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch directory of this test's own, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("flint-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Scratch(dir)
    }
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The formulas' hand-worked example as a region table (round trips, so
/// twice the one-way figures): A–B 60, A–C 80, B–C 70; X at 10, 24, 28.
/// One direction of A–B is written as 50 and the other 70: their mean.
const EXAMPLE: &str = "\
A B 50ms
B A 70ms
A C 80ms
B C 70ms
X A 10ms
X B 24ms
X C 28ms
";

#[test]
fn the_hand_example_prints_each_protocols_estimate() {
    let scratch = Scratch::new("example");
    let table = scratch.file("table.txt", EXAMPLE);
    let out = flint(&[
        "--table",
        &table,
        "--replicas",
        "A,B,C",
        "--clients",
        "X",
        "--protocol",
        "all",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    // Paxos: leader A, 5 + 60 + 5.
    assert!(text.contains("Paxos: leader A\n"), "{text}");
    let paxos = text.split("Paxos: leader A\n").nth(1).unwrap_or_default();
    // Lines after the heading: the flow, the column heading, then X.
    assert!(
        paxos
            .lines()
            .nth(2)
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            == ["X", "-", "70.0"],
        "{text}"
    );
    // SwiftPaxos: leader A with fast quorum {A, B}: 24 fast, 47 slow.
    assert!(text.contains("SwiftPaxos: leader A, fast quorum {A, B}"), "{text}");
    for (heading, fast, slow) in [
        ("SwiftPaxos", "24.0", "47.0"),
        ("CURP", "28.0", "47.0"),
        ("Fast Paxos", "59.0", "92.0"),
        ("EPaxos", "70.0", "130.0"),
    ] {
        let section = text.split(&format!("{heading}:")).nth(1).unwrap_or_default();
        let row: Vec<&str> = section.lines().nth(3).unwrap_or_default().split_whitespace().collect();
        assert_eq!(row, ["X", fast, slow], "{heading}:\n{text}");
    }
}

#[test]
fn estimates_match_the_simulator_running_the_real_code() {
    let scratch = Scratch::new("simulate");
    let table = scratch.file("table.txt", EXAMPLE);
    let out = flint(&[
        "--table",
        &table,
        "--replicas",
        "A,B,C",
        "--clients",
        "X",
        "--simulate",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let simulation = json["simulation"].as_array().expect("a simulation section");
    assert_eq!(simulation.len(), 6);
    for protocol in simulation {
        let site = &protocol["sites"][0];
        let (estimate, simulated) = (
            site["estimate_ms"].as_f64().unwrap_or(0.0),
            site["simulated_median_ms"].as_f64().unwrap_or(-1.0),
        );
        // A single client never collides or conflicts with anyone: every
        // protocol's idle path is exactly what the formula says.
        assert!((estimate - simulated).abs() < 0.01, "{protocol}");
        assert!(site["flag"].is_null(), "{protocol}");
    }
}

#[test]
fn collisions_are_flagged_with_their_reason() {
    let scratch = Scratch::new("flags");
    let table = scratch.file(
        "table.txt",
        &format!("{EXAMPLE}Y A 30ms\nY B 12ms\nY C 50ms\nZ A 40ms\nZ B 44ms\nZ C 8ms\nX Y 20ms\nX Z 30ms\nY Z 40ms\n"),
    );
    let out = flint(&[
        "--table",
        &table,
        "--replicas",
        "A,B,C",
        "--clients",
        "X,Y,Z",
        "--protocol",
        "fastpaxos",
        "--simulate",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("FLAG") && text.contains("collisions"), "{text}");
}

#[test]
fn export_writes_files_the_deployment_cli_reads() {
    let scratch = Scratch::new("export");
    let table = scratch.file("table.txt", EXAMPLE);
    let dir = scratch.path("out");
    let out = flint(&[
        "--table",
        &table,
        "--replicas",
        "A,B,C",
        "--clients",
        "X",
        "--protocol",
        "all",
        "--export",
        &dir,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let deployment =
        tools::deployment::parse(&read("deployment.conf"), "deployment.conf").expect("the exported config parses");
    assert_eq!(deployment.replicas.len(), 3);
    assert_eq!(
        deployment.proxy.get("X").map(String::as_str),
        Some("A"),
        "X's closest replica is A"
    );
    let latency = net::LatencyTable::parse(&read("latency.conf")).expect("the exported latency file parses");
    // A (127.0.0.1) to B (127.0.0.2): the mean of 50 and 70 ms.
    assert_eq!(
        latency.one_way("127.0.0.1", "127.0.0.2"),
        Some(std::time::Duration::from_millis(30))
    );
    let quorums =
        protocols::quorum_file::parse(&read("quorum.conf"), &["A", "B", "C"]).expect("the exported quorum file parses");
    assert_eq!(
        format!("{quorums:?}"),
        format!(
            "{:?}",
            protocols::quorum::FastQuorums::Fixed(vec![(0, [0, 1].into_iter().collect())])
        )
    );
    // The estimates go with the files; Accord's (estimate only) among them.
    let estimates = read("estimates.txt");
    assert!(
        estimates.contains("SwiftPaxos: leader A") && estimates.contains("Accord: estimate only"),
        "{estimates}"
    );
}

#[test]
fn bad_input_names_the_problem() {
    let scratch = Scratch::new("bad");
    let table = scratch.file("table.txt", EXAMPLE);
    let out = flint(&["--table", &table, "--replicas", "A,B,Q", "--clients", "X"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown region `Q`"), "{}", stderr(&out));
    let broken = scratch.file("broken.txt", "A B 10ms\nA C ten\n");
    let out = flint(&["--table", &broken, "--replicas", "A,B,C", "--clients", "A"]);
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    let out = flint(&[
        "--table",
        &table,
        "--replicas",
        "A,B,C",
        "--clients",
        "X",
        "--protocol",
        "raft",
    ]);
    assert!(stderr(&out).contains("unknown protocol `raft`"), "{}", stderr(&out));
    let out = flint(&["--tabel", &table]);
    assert!(stderr(&out).contains("Usage"), "{}", stderr(&out));
}

#[test]
fn the_issues_reference_command_prints_every_protocol() {
    let table = format!(
        "{}/../../shared/reference/aws-latency-table.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    if !std::path::Path::new(&table).exists() {
        eprintln!("skipped: {table} is not beside this checkout");
        return;
    }
    let out = flint(&[
        "--table",
        &table,
        "--replicas",
        "ap-south-1,ap-northeast-1,eu-west-3,us-west-1,af-south-1",
        "--clients",
        "ap-east-1,eu-west-1,us-east-1",
        "--protocol",
        "all",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for heading in [
        "SwiftPaxos: leader",
        "Paxos: leader",
        "N2Paxos: leader",
        "CURP: leader",
        "Fast Paxos:",
        "EPaxos:",
        "Accord:",
    ] {
        assert!(text.contains(heading), "{heading}\n{text}");
    }
    assert_eq!(text.matches("  average").count(), 7, "{text}");
}

/// The issue's reference placement. The table holds the pairs among its
/// eight regions from shared/reference/aws-latency-table.txt. One-way
/// delays (half the round trips), replicas in the order given —
/// ap-south-1, ap-northeast-1, eu-west-3, us-west-1, af-south-1:
///   ap-east-1  45.5  27   100.5  78   127
///   eu-west-1  62.5 101.5  10    65    81.5
///   us-east-1  95    73.5  42    32   116
/// and between replicas: eu-west-3 to the others 54, 108.5, 71.5, 76;
/// af-south-1 to ap-south-1 82.
const REFERENCE_REPLICAS: &str = "ap-south-1,ap-northeast-1,eu-west-3,us-west-1,af-south-1";
const REFERENCE_CLIENTS: &str = "ap-east-1,eu-west-1,us-east-1";

fn reference_json(extra: &[&str]) -> serde_json::Value {
    let table = format!("{}/tests/data/reference-placement.txt", env!("CARGO_MANIFEST_DIR"));
    let mut args = vec![
        "--table",
        &table,
        "--replicas",
        REFERENCE_REPLICAS,
        "--clients",
        REFERENCE_CLIENTS,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = flint(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

fn per_client(block: &serde_json::Value) -> Vec<(String, f64, f64)> {
    let clients = block["clients"].as_array().cloned().unwrap_or_default();
    clients
        .iter()
        .map(|c| {
            (
                c["client"].as_str().unwrap_or("").to_string(),
                c["fast_ms"].as_f64().unwrap_or(-1.0),
                c["slow_ms"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

/// SwiftPaxos with the default rule (the original Flint's: lowest mean slow
/// path, ties by the fast path).
///
/// Slow path with leader eu-west-3: the leader's Reply (2·d(c, L)) and the
/// SlowAcks d(c, L) + d(L, r) + d(r, c); the third of five:
///   ap-east-1: Reply 201; 100.5+54+45.5 = 200, 100.5+108.5+27 = 236,
///              100.5+71.5+78 = 250, 100.5+76+127 = 303.5 → 236
///   eu-west-1: Reply 20; 126.5, 220, 146.5, 167.5 → 146.5
///   us-east-1: Reply 84; 191, 224, 145.5, 234 → 191
/// mean 191.17. The same sums for the other leaders give means of 219.83
/// (ap-south-1), 201.83 (ap-northeast-1), 207.0 (us-west-1) and 274.17
/// (af-south-1), so eu-west-3 leads. Its fast quorums: the largest round
/// trip to a member, capped by the slow path. {ap-northeast-1, eu-west-3,
/// us-west-1}: ap-east-1 max(54, 201, 156) = 201; eu-west-1 max(203, 20,
/// 130) = 203, capped at 146.5; us-east-1 max(147, 84, 64) = 147; mean
/// 164.83, below {ap-south-1, eu-west-3, us-west-1} (173.67) and every
/// other quorum with eu-west-3.
#[test]
fn the_reference_placement_gives_the_original_flints_swiftpaxos_answer() {
    let json = reference_json(&["--protocol", "swift"]);
    assert_eq!(json["leader_rule"], "slow-path");
    let swift = &json["protocols"][0];
    assert_eq!(swift["leader"], "eu-west-3", "{json}");
    assert_eq!(
        swift["fast_quorum"],
        serde_json::json!(["ap-northeast-1", "eu-west-3", "us-west-1"]),
        "{json}"
    );
    assert_eq!(
        per_client(swift),
        [
            ("ap-east-1".into(), 201.0, 236.0),
            ("eu-west-1".into(), 146.5, 146.5),
            ("us-east-1".into(), 147.0, 191.0)
        ]
    );
    // The fast-path rule, ours before: the lowest mean fast path is 163.83,
    // us-west-1 leading {ap-south-1, eu-west-3, us-west-1}.
    let json = reference_json(&["--protocol", "swift", "--leader-rule", "fast-path"]);
    assert_eq!(json["protocols"][0]["leader"], "us-west-1", "{json}");
    assert_eq!(
        json["protocols"][0]["fast_quorum"],
        serde_json::json!(["ap-south-1", "eu-west-3", "us-west-1"]),
        "{json}"
    );
}

/// Accord (five replicas: f = 2, e = 2, both quorums of three). Fast: a
/// round trip to the nearest three. Medium: min(6·reach, 4·reach). Slow:
/// the later of that and the convoy, start + medium at x + d(c, x), with
/// start = reach + 5 + 1 (every conflicting coordinator here reaches a
/// member of our quorum in time, so the start never moves).
///   ap-east-1: nearest three 27, 45.5, 78 → fast 156, medium 312;
///     start 84; worst x = af-south-1, whose nearest three are 0, 76, 82:
///     84 + 4·82 + 127 = 539.
///   eu-west-1: nearest 10, 62.5, 65 → fast 130; start 71;
///     af-south-1: 71 + 328 + 81.5 = 480.5.
///   us-east-1: nearest 32, 42, 73.5 → fast 147; start 79.5;
///     af-south-1: 79.5 + 328 + 116 = 523.5.
#[test]
fn the_reference_placement_gives_accords_figures() {
    let json = reference_json(&["--protocol", "accord"]);
    assert_eq!(json["protocols"].as_array().map(Vec::len), Some(0));
    let accord = &json["accord"];
    assert_eq!(accord["note"], "estimate only, not implemented here");
    assert_eq!(
        per_client(accord),
        [
            ("ap-east-1".into(), 156.0, 539.0),
            ("eu-west-1".into(), 130.0, 480.5),
            ("us-east-1".into(), 147.0, 523.5)
        ]
    );
    // The text output has a block headed `Accord`, and `all` includes it.
    let table = format!("{}/tests/data/reference-placement.txt", env!("CARGO_MANIFEST_DIR"));
    let out = flint(&[
        "--table",
        &table,
        "--replicas",
        REFERENCE_REPLICAS,
        "--clients",
        REFERENCE_CLIENTS,
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("\nAccord: estimate only, not implemented here\n"),
        "{text}"
    );
    assert!(
        text.contains("  flow: ours"),
        "every block says which flow it assumes:\n{text}"
    );
}

#[test]
fn the_bundled_model_and_csv_tables_need_no_text_file() {
    // No --table: the bundled model knows every AWS region.
    let out = flint(&[
        "--replicas",
        "eu-west-3,us-east-1,ap-northeast-1",
        "--clients",
        "eu-west-1",
        "--protocol",
        "paxos",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("table: bundled model"), "{}", stdout(&out));
    // A CSV matrix gives the same answer as the text table.
    let scratch = Scratch::new("csv");
    let csv = scratch.file(
        "table.csv",
        "from\\to,A,B,C,X\nA,0,50,80,10\nB,70,0,70,24\nC,80,70,0,28\nX,10,24,28,0\n",
    );
    let text = scratch.file("table.txt", EXAMPLE);
    let run = |table: &str| {
        let out = flint(&["--table", table, "--replicas", "A,B,C", "--clients", "X", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        json["table"] = serde_json::Value::Null;
        json
    };
    assert_eq!(run(&csv), run(&text));
    let broken = scratch.file("broken.csv", "x,A,B\nA,0,1\nB,one,0\n");
    let out = flint(&["--table", &broken, "--replicas", "A,B", "--clients", "A"]);
    assert!(
        stderr(&out).contains("broken.csv: line 3, field `A`"),
        "{}",
        stderr(&out)
    );
}
