//! `parse-client-logs DIR`: throughput and latency percentiles from a
//! directory of client logs in the original's format (`latency <ms>`,
//! `Slow Paths: <N>`, `Test took <duration>`), written by our
//! `swiftpaxos -run client -log NAME` or by the original's client, so both
//! tools' runs are compared with one yardstick.

use clap::Parser;
use tools::client_logs::read::{read_dir, Summary};

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "parse-client-logs",
    about = "Throughput and p50/p90/p99/p99.9 from a directory of the original's client logs"
)]
struct Args {
    /// The directory holding one log file per client clone (`client`, `client1`, …).
    dir: std::path::PathBuf,
    /// Also print one line per file.
    #[arg(long)]
    per_file: bool,
}

fn main() {
    let args = Args::parse();
    let logs = match read_dir(&args.dir) {
        Ok(logs) if logs.is_empty() => {
            eprintln!(
                "parse-client-logs: {}: no file holds `latency`, `Slow Paths:` or `Test took` lines",
                args.dir.display()
            );
            std::process::exit(1);
        }
        Ok(logs) => logs,
        Err(e) => {
            eprintln!("parse-client-logs: {e}");
            std::process::exit(2);
        }
    };
    if args.per_file {
        for (path, log) in &logs {
            let took = log
                .test_took
                .map_or("-".to_string(), |t| format!("{:.3} s", t.as_secs_f64()));
            let slow = log.slow_paths.map_or(String::new(), |s| format!(", slow paths {s}"));
            println!(
                "{}: {} commands, test took {took}{slow}",
                path.display(),
                log.latencies_ms.len()
            );
        }
    }
    print!("{}", Summary::of(&logs).render());
}
