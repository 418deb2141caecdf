//! `postel queue add|list|show|flush|remove|run`, `postel send --direct` and the queue
//! fallback of `postel sendmail --queue`, over [`postel::queue`] and [`postel::mx`].
//!
//! ```text
//! $ postel sendmail --queue -f me@x.test you@y.test < msg   # relay down: queued, exit 0
//! $ postel queue list
//! 0067410f2a-1c9e0a3b-5d2e7f01  me@x.test  attempts 1  next Sun, 22 Nov 2026 23:59:00 +0000 (in 29m)
//!     you@y.test  pending  451 4.3.0 try later
//! $ postel queue run                                          # drain it through the account's server
//! $ postel queue run --direct                                 # or straight to each domain's MX
//! $ postel send --direct --resolver 127.0.0.1:5353 --mx-port 2525 --from a@x.test --to b@y.test --text hi
//! ```

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use postel::mx::{Direct, Resolver};
use postel::queue::{
    now_secs, rfc5322_date, Backoff, Outcome, PgQueue, Queue, QueueError, QueueStats, Record,
    Relay, Storage, Worker,
};
use postel::Client;

use crate::cli::ServerArgs;
use crate::config::ConfigFile;
use crate::exit::{self, Failure};

/// `--direct`, `--resolver`, `--mx-port`: delivery to each recipient domain's MX hosts.
#[derive(Debug, Clone, Default, Args)]
pub struct DirectArgs {
    /// Deliver straight to each recipient domain's MX hosts (port 25, opportunistic
    /// STARTTLS; `--tls starttls` requires it) instead of through a server.
    #[arg(long, conflicts_with = "server")]
    pub direct: bool,
    /// The DNS server to ask, IP:PORT [default: the system's].
    #[arg(long, value_name = "IP:PORT", requires = "direct")]
    pub resolver: Option<SocketAddr>,
    /// Connect to MX hosts on this port instead of 25 (tests).
    #[arg(long, value_name = "PORT", requires = "direct")]
    pub mx_port: Option<u16>,
    /// At most this many MX hosts looked up, and addresses tried, per recipient domain
    /// and attempt; the others wait for the next try [default: 5, as Postfix's
    /// smtp_mx_address_limit].
    #[arg(long, value_name = "N", requires = "direct", value_parser = clap::value_parser!(u64).range(1..=100))]
    pub mx_max_addresses: Option<u64>,
    /// One deadline per message, every domain and host included: no lookup or
    /// connection starts after it [default: 600].
    #[arg(long, value_name = "SECS", requires = "direct", value_parser = clap::value_parser!(u64).range(1..))]
    pub mx_deadline: Option<u64>,
}

/// `postel queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// The queue directory [default: $POSTEL_QUEUE_DIR, else
    /// $XDG_STATE_HOME/postel/queue].
    #[arg(long, global = true, value_name = "DIR")]
    pub queue_dir: Option<PathBuf>,
    /// Where the queue is: `postgres://USER@HOST:PORT/DB` for the queue in a PostgreSQL
    /// database shared by workers on many machines (docs/queue-postgres.md), or a
    /// directory [default: --queue-dir, $POSTEL_QUEUE_DIR, `queue_url` of the config
    /// file, $XDG_STATE_HOME/postel/queue].
    #[arg(long, global = true, value_name = "URL", conflicts_with = "queue_dir")]
    pub store: Option<String>,
    /// What to do with it.
    #[command(subcommand)]
    pub command: QueueCommand,
}

/// The queue's subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Queue a message (from stdin, or --file) for later delivery; prints its id.
    Add {
        /// The envelope sender (`<>` or empty for none).
        #[arg(long, short = 'f', value_name = "ADDR")]
        from: String,
        /// The recipients.
        #[arg(required = true, value_name = "RCPT")]
        to: Vec<String>,
        /// The message file [default: stdin].
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// DKIM-sign the message as it is queued (docs/dkim.md).
        #[command(flatten)]
        dkim: crate::dkim::DkimArgs,
    },
    /// Each message: id, sender, attempts, next try, and each recipient's state.
    List {
        /// As JSON (the records as stored).
        #[arg(long)]
        json: bool,
    },
    /// One message's record as JSON (with --message: its content instead).
    Show {
        /// The message id.
        id: String,
        /// Print the message itself.
        #[arg(long)]
        message: bool,
    },
    /// Make every message (or one) due now.
    Flush {
        /// Only this message.
        id: Option<String>,
    },
    /// Delete messages from the queue (not those being sent right now).
    Remove {
        /// The message ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Send what is due, retrying with backoff; exits when the queue is empty or holds
    /// only messages not yet due.
    Run(Box<RunArgs>),
    /// Counts by state, the oldest message's age, attempts.
    Stats {
        /// As JSON (one object).
        #[arg(long)]
        json: bool,
    },
}

