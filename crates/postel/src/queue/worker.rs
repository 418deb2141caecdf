//! Workers: claim due messages, send them, record each recipient's outcome, retry later
//! or give up and tell the sender.

use std::thread;
use std::time::Duration;

use crate::{Client, Envelope, Error, SendReport};

use super::{
    now_secs, wrong_size, Backoff, Claimed, CorruptRecord, Pass, Queue, QueueError, Record, Status,
    Storage,
};

/// What became of one recipient in one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted the message for it (its reply to the final dot).
    Delivered(String),
    /// Try again later. `uncertain` when the message may have been delivered anyway (the
    /// connection was lost after the data was sent, before the reply was read).
    Transient {
        /// The reply or error.
        reason: String,
        /// The outcome is unknown: a retry may deliver a duplicate.
        uncertain: bool,
    },
    /// Never: a 5yz refusal, a null MX, a domain that does not exist.
    Permanent(String),
}

impl Outcome {
    /// A transient failure before anything was delivered.
    pub fn deferred(reason: impl Into<String>) -> Outcome {
        Outcome::Transient {
            reason: reason.into(),
            uncertain: false,
        }
    }
}

/// Where a [`Deliver`] hands its outcomes: `(index into to, outcome)` pairs, one call
/// per SMTP transaction.
pub type OutcomeSink<'a> = dyn FnMut(&[(usize, Outcome)]) + 'a;

/// How a worker sends: to a relay ([`Relay`]), or directly to each domain's MX
/// ([`crate::mx::Direct`]). Outcomes are handed to `report`, one call per SMTP
/// transaction, as `(index into to, outcome)`, so a partly sent message keeps what it
/// got if the process dies before the end.
pub trait Deliver {
    /// Sends `message` from `from` to each of `to`. Recipients without a reported outcome
    /// are treated as deferred.
    fn deliver(&self, from: &str, to: &[String], message: &[u8], report: &mut OutcomeSink<'_>);
}

/// Delivery through one relay (smarthost): each message gets a fresh connection from
/// `connect`, which builds a configured [`Client`].
pub struct Relay<F> {
    connect: F,
}

impl<F> std::fmt::Debug for Relay<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Relay")
    }
}

impl<F: Fn() -> Result<Client, Error>> Relay<F> {
    /// A relay reached through the clients `connect` builds.
    pub fn new(connect: F) -> Relay<F> {
        Relay { connect }
    }
}

impl<F: Fn() -> Result<Client, Error>> Deliver for Relay<F> {
    fn deliver(&self, from: &str, to: &[String], message: &[u8], report: &mut OutcomeSink<'_>) {
        let (result, client) = match (self.connect)() {
            Ok(mut c) => (
                c.send_bytes(&Envelope::new(from, to.iter().cloned()), message),
                Some(c),
            ),
            Err(e) => (Err(e), None),
        };
        let outcomes: Vec<(usize, Outcome)> =
            outcomes_of(&result, to).into_iter().enumerate().collect();
        report(&outcomes);
        // QUIT only once the outcome is on disk: a session that ends without QUIT is the
        // only kind whose accepted message a restarted worker may send again.
        if let Some(mut c) = client {
            let _ = c.quit();
        }
    }
}

/// Each recipient's outcome of one transaction to `to`, from what `send_bytes` returned.
pub(crate) fn outcomes_of(result: &Result<SendReport, Error>, to: &[String]) -> Vec<Outcome> {
    match result {
        Ok(report) => to
            .iter()
            .map(|a| {
                if let Some(r) = report.refused.iter().find(|r| &r.address == a) {
                    refusal(&r.reply)
                } else if report.accepted.iter().any(|r| &r.address == a) {
                    Outcome::Delivered(report.reply.to_string())
                } else {
                    // Neither accepted nor refused: never taken as delivered.
                    Outcome::deferred("no reply to its RCPT was reported")
                }
            })
            .collect(),
        Err(Error::Rejected {
            step,
            reply,
            refused,
        }) => to
            .iter()
            .map(|a| match refused.iter().find(|r| &r.address == a) {
                Some(r) => refusal(&r.reply),
                None if about_the_message(*step) => refusal(reply),
                None => path_failure(format!("{step}: {reply}"), false),
            })
            .collect(),
        Err(e) => vec![classify(e); to.len()],
    }
}

