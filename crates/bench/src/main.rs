//! postel-bench: Postel against what users would pick instead (lettre blocking and tokio,
//! mail-send, Python's smtplib, Postfix's smtp-source, msmtp, swaks), in the same run on the
//! same machine, reported as ratios: plaintext throughput and round trips, and where users
//! live, the cold submission (STARTTLS + AUTH + one message over a slow link), TLS
//! throughput and TLS reconnects.
//!
//! ```text
//! cargo run --release -p postel-bench              # full (~10 min): stdout + BENCHMARKS.md + README
//! cargo run --release -p postel-bench -- --quick   # ~1 min, to target/BENCHMARKS.partial.md
//!     [--only rtt|loopback|concurrent|large|cpu|syscalls|cold|tls|reconnect|queue]... [--no-postfix] [--seconds S]
//! postel-bench client NAME --addr A [--rcpts N] [--body N] [--seconds S] [--max N]
//!     [--conns N] [--attach N] [--ca FILE]         # one contender (the harness spawns these)
//! postel-bench cold NAME --addr A --ca FILE --user U --password P   # one cold submission
//! postel-bench proxy UPSTREAM ONE_WAY_MS           # the delaying proxy, standalone
//! ```
//!
//! Benchmarks are not tests: nothing here asserts a timing. The unit tests check only the
//! harness's own pieces (report parsing, table layout, the message generator).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod cold;
mod contender;
mod harness;
mod measure;
mod message;
mod proxy;
mod queue;
mod report;
mod servers;
mod tls;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("client") => client::main(&args[1..]),
        Some("cold") => client::cold::main(&args[1..]),
        Some("proxy") => proxy_main(&args[1..]),
        Some("queue") => queue::main(&args[1..]),
        _ => harness::main(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postel-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `postel-bench proxy UPSTREAM ONE_WAY_MS`: the delaying proxy alone, for trying a client
/// by hand at a chosen RTT.
fn proxy_main(args: &[String]) -> Result<(), client::BoxError> {
    let [upstream, one_way] = args else {
        return Err("usage: postel-bench proxy UPSTREAM ONE_WAY_MS".into());
    };
    let p = proxy::Proxy::start(
        upstream.parse()?,
        std::time::Duration::from_millis(one_way.parse()?),
    )?;
    println!("listening on {}", p.addr());
    loop {
        std::thread::park();
    }
}
