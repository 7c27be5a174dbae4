//! Where a SwiftPaxos follower's votes go. With three replicas a follower
//! commits from the leader's vote and its own (a majority of two), so its
//! `SlowAck`s go to the leader and the client only, and its `FastAck`s to
//! the client only (the leader commits on one follower's `SlowAck`); with
//! five, the other followers need them to reach a majority. Votes never
//! carry the command: a follower that hears the leader before the
//! client's proposal waits for the proposal. A follower whose fast vote
//! was the leader's dependencies sends the client no `SlowAck` while the
//! leader says it hears from every replica (`client_votes.rs`).
//! Driven through the sans-IO interface: one replica, messages in, actions out.

use bytes::Bytes;
use protocols::ballot::Ballot;
use protocols::depgraph::deps_of;
use protocols::protocol::{Action, ReplicaProtocol};
use protocols::swift::{FastVote, Message, SwiftReplica};
use protocols::{Command, CommandId, NodeId, Outbox, Time};
use std::time::Duration;

mod common;

fn follower(n: usize) -> SwiftReplica {
    common::swift_replica(1, n, Duration::from_millis(10))
}

/// Hands the replica one message, then flushes, as every host does when
/// its inbox is empty; returns what it did.
fn deliver(r: &mut SwiftReplica, from: NodeId, msg: Message) -> Vec<Action<Message>> {
    let (mut out, now) = (Outbox::new(), Time::from_millis(1));
    r.handle(from, msg, now, &mut out);
    r.flush(now, &mut out);
    out.drain().collect()
}

