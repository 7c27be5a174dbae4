//! The pure protocol logic of the project: no sockets, no clocks, no threads.
//!
//! A replica or a client is a value that is fed events (a message, a tick, a
//! submitted command) together with the current time, and that answers by
//! pushing actions into an [`Outbox`]. The deterministic simulator and the
//! production runtime drive exactly the same code; see `ARCHITECTURE.md`.
//!
//! The pieces every protocol shares live here once: identifiers, the key-value
//! [state machine](kv), [ballots](ballot), [quorums](quorum), the per-key
//! [conflict table](conflicts) and [client-side bookkeeping](client).

pub mod ballot;
pub mod batching;
pub mod command;
pub mod conflicts;
pub mod curp;
pub mod depgraph;
pub mod election;
pub mod epaxos;
pub mod executed_everywhere;
pub mod fastpaxos;
pub mod ids;
pub mod keymap;
pub mod kv;
pub mod leader_client;
pub mod log;
pub mod n2paxos;
pub mod paxos;
pub mod pending;
pub mod preferred;
pub mod primary_backup;
pub mod protocol;
pub mod quorum;
pub mod quorum_file;
pub mod rejoin;
pub mod session;
pub mod shrink;
pub mod speculation;
pub mod stream_windows;
pub mod swift;
pub mod time;
pub mod transfer;
pub mod unboxed;

pub use command::{Command, CommandResult, Key};
pub use ids::{ClientId, CommandId, NodeId, ReplicaId};
pub use protocol::{
    Action, ClientConfig, ClientProtocol, Completion, DeliberateBugs, Outbox, Protocol, ReplicaConfig, ReplicaProtocol,
    Timing, DEFAULT_RELEASE_LAG,
};
pub use time::Time;
