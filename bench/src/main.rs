//! `bench`: starts a local cluster on loopback and drives it with
//! closed-loop clients, then prints throughput and tail latency and writes
//! the same as JSON under `results/`.

use bench::{run, BenchArgs};

/// mimalloc: the protocols allocate per message; glibc's malloc showed up
/// at ~10% of a SwiftPaxos profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{CommandFactory, Parser};

fn main() {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_env("BENCH_LOG")).with_writer(std::io::stderr).init();
    let args = match BenchArgs::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{}", BenchArgs::command().render_usage());
            std::process::exit(2);
        }
    };
    match run(&args) {
        Ok(summary) => print!("{summary}"),
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    }
}
