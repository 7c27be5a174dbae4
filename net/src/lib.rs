//! Everything about the network that is independent of a host: the wire
//! format ([`frame`]), the latency files of the original tool and the one-way
//! delay matrix built from them, which the simulator and the runtime's
//! latency injection share.

pub mod duration;
pub mod frame;
pub mod latency;

pub use latency::{LatencyError, LatencyMatrix, LatencyTable};
