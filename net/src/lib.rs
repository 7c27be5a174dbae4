//! Everything about the network that is independent of a host: the latency
//! files of the original tool and the one-way delay matrix built from them,
//! which the simulator and (with issue 5) the runtime's latency injection share.

pub mod duration;
pub mod latency;

pub use latency::{LatencyError, LatencyMatrix, LatencyTable};
