//! The built `postel` binary, given hostile or odd input, against postel-sim: what reaches
//! the wire is checked byte for byte (issue 13, "Client").

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use postel_sim::{BlockingSimulator, Config};

use common::{assert_code, run, text, Setup, BIN};

impl Setup {
    /// `postel send --server .. --ca-file .. --no-add-headers` plus `args`.
    fn send(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new(BIN);
        c.arg("send")
            .args(["--server", &self.sim.addr().to_string(), "--ca-file"])
            .arg(&self.ca)
            .args(["--helo", "client.test", "--no-add-headers"])
            .args(args)
            .env("XDG_CONFIG_HOME", self.dir.path().join("none"));
        run(c, stdin)
    }

    /// A config file whose default account `sim` is the simulator, without a login.
    fn config(&self) -> PathBuf {
        self.account_config("helo = \"client.test\"\nfrom = \"me@client.test\"\n")
    }

    /// `postel sendmail` plus `args`, through [`Setup::config`].
    fn sendmail(&self, args: &[&str], stdin: &[u8]) -> Output {
        let cfg = self.config();
        let mut c = Command::new(BIN);
        c.arg("sendmail").args(args).env("POSTEL_CONFIG", &cfg);
        run(c, Some(stdin))
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

/// Nothing reached the server: no message, and no MAIL command in any session.
#[track_caller]
fn nothing_sent(s: &Setup) {
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.sim.messages().is_empty());
    for t in s.sim.transcripts() {
        let t = format!("{t:?}");
        assert!(!t.contains("MAIL FROM"), "{t}");
    }
}

#[test]
fn a_bare_cr_in_a_raw_header_is_refused_not_sent_as_a_new_header() {
    let s = Setup::start(Config::builder().build());
    let f = s.file(
        "cr.eml",
        b"From: a@client.test\nTo: b@mx.test\nSubject: a\rBcc: evil@mx.test\n\nbody\n",
    );
    let o = s.send(&["--raw", &f], None);
    assert_code(&o, 65);
    let err = text(&o.stderr);
    assert!(err.contains("header line 3 holds a bare CR"), "{err}");
    let o = s.sendmail(
        &["-t"],
        b"To: b@mx.test\nSubject: a\rFrom: forged@mx.test\n\nbody\n",
    );
    assert_code(&o, 65);
    assert!(text(&o.stderr).contains("bare CR"), "{}", text(&o.stderr));
    let o = s.send(
        &["--raw", "-", "--from", "a@client.test", "--to", "b@mx.test"],
        Some(b"Subject: a\rTo: x@mx.test\n\nbody\n"),
    );
    assert_code(&o, 65);
    // `queue add` too: refused, nothing queued.
    let q = s.dir.path().join("q");
    let mut c = Command::new(BIN);
    c.arg("queue")
        .arg("--queue-dir")
        .arg(&q)
        .args(["add", "-f", "a@client.test", "b@mx.test"]);
    let o = run(c, Some(b"Subject: a\rBcc: evil@mx.test\n\nbody\n"));
    assert_code(&o, 65);
    assert!(text(&o.stderr).contains("bare CR"), "{}", text(&o.stderr));
    let mut c = Command::new(BIN);
    c.arg("queue").arg("--queue-dir").arg(&q).arg("list");
    let o = run(c, None);
    assert!(
        text(&o.stdout).contains("the queue is empty"),
        "{}",
        text(&o.stdout)
    );
    nothing_sent(&s);
}

#[test]
fn nul_bytes_are_refused_and_nothing_is_sent() {
    let s = Setup::start(Config::builder().build());
    let mut big = b"From: a@client.test\nTo: b@mx.test\nSubject: s\n\n".to_vec();
    big.extend(std::iter::repeat_n(b"0123456789\n".as_slice(), 10_000).flatten());
    big.extend_from_slice(b"x\0y\n");
    let f = s.file("nul.eml", &big);
    let o = s.send(&["--raw", &f], None);
    assert_code(&o, 65);
    let err = text(&o.stderr);
    assert!(err.contains("body line 10001 holds a NUL byte"), "{err}");
    let o = s.sendmail(&["-t", "-i"], b"To: b@mx.test\nSubject: s\n\na\0b\n");
    assert_code(&o, 65);
    assert!(text(&o.stderr).contains("NUL"), "{}", text(&o.stderr));
    nothing_sent(&s);
}

#[test]
fn sendmail_t_removes_resent_bcc_and_takes_the_resent_recipients() {
    let s = Setup::start(Config::builder().build());
    let o = s.sendmail(
        &["-t", "-i", "--no-add-headers"],
        b"From: a@client.test\nTo: orig@mx.test\nDate: Fri, 04 Dec 2026 20:00:00 +0000\n\
Message-ID: <1@client.test>\nResent-From: me@client.test\nResent-To: new@mx.test\n\
Resent-Bcc: hidden@mx.test\nSubject: s\n\nbody\n",
    );
    assert_code(&o, 0);
    let m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m[0].recipients(), ["new@mx.test", "hidden@mx.test"]);
    assert_eq!(
        text(&m[0].data),
        "From: a@client.test\r\nTo: orig@mx.test\r\nDate: Fri, 04 Dec 2026 20:00:00 +0000\r\n\
Message-ID: <1@client.test>\r\nResent-From: me@client.test\r\nResent-To: new@mx.test\r\n\
Subject: s\r\n\r\nbody\r\n"
    );
}

