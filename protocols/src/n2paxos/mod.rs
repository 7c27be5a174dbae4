//! N2Paxos: all-to-all Multi-Paxos.
//!
//! The same replica as [`crate::paxos`] with one difference: acceptors send
//! `Accepted` to every replica, not only the leader, so each replica learns
//! a decision from a majority itself instead of waiting for the leader's
//! `Commit`. Clients send to the leader and ask their closest replica to
//! answer too (the original runs N2Paxos with `waitClosest`), so a client
//! next to a replica hears the decision one message delay sooner.
//! Leader change, catch-up and everything else is Multi-Paxos's, and so
//! are the messages (`crate::paxos::Message`).

mod client;
mod replica;

pub use client::N2PaxosClient;
pub use replica::N2PaxosReplica;

use crate::paxos::Message;
use crate::protocol::Protocol;

/// N2Paxos, as a [`Protocol`] the hosts can run.
pub struct N2Paxos;

impl Protocol for N2Paxos {
    type Message = Message;
    type Replica = N2PaxosReplica;
    type Client = N2PaxosClient;
    const NAME: &'static str = "n2paxos";
}
