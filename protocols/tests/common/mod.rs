//! What the SwiftPaxos protocol tests share: a replica built as a host
//! would, and one host round (messages in, a flush, the actions out).

#![allow(dead_code)]

use protocols::protocol::{Action, ReplicaProtocol};
use protocols::quorum::QuorumSystem;
use protocols::swift::{Message, SwiftReplica};
use protocols::{DeliberateBugs, NodeId, Outbox, ReplicaConfig, Time, Timing};
use std::time::Duration;

/// Replica `id` of `n`, with the timing a host derives from `max_delay`.
pub fn swift_replica(id: usize, n: usize, max_delay: Duration) -> SwiftReplica {
    let timing = Timing::for_max_delay(max_delay);
    SwiftReplica::new(ReplicaConfig {
        id,
        quorums: QuorumSystem::new(n),
        timing,
        bugs: DeliberateBugs::default(),
        release_lag: protocols::DEFAULT_RELEASE_LAG,
    })
}

/// Hands over `msgs` at `now`, then flushes (never ticks), as a host does
/// when its inbox is empty; returns what the replica did.
pub fn step(r: &mut SwiftReplica, now: Time, msgs: Vec<(NodeId, Message)>) -> Vec<Action<Message>> {
    let mut out = Outbox::new();
    for (from, msg) in msgs {
        r.handle(from, msg, now, &mut out);
    }
    r.flush(now, &mut out);
    out.drain().collect()
}
