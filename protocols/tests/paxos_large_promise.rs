//! The largest phase-1 reply: an acceptor holding far more accepted log
//! than one frame carries (16 MiB) answers a `Prepare` in parts of at most
//! `transfer::PART_BYTES`, and the candidate counts the promise only once
//! every part arrived, then proposes every reported slot again.
//! Driven through the sans-IO interface.

use bytes::Bytes;
use protocols::paxos::{Message, PaxosReplica};
use protocols::protocol::{Action, ReplicaProtocol};
use protocols::quorum::QuorumSystem;
use protocols::transfer::PART_BYTES;
use protocols::{Command, CommandId, DeliberateBugs, NodeId, Outbox, ReplicaConfig, Time, Timing, DEFAULT_RELEASE_LAG};
use std::sync::Arc;
use std::time::Duration;

fn replica(id: usize) -> PaxosReplica {
    PaxosReplica::new(ReplicaConfig {
        id,
        quorums: QuorumSystem::new(3),
        timing: Timing::for_max_delay(Duration::from_millis(10)),
        bugs: DeliberateBugs::default(),
        release_lag: DEFAULT_RELEASE_LAG,
    })
}

/// Slots of 256 PUTs of 1 KiB each: 256 KiB per slot.
const SLOTS: u64 = 80;

fn sent(out: &mut Outbox<Message>) -> Vec<Message> {
    out.drain()
        .filter_map(|a| match a {
            Action::Send { msg, .. } | Action::Broadcast(msg) => Some(msg),
            _ => None,
        })
        .collect()
}

#[test]
fn a_promise_larger_than_a_frame_comes_in_parts_and_counts_once_whole() {
    let (mut acceptor, mut out) = (replica(1), Outbox::new());
    let t = Time::from_millis(1);
    let value = Bytes::from(vec![7u8; 1024]);
    let first = protocols::quorum::QuorumSystem::new(3).initial_ballot();
    for slot in 0..SLOTS {
        let batch: Vec<(CommandId, Command)> = (0..256)
            .map(|i| {
                (
                    CommandId::new(slot * 256 + i, 1),
                    Command::Put {
                        key: i as i64,
                        value: value.clone(),
                    },
                )
            })
            .collect();
        acceptor.handle(
            NodeId::Replica(0),
            Message::Accept {
                ballot: first,
                slot,
                value: Arc::from(batch),
            },
            t,
            &mut out,
        );
    }
    sent(&mut out);

    // Replica 2 loses the leader and runs phase 1 with replica 1's pre-vote.
    let mut candidate = replica(2);
    let later = Time::from_millis(1000);
    candidate.tick(later, &mut out);
    assert!(
        sent(&mut out).iter().any(|m| matches!(m, Message::PreVote { .. })),
        "the candidate asks for pre-votes"
    );
    candidate.handle(
        NodeId::Replica(1),
        Message::PreVoteGranted { ballot: first },
        later,
        &mut out,
    );
    let prepare = sent(&mut out)
        .into_iter()
        .find(|m| matches!(m, Message::Prepare { .. }))
        .expect("phase 1 starts");

    acceptor.handle(NodeId::Replica(2), prepare, later, &mut out);
    let parts: Vec<Message> = sent(&mut out)
        .into_iter()
        .filter(|m| matches!(m, Message::Promise { .. }))
        .collect();
    let total_bytes = SLOTS as usize * 256 * 1024;
    assert!(total_bytes > 16 << 20, "the log must outgrow a frame");
    assert!(
        parts.len() >= total_bytes / PART_BYTES,
        "{} parts for {total_bytes} bytes",
        parts.len()
    );
    let mut slots = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let Message::Promise {
            part: label, entries, ..
        } = part
        else {
            unreachable!()
        };
        assert_eq!((label.index as usize, label.count as usize), (i, parts.len()));
        let bytes: usize = entries
            .iter()
            .map(|e| e.value.iter().map(|(_, c)| c.value_len()).sum::<usize>())
            .sum();
        assert!(
            bytes <= PART_BYTES || entries.len() == 1,
            "part {i} carries {bytes} bytes"
        );
        slots.extend(entries.iter().map(|e| e.slot));
    }
    assert_eq!(
        slots,
        (0..SLOTS).collect::<Vec<_>>(),
        "every accepted slot is reported once"
    );

    // Out of order and with a duplicate: no promise until the last part.
    let (last, rest) = parts.split_last().expect("parts");
    for part in rest.iter().rev().chain(rest.first()) {
        candidate.handle(NodeId::Replica(1), part.clone(), later, &mut out);
        assert!(!candidate.is_leader(), "a partial promise does not count");
    }
    sent(&mut out);
    candidate.handle(NodeId::Replica(1), last.clone(), later, &mut out);
    assert!(
        candidate.is_leader(),
        "the whole promise makes a majority with the candidate's own"
    );
    let proposed: Vec<u64> = sent(&mut out)
        .iter()
        .filter_map(|m| {
            if let Message::Accept { slot, .. } = m {
                Some(*slot)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        proposed,
        (0..SLOTS).collect::<Vec<_>>(),
        "every reported slot is proposed again in the new ballot"
    );
}
