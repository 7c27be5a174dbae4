//! `bench`: starts a local cluster on loopback (or connects to a running
//! deployment) and drives it, closed or open loop, then prints throughput,
//! tail latency and what each fault did, and writes the same as JSON (and
//! CSV and PNG) under `--output`.

use bench::{run, BenchArgs};

/// mimalloc: the protocols allocate per message; glibc's malloc showed up
/// at ~10% of a SwiftPaxos profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{CommandFactory, Parser};

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("BENCH_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let args = match BenchArgs::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{}", BenchArgs::command().render_usage());
            std::process::exit(2);
        }
    };
    if !args.thp {
        runtime::live::memory::without_transparent_huge_pages();
    }
    let mut first = true;
    let result = run(&args, |summary| {
        if !std::mem::take(&mut first) {
            println!();
        }
        print!("{summary}");
    });
    match result {
        Ok(outcome) => {
            if outcome.summaries.len() > 1 {
                println!("\n{}", bench::table(&outcome.summaries));
            }
            for file in &outcome.sweep_files {
                println!("sweep: {}", file.display());
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    }
}
