//! End to end: the built `postel` binary against postel-sim on loopback.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use postel_sim::fault::Fault;
use postel_sim::Config;

use common::{assert_code, run, text, Setup, BIN};

impl Setup {
    fn server(&self) -> String {
        self.sim.addr().to_string()
    }

    /// `postel send --server .. --ca-file .. --user alice --password-env PW` plus `args`.
    fn send(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new(BIN);
        c.arg("send")
            .args(["--server", &self.server(), "--ca-file"])
            .arg(&self.ca)
            .args([
                "--user",
                "alice",
                "--password-env",
                "PW",
                "--helo",
                "client.test",
            ])
            .args(args)
            .env("PW", "s3cret-pw")
            .env("XDG_CONFIG_HOME", self.dir.path().join("none"));
        run(c, stdin)
    }

    /// A config file with one default account pointing at the simulator.
    fn config(&self, extra: &str) -> PathBuf {
        self.account_config(&format!(
            "user = \"alice\"\npassword_env = \"PW\"\nhelo = \"client.test\"\n{extra}"
        ))
    }
}

/// The message after the `Date:` and `Message-ID:` fields that `sendmail` and
/// `send --raw` put first when the message lacks them (each checked here).
#[track_caller]
fn after_added_fields(data: &[u8]) -> String {
    let t = text(data);
    let (date, rest) = t.split_once("\r\n").unwrap_or_default();
    assert!(
        date.starts_with("Date: ") && date.ends_with(" +0000"),
        "{t}"
    );
    let (id, rest) = rest.split_once("\r\n").unwrap_or_default();
    assert!(id.starts_with("Message-ID: <") && id.ends_with('>'), "{t}");
    rest.to_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn send_composes_a_message_with_attachment_over_starttls_and_auth() {
    let s = Setup::with_alice();
    let file = s.dir.path().join("notes.txt");
    std::fs::write(&file, "attached bytes\n").unwrap();
    let o = s.send(
        &[
            "--from",
            "Alice <alice@client.test>",
            "--to",
            "bob@mx.test",
            "--cc",
            "carol@mx.test",
            "--bcc",
            "dave@mx.test",
            "--subject",
            "Report",
            "--text",
            "See attached.\n",
            "--header",
            "X-Tracking: 42",
            "--attach",
        ],
        None,
    );
    assert_code(&o, 64); // --attach without its value: a usage error, EX_USAGE
    let o = s.send(
        &[
            "--from",
            "Alice <alice@client.test>",
            "--to",
            "bob@mx.test",
            "--cc",
            "carol@mx.test",
            "--bcc",
            "dave@mx.test",
            "--subject",
            "Report",
            "--text",
            "See attached.\n",
            "--header",
            "X-Tracking: 42",
            "--attach",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m.len(), 1);
    let m = &m[0];
    assert!(m.tls);
    assert_eq!(m.auth_user.as_deref(), Some("alice"));
    assert_eq!(m.mail_from, "alice@client.test");
    let rcpts: Vec<&str> = m.rcpt_to.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(rcpts, ["bob@mx.test", "carol@mx.test", "dave@mx.test"]);
    let data = text(&m.data);
    assert!(data.contains("Subject: Report\r\n"), "{data}");
    assert!(data.contains("X-Tracking: 42\r\n"), "{data}");
    assert!(data.contains("filename=notes.txt"), "{data}");
    assert!(
        !data.contains("dave@mx.test"),
        "Bcc leaked into the headers: {data}"
    );
    assert!(
        !data.contains('\n') || !data.replace("\r\n", "").contains('\n'),
        "bare LF"
    );
}

#[test]
fn json_lists_accepted_and_refused_recipients_and_exit_is_67() {
    let s = Setup::with_alice();
    s.sim.set_faults(vec![Fault::refuse_recipient(
        "nobody@mx.test",
        550,
        "5.1.1 <nobody@mx.test>: Recipient address rejected",
    )]);
    let o = s.send(
        &[
            "--from",
            "a@client.test",
            "--to",
            "bob@mx.test",
            "--to",
            "nobody@mx.test",
            "--text",
            "x",
            "--json",
        ],
        None,
    );
    assert_code(&o, 67);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["exit_code"], 67);
    let msg = &v["messages"][0];
    assert_eq!(msg["accepted"][0]["address"], "bob@mx.test");
    assert_eq!(msg["refused"][0]["address"], "nobody@mx.test");
    assert_eq!(msg["refused"][0]["reply"]["code"], 550);
    assert_eq!(msg["refused"][0]["reply"]["enhanced"], "5.1.1");
}

#[test]
fn a_temporary_refusal_of_every_recipient_exits_75_and_a_permanent_one_67() {
    let s = Setup::with_alice();
    s.sim.set_faults(vec![
        Fault::refuse_recipient("busy@mx.test", 450, "4.2.1 Mailbox busy"),
        Fault::refuse_recipient("gone@mx.test", 550, "5.1.1 No such user"),
    ]);
    let o = s.send(
        &[
            "--from",
            "a@client.test",
            "--to",
            "busy@mx.test",
            "--text",
            "x",
        ],
        None,
    );
    assert_code(&o, 75);
    let o = s.send(
        &[
            "--from",
            "a@client.test",
            "--to",
            "gone@mx.test",
            "--text",
            "x",
        ],
        None,
    );
    assert_code(&o, 67);
    assert!(text(&o.stderr).contains("550"), "{}", text(&o.stderr));
}

#[test]
fn nothing_listening_is_a_temporary_failure() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = run(
        {
            let mut c = Command::new(BIN);
            c.args([
                "send",
                "--server",
                &format!("127.0.0.1:{port}"),
                "--tls",
                "none",
            ])
            .args(["--from", "a@x.test", "--to", "b@y.test", "--text", "x"]);
            c
        },
        None,
    );
    assert_code(&o, 75);
}

