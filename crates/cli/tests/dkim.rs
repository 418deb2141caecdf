//! DKIM end to end: `postel send`, `send --raw -`, `sendmail` and the queue sign; the
//! exact bytes aiosmtpd received, and the message the project's Postfix delivered after
//! relaying it (with its Received and Return-Path added), are checked by two verifiers that
//! are not ours: Python's dkimpy (scripts/dkim-verify.py, keys given instead of DNS) and
//! Exim's built-in verifier (scripts/dkim-exim.sh, keys served by a DNS server in a
//! private network namespace). A changed body and a changed signed header must fail in
//! both. Without dkimpy, Exim, aiosmtpd or Postfix a test prints a loud SKIP, or panics
//! when CI=true or POSTEL_REQUIRE_SERVERS=1 (scripts/test.sh).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_code, run, text, BIN};

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("POSTEL_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

fn skip(why: &str) {
    if required() {
        panic!("CI=true (or POSTEL_REQUIRE_SERVERS=1) but {why} (scripts/install-deps.sh)");
    }
    eprintln!("\n*** SKIP postel-cli DKIM test: {why} ***\n");
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let debian = Path::new("/usr/bin/python3");
    if debian.exists() {
        debian.to_owned()
    } else {
        "python3".into()
    }
}

/// Whether both verifiers can run: dkimpy imports, and the Exim script can run (root,
/// unshare).
fn verifiers() -> bool {
    let dkimpy = Command::new(python())
        .args(["-c", "import dkim, dns"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !dkimpy {
        skip("python3 cannot import dkim (apt install python3-dkim)");
        return false;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root {
        skip("the Exim verifier needs root (unshare, port 53 in its namespace)");
        return false;
    }
    true
}

/// A key pair made by `postel dkim keygen`: the key file and its `NAME=TXT` record.
struct Key {
    path: PathBuf,
    record: String,
    selector: String,
}

fn keygen(dir: &Path, algorithm: &str, selector: &str) -> Key {
    let path = dir.join(format!("{selector}.pem"));
    let mut c = Command::new(BIN);
    c.args(["dkim", "keygen", "--algorithm", algorithm, "--bits", "1024"])
        .args(["--selector", selector, "--domain", "example.com", "--out"])
        .arg(&path);
    let o = run(c, None);
    assert_code(&o, 0);
    let out = text(&o.stdout);
    // `NAME. IN TXT "..."` or `( "..." "..." )`: the strings joined are the value.
    let (name, rest) = out.trim().split_once(". IN TXT ").unwrap();
    let value: String = rest
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    assert_eq!(name, format!("{selector}._domainkey.example.com"));
    Key {
        path,
        record: format!("{name}={value}"),
        selector: selector.into(),
    }
}

/// What each verifier said about `message`: (dkimpy passed, Exim passed), with their
/// output for the assertion messages.
fn verify(message: &[u8], keys: &[&Key]) -> (bool, bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.eml");
    std::fs::write(&file, message).unwrap();
    let records: Vec<&str> = keys.iter().map(|k| k.record.as_str()).collect();
    let py = Command::new(python())
        .arg(repo().join("scripts/dkim-verify.py"))
        .arg(&file)
        .args(&records)
        .output()
        .unwrap();
    let exim = Command::new("bash")
        .arg(repo().join("scripts/dkim-exim.sh"))
        .arg(&file)
        .args(&records)
        .output()
        .unwrap();
    assert!(
        matches!(exim.status.code(), Some(0 | 1)),
        "dkim-exim.sh could not run: {}{}",
        text(&exim.stdout),
        text(&exim.stderr)
    );
    let said = format!(
        "dkimpy: {}{}exim: {}{}",
        text(&py.stdout),
        text(&py.stderr),
        text(&exim.stdout),
        text(&exim.stderr)
    );
    (py.status.success(), exim.status.success(), said)
}

#[track_caller]
fn assert_verifies(message: &[u8], keys: &[&Key]) {
    let (py, exim, said) = verify(message, keys);
    assert!(
        py && exim,
        "expected both to pass:\n{said}\n{}",
        text(message)
    );
}

/// Both verifiers must say no to a changed body and to a changed signed header.
#[track_caller]
fn assert_tampering_fails(message: &[u8], keys: &[&Key]) {
    let s = text(message);
    let body_at = s.find("\r\n\r\n").or_else(|| s.find("\n\n")).unwrap();
    let (head, body) = s.split_at(body_at);
    let tampered_body = format!("{head}{}", body.replacen("dinner", "Dinner", 1));
    assert_ne!(tampered_body, s, "the body should say dinner");
    let (py, exim, said) = verify(tampered_body.as_bytes(), keys);
    assert!(!py && !exim, "a changed body must fail in both:\n{said}");
    let tampered_head = s.replacen("Subject: Is dinner", "Subject: Is lunch", 1);
    assert_ne!(tampered_head, s, "the subject should be there");
    let (py, exim, said) = verify(tampered_head.as_bytes(), keys);
    assert!(!py && !exim, "a changed Subject must fail in both:\n{said}");
}

/// A running aiosmtpd (crates/postel/tests/py/aiosmtpd_server.py), killed on drop.
struct Aiosmtpd {
    child: Child,
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
    fn start() -> Option<Aiosmtpd> {
        let dir = tempfile::tempdir().unwrap();
        let script = repo().join("crates/postel/tests/py/aiosmtpd_server.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
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
                skip("aiosmtpd did not start (apt install python3-aiosmtpd)");
                None
            }
        }
    }

    fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The exact DATA bytes of each message received, in order.
    fn messages(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| std::fs::read(p.with_extension("eml")).unwrap())
            .collect()
    }
}

fn dkim_flags(key: &Key) -> Vec<String> {
    vec![
        "--dkim-key".into(),
        key.path.display().to_string(),
        "--dkim-selector".into(),
        key.selector.clone(),
        "--dkim-domain".into(),
        "example.com".into(),
    ]
}

const RAW: &str = "From: Joe SixPack <joe@example.com>\n\
                   To: Suzie Q <suzie@example.net>\n\
                   Subject: Is dinner ready?\n\
                   Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\n\
                   Message-ID: <20030712040037.46341.5F8J@example.com>\n\
                   \n\
                   Hi.\n\nWe lost the game.  Are you hungry yet?   \n\n.leading dot\nJoe, dinner?\n\n\n";

#[test]
fn keygen_prints_a_loadable_key_and_its_record() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ["ed25519", "rsa"] {
        let k = keygen(dir.path(), alg, &format!("k{alg}"));
        let pem = std::fs::read_to_string(&k.path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&k.path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let key = postel_mime::dkim::SigningKey::from_pem(&pem).unwrap();
        assert_eq!(
            k.record,
            format!("k{alg}._domainkey.example.com={}", key.dns_txt_value())
        );
    }
    // Without --out the key goes to stdout, before the record.
    let mut c = Command::new(BIN);
    c.args(["dkim", "keygen", "--algorithm", "ed25519"]);
    let o = run(c, None);
    assert_code(&o, 0);
    let out = text(&o.stdout);
    assert!(out.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(out.contains(
        "-----END PRIVATE KEY-----\npostel._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p="
    ));
}

#[test]
fn bad_dkim_settings_fail_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let not_key = dir.path().join("cert.pem");
    std::fs::write(
        &not_key,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let good = keygen(dir.path(), "ed25519", "s1");
    // A listener that must never see a connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                "--dkim-key".into(),
                dir.path().join("missing.pem").display().to_string(),
                "--dkim-selector".into(),
                "s".into(),
                "--dkim-domain".into(),
                "example.com".into(),
            ],
            78,
            "cannot read DKIM key file",
        ),
        (
            vec![
                "--dkim-key".into(),
                not_key.display().to_string(),
                "--dkim-selector".into(),
                "s".into(),
                "--dkim-domain".into(),
                "example.com".into(),
            ],
            78,
            "is not a private key",
        ),
        (
            vec![
                "--dkim-key".into(),
                good.path.display().to_string(),
                "--dkim-domain".into(),
                "example.com".into(),
            ],
            64,
            "a key needs a selector",
        ),
        (
            vec![
                "--dkim-key".into(),
                good.path.display().to_string(),
                "--dkim-selector".into(),
                "s1".into(),
            ],
            64,
            "a key needs a domain",
        ),
        (
            vec![
                "--dkim-key".into(),
                good.path.display().to_string(),
                "--dkim-selector".into(),
                "bad selector".into(),
                "--dkim-domain".into(),
                "example.com".into(),
            ],
            78,
            "bad DKIM selector",
        ),
        (
            vec!["--dkim-selector".into(), "s1".into()],
            64,
            "need --dkim-key",
        ),
    ];
    for (flags, code, says) in cases {
        let mut c = Command::new(BIN);
        c.args([
            "send",
            "--server",
            &server,
            "--tls",
            "none",
            "--from",
            "a@example.com",
        ])
        .args(["--to", "b@example.net", "--text", "hi"])
        .args(&flags);
        let o = run(c, None);
        assert_code(&o, code);
        assert!(
            text(&o.stderr).contains(says),
            "{flags:?}: {}",
            text(&o.stderr)
        );
        assert!(listener.accept().is_err(), "{flags:?} connected");
    }
}

