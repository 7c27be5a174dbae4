//! `bench --connect` against servers started by the deployment CLI: here,
//! where both crates are at hand (bench sits below the CLI).

use clap::Parser;

#[test]
fn connect_drives_a_running_deployment() {
    // Three servers of a deployment config, run in this test process (they
    // end with it), then bench --connect against them.
    let dir = std::env::temp_dir().join(format!("bench-connect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = 30_000 + (std::process::id() % 20_000) as u16;
    let config = dir.join("deployment.conf");
    let text = format!(
        "-- Replicas --\nr0 127.0.0.31:{port}\nr1 127.0.0.32:{port}\nr2 127.0.0.33:{port}\n-- Clients --\nc1 127.0.0.34\n\nprotocol: paxos\n"
    );
    std::fs::write(&config, text).expect("write");
    for alias in ["r0", "r1", "r2"] {
        let argv = [
            "swiftpaxos",
            "--run",
            "server",
            "--config",
            &config.display().to_string(),
            "--alias",
            alias,
        ]
        .map(String::from);
        let args = tools::cli::CliArgs::try_parse_from(argv).expect("server flags parse");
        std::thread::spawn(move || tools::cli::run(&args));
    }
    let bench = |extra: &[&str]| {
        let mut argv = vec![
            "bench",
            "--connect",
            config.to_str().unwrap_or_default(),
            "--no-write",
            "--quiet",
        ];
        argv.extend_from_slice(extra);
        let args = bench::BenchArgs::try_parse_from(argv).expect("bench flags parse");
        bench::run(&args, |_| {})
    };
    let outcome = bench(&[
        "--protocol",
        "paxos",
        "--clients",
        "8",
        "--duration",
        "1s",
        "--warmup",
        "300ms",
    ])
    .expect("bench --connect runs");
    let text = outcome.summaries[0].to_string();
    assert!(
        text.starts_with(&format!("paxos: 3 replicas on the deployment of {}", config.display())),
        "{text}"
    );
    assert!(outcome.summaries[0].throughput_ops > 0.0, "{text}");
    // The deployment runs Paxos: asking for another protocol is refused.
    let refused = bench(&["--protocol", "swift"]).err().unwrap_or_default();
    assert!(
        refused.contains("the deployment runs paxos; pass --protocol paxos"),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