#[test]
fn an_untrusted_certificate_is_a_permanent_failure_and_nothing_is_sent() {
    let s = Setup::with_alice();
    let o = run(
        {
            let mut c = Command::new(BIN);
            c.args(["send", "--server", &s.server()])
                .args(["--from", "a@x.test", "--to", "b@y.test", "--text", "x"]);
            c
        },
        None,
    );
    // The platform's roots do not include the simulator's CA.
    assert_code(&o, 69);
    assert!(
        text(&o.stderr).contains("certificate"),
        "{}",
        text(&o.stderr)
    );
    assert!(s.sim.messages().is_empty());
}

#[test]
fn transcript_redacts_credentials() {
    let s = Setup::with_alice();
    let o = s.send(
        &[
            "--from",
            "a@client.test",
            "--to",
            "b@mx.test",
            "--text",
            "x",
            "--transcript",
        ],
        None,
    );
    assert_code(&o, 0);
    let out = text(&o.stdout);
    assert!(out.contains(" -> EHLO client.test"), "{out}");
    assert!(out.contains(" -> STARTTLS"), "{out}");
    assert!(out.contains("<redacted>"), "{out}");
    assert!(!out.contains("s3cret-pw"), "{out}");
    // The base64 of "\0alice\0s3cret-pw" (PLAIN) must not appear either.
    assert!(!out.contains("czNjcmV0LXB3"), "{out}");
}

#[test]
fn several_raw_messages_go_over_one_connection_with_envelopes_from_headers() {
    let s = Setup::with_alice();
    let a = s.dir.path().join("a.eml");
    let b = s.dir.path().join("b.eml");
    std::fs::write(
        &a,
        "From: a@client.test\nTo: one@mx.test\nBcc: hidden@mx.test\nSubject: first\n\nbody one\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "From: a@client.test\nTo: two@mx.test\nSubject: second\n\nbody twö\n",
    )
    .unwrap();
    let o = s.send(
        &[
            "--raw",
            a.to_str().unwrap(),
            "--raw",
            b.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(2, Duration::from_secs(5));
    assert_eq!(m.len(), 2);
    assert_eq!(s.sim.connections(), 1);
    let r0: Vec<&str> = m[0].rcpt_to.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(r0, ["one@mx.test", "hidden@mx.test"]);
    assert_eq!(
        after_added_fields(&m[0].data),
        "From: a@client.test\r\nTo: one@mx.test\r\nSubject: first\r\n\r\nbody one\r\n"
    );
    assert_eq!(m[1].rcpt_to[0].address, "two@mx.test");
    // Files are measured ahead: the exact SIZE=, and BODY=8BITMIME only for the 8-bit one.
    for msg in &m {
        let size = msg.data.len().to_string();
        assert_eq!(msg.mail_param("SIZE"), Some(size.as_str()));
    }
    assert_eq!(m[0].mail_param("BODY"), None);
    assert_eq!(m[1].mail_param("BODY"), Some("8BITMIME"));
}

#[test]
fn raw_from_stdin_with_an_explicit_envelope() {
    let s = Setup::with_alice();
    let o = s.send(
        &[
            "--raw",
            "-",
            "--from",
            "env@client.test",
            "--to",
            "x@mx.test",
        ],
        Some(b"From: header@client.test\nTo: y@mx.test\nSubject: s\n\nb\n"),
    );
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m[0].mail_from, "env@client.test");
    assert_eq!(m[0].rcpt_to.len(), 1);
    assert_eq!(m[0].rcpt_to[0].address, "x@mx.test");
}

#[test]
fn the_account_from_the_config_file_is_used() {
    let s = Setup::with_alice();
    let cfg = s.config("from = \"Me <me@client.test>\"\n");
    let mut c = Command::new(BIN);
    c.arg("--config")
        .arg(&cfg)
        .args([
            "send",
            "--to",
            "b@mx.test",
            "--subject",
            "cfg",
            "--text",
            "x",
        ])
        .env("PW", "s3cret-pw");
    let o = run(c, None);
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m[0].mail_from, "me@client.test");
}

