//! Restarts with real processes, for every protocol (three per mode in the
//! regular suite, all six in the long run). Durable mode: servers
//! started with `-data-dir` are SIGKILLed and started again with the same
//! command under load, one at a time (leader included) and then all at
//! once. Volatile mode (no `-data-dir`): the same rolling restart, each
//! server coming back empty and rejoining from the others.
//! The client must finish and read back every write it saw acknowledged.
//! Each of its 32 clients writes each of its keys at most once (1,000
//! commands over 1,000 keys), so every acknowledged write is its key's last
//! and must survive whatever happened after it was acknowledged.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// SIGKILLs each server in turn, the initial leader (r0) in the middle,
/// and starts it again 300 ms later with `server`; once `back(victim)`
/// returns, `settle_ms` before the next.
fn restart_in_turn(
    servers: &mut Processes,
    server: &dyn Fn(&str) -> std::process::Child,
    back: &dyn Fn(usize),
    settle_ms: u64,
) {
    for victim in [1, 0, 2] {
        servers.0[victim].kill().unwrap();
        servers.0[victim].wait().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        servers.0[victim] = server(&format!("r{victim}"));
        back(victim);
        std::thread::sleep(Duration::from_millis(settle_ms));
    }
}

/// Waits until the server logging to `log` says it rejoined (at most 60 s).
/// A volatile server that restarts has lost its state until then: taking
/// the next one down earlier is two replicas without their state at once,
/// more than a 3-replica cluster survives (an operator's rolling restart
/// waits for this line too). Under a loaded CI machine a fixed pause was
/// not always enough, and the cluster wedged for good.
fn wait_rejoined(log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::fs::read_to_string(log)
            .is_ok_and(|text| text.contains("rejoined from a snapshot") || text.contains("starting fresh"))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{}: the restarted server did not rejoin within 60 s", log.display());
}

#[test]
fn rolling_restarts_and_a_power_loss_lose_no_acknowledged_write() {
    // `RESTART_PROTOCOLS=swiftpaxos` runs only those (to chase one).
    for (i, protocol) in protocols_for(&["paxos", "curp", "epaxos"], "RESTART_PROTOCOLS") {
        let dir = temp_dir(&format!("restart-{protocol}"));
        let data = dir.join("data");
        let data_dir = data.to_str().unwrap().to_string();
        let config = write_config(
            &dir,
            3,
            port(300 + 20 * i as u16),
            "reqs: 1500\nclones: 31\nwrites: 50\nconflicts: 10\ncommandSize: 100\n",
        );
        // A small compaction threshold: the protocols that snapshot replace
        // their logs many times, and restarts replay those snapshots.
        let server = |alias: &str| {
            start_server(
                &config,
                alias,
                protocol,
                &["-data-dir", &data_dir, "-compact-log-after", "262144"],
            )
        };
        let mut servers = Processes((0..3).map(|r| server(&format!("r{r}"))).collect());
        let started = Instant::now();
        let client = spawn_client(&config, protocol, started);
        let pause = |ms| std::thread::sleep(Duration::from_millis(ms));
        pause(500);
        restart_in_turn(&mut servers, &server, &|_| {}, 400);
        // The whole cluster loses power and comes back.
        for s in &mut servers.0 {
            s.kill().unwrap();
            s.wait().unwrap();
        }
        let all_down = started.elapsed();
        pause(300);
        for r in 0..3 {
            servers.0[r] = server(&format!("r{r}"));
        }
        let (out, took) = client.join().unwrap();
        assert_client_verified(&out, protocol, 48000);
        assert!(
            took > all_down,
            "{protocol}: the client finished ({took:?}) before the power loss ({all_down:?}); raise reqs"
        );
        drop(servers);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn volatile_rolling_restarts_lose_no_acknowledged_write() {
    // `RESTART_PROTOCOLS=swiftpaxos` runs only those (to chase one).
    for (i, protocol) in protocols_for(&["swiftpaxos", "n2paxos", "fastpaxos"], "RESTART_PROTOCOLS") {
        let dir = temp_dir(&format!("volatile-{protocol}"));
        let config = write_config(
            &dir,
            3,
            port(640 + 20 * i as u16),
            "reqs: 10000\nclones: 31\nwrites: 50\nconflicts: 10\ncommandSize: 100\n",
        );
        // Each server's diagnostics go to `rN.log` (a new file per start),
        // where the test reads that it rejoined.
        let log = |alias: &str| dir.join(format!("{alias}.log"));
        let server = |alias: &str| {
            start_logged_server(
                &config,
                alias,
                protocol,
                &[],
                std::fs::File::create(log(alias)).unwrap(),
            )
        };
        let mut servers = Processes((0..3).map(|r| server(&format!("r{r}"))).collect());
        let started = Instant::now();
        let client = spawn_client(&config, protocol, started);
        std::thread::sleep(Duration::from_millis(500));
        // Each comes back with nothing and must rejoin before the next goes down.
        restart_in_turn(
            &mut servers,
            &server,
            &|victim| wait_rejoined(&log(&format!("r{victim}"))),
            300,
        );
        let last_restart = started.elapsed();
        let Ok((out, took)) = client.join() else {
            // The cluster wedged: what each server said last is the only
            // trace a CI run leaves.
            for r in 0..3 {
                let text = std::fs::read_to_string(log(&format!("r{r}"))).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                eprintln!("--- r{r}.log (last 40 lines) ---");
                lines[lines.len().saturating_sub(40)..]
                    .iter()
                    .for_each(|l| eprintln!("{l}"));
            }
            panic!("{protocol}: the client did not finish (its panic is above, the servers' logs after it)");
        };
        assert_client_verified(&out, protocol, 320000);
        assert!(
            took > last_restart,
            "{protocol}: the client finished ({took:?}) before the last restart ({last_restart:?}); raise reqs"
        );
        drop(servers);
        std::fs::remove_dir_all(&dir).ok();
    }
}