/// How the reason of a delivery starts when the server's reply to the final dot began
/// with 250 but was garbled or over-long: the server said it took the message, so it
/// is not sent again nor bounced; the doubt is counted in
/// [`RecipientState::uncertain`](super::RecipientState) and logged to `uncertain.log`.
pub const GARBLED_ACCEPTANCE: &str =
    "accepted (the reply to the final dot began with 250 but was garbled; not sent again)";

/// The steps whose 5yz reply is about the message or a recipient (RFC 5321 §4.2.1: a
/// permanent negative completion *of that command*); every other step is the path.
fn about_the_message(step: postel_proto::Step) -> bool {
    use postel_proto::Step;
    matches!(
        step,
        Step::Mail | Step::Rcpt | Step::Data | Step::Body | Step::DataEnd
    )
}

/// The queue's view of a session that failed as a whole. Only what is wrong with the
/// message itself, the same at any server, is permanent: it cannot be sent as it is
/// (larger than the relay's SIZE, a line over the limit, an extension it needs and the
/// relay lacks, an address that is not valid SMTP). Everything about the path (TLS,
/// AUTH, the greeting or EHLO refused, a lost connection, a timeout, garbled or
/// over-long replies, the client's own configuration) is retried with backoff until
/// the lifetime ends, as an MTA does.
pub(crate) fn classify(e: &Error) -> Outcome {
    use postel_proto::Error as P;
    let reason = e.to_string();
    match e {
        Error::Protocol(P::MalformedReply {
            step: postel_proto::Step::DataEnd,
            started_with: Some(code),
            ..
        }) if code.get() == 250 => Outcome::Delivered(format!("{GARBLED_ACCEPTANCE}: {reason}")),
        Error::Protocol(
            P::MessageTooLarge { .. } | P::LineTooLong { .. } | P::ExtensionRequired { .. },
        )
        | Error::Message(_) => Outcome::Permanent(reason),
        Error::Protocol(P::InvalidArgument { argument, .. })
            if !matches!(
                argument,
                postel_proto::Argument::Credential | postel_proto::Argument::EhloName
            ) =>
        {
            Outcome::Permanent(reason)
        }
        // 454 (RFC 4954 §6): the server's own trouble, not our settings.
        Error::Protocol(P::AuthFailed { reply, .. }) if reply.is_transient() => {
            path_failure(reason, false)
        }
        Error::Protocol(P::AuthFailed { .. } | P::AuthUnavailable { .. } | P::AuthRequiresTls)
        | Error::Protocol(P::InvalidArgument { .. })
        | Error::Config(_) => path_failure(format!("{CONFIG_PROBLEM}: {reason}"), false),
        e => path_failure(reason, may_have_delivered(e)),
    }
}

/// How a reason starts when the relay refused our login or our settings are unusable:
/// not the message's fault and not the recipient's, so it is retried (and shown by
/// `postel queue list`) until someone fixes the configuration or the lifetime ends.
pub const CONFIG_PROBLEM: &str = "configuration problem (not bounced; fix it and run the queue)";

fn path_failure(reason: String, uncertain: bool) -> Outcome {
    Outcome::Transient { reason, uncertain }
}

/// A server's answer about the message or one recipient: 4yz later, 5yz never.
fn refusal(reply: &crate::ServerReply) -> Outcome {
    if reply.code == 530 {
        // "Authentication required" / "Must issue a STARTTLS command first" (RFC 4954
        // §6, RFC 3207 §4): about our session, not the message; fixed by configuration.
        return path_failure(format!("{CONFIG_PROBLEM}: {reply}"), false);
    }
    if reply.is_transient() || too_many_recipients(&reply.to_string()) {
        Outcome::deferred(reply.to_string())
    } else {
        Outcome::Permanent(reply.to_string())
    }
}