#[test]
fn send_composed_and_raw_stdin_verify_and_tampering_fails() {
    if !verifiers() {
        return;
    }
    let Some(s) = Aiosmtpd::start() else { return };
    let ed = keygen(s.dir.path(), "ed25519", "ed");
    let rsa = keygen(s.dir.path(), "rsa", "rsa");
    let attach = s.dir.path().join("menu.bin");
    std::fs::write(
        &attach,
        (0..50_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let mut expected = 0;
    for (key, canon) in [
        (&ed, "relaxed/relaxed"),
        (&rsa, "simple/simple"),
        (&rsa, "relaxed/simple"),
    ] {
        // Composed, with an attachment and 8-bit text.
        let mut c = Command::new(BIN);
        c.args(["send", "--server", &s.server(), "--tls", "none"])
            .args([
                "--from",
                "Joe SixPack <joe@example.com>",
                "--to",
                "suzie@example.net",
            ])
            .args([
                "--subject",
                "Is dinner ready?",
                "--text",
                "Ça va? dinner  at   eight \n\n",
            ])
            .arg("--attach")
            .arg(&attach)
            .args(dkim_flags(key))
            .args(["--dkim-canon", canon, "--dkim-oversign"]);
        assert_code(&run(c, None), 0);
        // Raw, from stdin (spooled, then signed from the spool).
        let mut c = Command::new(BIN);
        c.args([
            "send",
            "--server",
            &s.server(),
            "--tls",
            "none",
            "--raw",
            "-",
        ])
        .args(dkim_flags(key))
        .args(["--dkim-canon", canon]);
        assert_code(&run(c, Some(RAW.as_bytes())), 0);
        expected += 2;
        let got = s.messages();
        assert_eq!(got.len(), expected);
        for m in &got[expected - 2..] {
            let t = text(m);
            assert!(t.starts_with("DKIM-Signature: v=1; a="), "{t}");
            assert!(t.contains(&format!("c={canon};")), "{t}");
            assert_verifies(m, &[key]);
            assert_tampering_fails(m, &[key]);
        }
        // The raw message arrives as given, after the signature (CRLF, Bcc-free).
        let raw = &got[expected - 1];
        let crlf = RAW.replace('\n', "\r\n");
        assert!(text(raw).ends_with(&crlf), "{}", text(raw));
    }
}

#[test]
fn sendmail_signs_with_the_account_keys() {
    if !verifiers() {
        return;
    }
    let Some(s) = Aiosmtpd::start() else { return };
    let key = keygen(s.dir.path(), "ed25519", "acct");
    let config = s.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "default = \"relay\"\n[accounts.relay]\nhost = \"127.0.0.1\"\nport = {}\n\
             tls = \"none\"\ndkim_key = {:?}\ndkim_selector = \"acct\"\n\
             dkim_domain = \"example.com\"\ndkim_oversign = true\n",
            s.port,
            key.path.display().to_string()
        ),
    )
    .unwrap();
    let mut c = Command::new(BIN);
    c.args(["sendmail", "-t", "-C"]).arg(&config);
    let o = run(c, Some(RAW.as_bytes()));
    assert_code(&o, 0);
    let got = s.messages();
    assert_eq!(got.len(), 1, "{}", text(&o.stderr));
    let t = text(&got[0]);
    assert!(
        t.contains("h=from:from:to:to:subject:subject:date:date:message-id;"),
        "{t}"
    );
    assert_verifies(&got[0], &[&key]);
    assert_tampering_fails(&got[0], &[&key]);
}

