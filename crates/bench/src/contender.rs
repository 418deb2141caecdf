//! Who is measured, and how each is started as a process of its own.

use std::io;
use std::path::PathBuf;
use std::process::Command;

use crate::client::Spec;
use crate::measure::{self, Report, Run};
use crate::servers;

/// Everything measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    /// `postel::Client`.
    PostelBlocking,
    /// `postel::AsyncClient`, or `postel::Pool` for several connections.
    PostelTokio,
    /// lettre's `SmtpTransport`.
    LettreBlocking,
    /// lettre's `AsyncSmtpTransport<Tokio1Executor>`.
    LettreTokio,
    /// mail-send's `SmtpClient`.
    MailSend,
    /// Python's smtplib.
    Smtplib,
    /// Postfix's `smtp-source`.
    SmtpSource,
}

impl Contender {
    /// Every contender, Postel first.
    pub const ALL: &'static [Contender] = &[
        Contender::PostelBlocking,
        Contender::PostelTokio,
        Contender::LettreBlocking,
        Contender::LettreTokio,
        Contender::MailSend,
        Contender::Smtplib,
        Contender::SmtpSource,
    ];

    /// The name `postel-bench client` takes.
    pub fn name(self) -> &'static str {
        match self {
            Contender::PostelBlocking => "postel-blocking",
            Contender::PostelTokio => "postel-tokio",
            Contender::LettreBlocking => "lettre-blocking",
            Contender::LettreTokio => "lettre-tokio",
            Contender::MailSend => "mail-send",
            Contender::Smtplib => "smtplib",
            Contender::SmtpSource => "smtp-source",
        }
    }

    /// Row label in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Contender::PostelBlocking => "postel `Client` (blocking)",
            Contender::PostelTokio => "postel `AsyncClient` / `Pool` (tokio)",
            Contender::LettreBlocking => "lettre `SmtpTransport` (blocking)",
            Contender::LettreTokio => "lettre `AsyncSmtpTransport` (tokio)",
            Contender::MailSend => "mail-send `SmtpClient` (tokio)",
            Contender::Smtplib => "Python `smtplib`",
            Contender::SmtpSource => "Postfix `smtp-source` (C, no composer)",
        }
    }

    /// Postel's own rows.
    pub fn is_postel(self) -> bool {
        matches!(self, Contender::PostelBlocking | Contender::PostelTokio)
    }

    /// The Postel contender a user of this one would compare with: the blocking client
    /// for blocking libraries and tools, the tokio one for async libraries.
    pub fn twin(self) -> Contender {
        match self {
            Contender::PostelTokio | Contender::LettreTokio | Contender::MailSend => {
                Contender::PostelTokio
            }
            _ => Contender::PostelBlocking,
        }
    }

    /// Runs it once as specified: its own report of the timed phase, and its process's
    /// peak RSS. `smtp-source` cannot time itself: see [`run_smtp_source`].
    pub fn run(self, spec: &Spec) -> io::Result<Measured> {
        match self {
            Contender::SmtpSource => run_smtp_source(spec),
            Contender::Smtplib => {
                let mut cmd = Command::new(python());
                cmd.arg(python_script()).args(spec.to_args());
                measured(measure::run(&mut pinned(cmd, spec.pin))?, self)
            }
            _ => {
                let mut cmd = Command::new(std::env::current_exe()?);
                cmd.arg("client").arg(self.name()).args(spec.to_args());
                measured(measure::run(&mut pinned(cmd, spec.pin))?, self)
            }
        }
    }

    /// The command that sends `messages` messages back to back and exits, for callgrind.
    pub fn fixed_count_command(self, spec: &Spec, messages: u64) -> io::Result<Command> {
        let mut spec = spec.clone();
        spec.max = messages;
        spec.seconds = 1e9;
        Ok(match self {
            Contender::SmtpSource => smtp_source_command(&spec, messages + 1),
            Contender::Smtplib => {
                let mut cmd = Command::new(python());
                cmd.arg(python_script()).args(spec.to_args());
                cmd
            }
            _ => {
                let mut cmd = Command::new(std::env::current_exe()?);
                cmd.arg("client").arg(self.name()).args(spec.to_args());
                cmd
            }
        })
    }
}

