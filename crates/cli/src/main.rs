//! `postel`: send mail through SMTP servers (msmtp- and sendmail-style), probe them (what
//! `openssl s_client -starttls smtp` and swaks are used for), and run a local simulator.
//!
//! ```text
//! $ postel demo
//! $ postel send --server smtp.example.com --user me --password-command 'pass smtp' \
//!       --from me@example.com --to you@example.net --subject hi --text hello
//! $ printf 'To: a@x\nSubject: s\n\nbody\n' | postel sendmail -t
//! $ postel probe smtp.example.com:587
//! ```
//! Exit codes are sendmail's (sysexits), see [`exit`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod added_headers;
mod attach;
mod cli;
mod config;
mod deliver;
mod demo;
mod dkim;
mod dsn;
mod exit;
mod maillog;
mod manual;
mod output;
mod probe;
mod queue_cmd;
mod reach;
mod send;
mod sendmail;
mod server;
mod sim;
mod spool;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::exit::Failure;

fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (name, result) = if invoked_as == "sendmail" {
        let args = argv.split_off(1.min(argv.len()));
        let config = std::env::var_os("POSTEL_CONFIG").map(std::path::PathBuf::from);
        ("sendmail", sendmail::run(lossy(args), config))
    } else {
        let cli = match Cli::try_parse_from(argv) {
            Ok(cli) => cli,
            Err(e) => {
                let _ = e.print();
                // Help and version are not errors; a bad command line is EX_USAGE.
                return ExitCode::from(if e.use_stderr() {
                    exit::USAGE
                } else {
                    exit::OK
                });
            }
        };
        ("postel", dispatch(cli))
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            let bad = anstyle::AnsiColor::Red.on_default().bold();
            // The message may quote a server (a reply, a certificate): inert on a terminal.
            let said = output::inert_text(&f.to_string(), true).into_owned();
            let _ = writeln!(output::stderr(), "{name}: {bad}error{bad:#}: {said}");
            ExitCode::from(f.code)
        }
    }
}

fn lossy(args: Vec<OsString>) -> Vec<String> {
    args.into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Send(args) => {
            let file = config::load(cli.config.as_deref())?;
            send::run(&args, &file)
        }
        Command::Sendmail(args) => sendmail::run(lossy(args.args), cli.config),
        Command::Queue(args) => {
            let file = config::load(cli.config.as_deref())?;
            queue_cmd::run(&args, &file)
        }
        Command::Dkim(args) => dkim::run(&args),
        Command::Probe(args) => probe::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Demo => demo::run(),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "postel", &mut script);
            write_stdout(&script, "the completion script")
        }
        Command::Man { dir } => man(dir.as_deref()),
    }
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(bytes: &[u8], what: &str) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::new(exit::IOERR, format!("writing {what}: {e}")))
        }
        _ => Ok(exit::OK),
    }
}

/// The man page from the clap definitions and [`manual`]'s sections: one page to
/// stdout, or a page per command.
fn man(dir: Option<&Path>) -> Result<u8, Failure> {
    let io = |e: std::io::Error| Failure::new(exit::IOERR, format!("writing the man page: {e}"));
    let mut cmd = Cli::command();
    cmd.build();
    match dir {
        None => {
            let mut page = Vec::new();
            manual::render(cmd, manual::Page::Main, &mut page).map_err(io)?;
            write_stdout(&page, "the man page")
        }
        Some(d) => {
            std::fs::create_dir_all(d).map_err(io)?;
            let mut pages = vec![("postel.1".to_owned(), manual::Page::Main, cmd.clone())];
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    pages.push((
                        format!("postel-{}.1", sub.get_name()),
                        manual::Page::of(sub.get_name()),
                        sub.clone(),
                    ));
                }
            }
            for (file, page, c) in pages {
                let mut buf = Vec::new();
                manual::render(c, page, &mut buf).map_err(io)?;
                std::fs::write(d.join(file), buf).map_err(io)?;
            }
            Ok(exit::OK)
        }
    }
}
