//! Availability under one fault, with real processes on hosts of their own.
//! Each server runs in a network namespace this test creates (veth pairs on
//! a bridge); the client host runs outside them, on the bridge's address.
//! Under load, the first replica (the first leader, and the client's
//! nearest) is then either SIGKILLed or cut off from the other replicas
//! (blackhole routes both ways) while the client still reaches it. For
//! every protocol the client must keep completing commands during the
//! fault at a fair share of its rate before, not at one command per retry
//! timeout (which is what EPaxos and Fast Paxos clients did). The regular
//! suite runs EPaxos, Fast Paxos and one more per fault; the long run all six.
//! Namespaces, bridge and processes are removed when the test ends.

mod common;

use common::{protocols_for, swiftpaxos, temp_dir, Processes};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
/// When the fault comes, after the client starts; how long the rate before
/// it is measured; from when after the fault the rate during it is measured, and for how long.
const FAULT_AT: Duration = Duration::from_secs(4);
const BEFORE: Duration = Duration::from_secs(2);
const DURING_FROM: Duration = Duration::from_secs(2);
const DURING: Duration = Duration::from_secs(3);

/// Runs `ip` with `args`, panicking with its error if it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Three namespaces on a bridge: replica `i` at `SUBNET.(10+i)`, the client
/// host at `SUBNET.1` on the bridge itself. Deleted when dropped.
struct Hosts {
    tag: String,
    subnet: String,
}

impl Hosts {
    fn new(kind: &str) -> Hosts {
        let pid = std::process::id();
        let tag = format!("{}{}", kind, pid % 100_000);
        let subnet = format!("10.{}.{}", 100 + (pid % 100), if kind == "k" { 1 } else { 2 });
        let hosts = Hosts { tag, subnet };
        let bridge = hosts.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"]);
        ip(&["addr", "add", &format!("{}.1/24", hosts.subnet), "dev", &bridge]);
        ip(&["link", "set", &bridge, "up"]);
        for i in 0..3 {
            let ns = hosts.namespace(i);
            let (outside, inside) = (format!("{}v{i}", hosts.tag), format!("{}w{i}", hosts.tag));
            ip(&["netns", "add", &ns]);
            ip(&["link", "add", &outside, "type", "veth", "peer", "name", &inside]);
            ip(&["link", "set", &inside, "netns", &ns]);
            ip(&["link", "set", &outside, "master", &bridge]);
            ip(&["link", "set", &outside, "up"]);
            ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
            ip(&[
                "netns",
                "exec",
                &ns,
                "ip",
                "addr",
                "add",
                &format!("{}/24", hosts.address(i)),
                "dev",
                &inside,
            ]);
            ip(&["netns", "exec", &ns, "ip", "link", "set", &inside, "up"]);
        }
        hosts
    }

    fn bridge(&self) -> String {
        format!("{}br", self.tag)
    }

    fn namespace(&self, i: usize) -> String {
        format!("spx-{}-{i}", self.tag)
    }

    fn address(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }

