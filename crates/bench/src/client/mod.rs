//! The contenders, each run as `postel-bench client <name> [options]` in a process of its
//! own, so its peak RSS is its own. Every contender composes each message with its own
//! composer (the text of [`crate::message`]), sends it over connections it keeps open, and
//! prints one [`Report`] line.
//!
//! Timing: one untimed warm-up message per connection (it opens the connection and says
//! EHLO), then messages are sent until `--seconds` have passed or `--max` were accepted.
//! With `--attach N`, the timed phase is one message with an N-octet attachment.

pub mod cold;
mod lettre_blocking;
mod lettre_tokio;
mod mail_send;
mod postel_blocking;
mod postel_tokio;

use std::error::Error;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use crate::measure::Report;

/// A contender's error: any library's, boxed.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// What a contender is asked to do.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Server (or proxy) address.
    pub addr: SocketAddr,
    /// Recipients per message.
    pub rcpts: usize,
    /// Octets of body text.
    pub body: usize,
    /// Length of the timed phase.
    pub seconds: f64,
    /// Most messages in the timed phase.
    pub max: u64,
    /// Concurrent connections.
    pub conns: usize,
    /// Octets of attachment (0: none).
    pub attach: u64,
    /// Run the contender's process on this CPU only (the harness's concern: not passed on).
    pub pin: Option<usize>,
    /// STARTTLS, trusting only the CA certificate in this PEM file (else plain SMTP).
    pub ca: Option<String>,
    /// A new connection for every message (Postel's blocking client only: it QUITs after
    /// each one), to measure connection setup.
    pub fresh: bool,
    /// Let TLS resume sessions across connections (Postel only; on by default).
    pub resume: bool,
}

impl Spec {
    fn parse(args: &[String]) -> Result<Spec, BoxError> {
        let mut spec = Spec {
            addr: SocketAddr::from(([127, 0, 0, 1], 25)),
            rcpts: 1,
            body: 1000,
            seconds: 2.0,
            max: u64::MAX,
            conns: 1,
            attach: 0,
            pin: None,
            ca: None,
            fresh: false,
            resume: true,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--addr" => spec.addr = value.parse()?,
                "--rcpts" => spec.rcpts = value.parse()?,
                "--body" => spec.body = value.parse()?,
                "--seconds" => spec.seconds = value.parse()?,
                "--max" => spec.max = value.parse()?,
                "--conns" => spec.conns = value.parse()?,
                "--attach" => spec.attach = value.parse()?,
                "--ca" => spec.ca = Some(value.clone()),
                "--fresh" => spec.fresh = value == "1",
                "--resume" => spec.resume = value == "1",
                other => return Err(format!("unknown option {other}").into()),
            }
        }
        Ok(spec)
    }

    /// The options [`Spec::parse`] reads, for spawning a contender.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--addr".into(),
            self.addr.to_string(),
            "--rcpts".into(),
            self.rcpts.to_string(),
            "--body".into(),
            self.body.to_string(),
            "--seconds".into(),
            self.seconds.to_string(),
            "--max".into(),
            self.max.to_string(),
            "--conns".into(),
            self.conns.to_string(),
            "--attach".into(),
            self.attach.to_string(),
        ];
        if let Some(ca) = &self.ca {
            args.extend(["--ca".into(), ca.clone()]);
        }
        if self.fresh {
            args.extend(["--fresh".into(), "1".into()]);
        }
        if !self.resume {
            args.extend(["--resume".into(), "0".into()]);
        }
        args
    }

    /// Messages per connection in the timed phase, at most.
    fn budget(&self) -> Budget {
        Budget {
            max: if self.attach > 0 { 1 } else { self.max },
            seconds: self.seconds,
            taken: AtomicU64::new(0),
            start: Mutex::new(None),
        }
    }
}

/// Shared stop rule of the timed phase: a message count and a deadline.
#[derive(Debug)]
pub struct Budget {
    max: u64,
    seconds: f64,
    taken: AtomicU64,
    start: Mutex<Option<Instant>>,
}

