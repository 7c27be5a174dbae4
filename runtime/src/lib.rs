//! Hosts for the sans-IO protocols and the checkers that judge their runs.
//!
//! * [`sim`]: a deterministic discrete-event simulator that runs any
//!   protocol's real code over a latency matrix, with seeded faults.
//! * [`storage`]: the durable log's format and the verdict on it at a
//!   restart (torn tail or storage fault), shared by both hosts.
//! * [`check`]: linearizability, agreement and liveness checks over a history.
//! * [`deployment`] and [`protocol_name`]: what every front end (the CLI,
//!   `bench`, `sim`) reads from its user: the original's deployment config
//!   and the protocols by name, with the one place a name becomes a type.

pub mod check;
pub mod deployment;
pub mod live;
pub mod protocol_name;
pub mod sim;
pub mod storage;
