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
//! * [`wire`]: envelopes in frames, what a link carries and a log holds.
//! * `live` (the default feature `live`): the host on glommio (io_uring)
//!   and TCP. Without it (`default-features = false`) the crate is the
//!   deterministic world alone: the simulator, the checkers and the storage
//!   format build without glommio or any I/O runtime.

pub mod check;
pub mod deployment;
#[cfg(feature = "live")]
pub mod live;
pub mod protocol_name;
pub mod sim;
pub mod storage;
pub mod wire;
