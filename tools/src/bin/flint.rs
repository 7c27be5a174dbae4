//! `flint`: per-protocol latency estimates for a placement, or the
//! interactive view; see `tools::flint`.

use clap::Parser;
use tools::flint::{self, FlintArgs};

fn main() {
    let args = FlintArgs::parse();
    let result = if args.wants_tui() {
        flint::table::load(args.table.as_deref())
            .and_then(|loaded| flint::tui::run(&args, loaded))
            .map(|()| String::new())
    } else {
        flint::run(&args)
    };
    match result {
        Ok(output) => print!("{output}"),
        Err(e) => {
            eprintln!("flint: {e}");
            std::process::exit(2);
        }
    }
}
