//! CURP over N2Paxos (Park and Ousterhout, NSDI '19), as the original
//! prototype runs it.
//!
//! Clients send each command to every replica. Every replica is a
//! *witness*: it records a command when it commutes with every command it
//! holds unsynced, and says so (`Recorded`). The leader (the *master*)
//! executes the command speculatively, answers at once (`SpecReply`) and
//! orders it through N2Paxos. A client is done
//!
//! - on the **fast path** (two one-way delays) with the master's answer and
//!   a superquorum (`3n/4 + 1`) of witnesses that recorded the command, when
//!   the master held nothing unsynced that the command conflicts with;
//! - on the **slow path** (three one-way delays) with the master's answer and
//!   a majority that accepted the command's slot (`Ordered`), or, failing
//!   both, the master's answer after execution.
//!
//! The master never puts a command in a later slot than an unexecuted one
//! it conflicts with (CURP's "sync before answering"): conflicting commands
//! either share the open batch — one slot, chosen or lost together, and then
//! only a majority accepting that slot completes them — or wait until the
//! earlier one executed. So no completed answer depends on a command that
//! could still be lost. Witnesses drop a command once it
//! executes (it is synced). A new master, after phase 1, asks a majority of
//! witnesses for what they hold and replays every command that could have
//! completed on the fast path before it takes new commands ([`replica`]).

pub mod client;
pub mod messages;
pub mod replica;
pub mod unsynced;

pub use client::CurpClient;
pub use messages::Message;
pub use replica::CurpReplica;

use crate::protocol::Protocol;

/// CURP, as a [`Protocol`] the hosts can run.
pub struct Curp;

impl Protocol for Curp {
    type Message = Message;
    type Replica = CurpReplica;
    type Client = CurpClient;
    const NAME: &'static str = "curp";
}
