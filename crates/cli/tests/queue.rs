//! `postel sendmail --queue`, `postel queue ...` and `postel send --direct`, end to end
//! against the simulator on loopback.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Output};

use postel_sim::{BlockingSimulator, Config};

use common::{run, text, BIN};

fn postel(args: &[&str], env: &[(&str, &Path)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("POSTEL_ACCOUNT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, Some(stdin))
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sendmail_queue_keeps_the_message_while_the_relay_is_down_and_queue_run_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "default = \"relay\"\n[accounts.relay]\nhost = \"127.0.0.1\"\nport = {port}\n\
             tls = \"none\"\nhelo = \"client.test\"\nfrom = \"a@client.test\"\n"
        ),
    )
    .unwrap();
    let qdir = dir.path().join("queue");
    let env = [
        ("POSTEL_CONFIG", cfg.as_path()),
        ("POSTEL_QUEUE_DIR", qdir.as_path()),
    ];
    let msg =
        b"From: a@client.test\nTo: b@mx.test\nBcc: hidden@mx.test\nSubject: queued\n\nHello.\n";

    // Nothing listens: queued, and success (like msmtpq).
    let out = postel(&["sendmail", "--queue", "-t", "-i"], &env, msg);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("queued as"),
        "{}",
        text(&out.stderr)
    );

    let out = postel(&["queue", "list"], &env, b"");
    assert_eq!(out.status.code(), Some(0));
    let list = text(&out.stdout);
    assert!(
        list.contains("a@client.test  attempts 0  next now"),
        "{list}"
    );
    assert!(list.contains("b@mx.test  pending"), "{list}");
    assert!(list.contains("hidden@mx.test  pending"), "{list}");

    // Still down: queue run defers and exits (not due any more).
    let out = postel(&["queue", "run"], &env, b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2 deferred"),
        "{}",
        text(&out.stderr)
    );
    let list = text(&postel(&["queue", "list"], &env, b"").stdout);
    assert!(list.contains("attempts 1"), "{list}");
    assert!(
        list.contains("(in 29m)") || list.contains("(in 30m)"),
        "{list}"
    );

    // The relay is back: flush makes it due, run delivers, the queue is empty.
    let sim = BlockingSimulator::start(Config::builder().port(port).build()).unwrap();
    let out = postel(&["queue", "flush"], &env, b"");
    assert_eq!(text(&out.stdout).trim(), "1 message(s) made due now");
    let out = postel(&["queue", "run"], &env, b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2 delivered"),
        "{}",
        text(&out.stderr)
    );
    let got = sim.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients(), vec!["b@mx.test", "hidden@mx.test"]);
    assert!(
        !text(&got[0].data).contains("Bcc"),
        "Bcc removed before queueing"
    );
    let out = postel(&["queue", "list"], &env, b"");
    assert_eq!(text(&out.stdout).trim(), "the queue is empty");
}

