//! Regression for the recovery flaw reported against the original prototype
//! (imdea-software/swiftpaxos issue #2): a replica kept acknowledging the old
//! leader's messages after it had joined the new leader's ballot, so the old
//! ballot could still gather a quorum behind the new leader's back.
//! Driven through the sans-IO interface: one replica, messages in, actions out.

use bytes::Bytes;
use protocols::ballot::Ballot;
use protocols::depgraph::deps_of;
use protocols::protocol::{Action, ReplicaProtocol};
use protocols::quorum::QuorumSystem;
use protocols::swift::{Message, SwiftReplica};
use protocols::{Command, CommandId, DeliberateBugs, NodeId, Outbox, ReplicaConfig, Time, Timing};
use std::time::Duration;

fn replica(id: usize) -> SwiftReplica {
    SwiftReplica::new(ReplicaConfig {
        id,
        quorums: QuorumSystem::new(5),
        timing: Timing::for_max_delay(Duration::from_millis(10)),
        bugs: DeliberateBugs::default(),
        release_lag: protocols::DEFAULT_RELEASE_LAG,
    })
}

/// Hands the replica one message, then flushes, as every host does when
/// its inbox is empty (votes to other replicas leave at the flush).
fn deliver(r: &mut SwiftReplica, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
    r.handle(from, msg, now, out);
    r.flush(now, out);
}

/// Every vote (FastAck, SlowAck, Reply, NewLeaderAck excluded) the replica
/// sent, with its ballot, one per vote inside a batch.
fn votes(out: &mut Outbox<Message>) -> Vec<(Ballot, &'static str)> {
    out.drain()
        .flat_map(|a| match a {
            Action::Send { msg, .. } | Action::Broadcast(msg) => match msg {
                Message::FastAck { ballot, .. } => vec![(ballot, "FastAck")],
                Message::FastAcks { ballot, acks, .. } => acks.iter().map(|_| (ballot, "FastAck")).collect(),
                Message::SlowAck { ballot, .. } => vec![(ballot, "SlowAck")],
                Message::SlowAcks { ballot, ids } => ids.iter().map(|_| (ballot, "SlowAck")).collect(),
                Message::Reply { ballot, .. } => vec![(ballot, "Reply")],
                _ => vec![],
            },
            _ => vec![],
        })
        .collect()
}

#[test]
fn no_acknowledgement_of_the_old_ballot_after_joining_the_new_one() {
    let mut r = replica(2);
    let mut out = Outbox::new();
    let now = Time::from_millis(1);
    let id = CommandId::new(7, 1);
    let command = Command::Put {
        key: 42,
        value: Bytes::from_static(b"x"),
    };

    // Ballot 0: the client's proposal gets this replica's fast-path vote.
    deliver(
        &mut r,
        NodeId::Client(7),
        Message::Propose {
            id,
            command: command.clone(),
            reply_on_execution: false,
            every_slow_ack: false,
        },
        now,
        &mut out,
    );
    assert_eq!(votes(&mut out), vec![(Ballot(0), "FastAck"), (Ballot(0), "FastAck")]);

    // Replica 1 takes over with ballot 1; this replica joins and reports.
    deliver(
        &mut r,
        NodeId::Replica(1),
        Message::NewLeader { ballot: Ballot(1) },
        now,
        &mut out,
    );
    let joined = out.drain().any(|a| {
        matches!(
            a,
            Action::Send {
                msg: Message::NewLeaderAck { ballot: Ballot(1), .. },
                ..
            }
        )
    });
    assert!(joined, "it must report to the new leader");

    // The old leader's FastAck of ballot 0 arrives late: no SlowAck (nor any
    // vote) of ballot 0 may come out, only a Nack telling it ballot 1 exists.
    let old = Message::FastAck {
        ballot: Ballot(0),
        id,
        deps: deps_of([], id),
        command: Some(Box::new(command.clone())),
    };
    deliver(&mut r, NodeId::Replica(0), old.clone(), now, &mut out);
    let actions: Vec<Action<Message>> = out.drain().collect();
    assert!(
        actions.iter().all(|a| matches!(
            a,
            Action::Send {
                msg: Message::Nack { ballot: Ballot(1) },
                to: NodeId::Replica(0)
            }
        )),
        "{actions:?}"
    );

    // Nor does a retry of the client's proposal draw a vote while the ballot changes.
    deliver(
        &mut r,
        NodeId::Client(7),
        Message::Propose {
            id,
            command: command.clone(),
            reply_on_execution: false,
            every_slow_ack: false,
        },
        now,
        &mut out,
    );
    assert_eq!(votes(&mut out), vec![]);

    // After the new leader's Sync (which recovered the command), votes carry ballot 1 only.
    let decided = vec![protocols::swift::messages::Decided {
        id,
        command,
        deps: deps_of([], id),
    }];
    deliver(
        &mut r,
        NodeId::Replica(1),
        Message::Sync {
            ballot: Ballot(1),
            part: protocols::transfer::Part {
                version: 1,
                index: 0,
                count: 1,
            },
            decided,
            voided: vec![],
            released: vec![],
        },
        now,
        &mut out,
    );
    let after: Vec<(Ballot, &str)> = votes(&mut out);
    assert!(
        !after.is_empty() && after.iter().all(|(b, _)| *b == Ballot(1)),
        "{after:?}"
    );
    deliver(&mut r, NodeId::Replica(0), old, now, &mut out);
    assert_eq!(votes(&mut out), vec![], "a late ballot-0 message still draws nothing");
}

