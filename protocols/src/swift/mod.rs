//! SwiftPaxos (Ryabinin, Gotsman, Sutra; NSDI '24).
//!
//! Clients send each command to every replica. Replicas vote the command's
//! dependencies (earlier conflicting commands they know); the leader also
//! executes it optimistically and answers. When a fast quorum that includes
//! the leader voted the leader's dependencies, the command is committed after
//! two one-way delays (the **fast path**); otherwise replicas adopt the
//! leader's dependencies and a majority with the leader commits it after
//! three (the **slow path**). Both fast-quorum kinds are supported: any
//! `3n/4 + 1` replicas with the leader, or one fixed majority with the leader
//! (the quorum file). A new leader rebuilds every command's dependencies from
//! a majority (`replica::recovery`) and the command goes through the slow path again.

pub mod client;
pub mod distances;
pub mod messages;
pub mod replica;

pub use client::SwiftClient;
pub use messages::{FastVote, Message};
pub use replica::SwiftReplica;

use crate::protocol::Protocol;

/// SwiftPaxos, as a [`Protocol`] the hosts can run.
pub struct SwiftPaxos;

impl Protocol for SwiftPaxos {
    type Message = Message;
    type Replica = SwiftReplica;
    type Client = SwiftClient;
    const NAME: &'static str = "swiftpaxos";
}
