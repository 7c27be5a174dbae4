//! `swiftpaxos -run master|server|client -config FILE -alias NAME`: see `tools::cli`.

use clap::{CommandFactory, Parser};
use tools::cli::{normalize_flags, run, CliArgs};

/// mimalloc, as `bench` uses: the protocols allocate per message, and
/// glibc's per-thread arenas kept what a restarted server freed after
/// replaying its log (a follower that replayed 20 MB of log held ~60%
/// more memory than its peer for good).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let argv = normalize_flags(std::env::args());
    let args = match CliArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{}", CliArgs::command().render_usage());
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWIFTPAXOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A client's -log names its latency logs; its diagnostics go to -diagnostics or stderr.
    let diagnostics = args
        .diagnostics
        .as_ref()
        .or(args.log.as_ref().filter(|_| args.run != "client"));
    match diagnostics {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .init(),
            Err(e) => {
                eprintln!("swiftpaxos: {}: {e}", path.display());
                std::process::exit(2);
            }
        },
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    match run(&args) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("swiftpaxos: {e}");
            std::process::exit(2);
        }
    }
}