#[test]
fn a_higher_ballot_seen_in_a_pre_vote_stops_an_old_leader() {
    // The old leader of ballot 0 learns from a pre-vote that others joined
    // ballot 1: it stops leading (its proposals draw no ballot-0 votes) and
    // grants the pre-vote, so a new election can gather a majority.
    let mut r = replica(0);
    let mut out = Outbox::new();
    let now = Time::from_millis(500);
    deliver(
        &mut r,
        NodeId::Replica(3),
        Message::PreVote { ballot: Ballot(1) },
        now,
        &mut out,
    );
    let granted = out.drain().any(|a| {
        matches!(
            a,
            Action::Send {
                msg: Message::PreVoteGranted { ballot: Ballot(1) },
                ..
            }
        )
    });
    assert!(granted);
    assert_eq!(r.leader(), None, "no longer leading ballot 0");
    let id = CommandId::new(1, 1);
    deliver(
        &mut r,
        NodeId::Client(1),
        Message::Propose {
            id,
            command: Command::Get { key: 1 },
            reply_on_execution: false,
            every_slow_ack: false,
        },
        now,
        &mut out,
    );
    assert_eq!(votes(&mut out), vec![]);
}

#[test]
fn the_closest_replica_answers_once_the_command_executes_when_asked() {
    // waitClosest: replica 3 is the client's closest; it is not the leader,
    // so it answers with the executed result once the command commits.
    let mut r = replica(3);
    let mut out = Outbox::new();
    let now = Time::from_millis(1);
    let id = CommandId::new(9, 1);
    let command = Command::Put {
        key: 5,
        value: Bytes::from_static(b"v"),
    };
    deliver(
        &mut r,
        NodeId::Client(9),
        Message::Propose {
            id,
            command: command.clone(),
            reply_on_execution: true,
            every_slow_ack: false,
        },
        now,
        &mut out,
    );
    out.drain().for_each(drop);
    let deps = deps_of([], id);
    deliver(
        &mut r,
        NodeId::Replica(0),
        Message::FastAck {
            ballot: Ballot(0),
            id,
            deps: deps.clone(),
            command: Some(Box::new(command)),
        },
        now,
        &mut out,
    );
    for voter in [1, 2] {
        deliver(
            &mut r,
            NodeId::Replica(voter),
            Message::FastAck {
                ballot: Ballot(0),
                id,
                deps: deps.clone(),
                command: None,
            },
            now,
            &mut out,
        );
    }
    // Leader, 1, 2 and 3 itself agree: a fast quorum of 4 with the leader.
    let answered = out.drain().any(|a| {
        matches!(a, Action::Send { to: NodeId::Client(9), msg: Message::Executed { id: done, result: protocols::CommandResult::Done } } if done == id)
    });
    assert!(answered, "the closest replica must send the executed result");
}