/// True unless the error shows the data never reached the server's final reply: when
/// the connection failed mid-session, the final dot may have been taken and its reply
/// lost, so a retry may be a duplicate (RFC 5321 §6.1 accepts that over a loss).
pub(crate) fn may_have_delivered(e: &Error) -> bool {
    match e {
        Error::Connect { .. } | Error::Tls(_) | Error::Config(_) | Error::Rejected { .. } => false,
        Error::Protocol(p) => match p {
            postel_proto::Error::ConnectionClosed { step }
            | postel_proto::Error::MalformedReply { step, .. } => {
                matches!(step, postel_proto::Step::Body | postel_proto::Step::DataEnd)
            }
            p => p.reply().is_none(),
        },
        Error::Timeout { state, .. } => !matches!(
            state,
            postel_proto::State::AwaitingGreeting
                | postel_proto::State::EhloSent
                | postel_proto::State::HeloSent
                | postel_proto::State::StartTlsSent
                | postel_proto::State::TlsHandshake
                | postel_proto::State::Authenticating
        ),
        _ => true,
    }
}

/// What one [`Worker::run`] or [`Worker::run_once`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Messages tried.
    pub messages: usize,
    /// Recipients delivered.
    pub delivered: usize,
    /// Recipients deferred to a later try.
    pub deferred: usize,
    /// Recipients given up (refused, or lifetime over).
    pub failed: usize,
    /// Messages finished and removed from the queue.
    pub finished: usize,
    /// Records that could not be used, moved aside (see [`Queue::check`]).
    pub corrupt: Vec<CorruptRecord>,
}

impl RunSummary {
    /// Adds `o`'s counts to these (for several workers' summaries).
    pub fn add(&mut self, o: &RunSummary) {
        self.messages += o.messages;
        self.delivered += o.delivered;
        self.deferred += o.deferred;
        self.failed += o.failed;
        self.finished += o.finished;
        for c in &o.corrupt {
            // One left in place is found again by each pass: reported once.
            if !self.corrupt.iter().any(|k| k.id == c.id) {
                self.corrupt.push(c.clone());
            }
        }
    }
}

/// Sends a queue's due messages through a [`Deliver`]. Any number of workers, in any
/// number of processes, may run on one queue: a message is claimed before it is sent.
/// The queue is any [`Storage`]: the file [`Queue`] (the default), or the database one.
#[derive(Debug)]
pub struct Worker<D, S = Queue> {
    queue: S,
    deliver: D,
    backoff: Backoff,
    poll: Duration,
    save_retry: Duration,
}

impl<D: Deliver, S: Storage> Worker<D, S> {
    /// A worker on `queue` with the default [`Backoff`].
    pub fn new(queue: S, deliver: D) -> Worker<D, S> {
        Worker {
            queue,
            deliver,
            backoff: Backoff::default(),
            poll: Duration::from_millis(200),
            save_retry: Duration::from_secs(600),
        }
    }

    /// How long a record that cannot be written after a transaction (a full disk) is
    /// kept in memory and written again, the message claimed meanwhile, before the run
    /// gives up with the error (default 10 minutes). Given up, the record on disk still
    /// says in flight, and the next run sends those recipients again.
    pub fn save_retry(mut self, within: Duration) -> Worker<D, S> {
        self.save_retry = within;
        self
    }

    /// Sets the retry policy and lifetime.
    pub fn backoff(mut self, backoff: Backoff) -> Worker<D, S> {
        self.backoff = backoff;
        self
    }

    /// The queue this worker serves.
    pub fn queue(&self) -> &S {
        &self.queue
    }

