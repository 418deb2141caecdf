//! `postel sim`: the simulator in the foreground until Ctrl-C, printing each message;
//! with `--web ADDR` also the web bench (page and REST API, docs/sim.md).

use postel_sim::profile::Profile;
use postel_sim::web::WebOptions;
use postel_sim::{Config, RunOptions};

use crate::cli::SimArgs;
use crate::exit::{self, Failure};

/// Builds the simulator's configuration from the flags.
pub fn config(args: &SimArgs) -> Result<Config, Failure> {
    let mut b = Config::builder()
        .bind(args.listen.ip())
        .port(args.listen.port())
        .allow_remote(true)
        .implicit_tls(args.implicit_tls);
    if let Some(p) = &args.profile {
        let profile: Profile = p
            .parse()
            .map_err(|e| Failure::usage(format!("--profile: {e}")))?;
        if args.lenient && profile != Profile::Lenient {
            return Err(Failure::usage(format!(
                "--lenient and --profile {p} both set the strictness: give one"
            )));
        }
        b = profile.apply(b);
    }
    if let Some(n) = args.max_size {
        b = b.size_limit(n);
    }
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
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "postel sim: warning: listening on {}, not loopback: anyone who can reach it can \
             deliver to the simulator",
            args.listen
        );
    }
    match web_options(args)? {
        Some(web) => {
            if !web.addr.ip().is_loopback() {
                eprintln!(
                    "postel sim: warning: the web bench on {} is not loopback: anyone who can \
                     reach it can read every message{}",
                    web.addr,
                    if web.basic_auth.is_none() {
                        " (no --web-auth)"
                    } else {
                        ""
                    }
                );
            }
            let web_addr = web.addr;
            rt.block_on(postel_sim::run_web(
                config,
                options,
                web,
                std::io::stdout(),
                until,
            ))
            .map_err(|e| match &e {
                postel_sim::SimError::Io(io)
                    if io.kind() == std::io::ErrorKind::AddrInUse
                        && std::net::TcpListener::bind(web_addr).is_err() =>
                {
                    Failure::new(
                        exit::TEMPFAIL,
                        format!("cannot serve the web bench on {web_addr}: the address is already in use"),
                    )
                }
                _ => failure(e, args.listen),
            })?;
        }
        None => rt
            .block_on(postel_sim::run(config, options, std::io::stdout(), until))
            .map_err(|e| failure(e, args.listen))?,
    }
    Ok(exit::OK)
}

/// The web bench's options from --web, --web-auth and --store.
fn web_options(args: &SimArgs) -> Result<Option<WebOptions>, Failure> {
    let Some(addr) = args.web else {
        return Ok(None);
    };
    let mut web = WebOptions::new(addr);
    if let Some(a) = &args.web_auth {
        let (user, pass) = a
            .split_once(':')
            .filter(|(u, p)| !u.is_empty() && !p.is_empty())
            .ok_or_else(|| Failure::usage("--web-auth: expected USER:PASS".to_owned()))?;
        web.basic_auth = Some((user.to_owned(), pass.to_owned()));
    }
    web.store = args.store.clone();
    Ok(Some(web))
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
