//! Egalitarian Paxos (Moraru, Andersen, Kaminsky, SOSP '13), with the
//! corrections of Sutra ("On the correctness of Egalitarian Paxos", 2019).
//!
//! Every replica leads the commands its clients send it, each in the next
//! instance of its own row. The command leader proposes the command's
//! attributes — the highest conflicting instance per row and a sequence
//! number — to every replica (`PreAccept`); each merges in the conflicts it
//! knows. If a fast quorum (`f + ⌊(f+1)/2⌋`, leader included) answers with
//! the attributes unchanged, they are committed at once (fast path: client
//! → command leader → fast quorum → command leader → client). Otherwise the
//! union goes through a Paxos accept at a majority (slow path, two more
//! delays). Committed commands execute by strongly connected components of
//! the dependency graph, in sequence-number order inside a component.
//!
//! An instance whose leader goes quiet is recovered by explicit prepare
//! ([`replica`]'s recovery), with `TryPreAccept` when the instance may have
//! committed on the fast path.

pub mod attributes;
pub mod client;
pub mod instance;
pub mod messages;
pub mod replica;

pub use client::EPaxosClient;
pub use messages::Message;
pub use replica::EPaxosReplica;

use crate::protocol::Protocol;

/// EPaxos, as a [`Protocol`] the hosts can run.
pub struct EPaxos;

impl Protocol for EPaxos {
    type Message = Message;
    type Replica = EPaxosReplica;
    type Client = EPaxosClient;
    const NAME: &'static str = "epaxos";
}