#[cfg(unix)]
#[test]
fn a_readable_config_file_with_a_literal_password_is_refused_with_78() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::with_alice();
    let path = s.dir.path().join("leaky.toml");
    std::fs::write(
        &path,
        "[accounts.x]\nhost = \"127.0.0.1\"\nuser = \"alice\"\npassword = \"s3cret-pw\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = Command::new(BIN);
    c.arg("--config").arg(&path).args([
        "send",
        "--account",
        "x",
        "--to",
        "b@mx.test",
        "--from",
        "a@x.test",
    ]);
    let o = run(c, None);
    assert_code(&o, 78);
    let err = text(&o.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    // Private: accepted (and the password is used).
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        &path,
        format!(
            "[accounts.x]\nhost = \"127.0.0.1\"\nport = {}\nca_file = {:?}\nuser = \"alice\"\npassword = \"s3cret-pw\"\n",
            s.sim.addr().port(),
            s.ca.display().to_string()
        ),
    )
    .unwrap();
    let mut c = Command::new(BIN);
    c.arg("--config").arg(&path).args([
        "send",
        "--account",
        "x",
        "--to",
        "b@mx.test",
        "--from",
        "a@x.test",
        "--text",
        "x",
    ]);
    assert_code(&run(c, None), 0);
}

#[test]
fn a_wrong_password_command_is_a_config_error() {
    let s = Setup::with_alice();
    let mut c = Command::new(BIN);
    c.args([
        "send",
        "--server",
        &s.server(),
        "--user",
        "alice",
        "--password-command",
        "exit 3",
    ])
    .args(["--from", "a@x.test", "--to", "b@y.test", "--text", "x"]);
    let o = run(c, None);
    assert_code(&o, 78);
}

#[test]
fn there_is_no_plain_password_flag() {
    let o = run(
        {
            let mut c = Command::new(BIN);
            c.args(["send", "--server", "x", "--password", "hunter2"]);
            c
        },
        None,
    );
    assert_ne!(code(&o), 0);
    assert!(
        text(&o.stderr).contains("--password"),
        "{}",
        text(&o.stderr)
    );
}

/// cron: `printf 'To: a@x\nSubject: s\n\nbody\n' | sendmail -t`, bare LF, Bcc removed.
#[test]
fn sendmail_t_from_a_cron_style_pipe_delivers_crlf_without_bcc() {
    let s = Setup::with_alice();
    let cfg = s.config("from = \"cron@client.test\"\n");
    let mut c = Command::new(BIN);
    c.args(["sendmail", "-t"])
        .env("POSTEL_CONFIG", &cfg)
        .env("PW", "s3cret-pw");
    let o = run(
        c,
        Some(b"To: a@mx.test\nBcc: secret@mx.test\nSubject: s\n\nbody\n"),
    );
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].mail_from, "cron@client.test");
    let r: Vec<&str> = m[0].rcpt_to.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(r, ["a@mx.test", "secret@mx.test"]);
    assert_eq!(
        after_added_fields(&m[0].data),
        "From: cron@client.test\r\nTo: a@mx.test\r\nSubject: s\r\n\r\nbody\r\n"
    );
}