/// One measured run.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Messages in the timed phase.
    pub messages: u64,
    /// Seconds of the timed phase.
    pub secs: f64,
    /// Peak RSS of the contender's process, KiB.
    pub max_rss_kib: u64,
}

impl Measured {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        Report {
            messages: self.messages,
            secs: self.secs,
            hwm_kib: 0,
        }
        .rate()
    }
}

fn measured(run: Run, who: Contender) -> io::Result<Measured> {
    match (run.ok, run.report) {
        (true, Some(r)) => Ok(Measured {
            messages: r.messages,
            secs: r.secs,
            max_rss_kib: run.max_rss_kib,
        }),
        _ => Err(io::Error::other(format!(
            "{} failed: {}",
            who.name(),
            run.stderr.trim().lines().last().unwrap_or("no RESULT line")
        ))),
    }
}

/// `cmd` run through `taskset -c CPU` when a CPU is given.
pub fn pinned(cmd: Command, cpu: Option<usize>) -> Command {
    let Some(cpu) = cpu else {
        return cmd;
    };
    let mut t = Command::new("taskset");
    t.arg("-c")
        .arg(cpu.to_string())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    t
}

/// The real Python interpreter (not a pyenv shim: callgrind and wait4 must see Python).
pub fn python() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
            .map_or_else(|| PathBuf::from("python3"), PathBuf::from)
    })
    .clone()
}

/// The smtplib contender's script.
pub fn python_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/smtplib_client.py")
}

fn smtp_source_command(spec: &Spec, messages: u64) -> Command {
    let mut cmd = Command::new(servers::source_path());
    let payload = if spec.attach > 0 {
        spec.attach
    } else {
        spec.body as u64
    };
    cmd.args([
        "-d", // keep the connection open between messages
        "-s",
        &spec.conns.to_string(),
        "-m",
        &messages.to_string(),
        "-l",
        &payload.to_string(),
        "-r",
        &spec.rcpts.to_string(),
        "-M",
        crate::message::EHLO_NAME,
        "-f",
        crate::message::FROM,
        "-t",
        "rcpt@example.test",
        "-S",
        crate::message::SUBJECT,
        &spec.addr.to_string(),
    ]);
    cmd
}

/// `smtp-source` times nothing itself, so it runs twice, with `m₁` and `m₂` messages, and
/// its rate is `(m₂ − m₁) / (t₂ − t₁)`: process start, connection, EHLO and QUIT cancel out.
/// `m₂` is sized from the first run to take about `spec.seconds`. With an attachment it
/// sends one message and its wall time is reported (the connection setup is in it).
fn run_smtp_source(spec: &Spec) -> io::Result<Measured> {
    let once = |m: u64| -> io::Result<Run> {
        let run = measure::run(&mut pinned(smtp_source_command(spec, m), spec.pin))?;
        if run.ok {
            Ok(run)
        } else {
            Err(io::Error::other(format!(
                "smtp-source failed: {}",
                run.stderr.trim()
            )))
        }
    };
    if spec.attach > 0 {
        let r = once(1)?;
        return Ok(Measured {
            messages: 1,
            secs: r.wall.as_secs_f64(),
            max_rss_kib: r.max_rss_kib,
        });
    }
    let m1 = 50 * spec.conns as u64;
    let first = once(m1)?;
    let guess = m1 as f64 / first.wall.as_secs_f64().max(1e-3);
    let extra = ((guess * spec.seconds) as u64).clamp(m1, spec.max.min(2_000_000));
    let second = once(m1 + extra)?;
    let dt = second.wall.as_secs_f64() - first.wall.as_secs_f64();
    Ok(Measured {
        messages: extra,
        secs: dt.max(1e-6),
        max_rss_kib: second.max_rss_kib,
    })
}

/// Postel's figures in one column, to divide the others' by ([`Contender::twin`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct Baseline {
    blocking: Option<f64>,
    tokio: Option<f64>,
}

impl Baseline {
    /// Records `value` if `who` is Postel.
    pub fn note(&mut self, who: Contender, value: f64) {
        match who {
            Contender::PostelBlocking => self.blocking = Some(value),
            Contender::PostelTokio => self.tokio = Some(value),
            _ => {}
        }
    }

    /// The figure of `who`'s Postel twin.
    pub fn of(&self, who: Contender) -> Option<f64> {
        match who.twin() {
            Contender::PostelTokio => self.tokio,
            _ => self.blocking,
        }
    }
}
