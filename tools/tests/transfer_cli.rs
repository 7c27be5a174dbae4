//! State transfer with real processes: a follower is SIGKILLed and kept
//! down while the others run on far past `-release-lag`, so they release
//! their logs without it (their memory stays bounded); started again with
//! the same command it cannot catch up from decisions, installs the
//! others' state instead, and ends with memory at most 10% above the others'.
//! The client must finish and read back every acknowledged write. For the
//! protocols that transfer state: all six in the long run, SwiftPaxos in the
//! regular suite.

mod common;

use common::*;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Resident memory of a process, in KiB, from /proc.
fn rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/PID/status");
    line.split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in KiB")
}

#[test]
fn a_follower_kept_down_past_the_release_lag_rejoins_by_state_transfer() {
    // `TRANSFER_PROTOCOLS=epaxos,curp` runs only those (to chase one).
    for (i, protocol) in protocols_for(&["swiftpaxos"], "TRANSFER_PROTOCOLS") {
        let dir = temp_dir(&format!("transfer-{protocol}"));
        let data = dir.join("data");
        let data_dir = data.to_str().unwrap().to_string();
        let config = write_config(
            &dir,
            3,
            port(500 + 20 * i as u16),
            "reqs: 3000\nclones: 31\nwrites: 50\nconflicts: 10\ncommandSize: 2000\n",
        );
        let args = ["-data-dir", data_dir.as_str(), "-release-lag", "64"];
        let server = |alias: &str, log: std::fs::File| {
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
                .args(args)
                .env(
                    "SWIFTPAXOS_LOG",
                    std::env::var("TRANSFER_LOG").unwrap_or_else(|_| "info".into()),
                )
                // RSS is to measure what a server holds, not what mimalloc
                // keeps for reuse after a burst: an idle process never
                // makes the allocator calls that would purge it.
                .env("MIMALLOC_PURGE_DELAY", "0")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap()
        };
        let sink = || std::fs::File::create("/dev/null").unwrap();
        let mut servers = Processes((0..3).map(|r| server(&format!("r{r}"), sink())).collect());
        let started = Instant::now();
        let client = spawn_client(&config, protocol, started);
        std::thread::sleep(Duration::from_millis(500));
        // r2 follows (r0 leads the first ballot); it stays down for 2 s.
        servers.0[2].kill().unwrap();
        servers.0[2].wait().unwrap();
        std::thread::sleep(Duration::from_millis(2000));
        let log = dir.join("r2.log");
        let back_at = started.elapsed();
        servers.0[2] = server("r2", std::fs::File::create(&log).unwrap());
        let (out, took) = client.join().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{protocol}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("client c1: 96000 commands completed"),
            "{protocol}: {text}"
        );
        assert!(text.contains("acknowledged writes: all present"), "{protocol}: {text}");
        assert!(
            took > back_at + Duration::from_millis(500),
            "{protocol}: the client finished ({took:?}) too soon after r2 came back ({back_at:?}); raise reqs"
        );
        // Memory is compared once the rejoined cluster has served as much
        // again (a second client run, which must not be mistaken for the
        // first run's clients): right after catch-up r2 still shows the
        // install's transient peak (the image and its record in the log),
        // and what a replica keeps for good is what matters. The leader
        // holds a little less than the followers (about 5%: it sends, they
        // queue), so r2 must hold at most 10% more than the larger of them.
        let again = run_client(&config, protocol, Duration::from_secs(180));
        assert!(
            String::from_utf8_lossy(&again.stdout).contains("acknowledged writes: all present"),
            "{protocol}: second run: {}",
            String::from_utf8_lossy(&again.stdout)
        );
        std::thread::sleep(Duration::from_millis(1000));
        // Checked after the second run: a short first run (EPaxos's) may
        // end before r2 heard that the others released past it.
        let r2_log = std::fs::read_to_string(&log).unwrap();
        assert!(
            r2_log.contains("state transfer"),
            "{protocol}: r2 did not rejoin by state transfer:\n{r2_log}"
        );
        let [r0, r1, r2] = [0, 1, 2].map(|r| rss_kib(&servers.0[r]));
        println!("{protocol}: RSS r0 {r0} KiB, r1 {r1} KiB, r2 {r2} KiB");
        let others = r0.max(r1);
        assert!(
            r2 * 100 <= others * 110,
            "{protocol}: the restarted follower holds {r2} KiB, the others up to {others} KiB (more than 10% above)"
        );
        drop(servers);
        if std::env::var_os("TRANSFER_KEEP").is_none() {
            std::fs::remove_dir_all(&dir).ok();
        }
    }
}