/// PHP's mail() and many scripts pipe a message with no From: and give no -f: the sender
/// is the login name at this host, as Postfix's and msmtp's sendmail make it.
#[test]
fn sendmail_without_any_sender_uses_login_at_host() {
    let s = Setup::with_alice();
    let cfg = s.config("");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim().trim_end_matches('.');
    let mut c = Command::new(BIN);
    c.args(["sendmail", "-i", "a@mx.test"])
        .env("POSTEL_CONFIG", &cfg)
        .env("PW", "s3cret-pw")
        .env("LOGNAME", "webapp")
        .env("USER", "someone-else");
    let o = run(c, Some(b"To: a@mx.test\nSubject: s\n\nbody\n"));
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m[0].mail_from, format!("webapp@{host}"));
    assert_eq!(
        after_added_fields(&m[0].data),
        format!("From: webapp@{host}\r\nTo: a@mx.test\r\nSubject: s\r\n\r\nbody\r\n")
    );

    // A login that cannot be an address gives the clear error, and nothing is sent.
    let mut c = Command::new(BIN);
    c.args(["sendmail", "-i", "a@mx.test"])
        .env("POSTEL_CONFIG", &cfg)
        .env("PW", "s3cret-pw")
        .env("LOGNAME", "we b\r\napp");
    let o = run(c, Some(b"To: a@mx.test\nSubject: s\n\nbody\n"));
    assert_code(&o, 65);
    assert!(
        text(&o.stderr).contains("no From: header"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(s.sim.messages().len(), 1);
}

#[test]
fn sendmail_through_a_link_named_sendmail_with_arguments_and_f() {
    let s = Setup::with_alice();
    let cfg = s.config("");
    let link = s.dir.path().join("sendmail");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let mut c = Command::new(&link);
    c.args([
        "-oi",
        "-oem",
        "-f",
        "bounce@client.test",
        "-F",
        "The Robot",
        "--",
        "x@mx.test",
    ])
    .env("POSTEL_CONFIG", &cfg)
    .env("PW", "s3cret-pw");
    let o = run(c, Some(b"Subject: hi\n\nline\n.\nstill body\n"));
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m[0].mail_from, "bounce@client.test");
    let data = after_added_fields(&m[0].data);
    assert!(
        data.starts_with("From: The Robot <bounce@client.test>\r\n"),
        "{data}"
    );
    // -oi: the lone dot is content (dot-stuffed on the wire, un-stuffed by the server).
    assert!(data.ends_with("line\r\n.\r\nstill body\r\n"), "{data}");
}

#[test]
fn sendmail_without_i_stops_at_a_lone_dot_and_refusals_exit_67() {
    let s = Setup::with_alice();
    s.sim.set_faults(vec![Fault::refuse_recipient(
        "gone@mx.test",
        550,
        "5.1.1 No such user",
    )]);
    let cfg = s.config("from = \"me@client.test\"\n");
    let mut c = Command::new(BIN);
    c.args(["sendmail", "ok@mx.test", "gone@mx.test"])
        .env("POSTEL_CONFIG", &cfg)
        .env("PW", "s3cret-pw");
    let o = run(c, Some(b"Subject: hi\n\nkept\n.\ndropped\n"));
    assert_code(&o, 67);
    assert!(
        text(&o.stderr).contains("gone@mx.test"),
        "{}",
        text(&o.stderr)
    );
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert!(
        text(&m[0].data).ends_with("kept\r\n"),
        "{}",
        text(&m[0].data)
    );
}

#[test]
fn sendmail_with_no_recipients_is_a_usage_error() {
    let s = Setup::with_alice();
    let cfg = s.config("from = \"me@client.test\"\n");
    let mut c = Command::new(BIN);
    c.args(["sendmail"])
        .env("POSTEL_CONFIG", &cfg)
        .env("PW", "s3cret-pw");
    let o = run(c, Some(b"Subject: hi\n\nx\n"));
    assert_code(&o, 64);
}

