//! `flint`: per-protocol latency estimates for a placement; see `tools::flint`.

use clap::Parser;

fn main() {
    let args = tools::flint::FlintArgs::parse();
    match tools::flint::run(&args) {
        Ok(output) => print!("{output}"),
        Err(e) => {
            eprintln!("flint: {e}");
            std::process::exit(2);
        }
    }
}
