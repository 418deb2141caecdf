//! A durable outgoing queue on the local disk, shared by any number of workers.
//!
//! ```text
//! $ postel sendmail --queue bob@example.net < msg.eml    # relay down: queued, exit 0
//! $ postel queue list
//! 6742a1b3-9f3c01d2  alice@example.com  bob@example.net (pending)  attempts 1  next 00:32:10
//! $ postel queue run                                       # drains it, exits when done
//! ```
//!
//! ```no_run
//! use postel::queue::{Queue, Relay, Worker};
//! use postel::{Client, TlsMode};
//! let queue = Queue::open(Queue::default_dir()?)?;
//! let id = queue.add("alice@example.com", &["bob@example.net"], b"Subject: hi\r\n\r\nHi.\r\n")?;
//! let relay = Relay::new(|| Client::builder("smtp.example.com").build());
//! let summary = Worker::new(queue, relay).run()?;   // until empty or nothing due
//! # let _ = (id, summary);
//! # Ok::<(), postel::queue::QueueError>(())
//! ```
//!
//! Durability: every file is written to `tmp/`, fsync'd, renamed into `msg/`, and `msg/`
//! is fsync'd; a message is in the queue once [`Queue::add`] has returned, whatever
//! happens to the process or the machine after that. Workers claim a message with
//! `flock` on `lock/<id>` (released by the kernel when a worker dies), re-read its
//! record under the claim, and record each recipient's outcome after each SMTP
//! transaction. Before a transaction the recipients in it are marked `InFlight`; a
//! worker that finds `InFlight` after a crash counts an *uncertain* attempt and sends
//! again: at least once, with a duplicate only where the server's reply to the final dot
//! never made it to disk. An outcome the disk refuses (full) is kept in memory under the
//! claim and written again, so a living worker never sends a message twice for it.
//!
//! Failures are classified as an MTA does: only a 5yz to MAIL, RCPT, DATA, BDAT or the
//! final dot (or a message no server can take as it is) fails a recipient; TLS, AUTH,
//! greeting and EHLO refusals, lost connections, timeouts and garbled replies are retried
//! until the lifetime ends. Undeliverable bounces are kept, [held](Record::held); corrupt
//! records are moved to `corrupt/` and reported ([`Queue::check`]).
//!
//! The same queue can live in a PostgreSQL database shared by workers on many machines
//! (`PgQueue`, feature `postgres`; docs/queue-postgres.md): both stores implement
//! [`Storage`], and a [`Worker`] runs on either with the same guarantees.

mod backoff;
mod dsn;
#[cfg(feature = "postgres")]
mod postgres;
mod stats;
mod storage;
mod store;
mod worker;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use backoff::Backoff;
pub use dsn::{bounce_message, rfc5322_date};
#[cfg(feature = "postgres")]
pub use postgres::{PgQueue, MIGRATIONS};
pub use stats::{QueueStats, RecipientCounts};
pub use storage::{Pass, Storage};
pub use worker::{
    Deliver, Outcome, OutcomeSink, Relay, RunSummary, Worker, CONFIG_PROBLEM, GARBLED_ACCEPTANCE,
};

use storage::Hold;
use store::Layout;

/// What can go wrong with the queue itself (not with sending: that is per recipient).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A file operation in the queue directory failed.
    #[error("queue I/O on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A record could not be read back (not JSON, or not ours).
    #[error("corrupt queue record {path}: {reason}")]
    Corrupt {
        /// The record's file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No message has this id.
    #[error("no queued message {0:?}")]
    NotFound(String),
    /// Another worker is sending this message right now.
    #[error("message {0} is being sent by another worker")]
    Busy(String),
    /// The request cannot be queued (no recipients, CR or LF in an address, bad id).
    #[error("cannot queue: {0}")]
    Invalid(String),
    /// No directory for the queue: neither `XDG_STATE_HOME` nor `HOME` is set.
    #[error("no queue directory: set XDG_STATE_HOME or HOME, or configure one")]
    NoDirectory,
    /// The queue's database failed or cannot be reached (the `postgres` store); retried
    /// by a worker as a full disk is.
    #[error("queue database: {0}")]
    Database(String),
    /// This worker's claim on the message ran out (its lease expired and another worker
    /// may have taken it): nothing more is written for it here.
    #[error("the claim on message {0} was lost (its lease expired)")]
    LeaseLost(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> QueueError + '_ {
    move |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A record that could not be used, found by [`Queue::check`] and moved aside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRecord {
    /// The message id (its file name).
    pub id: String,
    /// What is wrong with it.
    pub reason: String,
    /// Where its files now are (`<queue>/corrupt/`), or `None` when it was left in
    /// place (another process holds its claim, or the move failed).
    pub moved_to: Option<PathBuf>,
}

impl fmt::Display for CorruptRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt queue record {}: {}", self.id, self.reason)?;
        match &self.moved_to {
            Some(p) => write!(f, " (moved to {})", p.display()),
            None => f.write_str(" (left in place)"),
        }
    }
}