/// Where each replica-bound vote of `actions` went: `Some(r)` for one
/// replica, `None` for a broadcast; and how many went to clients.
fn vote_destinations(actions: &[Action<Message>]) -> (Vec<(&'static str, Option<usize>)>, usize) {
    let kind = |m: &Message| match m {
        Message::FastAcks { .. } => Some("FastAcks"),
        Message::SlowAcks { .. } => Some("SlowAcks"),
        _ => None,
    };
    let mut to_replicas = Vec::new();
    let mut to_clients = 0;
    for action in actions {
        match action {
            Action::Send {
                to: NodeId::Replica(r),
                msg,
            } => to_replicas.extend(kind(msg).map(|k| (k, Some(*r)))),
            Action::Broadcast(msg) => to_replicas.extend(kind(msg).map(|k| (k, None))),
            Action::Send {
                to: NodeId::Client(_),
                msg: Message::FastAck { .. } | Message::SlowAck { .. },
            } => to_clients += 1,
            _ => {}
        }
    }
    (to_replicas, to_clients)
}

fn executed(actions: &[Action<Message>], id: CommandId) -> bool {
    actions.iter().any(|a| matches!(a, Action::Executed(e) if *e == id))
}

fn proposal(id: CommandId) -> Message {
    Message::Propose {
        id,
        command: Command::Put {
            key: 42,
            value: Bytes::from_static(b"x"),
        },
        reply_on_execution: false,
        every_slow_ack: false,
    }
}

/// The leader's (replica 0's) fast-path vote, as its flush sends it.
fn leaders_vote(id: CommandId) -> Message {
    Message::FastAcks {
        ballot: Ballot(0),
        acks: vec![FastVote {
            id,
            deps: deps_of([], id),
        }],
        all_heard: false,
    }
}

#[test]
fn with_three_replicas_a_follower_votes_to_the_leader_and_commits_on_the_leaders_vote() {
    let mut r = follower(3);
    let id = CommandId::new(7, 1);

    // Its fast-path vote goes to the client alone.
    let actions = deliver(&mut r, NodeId::Client(7), proposal(id));
    assert_eq!(vote_destinations(&actions), (vec![], 1), "{actions:?}");

    // The leader agrees: the follower accepts, tells the leader and the
    // client, and commits (the leader and itself are a majority).
    let actions = deliver(&mut r, NodeId::Replica(0), leaders_vote(id));
    assert_eq!(
        vote_destinations(&actions),
        (vec![("SlowAcks", Some(0))], 1),
        "{actions:?}"
    );
    assert!(executed(&actions, id), "{actions:?}");
}

#[test]
fn with_five_replicas_a_followers_votes_reach_every_replica() {
    let mut r = follower(5);
    let id = CommandId::new(7, 1);

    let actions = deliver(&mut r, NodeId::Client(7), proposal(id));
    assert_eq!(
        vote_destinations(&actions),
        (vec![("FastAcks", None)], 1),
        "{actions:?}"
    );

    // The leader's vote and its own are two of five: no commit yet.
    let actions = deliver(&mut r, NodeId::Replica(0), leaders_vote(id));
    assert_eq!(
        vote_destinations(&actions),
        (vec![("SlowAcks", None)], 1),
        "{actions:?}"
    );
    assert!(!executed(&actions, id), "{actions:?}");

    // A third replica's slow-path vote makes the majority.
    let actions = deliver(
        &mut r,
        NodeId::Replica(3),
        Message::SlowAcks {
            ballot: Ballot(0),
            ids: vec![id],
        },
    );
    assert!(executed(&actions, id), "{actions:?}");
}

#[test]
fn a_follower_that_hears_the_leader_first_waits_for_the_clients_proposal() {
    let mut r = follower(3);
    let id = CommandId::new(7, 1);

    // The leader's vote carries no command: nothing to accept yet.
    let actions = deliver(&mut r, NodeId::Replica(0), leaders_vote(id));
    assert_eq!(vote_destinations(&actions), (vec![], 0), "{actions:?}");
    assert!(!executed(&actions, id));

    // The proposal arrives: the follower votes, accepts the leader's
    // dependencies at once, and commits.
    let actions = deliver(&mut r, NodeId::Client(7), proposal(id));
    assert_eq!(
        vote_destinations(&actions),
        (vec![("SlowAcks", Some(0))], 2),
        "{actions:?}"
    );
    assert!(executed(&actions, id), "{actions:?}");
}

#[test]
fn with_three_replicas_the_leader_commits_on_one_followers_slow_vote() {
    let mut leader = common::swift_replica(0, 3, Duration::from_millis(10));
    let id = CommandId::new(7, 1);

    // The leader votes to both followers and answers the client at once.
    let actions = deliver(&mut leader, NodeId::Client(7), proposal(id));
    assert_eq!(vote_destinations(&actions).0, vec![("FastAcks", None)], "{actions:?}");
    assert!(
        actions.iter().any(|a| matches!(
            a,
            Action::Send {
                to: NodeId::Client(7),
                msg: Message::Reply { .. }
            }
        )),
        "{actions:?}"
    );
    assert!(!executed(&actions, id));

    // One follower accepted its dependencies: with its own, a majority.
    let actions = deliver(
        &mut leader,
        NodeId::Replica(2),
        Message::SlowAcks {
            ballot: Ballot(0),
            ids: vec![id],
        },
    );
    assert!(executed(&actions, id), "{actions:?}");
}

fn slow_acks_to_clients(actions: &[Action<Message>]) -> Vec<CommandId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                to: NodeId::Client(_),
                msg: Message::SlowAck { id, .. },
            } => Some(*id),
            _ => None,
        })
        .collect()
}

/// The leader's vote with its word on whether it heard from every replica.
fn leaders_vote_heard(id: CommandId, deps: protocols::depgraph::Deps, all_heard: bool) -> Message {
    Message::FastAcks {
        ballot: Ballot(0),
        acks: vec![FastVote { id, deps }],
        all_heard,
    }
}

