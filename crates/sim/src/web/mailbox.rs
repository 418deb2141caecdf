//! The web bench's message and session store: in memory, and in files under
//! `--store DIR` when given.
//!
//! ```text
//! DIR/messages/<id>.eml    the message exactly as received (after un-dot-stuffing)
//! DIR/messages/<id>.json   its envelope and summary (Meta)
//! DIR/sessions/<id>.json   a closed session: transcript lines and annotations
//! ```
//! Ids are `<run>-<queue id>` for messages and `<run>-c<connection>` for sessions, where
//! `<run>` is the simulator's start time in milliseconds, 11 hex digits; so ids sort in
//! arrival order across restarts.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::annotate::Annotation;
use crate::store::{ReceivedMessage, Side, Transcript, Transfer};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One ESMTP parameter as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredParam {
    pub(crate) keyword: String,
    pub(crate) value: Option<String>,
}

/// One recipient as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredRcpt {
    pub(crate) address: String,
    pub(crate) params: Vec<StoredParam>,
}

/// A message's envelope and summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) id: String,
    pub(crate) session: String,
    /// Unix time in milliseconds.
    pub(crate) received: u64,
    pub(crate) connection: u64,
    pub(crate) queue_id: String,
    pub(crate) helo: String,
    pub(crate) mail_from: String,
    pub(crate) mail_params: Vec<StoredParam>,
    pub(crate) rcpt_to: Vec<StoredRcpt>,
    pub(crate) transfer: String,
    pub(crate) tls: bool,
    pub(crate) auth_user: Option<String>,
    pub(crate) size: usize,
    pub(crate) subject: String,
    pub(crate) header_from: String,
    pub(crate) header_to: String,
}

/// A stored message.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) meta: Meta,
    pub(crate) raw: Arc<Vec<u8>>,
}

/// A transcript line as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredLine {
    /// `client`, `server`, or `None` for a note.
    pub(crate) side: Option<String>,
    pub(crate) text: String,
}

/// An annotation as stored (the verdicts come from the code).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredAnnotation {
    pub(crate) line: usize,
    pub(crate) code: String,
    pub(crate) detail: String,
}

/// One session's transcript and annotations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub(crate) id: String,
    pub(crate) connection: u64,
    pub(crate) closed: bool,
    pub(crate) lines: Vec<StoredLine>,
    pub(crate) annotations: Vec<StoredAnnotation>,
}

