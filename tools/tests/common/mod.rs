//! Helpers for the tests that run the `swiftpaxos` binary as processes on
//! 127.0.0.x addresses.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether this is the long run (`tools/long-tests.sh` sets
/// `SWIFTPAXOS_LONG_TESTS=1`): the full seed matrices and every protocol in
/// every process scenario. The regular suite (CI, the README's test
/// command) keeps a representative slice of each, to stay within 15 minutes.
pub fn long_run() -> bool {
    std::env::var_os("SWIFTPAXOS_LONG_TESTS").is_some_and(|v| v != "0")
}

/// `regular` in the regular suite, `long` in the long run.
pub fn sized<T>(regular: T, long: T) -> T {
    if long_run() {
        long
    } else {
        regular
    }
}

/// The six protocols, in the order the process tests space their ports by.
pub const PROTOCOLS: [&str; 6] = ["paxos", "swiftpaxos", "n2paxos", "curp", "fastpaxos", "epaxos"];

/// The protocols a process scenario runs, each with its index in
/// [`PROTOCOLS`] (ports are spaced by it): those named in the environment
/// variable `only` if set (comma-separated, to chase one), else all six in
/// the long run and `regular` in the regular suite. The regular slices of
/// the scenarios together cover every protocol.
pub fn protocols_for(regular: &[&str], only: &str) -> Vec<(usize, &'static str)> {
    let only = std::env::var(only).ok();
    PROTOCOLS
        .into_iter()
        .enumerate()
        .filter(|(_, p)| match &only {
            Some(only) => only.split(',').any(|o| o == *p),
            None => long_run() || regular.contains(p),
        })
        .collect()
}

pub fn swiftpaxos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_swiftpaxos"))
}

/// Kills every process it holds when dropped, so a failing test leaves nothing behind.
pub struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swiftpaxos-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A config with `replicas` replicas on 127.0.0.(10+i):port and one client.
pub fn write_config(dir: &Path, replicas: usize, port: u16, client_settings: &str) -> PathBuf {
    let mut text = String::from("-- Replicas --\n");
    for i in 0..replicas {
        text += &format!("r{i} 127.0.0.{}:{port}\n", 10 + i);
    }
    text += &format!(
        "\n-- Clients --\nc1 127.0.0.40\n\n-- Master --\nm 127.0.0.50\n\nmasterPort: {}\n\nprotocol: paxos\n",
        port + 1
    );
    text += client_settings;
    text += "\n-- Proxy --\nserver_alias r1\nc1\n---\n";
    let path = dir.join("local.conf");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn start_servers(config: &Path, replicas: usize, protocol: &str) -> Processes {
    Processes(
        (0..replicas)
            .map(|i| start_server(config, &format!("r{i}"), protocol, &[]))
            .collect(),
    )
}

/// One server process, its output discarded — or, with `TEST_SERVER_LOGS`
/// set to a directory, its diagnostics appended to `PROTOCOL-ALIAS.log`
/// there (to see why a test's cluster stalled).
pub fn start_server(config: &Path, alias: &str, protocol: &str, extra: &[&str]) -> Child {
    let stderr = match std::env::var_os("TEST_SERVER_LOGS") {
        Some(dir) => {
            let path = Path::new(&dir).join(format!("{protocol}-{alias}.log"));
            Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap(),
            )
        }
        None => Stdio::null(),
    };
    swiftpaxos()
        .args([
            "-run",
            "server",
            "-config",
            config.to_str().unwrap(),
            "-alias",
            alias,
            "-protocol",
            protocol,
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

pub fn run_client(config: &Path, protocol: &str, timeout: Duration) -> Output {
    run_client_with(config, protocol, timeout, &[])
}

pub fn run_client_with(config: &Path, protocol: &str, timeout: Duration, extra: &[&str]) -> Output {
    let mut child = swiftpaxos()
        .args([
            "-run",
            "client",
            "-config",
            config.to_str().unwrap(),
            "-alias",
            "c1",
            "-protocol",
            protocol,
            "-verify",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{protocol}: client did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Runs the client (with -verify) on a thread of its own while the test
/// kills and restarts servers; joins to its output and how long after
/// `started` it finished.
pub fn spawn_client(
    config: &Path,
    protocol: &'static str,
    started: Instant,
) -> std::thread::JoinHandle<(Output, Duration)> {
    let config = config.to_path_buf();
    std::thread::spawn(move || {
        let out = run_client(&config, protocol, Duration::from_secs(180));
        (out, started.elapsed())
    })
}

pub fn port(offset: u16) -> u16 {
    20_000 + (std::process::id() % 20_000) as u16 + offset
}

/// One server process whose diagnostics (at info level) go to `log`: the
/// tests that read what a server said (it rejoined, it cut a torn tail, it
/// stopped on a failed sync).
pub fn start_logged_server(config: &Path, alias: &str, protocol: &str, extra: &[&str], log: std::fs::File) -> Child {
    swiftpaxos()
        .args([
            "-run",
            "server",
            "-config",
            config.to_str().unwrap(),
            "-alias",
            alias,
            "-protocol",
            protocol,
        ])
        .args(extra)
        // Info, and each replica's state once a second (to see why a
        // cluster stalled).
        .env("SWIFTPAXOS_LOG", "info,runtime::live::server=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The client (run with `-verify`) succeeded, completed `commands`, and
/// read back every write it saw acknowledged.
pub fn assert_client_verified(out: &Output, protocol: &str, commands: usize) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{protocol}: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("client c1: {commands} commands completed")),
        "{protocol}: {text}"
    );
    assert!(text.contains("acknowledged writes: all present"), "{protocol}: {text}");
}
