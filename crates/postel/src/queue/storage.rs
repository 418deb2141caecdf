//! Where a queue keeps its messages: the [`Storage`] trait the [`Worker`](super::Worker)
//! and the `postel queue` command use, implemented by the file queue ([`Queue`]) and,
//! with the `postgres` feature, by the database queue (`PgQueue`).
//!
//! Both give the same guarantees: a message is stored for good once `add` returns; a
//! worker claims a message before sending it and nobody else sends it while the claim
//! holds; each recipient's state is written before a transaction (in flight) and after
//! it (its outcome), so a worker that dies mid-transaction leaves an *uncertain* attempt
//! that the next worker counts and sends again.

use std::collections::VecDeque;
use std::path::PathBuf;

use super::stats::QueueStats;
use super::{now_secs, store, Claimed, CorruptRecord, Queue, QueueError, Record};

/// How a claim is held: a `flock` on the file queue, a lease in the database.
#[derive(Debug)]
pub(crate) enum Hold {
    /// The kernel's lock on `lock/<id>`, released when dropped or when the process dies.
    File(#[allow(dead_code)] store::Claim),
    /// A lease row (`claimed_by`, `lease_until`): released when dropped, or lost when
    /// the lease expires.
    #[cfg(feature = "postgres")]
    Lease(super::postgres::Lease),
}

/// One delivery pass: the messages still to be offered to this worker, so that each due
/// message is tried at most once per pass (a message deferred with no delay is not tried
/// again in a loop).
#[derive(Debug, Default)]
pub struct Pass {
    /// The file queue: the due records listed at the start of the pass.
    pub(crate) due: Option<VecDeque<Record>>,
    /// The database queue: when the pass began (the database's clock, Unix seconds);
    /// a message claimed since is not claimed again in this pass.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) since: Option<f64>,
    /// Records found unusable and moved aside during the pass.
    pub(crate) corrupt: Vec<CorruptRecord>,
}

impl Pass {
    /// A new pass, nothing tried yet.
    pub fn new() -> Pass {
        Pass::default()
    }

    /// The records found unusable so far in this pass (moved aside or marked).
    pub fn take_corrupt(&mut self) -> Vec<CorruptRecord> {
        std::mem::take(&mut self.corrupt)
    }
}

/// A queue's storage: what the `postel queue` subcommands and a [`Worker`](super::Worker)
/// need of it. Implemented by [`Queue`] (files) and `PgQueue` (PostgreSQL, feature
/// `postgres`); the types a worker holds ([`Claimed`], [`Pass`]) are made by the
/// implementations in this crate only.
pub trait Storage: Send + Sync {
    /// Queues `message` from `from` (empty for `<>`) to each of `to`, due now; once this
    /// returns `Ok`, the message is stored for good. Returns its id.
    fn add_message(&self, from: &str, to: &[String], message: &[u8]) -> Result<String, QueueError>;

    /// Every message's record, oldest first, and the records found unusable (moved aside
    /// on the file queue, marked on the database).
    fn check(&self) -> Result<(Vec<Record>, Vec<CorruptRecord>), QueueError>;

    /// Every usable message's record, oldest first.
    fn list(&self) -> Result<Vec<Record>, QueueError>;

    /// One message's record.
    fn show(&self, id: &str) -> Result<Record, QueueError>;

    /// One message's content, as queued.
    fn message(&self, id: &str) -> Result<Vec<u8>, QueueError>;

    /// Makes every message (or the one `id`) due now; returns how many were changed. A
    /// held message is released only when named.
    fn flush(&self, id: Option<&str>) -> Result<usize, QueueError>;

    /// Removes a message; [`QueueError::Busy`] while a worker sends it.
    fn remove(&self, id: &str) -> Result<(), QueueError>;

    /// Counts by state, the oldest message's age, attempts: what `queue stats` prints.
    fn stats(&self) -> Result<QueueStats, QueueError> {
        Ok(QueueStats::of(&self.list()?, now_secs()))
    }

    /// Claims the next due message of this pass (not held, not claimed by a living
    /// worker, not tried yet in `pass`); `Ok(None)` when there is none.
    fn claim_next(&self, pass: &mut Pass) -> Result<Option<Claimed>, QueueError>;