#[test]
fn queue_signs_when_queued_and_the_retry_sends_the_same_bytes() {
    if !verifiers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "rsa", "q");
    let qdir = dir.path().join("queue");
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let postel = |args: &[&str], stdin: &[u8]| {
        let mut c = Command::new(BIN);
        c.env("POSTEL_CONFIG", &config)
            .arg("queue")
            .arg("--queue-dir")
            .arg(&qdir)
            .args(args);
        run(c, Some(stdin))
    };
    let mut add = vec!["add", "--from", "joe@example.com", "suzie@example.net"];
    let flags = dkim_flags(&key);
    add.extend(flags.iter().map(String::as_str));
    let o = postel(&add, RAW.as_bytes());
    assert_code(&o, 0);
    let id = text(&o.stdout).trim().to_string();
    let o = postel(&["show", &id, "--message"], b"");
    assert_code(&o, 0);
    let queued = o.stdout;
    assert!(queued.starts_with(b"DKIM-Signature: v=1; a=rsa-sha256;"));
    assert_verifies(&queued, &[&key]);
    // The first try fails (nothing listens), the second reaches aiosmtpd: both send the
    // bytes signed when queued.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().to_string();
    drop(closed);
    let o = postel(&["run", "--server", &dead, "--tls", "none"], b"");
    assert!(
        postel(&["list"], b"").stdout.starts_with(id.as_bytes()),
        "{}",
        text(&o.stderr)
    );
    let Some(s) = Aiosmtpd::start() else { return };
    assert_code(&postel(&["flush"], b""), 0);
    let o = postel(&["run", "--server", &s.server(), "--tls", "none"], b"");
    assert_code(&o, 0);
    let got = s.messages();
    assert_eq!(got.len(), 1, "{}", text(&o.stderr));
    assert_eq!(got[0], queued, "the queued bytes are the bytes sent");
    assert_verifies(&got[0], &[&key]);
    assert_tampering_fails(&got[0], &[&key]);
}

