//! The web bench's REST API with a real HTTP client (ureq) against a running
//! `postel sim --web`: messages sent with the postel library and `postel send` are
//! listed, fetched byte for byte, their sessions carry the expected lines and
//! annotations, deletes delete, fault rules posted over HTTP change what the next client
//! gets (a typed error), `--store` survives a restart and `--web-auth` refuses strangers.

mod sim_web_common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use postel::Envelope;
use serde_json::Value;

use sim_web_common::{bare_lf_client, Bench, BIN};

const MESSAGE: &[u8] = b"From: Device <device@client.test>\r\n\
To: Bob <bob@mx.test>\r\n\
Subject: sensor report 42\r\n\
Date: Fri, 04 Dec 2026 21:00:00 +0000\r\n\
Message-ID: <42@client.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
temperature 21.5\r\n\
.leading dot stays\r\n\
--b1\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"log.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECAwQ=\r\n\
--b1--\r\n";

#[test]
fn messages_are_listed_fetched_byte_for_byte_searched_and_deleted() {
    let b = Bench::start(&[]);
    let mut c = b.client();
    let env = Envelope::new("device@client.test", ["bob@mx.test"]);
    c.send_bytes(&env, MESSAGE).unwrap();
    let other = b"From: x@client.test\r\nTo: carol@mx.test\r\nSubject: other\r\nDate: Fri, 04 Dec 2026 21:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nhi\r\n";
    c.send_bytes(&Envelope::new("x@client.test", ["carol@mx.test"]), other)
        .unwrap();
    c.quit().unwrap();

    let list = b.wait_for_messages(2);
    assert_eq!(list["total"], 2, "{list}");
    // Newest first.
    assert_eq!(list["messages"][0]["subject"], "other");
    let first = &list["messages"][1];
    assert_eq!(first["subject"], "sensor report 42");
    assert_eq!(first["from"], "device@client.test");
    assert_eq!(first["to"][0], "bob@mx.test");
    let id = first["id"].as_str().unwrap().to_owned();

    // Search by recipient, sender and subject.
    for q in ["carol", "x%40client", "OTHER"] {
        let found = b.get(&format!("/api/v1/messages?query={q}"));
        assert_eq!(found["count"], 1, "{q}: {found}");
        assert_eq!(found["messages"][0]["subject"], "other");
    }
    assert_eq!(b.get("/api/v1/messages?query=nothing-like-it")["count"], 0);

    // The raw bytes are what was sent.
    assert_eq!(b.get_bytes(&format!("/api/v1/messages/{id}/raw")), MESSAGE);

    let m = b.get(&format!("/api/v1/messages/{id}"));
    assert_eq!(m["envelope"]["helo"], "device.test");
    assert_eq!(m["envelope"]["rcpt_to"][0]["address"], "bob@mx.test");
    assert!(m["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["name"] == "Message-ID" && h["value"] == "<42@client.test>"));
    assert_eq!(
        m["text"].as_str().unwrap().replace("\r\n", "\n"),
        "temperature 21.5\n.leading dot stays"
    );
    let attachment = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["filename"] == "log.bin")
        .expect("the attachment is listed")
        .clone();
    assert_eq!(attachment["attachment"], true);
    assert_eq!(
        b.get_bytes(attachment["url"].as_str().unwrap()),
        [0u8, 1, 2, 3, 4]
    );

    // The session that delivered it: the client's lines as sent, the server's replies.
    let s = b.get(&format!("/api/v1/messages/{id}/session"));
    let lines: Vec<(String, String)> = s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["side"].as_str().unwrap_or("note").to_owned(),
                l["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let has = |side: &str, text: &str| lines.iter().any(|(s, t)| s == side && t == text);
    assert!(
        has("server", "220 mx.sim.test ESMTP postel-sim"),
        "{lines:?}"
    );
    assert!(has("client", "EHLO device.test"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|(s, t)| s == "client" && t.starts_with("MAIL FROM:<device@client.test>")),
        "{lines:?}"
    );
    assert!(has("client", "RCPT TO:<bob@mx.test>"), "{lines:?}");
    // CHUNKING is offered, so the library sends BDAT (no dot-stuffing).
    assert!(
        has("client", &format!("BDAT {} LAST", MESSAGE.len())),
        "{lines:?}"
    );
    assert!(s["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == &Value::String(id.clone())));
    // A clean client: nothing to annotate.
    let closed = b.wait_for_session(s["id"].as_str().unwrap());
    assert_eq!(
        closed["annotations"].as_array().unwrap().len(),
        0,
        "{closed}"
    );

    // Delete one, then all.
    let r = ureq::delete(&b.url(&format!("/api/v1/messages/{id}")))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(matches!(
        ureq::get(&b.url(&format!("/api/v1/messages/{id}"))).call(),
        Err(ureq::Error::Status(404, _))
    ));
    assert_eq!(b.get("/api/v1/messages")["total"], 1);
    ureq::delete(&b.url("/api/v1/messages")).call().unwrap();
    assert_eq!(b.get("/api/v1/messages")["total"], 0);
}

#[test]
fn the_session_of_a_bare_lf_client_is_annotated_at_the_line() {
    let b = Bench::start(&[]);
    let reply = bare_lf_client(b.smtp);
    assert!(reply.starts_with("550 5.5.2"), "{reply}");
    let sessions = b.get("/api/v1/sessions");
    let id = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();
    let s = b.wait_for_session(&id);
    let notes = s["annotations"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{s}");
    assert_eq!(notes[0]["code"], "bare-lf");
    assert_eq!(notes[0]["detail"], "refused line: EHLO device.test\\n");
    let line = notes[0]["line"].as_u64().unwrap() as usize;
    assert_eq!(s["lines"][line]["text"], "<bare LF>");
    assert_eq!(s["lines"][line]["annotations"][0], 0);
    let verdicts = notes[0]["verdicts"].as_array().unwrap();
    let verdict = |server: &str| {
        verdicts
            .iter()
            .find(|v| v["server"].as_str().unwrap().starts_with(server))
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(verdict("Postfix (strict"), "refuses");
    assert_eq!(verdict("Postfix 3.9"), "accepts");
    assert_eq!(verdict("Exim"), "accepts");
}

#[test]
fn the_lenient_profile_takes_bare_lf_mail_and_still_annotates_every_line() {
    let b = Bench::start(&["--profile", "postfix"]);
    let mut s = TcpStream::connect(b.smtp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    let mut expect = |r: &mut BufReader<TcpStream>, prefix: &str| loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            assert!(line.starts_with(prefix), "{line}");
            return;
        }
    };
    expect(&mut r, "220 mx.sim.test ESMTP Postfix");
    for (cmd, want) in [
        (&b"EHLO device.test\n"[..], "250"),
        (b"MAIL FROM:<device@client.test>\n", "250"),
        (b"RCPT TO:<bob@mx.test>\n", "250"),
        (b"DATA\n", "354"),
        (b"Subject: lf\n\n.single dot\nbody\n.\n", "250"),
    ] {
        s.write_all(cmd).unwrap();
        expect(&mut r, want);
    }
    s.write_all(b"QUIT\n").unwrap();
    expect(&mut r, "221");
    let list = b.wait_for_messages(1);
    let id = list["messages"][0]["id"].as_str().unwrap().to_owned();
    // Stored exactly as it came, LF and all, the single dot removed.
    assert_eq!(
        b.get_bytes(&format!("/api/v1/messages/{id}/raw")),
        b"Subject: lf\n\nsingle dot\nbody\n"
    );
    let sid = list["messages"][0]["session"].as_str().unwrap().to_owned();
    let s = b.wait_for_session(&sid);
    let codes: Vec<(String, String)> = s["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let line = a["line"].as_u64().unwrap() as usize;
            (
                a["code"].as_str().unwrap().to_owned(),
                s["lines"][line]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("bare-lf", "EHLO device.test"),
        ("bare-lf", "MAIL FROM:<device@client.test>"),
        ("bare-lf", "DATA"),
        ("bare-lf", "Subject: lf"),
        ("dot-stuffing", ".single dot"),
        ("bare-lf", "."),
        ("no-from", "."),
        ("no-date", "."),
        ("no-message-id", "."),
        ("bare-lf", "QUIT"),
    ] {
        assert!(
            codes.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} in {codes:?}"
        );
    }
    let no_mid = s["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "no-message-id")
        .unwrap();
    assert!(no_mid["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["server"] == "Gmail (MX)" && v["outcome"] == "refuses"));
}

#[test]
fn fault_rules_posted_over_http_change_the_next_clients_outcome() {
    let b = Bench::start(&[]);
    let env = Envelope::new("device@client.test", ["bob@mx.test", "carol@mx.test"]);
    let msg = b"From: d@client.test\r\nSubject: f\r\n\r\nx\r\n";

    // Refuse the second RCPT with 450: the message goes to bob only, carol is refused.
    let r = ureq::post(&b.url("/api/v1/faults"))
        .send_json(serde_json::json!({
            "step": "rcpt", "rcpt": 2, "action": "reply", "code": 450, "text": "4.2.0 Try again later"
        }))
        .unwrap();
    assert_eq!(r.status(), 201);
    let rule: Value = r.into_json().unwrap();
    let mut c = b.client();
    let report = c.send_bytes(&env, msg).unwrap();
    c.quit().unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].address, "carol@mx.test");
    assert_eq!(report.refused[0].reply.code, 450);
    assert_eq!(b.get("/api/v1/faults")["faults"][0]["id"], rule["id"]);

    // Replace it by "refuse every message at the end of data": a typed Rejected.
    ureq::delete(&b.url(&format!("/api/v1/faults/{}", rule["id"])))
        .call()
        .unwrap();
    ureq::post(&b.url("/api/v1/faults"))
        .send_json(serde_json::json!({
            "step": "data_end", "action": "reply", "code": 554, "text": "5.7.1 refused by the bench"
        }))
        .unwrap();
    let mut c = b.client();
    match c.send_bytes(&env, msg) {
        Err(postel::Error::Rejected { reply, .. }) => {
            assert_eq!(reply.code, 554);
            assert_eq!(reply.text, "refused by the bench");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    drop(c);

    // Bad rules are refused with 400 and a reason; CR/LF never reach the wire.
    match ureq::post(&b.url("/api/v1/faults")).send_json(serde_json::json!({
        "step": "mail", "action": "reply", "code": 550, "text": "x\r\nRSET"
    })) {
        Err(ureq::Error::Status(400, r)) => {
            let v: Value = r.into_json().unwrap();
            assert!(v["error"].as_str().unwrap().contains("CR, LF"), "{v}");
        }
        other => panic!("expected 400, got {other:?}"),
    }

    // Clear them: the next client delivers to both.
    ureq::delete(&b.url("/api/v1/faults")).call().unwrap();
    let mut c = b.client();
    let report = c.send_bytes(&env, msg).unwrap();
    assert_eq!(report.accepted.len(), 2);
}

#[test]
fn postel_send_and_the_store_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap();
    let first_id;
    {
        let b = Bench::start(&["--store", store_arg]);
        let o = Command::new(BIN)
            .args(["send", "--server", &b.smtp.to_string(), "--tls", "none"])
            .args(["--from", "app@client.test", "--to", "ops@mx.test"])
            .args(["--subject", "kept across restarts", "--helo", "client.test"])
            .env("XDG_CONFIG_HOME", dir.path().join("none"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child.stdin.take().unwrap().write_all(b"body text\n")?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let list = b.wait_for_messages(1);
        first_id = list["messages"][0]["id"].as_str().unwrap().to_owned();
        let sid = list["messages"][0]["session"].as_str().unwrap().to_owned();
        b.wait_for_session(&sid);
        assert!(store
            .join("messages")
            .join(format!("{first_id}.eml"))
            .is_file());
    }
    let b = Bench::start(&["--store", store_arg]);
    let list = b.get("/api/v1/messages");
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["messages"][0]["id"], first_id.as_str());
    assert_eq!(list["messages"][0]["subject"], "kept across restarts");
    let raw = b.get_bytes(&format!("/api/v1/messages/{first_id}/raw"));
    assert!(String::from_utf8_lossy(&raw).contains("body text\r\n"));
    // The session that delivered it came back too.
    let s = b.get(&format!("/api/v1/messages/{first_id}/session"));
    assert!(s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["text"] == "RCPT TO:<ops@mx.test>"));
    ureq::delete(&b.url("/api/v1/messages")).call().unwrap();
    assert!(!store
        .join("messages")
        .join(format!("{first_id}.eml"))
        .exists());
}

#[test]
fn basic_auth_refuses_without_credentials() {
    let b = Bench::start(&["--web-auth", "dev:bench-pw"]);
    for path in ["/", "/api/v1/messages", "/api/v1/faults"] {
        match ureq::get(&b.url(path)).call() {
            Err(ureq::Error::Status(401, r)) => {
                assert!(r.header("www-authenticate").unwrap().starts_with("Basic"))
            }
            other => panic!("{path}: expected 401, got {other:?}"),
        }
    }
    match ureq::get(&b.url("/api/v1/messages"))
        .set("Authorization", "Basic ZGV2Ondyb25n")
        .call()
    {
        Err(ureq::Error::Status(401, _)) => {}
        other => panic!("a wrong password: expected 401, got {other:?}"),
    }
    // dev:bench-pw
    let ok = ureq::get(&b.url("/api/v1/messages"))
        .set("Authorization", "Basic ZGV2OmJlbmNoLXB3")
        .call()
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[test]
fn the_html_part_is_served_under_a_csp_that_blocks_scripts_and_remote_loads() {
    let b = Bench::start(&["--max-size", "4096"]);
    let html = b"From: a@client.test\r\nSubject: h\r\nContent-Type: text/html\r\n\r\n<p>hi</p><img src=\"http://example.invalid/x.png\"><script>alert(1)</script>\r\n";
    let mut c = b.client();
    c.send_bytes(&Envelope::new("a@client.test", ["b@mx.test"]), html)
        .unwrap();
    // --max-size is the SIZE the EHLO reply advertises: the client refuses to send more.
    let big = vec![b'x'; 5000];
    let mut msg = b"Subject: big\r\n\r\n".to_vec();
    msg.extend_from_slice(&big);
    msg.extend_from_slice(b"\r\n");
    match c.send_bytes(&Envelope::new("a@client.test", ["b@mx.test"]), &msg) {
        Err(postel::Error::Protocol(postel::proto::Error::MessageTooLarge { limit, .. })) => {
            assert_eq!(limit, 4096)
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    let list = b.wait_for_messages(1);
    let id = list["messages"][0]["id"].as_str().unwrap().to_owned();
    let m = b.get(&format!("/api/v1/messages/{id}"));
    let url = m["html"].as_str().unwrap();
    let r = ureq::get(&b.url(url)).call().unwrap();
    assert_eq!(
        r.header("content-security-policy").unwrap(),
        "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:"
    );
    assert!(r.into_string().unwrap().contains("<p>hi</p>"));
}

#[test]
fn starttls_and_auth_steps_are_in_the_session_with_the_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let password = "s3cret-bench-pw";
    let b = Bench::start(&[
        "--user",
        &format!("alice:{password}"),
        "--write-ca",
        ca.to_str().unwrap(),
    ]);
    for mechanism in [postel::Mechanism::Plain, postel::Mechanism::Login] {
        let mut c = postel::Client::builder("127.0.0.1")
            .port(b.smtp.port())
            .tls(postel::TlsMode::StartTls)
            .ca_pem(std::fs::read(&ca).unwrap())
            .ehlo_name("device.test")
            .credentials("alice", password)
            .mechanism(mechanism)
            .build()
            .unwrap();
        let report = c
            .send_bytes(
                &Envelope::new("alice@client.test", ["bob@mx.test"]),
                b"From: alice@client.test\r\nSubject: tls\r\n\r\nx\r\n",
            )
            .unwrap();
        assert!(report.encrypted);
        c.quit().unwrap();
    }
    let list = b.wait_for_messages(2);
    for m in list["messages"].as_array().unwrap() {
        let s = b.wait_for_session(m["session"].as_str().unwrap());
        let text: Vec<&str> = s["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["text"].as_str().unwrap())
            .collect();
        assert!(text.contains(&"STARTTLS"), "{text:?}");
        assert!(text.contains(&"TLS handshake complete"), "{text:?}");
        assert!(
            text.contains(&"AUTH PLAIN <redacted>")
                || (text.contains(&"AUTH LOGIN") && text.contains(&"<redacted>")),
            "{text:?}"
        );
        assert!(
            text.contains(&"235 2.7.0 Authentication successful"),
            "{text:?}"
        );
        // Neither the password nor its base64 (alone or in PLAIN's message) is anywhere.
        let all = s.to_string();
        for secret in [
            password,
            "czNjcmV0LWJlbmNoLXB3",
            "AGFsaWNlAHMzY3JldC1iZW5jaC1wdw==",
        ] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        let m = b.get(&format!("/api/v1/messages/{}", m["id"].as_str().unwrap()));
        assert_eq!(m["envelope"]["tls"], true);
        assert_eq!(m["envelope"]["auth_user"], "alice");
    }
}

#[test]
fn bad_bench_flags_are_usage_errors_that_say_why() {
    for (args, want) in [
        (
            &["--profile", "nope"][..],
            "unknown profile \"nope\": expected postfix, exim, gmail, strict or lenient",
        ),
        (
            &["--web", "127.0.0.1:0", "--web-auth", "nopass"][..],
            "--web-auth: expected USER:PASS",
        ),
        (
            &["--lenient", "--profile", "exim"][..],
            "--lenient and --profile exim both set the strictness",
        ),
        (&["--store", "/nonexistent/store"][..], "--web <ADDR>"),
    ] {
        let o = Command::new(BIN)
            .arg("sim")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(64), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
