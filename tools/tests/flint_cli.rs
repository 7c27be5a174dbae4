//! The `flint` binary as a user runs it.

use std::process::{Command, Output};

fn flint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flint")).args(args).output().expect("the flint binary runs")
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
    let out = flint(&["--table", &table, "--replicas", "A,B,C", "--clients", "X", "--protocol", "all"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    // Paxos: leader A, 5 + 60 + 5.
    assert!(text.contains("Paxos: leader A\n"), "{text}");
    let paxos = text.split("Paxos: leader A\n").nth(1).unwrap_or_default();
    assert!(paxos.lines().nth(1).unwrap_or_default().split_whitespace().collect::<Vec<_>>() == ["X", "-", "70.0"], "{text}");
    // SwiftPaxos: leader A with fast quorum {A, B}: 24 fast, 47 slow.
    assert!(text.contains("SwiftPaxos: leader A, fast quorum {A, B}"), "{text}");
    for (heading, fast, slow) in [("SwiftPaxos", "24.0", "47.0"), ("CURP", "28.0", "47.0"), ("Fast Paxos", "59.0", "92.0"), ("EPaxos", "70.0", "130.0")] {
        let section = text.split(&format!("{heading}:")).nth(1).unwrap_or_default();
        let row: Vec<&str> = section.lines().nth(2).unwrap_or_default().split_whitespace().collect();
        assert_eq!(row, ["X", fast, slow], "{heading}:\n{text}");
    }
}

#[test]
fn estimates_match_the_simulator_running_the_real_code() {
    let scratch = Scratch::new("simulate");
    let table = scratch.file("table.txt", EXAMPLE);
    let out = flint(&["--table", &table, "--replicas", "A,B,C", "--clients", "X", "--simulate", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let simulation = json["simulation"].as_array().expect("a simulation section");
    assert_eq!(simulation.len(), 6);
    for protocol in simulation {
        let site = &protocol["sites"][0];
        let (estimate, simulated) = (site["estimate_ms"].as_f64().unwrap_or(0.0), site["simulated_median_ms"].as_f64().unwrap_or(-1.0));
        // A single client never collides or conflicts with anyone: every
        // protocol's idle path is exactly what the formula says.
        assert!((estimate - simulated).abs() < 0.01, "{protocol}");
        assert!(site["flag"].is_null(), "{protocol}");
    }
}

#[test]
fn collisions_are_flagged_with_their_reason() {
    let scratch = Scratch::new("flags");
    let table = scratch.file("table.txt", &format!("{EXAMPLE}Y A 30ms\nY B 12ms\nY C 50ms\nZ A 40ms\nZ B 44ms\nZ C 8ms\nX Y 20ms\nX Z 30ms\nY Z 40ms\n"));
    let out = flint(&["--table", &table, "--replicas", "A,B,C", "--clients", "X,Y,Z", "--protocol", "fastpaxos", "--simulate"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("FLAG") && text.contains("collisions"), "{text}");
}

#[test]
fn export_writes_files_the_deployment_cli_reads() {
    let scratch = Scratch::new("export");
    let table = scratch.file("table.txt", EXAMPLE);
    let dir = scratch.path("out");
    let out = flint(&["--table", &table, "--replicas", "A,B,C", "--clients", "X", "--protocol", "swift", "--export", &dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let deployment = tools::deployment::parse(&read("deployment.conf"), "deployment.conf").expect("the exported config parses");
    assert_eq!(deployment.replicas.len(), 3);
    assert_eq!(deployment.proxy.get("X").map(String::as_str), Some("A"), "X's closest replica is A");
    let latency = net::LatencyTable::parse(&read("latency.conf")).expect("the exported latency file parses");
    // A (127.0.0.1) to B (127.0.0.2): the mean of 50 and 70 ms.
    assert_eq!(latency.one_way("127.0.0.1", "127.0.0.2"), Some(std::time::Duration::from_millis(30)));
    let quorums = protocols::quorum_file::parse(&read("quorum.conf"), &["A", "B", "C"]).expect("the exported quorum file parses");
    assert_eq!(format!("{quorums:?}"), format!("{:?}", protocols::quorum::FastQuorums::Fixed(vec![(0, [0, 1].into_iter().collect())])));
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
    let out = flint(&["--table", &table, "--replicas", "A,B,C", "--clients", "X", "--protocol", "raft"]);
    assert!(stderr(&out).contains("unknown protocol `raft`"), "{}", stderr(&out));
    let out = flint(&["--tabel", &table]);
    assert!(stderr(&out).contains("Usage"), "{}", stderr(&out));
}

#[test]
fn the_issues_reference_command_prints_every_protocol() {
    let table = format!("{}/../../shared/reference/aws-latency-table.txt", env!("CARGO_MANIFEST_DIR"));
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
    for heading in ["SwiftPaxos: leader", "Paxos: leader", "N2Paxos: leader", "CURP: leader", "Fast Paxos:", "EPaxos:"] {
        assert!(text.contains(heading), "{heading}\n{text}");
    }
    assert_eq!(text.matches("  average").count(), 6, "{text}");
}