#[test]
fn probe_shows_tls_chain_and_auth_of_the_simulator() {
    let s = Setup::start(Config::builder().require_tls_for_auth(true).build());
    let mut c = Command::new(BIN);
    c.args(["probe", &s.server(), "--json", "--ca-file"])
        .arg(&s.ca);
    let o = run(c, None);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tls"]["verified"], true);
    assert!(v["greeting"][0]
        .as_str()
        .unwrap()
        .starts_with("220 mx.sim.test"));
    assert!(v["auth"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "SCRAM-SHA-256"));
    assert!(!v["tls"]["chain"].as_array().unwrap().is_empty());
    // Without the CA: reported, exit 69.
    let mut c = Command::new(BIN);
    c.args(["probe", &s.server(), "--json"]);
    let o = run(c, None);
    assert_code(&o, 69);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tls"]["verified"], false);
    assert!(v["tls"]["verify_error"]
        .as_str()
        .unwrap()
        .contains("unknown issuer"));
}

#[test]
fn demo_delivers_and_shows_the_redacted_session_and_the_message() {
    let t = std::time::Instant::now();
    let o = run(
        {
            let mut c = Command::new(BIN);
            c.arg("demo");
            c
        },
        None,
    );
    assert_code(&o, 0);
    let out = text(&o.stdout);
    assert!(out.contains(" -> STARTTLS"), "{out}");
    assert!(out.contains("AUTH SCRAM-SHA-256 <redacted>"), "{out}");
    assert!(!out.contains("demo-password"), "{out}");
    assert!(out.contains("filename=readings.csv"), "{out}");
    assert!(out.contains("=== end of message"), "{out}");
    assert!(!out.contains("\x1b["), "colour when piped");
    // About 0.1 s on a quiet machine; the margin is for a loaded CI.
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn completions_and_man_page_come_from_the_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(
            {
                let mut c = Command::new(BIN);
                c.args(["completions", shell]);
                c
            },
            None,
        );
        assert_code(&o, 0);
        assert!(text(&o.stdout).contains("password-command"), "{shell}");
    }
    let o = run(
        {
            let mut c = Command::new(BIN);
            c.arg("man");
            c
        },
        None,
    );
    assert_code(&o, 0);
    assert!(
        text(&o.stdout).contains(".TH postel"),
        "{}",
        text(&o.stdout)
    );
    let dir = tempfile::tempdir().unwrap();
    let mut c = Command::new(BIN);
    c.args(["man", "--dir"]).arg(dir.path());
    assert_code(&run(c, None), 0);
    assert!(Path::new(&dir.path().join("postel-send.1")).exists());
}

