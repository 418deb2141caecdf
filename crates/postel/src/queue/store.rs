//! The on-disk layout and its durable primitives: write a temporary file, fsync it,
//! rename it into place, fsync the directory; claim a message by `flock`.
//!
//! ```text
//! <queue>/tmp/            files being written (never read back; stale ones are swept)
//! <queue>/msg/<id>.eml    the message, exactly as given (written once)
//! <queue>/msg/<id>.json   its record: envelope, per-recipient state, attempts, next try
//! <queue>/lock/<id>       an empty file a worker holds `flock(LOCK_EX)` on while sending
//! <queue>/corrupt/        records that could not be used, moved aside with a `.reason`
//! ```
//! A message exists once its `.json` exists: that rename, followed by the fsync of
//! `msg/`, is the commit point of [`Queue::add`](super::Queue::add).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{flock, FlockOperation};

/// The three folders of a queue.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub(crate) root: PathBuf,
    pub(crate) tmp: PathBuf,
    pub(crate) msg: PathBuf,
    pub(crate) lock: PathBuf,
}

impl Layout {
    /// Creates the folders when missing (and makes their creation durable).
    pub(crate) fn open(root: &Path) -> io::Result<Layout> {
        let l = Layout {
            root: root.to_path_buf(),
            tmp: root.join("tmp"),
            msg: root.join("msg"),
            lock: root.join("lock"),
        };
        for d in [&l.root, &l.tmp, &l.msg, &l.lock] {
            if !d.is_dir() {
                // Queued mail is private: the folders are the owner's only (0700).
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(d)?;
                if let Some(parent) = d.parent() {
                    sync_dir(parent)?;
                }
            }
        }
        Ok(l)
    }

    pub(crate) fn eml(&self, id: &str) -> PathBuf {
        self.msg.join(format!("{id}.eml"))
    }

    pub(crate) fn json(&self, id: &str) -> PathBuf {
        self.msg.join(format!("{id}.json"))
    }

    pub(crate) fn lock_file(&self, id: &str) -> PathBuf {
        self.lock.join(id)
    }

    /// Moves message `id`'s files (those that exist) to `corrupt/`, next to a
    /// `<id>.reason` file; returns the folder.
    pub(crate) fn quarantine(&self, id: &str, reason: &str) -> io::Result<PathBuf> {
        let dir = self.root.join("corrupt");
        if !dir.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)?;
            sync_dir(&self.root)?;
        }
        self.write_atomic(
            &dir.join(format!("{id}.reason")),
            format!("{reason}\n").as_bytes(),
        )?;
        for from in [self.json(id), self.eml(id)] {
            if let Some(name) = from.file_name() {
                match fs::rename(&from, dir.join(name)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        sync_dir(&dir)?;
        sync_dir(&self.msg)?;
        Ok(dir)
    }

    /// Writes `bytes` to `dest` atomically and durably: a reader (or a restart after a
    /// crash) sees the old content or the new, whole, never a torn file.
    pub(crate) fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> io::Result<()> {
        let name = dest
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad file name"))?;
        let tmp = self.tmp.join(format!("{name}.{}", unique_suffix()));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, dest)?;
            sync_dir(dest.parent().unwrap_or(&self.msg))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Removes `path` (absent is fine) and makes the removal durable.
    pub(crate) fn remove_durable(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Ok(()) => sync_dir(path.parent().unwrap_or(&self.msg)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes what a crash left behind: temporary files, message bodies whose record
    /// never got written (an `add` that did not return), and lock files of finished
    /// messages, once older than `age` so that work in progress elsewhere is left alone.
    /// A lock file is only removed under its own lock.
    pub(crate) fn sweep(&self, age: Duration) -> io::Result<()> {
        let now = SystemTime::now();
        let old = |p: &Path| {
            fs::metadata(p)
                .and_then(|m| m.modified())
                .map(|t| now.duration_since(t).unwrap_or_default() > age)
                .unwrap_or(false)
        };
        for e in fs::read_dir(&self.tmp)? {
            let p = e?.path();
            if old(&p) {
                let _ = fs::remove_file(&p);
            }
        }
        for e in fs::read_dir(&self.msg)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "eml")
                && !p.with_extension("json").exists()
                && old(&p)
            {
                let _ = fs::remove_file(&p);
            }
        }
        for e in fs::read_dir(&self.lock)? {
            let p = e?.path();
            let Some(id) = p.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if !self.json(&id).exists() && old(&p) {
                if let Ok(Some(_claim)) = try_claim(self, &id) {
                    let _ = fs::remove_file(&p);
                }
            }
        }
        Ok(())
    }
}

/// fsync on a directory: makes the renames and unlinks inside it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A held exclusive claim on one message; released on drop, or by the kernel when the
/// process dies (kill -9 included), so a crashed worker never leaves a message stuck.
#[derive(Debug)]
pub(crate) struct Claim {
    _file: File,
}

/// Tries to claim message `id`: `None` when another worker holds it.
pub(crate) fn try_claim(layout: &Layout, id: &str) -> io::Result<Option<Claim>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(layout.lock_file(id))?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(Claim { _file: file })),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => Ok(None),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// A suffix no other writer uses at the same time: pid, time and randomness.
fn unique_suffix() -> String {
    let mut r = [0u8; 4];
    let _ = getrandom::getrandom(&mut r);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!(
        "{}.{nanos}.{:08x}.tmp",
        std::process::id(),
        u32::from_le_bytes(r)
    )
}