/// `postel queue run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The relay and login (as for `postel send`), unless --direct.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Direct delivery instead of a relay.
    #[command(flatten)]
    pub direct: DirectArgs,
    /// The first retry interval (RFC 5321 §4.5.4.1: at least 30m) [default: 30m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry: Option<Duration>,
    /// The longest retry interval [default: 4h].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_max: Option<Duration>,
    /// Give up (and tell the sender) this long after queueing [default: 5d].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lifetime: Option<Duration>,
    /// Worker threads sharing the queue [default: 1].
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub workers: usize,
    /// The database queue: how long a claim lasts unless renewed (a dead worker's
    /// messages wait this long) [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lease: Option<Duration>,
}

/// `90s`, `30m`, `4h`, `5d`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number with s, m, h or d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(mult)))
}

fn queue_failure(e: QueueError) -> Failure {
    let code = match &e {
        QueueError::NotFound(_) | QueueError::Invalid(_) => exit::USAGE,
        QueueError::Busy(_) => exit::TEMPFAIL,
        QueueError::NoDirectory => exit::CONFIG,
        QueueError::Database(_) | QueueError::LeaseLost(_) => exit::TEMPFAIL,
        _ => exit::IOERR,
    };
    Failure::new(code, e.to_string())
}

/// Opens the queue in `dir`, else `$POSTEL_QUEUE_DIR`, else the default.
pub fn open_queue(dir: Option<&std::path::Path>) -> Result<Queue, Failure> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => match std::env::var_os("POSTEL_QUEUE_DIR").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => Queue::default_dir().map_err(queue_failure)?,
        },
    };
    Queue::open(dir).map_err(queue_failure)
}

/// The queue `postel queue` works on: the files, or a PostgreSQL database.
pub enum Store {
    /// A queue directory.
    Files(Queue),
    /// A queue in a database.
    Postgres(Box<PgQueue>),
}

impl Store {
    /// `--store`, else `--queue-dir`, else `$POSTEL_QUEUE_DIR`, else the config file's
    /// `queue_url`, else the default directory.
    pub fn open(args: &QueueArgs, file: &ConfigFile) -> Result<Store, Failure> {
        let given = args.store.clone().or_else(|| {
            let env = std::env::var_os("POSTEL_QUEUE_DIR").filter(|v| !v.is_empty());
            (args.queue_dir.is_none() && env.is_none())
                .then(|| file.queue_url.clone())
                .flatten()
        });
        match given {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                PgQueue::open(&url)
                    .map(|q| Store::Postgres(Box::new(q)))
                    .map_err(queue_failure)
            }
            Some(dir) => open_queue(Some(std::path::Path::new(&dir))).map(Store::Files),
            None => open_queue(args.queue_dir.as_deref()).map(Store::Files),
        }
    }

    fn storage(&self) -> &dyn Storage {
        match self {
            Store::Files(q) => q,
            Store::Postgres(q) => q.as_ref(),
        }
    }

    fn add(&self, from: &str, to: &[String], message: &[u8]) -> Result<String, QueueError> {
        self.storage().add_message(from, to, message)
    }

    fn check(&self) -> Result<(Vec<Record>, Vec<postel::queue::CorruptRecord>), QueueError> {
        self.storage().check()
    }

    fn message(&self, id: &str) -> Result<Vec<u8>, QueueError> {
        self.storage().message(id)
    }

    fn show(&self, id: &str) -> Result<Record, QueueError> {
        self.storage().show(id)
    }

    fn flush(&self, id: Option<&str>) -> Result<usize, QueueError> {
        self.storage().flush(id)
    }

    fn remove(&self, id: &str) -> Result<(), QueueError> {
        self.storage().remove(id)
    }

    fn stats(&self) -> Result<QueueStats, QueueError> {
        self.storage().stats()
    }
}

/// Queues the message `bytes` (as given to sendmail; Bcc is removed here) to
/// `envelope` in the default queue; returns its id. What `sendmail --queue` calls when
/// the relay cannot be reached.
pub fn enqueue_message(envelope: &postel::Envelope, bytes: Vec<u8>) -> Result<String, Failure> {
    let opts = postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    let mut raw = postel_mime::RawMessage::from_bytes(bytes)?;
    let mut out = Vec::new();
    raw.encoder(&opts)?
        .read_to_end(&mut out)
        .map_err(|e| Failure::data(format!("encoding the message: {e}")))?;
    open_queue(None)?
        .add(&envelope.from, &envelope.to, &out)
        .map_err(queue_failure)
}

