//! postel-bench: Postel against what users would pick instead, in the same run on the
//! same machine, reported as ratios.
//!
//! ```text
//! cargo run --release -p postel-bench -- [--quick]     # table on stdout + BENCHMARKS.md
//! postel-bench client NAME --addr A [--rcpts N] ...    # one contender (spawned by the above)
//! postel-bench proxy LISTEN UPSTREAM ONE_WAY_MS        # the delaying proxy, standalone
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod client;
mod measure;
mod message;
mod proxy;
mod servers;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("client") => client::main(&args[1..]),
        _ => Err("todo".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postel-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
