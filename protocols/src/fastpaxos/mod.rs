//! Fast Paxos (Lamport, 2006) as a replicated log, with uncoordinated
//! collision recovery.
//!
//! Clients send each command to every acceptor. Each acceptor votes for the
//! commands it receives, in arrival order, in its next free instance of the
//! log, in the current ballot's *fast round*, and sends its vote to every
//! replica. A value with a fast quorum (`ceil(3n/4)`) of votes in a fast
//! round is chosen; the replica the client named (its closest) executes the
//! log in order and answers: client → acceptors → learner → client, three
//! one-way delays, with no leader on the way.
//!
//! When acceptors received commands in different orders, an instance
//! *collides*. Once a replica holds the fast-round votes of every acceptor it
//! picks, by Fast Paxos's rule ([`round::pick`]), the value that could have
//! been chosen (or the most voted) and votes for it in the ballot's recovery
//! round, which is fast too: every replica sees the same votes, so they pick
//! the same value and it is chosen one delay later, without the
//! coordinator's extra round trip (uncoordinated recovery). Commands that lose
//! an instance are voted again in a later one.
//!
//! When votes are missing (a crashed acceptor, a partition), the ballot's
//! leader runs a classic round for the stuck instance (prepare, accept, a
//! majority). A new leader, elected as in Multi-Paxos, runs phase 1 over the
//! whole log suffix, decides every instance its majority reports (a classic
//! round each) and opens fast rounds after them (`Any`).

pub mod client;
pub mod messages;
mod queue;
pub mod replica;
pub mod round;

pub use client::FastPaxosClient;
pub use messages::Message;
pub use replica::FastPaxosReplica;

use crate::protocol::Protocol;

/// Fast Paxos, as a [`Protocol`] the hosts can run.
pub struct FastPaxos;

impl Protocol for FastPaxos {
    type Message = Message;
    type Replica = FastPaxosReplica;
    type Client = FastPaxosClient;
    const NAME: &'static str = "fastpaxos";
}
