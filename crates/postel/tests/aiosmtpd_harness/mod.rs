//! aiosmtpd (Debian's `python3-aiosmtpd`, run by crates/postel/tests/py/aiosmtpd_server.py)
//! as a test server: started on an ephemeral loopback port per test, killed on drop, each
//! stored message read back with its envelope. Shared by crates/postel/tests/aiosmtpd.rs
//! and crates/cli/tests/aiosmtpd.rs (`#[path]`); it needs only std and serde_json.
//!
//! When aiosmtpd (or openssl, for the test PKI of scripts/pki.sh) is missing, [`start`]
//! prints a loud SKIP and returns `None`, or panics when CI=true or
//! POSTEL_REQUIRE_SERVERS=1 (scripts/test.sh).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use serde_json::Value;

/// A running aiosmtpd; killed (and its folder removed) on drop.
pub struct Aiosmtpd {
    child: Child,
    /// The server exits when this closes, even if this process dies without dropping it.
    _stdin: ChildStdin,
    /// The loopback port it listens on.
    pub port: u16,
    /// Where it stores each message (`N.json`, `N.eml`) and its markers.
    pub dir: PathBuf,
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One message as aiosmtpd stored it.
#[derive(Debug)]
pub struct Delivered {
    /// The envelope and session facts (`mail_from`, `rcpt_tos`, `mail_options`, `tls`,
    /// `auth`, `connection`...).
    pub meta: Value,
    /// The DATA content, unstuffed.
    pub data: Vec<u8>,
}

impl Delivered {
    pub fn strings(&self, key: &str) -> Vec<String> {
        self.meta[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {}", self.meta))
            .iter()
            .map(|v| v.as_str().expect("a string").to_owned())
            .collect()
    }

    pub fn mail_from(&self) -> &str {
        self.meta["mail_from"].as_str().expect("mail_from")
    }

    pub fn connection(&self) -> u64 {
        self.meta["connection"].as_u64().expect("connection")
    }
}

impl Aiosmtpd {
    /// Every message stored so far, in order. Each one's files are complete before the
    /// server's 250, so after a successful send its message is here.
    pub fn messages(&self) -> Vec<Delivered> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("the message folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|json| Delivered {
                meta: serde_json::from_slice(&std::fs::read(&json).expect("read json"))
                    .expect("valid json"),
                data: std::fs::read(json.with_extension("eml")).expect("read eml"),
            })
            .collect()
    }

    pub fn only_message(&self) -> Delivered {
        let mut m = self.messages();
        assert_eq!(m.len(), 1, "{m:?}");
        m.remove(0)
    }

    /// The one stored message carrying `marker`.
    pub fn message_with(&self, marker: &str) -> Delivered {
        let mut m: Vec<_> = self
            .messages()
            .into_iter()
            .filter(|m| m.data.windows(marker.len()).any(|w| w == marker.as_bytes()))
            .collect();
        assert_eq!(m.len(), 1, "one message holds {marker}: {m:?}");
        m.remove(0)
    }
}

/// The interpreter that has aiosmtpd: Debian's (`apt install python3-aiosmtpd`), which may
/// not be the first `python3` on PATH (pyenv); `POSTEL_AIOSMTPD_PYTHON` overrides.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("POSTEL_AIOSMTPD_PYTHON") {
        return p.into();
    }
    let debian = Path::new("/usr/bin/python3");
    if debian.exists() {
        debian.to_owned()
    } else {
        "python3".into()
    }
}

/// `None` after a loud SKIP, or a panic when real servers are required.
pub fn unavailable<T>(test: &str, why: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("POSTEL_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
    {
        panic!(
            "CI=true (or POSTEL_REQUIRE_SERVERS=1) but aiosmtpd cannot run: {why} \
             (scripts/install-deps.sh installs python3-aiosmtpd and openssl)"
        );
    }
    eprintln!("\n*** SKIP {test}: {why} (apt install python3-aiosmtpd openssl) ***\n");
    None
}

/// The test PKI (scripts/pki.sh: root.pem, server-chain.pem, expired-chain.pem...), made
/// once per test binary.
pub fn pki() -> Result<PathBuf, String> {
    static PKI: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aiosmtpd-pki");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pki.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run bash: {e}"))?;
        if out.status.success() {
            Ok(dir)
        } else {
            Err(format!(
                "scripts/pki.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    })
    .clone()
}

/// The flags giving aiosmtpd `leaf` (`server`, `expired`, `wronghost`, `untrusted`) for
/// STARTTLS, or `None` after a SKIP.
pub fn starttls(test: &str, leaf: &str) -> Option<Vec<String>> {
    match pki() {
        Ok(dir) => Some(vec![
            "--starttls".to_owned(),
            dir.join(format!("{leaf}-chain.pem")).display().to_string(),
            dir.join(format!("{leaf}.key")).display().to_string(),
        ]),
        Err(why) => unavailable(test, &why),
    }
}

/// Starts aiosmtpd on an ephemeral loopback port with `flags`
/// (see tests/py/aiosmtpd_server.py).
pub fn start<S: AsRef<str>>(test: &str, flags: &[S]) -> Option<Aiosmtpd> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "postel-aiosmtpd-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create the message folder");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../postel/tests/py/aiosmtpd_server.py");
    let python = python();
    let spawned = Command::new(&python)
        .arg(script)
        .arg("--dir")
        .arg(&dir)
        .args(flags.iter().map(AsRef::as_ref))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return unavailable(test, &format!("cannot run {}: {e}", python.display())),
    };
    let stdin = child.stdin.take().expect("piped stdin");
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
    match line.trim().strip_prefix("PORT ").map(str::parse) {
        Some(Ok(port)) => Some(Aiosmtpd {
            child,
            _stdin: stdin,
            port,
            dir,
        }),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            let _ = std::fs::remove_dir_all(&dir);
            if err.contains("No module named 'aiosmtpd'") {
                return unavailable(
                    test,
                    &format!("{} cannot import aiosmtpd", python.display()),
                );
            }
            panic!("aiosmtpd did not start (stdout {line:?}):\n{err}");
        }
    }
}
