//! How often a SwiftPaxos replica reports and releases what executed
//! everywhere: every release interval (a 32nd of the heartbeat interval,
//! at least 1 ms), at whichever flush or tick comes first once it passed.
//! Not at the tick alone: `bench`'s timeouts tick every 12.5 ms, and
//! commands held that long kept the per-command tables far past the CPU
//! caches (results/README.md, session 14).
//! Driven through the sans-IO interface, without ever calling `tick`.

use bytes::Bytes;
use protocols::ballot::Ballot;
use protocols::depgraph::deps_of;
use protocols::protocol::Action;
use protocols::swift::{FastVote, Message, SwiftReplica};
use protocols::{Command, CommandId, NodeId, Time, Timing};
use std::time::Duration;

mod common;
use common::step;

/// `bench`'s timing: 50 ms timeouts, a 12.5 ms tick, a 100 ms heartbeat.
fn replica(id: usize) -> SwiftReplica {
    assert_eq!(
        Timing::for_max_delay(Duration::from_millis(50)).tick,
        Duration::from_micros(12_500)
    );
    common::swift_replica(id, 3, Duration::from_millis(50))
}

fn reports(actions: &[Action<Message>]) -> Vec<Vec<(u64, u64)>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                to: NodeId::Replica(0),
                msg: Message::ExecutedPrefixes { prefixes },
            } => Some(prefixes.clone()),
            _ => None,
        })
        .collect()
}

fn heartbeats(actions: &[Action<Message>]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Broadcast(Message::Heartbeat { .. })))
        .count()
}

#[test]
fn a_follower_reports_what_it_executed_at_a_flush_once_the_interval_passed() {
    let mut r = replica(1);
    let id = CommandId::new(7, 1);
    let proposal = Message::Propose {
        id,
        command: Command::Put {
            key: 42,
            value: Bytes::from_static(b"x"),
        },
        reply_on_execution: false,
        every_slow_ack: false,
    };
    let leaders_vote = Message::FastAcks {
        ballot: Ballot(0),
        acks: vec![FastVote {
            id,
            deps: deps_of([], id),
        }],
        all_heard: false,
    };
    let actions = step(
        &mut r,
        Time::from_millis(1),
        vec![(NodeId::Client(7), proposal), (NodeId::Replica(0), leaders_vote)],
    );
    assert!(
        actions.iter().any(|a| matches!(a, Action::Executed(e) if *e == id)),
        "committed and executed: {actions:?}"
    );
    assert!(
        reports(&actions).is_empty(),
        "1 ms in: the 3.125 ms interval has not passed"
    );

    let actions = step(&mut r, Time::from_millis(4), Vec::new());
    assert_eq!(
        reports(&actions),
        vec![vec![(7, 2)]],
        "the report leaves at a flush, 8 ms before the first tick would be due"
    );
    assert!(
        reports(&step(&mut r, Time::from_millis(5), Vec::new())).is_empty(),
        "not again within the interval"
    );
    assert_eq!(
        reports(&step(&mut r, Time::from_millis(8), Vec::new())).len(),
        1,
        "and again once it passed"
    );
}

#[test]
fn the_leader_sends_its_heartbeat_and_release_at_a_flush_once_the_interval_passed() {
    let mut r = replica(0);
    assert_eq!(heartbeats(&step(&mut r, Time::from_millis(1), Vec::new())), 0);
    assert_eq!(heartbeats(&step(&mut r, Time::from_millis(4), Vec::new())), 1);
    assert_eq!(heartbeats(&step(&mut r, Time::from_millis(5), Vec::new())), 0);
    assert_eq!(heartbeats(&step(&mut r, Time::from_millis(8), Vec::new())), 1);
}

/// A follower that executed nothing still reports: a leader that released
/// past it (it was cut off from the start) tells it so only in answer to a
/// report, and refuses it catch-up meanwhile; a silent follower never
/// rejoined, and with another replica down no command could commit
/// (simulator seed 206 at five replicas).
#[test]
fn a_follower_that_executed_nothing_reports_and_rejoins_when_told_it_is_behind() {
    let mut r = replica(1);
    assert_eq!(
        reports(&step(&mut r, Time::from_millis(4), Vec::new())),
        vec![Vec::<(u64, u64)>::new()],
        "an empty report"
    );
    let told = Message::Released { behind: vec![(7, 40)] };
    // A retry interval in (image requests are paced by it).
    let actions = step(
        &mut r,
        Time::ZERO + Timing::for_max_delay(Duration::from_millis(50)).retry,
        vec![(NodeId::Replica(0), told)],
    );
    assert!(
        actions.iter().any(|a| matches!(
            a,
            Action::Send {
                to: NodeId::Replica(0),
                msg: Message::ImageRequest
            }
        )),
        "behind what was released: asks the leader for its image: {actions:?}"
    );
}

/// A step releases at most 16,384 commands, shared among the clients that
/// move: after a silent replica stops being waited for, everything since
/// became releasable at once, and freeing it in one step stalled every
/// replica for 150-200 ms (`bench --fault kill:r2@2s`).
#[test]
fn one_release_step_frees_a_bounded_number_of_commands() {
    let mut leader = replica(0);
    let per_client = 10_000u64;
    let mut now = Time::from_millis(1);
    for client in [7u64, 8] {
        for seq in 1..=per_client {
            let id = CommandId::new(client, seq);
            let proposal = Message::Propose {
                id,
                command: Command::Put {
                    key: client as i64,
                    value: Bytes::from_static(b"x"),
                },
                reply_on_execution: false,
                every_slow_ack: false,
            };
            let vote = Message::SlowAcks {
                ballot: Ballot(0),
                ids: vec![id],
            };
            step(
                &mut leader,
                now,
                vec![(NodeId::Client(client), proposal), (NodeId::Replica(1), vote)],
            );
        }
    }
    // Both followers executed everything.
    now = Time::from_millis(2);
    let report = || Message::ExecutedPrefixes {
        prefixes: vec![(7, per_client + 1), (8, per_client + 1)],
    };
    step(
        &mut leader,
        now,
        vec![(NodeId::Replica(1), report()), (NodeId::Replica(2), report())],
    );
    let release_of = |actions: &[Action<Message>]| {
        actions.iter().find_map(|a| match a {
            Action::Broadcast(Message::Heartbeat { release, .. }) => Some(release.clone()),
            _ => None,
        })
    };
    let mut released = Vec::new();
    for _ in 0..4 {
        now = now + Duration::from_millis(4);
        let actions = step(
            &mut leader,
            now,
            vec![(NodeId::Replica(1), report()), (NodeId::Replica(2), report())],
        );
        released.push(release_of(&actions).expect("a heartbeat each interval"));
    }
    assert_eq!(released[0], vec![(7, 1 + 8192), (8, 1 + 8192)], "half the step each");
    assert_eq!(
        released[1],
        vec![(7, per_client + 1), (8, per_client + 1)],
        "the rest at the next step"
    );
    assert!(released[2].is_empty(), "{released:?}");
}