/// Runs `postel queue ...`; returns the exit code.
pub fn run(args: &QueueArgs, file: &ConfigFile) -> Result<u8, Failure> {
    let queue = Store::open(args, file)?;
    let mut out = crate::output::stdout();
    let io = |e: std::io::Error| Failure::new(exit::IOERR, format!("writing the output: {e}"));
    match &args.command {
        QueueCommand::Add {
            from,
            to,
            file: path,
            dkim,
        } => {
            // Signed when queued: every retry sends the same signed bytes.
            let signer = crate::dkim::signer(dkim, file.account(None)?.map(|(_, a)| a).as_ref())?;
            let mut bytes = Vec::new();
            match path {
                Some(p) => {
                    bytes = std::fs::read(p).map_err(|e| {
                        Failure::new(exit::NOINPUT, format!("cannot read {}: {e}", p.display()))
                    })?
                }
                None => {
                    std::io::stdin()
                        .read_to_end(&mut bytes)
                        .map_err(|e| Failure::new(exit::NOINPUT, format!("reading stdin: {e}")))?;
                }
            }
            let from = crate::deliver::sender(from)
                .map_err(|e| Failure::data(format!("sender {from:?}: {e}")))?;
            let mut rcpts = Vec::new();
            for t in to {
                rcpts.extend(
                    crate::deliver::addresses(t)
                        .map_err(|e| Failure::data(format!("recipient {t:?}: {e}")))?,
                );
            }
            // The checks of every raw message (`send --raw`, `sendmail`): no bare CR in the
            // header section (it would become a new field on the wire), no NUL. The bytes
            // are queued as given.
            let opts = postel_mime::EncodeOptions {
                allow_8bit: true,
                smtputf8: true,
            };
            postel_mime::RawMessage::from_bytes(bytes.clone())?
                .keep_bcc(true)
                .encoder(&opts)?;
            let bytes = crate::dkim::sign_bytes(signer.as_ref(), bytes)?;
            let id = queue.add(&from, &rcpts, &bytes).map_err(queue_failure)?;
            writeln!(out, "{id}").map_err(io)?;
        }
        QueueCommand::List { json } => {
            let (records, corrupt) = queue.check().map_err(queue_failure)?;
            let code = report_corrupt(&corrupt);
            if *json {
                let v = serde_json::to_string_pretty(&records).unwrap_or_default();
                writeln!(out, "{v}").map_err(io)?;
            } else if records.is_empty() {
                writeln!(out, "the queue is empty").map_err(io)?;
            } else {
                let now = now_secs();
                for r in &records {
                    let from = if r.from.is_empty() { "<>" } else { &r.from };
                    writeln!(
                        out,
                        "{}  {from}  attempts {}  next {}",
                        r.id,
                        r.attempts,
                        next_try(r.next_try, now)
                    )
                    .map_err(io)?;
                    if let Some(h) = &r.held {
                        let h = crate::output::inert(h);
                        writeln!(out, "    {h} (queue flush {} tries it again)", r.id)
                            .map_err(io)?;
                    }
                    for rc in &r.recipients {
                        writeln!(
                            out,
                            "    {}  {}{}",
                            rc.address,
                            rc.status,
                            rc.last
                                .as_deref()
                                .map(|l| format!(
                                    "  {}",
                                    crate::output::inert(&l.replace('\n', " / "))
                                ))
                                .unwrap_or_default()
                        )
                        .map_err(io)?;
                    }
                }
            }
            return Ok(code);
        }
        QueueCommand::Show { id, message } => {
            if *message {
                let m = queue.message(id).map_err(queue_failure)?;
                out.write_all(&m).map_err(io)?;
            } else {
                let r = queue.show(id).map_err(queue_failure)?;
                let v = serde_json::to_string_pretty(&r).unwrap_or_default();
                writeln!(out, "{v}").map_err(io)?;
            }
        }
        QueueCommand::Flush { id } => {
            let n = queue.flush(id.as_deref()).map_err(queue_failure)?;
            writeln!(out, "{n} message(s) made due now").map_err(io)?;
        }
        QueueCommand::Remove { ids } => {
            for id in ids {
                queue.remove(id).map_err(queue_failure)?;
                writeln!(out, "removed {id}").map_err(io)?;
            }
        }
        QueueCommand::Run(r) => {
            return match queue {
                Store::Files(q) => run_workers(q, r, file),
                Store::Postgres(q) => {
                    let q = match r.lease {
                        Some(l) => q.lease(l).map_err(queue_failure)?,
                        None => *q,
                    };
                    run_workers(q, r, file)
                }
            }
        }
        QueueCommand::Stats { json } => {
            let s = queue.stats().map_err(queue_failure)?;
            if *json {
                let v = serde_json::to_string(&s).unwrap_or_default();
                writeln!(out, "{v}").map_err(io)?;
            } else {
                write_stats(&mut out, &s).map_err(io)?;
            }
        }
    }
    Ok(exit::OK)
}

