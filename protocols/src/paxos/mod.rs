//! Classic Multi-Paxos with a stable leader.
//!
//! The leader of the current ballot assigns each client command (in batches)
//! to the next log slot and runs phase 2 over a majority; the log executes in
//! slot order and the leader answers the client after executing. Normal case:
//! client → leader → acceptors → leader → client, four one-way delays.
//!
//! When followers stop hearing the leader they run phase 1 with a higher
//! ballot ([`replica`]), recover what a majority accepted, fill gaps with
//! no-ops and carry on. Lagging learners catch up from the leader.

pub mod messages;
pub mod replica;

pub use messages::Message;
pub use replica::PaxosReplica;

use crate::leader_client::LeaderClient;
use crate::protocol::Protocol;

/// Multi-Paxos, as a [`Protocol`] the hosts can run.
pub struct Paxos;

impl Protocol for Paxos {
    type Message = Message;
    type Replica = PaxosReplica;
    type Client = LeaderClient<Message>;
    const NAME: &'static str = "paxos";
}

impl crate::leader_client::LeaderMessages for Message {
    fn request(id: crate::CommandId, command: crate::Command) -> Self {
        Message::Request { id, command }
    }

    fn into_reply(self) -> Option<(crate::CommandId, crate::CommandResult)> {
        match self {
            Message::Reply { id, result } => Some((id, result)),
            _ => None,
        }
    }

    fn watch(id: crate::CommandId) -> Option<Self> {
        Some(Message::Watch { id })
    }
}
