//! The queue in a PostgreSQL database (feature `postgres`): the same records, the same
//! worker, shared by workers on any number of machines. See docs/queue-postgres.md.
//!
//! One row per message in `postel_queue`, the body in a `bytea` column, each recipient's
//! state in `rcpt_state` (JSON, as the file queue's record). A worker claims the next
//! due row with `SELECT ... FOR UPDATE SKIP LOCKED` inside an `UPDATE` that sets
//! `claimed_by` (a token of its own) and `lease_until`; every later write is made only
//! `WHERE claimed_by = <token>`, so a worker whose lease ran out and was taken over
//! writes nothing more ([`QueueError::LeaseLost`]). A heartbeat thread renews the leases
//! a process holds every third of the lease, so a long SMTP session keeps its claim
//! while a dead worker's claim ends when its lease does.

use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row};

use super::storage::{Hold, Pass, Storage};
use super::{
    check_id, new_id, now_secs, Claimed, CorruptRecord, QueueError, QueueStats, RecipientState,
    Record, Status,
};

/// One schema step: applied once, in order, recorded in `postel_schema_version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Its number (1, 2, ...): the schema's version once it is applied.
    pub version: i32,
    /// What it does.
    pub description: &'static str,
    /// Its SQL, run in the same transaction as its `postel_schema_version` row.
    pub sql: &'static str,
}

/// The schema's history, applied by [`PgQueue::open`] (and `postel queue --store
/// postgres://...`) up to the last; docs/queue-postgres.md shows the resulting tables.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "the queue: one row per message, its recipients' state, its lease",
        sql: "
CREATE TABLE postel_queue (
    id          text PRIMARY KEY DEFAULT gen_random_uuid()::text
                CHECK (id ~ '^[0-9a-f-]{1,64}$'),
    sender      text NOT NULL DEFAULT '',
    recipients  text[] NOT NULL CHECK (cardinality(recipients) > 0),
    body        bytea NOT NULL CHECK (octet_length(body) > 0),
    size        bigint,
    rcpt_state  jsonb,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    next_try    timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    held        text,
    corrupt     text,
    claimed_by  text,
    claimed_at  timestamptz,
    lease_until timestamptz
);
CREATE INDEX postel_queue_due ON postel_queue (next_try)
    WHERE held IS NULL AND corrupt IS NULL;
CREATE INDEX postel_queue_queued ON postel_queue (queued_at, id);
",
    },
    Migration {
        version: 2,
        description: "the logs of undeliverable bounces and uncertain deliveries",
        sql: "
CREATE TABLE postel_queue_log (
    at   timestamptz NOT NULL DEFAULT now(),
    log  text NOT NULL,
    line text NOT NULL
);
",
    },
];

/// A number of our own for `pg_advisory_xact_lock`: migrations by concurrent workers run
/// one at a time.
const MIGRATION_LOCK: i64 = 0x706f_7374_656c_0012;

/// The columns a [`Record`] is read from, in the order of [`record_of`].
const RECORD_COLUMNS: &str = "id, sender, recipients, rcpt_state, \
     extract(epoch from queued_at)::float8, extract(epoch from next_try)::float8, \
     attempts, last_error, held, size";

fn db_err(e: postgres::Error) -> QueueError {
    use std::error::Error as _;
    let text = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match e.source() {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    };
    QueueError::Database(text)
}

/// What the clones of one [`PgQueue`] share: where the database is, the lease, and the
/// claims this process holds (renewed by the heartbeat).
struct Shared {
    config: postgres::Config,
    lease: Duration,
    owner: String,
    held: Mutex<HashSet<String>>,
    heartbeat: Mutex<Option<Client>>,
    heartbeat_started: AtomicBool,
}

impl Shared {
    fn connect(&self) -> Result<Client, QueueError> {
        self.config.connect(NoTls).map_err(db_err)
    }

    /// Runs `f` on the heartbeat's connection (reconnecting when it was lost).
    fn on_side_connection<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, QueueError> {
        let mut guard = self.heartbeat.lock().unwrap_or_else(|p| p.into_inner());
        with_client(&mut guard, || self.connect(), f)
    }
}

fn with_client<T>(
    slot: &mut Option<Client>,
    connect: impl FnOnce() -> Result<Client, QueueError>,
    f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
) -> Result<T, QueueError> {
    if slot.as_ref().is_none_or(Client::is_closed) {
        *slot = Some(connect()?);
    }
    let Some(client) = slot.as_mut() else {
        return Err(QueueError::Database("no connection".to_owned()));
    };
    let result = f(client);
    if result.is_err() && client.is_closed() {
        *slot = None; // reconnect next time
    }
    result.map_err(db_err)
}