/// SIZE= (RFC 1870) is the size of what is delivered: after line ends become CRLF, with
/// the fields the client adds, without the dots stuffing adds.
#[test]
fn size_counts_the_bytes_actually_sent() {
    let s = Setup::start(Config::builder().build());
    let raw = s.file(
        "lf.eml",
        b"From: a@client.test\nTo: b@mx.test\nSubject: s\n\nbare LF\nbare CR\rCRLF\r\n.dot\n\
no final line end",
    );
    let attached = s.file(
        "blob.bin",
        &(0u8..=255).cycle().take(5000).collect::<Vec<_>>(),
    );
    let runs = [
        s.send(&["--raw", &raw], None),
        {
            // With the Date: and Message-ID: the client adds.
            let mut c = Command::new(BIN);
            c.arg("send")
                .args(["--server", &s.sim.addr().to_string(), "--ca-file"])
                .arg(&s.ca)
                .args(["--helo", "client.test", "--raw", &raw])
                .env("XDG_CONFIG_HOME", s.dir.path().join("none"));
            run(c, None)
        },
        s.sendmail(&["b@mx.test"], b"Subject: s\n\nline\n.dot\rx\n"),
        s.send(
            &["--raw", "-", "--from", "a@client.test", "--to", "b@mx.test"],
            Some(b"Subject: stdin\n\n\xc3\xa9t\xc3\xa9\n.\n..\rend"),
        ),
        s.sendmail(&["-t", "-i"], b"To: b@mx.test\nBcc: c@mx.test\n\n.\nlast"),
        s.send(
            &[
                "--from",
                "a@client.test",
                "--to",
                "b@mx.test",
                "--text",
                "one\ntwo\r\n.three\rfour",
                "--attach",
                &attached,
            ],
            None,
        ),
    ];
    for o in &runs {
        assert_code(o, 0);
    }
    let m = s.sim.wait_for_messages(runs.len(), Duration::from_secs(5));
    assert_eq!(m.len(), runs.len());
    for msg in &m {
        let size = msg.data.len().to_string();
        assert_eq!(
            msg.mail_param("SIZE"),
            Some(size.as_str()),
            "{}",
            text(&msg.data)
        );
    }
}

