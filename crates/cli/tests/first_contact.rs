//! `postel send` as a person meets it (issue 14): a piped body is sent, the wrong TLS mode
//! fails in seconds with the mode to use, errors say what to do next and exit with the
//! code msmtp's callers expect, and `--server` does not take the default account's login.
//! Each test runs the built binary against postel-sim or a listener of its own.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use postel_sim::{Config, Extension};

use common::{assert_code, text, Setup, BIN};

/// Long enough for the TLS check (a few seconds), far below RFC 5321's 300 s greeting wait.
const PATIENCE: Duration = Duration::from_secs(40);

/// `postel ARGS` with no config file but the one given, PW in the environment, `stdin`
/// piped in (or /dev/null); killed after [`PATIENCE`]. Returns the output and how long
/// it took.
fn postel(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> (Output, Duration) {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("PW", "s3cret-pw")
        .env_remove("POSTEL_CONFIG")
        .env_remove("POSTEL_ACCOUNT")
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    finish(c, stdin)
}

fn finish(mut c: Command, stdin: Option<&[u8]>) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > PATIENCE {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

#[track_caller]
fn assert_says(o: &Output, wanted: &str) {
    let err = text(&o.stderr);
    assert!(err.contains(wanted), "stderr lacks {wanted:?}:\n{err}");
}

impl Setup {
    fn server(&self) -> String {
        self.sim.addr().to_string()
    }

    fn ca(&self) -> &str {
        self.ca.to_str().unwrap()
    }

    /// A config file whose default account "sim" logs in to the simulator as alice.
    fn config(&self) -> String {
        let path = self.account_config(
            "user = \"alice\"\npassword_env = \"PW\"\nfrom = \"alice@client.test\"\n",
        );
        path.to_str().unwrap().to_owned()
    }
}

const MESSAGE: [&str; 6] = [
    "--from",
    "alice@client.test",
    "--to",
    "bob@mx.test",
    "--subject",
    "s",
];

#[test]
fn a_body_piped_into_send_is_the_message_body() {
    let s = Setup::with_alice();
    let server = s.server();
    let mut args = vec!["send", "--server", &server, "--ca-file"];
    args.extend([s.ca(), "--user", "alice", "--password-env", "PW"]);
    args.extend(MESSAGE);
    let (o, _) = postel(
        s.dir.path(),
        &args,
        Some(b"body from a pipe\nsecond line\n"),
    );
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    let data = text(&m[0].data);
    assert!(
        data.contains("\r\n\r\nbody from a pipe\r\nsecond line\r\n"),
        "{data}"
    );

    // A piped body that is not UTF-8 is refused with what to do, not mangled.
    let (o, _) = postel(s.dir.path(), &args, Some(b"caf\xe9\n"));
    assert_code(&o, 66);
    assert_says(&o, "cannot read stdin");
    assert_says(&o, "--attach");
    assert_eq!(s.sim.messages().len(), 1);
}

#[test]
fn starttls_against_an_implicit_tls_port_fails_in_seconds_naming_implicit() {
    let s = Setup::start(Config::builder().implicit_tls(true).build());
    let server = s.server();
    let mut args = vec!["send", "--server", &server, "--tls", "starttls"];
    args.extend(["--ca-file", s.ca()]);
    args.extend(MESSAGE);
    args.extend(["--text", "x"]);
    let (o, took) = postel(s.dir.path(), &args, None);
    assert_code(&o, 78);
    assert_says(
        &o,
        "this port expects TLS from the first byte: use --tls implicit",
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(s.sim.messages().is_empty());

    // The same through the account: the hint names the account's key and the file.
    let cfg = s.dir.path().join("implicit.toml");
    std::fs::write(
        &cfg,
        format!(
            "default = \"work\"\n[accounts.work]\nhost = \"127.0.0.1\"\nport = {}\n\
             tls = \"starttls\"\nfrom = \"a@client.test\"\n",
            s.sim.addr().port()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let (o, _) = postel(
        s.dir.path(),
        &["--config", cfg, "send", "--to", "b@mx.test", "--text", "x"],
        None,
    );
    assert_code(&o, 78);
    assert_says(&o, "tls = \"implicit\" in account \"work\"");
    assert_says(&o, &format!("[account \"work\" in {cfg}]"));

    // With --json, stdout still gets a JSON answer.
    let (o, _) = postel(
        s.dir.path(),
        &[
            "--config",
            cfg,
            "send",
            "--to",
            "b@mx.test",
            "--text",
            "x",
            "--json",
        ],
        None,
    );
    assert_code(&o, 78);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["exit_code"], 78);
    assert!(
        v["error"].as_str().unwrap().contains("use --tls implicit"),
        "{v}"
    );
}

#[test]
fn implicit_tls_against_a_starttls_port_says_try_starttls() {
    let s = Setup::with_alice();
    let server = s.server();
    let mut args = vec!["send", "--server", &server, "--tls", "implicit"];
    args.extend([
        "--ca-file",
        s.ca(),
        "--user",
        "alice",
        "--password-env",
        "PW",
    ]);
    args.extend(MESSAGE);
    args.extend(["--text", "x"]);
    let (o, took) = postel(s.dir.path(), &args, None);
    assert_code(&o, 78);
    assert_says(
        &o,
        &format!("{server} does not speak TLS from the first byte: try --tls starttls"),
    );
    assert!(!text(&o.stderr).contains("InvalidContentType"));
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_silent_port_is_bounded_by_timeout_and_says_no_greeting() {
    // Accepts, reads what comes (a ClientHello too) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut sink = [0u8; 512];
                while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["send", "--server", &addr, "--tls", "none", "--timeout", "2"];
    args.extend(MESSAGE);
    args.extend(["--text", "x"]);
    let (o, took) = postel(dir.path(), &args, None);
    assert_code(&o, 75);
    assert_says(&o, "timed out after 2s");
    assert_says(&o, "accepted the connection but sent no greeting");
    // 2 s for the greeting, at most 5 s for the TLS check.
    assert!(took < Duration::from_secs(12), "took {took:?}");

    // On a terminal, what it is doing shows while it waits.
    let line = format!(
        "{BIN} send --server {addr} --tls none --timeout 2 --from a@x.test --to b@y.test --text x"
    );
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"])
        .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (o, _) = finish(c, None);
    let shown = text(&o.stdout);
    assert!(shown.contains(&format!("connecting to {addr}…")), "{shown}");
    assert!(shown.contains("checking whether it expects TLS"), "{shown}");
}

#[test]
fn an_unknown_host_is_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["send", "--server", "no-such-host.invalid", "--tls", "none"];
    args.extend(MESSAGE);
    args.extend(["--text", "x"]);
    let (o, _) = postel(dir.path(), &args, None);
    if text(&o.stderr).contains("Temporary failure in name resolution") {
        // No resolver reachable here: that one is worth retrying.
        assert_code(&o, 75);
        assert_says(&o, "could not be looked up now");
    } else {
        assert_code(&o, 68);
        assert_says(&o, "there is no host \"no-such-host.invalid\"");
    }
}

#[test]
fn a_wrong_password_exits_77_naming_the_account_and_file() {
    let s = Setup::with_alice();
    let cfg = s.config();
    let mut c = Command::new(BIN);
    c.args([
        "--config",
        &cfg,
        "send",
        "--to",
        "bob@mx.test",
        "--text",
        "x",
    ])
    .env("PW", "wrong")
    .env("XDG_CONFIG_HOME", s.dir.path().join("no-config"))
    .env_remove("POSTEL_ACCOUNT")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let (o, _) = finish(c, None);
    assert_code(&o, 77);
    assert_says(&o, "535");
    assert_says(&o, "check them");
    assert_says(&o, &format!("[account \"sim\" in {cfg}]"));
    assert!(s.sim.messages().is_empty());

    // A mistake on the command line names the account too, once.
    let (o, _) = postel(
        s.dir.path(),
        &["--config", &cfg, "send", "--text", "x"],
        None,
    );
    assert_code(&o, 64);
    assert_says(&o, "no recipient");
    let err = text(&o.stderr);
    assert_eq!(err.matches("[account \"sim\" in").count(), 1, "{err}");
}

#[test]
fn an_unknown_issuer_names_ca_file() {
    let s = Setup::with_alice();
    let server = s.server();
    let mut args = vec!["send", "--server", &server];
    args.extend(MESSAGE);
    args.extend(["--text", "x"]);
    let (o, _) = postel(s.dir.path(), &args, None);
    assert_code(&o, 69);
    assert_says(&o, "unknown issuer");
    assert_says(&o, "--ca-file PEM");
    assert_says(&o, "trust store");
}

#[test]
fn server_without_account_does_not_take_the_default_accounts_login() {
    // No AUTH offered: the default account's credentials cannot be used here.
    let s = Setup::start(Config::builder().without(Extension::Auth).build());
    let cfg = s.config();
    let server = s.server();
    let mut args = vec!["--config", &cfg, "send", "--server", &server];
    args.extend(["--ca-file", s.ca()]);
    args.extend(MESSAGE);
    args.extend(["--text", "x"]);
    let (o, _) = postel(s.dir.path(), &args, None);
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m[0].auth_user, None);

    // Named, the account is used, and its login cannot be done here: said, with the
    // account.
    let mut args = vec!["--config", &cfg, "send", "--account", "sim"];
    args.extend(["--server", &server]);
    args.extend(MESSAGE);
    args.extend(["--text", "x"]);
    let (o, _) = postel(s.dir.path(), &args, None);
    assert_code(&o, 78);
    assert_says(&o, "give --server without --account");
    assert_says(&o, &format!("[account \"sim\" in {cfg}]"));
    assert_eq!(s.sim.messages().len(), 1);
}

#[test]
fn on_a_terminal_stdin_is_not_read_and_the_empty_body_is_said() {
    let s = Setup::with_alice();
    let line = format!(
        "{BIN} send --server {} --ca-file {} --user alice --password-env PW \
         --from alice@client.test --to bob@mx.test --subject reminder",
        s.server(),
        s.ca()
    );
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"])
        .env("PW", "s3cret-pw")
        .env("XDG_CONFIG_HOME", s.dir.path().join("no-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (o, _) = finish(c, None);
    assert_code(&o, 0);
    let shown = text(&o.stdout);
    assert!(shown.contains("no body given"), "{shown}");
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    let data = text(&m[0].data);
    assert!(data.contains("Subject: reminder\r\n"), "{data}");
    assert!(
        data.ends_with("\r\n\r\n") || data.ends_with("\r\n\r\n\r\n"),
        "{data:?}"
    );
}

#[test]
fn sendmail_says_a_refused_login_with_77_and_the_account() {
    let s = Setup::with_alice();
    let cfg = s.config();
    let mut c = Command::new(BIN);
    c.args(["--config", &cfg, "sendmail", "-t"])
        .env("PW", "wrong")
        .env("XDG_CONFIG_HOME", s.dir.path().join("no-config"))
        .env_remove("POSTEL_ACCOUNT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (o, _) = finish(c, Some(b"To: bob@mx.test\nSubject: s\n\nbody\n"));
    assert_code(&o, 77);
    assert_says(&o, "check them");
    assert_says(&o, &format!("[account \"sim\" in {cfg}]"));
    assert!(s.sim.messages().is_empty());
}
