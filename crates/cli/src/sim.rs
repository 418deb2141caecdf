//! `postel sim`: the simulator in the foreground until Ctrl-C, printing each message.

use postel_sim::{Config, RunOptions};

use crate::cli::SimArgs;
use crate::exit::{self, Failure};

/// Builds the simulator's configuration from the flags.
pub fn config(args: &SimArgs) -> Result<Config, Failure> {
    let mut b = Config::builder()
        .bind(args.listen.ip())
        .port(args.listen.port())
        .implicit_tls(args.implicit_tls);
    for u in &args.user {
        let (name, pass) = u
            .split_once(':')
            .ok_or_else(|| Failure::usage(format!("--user {u:?}: expected NAME:PASS")))?;
        b = b.user(name, pass);
    }
    if let Some(m) = &args.maildir {
        b = b.maildir(m);
    }
    if let Some(ca) = &args.write_ca {
        b = b.write_ca_to(ca);
    }
    if args.lenient {
        b = b.lenient();
    }
    Ok(b.build())
}

/// Runs until Ctrl-C.
pub fn run(args: &SimArgs) -> Result<u8, Failure> {
    let config = config(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::SOFTWARE, format!("cannot start the runtime: {e}")))?;
    let options = RunOptions {
        transcripts: args.transcripts,
    };
    let until = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    rt.block_on(postel_sim::run(config, options, std::io::stdout(), until))
        .map_err(|e| failure(e, args.listen))?;
    Ok(exit::OK)
}

/// What went wrong, naming the address when it is the one that is taken.
fn failure(e: postel_sim::SimError, listen: std::net::SocketAddr) -> Failure {
    use std::io::ErrorKind;
    match e {
        postel_sim::SimError::Config(m) => Failure::config(m),
        postel_sim::SimError::Io(io) if io.kind() == ErrorKind::AddrInUse => Failure::new(
            exit::TEMPFAIL,
            format!(
                "cannot listen on {listen}: the address is already in use (another `postel \
                 sim`, or a mail server?): stop it, or listen elsewhere with --listen {}:{}",
                listen.ip(),
                alternative_port(listen.port())
            ),
        ),
        postel_sim::SimError::Io(io) if io.kind() == ErrorKind::AddrNotAvailable => {
            Failure::config(format!(
                "cannot listen on {listen}: no such address on this machine ({io})"
            ))
        }
        other => Failure::new(exit::UNAVAILABLE, format!("simulator: {other}")),
    }
}

/// A port to suggest instead of a busy one.
fn alternative_port(busy: u16) -> u16 {
    if busy == 2526 {
        2527
    } else {
        2526
    }
}