/// Where one recipient stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not delivered yet; will be tried.
    Pending,
    /// A transaction for it was under way when this was written. Found like this by a
    /// worker, it means the worker died mid-transaction: sent again (maybe a duplicate).
    InFlight,
    /// A server took responsibility for it (250 to the final dot).
    Delivered,
    /// Given up: a permanent refusal, or the lifetime ran out.
    Failed,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pending => "pending",
            Status::InFlight => "in-flight",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        })
    }
}

/// One recipient of a queued message and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientState {
    /// The address, as given to [`Queue::add`].
    pub address: String,
    /// Where it stands.
    pub status: Status,
    /// Transactions started for it.
    pub attempts: u32,
    /// Attempts whose outcome was never learned (connection lost after the data, or
    /// the worker died mid-transaction): each may have delivered a copy.
    pub uncertain: u32,
    /// The last reply or error about it.
    pub last: Option<String>,
}

/// A queued message's record (`msg/<id>.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The message id (also its file names).
    pub id: String,
    /// The envelope sender (reverse-path); empty for a bounce (`<>`).
    pub from: String,
    /// Each recipient and its state, in the order given.
    pub recipients: Vec<RecipientState>,
    /// When it was queued, seconds since the Unix epoch.
    pub queued_at: u64,
    /// Delivery runs that tried it (a run may hold several transactions).
    pub attempts: u32,
    /// Not to be tried before this time, seconds since the Unix epoch.
    pub next_try: u64,
    /// The last error, for `queue show`.
    pub last_error: Option<String>,
    /// Set when the message is kept but no longer tried: a bounce (from `<>`) that could
    /// not be delivered either. It is mail too, so it stays until someone reads it with
    /// `queue show --message`, removes it, or releases it with `queue flush <id>` (which
    /// tries it again for a new lifetime). Never bounced (RFC 5321 §6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// The message file's length when queued: a file found shorter or longer was
    /// truncated or edited, and is not sent (records from before this field have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Record {
    /// Recipients still to be delivered (pending or found in flight).
    pub fn remaining(&self) -> impl Iterator<Item = &RecipientState> {
        self.recipients
            .iter()
            .filter(|r| matches!(r.status, Status::Pending | Status::InFlight))
    }

    /// True when nothing is left to send.
    pub fn is_finished(&self) -> bool {
        self.remaining().next().is_none()
    }

    /// What [`Queue::add`] guarantees, checked again on a record read back (it may have
    /// been edited by hand): its own id, recipients, addresses without control
    /// characters. Sending a hand-made envelope could inject commands.
    pub(crate) fn validate(&self, id: &str) -> Result<(), String> {
        if self.id != id {
            return Err(format!("its id {:?} is not its file name's", self.id));
        }
        if self.recipients.is_empty() {
            return Err("no recipients".to_owned());
        }
        check_addresses(
            &self.from,
            self.recipients.iter().map(|r| r.address.as_str()),
        )
    }
}

/// No CR, LF or NUL in any address, no empty recipient.
pub(crate) fn check_addresses<'a>(
    from: &'a str,
    to: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), String> {
    for a in std::iter::once(from).chain(to.clone()) {
        if let Some(at) = a.bytes().position(|b| b.is_ascii_control()) {
            return Err(format!("address {a:?} has a control character at {at}"));
        }
    }
    if to.clone().any(str::is_empty) {
        return Err("empty recipient address".to_owned());
    }
    Ok(())
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A queue directory. Cheap to clone; any number of processes may open the same one.
#[derive(Clone, Debug)]
pub struct Queue {
    layout: Layout,
}

/// A message claimed by this process: nobody else sends it until this is dropped.
#[derive(Debug)]
pub struct Claimed {
    /// Its record as read under the claim.
    pub record: Record,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) hold: Hold,
}