#[test]
fn queue_add_show_remove_and_bad_ids() {
    let dir = tempfile::tempdir().unwrap();
    let qdir = dir.path().join("q");
    let q = qdir.to_str().unwrap();
    let none: [(&str, &Path); 0] = [];
    let out = postel(
        &[
            "queue",
            "--queue-dir",
            q,
            "add",
            "-f",
            "a@client.test",
            "b@mx.test",
            "c@mx.test",
        ],
        &none,
        b"Subject: x\r\n\r\nbody\r\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    let out = postel(&["queue", "--queue-dir", q, "show", &id], &none, b"");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["from"], "a@client.test");
    assert_eq!(json["recipients"][1]["address"], "c@mx.test");
    assert_eq!(json["recipients"][1]["status"], "pending");
    let out = postel(
        &["queue", "--queue-dir", q, "show", "--message", &id],
        &none,
        b"",
    );
    assert_eq!(out.stdout, b"Subject: x\r\n\r\nbody\r\n");
    let out = postel(&["queue", "--queue-dir", q, "remove", &id], &none, b"");
    assert_eq!(out.status.code(), Some(0));
    let out = postel(&["queue", "--queue-dir", q, "show", &id], &none, b"");
    assert_eq!(
        out.status.code(),
        Some(64),
        "an unknown id is a usage error"
    );
    let out = postel(&["queue", "--queue-dir", q, "show", "../x"], &none, b"");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn send_direct_delivers_to_an_address_literal_on_the_mx_port() {
    let port = free_port("127.0.0.2");
    let sim = BlockingSimulator::start(
        Config::builder()
            .bind(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
            .port(port)
            .build(),
    )
    .unwrap();
    let none: [(&str, &Path); 0] = [];
    let out = postel(
        &[
            "send",
            "--direct",
            "--mx-port",
            &port.to_string(),
            "--helo",
            "client.test",
            "--from",
            "a@client.test",
            "--to",
            "b@[127.0.0.2]",
            "--subject",
            "direct",
            "--text",
            "hello",
        ],
        &none,
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("b@[127.0.0.2]: delivered"),
        "{}",
        text(&out.stderr)
    );
    let got = sim.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients(), vec!["b@[127.0.0.2]"]);

    // Nobody on the port: deferred, exit 75 (EX_TEMPFAIL).
    let out = postel(
        &[
            "send",
            "--direct",
            "--mx-port",
            "9",
            "--from",
            "a@client.test",
            "--to",
            "b@[127.0.0.2]",
            "--text",
            "x",
        ],
        &none,
        b"",
    );
    assert_eq!(out.status.code(), Some(75), "{}", text(&out.stderr));
}

/// A DNS responder on 127.0.0.1 that knows two names: `mx.test` (MX 10 mail.mx.test)
/// and `mail.mx.test` (A 127.0.0.3); everything else is an empty NOERROR answer. The
/// wire format by hand (RFC 1035 §4.1), so this test needs no DNS crate.
fn tiny_dns() -> std::net::SocketAddr {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            if q.len() < 12 {
                continue;
            }
            // The question: labels up to the root, then QTYPE and QCLASS.
            let mut i = 12;
            let mut name = Vec::new();
            while i < q.len() && q[i] != 0 {
                let l = q[i] as usize;
                name.push(
                    String::from_utf8_lossy(&q[i + 1..(i + 1 + l).min(q.len())]).to_lowercase(),
                );
                i += 1 + l;
            }
            let end = i + 5;
            if end > q.len() {
                continue;
            }
            let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
            let name = name.join(".");
            let mut answers: Vec<(u16, Vec<u8>)> = Vec::new();
            match (name.as_str(), qtype) {
                ("mx.test", 15) => {
                    let mut rdata = vec![0, 10];
                    for l in ["mail", "mx", "test"] {
                        rdata.push(l.len() as u8);
                        rdata.extend_from_slice(l.as_bytes());
                    }
                    rdata.push(0);
                    answers.push((15, rdata));
                }
                ("mail.mx.test", 1) => answers.push((1, vec![127, 0, 0, 3])),
                _ => {}
            }
            let rd = q[2] & 0x01;
            let mut r = vec![q[0], q[1], 0x84 | rd, 0x80, 0, 1];
            r.extend_from_slice(&(answers.len() as u16).to_be_bytes());
            r.extend_from_slice(&[0, 0, 0, 0]);
            r.extend_from_slice(&q[12..end]);
            for (t, rdata) in answers {
                r.extend_from_slice(&[0xc0, 12]);
                r.extend_from_slice(&t.to_be_bytes());
                r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
                r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
                r.extend_from_slice(&rdata);
            }
            let _ = sock.send_to(&r, peer);
        }
    });
    addr
}

#[test]
fn send_direct_asks_the_given_resolver_for_the_mx() {
    let dns = tiny_dns();
    let port = free_port("127.0.0.3");
    let sim = BlockingSimulator::start(
        Config::builder()
            .bind(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))
            .port(port)
            .build(),
    )
    .unwrap();
    let none: [(&str, &Path); 0] = [];
    let out = postel(
        &[
            "send",
            "--direct",
            "--resolver",
            &dns.to_string(),
            "--mx-port",
            &port.to_string(),
            "--helo",
            "client.test",
            "--from",
            "a@client.test",
            "--to",
            "b@mx.test",
            "--text",
            "via MX",
        ],
        &none,
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("b@mx.test: delivered"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sim.messages()[0].recipients(), vec!["b@mx.test"]);
}

