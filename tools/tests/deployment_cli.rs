//! The original's command line with real processes on 127.0.0.x addresses:
//! three roles from one config, a client workload to completion, replicas
//! killed with SIGKILL mid-run, and config errors that name file, line and field.

mod common;

use common::*;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn three_roles_from_one_config() {
    let dir = temp_dir("roles");
    let config = write_config(
        &dir,
        3,
        port(0),
        "reqs: 200\nclones: 3\nwrites: 50\nconflicts: 2\ncommandSize: 100\n",
    );
    let mut all = start_servers(&config, 3, "paxos");
    all.0.push(
        swiftpaxos()
            .args(["-run", "master", "-config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = run_client(&config, "paxos", Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("client c1: 800 commands completed (4 clients x 1 outstanding)"),
        "{text}"
    );
    // The master answers with the replica list.
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.50", port(1))) {
            let mut list = String::new();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = s.read_to_string(&mut list);
            if !list.is_empty() {
                break list;
            }
        }
        assert!(Instant::now() < deadline, "master never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(list.starts_with(&format!("r0 127.0.0.10:{}", port(0))), "{list}");
    drop(all);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn load_continues_after_a_follower_and_then_the_leader_are_killed() {
    // Five server processes; the client runs 4 clients for 20,000 commands
    // each (several seconds). A follower (r4) is killed with SIGKILL at
    // 0.5 s, the leader (r0) at 1 s: the clients must still finish every
    // command, through the new leader the surviving replicas elect, and
    // then read back every key they wrote (`-verify`): each must hold the
    // last write the client saw acknowledged, before or after the kills.
    for (protocol, base) in [("paxos", 100), ("swiftpaxos", 120)] {
        let dir = temp_dir(&format!("kill-{protocol}"));
        let config = write_config(
            &dir,
            5,
            port(base),
            "reqs: 20000\nclones: 3\nwrites: 50\nconflicts: 10\ncommandSize: 100\n",
        );
        let mut servers = start_servers(&config, 5, protocol);
        // Volatile servers start once every one of them has answered the
        // others (docs/storage.md, "Volatile"): the kills come after that.
        std::thread::sleep(Duration::from_millis(1000));
        let started = Instant::now();
        let client = std::thread::spawn({
            let config = config.clone();
            move || {
                (
                    run_client(&config, protocol, Duration::from_secs(120)),
                    started.elapsed(),
                )
            }
        });
        std::thread::sleep(Duration::from_millis(500));
        servers.0[4].kill().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        servers.0[0].kill().unwrap();
        let (out, took) = client.join().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{protocol}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("client c1: 80000 commands completed"),
            "{protocol}: {text}"
        );
        let verified: u64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("read back ")?
                    .strip_suffix(" acknowledged writes: all present")?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("{protocol}: no read-back line in\n{text}"));
        // 4 clients, each with 1,000 keys of its own of which half are
        // written (50% writes on alternating commands) less the 10% that
        // go to the shared key: 4 x 450.
        assert!(verified >= 1_500, "{protocol}: only {verified} keys read back\n{text}");
        assert!(
            took > Duration::from_millis(1500),
            "{protocol}: the run must outlast both kills (took {took:?}); raise reqs"
        );
        drop(servers);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_client_host_starts_while_a_replica_is_down() {
    // r2 is never started: the client host must still start (it joins r2
    // in the background) and finish on the majority r0 and r1. Durable
    // servers: volatile ones start only once every replica answers
    // (docs/storage.md, "Volatile").
    for (protocol, base) in [("paxos", 180), ("swiftpaxos", 200)] {
        let dir = temp_dir(&format!("down-{protocol}"));
        let config = write_config(
            &dir,
            3,
            port(base),
            "reqs: 300\nclones: 1\nwrites: 50\nconflicts: 10\ncommandSize: 100\n",
        );
        let data = dir.join("data");
        let data = data.to_str().unwrap();
        let servers = Processes(
            (0..2)
                .map(|r| start_server(&config, &format!("r{r}"), protocol, &["-data-dir", data]))
                .collect(),
        );
        let out = run_client(&config, protocol, Duration::from_secs(60));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{protocol}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("client c1: 600 commands completed"), "{protocol}: {text}");
        assert!(text.contains("acknowledged writes: all present"), "{protocol}: {text}");
        drop(servers);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_client_run_again_against_the_same_servers_finishes() {
    // Servers outlive client runs: a rerun's clients have the same numbers
    // and start their commands from 1 again, and must not be taken for the
    // first run's (whose commands the replicas answered and forgot).
    for (protocol, base) in [("paxos", 220), ("swiftpaxos", 240)] {
        let dir = temp_dir(&format!("rerun-{protocol}"));
        let config = write_config(
            &dir,
            3,
            port(base),
            "reqs: 200\nclones: 1\nwrites: 50\nconflicts: 10\ncommandSize: 100\n",
        );
        let servers = start_servers(&config, 3, protocol);
        for run in 1..=2 {
            let out = run_client(&config, protocol, Duration::from_secs(60));
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{protocol}, run {run}: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                text.contains("client c1: 400 commands completed"),
                "{protocol}, run {run}: {text}"
            );
            assert!(
                text.contains("acknowledged writes: all present"),
                "{protocol}, run {run}: {text}"
            );
        }
        drop(servers);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn the_client_writes_the_originals_logs_and_the_parser_reads_them() {
    // Three clones, each with a window of 2 outstanding commands and
    // `reqs: 301` (odd, so the window's slots run different counts): each
    // clone's file must hold exactly 301 `latency` lines and end with
    // `Test took`; SwiftPaxos's also `Slow Paths:`, Paxos's none. The
    // parser must then give the client's own percentiles.
    for (protocol, base) in [("swiftpaxos", 140), ("paxos", 160)] {
        let dir = temp_dir(&format!("logs-{protocol}"));
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let config = write_config(
            &dir,
            3,
            port(base),
            "reqs: 301\nclones: 2\npipeline: true\npendings: 2\nwrites: 50\nconflicts: 20\ncommandSize: 100\n",
        );
        let servers = start_servers(&config, 3, protocol);
        let base_name = logs.join("client");
        let out = run_client_with(
            &config,
            protocol,
            Duration::from_secs(60),
            &["-log", base_name.to_str().unwrap()],
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{protocol}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("client c1: 903 commands completed (3 clients x 2 outstanding)"),
            "{protocol}: {text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("throughput: ") && l.contains(" ops/s over ")),
            "{protocol}: {text}"
        );
        assert_eq!(
            text.contains("slow paths: "),
            protocol == "swiftpaxos",
            "{protocol}: {text}"
        );
        for name in ["client", "client1", "client2"] {
            let file = std::fs::read_to_string(logs.join(name)).unwrap_or_else(|e| panic!("{protocol}: {name}: {e}"));
            let messages: Vec<&str> = file
                .lines()
                .map(|l| {
                    let (date, rest) = l.split_at(20);
                    assert!(
                        date.as_bytes()[4] == b'/' && date.as_bytes()[13] == b':',
                        "{protocol}: {name}: no Go timestamp in {l:?}"
                    );
                    rest
                })
                .collect();
            assert_eq!(
                messages.iter().filter(|m| m.starts_with("latency ")).count(),
                301,
                "{protocol}: {name}"
            );
            assert!(
                messages.last().unwrap().starts_with("Test took "),
                "{protocol}: {name} ends with {:?}",
                messages.last()
            );
            assert_eq!(
                messages.iter().any(|m| m.starts_with("Slow Paths: ")),
                protocol == "swiftpaxos",
                "{protocol}: {name}"
            );
        }
        assert!(!logs.join("client3").exists(), "one file per clone");
        let parsed = Command::new(env!("CARGO_BIN_EXE_parse-client-logs"))
            .arg(&logs)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&parsed.stdout).into_owned();
        assert!(
            parsed.status.success(),
            "{report}{}",
            String::from_utf8_lossy(&parsed.stderr)
        );
        assert!(report.contains("files: 3\ncommands: 903\n"), "{report}");
        let percentiles = |t: &str| t.lines().find(|l| l.starts_with("p50 ")).map(str::to_string);
        assert_eq!(
            percentiles(&report),
            percentiles(&text),
            "parser:\n{report}\nclient:\n{text}"
        );
        drop(servers);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn bad_input_names_what_is_wrong() {
    let dir = temp_dir("bad");
    let config = dir.join("bad.conf");
    std::fs::write(&config, "-- Replicas --\nr0 127.0.0.10:7000\n\nwrites: lots\n").unwrap();
    let out = swiftpaxos()
        .args(["-run", "client", "-config", config.to_str().unwrap(), "-alias", "c1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a client"), "{err}");
    std::fs::write(&config, "-- Replicas --\nr0 127.0.0.10:7000\nconflcts: 2\n").unwrap();
    let out = swiftpaxos()
        .args(["--run", "server", "--config", config.to_str().unwrap(), "--alias", "r0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.conf:3: conflcts: unknown field"), "{err}");
    let out = swiftpaxos()
        .args(["-run", "observer", "-config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = swiftpaxos().args(["-alias", "r0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
    std::fs::remove_dir_all(&dir).ok();
}
