//! Where a SwiftPaxos follower's votes go. With three replicas a follower
//! commits from the leader's vote and its own (a majority of two), so its
//! `SlowAck`s go to the leader and the client only, and its `FastAck`s to
//! the client only (the leader commits on one follower's `SlowAck`); with
//! five, the other followers need them to reach a majority. Votes never
//! carry the command: a follower that hears the leader before the
//! client's proposal waits for the proposal.
//! Driven through the sans-IO interface: one replica, messages in, actions out.

use bytes::Bytes;
use protocols::ballot::Ballot;
use protocols::depgraph::deps_of;
use protocols::protocol::{Action, ReplicaProtocol};
use protocols::quorum::QuorumSystem;
use protocols::swift::{FastVote, Message, SwiftReplica};
use protocols::{Command, CommandId, DeliberateBugs, NodeId, Outbox, ReplicaConfig, Time, Timing};
use std::time::Duration;

fn follower(n: usize) -> SwiftReplica {
    SwiftReplica::new(ReplicaConfig {
        id: 1,
        quorums: QuorumSystem::new(n),
        timing: Timing::for_max_delay(Duration::from_millis(10)),
        bugs: DeliberateBugs::default(),
        release_lag: protocols::DEFAULT_RELEASE_LAG,
    })
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
            Action::Send { to: NodeId::Replica(r), msg } => to_replicas.extend(kind(msg).map(|k| (k, Some(*r)))),
            Action::Broadcast(msg) => to_replicas.extend(kind(msg).map(|k| (k, None))),
            Action::Send { to: NodeId::Client(_), msg: Message::FastAck { .. } | Message::SlowAck { .. } } => to_clients += 1,
            _ => {}
        }
    }
    (to_replicas, to_clients)
}

fn executed(actions: &[Action<Message>], id: CommandId) -> bool {
    actions.iter().any(|a| matches!(a, Action::Executed(e) if *e == id))
}

fn proposal(id: CommandId) -> Message {
    Message::Propose { id, command: Command::Put { key: 42, value: Bytes::from_static(b"x") }, reply_on_execution: false }
}

/// The leader's (replica 0's) fast-path vote, as its flush sends it.
fn leaders_vote(id: CommandId) -> Message {
    Message::FastAcks { ballot: Ballot(0), acks: vec![FastVote { id, deps: deps_of([], id) }] }
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
    assert_eq!(vote_destinations(&actions), (vec![("SlowAcks", Some(0))], 1), "{actions:?}");
    assert!(executed(&actions, id), "{actions:?}");
}

#[test]
fn with_five_replicas_a_followers_votes_reach_every_replica() {
    let mut r = follower(5);
    let id = CommandId::new(7, 1);

    let actions = deliver(&mut r, NodeId::Client(7), proposal(id));
    assert_eq!(vote_destinations(&actions), (vec![("FastAcks", None)], 1), "{actions:?}");

    // The leader's vote and its own are two of five: no commit yet.
    let actions = deliver(&mut r, NodeId::Replica(0), leaders_vote(id));
    assert_eq!(vote_destinations(&actions), (vec![("SlowAcks", None)], 1), "{actions:?}");
    assert!(!executed(&actions, id), "{actions:?}");

    // A third replica's slow-path vote makes the majority.
    let actions = deliver(&mut r, NodeId::Replica(3), Message::SlowAcks { ballot: Ballot(0), ids: vec![id] });
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
    assert_eq!(vote_destinations(&actions), (vec![("SlowAcks", Some(0))], 2), "{actions:?}");
    assert!(executed(&actions, id), "{actions:?}");
}

#[test]
fn with_three_replicas_the_leader_commits_on_one_followers_slow_vote() {
    let mut leader = SwiftReplica::new(ReplicaConfig {
        id: 0,
        quorums: QuorumSystem::new(3),
        timing: Timing::for_max_delay(Duration::from_millis(10)),
        bugs: DeliberateBugs::default(),
        release_lag: protocols::DEFAULT_RELEASE_LAG,
    });
    let id = CommandId::new(7, 1);

    // The leader votes to both followers and answers the client at once.
    let actions = deliver(&mut leader, NodeId::Client(7), proposal(id));
    assert_eq!(vote_destinations(&actions).0, vec![("FastAcks", None)], "{actions:?}");
    assert!(actions.iter().any(|a| matches!(a, Action::Send { to: NodeId::Client(7), msg: Message::Reply { .. } })), "{actions:?}");
    assert!(!executed(&actions, id));

    // One follower accepted its dependencies: with its own, a majority.
    let actions = deliver(&mut leader, NodeId::Replica(2), Message::SlowAcks { ballot: Ballot(0), ids: vec![id] });
    assert!(executed(&actions, id), "{actions:?}");
}