    /// Removes every cut, ignoring links that were whole.
    fn heal(&self) {
        for from in 0..3 {
            for to in (0..3).filter(|&to| to != from) {
                let route = format!("{}/32", self.address(to));
                let _ = Command::new("ip")
                    .args([
                        "netns",
                        "exec",
                        &self.namespace(from),
                        "ip",
                        "route",
                        "del",
                        "blackhole",
                        &route,
                    ])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    /// Drops everything between replica `a` and replica `b`, both ways.
    fn cut(&self, a: usize, b: usize) {
        for (from, to) in [(a, b), (b, a)] {
            let route = format!("{}/32", self.address(to));
            ip(&[
                "netns",
                "exec",
                &self.namespace(from),
                "ip",
                "route",
                "add",
                "blackhole",
                &route,
            ]);
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for i in 0..3 {
            let _ = Command::new("ip").args(["netns", "del", &self.namespace(i)]).status();
        }
        let _ = Command::new("ip").args(["link", "del", &self.bridge()]).status();
    }
}

/// A config for the three replicas and the client host; the client's
/// nearest replica is r0, the first leader.
fn write_config(dir: &Path, hosts: &Hosts) -> PathBuf {
    let mut text = String::from("-- Replicas --\n");
    for i in 0..3 {
        text += &format!("r{i} {}:7070\n", hosts.address(i));
    }
    text += &format!(
        "\n-- Clients --\nc1 {}.1\n\n-- Master --\nm {}.1\n\nmasterPort: 7077\n\nprotocol: paxos\n",
        hosts.subnet, hosts.subnet
    );
    text += &format!(
        "reqs: 2000000\nclones: {}\nwrites: 50\nconflicts: 2\ncommandSize: 100\n",
        CLIENTS - 1
    );
    text += "\n-- Proxy --\nserver_alias r0\nc1\n---\n";
    let path = dir.join("availability.conf");
    std::fs::write(&path, text).expect("writing the config");
    path
}

/// Replica `i` in its namespace, its diagnostics to `rI.log` beside the
/// config (printed when a run completes nothing, the one trace a failed CI
/// run leaves).
fn server(hosts: &Hosts, config: &Path, i: usize, protocol: &str) -> Child {
    let log = config.with_file_name(format!("r{i}.log"));
    let log = std::fs::File::create(log).expect("creating a server log");
    Command::new("ip")
        .args(["netns", "exec", &hosts.namespace(i)])
        .arg(env!("CARGO_BIN_EXE_swiftpaxos"))
        .args(["-run", "server", "-config", config.to_str().expect("utf-8 path")])
        .args(["-alias", &format!("r{i}"), "-protocol", protocol])
        .env("SWIFTPAXOS_LOG", "info,runtime::live::server=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting a server")
}

/// Completions so far: the `latency` lines of every clone's log.
fn completed(log: &Path) -> usize {
    let dir = log.parent().expect("a directory");
    let name = log.file_name().and_then(|n| n.to_str()).expect("a name").to_string();
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(&name)))
                .map(|e| {
                    std::fs::read_to_string(e.path())
                        .map(|t| t.matches(" latency ").count())
                        .unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

fn sleep_until(t: Instant) {
    if let Some(wait) = t.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

/// Runs `protocol` under load, inflicts `fault` at [`FAULT_AT`], and
/// returns the completion rates before and during it (per second).
fn rates(hosts: &Hosts, protocol: &str, fault: &dyn Fn(&mut Processes)) -> (f64, f64) {
    let dir = temp_dir(&format!("availability-{}-{protocol}", hosts.tag));
    let config = write_config(&dir, hosts);
    let mut processes = Processes((0..3).map(|i| server(hosts, &config, i, protocol)).collect());
    std::thread::sleep(Duration::from_millis(500));
    let log = dir.join("client.log");
    let client = swiftpaxos()
        .args(["-run", "client", "-config", config.to_str().expect("utf-8 path")])
        .args([
            "-alias",
            "c1",
            "-protocol",
            protocol,
            "-log",
            log.to_str().expect("utf-8 path"),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("client.err")).expect("creating the client's error log"))
        .spawn()
        .expect("starting the client");
    processes.0.push(client);
    let start = Instant::now();
    sleep_until(start + FAULT_AT - BEFORE);
    let a = completed(&log);
    sleep_until(start + FAULT_AT);
    let b = completed(&log);
    fault(&mut processes);
    sleep_until(start + FAULT_AT + DURING_FROM);
    let c = completed(&log);
    sleep_until(start + FAULT_AT + DURING_FROM + DURING);
    let d = completed(&log);
    drop(processes);
    if b == a {
        for name in ["r0.log", "r1.log", "r2.log", "client.err"] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- {protocol}: {name}, nothing completed before the fault (last 30 lines) ---");
            lines[lines.len().saturating_sub(30)..]
                .iter()
                .for_each(|l| eprintln!("{l}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    (
        (b - a) as f64 / BEFORE.as_secs_f64(),
        (d - c) as f64 / DURING.as_secs_f64(),
    )
}

/// Every protocol keeps at least a quarter of its rate during the fault
/// (the issue's benchmark target is half; this is a test, on a shared
/// machine), and far more than one command per client per retry timeout.
fn assert_available(fault: &str, results: &[(&str, f64, f64)]) {
    let table: Vec<String> = results
        .iter()
        .map(|(p, before, during)| format!("{p}: {before:.0}/s before, {during:.0}/s during"))
        .collect();
    for (protocol, before, during) in results {
        assert!(
            *before > 200.0,
            "{fault}: {protocol} barely ran before the fault: {table:?}"
        );
        assert!(
            *during >= 0.25 * before && *during > 20.0 * CLIENTS as f64,
            "{fault}: {protocol} all but stopped: {table:?}"
        );
    }
    eprintln!("{fault}: {table:?}");
}

/// Whether this process may create network namespaces (it must run as
/// root); `kind` keeps the probes of tests running at once apart.
fn may_create_namespaces(kind: &str) -> bool {
    let probe = format!("spx-probe-{kind}-{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &probe])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    ok
}

/// Runs every protocol on hosts tagged `kind` (in the regular suite only
/// those in `regular`; all six in the long run): `fault` at [`FAULT_AT`],
/// then `after` (to leave the hosts whole for the next protocol).
fn every_protocol(
    kind: &str,
    what: &str,
    regular: &[&str],
    fault: &dyn Fn(&Hosts, &mut Processes),
    after: &dyn Fn(&Hosts),
) {
    assert!(
        may_create_namespaces(kind),
        "creating network namespaces (this test runs as root, as CI does)"
    );
    let hosts = Hosts::new(kind);
    // `AVAILABILITY_PROTOCOLS=epaxos` runs only those (to chase one).
    let results: Vec<(&str, f64, f64)> = protocols_for(regular, "AVAILABILITY_PROTOCOLS")
        .into_iter()
        .map(|(_, protocol)| {
            let (before, during) = rates(&hosts, protocol, &|p: &mut Processes| fault(&hosts, p));
            after(&hosts);
            (protocol, before, during)
        })
        .collect();
    assert_available(what, &results);
}

#[test]
fn killing_the_first_replica_leaves_every_protocol_available() {
    every_protocol(
        "k",
        "SIGKILL r0",
        &["paxos", "epaxos", "fastpaxos"],
        &|_, p| {
            // `ip netns exec` runs the server itself (it execs).
            let _ = p.0[0].kill();
            let _ = p.0[0].wait();
        },
        &|_| {},
    );
}

#[test]
fn cutting_the_first_replica_off_from_the_others_leaves_every_protocol_available() {
    every_protocol(
        "c",
        "r0 cut off from r1 and r2",
        &["swiftpaxos", "epaxos", "fastpaxos"],
        &|hosts, _| {
            hosts.cut(0, 1);
            hosts.cut(0, 2);
        },
        &|hosts| hosts.heal(),
    );
}