fn next_try(at: u64, now: u64) -> String {
    if at <= now {
        "now".to_owned()
    } else {
        let d = at - now;
        let rel = if d >= 3600 {
            format!("{}h{:02}m", d / 3600, d % 3600 / 60)
        } else if d >= 60 {
            format!("{}m", d / 60)
        } else {
            format!("{d}s")
        };
        format!("{} (in {rel})", rfc5322_date(at))
    }
}

/// `queue stats` as text: one line per figure.
fn write_stats(out: &mut impl Write, s: &QueueStats) -> std::io::Result<()> {
    let r = &s.recipients;
    writeln!(
        out,
        "messages {}  due {}  deferred {}  held {}  being sent {}",
        s.messages, s.due, s.deferred, s.held, s.claimed
    )?;
    writeln!(
        out,
        "recipients: pending {}  in-flight {}  delivered {}  failed {}",
        r.pending, r.in_flight, r.delivered, r.failed
    )?;
    writeln!(
        out,
        "oldest {}s  attempts {} (at most {} for one message)  uncertain {}",
        s.oldest_age_secs, s.attempts, s.max_attempts, s.uncertain
    )
}

fn run_workers<S: Storage + Clone>(
    queue: S,
    args: &RunArgs,
    file: &ConfigFile,
) -> Result<u8, Failure> {
    let mut backoff = Backoff::default();
    if let Some(d) = args.retry {
        backoff.initial = d;
    }
    if let Some(d) = args.retry_max {
        backoff.max = d;
    }
    if let Some(d) = args.lifetime {
        backoff.lifetime = d;
    }
    let workers = args.workers.max(1);
    let results: Vec<Result<postel::queue::RunSummary, Failure>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let queue = queue.clone();
                s.spawn(move || -> Result<postel::queue::RunSummary, Failure> {
                    if args.direct.direct {
                        let d = direct(&args.direct, &args.server)?;
                        Worker::new(queue, d)
                            .backoff(backoff)
                            .run()
                            .map_err(queue_failure)
                    } else {
                        // Check the settings once, so a bad account is an error, not a
                        // deferral of every message.
                        crate::server::client(&args.server, file, false)?;
                        let relay = Relay::new(|| -> Result<Client, postel::Error> {
                            crate::server::client(&args.server, file, false)
                                .map(|(c, _)| c)
                                .map_err(|f| postel::Error::Config(f.message))
                        });
                        Worker::new(queue, relay)
                            .backoff(backoff)
                            .run()
                            .map_err(queue_failure)
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Failure::new(exit::SOFTWARE, "a worker panicked")))
            })
            .collect()
    });
    let mut total = postel::queue::RunSummary::default();
    for r in results {
        total.add(&r?);
    }
    let code = report_corrupt(&total.corrupt);
    let records = queue.list().map_err(queue_failure)?;
    let left = records.len();
    // A refused login or unusable settings defer everything: say so, once.
    if let Some(why) = records
        .iter()
        .flat_map(|r| &r.recipients)
        .filter_map(|rc| rc.last.as_deref())
        .find(|l| l.starts_with(postel::queue::CONFIG_PROBLEM))
    {
        let why = crate::output::inert(why);
        let _ = writeln!(crate::output::stderr(), "postel queue run: {why}");
    }
    let _ = writeln!(
        crate::output::stderr(),
        "postel queue run: {} delivered, {} deferred, {} failed; {left} message(s) left",
        total.delivered,
        total.deferred,
        total.failed
    );
    Ok(code)
}

/// Each corrupt record on stderr; exit 65 (data error) when there was one.
fn report_corrupt(corrupt: &[postel::queue::CorruptRecord]) -> u8 {
    let mut err = crate::output::stderr();
    for c in corrupt {
        let c = crate::output::inert_text(&c.to_string(), true).into_owned();
        let _ = writeln!(err, "postel queue: {c}");
    }
    if corrupt.is_empty() {
        exit::OK
    } else {
        exit::DATAERR
    }
}

