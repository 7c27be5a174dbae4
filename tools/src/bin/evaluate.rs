//! `evaluate`: the geo evaluation, reproduced in the simulator; see `tools::evaluate`.

use clap::Parser;

fn main() {
    let args = tools::evaluate::EvaluateArgs::parse();
    match tools::evaluate::run(&args) {
        Ok(summary) => print!("{summary}"),
        Err(e) => {
            eprintln!("evaluate: {e}");
            std::process::exit(2);
        }
    }
}