#[test]
fn queue_list_and_run_report_a_corrupt_record_and_move_it_aside() {
    let dir = tempfile::tempdir().unwrap();
    let qdir = dir.path().join("q");
    let q = qdir.to_str().unwrap();
    let none: [(&str, &Path); 0] = [];
    let add = |rcpt: &str| {
        let out = postel(
            &[
                "queue",
                "--queue-dir",
                q,
                "add",
                "-f",
                "a@client.test",
                rcpt,
            ],
            &none,
            b"Subject: x\r\n\r\nbody\r\n",
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    let bad = add("b@mx.test");
    let good = add("c@mx.test");
    std::fs::write(
        qdir.join("msg").join(format!("{bad}.json")),
        b"{\"id\": tru",
    )
    .unwrap();
    let out = postel(&["queue", "--queue-dir", q, "list"], &none, b"");
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("corrupt queue record {bad}")),
        "{err}"
    );
    assert!(err.contains("corrupt"), "{err}");
    assert!(text(&out.stdout).contains(&good), "the others are listed");
    assert!(qdir.join("corrupt").join(format!("{bad}.json")).is_file());
    // Moved aside: reported once.
    let out = postel(&["queue", "--queue-dir", q, "list"], &none, b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A message file cut short is found by list too.
    let cut = add("e@mx.test");
    std::fs::write(
        qdir.join("msg").join(format!("{cut}.eml")),
        b"Subject: x\r\n",
    )
    .unwrap();
    let out = postel(&["queue", "--queue-dir", q, "list"], &none, b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.contains(&format!(
            "corrupt queue record {cut}: the message file has 12 bytes, 20 were queued"
        )),
        "{err}"
    );

    // queue run: the same, and the good message is still sent.
    let bad2 = add("d@mx.test");
    std::fs::write(qdir.join("msg").join(format!("{bad2}.json")), b"").unwrap();
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let server = format!("127.0.0.1:{}", sim.addr().port());
    let out = postel(
        &[
            "queue",
            "--queue-dir",
            q,
            "run",
            "--server",
            &server,
            "--tls",
            "none",
            "--helo",
            "client.test",
        ],
        &none,
        b"",
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.contains(&format!("corrupt queue record {bad2}: the record is empty")),
        "{err}"
    );
    assert_eq!(sim.messages().len(), 1, "{err}");
    assert_eq!(sim.messages()[0].recipients(), vec!["c@mx.test"]);
}

#[test]
fn queue_add_refuses_an_empty_message() {
    let dir = tempfile::tempdir().unwrap();
    let qdir = dir.path().join("q");
    let q = qdir.to_str().unwrap();
    let none: [(&str, &Path); 0] = [];
    let out = postel(
        &[
            "queue",
            "--queue-dir",
            q,
            "add",
            "-f",
            "a@client.test",
            "b@mx.test",
        ],
        &none,
        b"",
    );
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the message is empty"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(qdir.join("msg")).unwrap().count(), 0);
}

#[test]
fn a_refused_login_defers_the_queue_and_queue_list_says_it_is_the_configuration() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let sim = BlockingSimulator::start(
        Config::builder()
            .user("alice", "right")
            .write_ca_to(&ca)
            .build(),
    )
    .unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "default = \"relay\"\n[accounts.relay]\nhost = \"127.0.0.1\"\nport = {}\n\
             tls = \"starttls\"\nca_file = \"{}\"\nuser = \"alice\"\npassword = \"wrong\"\n\
             helo = \"client.test\"\nfrom = \"a@client.test\"\n",
            sim.addr().port(),
            ca.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    let qdir = dir.path().join("queue");
    let q = qdir.to_str().unwrap();
    let env = [("POSTEL_CONFIG", cfg.as_path())];
    let out = postel(
        &[
            "queue",
            "--queue-dir",
            q,
            "add",
            "-f",
            "a@client.test",
            "b@mx.test",
        ],
        &env,
        b"Subject: x\r\n\r\nbody\r\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = postel(&["queue", "--queue-dir", q, "run"], &env, b"");
    let err = text(&out.stderr);
    assert!(err.contains("0 failed"), "not bounced: {err}");
    assert!(err.contains("configuration problem"), "said at once: {err}");
    let out = postel(&["queue", "--queue-dir", q, "list"], &env, b"");
    let list = text(&out.stdout);
    assert!(list.contains("configuration problem"), "{list}");
    assert!(list.contains("535"), "{list}");
    assert!(sim.messages().is_empty());
}
