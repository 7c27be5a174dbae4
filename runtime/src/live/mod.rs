//! The live runtime: the same protocol cores as the simulator, on glommio
//! executors (io_uring) and real TCP connections.
//!
//! - [`server`]: one replica (one shard of it) per executor.
//! - [`clients`]: a host of logical clients (closed or open loop), with
//!   [`workload`] (keys, operations, arrival times) and [`timeline`]
//!   (what completed when).
//! - [`link`], [`mailbox`]: frames on TCP ([`crate::wire`]), in-executor queues;
//!   [`dial`]: outgoing connections and their backoff.
//! - [`memory`]: a server's memory kept to what it holds.

pub mod clients;
pub mod cores;
pub mod cut;
pub mod dial;
pub mod link;
pub mod mailbox;
pub mod memory;
pub mod rejoin;
pub mod server;
pub mod timeline;
pub mod wal;
pub mod workload;