    /// The content of a message this worker holds. The database queue says
    /// [`QueueError::LeaseLost`] when the row is no longer ours (another worker took it
    /// over, maybe finished it), where the file queue says [`QueueError::NotFound`] for
    /// a body gone from the disk.
    fn content(&self, claimed: &Claimed) -> Result<Vec<u8>, QueueError> {
        self.message(&claimed.record.id)
    }

    /// True while a message is due (those being sent by other workers included).
    fn any_due(&self) -> Result<bool, QueueError>;

    /// Durably replaces the record of a message this worker holds (and renews its
    /// claim); [`QueueError::LeaseLost`] when the claim is no longer ours.
    fn write(&self, claimed: &Claimed) -> Result<(), QueueError>;

    /// Deletes a message this worker holds (delivered or given up).
    fn finish(&self, claimed: &Claimed) -> Result<(), QueueError>;

    /// Sets aside a message whose record or content cannot be used; where it went
    /// (`None`: left in place, or marked in the database). Never an error.
    fn quarantine(&self, id: &str, reason: &str) -> Option<PathBuf>;

    /// Appends `line` to the log `name` (`failed.log`, `uncertain.log`), durably.
    fn log_line(&self, name: &str, line: &str) -> Result<(), QueueError>;

    /// A name for message `id`'s content in error reports (its file, or its row).
    fn content_name(&self, id: &str) -> PathBuf;
}

impl Storage for Queue {
    fn add_message(&self, from: &str, to: &[String], message: &[u8]) -> Result<String, QueueError> {
        self.add(from, to, message)
    }

    fn check(&self) -> Result<(Vec<Record>, Vec<CorruptRecord>), QueueError> {
        Queue::check(self)
    }

    fn list(&self) -> Result<Vec<Record>, QueueError> {
        Queue::list(self)
    }

    fn show(&self, id: &str) -> Result<Record, QueueError> {
        Queue::show(self, id)
    }

    fn message(&self, id: &str) -> Result<Vec<u8>, QueueError> {
        Queue::message(self, id)
    }

    fn flush(&self, id: Option<&str>) -> Result<usize, QueueError> {
        Queue::flush(self, id)
    }

    fn remove(&self, id: &str) -> Result<(), QueueError> {
        Queue::remove(self, id)
    }

    fn claim_next(&self, pass: &mut Pass) -> Result<Option<Claimed>, QueueError> {
        if pass.due.is_none() {
            let now = now_secs();
            let (records, corrupt) = Queue::check(self)?;
            pass.corrupt.extend(corrupt);
            pass.due = Some(
                records
                    .into_iter()
                    .filter(|r| r.next_try <= now && r.held.is_none())
                    .collect(),
            );
        }
        let Some(due) = pass.due.as_mut() else {
            return Ok(None);
        };
        while let Some(record) = due.pop_front() {
            let claimed = match self.claim(&record.id) {
                Ok(Some(c)) => c,
                Ok(None) | Err(QueueError::NotFound(_)) => continue,
                // Spoilt since the listing: the next pass moves it aside.
                Err(QueueError::Corrupt { .. }) => continue,
                Err(e) => return Err(e),
            };
            if claimed.record.next_try > now_secs() || claimed.record.held.is_some() {
                continue; // another worker deferred or held it meanwhile
            }
            return Ok(Some(claimed));
        }
        Ok(None)
    }

    fn any_due(&self) -> Result<bool, QueueError> {
        let now = now_secs();
        Ok(Queue::list(self)?
            .iter()
            .any(|r| r.next_try <= now && r.held.is_none()))
    }

    fn write(&self, claimed: &Claimed) -> Result<(), QueueError> {
        self.write_record(&claimed.record)
    }

    fn finish(&self, claimed: &Claimed) -> Result<(), QueueError> {
        self.finish_files(&claimed.record.id)
    }

    fn quarantine(&self, id: &str, reason: &str) -> Option<PathBuf> {
        Queue::quarantine(self, id, reason)
    }

    fn log_line(&self, name: &str, line: &str) -> Result<(), QueueError> {
        Queue::log_line(self, name, line)
    }

    fn content_name(&self, id: &str) -> PathBuf {
        self.eml(id)
    }
}
