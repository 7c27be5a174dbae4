//! `evaluate` as `tools/evaluate.sh` runs it, scaled down: every file it
//! promises, and the paper's central claim checked on the numbers.

use std::process::Command;

#[test]
fn a_small_evaluation_writes_every_file_and_keeps_swiftpaxos_at_or_above_paxos() {
    let reference = format!("{}/../../shared/reference", env!("CARGO_MANIFEST_DIR"));
    if !std::path::Path::new(&reference).join("aws.conf").exists() {
        eprintln!("skipped: {reference} is not beside this checkout");
        return;
    }
    let out_dir = std::env::temp_dir().join(format!("evaluate-test-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .args([
            "--reference",
            &reference,
            "--out",
            &out_dir.display().to_string(),
            "--conflicts",
            "0,2,100",
        ])
        .args([
            "--clients-per-site",
            "2",
            "--commands-per-client",
            "20",
            "--runtime",
            "/nonexistent",
        ])
        .output()
        .expect("evaluate runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let read = |name: &str| std::fs::read(out_dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    for png in ["speedup.png", "cdf.png"] {
        assert!(read(png).starts_with(b"\x89PNG\r\n\x1a\n"), "{png} is a PNG");
    }
    let speedup = String::from_utf8_lossy(&read("speedup.csv")).into_owned();
    let estimates = String::from_utf8_lossy(&read("estimate_vs_simulation.csv")).into_owned();
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(
        speedup.starts_with("protocol,conflicts_pct,average,best,best_site,worst,worst_site\n"),
        "{speedup}"
    );
    let mut swift_rows = 0;
    for line in speedup.lines().filter(|l| l.starts_with("SwiftPaxos,")) {
        let fields: Vec<&str> = line.split(',').collect();
        let worst: f64 = fields[5].parse().unwrap_or(0.0);
        assert!(worst >= 0.999, "SwiftPaxos slower than Paxos at some site: {line}");
        swift_rows += 1;
    }
    assert_eq!(swift_rows, 3, "{speedup}");
    // Outside Fast Paxos's collisions, estimates and simulation agree:
    // every other row's flag is empty.
    let rows: Vec<&str> = estimates.lines().skip(1).collect();
    assert_eq!(rows.len(), 7 * 13 * 2, "7 variants x 13 sites x (0%, 2%)");
    for row in rows.iter().filter(|r| !r.starts_with("FastPaxos,")) {
        assert!(row.ends_with(",\"\""), "unexplained gap: {row}");
    }
    assert!(text.contains("runtime vs simulation: no bench results"), "{text}");
}