impl Budget {
    /// Marks the start of the timed phase (the first caller wins).
    pub fn start(&self) {
        if let Ok(mut s) = self.start.lock() {
            s.get_or_insert_with(Instant::now);
        }
    }

    fn started(&self) -> Instant {
        self.start
            .lock()
            .ok()
            .and_then(|s| *s)
            .unwrap_or_else(Instant::now)
    }

    /// May another message be sent? Counts it if so.
    pub fn take(&self) -> bool {
        if self.started().elapsed() >= Duration::from_secs_f64(self.seconds) {
            return false;
        }
        self.taken.fetch_add(1, Ordering::SeqCst) < self.max
    }

    /// The report once every sender has stopped.
    pub fn report(&self, sent: u64) -> Report {
        Report {
            messages: sent,
            secs: self.started().elapsed().as_secs_f64(),
            hwm_kib: 0,
        }
    }
}

/// Runs a blocking contender: `conns` threads, each with its own `connect()`ed state (which
/// may share a pool), a warm-up `send`, then the timed phase.
pub fn run_blocking<S>(
    spec: &Spec,
    connect: impl Fn() -> Result<S, BoxError> + Sync,
    send: impl Fn(&mut S, &Spec, bool) -> Result<(), BoxError> + Sync,
    finish: impl Fn(S) + Sync,
) -> Result<Report, BoxError> {
    let budget = spec.budget();
    let barrier = Barrier::new(spec.conns);
    let sent = AtomicU64::new(0);
    let result: Result<(), BoxError> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..spec.conns)
            .map(|_| {
                scope.spawn(|| -> Result<(), BoxError> {
                    let mut state = connect()?;
                    send(&mut state, spec, false)?;
                    barrier.wait();
                    budget.start();
                    while budget.take() {
                        send(&mut state, spec, true)?;
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                    finish(state);
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "a sender thread panicked")??;
        }
        Ok(())
    });
    result?;
    Ok(budget.report(sent.load(Ordering::SeqCst)))
}

/// The tokio runtime the async contenders use: what `#[tokio::main]` gives.
pub fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Shared pieces of an async timed phase.
#[derive(Debug)]
pub struct AsyncRun {
    /// The stop rule.
    pub budget: Budget,
    /// Messages accepted.
    pub sent: AtomicU64,
    /// All connections warmed up.
    pub ready: tokio::sync::Barrier,
}

impl AsyncRun {
    /// For `spec.conns` tasks.
    pub fn new(spec: &Spec) -> Arc<AsyncRun> {
        Arc::new(AsyncRun {
            budget: spec.budget(),
            sent: AtomicU64::new(0),
            ready: tokio::sync::Barrier::new(spec.conns),
        })
    }

    /// The report once every task has stopped.
    pub fn report(&self) -> Report {
        self.budget.report(self.sent.load(Ordering::SeqCst))
    }
}

/// Joins the tasks of an async run, failing on the first error.
pub async fn join_all(
    tasks: Vec<tokio::task::JoinHandle<Result<(), BoxError>>>,
) -> Result<(), BoxError> {
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// `postel-bench client NAME OPTIONS...`: runs one contender and prints its report.
pub fn main(args: &[String]) -> Result<(), BoxError> {
    let (name, rest) = args
        .split_first()
        .ok_or("usage: postel-bench client NAME [--addr A] [--rcpts N] ...")?;
    let spec = Spec::parse(rest)?;
    let report = match name.as_str() {
        "lettre-blocking" => lettre_blocking::run(&spec)?,
        "lettre-tokio" => lettre_tokio::run(&spec)?,
        "mail-send" => mail_send::run(&spec)?,
        "postel-blocking" => postel_blocking::run(&spec)?,
        "postel-tokio" => postel_tokio::run(&spec)?,
        other => return Err(format!("unknown contender {other}").into()),
    };
    let report = Report {
        hwm_kib: crate::measure::hwm_kib("/proc/self/status"),
        ..report
    };
    println!("{}", report.line());
    Ok(())
}