#[test]
fn sendmail_v_prints_the_redacted_session_on_stderr() {
    let s = Setup::with_alice();
    let cfg = s.config("from = \"me@client.test\"\n");
    let mut c = Command::new(BIN);
    c.args(["sendmail", "-v", "-i", "x@mx.test"])
        .env("POSTEL_CONFIG", &cfg)
        .env("PW", "s3cret-pw");
    let o = run(c, Some(b"Subject: v\n\nx\n"));
    assert_code(&o, 0);
    let err = text(&o.stderr);
    assert!(err.contains(" -> RCPT TO:<x@mx.test>"), "{err}");
    assert!(
        err.contains("<redacted>") && !err.contains("s3cret-pw"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

/// `postel sim` in the foreground: prints where it listens, then each message; stops on
/// SIGINT (Ctrl-C).
#[cfg(unix)]
#[test]
fn postel_sim_prints_messages_as_they_arrive_and_stops_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let maildir = dir.path().join("Maildir");
    let mut sim = Command::new(BIN)
        .args([
            "sim",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--user",
            "bob:pw",
            "--write-ca",
        ])
        .arg(&ca)
        .arg("--maildir")
        .arg(&maildir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, format!("postel-sim listening on 127.0.0.1:{port}"));

    let mut c = Command::new(BIN);
    c.args([
        "send",
        "--server",
        &format!("127.0.0.1:{port}"),
        "--ca-file",
    ])
    .arg(&ca)
    .args(["--user", "bob", "--password-command", "echo pw"])
    .args([
        "--from",
        "a@client.test",
        "--to",
        "b@mx.test",
        "--subject",
        "via postel sim",
        "--text",
        "x",
    ]);
    let o = run(c, None);
    assert_code(&o, 0);
    let mut seen = Vec::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        let end = l.starts_with("=== end of message");
        seen.push(l);
        if end {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l == "Subject: via postel sim"),
        "{seen:?}"
    );
    assert!(seen.iter().any(|l| l.contains("TLS, AUTH bob")), "{seen:?}");
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 1);

    let kill = Command::new("kill")
        .args(["-INT", &sim.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = sim.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// What Debian's cron runs: `sendmail -FCronDaemon -i -B8BITMIME -oem root@...`, with
/// its own headers (an unqualified `To: root`) and bare LF line ends.
#[test]
fn sendmail_as_debian_cron_calls_it() {
    let s = Setup::with_alice();
    let cfg = s.config("from = \"cron@client.test\"\n");
    let mut c = Command::new(BIN);
    c.args([
        "sendmail",
        "-FCronDaemon",
        "-i",
        "-B8BITMIME",
        "-oem",
        "root@mx.test",
    ])
    .env("POSTEL_CONFIG", &cfg)
    .env("PW", "s3cret-pw");
    let input = "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@box> /usr/local/bin/backup\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nbackup done: 3 files, 1.2 GB \u{2713}\n";
    let o = run(c, Some(input.as_bytes()));
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m[0].mail_from, "cron@client.test");
    assert_eq!(m[0].rcpt_to[0].address, "root@mx.test");
    assert_eq!(after_added_fields(&m[0].data), input.replace('\n', "\r\n"));
}

/// DSN requests (RFC 3461) from `postel send` flags and from sendmail's -N/-R/-V reach the
/// server as MAIL and RCPT parameters; REQUIRETLS fails before MAIL where it is not offered.
#[test]
fn dsn_requests_reach_the_server_from_send_and_sendmail() {
    let s = Setup::with_alice();
    let o = s.send(
        &[
            "--from",
            "a@client.test",
            "--to",
            "b@mx.test",
            "--text",
            "hi",
            "--dsn-notify",
            "success,failure",
            "--dsn-return",
            "headers",
            "--envid",
            "QQ+314 159",
        ],
        None,
    );
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m[0].mail_param("RET"), Some("HDRS"));
    assert_eq!(m[0].mail_param("ENVID"), Some("QQ+2B314+20159"));
    assert_eq!(m[0].rcpt_to[0].param("NOTIFY"), Some("SUCCESS,FAILURE"));

    let cfg = s.config("from = \"cron@client.test\"\n");
    let mut c = Command::new(BIN);
    c.args([
        "sendmail",
        "-i",
        "-N",
        "never",
        "-R",
        "full",
        "-V",
        "job-7",
        "c@mx.test",
    ])
    .env("POSTEL_CONFIG", &cfg)
    .env("PW", "s3cret-pw");
    let o = run(c, Some(b"Subject: s\n\nbody\n"));
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(2, Duration::from_secs(5));
    assert_eq!(m[1].mail_param("RET"), Some("FULL"));
    assert_eq!(m[1].mail_param("ENVID"), Some("job-7"));
    assert_eq!(m[1].rcpt_to[0].param("NOTIFY"), Some("NEVER"));

    let simple = [
        "--from",
        "a@client.test",
        "--to",
        "b@mx.test",
        "--text",
        "hi",
    ];
    let with =
        |extra: &[&'static str]| -> Vec<&str> { simple.iter().chain(extra).copied().collect() };

    // Bad values are usage errors, found before anything is sent.
    assert_code(&s.send(&with(&["--dsn-notify", "never,success"]), None), 64);
    assert_code(&s.send(&with(&["--envid", "a\r\nRSET"]), None), 64);

    // The simulator does not offer REQUIRETLS: the message fails before MAIL.
    let o = s.send(&with(&["--require-tls"]), None);
    assert!(
        text(&o.stderr).contains("REQUIRETLS"),
        "{}",
        text(&o.stderr)
    );
    assert_ne!(code(&o), 0);
    assert_eq!(s.sim.messages().len(), 2);
}

/// A server whose greeting never ends: probe stops with a protocol error (exit 76) after a
/// bounded amount, instead of collecting lines until memory runs out.
#[test]
fn probe_bounds_an_endless_reply() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let line = b"220-endless.test still greeting you, and still\r\n";
        // Stops when the client hangs up (or after far more than any bound).
        for _ in 0..1_000_000 {
            if sock.write_all(line).is_err() {
                return;
            }
        }
    });
    let mut c = Command::new(BIN);
    c.args(["probe", &addr.to_string(), "--tls", "none"]);
    let o = run(c, None);
    assert_code(&o, 76);
    assert!(
        text(&o.stderr).contains("longer than 65536 bytes"),
        "{}",
        text(&o.stderr)
    );
}