    /// Tries every due message once (those other workers hold are skipped).
    pub fn run_once(&self) -> Result<RunSummary, QueueError> {
        let mut total = RunSummary::default();
        let mut pass = Pass::new();
        loop {
            let next = self.queue.claim_next(&mut pass);
            total.add(&RunSummary {
                corrupt: pass.take_corrupt(),
                ..RunSummary::default()
            });
            let Some(claimed) = next? else {
                return Ok(total);
            };
            let id = claimed.record.id.clone();
            match self.process(claimed) {
                Ok(s) => total.add(&s),
                // One unreadable record must not stop the others from being sent.
                Err(QueueError::Corrupt { reason, .. }) => {
                    let moved_to = self.queue.quarantine(&id, &reason);
                    total.corrupt.push(CorruptRecord {
                        id,
                        reason,
                        moved_to,
                    });
                }
                // Our lease ran out (the database was unreachable for longer than it):
                // another worker has the message now; nothing more is written here.
                Err(e @ QueueError::LeaseLost(_)) => tracing::warn!("{e}"),
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs until the queue is empty or holds only messages not yet due (those another
    /// worker is sending are waited for).
    pub fn run(&self) -> Result<RunSummary, QueueError> {
        let mut total = RunSummary::default();
        let mut down_since: Option<std::time::Instant> = None;
        loop {
            // An unreachable database (restarted, failed over) is waited for, as a full
            // disk is, up to `save_retry`; the file queue never reports this error.
            let s = match self.run_once().and_then(|s| Ok((s, self.queue.any_due()?))) {
                Ok(v) => {
                    down_since = None;
                    v
                }
                Err(e @ QueueError::Database(_)) => {
                    let since = *down_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= self.save_retry {
                        return Err(e);
                    }
                    tracing::warn!("{e}; retrying");
                    thread::sleep(self.poll.max(Duration::from_millis(500)));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (s, due) = s;
            total.add(&s);
            if !due {
                return Ok(total);
            }
            if s.messages == 0 {
                thread::sleep(self.poll); // due ones are held by other workers
            }
        }
    }

    /// Sends one claimed message and records what happened.
    pub fn process(&self, claimed: Claimed) -> Result<RunSummary, QueueError> {
        let mut claimed = claimed;
        let mut summary = RunSummary {
            messages: 1,
            ..RunSummary::default()
        };
        let rec = &mut claimed.record;
        for r in rec.recipients.iter_mut() {
            if r.status == Status::InFlight {
                // The worker that wrote this died mid-transaction.
                r.status = Status::Pending;
                r.uncertain += 1;
            }
        }
        let now = now_secs();
        if now
            >= rec
                .queued_at
                .saturating_add(self.backoff.lifetime.as_secs())
        {
            let why = format!(
                "gave up after {} attempts over {}: {}",
                rec.attempts,
                human(self.backoff.lifetime),
                rec.last_error.as_deref().unwrap_or("not delivered")
            );
            for r in rec
                .recipients
                .iter_mut()
                .filter(|r| r.status == Status::Pending)
            {
                r.status = Status::Failed;
                r.last = Some(why.clone());
                summary.failed += 1;
            }
            return self.conclude(claimed, summary);
        }
        let content = self.queue.content(&claimed);
        let rec = &mut claimed.record;
        let message = match content {
            Ok(m) => match wrong_size(rec, m.len() as u64) {
                Some(reason) => {
                    return Err(QueueError::Corrupt {
                        path: self.queue.content_name(&rec.id),
                        reason,
                    })
                }
                None => m,
            },
            Err(QueueError::NotFound(_)) => {
                // Only a damaged disk or a hand-made deletion gets here (the body is
                // committed before the record): tell the sender instead of retrying forever.
                for r in rec
                    .recipients
                    .iter_mut()
                    .filter(|r| r.status == Status::Pending)
                {
                    r.status = Status::Failed;
                    r.last = Some("the queued message file is missing".to_owned());
                    summary.failed += 1;
                }
                return self.conclude(claimed, summary);
            }
            Err(QueueError::Io { source, .. }) => {
                return Err(QueueError::Corrupt {
                    path: self.queue.content_name(&rec.id),
                    reason: format!("the message file cannot be read: {source}"),
                });
            }
            Err(e) => return Err(e),
        };
        rec.attempts += 1;
        let mut batch: Vec<usize> = (0..rec.recipients.len())
            .filter(|&i| rec.recipients[i].status == Status::Pending)
            .collect();
        // One transaction, then more at once while the server takes some recipients and
        // defers the rest as too many for one transaction (RFC 5321 §4.5.3.1.10).
        let mut unsaved = false;
        while !batch.is_empty() {
            if unsaved {
                self.save(&claimed)?;
            }
            let index = std::mem::take(&mut batch);
            unsaved = self.transaction(&mut claimed, &index, &message)?;
            let rec = &claimed.record;
            let delivered = index
                .iter()
                .any(|&i| rec.recipients[i].status == Status::Delivered);
            if delivered {
                batch = index
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let r = &rec.recipients[i];
                        r.status == Status::Pending
                            && r.last.as_deref().is_some_and(too_many_recipients)
                    })
                    .collect();
            }
            for &i in &index {
                match rec.recipients[i].status {
                    Status::Delivered => summary.delivered += 1,
                    Status::Failed => summary.failed += 1,
                    _ if batch.contains(&i) => {}
                    _ => summary.deferred += 1,
                }
            }
        }
        if claimed.record.is_finished() {
            // Removing the files needs no free space: an unsaved outcome needs no write.
            return self.conclude(claimed, summary);
        }
        let rec = &mut claimed.record;
        rec.next_try = now_secs().saturating_add(self.backoff.delay(rec.attempts).as_secs());
        self.save(&claimed)?;
        Ok(summary)
    }

    /// One SMTP transaction to the recipients at `index`: marked in flight on disk
    /// first, then each outcome recorded as it comes. Returns true when the outcomes
    /// could not be written (a full disk after the server's answer): they are kept in
    /// memory, under the claim, for the caller to write (`save`) (retried
    /// until [`Worker::save_retry`] runs out) or to make moot by finishing the message,
    /// so the message is not sent again for want of a disk write.
    fn transaction(
        &self,
        claimed: &mut Claimed,
        index: &[usize],
        message: &[u8],
    ) -> Result<bool, QueueError> {
        let rec = &mut claimed.record;
        let to: Vec<String> = index
            .iter()
            .map(|&i| rec.recipients[i].address.clone())
            .collect();
        for &i in index {
            rec.recipients[i].status = Status::InFlight;
            rec.recipients[i].attempts += 1;
        }
        // Before anything is sent: when this fails, nothing was.
        if let Err(e) = self.queue.write(claimed) {
            let rec = &mut claimed.record;
            for &i in index {
                rec.recipients[i].status = Status::Pending;
                rec.recipients[i].attempts -= 1;
            }
            return Err(e);
        }
        let mut unsaved = false;
        let from = claimed.record.from.clone();
        self.deliver.deliver(&from, &to, message, &mut |outcomes| {
            let rec = &mut claimed.record;
            for (k, outcome) in outcomes {
                let Some(&i) = index.get(*k) else { continue };
                let r = &mut rec.recipients[i];
                if r.status != Status::InFlight {
                    continue; // reported twice: the first word stands
                }
                match outcome {
                    Outcome::Delivered(reply) => {
                        r.status = Status::Delivered;
                        r.last = Some(reply.clone());
                        if reply.starts_with(GARBLED_ACCEPTANCE) {
                            r.uncertain += 1;
                            let line = format!(
                                "{} message {} from <{}> to <{}>: {reply}",
                                now_secs(),
                                rec.id,
                                rec.from,
                                r.address
                            );
                            tracing::warn!("{line}");
                            let _ = self.queue.log_line("uncertain.log", &line);
                        }
                    }
                    Outcome::Permanent(why) => {
                        r.status = Status::Failed;
                        r.last = Some(why.clone());
                    }
                    Outcome::Transient { reason, uncertain } => {
                        r.status = Status::Pending;
                        r.uncertain += u32::from(*uncertain);
                        r.last = Some(reason.clone());
                        rec.last_error = Some(format!("{}: {reason}", r.address));
                    }
                }
            }
            if let Err(e) = self.queue.write(claimed) {
                tracing::warn!(
                    "recording the outcome of {}: {e}; kept in memory",
                    claimed.record.id
                );
                unsaved = true;
            }
        });
        for &i in index {
            let r = &mut claimed.record.recipients[i];
            if r.status == Status::InFlight {
                r.status = Status::Pending;
                r.last = Some("no outcome reported".to_owned());
            }
        }
        Ok(unsaved)
    }

    /// Writes the record, retrying (the claim is held meanwhile) while the disk (or the
    /// database) refuses.
    fn save(&self, claimed: &Claimed) -> Result<(), QueueError> {
        self.retrying(|| self.queue.write(claimed))
    }

    /// Runs a queue write until it succeeds or [`Worker::save_retry`] has passed.
    fn retrying<T>(&self, mut op: impl FnMut() -> Result<T, QueueError>) -> Result<T, QueueError> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e @ (QueueError::Io { .. } | QueueError::Database(_)))
                    if started.elapsed() < self.save_retry =>
                {
                    tracing::warn!("{e}; retrying in {pause:?}");
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A finished message: tell the sender about failures, then remove it.
    fn conclude(
        &self,
        claimed: Claimed,
        mut summary: RunSummary,
    ) -> Result<RunSummary, QueueError> {
        let mut claimed = claimed;
        let rec: &Record = &claimed.record;
        if rec.recipients.iter().any(|r| r.status == Status::Failed) {
            if rec.from.is_empty() {
                // A bounce that cannot be delivered: never bounce a bounce (RFC 5321 §6.1),
                // and never drop it either: it is kept, held, for a person to see.
                let rec = &mut claimed.record;
                let why: Vec<String> = rec
                    .recipients
                    .iter()
                    .filter(|r| r.status == Status::Failed)
                    .map(|r| format!("<{}>: {}", r.address, r.last.as_deref().unwrap_or("")))
                    .collect();
                let held = format!("undeliverable bounce, held: {}", why.join("; "));
                let line = format!("{} message {} from <> {held}", now_secs(), rec.id);
                tracing::warn!("{line}");
                let _ = self.queue.log_line("failed.log", &line);
                rec.held = Some(held);
                self.save(&claimed)?;
                return Ok(summary);
            } else {
                let original = self.queue.message(&rec.id).unwrap_or_default();
                let dsn = super::dsn::bounce_message(rec, &original, &hostname());
                let to = [rec.from.clone()];
                self.retrying(|| self.queue.add_message("", &to, &dsn))?;
            }
        }
        self.retrying(|| self.queue.finish(&claimed))?;
        drop(claimed);
        summary.finished += 1;
        Ok(summary)
    }
}

/// True for a reply that defers a recipient as one too many for this transaction:
/// 452 (RFC 5321 §4.5.3.1.10), or the 552 older servers send, which the RFC says to
/// treat as temporary; with 4.5.3/5.5.3 or "too many recipients".
pub(crate) fn too_many_recipients(reply: &str) -> bool {
    let lower = reply.to_ascii_lowercase();
    (reply.starts_with("452") || reply.starts_with("552"))
        && (lower.contains("4.5.3") || lower.contains("5.5.3") || lower.contains("too many recip"))
}

fn hostname() -> String {
    gethostname::gethostname()
        .into_string()
        .unwrap_or_else(|_| "localhost".to_owned())
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86400 {
        format!("{} days", s / 86400)
    } else if s >= 3600 {
        format!("{} hours", s / 3600)
    } else {
        format!("{s} seconds")
    }
}