impl SessionRecord {
    pub(crate) fn from_transcript(id: String, t: &Transcript, notes: &[Annotation]) -> Self {
        SessionRecord {
            id,
            connection: t.connection,
            closed: t.closed,
            lines: t
                .lines
                .iter()
                .map(|l| StoredLine {
                    side: match l.side {
                        Some(Side::Client) => Some("client".to_owned()),
                        Some(Side::Server) => Some("server".to_owned()),
                        None => None,
                    },
                    text: l.text.clone(),
                })
                .collect(),
            annotations: notes
                .iter()
                .map(|a| StoredAnnotation {
                    line: a.line,
                    code: a.deviation.code().to_owned(),
                    detail: a.detail.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Default)]
struct Inner {
    messages: BTreeMap<String, Stored>,
    sessions: BTreeMap<String, SessionRecord>,
    /// Queue ids and connections of this run already taken in (deleted ones too), so a
    /// resync after lost events adds only what is missing.
    seen_messages: HashSet<String>,
    seen_sessions: HashSet<u64>,
}

/// Messages and closed sessions, with a change feed for the page.
pub(crate) struct Mailbox {
    pub(crate) run: String,
    dir: Option<PathBuf>,
    inner: Mutex<Inner>,
    pub(crate) events: broadcast::Sender<String>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Whether `id` can name a file: letters, digits and `-` only.
pub(crate) fn safe_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Mailbox {
    /// A mailbox, loading what `dir` holds.
    pub(crate) fn open(dir: Option<PathBuf>) -> std::io::Result<Mailbox> {
        let mut inner = Inner::default();
        if let Some(d) = &dir {
            std::fs::create_dir_all(d.join("messages"))?;
            std::fs::create_dir_all(d.join("sessions"))?;
            load(d, &mut inner)?;
        }
        let (events, _) = broadcast::channel(256);
        Ok(Mailbox {
            run: format!("{:011x}", now_ms()),
            dir,
            inner: Mutex::new(inner),
            events,
        })
    }

    fn notify(&self, kind: &str, id: Option<&str>) {
        let _ = self
            .events
            .send(serde_json::json!({ "type": kind, "id": id }).to_string());
    }

    /// The session id of connection `conn` of this run.
    pub(crate) fn session_id(&self, conn: u64) -> String {
        format!("{}-c{conn}", self.run)
    }

    /// Whether this run's message `queue_id` was taken in already.
    pub(crate) fn has_seen_message(&self, queue_id: &str) -> bool {
        lock(&self.inner).seen_messages.contains(queue_id)
    }

    /// Whether this run's connection `conn` was stored already.
    pub(crate) fn has_seen_session(&self, conn: u64) -> bool {
        lock(&self.inner).seen_sessions.contains(&conn)
    }

    /// Stores a message the simulator accepted.
    pub(crate) fn add_message(&self, m: &ReceivedMessage) -> std::io::Result<String> {
        let id = format!("{}-{}", self.run, m.queue_id);
        if !lock(&self.inner).seen_messages.insert(m.queue_id.clone()) {
            return Ok(id);
        }
        let head = super::mime::summary(&m.data);
        let meta = Meta {
            id: id.clone(),
            session: self.session_id(m.connection),
            received: now_ms(),
            connection: m.connection,
            queue_id: m.queue_id.clone(),
            helo: m.helo.clone(),
            mail_from: m.mail_from.clone(),
            mail_params: params(&m.mail_params),
            rcpt_to: m
                .rcpt_to
                .iter()
                .map(|r| StoredRcpt {
                    address: r.address.clone(),
                    params: params(&r.params),
                })
                .collect(),
            transfer: match m.transfer {
                Transfer::Data => "DATA".to_owned(),
                Transfer::Bdat => "BDAT".to_owned(),
            },
            tls: m.tls,
            auth_user: m.auth_user.clone(),
            size: m.data.len(),
            subject: head.subject,
            header_from: head.from,
            header_to: head.to,
        };
        if let Some(d) = &self.dir {
            let base = d.join("messages");
            write_atomic(&base.join(format!("{id}.eml")), &m.data)?;
            write_atomic(
                &base.join(format!("{id}.json")),
                serde_json::to_string_pretty(&meta)?.as_bytes(),
            )?;
        }
        lock(&self.inner).messages.insert(
            id.clone(),
            Stored {
                meta,
                raw: Arc::new(m.data.clone()),
            },
        );
        self.notify("message", Some(&id));
        Ok(id)
    }

    /// Stores a closed session of this run.
    pub(crate) fn add_session(&self, record: SessionRecord) -> std::io::Result<()> {
        if !lock(&self.inner).seen_sessions.insert(record.connection) {
            return Ok(());
        }
        if let Some(d) = &self.dir {
            write_atomic(
                &d.join("sessions").join(format!("{}.json", record.id)),
                serde_json::to_string_pretty(&record)?.as_bytes(),
            )?;
        }
        let id = record.id.clone();
        lock(&self.inner).sessions.insert(id.clone(), record);
        self.notify("session", Some(&id));
        Ok(())
    }

    /// The messages, oldest first.
    pub(crate) fn messages(&self) -> Vec<Stored> {
        lock(&self.inner).messages.values().cloned().collect()
    }

    pub(crate) fn message(&self, id: &str) -> Option<Stored> {
        lock(&self.inner).messages.get(id).cloned()
    }

    pub(crate) fn session(&self, id: &str) -> Option<SessionRecord> {
        lock(&self.inner).sessions.get(id).cloned()
    }

    pub(crate) fn sessions(&self) -> Vec<SessionRecord> {
        lock(&self.inner).sessions.values().cloned().collect()
    }

    /// Deletes one message; whether it existed.
    pub(crate) fn delete(&self, id: &str) -> std::io::Result<bool> {
        let existed = lock(&self.inner).messages.remove(id).is_some();
        if existed {
            if let Some(d) = &self.dir {
                for ext in ["eml", "json"] {
                    remove_if_there(&d.join("messages").join(format!("{id}.{ext}")))?;
                }
            }
            self.notify("deleted", Some(id));
        }
        Ok(existed)
    }

    /// Deletes every message; how many there were.
    pub(crate) fn delete_all(&self) -> std::io::Result<usize> {
        let ids: Vec<String> = lock(&self.inner).messages.keys().cloned().collect();
        for id in &ids {
            self.delete(id)?;
        }
        self.notify("deleted", None);
        Ok(ids.len())
    }

    /// Deletes every stored session; how many there were.
    pub(crate) fn delete_sessions(&self) -> std::io::Result<usize> {
        let ids: Vec<String> = std::mem::take(&mut lock(&self.inner).sessions)
            .into_keys()
            .collect();
        if let Some(d) = &self.dir {
            for id in &ids {
                remove_if_there(&d.join("sessions").join(format!("{id}.json")))?;
            }
        }
        self.notify("sessions-deleted", None);
        Ok(ids.len())
    }
}

fn params(ps: &[crate::store::Param]) -> Vec<StoredParam> {
    ps.iter()
        .map(|p| StoredParam {
            keyword: p.keyword.clone(),
            value: p.value.clone(),
        })
        .collect()
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes a file through a temporary name, so a crash leaves the old or the new file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn load(dir: &Path, inner: &mut Inner) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir.join("messages"))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(meta) = serde_json::from_slice::<Meta>(&std::fs::read(&path)?) else {
            continue;
        };
        if !safe_id(&meta.id) {
            continue;
        }
        let Ok(raw) = std::fs::read(path.with_extension("eml")) else {
            continue;
        };
        inner.messages.insert(
            meta.id.clone(),
            Stored {
                meta,
                raw: Arc::new(raw),
            },
        );
    }
    for entry in std::fs::read_dir(dir.join("sessions"))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        if let Ok(rec) = serde_json::from_slice::<SessionRecord>(&std::fs::read(&path)?) {
            if safe_id(&rec.id) {
                inner.sessions.insert(rec.id.clone(), rec);
            }
        }
    }
    Ok(())
}