#[test]
fn a_follower_whose_fast_vote_matched_sends_the_client_no_slow_ack_while_the_leader_hears_everyone() {
    let mut r = follower(3);
    let (a, b) = (CommandId::new(7, 1), CommandId::new(8, 1));

    // Its vote for `a` is the leader's (none): the client has it already.
    deliver(&mut r, NodeId::Client(7), proposal(a));
    let actions = deliver(&mut r, NodeId::Replica(0), leaders_vote_heard(a, deps_of([], a), true));
    assert!(slow_acks_to_clients(&actions).is_empty(), "{actions:?}");
    assert_eq!(
        vote_destinations(&actions).0,
        vec![("SlowAcks", Some(0))],
        "the leader still gets it"
    );

    // Its vote for `b` (after `a`, same key) differs from the leader's
    // (none): the client needs its slow-path vote.
    deliver(&mut r, NodeId::Client(8), proposal(b));
    let actions = deliver(&mut r, NodeId::Replica(0), leaders_vote_heard(b, deps_of([], b), true));
    assert_eq!(slow_acks_to_clients(&actions), vec![b], "{actions:?}");

    // The leader stops hearing someone: the slow-path vote left out goes now.
    let c = CommandId::new(9, 1);
    let actions = deliver(&mut r, NodeId::Replica(0), leaders_vote_heard(c, deps_of([], c), false));
    assert_eq!(slow_acks_to_clients(&actions), vec![a], "{actions:?}");
}

#[test]
fn a_follower_sends_every_slow_ack_while_the_leader_has_not_heard_everyone() {
    let mut r = follower(3);
    let id = CommandId::new(7, 1);
    deliver(&mut r, NodeId::Client(7), proposal(id));
    let actions = deliver(
        &mut r,
        NodeId::Replica(0),
        leaders_vote_heard(id, deps_of([], id), false),
    );
    assert_eq!(slow_acks_to_clients(&actions), vec![id], "{actions:?}");
}

#[test]
fn a_follower_sends_its_matching_slow_ack_to_a_client_that_asks_for_every_one() {
    // Across sites the slow path may answer first (swift/distances.rs).
    let mut r = follower(3);
    let id = CommandId::new(7, 1);
    let Message::Propose {
        id,
        command,
        reply_on_execution,
        ..
    } = proposal(id)
    else {
        unreachable!()
    };
    deliver(
        &mut r,
        NodeId::Client(7),
        Message::Propose {
            id,
            command,
            reply_on_execution,
            every_slow_ack: true,
        },
    );
    let actions = deliver(
        &mut r,
        NodeId::Replica(0),
        leaders_vote_heard(id, deps_of([], id), true),
    );
    assert_eq!(slow_acks_to_clients(&actions), vec![id], "{actions:?}");
}

#[test]
fn seven_replicas_with_three_quarters_quorums_always_send_slow_acks() {
    // 6 fast and 4 slow of 7: four matching followers and two differing
    // make neither quorum, so matching followers cannot stay silent.
    let mut r = follower(7);
    let id = CommandId::new(7, 1);
    deliver(&mut r, NodeId::Client(7), proposal(id));
    let actions = deliver(
        &mut r,
        NodeId::Replica(0),
        leaders_vote_heard(id, deps_of([], id), true),
    );
    assert_eq!(slow_acks_to_clients(&actions), vec![id], "{actions:?}");
}

#[test]
fn the_leader_says_it_heard_everyone_only_while_every_replica_spoke_lately() {
    let mut leader = common::swift_replica(0, 3, Duration::from_millis(10));
    let says = |actions: &[Action<Message>]| {
        actions.iter().find_map(|a| match a {
            Action::Broadcast(Message::FastAcks { all_heard, .. }) => Some(*all_heard),
            _ => None,
        })
    };
    let at = |ms: u64| Time::from_millis(ms);
    let step = common::step;
    let report = || Message::ExecutedPrefixes { prefixes: Vec::new() };
    let actions = step(
        &mut leader,
        at(100),
        vec![
            (NodeId::Replica(1), report()),
            (NodeId::Replica(2), report()),
            (NodeId::Client(7), proposal(CommandId::new(7, 1))),
        ],
    );
    assert_eq!(says(&actions), Some(true), "{actions:?}");
    // Replica 2 falls silent for longer than four release intervals (1 ms each here).
    let actions = step(
        &mut leader,
        at(110),
        vec![
            (NodeId::Replica(1), report()),
            (NodeId::Client(8), proposal(CommandId::new(8, 1))),
        ],
    );
    assert_eq!(says(&actions), Some(false), "{actions:?}");
}
