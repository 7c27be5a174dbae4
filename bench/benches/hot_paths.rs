//! Micro-benchmarks of the hot paths: the wire format, the conflict table
//! (SwiftPaxos's dependency computation), and one whole fast-path command
//! through the SwiftPaxos core with messages handed over in memory.
//!
//! `cargo bench -p bench --bench hot_paths`

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use net::frame::{encode, FrameReader};
use protocols::ballot::Ballot;
use protocols::conflicts::ConflictTable;
use protocols::protocol::{Action, ClientProtocol, ReplicaProtocol};
use protocols::quorum::QuorumSystem;
use protocols::swift::{SwiftClient, SwiftReplica};
use protocols::{ClientConfig, Command, CommandId, DeliberateBugs, NodeId, Outbox, ReplicaConfig, Time, Timing};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

fn put(key: i64) -> Command {
    Command::Put {
        key,
        value: Bytes::from(vec![b'v'; 100]),
    }
}

fn frames(c: &mut Criterion) {
    let batch: Vec<(u64, protocols::paxos::Message)> = (0..64)
        .map(|i| {
            let value = Arc::from(vec![(CommandId::new(i, 1), put(i as i64))]);
            (
                0,
                protocols::paxos::Message::Accept {
                    ballot: Ballot(1),
                    slot: i,
                    value,
                },
            )
        })
        .collect();
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("encode 64 Accepts", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            encode(black_box(&batch), &mut out).unwrap();
        })
    });
    let mut wire = Vec::new();
    encode(&batch, &mut wire).unwrap();
    g.bench_function("decode 64 Accepts", |b| {
        // One reader for the run, as a connection keeps one.
        let mut reader = FrameReader::new();
        b.iter(|| {
            reader.push(black_box(&wire));
            reader
                .next_frame::<(u64, protocols::paxos::Message)>()
                .unwrap()
                .unwrap()
        })
    });
    // The main job's traffic: SwiftPaxos fast-path votes, one per command.
    let acks: Vec<(u64, protocols::swift::Message)> = (0..64)
        .map(|i| {
            let id = CommandId::new(i, 1);
            let deps = protocols::depgraph::deps_of([CommandId::new(i + 1, 1)], id);
            (
                0,
                protocols::swift::Message::FastAck {
                    ballot: Ballot(1),
                    id,
                    deps,
                    command: None,
                },
            )
        })
        .collect();
    g.bench_function("encode 64 SwiftPaxos FastAcks", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            encode(black_box(&acks), &mut out).unwrap();
        })
    });
    let mut wire = Vec::new();
    encode(&acks, &mut wire).unwrap();
    g.bench_function("decode 64 SwiftPaxos FastAcks", |b| {
        let mut reader = FrameReader::new();
        b.iter(|| {
            reader.push(black_box(&wire));
            reader
                .next_frame::<(u64, protocols::swift::Message)>()
                .unwrap()
                .unwrap()
        })
    });
    g.finish();
}

fn conflict_table(c: &mut Criterion) {
    let mut table = ConflictTable::new();
    for i in 0..10_000u64 {
        table.record(CommandId::new(i, 1), &put((i % 1000) as i64));
    }
    c.bench_function("conflict table: dependencies of a PUT (10k held, 1k keys)", |b| {
        b.iter(|| table.dependencies(black_box(&put(42))))
    });
    c.bench_function(
        "swiftpaxos dependency computation: dependencies + record on a fresh key",
        |b| {
            let mut t: ConflictTable<CommandId> = ConflictTable::new();
            let mut seq = 0u64;
            b.iter(|| {
                seq += 1;
                let cmd = put(seq as i64);
                let deps = t.dependencies(&cmd);
                t.record(CommandId::new(1, seq), &cmd);
                deps
            })
        },
    );
}

/// Three replicas and a client, messages delivered in memory, in order.
fn fast_path(c: &mut Criterion) {
    let quorums = QuorumSystem::new(3);
    let timing = Timing::for_max_delay(Duration::from_millis(10));
    let mut replicas: Vec<SwiftReplica> = (0..3)
        .map(|id| {
            SwiftReplica::new(ReplicaConfig {
                id,
                quorums: quorums.clone(),
                timing,
                bugs: DeliberateBugs::default(),
                release_lag: protocols::DEFAULT_RELEASE_LAG,
            })
        })
        .collect();
    let mut client = SwiftClient::new(ClientConfig {
        id: 1,
        quorums: quorums.clone(),
        closest: 0,
        timing,
        wait_closest: false,
    });
    let mut seq = 0u64;
    c.bench_function(
        "swiftpaxos: one conflict-free command, client to completion (3 replicas)",
        |b| {
            b.iter(|| {
                seq += 1;
                let id = CommandId::new(1, seq);
                let mut out = Outbox::new();
                client.submit(id, put(seq as i64), Time::ZERO, &mut out);
                let mut queue: VecDeque<(NodeId, NodeId, protocols::swift::Message)> = VecDeque::new();
                let client_node = NodeId::Client(1);
                let push = |from: NodeId, out: &mut Outbox<protocols::swift::Message>, queue: &mut VecDeque<_>| {
                    for a in out.drain() {
                        match a {
                            Action::Send { to, msg } => queue.push_back((from, to, msg)),
                            Action::Broadcast(msg) => {
                                for r in 0..3 {
                                    if NodeId::Replica(r) != from {
                                        queue.push_back((from, NodeId::Replica(r), msg.clone()));
                                    }
                                }
                            }
                            Action::Executed(_) | Action::Installed { .. } | Action::Persist(_) => {}
                        }
                    }
                };
                push(client_node, &mut out, &mut queue);
                let mut done = false;
                while let Some((from, to, msg)) = queue.pop_front() {
                    match to {
                        NodeId::Replica(r) => {
                            replicas[r].handle(from, msg, Time::ZERO, &mut out);
                            replicas[r].flush(Time::ZERO, &mut out);
                            push(NodeId::Replica(r), &mut out, &mut queue);
                        }
                        NodeId::Client(_) => {
                            let NodeId::Replica(r) = from else { continue };
                            done |= client.handle(r, msg, Time::ZERO, &mut out).is_some();
                            push(client_node, &mut out, &mut queue);
                        }
                    }
                }
                assert!(done);
            })
        },
    );
}

criterion_group!(benches, frames, conflict_table, fast_path);
criterion_main!(benches);
