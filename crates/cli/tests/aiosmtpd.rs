//! `postel send` end to end against aiosmtpd, a real SMTP server independent of Postfix
//! and of postel-sim (Debian's `python3-aiosmtpd`, run by
//! crates/postel/tests/py/aiosmtpd_server.py, which stores each message's envelope and
//! exact DATA bytes). Without aiosmtpd a test prints a loud SKIP, or panics when CI=true
//! or POSTEL_REQUIRE_SERVERS=1 (scripts/test.sh).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};

use common::{assert_code, run, BIN};

/// A running aiosmtpd (killed on drop) and the folder it stores messages in.
struct Aiosmtpd {
    child: Child,
    /// aiosmtpd_server.py exits when its stdin closes, even if this process dies.
    _stdin: ChildStdin,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Aiosmtpd {
    fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Each stored message: its envelope (JSON) and exact bytes, in order.
    fn messages(&self) -> Vec<(serde_json::Value, Vec<u8>)> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let meta = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                (meta, std::fs::read(p.with_extension("eml")).unwrap())
            })
            .collect()
    }
}

fn python() -> PathBuf {
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
fn unavailable(why: &str) -> Option<Aiosmtpd> {
    if std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("POSTEL_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
    {
        panic!("CI=true (or POSTEL_REQUIRE_SERVERS=1) but aiosmtpd cannot run: {why} (scripts/install-deps.sh installs python3-aiosmtpd)");
    }
    eprintln!("\n*** SKIP postel-cli aiosmtpd tests: {why} (apt install python3-aiosmtpd) ***\n");
    None
}

fn start(flags: &[&str]) -> Option<Aiosmtpd> {
    let dir = tempfile::tempdir().unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../postel/tests/py/aiosmtpd_server.py");
    let python = python();
    let spawned = Command::new(&python)
        .arg(script)
        .arg("--dir")
        .arg(dir.path())
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return unavailable(&format!("cannot run {}: {e}", python.display())),
    };
    let stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    if let Some(Ok(port)) = line.trim().strip_prefix("PORT ").map(str::parse) {
        return Some(Aiosmtpd {
            child,
            _stdin: stdin,
            port,
            dir,
        });
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if err.contains("No module named 'aiosmtpd'") {
        return unavailable(&format!("{} cannot import aiosmtpd", python.display()));
    }
    panic!("aiosmtpd did not start (stdout {line:?}):\n{err}");
}

fn send(s: &Aiosmtpd, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(["send", "--server", &s.server(), "--tls", "none"])
        .args(args);
    run(c, None)
}

#[test]
fn send_raw_files_over_one_connection_arrive_crlf_normalized_and_unstuffed() {
    let Some(s) = start(&[]) else { return };
    let first = s.dir.path().join("first.eml");
    let second = s.dir.path().join("second.eml");
    // LF line ends, as files on Unix have them; dotted lines; 8-bit.
    std::fs::write(
        &first,
        "From: a@client.test\nTo: b@example.test\nSubject: raw one\n\n.\n..two\n.x\nGr\u{fc}\u{df}e\n",
    )
    .unwrap();
    std::fs::write(&second, b"Subject: raw two\r\n\r\nsecond\r\n").unwrap();
    let o = send(
        &s,
        &[
            "--from",
            "a@client.test",
            "--to",
            "b@example.test",
            // The bytes as they are: no Date: or Message-ID: added.
            "--no-add-headers",
            "--raw",
            first.to_str().unwrap(),
            "--raw",
            second.to_str().unwrap(),
        ],
    );
    assert_code(&o, 0);
    let m = s.messages();
    assert_eq!(m.len(), 2);
    assert_eq!(
        m[0].1,
        "From: a@client.test\r\nTo: b@example.test\r\nSubject: raw one\r\n\r\n.\r\n..two\r\n.x\r\nGr\u{fc}\u{df}e\r\n"
            .as_bytes()
    );
    assert_eq!(m[1].1, b"Subject: raw two\r\n\r\nsecond\r\n");
    for (meta, _) in &m {
        assert_eq!(meta["mail_from"], "a@client.test");
        assert_eq!(meta["rcpt_tos"], serde_json::json!(["b@example.test"]));
        assert_eq!(meta["connection"], 1, "both over one connection");
    }
    // 8-bit content is declared (RFC 6152).
    let body = |i: usize| {
        m[i].0["mail_options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "BODY=8BITMIME")
    };
    assert!(body(0), "{}", m[0].0);
}

#[test]
fn send_text_composes_a_message_aiosmtpd_accepts() {
    let Some(s) = start(&[]) else { return };
    let o = send(
        &s,
        &[
            "--from",
            "a@client.test",
            "--to",
            "b@example.test",
            "--subject",
            "hello aiosmtpd",
            "--text",
            "line one\n.dotted\n",
        ],
    );
    assert_code(&o, 0);
    let m = s.messages();
    assert_eq!(m.len(), 1);
    let text = String::from_utf8(m[0].1.clone()).unwrap();
    assert!(text.contains("\r\nSubject: hello aiosmtpd\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\nline one\r\n.dotted\r\n"),
        "{text:?}"
    );
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {text:?}"
    );
}

#[test]
fn a_refused_recipient_gives_exit_67_and_the_others_get_the_message() {
    let Some(s) = start(&["--refuse", "nobody@example.test"]) else {
        return;
    };
    let o = send(
        &s,
        &[
            "--from",
            "a@client.test",
            "--to",
            "b@example.test",
            "--to",
            "nobody@example.test",
            "--text",
            "x",
            "--json",
        ],
    );
    assert_code(&o, 67);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let refused = &v["messages"][0]["refused"][0];
    assert_eq!(refused["address"], "nobody@example.test");
    assert_eq!(refused["reply"]["code"], 550);
    let m = s.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].0["rcpt_tos"], serde_json::json!(["b@example.test"]));
}