/// A claim on one row: released (`claimed_by` cleared) when dropped, unless the message
/// was finished; renewed by the heartbeat meanwhile.
#[derive(Debug)]
pub(crate) struct Lease {
    token: String,
    id: String,
    finished: AtomicBool,
    shared: Weak<SharedHandle>,
}

/// `Shared` behind a type that can be `Debug`.
struct SharedHandle(Shared);

impl std::fmt::Debug for SharedHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgQueue")
            .field("owner", &self.0.owner)
            .field("lease", &self.0.lease)
            .finish_non_exhaustive()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let shared = &shared.0;
        shared
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.token);
        if self.finished.load(Ordering::Relaxed) {
            return;
        }
        let (id, token) = (&self.id, &self.token);
        let released = shared.on_side_connection(|c| {
            c.execute(
                "UPDATE postel_queue SET claimed_by = NULL, lease_until = NULL \
                 WHERE id = $1 AND claimed_by = $2",
                &[id, token],
            )
        });
        if let Err(e) = released {
            // Harmless: the lease runs out by itself.
            tracing::warn!("releasing the claim on {id}: {e}");
        }
    }
}

/// A queue in a PostgreSQL database. Cheap to clone; each clone has its own connection
/// (opened when first needed), so give each worker thread a clone. Any number of
/// processes on any number of machines may use the same database.
///
/// ```no_run
/// use postel::queue::{PgQueue, Relay, Storage, Worker};
/// use postel::Client;
/// let queue = PgQueue::open("postgres://postel@db.internal/mail")?;
/// let id = queue.add_message("alice@example.com", &["bob@example.net".into()], b"Subject: hi\r\n\r\nHi.\r\n")?;
/// let relay = Relay::new(|| Client::builder("smtp.example.com").build());
/// let summary = Worker::new(queue, relay).run()?;
/// # let _ = (id, summary);
/// # Ok::<(), postel::queue::QueueError>(())
/// ```
pub struct PgQueue {
    shared: Arc<SharedHandle>,
    conn: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PgQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.fmt(f)
    }
}

impl Clone for PgQueue {
    fn clone(&self) -> PgQueue {
        PgQueue {
            shared: Arc::clone(&self.shared),
            conn: Mutex::new(None),
        }
    }
}