fn postfix_env(name: &str) -> Option<String> {
    std::env::var(format!("POSTEL_POSTFIX_{name}")).ok()
}

/// The message Postfix delivered holding `token`.
fn delivered(maildir: &str, token: &str) -> Vec<u8> {
    let dir = PathBuf::from(maildir).join("new");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if let Ok(b) = std::fs::read(e.path()) {
                if text(&b).contains(token) {
                    return b;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no message with {token} in {}", dir.display());
}

#[test]
fn relayed_through_postfix_relaxed_still_verifies() {
    let Some(submission) = postfix_env("SUBMISSION") else {
        skip("POSTEL_POSTFIX_* not set (scripts/postfix-up.sh; . target/postfix/env)");
        return;
    };
    if !verifiers() {
        return;
    }
    let (ca, user, maildir, domain) = (
        postfix_env("CA").unwrap(),
        postfix_env("USER").unwrap(),
        postfix_env("MAILDIR").unwrap(),
        postfix_env("DOMAIN").unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let ed = keygen(dir.path(), "ed25519", "pf");
    let rsa = keygen(dir.path(), "rsa", "pfr");
    let token = format!(
        "dkim-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let to = format!("someone@{domain}");
    let send = |key: &Key, tag: &str| -> Output {
        let mut c = Command::new(BIN);
        c.args([
            "send",
            "--server",
            &submission,
            "--ca-file",
            &ca,
            "--user",
            &user,
        ])
        .args(["--password-env", "POSTEL_POSTFIX_PASSWORD"])
        .args(["--from", "joe@example.com", "--to", &to])
        .args(["--subject", &format!("Is dinner ready? {token}-{tag}")])
        .args(["--text", "Hi.\n\nWe lost the game. dinner?  \n"])
        .args(dkim_flags(key));
        run(c, None)
    };
    assert_code(&send(&ed, "ed"), 0);
    assert_code(&send(&rsa, "rsa"), 0);
    for (key, tag) in [(&ed, "ed"), (&rsa, "rsa")] {
        let m = delivered(&maildir, &format!("{token}-{tag}"));
        let t = text(&m);
        // Postfix added its trace fields above the signature.
        assert!(t.starts_with("Return-Path: "), "{t}");
        assert!(t.contains("\nReceived: from "), "{t}");
        assert!(t.find("Received: ").unwrap() < t.find("DKIM-Signature: ").unwrap());
        assert_verifies(&m, &[key]);
        assert_tampering_fails(&m, &[key]);
    }
}
