//! A new SwiftPaxos leader and commands released before the leader change.
//! A released command (executed at every replica the old leader waited
//! for) is in nobody's report, so a recovered command that depends on it
//! names a command unknown to the reports. Such a dependency is not a
//! command that "cannot have committed": voiding it let a replica that
//! never executed it (it had lost the commit in a crash, and was released
//! past) run the dependent command without it — two replicas ordered two
//! writes to one key differently (simulator seed 55, five replicas, 50%
//! conflicts, 1,000 commands, durable restarts). The `Sync` instead names
//! the highest release any reporter made, so that such a replica sees it
//! is behind and installs an image.
//! Driven through the sans-IO interface.

use bytes::Bytes;
use protocols::ballot::Ballot;
use protocols::depgraph::deps_of;
use protocols::protocol::{Action, ReplicaProtocol};
use protocols::swift::messages::{Phase, ReportedEntry};
use protocols::swift::{Message, SwiftReplica};
use protocols::transfer::Part;
use protocols::{Command, CommandId, NodeId, Outbox, Time};
use std::time::Duration;

mod common;
use common::step;

fn replica(id: usize) -> SwiftReplica {
    common::swift_replica(id, 3, Duration::from_millis(50))
}

fn put(key: i64) -> Command {
    Command::Put {
        key,
        value: Bytes::from_static(b"v"),
    }
}

/// One `Sync` part, as (decided ids, voided ids, released).
type SyncSeen = (Vec<CommandId>, Vec<CommandId>, Vec<(u64, u64)>);

/// The `Sync` parts a step sent.
fn syncs(actions: &[Action<Message>]) -> Vec<SyncSeen> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast(Message::Sync {
                decided,
                voided,
                released,
                ..
            }) => Some((decided.iter().map(|d| d.id).collect(), voided.clone(), released.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_leader_does_not_void_a_released_dependency_and_its_sync_names_the_highest_release() {
    // Replica 1 executed client 7's commands 1..=12 (committed by the
    // leader of ballot 0), then takes over.
    let mut r = replica(1);
    let commits: Vec<(NodeId, Message)> = (1..=12)
        .map(|seq| {
            (
                NodeId::Replica(0),
                Message::Commit {
                    id: CommandId::new(7, seq),
                    command: put(seq as i64),
                    deps: deps_of([], CommandId::new(7, seq)),
                },
            )
        })
        .collect();
    let actions = step(&mut r, Time::from_millis(1), commits);
    assert_eq!(
        actions.iter().filter(|a| matches!(a, Action::Executed(_))).count(),
        12,
        "{actions:?}"
    );
    // The leader falls silent: a tick well past the suspicion timeout asks
    // for pre-votes, and one grant makes a majority of three.
    let late = Time::from_millis(10_000);
    let mut out = Outbox::new();
    r.tick(late, &mut out);
    assert!(
        out.drain()
            .any(|a| matches!(a, Action::Broadcast(Message::PreVote { .. }))),
        "replica 1 suspects the leader"
    );
    let actions = step(
        &mut r,
        late,
        vec![(NodeId::Replica(2), Message::PreVoteGranted { ballot: Ballot(0) })],
    );
    let ballot = actions
        .iter()
        .find_map(|a| match a {
            Action::Broadcast(Message::NewLeader { ballot }) => Some(*ballot),
            _ => None,
        })
        .expect("replica 1 runs for leader");

    // Replica 2 released client 7 below 13 (command 7.12 executed
    // everywhere the old leader waited for) and reports a command of
    // client 8 that depends on 7.12.
    let dependent = CommandId::new(8, 1);
    let entry = ReportedEntry {
        id: dependent,
        command: put(12),
        phase: Phase::Accepted,
        deps: deps_of([CommandId::new(7, 12)], dependent),
    };
    let ack = Message::NewLeaderAck {
        ballot,
        cballot: Ballot(0),
        part: Part {
            version: 1,
            index: 0,
            count: 1,
        },
        entries: vec![entry],
        released: vec![(7, 13)],
    };
    let actions = step(&mut r, late, vec![(NodeId::Replica(2), ack)]);
    let sent = syncs(&actions);
    assert_eq!(sent.len(), 1, "a majority reported: the Sync leaves: {actions:?}");
    let (decided, voided, released) = &sent[0];
    assert_eq!(decided, &vec![dependent]);
    assert!(voided.is_empty(), "7.12 was released, not lost: {voided:?}");
    assert_eq!(
        released,
        &vec![(7, 13)],
        "the reporter's release, higher than the leader's own (none)"
    );
}

#[test]
fn a_replica_behind_the_release_a_sync_names_installs_an_image_instead_of_syncing() {
    // Replica 2 executed nothing; ballot 1's Sync says client 7 was
    // released below 13: it asks the new leader for its image.
    let mut r = replica(2);
    let dependent = CommandId::new(8, 1);
    let sync = Message::Sync {
        ballot: Ballot(1),
        part: Part {
            version: 1,
            index: 0,
            count: 1,
        },
        decided: vec![protocols::swift::messages::Decided {
            id: dependent,
            command: put(12),
            deps: deps_of([CommandId::new(7, 12)], dependent),
        }],
        voided: Vec::new(),
        released: vec![(7, 13)],
    };
    let actions = step(&mut r, Time::from_millis(10_000), vec![(NodeId::Replica(1), sync)]);
    assert!(
        actions.iter().any(|a| matches!(
            a,
            Action::Send {
                to: NodeId::Replica(1),
                msg: Message::ImageRequest
            }
        )),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Executed(_))),
        "nothing runs without 7.12: {actions:?}"
    );
}
