//! The project's command-line tools, as library code so that tests drive
//! them without spawning processes. Each binary in `src/bin` is a thin shell.

pub mod cli;
pub mod client_logs;
pub mod evaluate;
pub mod flint;
pub mod sim;

/// The deployment config and protocol names live in `runtime`, one floor
/// down, where `bench` uses them too; re-exported under their old paths.
pub use runtime::{deployment, protocol_name};