impl Queue {
    /// `$XDG_STATE_HOME/postel/queue`, else `$HOME/.local/state/postel/queue`.
    pub fn default_dir() -> Result<PathBuf, QueueError> {
        let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(s) => PathBuf::from(s),
            None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(h) => PathBuf::from(h).join(".local/state"),
                None => return Err(QueueError::NoDirectory),
            },
        };
        Ok(base.join("postel").join("queue"))
    }

    /// Opens (creating when missing) the queue in `dir`, and sweeps what a crash left
    /// behind (temporary files, bodies of adds that never committed) older than an hour.
    pub fn open(dir: impl AsRef<Path>) -> Result<Queue, QueueError> {
        let dir = dir.as_ref();
        let layout = Layout::open(dir).map_err(io_err(dir))?;
        layout
            .sweep(Duration::from_secs(3600))
            .map_err(io_err(dir))?;
        Ok(Queue { layout })
    }

    /// The queue's directory.
    pub fn dir(&self) -> &Path {
        &self.layout.root
    }

    /// Queues `message` from `from` to each of `to`, due now. When this returns `Ok`, the
    /// message is on disk for good (fsync'd), and its id is returned.
    pub fn add<S: AsRef<str>>(
        &self,
        from: &str,
        to: &[S],
        message: &[u8],
    ) -> Result<String, QueueError> {
        self.add_due(from, to, message, now_secs())
    }

    /// As [`Queue::add`], not to be tried before `next_try` (Unix seconds).
    pub fn add_due<S: AsRef<str>>(
        &self,
        from: &str,
        to: &[S],
        message: &[u8],
        next_try: u64,
    ) -> Result<String, QueueError> {
        if to.is_empty() {
            return Err(QueueError::Invalid("no recipients".to_owned()));
        }
        check_addresses(from, to.iter().map(AsRef::as_ref)).map_err(QueueError::Invalid)?;
        if message.is_empty() {
            return Err(QueueError::Invalid("the message is empty".to_owned()));
        }
        let id = new_id();
        let record = Record {
            id: id.clone(),
            from: from.to_owned(),
            recipients: to
                .iter()
                .map(|a| RecipientState {
                    address: a.as_ref().to_owned(),
                    status: Status::Pending,
                    attempts: 0,
                    uncertain: 0,
                    last: None,
                })
                .collect(),
            queued_at: now_secs(),
            attempts: 0,
            next_try,
            last_error: None,
            held: None,
            size: Some(message.len() as u64),
        };
        let eml = self.layout.eml(&id);
        self.layout
            .write_atomic(&eml, message)
            .map_err(io_err(&eml))?;
        self.write_record(&record)?;
        Ok(id)
    }

    /// Every message's record, oldest first, and the records that cannot be used
    /// (unreadable, truncated, empty, not ours, or edited into something that is not a
    /// valid envelope), which are moved aside to `<queue>/corrupt/` with a `.reason`
    /// file, so that they never stop a run and are reported once each.
    pub fn check(&self) -> Result<(Vec<Record>, Vec<CorruptRecord>), QueueError> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for id in self.ids()? {
            match self.show(&id).and_then(|r| self.check_body(r)) {
                Ok(r) => out.push(r),
                Err(QueueError::NotFound(_)) => {} // removed meanwhile
                Err(e) => {
                    let reason = match e {
                        QueueError::Corrupt { reason, .. } => reason,
                        // Not a name we give (hand-made), or a file that cannot be read (a
                        // directory, no permission, a disk error): moved aside the same way.
                        QueueError::Invalid(reason) => {
                            format!("{reason} (a file we did not write)")
                        }
                        QueueError::Io { source, .. } => {
                            format!("the record cannot be read: {source}")
                        }
                        e => return Err(e),
                    };
                    let moved_to = self.quarantine(&id, &reason);
                    bad.push(CorruptRecord {
                        id,
                        reason,
                        moved_to,
                    });
                }
            }
        }
        out.sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
        Ok((out, bad))
    }

    /// `rec` when its message file is as queued: a file, of the length recorded (a
    /// missing one is left to the worker, which returns the message to its sender).
    fn check_body(&self, rec: Record) -> Result<Record, QueueError> {
        let path = self.layout.eml(&rec.id);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(rec),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let wrong = if !meta.is_file() {
            Some("the message file is not a file".to_owned())
        } else {
            wrong_size(&rec, meta.len())
        };
        match wrong {
            Some(reason) => Err(QueueError::Corrupt { path, reason }),
            None => Ok(rec),
        }
    }

    /// Where the message file of `id` is.
    pub(crate) fn eml(&self, id: &str) -> PathBuf {
        self.layout.eml(id)
    }

    /// Moves a corrupt message's files to `corrupt/` under its claim; `None` when
    /// another process holds the claim or the move failed (logged; it is reported
    /// again next time). Never an error: a bad record must not stop a run.
    pub(crate) fn quarantine(&self, id: &str, reason: &str) -> Option<PathBuf> {
        let claim = match store::try_claim(&self.layout, id) {
            Ok(Some(c)) => c,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!("corrupt queue record {id}: {reason}; cannot claim it: {e}");
                return None;
            }
        };
        let moved = self.layout.quarantine(id, reason);
        let _ = fs::remove_file(self.layout.lock_file(id));
        drop(claim);
        match moved {
            Ok(dest) => {
                tracing::warn!(
                    "corrupt queue record {id}: {reason}; moved to {}",
                    dest.display()
                );
                Some(dest)
            }
            Err(e) => {
                tracing::warn!("corrupt queue record {id}: {reason}; cannot move it: {e}");
                None
            }
        }
    }

    /// Every message's record, oldest first. Records that cannot be read are skipped
    /// (and reported, and moved aside, by [`Queue::check`]).
    pub fn list(&self) -> Result<Vec<Record>, QueueError> {
        let mut out = Vec::new();
        for id in self.ids()? {
            match self.show(&id) {
                Ok(r) => out.push(r),
                Err(QueueError::NotFound(_)) => {} // removed meanwhile
                Err(e) => tracing::warn!("skipping queued message {id}: {e}"),
            }
        }
        out.sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
        Ok(out)
    }

    /// The ids of every committed message, in no particular order.
    pub fn ids(&self) -> Result<Vec<String>, QueueError> {
        let dir = &self.layout.msg;
        let mut ids = Vec::new();
        for e in fs::read_dir(dir).map_err(io_err(dir))? {
            let e = e.map_err(io_err(dir))?;
            let name = e.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    /// One message's record.
    pub fn show(&self, id: &str) -> Result<Record, QueueError> {
        check_id(id)?;
        let path = self.layout.json(id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(QueueError::NotFound(id.to_owned()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        let corrupt = |reason: String| QueueError::Corrupt {
            path: path.clone(),
            reason,
        };
        if bytes.is_empty() {
            return Err(corrupt("the record is empty".to_owned()));
        }
        let record: Record =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not a record: {e}")))?;
        record.validate(id).map_err(corrupt)?;
        Ok(record)
    }

    /// One message's content, as queued.
    pub fn message(&self, id: &str) -> Result<Vec<u8>, QueueError> {
        check_id(id)?;
        let path = self.layout.eml(id);
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => QueueError::NotFound(id.to_owned()),
            _ => io_err(&path)(e),
        })
    }

    /// Removes a message. Refused with [`QueueError::Busy`] while a worker sends it.
    pub fn remove(&self, id: &str) -> Result<(), QueueError> {
        let claimed = self
            .claim(id)?
            .ok_or_else(|| QueueError::Busy(id.to_owned()))?;
        self.finish(claimed)
    }

    /// Makes every message (or the one `id`) due now; returns how many were changed.
    /// Messages being sent are left alone (they are being tried already). A held message
    /// (an undeliverable bounce) is released only when named by `id`: its failed
    /// recipients are pending again, for a new lifetime from now.
    pub fn flush(&self, id: Option<&str>) -> Result<usize, QueueError> {
        let id_given = id.is_some();
        let ids = match id {
            Some(i) => vec![i.to_owned()],
            None => self.ids()?,
        };
        let now = now_secs();
        let mut n = 0;
        for id in ids {
            if let Some(mut c) = self.claim(&id)? {
                if c.record.held.is_some() {
                    if id_given {
                        c.record.held = None;
                        c.record.queued_at = now;
                        c.record.next_try = now;
                        for r in &mut c.record.recipients {
                            if r.status == Status::Failed {
                                r.status = Status::Pending;
                            }
                        }
                        self.write_record(&c.record)?;
                        n += 1;
                    }
                } else if c.record.next_try > now {
                    c.record.next_try = now;
                    self.write_record(&c.record)?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Claims message `id` for sending: `Ok(None)` when another worker has it. The
    /// record is read after the claim is taken, so it is the latest.
    pub fn claim(&self, id: &str) -> Result<Option<Claimed>, QueueError> {
        check_id(id)?;
        let lock = self.layout.lock_file(id);
        let Some(claim) = store::try_claim(&self.layout, id).map_err(io_err(&lock))? else {
            return Ok(None);
        };
        match self.show(id) {
            Ok(record) => Ok(Some(Claimed {
                record,
                hold: Hold::File(claim),
            })),
            Err(QueueError::NotFound(_)) => {
                // Finished by another worker between our listing and our claim.
                let _ = fs::remove_file(&lock);
                Err(QueueError::NotFound(id.to_owned()))
            }
            Err(e) => Err(e),
        }
    }

    /// Durably replaces a message's record.
    pub(crate) fn write_record(&self, record: &Record) -> Result<(), QueueError> {
        let path = self.layout.json(&record.id);
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| QueueError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        self.layout
            .write_atomic(&path, &bytes)
            .map_err(io_err(&path))
    }

    /// Deletes a claimed message: the record first (the commit point), then the body,
    /// then the lock file, still holding the claim.
    pub(crate) fn finish(&self, claimed: Claimed) -> Result<(), QueueError> {
        self.finish_files(&claimed.record.id)?;
        drop(claimed);
        Ok(())
    }

    /// The removals of [`Queue::finish`], for a caller that holds the claim.
    pub(crate) fn finish_files(&self, id: &str) -> Result<(), QueueError> {
        let json = self.layout.json(id);
        self.layout.remove_durable(&json).map_err(io_err(&json))?;
        let eml = self.layout.eml(id);
        self.layout.remove_durable(&eml).map_err(io_err(&eml))?;
        let lock = self.layout.lock_file(id);
        let _ = fs::remove_file(&lock);
        Ok(())
    }

    /// Appends `line` to the log file `name` in the queue directory (fsync'd).
    pub(crate) fn log_line(&self, name: &str, line: &str) -> Result<(), QueueError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.layout.root.join(name);
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path))?;
        writeln!(f, "{line}").map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))
    }
}

/// Why a message file of `len` bytes is not the one queued as `rec` (empty, or another
/// length than recorded); `None` when it can be.
pub(crate) fn wrong_size(rec: &Record, len: u64) -> Option<String> {
    (len == 0 || rec.size.is_some_and(|n| n != len)).then(|| {
        format!(
            "the message file has {len} bytes, {} were queued",
            rec.size.map_or("more".to_owned(), |n| n.to_string())
        )
    })
}

/// Ids are ours: `[0-9a-f-]`, so a user-given id can never name another path.
pub(crate) fn check_id(id: &str) -> Result<(), QueueError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(QueueError::Invalid(format!("{id:?} is not a queue id")));
    }
    Ok(())
}

/// Time-ordered and unique across processes: seconds, nanoseconds, 32 random bits.
pub(crate) fn new_id() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut r = [0u8; 4];
    let _ = getrandom::getrandom(&mut r);
    format!(
        "{:010x}-{:08x}-{:08x}",
        t.as_secs(),
        t.subsec_nanos(),
        u32::from_le_bytes(r)
    )
}

// For `mx::Direct` (feature `mx`).
#[cfg(feature = "mx")]
pub(crate) use worker::{
    may_have_delivered as worker_may_have_delivered, outcomes_of as worker_outcomes,
};