#[test]
fn a_report_larger_than_a_frame_goes_to_the_new_leader_in_parts() {
    // 20,000 uncommitted commands of 1 KiB: 20 MiB to report, more than a
    // frame (16 MiB) holds.
    let (mut r, mut out) = (replica(2), Outbox::new());
    let now = Time::from_millis(1);
    let value = Bytes::from(vec![1u8; 1024]);
    const COMMANDS: u64 = 20_000;
    for c in 0..COMMANDS {
        let command = Command::Put {
            key: c as i64,
            value: value.clone(),
        };
        deliver(
            &mut r,
            NodeId::Client(c),
            Message::Propose {
                id: CommandId::new(c, 1),
                command,
                reply_on_execution: false,
                every_slow_ack: false,
            },
            now,
            &mut out,
        );
    }
    out.drain().for_each(drop);
    deliver(
        &mut r,
        NodeId::Replica(1),
        Message::NewLeader { ballot: Ballot(1) },
        now,
        &mut out,
    );
    let parts: Vec<(u64, u32, u32, usize, usize)> = out
        .drain()
        .filter_map(|a| match a {
            Action::Send {
                msg: Message::NewLeaderAck { part, entries, .. },
                ..
            } => {
                let bytes = entries.iter().map(|e| e.command.value_len()).sum();
                Some((part.version, part.index, part.count, entries.len(), bytes))
            }
            _ => None,
        })
        .collect();
    assert!(parts.len() >= 20, "{} parts for 20 MiB", parts.len());
    let version = parts[0].0;
    for (i, (v, part, count, _, bytes)) in parts.iter().enumerate() {
        assert_eq!(
            (*v, *part as usize, *count as usize),
            (version, i, parts.len()),
            "one version, parts in order"
        );
        assert!(
            *bytes <= protocols::transfer::PART_BYTES,
            "part {i} carries {bytes} bytes"
        );
    }
    assert_eq!(
        parts.iter().map(|p| p.3 as u64).sum::<u64>(),
        COMMANDS,
        "every command reported once"
    );
}

#[test]
fn a_sync_larger_than_a_frame_applies_once_all_its_parts_arrived_and_is_recorded_in_parts() {
    // The new leader of ballot 1 recovered 20,000 commands of 1 KiB: its
    // Sync (20 MiB) comes in parts; this follower enters ballot 1 and votes
    // for them only once every part is in, and records the same parts.
    let (mut r, mut out) = (replica(2), Outbox::new());
    let now = Time::from_millis(1);
    deliver(
        &mut r,
        NodeId::Replica(1),
        Message::NewLeader { ballot: Ballot(1) },
        now,
        &mut out,
    );
    out.drain().for_each(drop);
    let value = Bytes::from(vec![3u8; 1024]);
    let decided: Vec<protocols::swift::messages::Decided> = (0..20_000u64)
        .map(|c| {
            let id = CommandId::new(c, 1);
            protocols::swift::messages::Decided {
                id,
                command: Command::Put {
                    key: c as i64,
                    value: value.clone(),
                },
                deps: deps_of([], id),
            }
        })
        .collect();
    let size = |d: &protocols::swift::messages::Decided| 64 + d.command.value_len();
    let parts: Vec<Message> = protocols::transfer::parts_of(decided, 1, size)
        .map(|(part, decided)| Message::Sync {
            ballot: Ballot(1),
            part,
            decided,
            voided: vec![],
            released: vec![],
        })
        .collect();
    assert!(parts.len() >= 20, "{} parts", parts.len());
    let (last, rest) = parts.split_last().expect("parts");
    for part in rest.iter().rev() {
        deliver(&mut r, NodeId::Replica(1), part.clone(), now, &mut out);
        assert_eq!(votes(&mut out), vec![], "no vote before the whole Sync is in");
    }
    let mut keeper = Outbox::new(); // keeps records, unlike a drained vote count
    r.handle(NodeId::Replica(1), last.clone(), now, &mut keeper);
    r.flush(now, &mut keeper);
    let actions: Vec<Action<Message>> = keeper.drain().collect();
    let recorded: Vec<usize> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Persist(Message::Sync { decided, .. }) => Some(decided.iter().map(|d| d.command.value_len()).sum()),
            _ => None,
        })
        .collect();
    assert!(
        recorded.len() >= 20 && recorded.iter().all(|b| *b <= protocols::transfer::PART_BYTES),
        "recorded in parts: {recorded:?}"
    );
    let slow_acks: usize = actions
        .iter()
        .map(|a| match a {
            Action::Broadcast(Message::SlowAcks { ids, .. })
            | Action::Send {
                msg: Message::SlowAcks { ids, .. },
                ..
            } => ids.len(),
            Action::Broadcast(Message::SlowAck { .. })
            | Action::Send {
                msg: Message::SlowAck { .. },
                ..
            } => 1,
            _ => 0,
        })
        .sum();
    assert!(
        slow_acks >= 20_000,
        "every recovered command gets this replica's vote in ballot 1 ({slow_acks})"
    );
}
