//! Hosts for the sans-IO protocols and the checkers that judge their runs.
//!
//! * [`sim`]: a deterministic discrete-event simulator that runs any
//!   protocol's real code over a latency matrix, with seeded faults.
//! * [`check`]: linearizability, agreement and liveness checks over a history.

pub mod check;
pub mod live;
pub mod sim;
