//! `sim`: see `tools::sim`.

use clap::Parser;
use std::process::ExitCode;
use tools::sim::{print, run, SimArgs};

fn main() -> ExitCode {
    let args = SimArgs::parse();
    match run(&args) {
        Ok(report) => {
            print(&args, &report);
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