/// A config file anyone can write (or replace) names the command that is run: refused
/// with 78 before `password_command` runs.
#[test]
fn a_world_writable_config_file_or_directory_is_refused_before_password_command_runs() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::start(Config::builder().build());
    let marker = s.dir.path().join("password_command_ran");
    let dir = s.dir.path().join("conf");
    std::fs::create_dir(&dir).unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[accounts.x]\nhost = \"127.0.0.1\"\nport = {}\nca_file = {:?}\nuser = \"alice\"\n\
             password_command = \"touch {} && echo pw\"\n",
            s.sim.addr().port(),
            s.ca.display().to_string(),
            marker.display()
        ),
    )
    .unwrap();
    let attempt = || {
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&cfg).args([
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
        run(c, None)
    };
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    for (file_mode, dir_mode, bad) in [(0o666, 0o700, "the file"), (0o600, 0o777, "the directory")]
    {
        mode(&cfg, file_mode);
        mode(&dir, dir_mode);
        let o = attempt();
        assert_code(&o, 78);
        let err = text(&o.stderr);
        assert!(err.contains(&format!("{bad} ")), "{err}");
        assert!(err.contains("writable by anyone"), "{err}");
        assert!(!marker.exists(), "password_command ran");
    }
    // Through a symbolic link in a private directory: the target's directory counts.
    let link = s.dir.path().join("link.toml");
    std::os::unix::fs::symlink(&cfg, &link).unwrap();
    let mut c = Command::new(BIN);
    c.arg("--config")
        .arg(&link)
        .args(["send", "--account", "x", "--to", "b@mx.test"]);
    assert_code(&run(c, None), 78);
    assert!(!marker.exists(), "password_command ran");
    // A sticky world-writable directory (as /tmp) and a private file: the command runs.
    mode(&dir, 0o1777);
    let o = attempt();
    assert!(marker.exists(), "{}", text(&o.stderr));
    mode(&dir, 0o700);
}

/// A plain-text server on loopback whose every reply text holds control characters (a
/// terminal title escape, a screen clear, a bare CR that rewrites the line, BEL, NUL).
/// Serves `sessions` connections, then stops.
fn hostile_server(sessions: usize) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for _ in 0..sessions {
            let Ok((sock, _)) = listener.accept() else {
                return;
            };
            let mut out = sock.try_clone().unwrap();
            let mut lines = BufReader::new(sock);
            let _ = out.write_all(b"220 evil.test \x1b]0;pwned\x07 ready\r\n");
            let mut line = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.to_ascii_uppercase();
                let reply: &[u8] = if cmd.starts_with("EHLO") {
                    b"250-evil.test hi\x1b[2J\r\n250-X-EVIL\x1b[31m\x00\r\n250 8BITMIME\r\n"
                } else if cmd.starts_with("MAIL") {
                    b"250 2.1.0 ok\rFORGED\x1b[2K\r\n"
                } else if cmd.starts_with("RCPT") {
                    b"550 5.1.1 no such user\rSENT OK\x1b[1A\x07\x00 really\r\n"
                } else if cmd.starts_with("QUIT") {
                    b"221 bye\x1b[H\r\n"
                } else {
                    b"502 what\x1b[?25l\r\n"
                };
                if out.write_all(reply).is_err() || cmd.starts_with("QUIT") {
                    break;
                }
            }
        }
    });
    addr
}

/// No byte a terminal acts on: only printable text, tabs and line feeds. Our own colours
/// (with `CLICOLOR_FORCE`) are the only escapes, and are SGR sequences we write.
#[track_caller]
fn inert(what: &str, bytes: &[u8]) {
    let t = text(bytes);
    // Strip our own SGR colour sequences (ESC [ digits/; m) first.
    let mut rest = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            let mut seq = String::from("\x1b[");
            chars.next();
            while let Some(&d) = chars.peek() {
                seq.push(d);
                chars.next();
                if !(d.is_ascii_digit() || d == ';') {
                    break;
                }
            }
            if seq.ends_with('m') && seq.len() > 3 {
                continue;
            }
            rest.push_str(&seq);
            continue;
        }
        rest.push(c);
    }
    for c in rest.chars() {
        assert!(
            !c.is_control() || c == '\n' || c == '\t',
            "{what}: control character {c:?} reached the output:\n{t:?}"
        );
    }
}

#[test]
fn server_text_is_inert_in_errors_transcripts_and_probe() {
    let addr = hostile_server(6).to_string();
    for colour in ["0", "1"] {
        let mut c = Command::new(BIN);
        c.args([
            "send",
            "--server",
            &addr,
            "--tls",
            "none",
            "--helo",
            "client.test",
        ])
        .args([
            "--from",
            "a@client.test",
            "--to",
            "b@mx.test",
            "--text",
            "x",
        ])
        .arg("--transcript")
        .env("CLICOLOR_FORCE", colour)
        .env("XDG_CONFIG_HOME", "/nonexistent");
        let o = run(c, None);
        assert!(o.status.code() != Some(0), "{}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("no such user"),
            "{}",
            text(&o.stderr)
        );
        assert!(
            text(&o.stdout).contains("no such user"),
            "{}",
            text(&o.stdout)
        );
        inert("send stderr", &o.stderr);
        inert("send --transcript", &o.stdout);
        for json in [false, true] {
            let mut c = Command::new(BIN);
            c.args(["probe", &addr, "--tls", "none"])
                .env("CLICOLOR_FORCE", colour)
                .env("XDG_CONFIG_HOME", "/nonexistent");
            if json {
                c.arg("--json");
            }
            let o = run(c, None);
            assert!(text(&o.stdout).contains("evil.test"), "{}", text(&o.stdout));
            inert("probe stdout", &o.stdout);
            inert("probe stderr", &o.stderr);
        }
    }
}

