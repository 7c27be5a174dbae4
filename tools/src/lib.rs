//! The project's command-line tools, as library code so that tests drive
//! them without spawning processes. Each binary in `src/bin` is a thin shell.

pub mod cli;
pub mod client_logs;
pub mod deployment;
pub mod evaluate;
pub mod flint;
pub mod protocol_name;
pub mod sim;
