//! A live Multi-Paxos cluster on loopback keeps serving while peers send it
//! garbage: each bad connection is closed, other clients carry on, and what
//! was committed before is still there.

use bytes::Bytes;
use glommio::{LocalExecutorBuilder, Placement};
use net::frame::{encode, FrameReader, HEADER_LEN, MAX_PAYLOAD};
use protocols::paxos::{Message, Paxos};
use protocols::quorum::QuorumSystem;
use protocols::{Command, CommandId, CommandResult, DeliberateBugs, ReplicaConfig, Timing};
use runtime::live::server::{run_replica, ReplicaSpec};
use runtime::wire::Hello;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn free_addresses(n: usize) -> Vec<SocketAddr> {
    let ls: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    ls.iter().map(|l| l.local_addr().unwrap()).collect()
}

/// A client connection speaking the wire format by hand.
struct RawClient {
    stream: TcpStream,
    reader: FrameReader,
}

impl RawClient {
    fn connect(addr: SocketAddr) -> RawClient {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = TcpStream::connect(addr) {
                stream.write_all(&Hello::Clients { host: None }.to_bytes()).unwrap();
                stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
                return RawClient {
                    stream,
                    reader: FrameReader::new(),
                };
            }
            assert!(Instant::now() < deadline, "replica never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `command` as client 7 until the leader answers (bounded: 10 s).
    fn call(&mut self, seq: u64, command: Command) -> CommandResult {
        let id = CommandId::new(7, seq);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last_send = Instant::now() - Duration::from_secs(1);
        loop {
            assert!(Instant::now() < deadline, "no reply to {id}");
            if last_send.elapsed() > Duration::from_millis(500) {
                let mut frame = Vec::new();
                encode(
                    &vec![(
                        7u64,
                        Message::Request {
                            id,
                            command: command.clone(),
                        },
                    )],
                    &mut frame,
                )
                .unwrap();
                self.stream.write_all(&frame).unwrap();
                last_send = Instant::now();
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("replica closed a good connection"),
                Ok(n) => self.reader.push(&buf[..n]),
                Err(_) => continue, // timeout: resend later
            }
            while let Some(batch) = self.reader.next_frame::<(u64, Message)>().unwrap() {
                for (_, msg) in batch {
                    if let Message::Reply { id: got, result } = msg {
                        if got == id {
                            return result;
                        }
                    }
                }
            }
        }
    }
}

/// Sends `bytes` on a fresh connection and checks the replica closes it
/// (end of stream or reset) within 5 seconds.
fn refused(addr: SocketAddr, bytes: &[u8], what: &str) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{what}: the replica answered {n} bytes instead of closing"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("{what}: connection left open ({e})"),
    }
}

#[test]
fn bad_frames_close_their_connection_and_nothing_else() {
    let addresses = free_addresses(3);
    let stop = Arc::new(AtomicBool::new(false));
    let quorums = QuorumSystem::new(3);
    let timing = Timing::for_max_delay(Duration::from_millis(20));
    let replicas: Vec<_> = (0..3)
        .map(|id| {
            let spec = ReplicaSpec {
                config: ReplicaConfig {
                    id,
                    quorums: quorums.clone(),
                    timing,
                    bugs: DeliberateBugs::default(),
                    release_lag: protocols::DEFAULT_RELEASE_LAG,
                },
                addresses: addresses.clone(),
                delays: runtime::live::link::Delays::None,
                wal: None,
                compact_log_after: runtime::live::server::COMPACT_LOG_AFTER,
                stall: None,
                cut: None,
            };
            let stop = stop.clone();
            LocalExecutorBuilder::new(Placement::Unbound)
                .spawn(move || async move { run_replica::<Paxos>(spec, stop).await })
                .unwrap()
        })
        .collect();

    let leader = addresses[0];
    let mut good = RawClient::connect(leader);
    let value = Bytes::from_static(b"kept");
    assert_eq!(
        good.call(
            1,
            Command::Put {
                key: 5,
                value: value.clone()
            }
        ),
        CommandResult::Done
    );

    let hello = Hello::Clients { host: None }.to_bytes();
    let mut valid = Vec::new();
    encode(
        &vec![(
            9u64,
            Message::Nack {
                ballot: protocols::ballot::Ballot(0),
            },
        )],
        &mut valid,
    )
    .unwrap();
    let with_hello = |frame: &[u8]| [hello.as_slice(), frame].concat();

    refused(leader, &with_hello(b"this is not a frame at all, just text"), "garbage");
    let mut wrong_version = valid.clone();
    wrong_version[2] += 1;
    refused(leader, &with_hello(&wrong_version), "wrong version");
    let mut oversized = valid[..HEADER_LEN].to_vec();
    oversized[8..12].copy_from_slice(&((MAX_PAYLOAD as u32) + 1).to_le_bytes());
    refused(leader, &with_hello(&oversized), "oversized");
    let mut scrambled = valid.clone();
    for b in &mut scrambled[HEADER_LEN..] {
        *b = !*b;
    }
    refused(leader, &with_hello(&scrambled), "malformed payload");
    refused(leader, &[9, 9, 9, 9, 9, 9, 9, 9, 9], "unknown greeting");
    // Truncated: half a frame, then the sender goes away.
    {
        let mut s = TcpStream::connect(leader).unwrap();
        s.write_all(&with_hello(&valid[..valid.len() / 2])).unwrap();
    }
    // A replica-to-replica link is held to the same rules.
    refused(
        addresses[1],
        &[
            Hello::Replica { id: 0, life: 1 }.to_bytes().as_slice(),
            b"garbage garbage garbage",
        ]
        .concat(),
        "garbage from a peer",
    );

    // The good connection still works, and the committed write is still there.
    assert_eq!(good.call(2, Command::Get { key: 5 }), CommandResult::Value(Some(value)));
    assert_eq!(
        good.call(
            3,
            Command::Put {
                key: 6,
                value: Bytes::from_static(b"after")
            }
        ),
        CommandResult::Done
    );
    let mut other = RawClient::connect(leader);
    assert_eq!(
        other.call(4, Command::Get { key: 6 }),
        CommandResult::Value(Some(Bytes::from_static(b"after")))
    );

    stop.store(true, Ordering::Relaxed);
    drop(good);
    drop(other);
    for r in replicas {
        r.join().unwrap().unwrap();
    }
}