/// SIZE= on the queue's paths too: `queue add` of bare-LF bytes then `queue run`, and
/// `send --direct` with an attachment (composed, queued in memory, sent to the MX).
#[test]
fn size_counts_the_bytes_actually_sent_from_the_queue_and_direct() {
    use std::net::{IpAddr, Ipv4Addr};
    let s = Setup::start(Config::builder().build());
    let cfg = s.config();
    let q = s.dir.path().join("queue");
    let q = q.to_str().unwrap();
    let mut c = Command::new(BIN);
    c.args([
        "queue",
        "--queue-dir",
        q,
        "add",
        "-f",
        "a@client.test",
        "b@mx.test",
    ])
    .env("POSTEL_CONFIG", &cfg);
    let o = run(c, Some(b"Subject: q\n\nbare LF\n.dot\rCR\r\n\nend"));
    assert_code(&o, 0);
    let mut c = Command::new(BIN);
    c.args(["queue", "--queue-dir", q, "run"])
        .env("POSTEL_CONFIG", &cfg);
    assert_code(&run(c, None), 0);

    let mx = BlockingSimulator::start(
        Config::builder()
            .bind(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
            .build(),
    )
    .unwrap();
    let attached = s.file(
        "blob.bin",
        &(0u8..=255).cycle().take(3000).collect::<Vec<_>>(),
    );
    let mut c = Command::new(BIN);
    c.args([
        "send",
        "--direct",
        "--mx-port",
        &mx.addr().port().to_string(),
    ])
    .args([
        "--helo",
        "client.test",
        "--from",
        "a@client.test",
        "--to",
        "b@[127.0.0.2]",
    ])
    .args(["--text", "x\ny\r\n.z", "--attach", &attached])
    .env("XDG_CONFIG_HOME", s.dir.path().join("none"))
    .env("POSTEL_QUEUE_DIR", s.dir.path().join("q2"));
    assert_code(&run(c, None), 0);

    let mut m = s.sim.wait_for_messages(1, Duration::from_secs(5));
    m.extend(mx.wait_for_messages(1, Duration::from_secs(5)));
    assert_eq!(m.len(), 2);
    assert!(text(&m[0].data).ends_with("bare LF\r\n.dot\r\nCR\r\n\r\nend\r\n"));
    for msg in &m {
        let size = msg.data.len().to_string();
        assert_eq!(
            msg.mail_param("SIZE"),
            Some(size.as_str()),
            "{}",
            text(&msg.data)
        );
    }
}

/// A DNS server on loopback that knows one name with no MX: `wide.test`, A records
/// 127.0.0.60 to .63 (so its implicit MX has four addresses). Every other question gets
/// an empty answer. RFC 1035 §4.1 by hand.
fn wide_dns() -> std::net::SocketAddr {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            // Header (12), then the name's labels to the root, then QTYPE, QCLASS.
            let Some(zero) = q.iter().skip(12).position(|&b| b == 0).map(|p| p + 12) else {
                continue;
            };
            let Some(tail) = q.get(zero + 1..zero + 5) else {
                continue;
            };
            let labels = &q[12..zero];
            let is_wide = labels.eq_ignore_ascii_case(b"\x04wide\x04test");
            let qtype = u16::from_be_bytes([tail[0], tail[1]]);
            let answers: Vec<[u8; 4]> = match (is_wide, qtype) {
                (true, 1) => (60..64).map(|i| [127, 0, 0, i]).collect(),
                _ => Vec::new(),
            };
            let mut r = vec![q[0], q[1], 0x84 | (q[2] & 1), 0x80, 0, 1, 0];
            r.push(answers.len() as u8);
            r.extend_from_slice(&[0, 0, 0, 0]);
            r.extend_from_slice(&q[12..zero + 5]);
            for a in answers {
                // A pointer to the question's name, type A, class IN, TTL 60, 4 bytes.
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                r.extend_from_slice(&a);
            }
            let _ = sock.send_to(&r, peer);
        }
    });
    addr
}