impl PgQueue {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`, or
    /// `host=/run/postgresql dbname=mail` key-value form; no TLS: use a local socket or
    /// a trusted network), and creates or migrates the schema to the last
    /// [`MIGRATIONS`] step. The lease is 60 seconds.
    pub fn open(url: &str) -> Result<PgQueue, QueueError> {
        let mut config = postgres::Config::from_str(url)
            .map_err(|e| QueueError::Invalid(format!("the database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("postel-queue");
        }
        let mut rand = [0u8; 4];
        let _ = getrandom::getrandom(&mut rand);
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let shared = Shared {
            config,
            lease: Duration::from_secs(60),
            owner: format!(
                "{host}:{}:{:08x}",
                std::process::id(),
                u32::from_le_bytes(rand)
            ),
            held: Mutex::new(HashSet::new()),
            heartbeat: Mutex::new(None),
            heartbeat_started: AtomicBool::new(false),
        };
        let q = PgQueue {
            shared: Arc::new(SharedHandle(shared)),
            conn: Mutex::new(None),
        };
        q.migrate()?;
        Ok(q)
    }

    /// How long a claim lasts without renewal (default 60 s, at least 2 s): a worker
    /// that dies holds its messages this long; a living one renews its claims every
    /// third of it. Set before the first claim (clones share it).
    pub fn lease(mut self, lease: Duration) -> Result<PgQueue, QueueError> {
        let lease = lease.max(Duration::from_secs(2));
        let shared = Arc::get_mut(&mut self.shared).ok_or_else(|| {
            QueueError::Invalid("the lease is set before the queue is cloned".to_owned())
        })?;
        shared.0.lease = lease;
        Ok(self)
    }

    /// The schema version the database is at (the last applied [`Migration`]).
    pub fn schema_version(&self) -> Result<i32, QueueError> {
        self.with(|c| {
            c.query_one(
                "SELECT coalesce(max(version), 0) FROM postel_schema_version",
                &[],
            )
            .map(|r| r.get(0))
        })
    }

    fn shared(&self) -> &Shared {
        &self.shared.0
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, QueueError> {
        let mut guard: MutexGuard<'_, Option<Client>> =
            self.conn.lock().unwrap_or_else(|p| p.into_inner());
        with_client(&mut guard, || self.shared().connect(), f)
    }

    /// Applies the missing [`MIGRATIONS`], one transaction, under an advisory lock.
    fn migrate(&self) -> Result<(), QueueError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS postel_schema_version (
                    version     integer PRIMARY KEY,
                    description text NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now()
                )",
            )?;
            let at: i32 = tx
                .query_one(
                    "SELECT coalesce(max(version), 0) FROM postel_schema_version",
                    &[],
                )?
                .get(0);
            for m in MIGRATIONS.iter().filter(|m| m.version > at) {
                tx.batch_execute(m.sql)?;
                tx.execute(
                    "INSERT INTO postel_schema_version (version, description) VALUES ($1, $2)",
                    &[&m.version, &m.description],
                )?;
            }
            tx.commit()
        })
    }

    /// Starts the process's heartbeat (once): every third of the lease, the leases of
    /// the claims this process holds are pushed forward.
    fn start_heartbeat(&self) {
        if self.shared().heartbeat_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(&self.shared);
        let every = self.shared().lease / 3;
        let spawned = std::thread::Builder::new()
            .name("postel-lease".to_owned())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(shared) = weak.upgrade() else { return };
                let shared = &shared.0;
                let tokens: Vec<String> = shared
                    .held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .cloned()
                    .collect();
                if tokens.is_empty() {
                    continue;
                }
                let secs = shared.lease.as_secs_f64();
                if let Err(e) = shared.on_side_connection(|c| {
                    c.execute(
                        "UPDATE postel_queue \
                         SET lease_until = now() + $2 * interval '1 second' \
                         WHERE claimed_by = ANY($1)",
                        &[&tokens, &secs],
                    )
                }) {
                    tracing::warn!("renewing the queue's leases: {e}");
                }
            });
        if spawned.is_err() {
            // Without renewal a claim still lasts its lease; writes renew it too.
            self.shared()
                .heartbeat_started
                .store(false, Ordering::SeqCst);
        }
    }

    fn lease_of(claimed: &Claimed) -> Result<&Lease, QueueError> {
        match &claimed.hold {
            Hold::Lease(l) => Ok(l),
            Hold::File(_) => Err(QueueError::Invalid(
                "a claim of the file queue given to the database queue".to_owned(),
            )),
        }
    }

    /// The error for a claim found gone, logged (`postel_queue_log`, log `lease`): the
    /// lease ran out while the database could not be reached, and another worker may
    /// send the message again.
    fn lease_lost(&self, id: &str, doing: &str) -> QueueError {
        let line = format!(
            "{} message {id}: the claim of {} ran out before {doing}",
            now_secs(),
            self.shared().owner
        );
        tracing::warn!("{line}");
        let _ = self.log_line("lease.log", &line);
        QueueError::LeaseLost(id.to_owned())
    }

    /// Marks a row unusable (it stays, for a person to look at, and is never tried).
    fn mark_corrupt(&self, id: &str, reason: &str) -> Result<(), QueueError> {
        self.with(|c| {
            c.execute(
                "UPDATE postel_queue SET corrupt = $2, claimed_by = NULL, lease_until = NULL \
                 WHERE id = $1",
                &[&id, &reason],
            )
        })?;
        tracing::warn!("corrupt queue row {id}: {reason}; marked (column corrupt)");
        Ok(())
    }

    fn rows(&self, filter: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, QueueError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM postel_queue {filter}");
        self.with(|c| c.query(sql.as_str(), params))
    }

    /// Those of `rows` that are usable records; the others are marked corrupt.
    fn usable(&self, rows: Vec<Row>) -> Result<(Vec<Record>, Vec<CorruptRecord>), QueueError> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for row in rows {
            match record_of(&row) {
                Ok(r) => out.push(r),
                Err((id, reason)) => {
                    self.mark_corrupt(&id, &reason)?;
                    bad.push(CorruptRecord {
                        id,
                        reason,
                        moved_to: None,
                    });
                }
            }
        }
        Ok((out, bad))
    }
}

/// A row as a [`Record`], checked as the file queue checks a record read back (an
/// application's `INSERT` is input too); `Err((id, reason))` when it cannot be used.
fn record_of(row: &Row) -> Result<Record, (String, String)> {
    let id: String = row.get(0);
    let bad = |reason: String| (id.clone(), reason);
    check_id(&id).map_err(|e| bad(e.to_string()))?;
    let from: String = row.get(1);
    let recipients: Vec<String> = row.get(2);
    let state: Option<serde_json::Value> = row.get(3);
    let recipients = match state {
        None => recipients
            .into_iter()
            .map(|address| RecipientState {
                address,
                status: Status::Pending,
                attempts: 0,
                uncertain: 0,
                last: None,
            })
            .collect(),
        Some(v) => {
            let s: Vec<RecipientState> = serde_json::from_value(v)
                .map_err(|e| bad(format!("rcpt_state is not a recipient list: {e}")))?;
            if s.len() != recipients.len()
                || s.iter().zip(&recipients).any(|(s, a)| &s.address != a)
            {
                return Err(bad("rcpt_state does not match recipients".to_owned()));
            }
            s
        }
    };
    let secs = |v: f64| {
        if v.is_finite() && v > 0.0 {
            v as u64
        } else {
            0
        }
    };
    let record = Record {
        id: id.clone(),
        from,
        recipients,
        queued_at: secs(row.get(4)),
        next_try: secs(row.get(5)),
        attempts: u32::try_from(row.get::<_, i32>(6)).unwrap_or(0),
        last_error: row.get(7),
        held: row.get(8),
        size: row
            .get::<_, Option<i64>>(9)
            .and_then(|n| u64::try_from(n).ok()),
    };
    record.validate(&id).map_err(bad)?;
    Ok(record)
}

impl Storage for PgQueue {
    fn add_message(&self, from: &str, to: &[String], message: &[u8]) -> Result<String, QueueError> {
        if to.is_empty() {
            return Err(QueueError::Invalid("no recipients".to_owned()));
        }
        super::check_addresses(from, to.iter().map(String::as_str)).map_err(QueueError::Invalid)?;
        if message.is_empty() {
            return Err(QueueError::Invalid("the message is empty".to_owned()));
        }
        let id = new_id();
        let size = i64::try_from(message.len()).unwrap_or(i64::MAX);
        let to: Vec<String> = to.to_vec();
        self.with(|c| {
            c.execute(
                "INSERT INTO postel_queue (id, sender, recipients, body, size) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&id, &from, &to, &message, &size],
            )
        })?;
        Ok(id)
    }

    fn check(&self) -> Result<(Vec<Record>, Vec<CorruptRecord>), QueueError> {
        let rows = self.rows("WHERE corrupt IS NULL ORDER BY queued_at, id", &[])?;
        self.usable(rows)
    }

    fn list(&self) -> Result<Vec<Record>, QueueError> {
        let rows = self.rows("WHERE corrupt IS NULL ORDER BY queued_at, id", &[])?;
        Ok(rows.iter().filter_map(|r| record_of(r).ok()).collect())
    }

    fn show(&self, id: &str) -> Result<Record, QueueError> {
        check_id(id)?;
        let rows = self.with(|c| {
            c.query(
                &*format!("SELECT {RECORD_COLUMNS}, corrupt FROM postel_queue WHERE id = $1"),
                &[&id],
            )
        })?;
        let row = rows
            .first()
            .ok_or_else(|| QueueError::NotFound(id.to_owned()))?;
        let corrupt = |reason: String| QueueError::Corrupt {
            path: self.content_name(id),
            reason,
        };
        if let Some(reason) = row.get::<_, Option<String>>(10) {
            return Err(corrupt(reason));
        }
        record_of(row).map_err(|(_, reason)| corrupt(reason))
    }

    fn message(&self, id: &str) -> Result<Vec<u8>, QueueError> {
        check_id(id)?;
        self.with(|c| c.query_opt("SELECT body FROM postel_queue WHERE id = $1", &[&id]))?
            .map(|r| r.get(0))
            .ok_or_else(|| QueueError::NotFound(id.to_owned()))
    }

    fn flush(&self, id: Option<&str>) -> Result<usize, QueueError> {
        const FREE: &str = "(lease_until IS NULL OR lease_until < now())";
        let Some(id) = id else {
            let n = self.with(|c| {
                c.execute(
                    &*format!(
                        "UPDATE postel_queue SET next_try = now() \
                         WHERE next_try > now() AND held IS NULL AND corrupt IS NULL AND {FREE}"
                    ),
                    &[],
                )
            })?;
            return Ok(usize::try_from(n).unwrap_or(usize::MAX));
        };
        check_id(id)?;
        // A held bounce: its failed recipients pending again, for a new lifetime.
        let row = self.with(|c| {
            let mut tx = c.transaction()?;
            let row = tx.query_opt(
                &*format!(
                    "SELECT rcpt_state, held IS NOT NULL, next_try > now(), {FREE} \
                     FROM postel_queue WHERE id = $1 AND corrupt IS NULL FOR UPDATE"
                ),
                &[&id],
            )?;
            let Some(row) = row else {
                return Ok(None);
            };
            let (state, held, later, free): (Option<serde_json::Value>, bool, bool, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            if !free {
                return Ok(Some(0));
            }
            let n = if held {
                let state = state.map(|v| {
                    let mut s: Vec<RecipientState> =
                        serde_json::from_value(v.clone()).unwrap_or_default();
                    for r in &mut s {
                        if r.status == Status::Failed {
                            r.status = Status::Pending;
                        }
                    }
                    serde_json::to_value(s).unwrap_or(v)
                });
                tx.execute(
                    "UPDATE postel_queue SET held = NULL, queued_at = now(), next_try = now(), \
                     rcpt_state = $2 WHERE id = $1",
                    &[&id, &state],
                )?
            } else if later {
                tx.execute(
                    "UPDATE postel_queue SET next_try = now() WHERE id = $1",
                    &[&id],
                )?
            } else {
                0
            };
            tx.commit()?;
            Ok(Some(n))
        })?;
        match row {
            Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            None => Err(QueueError::NotFound(id.to_owned())),
        }
    }

    fn remove(&self, id: &str) -> Result<(), QueueError> {
        check_id(id)?;
        let (deleted, exists) = self.with(|c| {
            let n = c.execute(
                "DELETE FROM postel_queue WHERE id = $1 \
                 AND (lease_until IS NULL OR lease_until < now())",
                &[&id],
            )?;
            if n > 0 {
                return Ok((true, true));
            }
            let e = c.query_opt("SELECT 1 FROM postel_queue WHERE id = $1", &[&id])?;
            Ok((false, e.is_some()))
        })?;
        match (deleted, exists) {
            (true, _) => Ok(()),
            (false, true) => Err(QueueError::Busy(id.to_owned())),
            (false, false) => Err(QueueError::NotFound(id.to_owned())),
        }
    }

    fn stats(&self) -> Result<QueueStats, QueueError> {
        let mut s = QueueStats::of(&self.list()?, now_secs());
        let claimed: i64 = self.with(|c| {
            c.query_one(
                "SELECT count(*) FROM postel_queue \
                 WHERE corrupt IS NULL AND claimed_by IS NOT NULL AND lease_until >= now()",
                &[],
            )
            .map(|r| r.get(0))
        })?;
        s.claimed = u64::try_from(claimed).unwrap_or(0);
        Ok(s)
    }

    fn claim_next(&self, pass: &mut Pass) -> Result<Option<Claimed>, QueueError> {
        let since = match pass.since {
            Some(t) => t,
            None => {
                let t: f64 = self.with(|c| {
                    c.query_one("SELECT extract(epoch from now())::float8", &[])
                        .map(|r| r.get(0))
                })?;
                pass.since = Some(t);
                t
            }
        };
        self.start_heartbeat();
        let secs = self.shared().lease.as_secs_f64();
        loop {
            let mut rand = [0u8; 8];
            let _ = getrandom::getrandom(&mut rand);
            let token = format!("{}:{:016x}", self.shared().owner, u64::from_le_bytes(rand));
            // Registered before the claim, so that the heartbeat renews it from the start.
            self.shared()
                .held
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(token.clone());
            let lease = |id: String| Lease {
                token: token.clone(),
                id,
                finished: AtomicBool::new(false),
                shared: Arc::downgrade(&self.shared),
            };
            // Due when the pass began, and not claimed since (by us or another worker):
            // as the file queue, each message due at the start is tried once per pass.
            let claimed = self.with(|c| {
                c.query_opt(
                    &*format!(
                        "UPDATE postel_queue SET claimed_by = $1, claimed_at = now(), \
                         lease_until = now() + $2 * interval '1 second' \
                         WHERE id = (SELECT id FROM postel_queue \
                             WHERE next_try <= to_timestamp($3) \
                             AND held IS NULL AND corrupt IS NULL \
                             AND (lease_until IS NULL OR lease_until < now()) \
                             AND (claimed_at IS NULL OR claimed_at < to_timestamp($3)) \
                             ORDER BY next_try, queued_at LIMIT 1 \
                             FOR UPDATE SKIP LOCKED) \
                         RETURNING {RECORD_COLUMNS}"
                    ),
                    &[&token, &secs, &since],
                )
            });
            let row = match claimed {
                Ok(Some(row)) => row,
                other => {
                    self.shared()
                        .held
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&token);
                    other?;
                    return Ok(None);
                }
            };
            match record_of(&row) {
                Ok(record) => {
                    let hold = Hold::Lease(lease(record.id.clone()));
                    return Ok(Some(Claimed { record, hold }));
                }
                Err((id, reason)) => {
                    drop(lease(id.clone()));
                    self.mark_corrupt(&id, &reason)?;
                    pass.corrupt.push(CorruptRecord {
                        id,
                        reason,
                        moved_to: None,
                    });
                }
            }
        }
    }

    fn content(&self, claimed: &Claimed) -> Result<Vec<u8>, QueueError> {
        let lease = Self::lease_of(claimed)?;
        let id = &claimed.record.id;
        match self.with(|c| {
            c.query_opt(
                "SELECT body FROM postel_queue WHERE id = $1 AND claimed_by = $2",
                &[id, &lease.token],
            )
        })? {
            Some(row) => Ok(row.get(0)),
            None => Err(self.lease_lost(id, "reading its content")),
        }
    }

    fn any_due(&self) -> Result<bool, QueueError> {
        self.with(|c| {
            c.query_one(
                "SELECT EXISTS (SELECT 1 FROM postel_queue \
                 WHERE next_try <= now() AND held IS NULL AND corrupt IS NULL)",
                &[],
            )
            .map(|r| r.get(0))
        })
    }

    fn write(&self, claimed: &Claimed) -> Result<(), QueueError> {
        let lease = Self::lease_of(claimed)?;
        let r = &claimed.record;
        let state = serde_json::to_value(&r.recipients).map_err(|e| QueueError::Corrupt {
            path: self.content_name(&r.id),
            reason: e.to_string(),
        })?;
        let attempts = i32::try_from(r.attempts).unwrap_or(i32::MAX);
        // Unix seconds as float8 for to_timestamp: exact for any date before 2^53 s.
        let (queued, next) = (r.queued_at as f64, r.next_try as f64);
        let secs = self.shared().lease.as_secs_f64();
        let n = self.with(|c| {
            c.execute(
                "UPDATE postel_queue SET rcpt_state = $3, attempts = $4, \
                 next_try = to_timestamp($5), last_error = $6, held = $7, \
                 queued_at = to_timestamp($8), \
                 lease_until = now() + $9 * interval '1 second' \
                 WHERE id = $1 AND claimed_by = $2",
                &[
                    &r.id,
                    &lease.token,
                    &state,
                    &attempts,
                    &next,
                    &r.last_error,
                    &r.held,
                    &queued,
                    &secs,
                ],
            )
        })?;
        if n == 0 {
            return Err(self.lease_lost(&r.id, "recording its state"));
        }
        Ok(())
    }

    fn finish(&self, claimed: &Claimed) -> Result<(), QueueError> {
        let lease = Self::lease_of(claimed)?;
        let id = &claimed.record.id;
        let n = self.with(|c| {
            c.execute(
                "DELETE FROM postel_queue WHERE id = $1 AND claimed_by = $2",
                &[id, &lease.token],
            )
        })?;
        if n == 0 {
            return Err(self.lease_lost(id, "removing it"));
        }
        lease.finished.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn quarantine(&self, id: &str, reason: &str) -> Option<PathBuf> {
        if let Err(e) = self.mark_corrupt(id, reason) {
            tracing::warn!("corrupt queue row {id}: {reason}; cannot mark it: {e}");
        }
        None
    }

    fn log_line(&self, name: &str, line: &str) -> Result<(), QueueError> {
        let log = name.strip_suffix(".log").unwrap_or(name);
        self.with(|c| {
            c.execute(
                "INSERT INTO postel_queue_log (log, line) VALUES ($1, $2)",
                &[&log, &line],
            )
        })?;
        Ok(())
    }

    fn content_name(&self, id: &str) -> PathBuf {
        PathBuf::from(format!("postel_queue/{id}"))
    }
}