/// The direct sender for `--direct`, `--resolver`, `--mx-port` (and `--tls starttls` to
/// require TLS, `--ca-file`, `--helo`).
pub fn direct(d: &DirectArgs, server: &ServerArgs) -> Result<Direct, Failure> {
    let resolver = match d.resolver {
        Some(addr) => Resolver::with_server(addr),
        None => Resolver::system(),
    }
    .map_err(|e| Failure::config(e.to_string()))?;
    let mut direct = Direct::new(resolver).port(d.mx_port.unwrap_or(25));
    if let Some(n) = d.mx_max_addresses {
        direct = direct.max_addresses(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(secs) = d.mx_deadline {
        direct = direct.message_deadline(std::time::Duration::from_secs(secs));
    }
    if server.tls == Some(postel::TlsMode::StartTls) {
        direct = direct.require_tls(true);
    }
    if let Some(ca) = &server.ca_file {
        direct = direct.roots(postel::Roots::CaFile(ca.clone()));
    }
    if let Some(h) = &server.helo {
        direct = direct.ehlo_name(h.clone());
    }
    Ok(direct)
}

/// `postel send --direct`: the outcome of each recipient on stderr; exit 0 when all were
/// delivered, 75 when some may succeed later, 67 when some were refused for good.
fn report_direct(outcomes: Vec<(String, Outcome)>) -> u8 {
    let mut err = crate::output::stderr();
    let mut code = exit::OK;
    for (rcpt, outcome) in outcomes {
        let (c, text) = match &outcome {
            Outcome::Delivered(reply) => (exit::OK, format!("delivered: {reply}")),
            Outcome::Transient { reason, .. } => (exit::TEMPFAIL, format!("deferred: {reason}")),
            Outcome::Permanent(why) => (exit::NOUSER, format!("refused: {why}")),
        };
        let text = crate::output::inert_text(&text, true);
        let _ = writeln!(err, "{rcpt}: {text}");
        code = exit::worst([code, c]);
    }
    code
}

/// `postel send --direct`: the message as `postel send` would compose it (or each
/// `--raw` file), sent to each recipient domain's MX through the library's one send path
/// ([`Direct::send_message`]): encoded for what each server offers and streamed, with the
/// DSN flags and `--require-tls` on the envelope.
pub fn send_command(args: &crate::cli::SendArgs, file: &ConfigFile) -> Result<u8, Failure> {
    use crate::deliver::Outgoing;
    let account_from = file
        .account(args.server.account.as_deref())?
        .and_then(|(_, a)| a.from);
    let from = args.from.clone().or(account_from);
    let mut jobs = Vec::new();
    if args.raw.is_empty() {
        jobs.push(Outgoing::Composed(crate::send::compose(
            args,
            from.as_deref(),
        )?));
    } else {
        for p in &args.raw {
            jobs.push(Outgoing::Raw(crate::send::open_raw(p)?));
        }
    }
    let given = if args.raw.is_empty() {
        None
    } else {
        crate::send::raw_envelope(args, from.as_deref())?
    };
    let account = crate::dkim::account_for(&args.server, file)?;
    let signer = crate::dkim::signer(&args.dkim, account.as_ref())?;
    for job in &mut jobs {
        crate::dkim::sign(signer.as_ref(), job)?;
    }
    let dsn = crate::dsn::Dsn::parse(
        args.dsn.dsn_notify.as_deref(),
        args.dsn.dsn_return.as_deref(),
        args.dsn.envid.as_deref(),
        args.dsn.require_tls,
    )?;
    let direct = direct(&args.direct, &args.server)?;
    let mut codes = Vec::new();
    for job in &mut jobs {
        // The recipients are split by domain before connecting: the envelope comes from
        // the headers in ASCII form (no server's SMTPUTF8 is known yet).
        let mut env = match &given {
            Some(e) => e.clone(),
            None => {
                let m = match job {
                    Outgoing::Composed(m) => m.envelope()?,
                    Outgoing::Raw(r) => r.envelope()?,
                };
                postel::Envelope::from_mime(&m, false)?
            }
        };
        if env.to.is_empty() {
            return Err(Failure::usage(
                "no recipient: give --to ADDR (or --cc, --bcc)",
            ));
        }
        dsn.apply(&mut env);
        let outcomes = match job {
            Outgoing::Composed(m) => direct.send_message(&env, m),
            Outgoing::Raw(r) => direct.send_message(&env, r),
        };
        codes.push(report_direct(outcomes));
    }
    Ok(exit::worst(codes))
}
