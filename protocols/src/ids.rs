//! Identifiers of replicas, clients and commands.

use std::fmt;

/// A replica's index in the deployment, `0..n`; ballot `b` belongs to replica `b mod n`.
pub type ReplicaId = usize;

/// A client's identity, unique over a run (the runtime draws it at random).
pub type ClientId = u64;

/// Names a command across retries so that replicas execute it at most once
/// and clients match replies to what they asked.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct CommandId {
    /// Who submitted it.
    pub client: ClientId,
    /// The client's own sequence number, increasing from 1.
    pub seq: u64,
}

impl CommandId {
    /// A command id of `client`'s `seq`-th command.
    pub fn new(client: ClientId, seq: u64) -> Self {
        CommandId { client, seq }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.client, self.seq)
    }
}

/// Where a message goes: the transport knows how to reach both kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeId {
    /// A replica of the replicated state machine.
    Replica(ReplicaId),
    /// A client, which only ever talks to replicas.
    Client(ClientId),
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeId::Replica(r) => write!(f, "replica {r}"),
            NodeId::Client(c) => write!(f, "client {c}"),
        }
    }
}