#[test]
fn send_direct_tries_at_most_mx_max_addresses() {
    use postel_sim::fault::{Action, Fault, Step};
    use std::net::{IpAddr, Ipv4Addr};
    let dns = wide_dns().to_string();
    let port = std::net::TcpListener::bind("127.0.0.60:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sims: Vec<BlockingSimulator> = (60..64)
        .map(|i| {
            let sim = BlockingSimulator::start(
                Config::builder()
                    .bind(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
                    .port(port)
                    // Plain: one connection per address (no fallback from a failed TLS).
                    .without(postel_sim::Extension::StartTls)
                    .build(),
            )
            .unwrap();
            sim.set_faults(vec![Fault::new(
                Step::Mail,
                Action::Reply(451, "4.3.2 busy".to_owned()),
            )]);
            sim
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let send = |extra: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(["send", "--direct", "--resolver", &dns])
            .args(["--mx-port", &port.to_string(), "--helo", "client.test"])
            .args([
                "--from",
                "a@client.test",
                "--to",
                "b@wide.test",
                "--text",
                "x",
            ])
            .args(extra)
            .env("XDG_CONFIG_HOME", dir.path().join("none"))
            .env("POSTEL_QUEUE_DIR", dir.path().join("q"));
        run(c, None)
    };
    let total = || sims.iter().map(BlockingSimulator::connections).sum::<u64>();
    let o = send(&["--mx-max-addresses", "2"]);
    assert_code(&o, 75);
    assert_eq!(total(), 2, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("at most 2 per attempt"),
        "{}",
        text(&o.stderr)
    );
    // The default (5) covers all four.
    assert_code(&send(&[]), 75);
    assert_eq!(total(), 2 + 4);
    // And 0 is not a limit.
    assert_code(&send(&["--mx-max-addresses", "0"]), 64);
}

#[test]
fn server_text_is_inert_in_direct_delivery_and_the_queue() {
    let addr = hostile_server(10);
    let dir = tempfile::tempdir().unwrap();
    let mut c = Command::new(BIN);
    c.args(["send", "--direct", "--mx-port", &addr.port().to_string()])
        .args(["--helo", "client.test", "--from", "a@client.test"])
        .args(["--to", "b@[127.0.0.1]", "--text", "x"])
        .env("XDG_CONFIG_HOME", dir.path().join("none"))
        .env("POSTEL_QUEUE_DIR", dir.path().join("q0"));
    let o = run(c, None);
    assert_code(&o, 67);
    assert!(
        text(&o.stderr).contains("no such user"),
        "{}",
        text(&o.stderr)
    );
    inert("send --direct", &o.stderr);

    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "default = \"evil\"\n[accounts.evil]\nhost = \"127.0.0.1\"\nport = {}\n\
             tls = \"none\"\nhelo = \"client.test\"\nfrom = \"a@client.test\"\n",
            addr.port()
        ),
    )
    .unwrap();
    let q = dir.path().join("q");
    let q = q.to_str().unwrap();
    let queue = |args: &[&str], stdin: Option<&[u8]>| {
        let mut c = Command::new(BIN);
        c.args(["queue", "--queue-dir", q])
            .args(args)
            .env("POSTEL_CONFIG", &cfg);
        run(c, stdin)
    };
    let o = queue(
        &["add", "-f", "a@client.test", "b@mx.test"],
        Some(b"Subject: s\n\nbody\n"),
    );
    assert_code(&o, 0);
    let mut all = Vec::new();
    for args in [&["run"][..], &["list"]] {
        let o = queue(args, None);
        inert("queue stdout", &o.stdout);
        inert("queue stderr", &o.stderr);
        all.extend_from_slice(&o.stdout);
        all.extend_from_slice(&o.stderr);
    }
    assert!(text(&all).contains("no such user"), "{}", text(&all));
}
