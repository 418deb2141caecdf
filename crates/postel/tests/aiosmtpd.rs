//! The blocking `Client` and the tokio `AsyncClient` against aiosmtpd: a second real SMTP
//! server, independent of Postfix and of postel-sim (Python's asyncio server, Debian's
//! `python3-aiosmtpd`, run by tests/py/aiosmtpd_server.py). It offers neither PIPELINING
//! nor CHUNKING, so every session here is lock-step with DATA; it stores each message's
//! envelope and exact DATA bytes (un-stuffed, final CRLF.CRLF removed), compared here byte
//! for byte.
//!
//! When aiosmtpd (or openssl, for the test PKI of scripts/pki.sh) is missing, a test prints
//! a loud SKIP, or panics when CI=true or POSTEL_REQUIRE_SERVERS=1 (scripts/test.sh).

mod aiosmtpd_harness;
mod common;
mod scenarios;

use std::path::PathBuf;

use postel::proto::Step;
use postel::{Client, ClientBuilder, Envelope, Error, Mechanism, TlsError, TlsMode};
use serde_json::Value;

use common::proto_error;
use scenarios::{Framing, ReplyText, Server};

const SERVER_NAME: &str = "aiosmtpd.postel.test";
const EHLO_NAME: &str = "client.postel.test";

/// What tends to break: a lone dot line, leading dots, trailing spaces, 8-bit UTF-8, an
/// empty line, a 990-octet line. Already CRLF, so it must arrive unchanged.
fn message() -> Vec<u8> {
    let mut m = b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n\
Subject: postel and aiosmtpd\r\n\r\nHello.\r\n.\r\n.leading dot\r\n..two\r\n\r\n\
trailing spaces   \r\nGr\xc3\xbc\xc3\x9fe aus Z\xc3\xbcrich.\r\n"
        .to_vec();
    m.extend_from_slice(&[b'x'; 990]);
    m.extend_from_slice(b"\r\nend\r\n");
    m
}

// ---------------------------------------------------------------------------------------
// The server

use aiosmtpd_harness::{pki, start, starttls, Aiosmtpd};

impl Aiosmtpd {
    /// A builder for this server, trusting the test root when TLS is used.
    fn client(&self, mode: TlsMode) -> ClientBuilder {
        let b = Client::builder("127.0.0.1")
            .port(self.port)
            .tls(mode)
            .ehlo_name(EHLO_NAME)
            .transcript(true);
        match mode {
            TlsMode::Disabled => b,
            _ => b.ca_file(pki().expect("the PKI was made").join("root.pem")),
        }
    }
}

impl Server for Aiosmtpd {
    fn rcpt(&self, local: &str) -> String {
        format!("{local}@example.test")
    }
    /// With `--refuse nobody@example.test`.
    fn refused(&self) -> String {
        "nobody@example.test".to_owned()
    }
    /// With `--auth alice:s3cret`.
    fn user(&self) -> (String, String) {
        ("alice".to_owned(), "s3cret".to_owned())
    }
    fn framing(&self) -> Framing {
        Framing::LockStep
    }
    /// One stored message for all of `to`, exactly `wire`.
    fn assert_delivered(&self, marker: &str, wire: &[u8], to: &[String]) {
        let m = self.message_with(marker);
        assert_eq!(m.data, wire, "delivered bytes differ");
        assert_eq!(m.strings("rcpt_tos"), to);
    }
    fn assert_not_delivered(&self, marker: &str) {
        let messages = self.messages();
        scenarios::assert_none_holds(messages.iter().map(|m| m.data.as_slice()), marker);
    }
}

// ---------------------------------------------------------------------------------------
// Assertions

/// The session as `C:`/`S:` lines, without notes and without the greeting (whose text
/// names the aiosmtpd version).
fn dialogue(client_transcript: &postel::Transcript) -> Vec<String> {
    let lines: Vec<String> = client_transcript
        .entries()
        .iter()
        .filter_map(|e| match e.side {
            postel::Side::Client => Some(format!("C: {}", e.text)),
            postel::Side::Server => Some(format!("S: {}", e.text)),
            postel::Side::Note => None,
        })
        .collect();
    assert!(
        lines[0].starts_with(&format!("S: 220 {SERVER_NAME} ")),
        "{lines:?}"
    );
    lines[1..].to_vec()
}

/// The EHLO reply aiosmtpd sends: its name, SIZE, 8BITMIME, SMTPUTF8, then what is passed.
fn ehlo_reply(size: u64, more: &[&str]) -> Vec<String> {
    let mut v = vec![
        format!("S: 250-{SERVER_NAME}"),
        format!("S: 250-SIZE {size}"),
        "S: 250-8BITMIME".to_owned(),
        "S: 250-SMTPUTF8".to_owned(),
    ];
    v.extend(more.iter().map(|l| format!("S: 250-{l}")));
    v.push("S: 250 HELP".to_owned());
    v
}

const DEFAULT_SIZE: u64 = 33_554_432;

/// No write carries two commands: aiosmtpd offers no PIPELINING (RFC 2920 §3.1).
fn assert_lock_step(t: &postel::Transcript) {
    for w in t.client_writes() {
        let commands = w.iter().filter(|l| !l.starts_with('[')).count();
        assert!(commands <= 1, "two commands in one write {w:?}:\n{t}");
    }
}

// ---------------------------------------------------------------------------------------
// Plain sessions

#[test]
fn plain_session_is_lock_step_and_delivers_the_exact_bytes_and_envelope() {
    let Some(s) = start::<&str>("plain", &[]) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    let msg = message();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let report = client.send_bytes(&env, &msg).unwrap();
    assert_eq!(report.reply.code, 250);
    assert_eq!(
        report.reply.enhanced.map(|e| e.to_string()).as_deref(),
        Some("2.0.0")
    );
    assert_eq!(report.reply.text, "Ok: queued as 0001");
    assert!(!report.encrypted);
    client.quit().unwrap();

    let m = s.only_message();
    assert_eq!(m.data, msg, "delivered bytes differ");
    assert_eq!(m.mail_from(), "alice@example.test");
    assert_eq!(m.strings("rcpt_tos"), ["bob@example.test"]);
    assert_eq!(
        m.strings("mail_options"),
        [format!("SIZE={}", msg.len()), "BODY=8BITMIME".to_owned()]
    );
    assert_eq!(m.meta["smtp_utf8"], false);
    assert_eq!(m.meta["helo"], EHLO_NAME);
    assert_eq!(m.meta["tls"], false);
    assert_eq!(m.meta["auth"], Value::Null);

    let t = client.transcript().unwrap();
    assert_lock_step(&t);
    let mut expected = vec![format!("C: EHLO {EHLO_NAME}")];
    expected.extend(ehlo_reply(DEFAULT_SIZE, &[]));
    expected.extend(
        [
            &format!(
                "C: MAIL FROM:<alice@example.test> SIZE={} BODY=8BITMIME",
                msg.len()
            ),
            "S: 250 OK",
            "C: RCPT TO:<bob@example.test>",
            "S: 250 OK",
            "C: DATA",
            "S: 354 End data with <CR><LF>.<CR><LF>",
            // Three lines start with a dot, each stuffed with one more.
            &format!("C: [{} octets of message content]", msg.len() + 3),
            "C: .",
            "S: 250 2.0.0 Ok: queued as 0001",
            "C: QUIT",
            "S: 221 Bye",
        ]
        .map(str::to_owned),
    );
    assert_eq!(dialogue(&t), expected, "\n{t}");
}

#[test]
fn dots_and_bare_line_ends_arrive_crlf_normalized_and_unstuffed() {
    let Some(s) = start::<&str>("dots and bare line ends", &[]) else {
        return;
    };
    scenarios::dots_and_bare_line_ends(&s, &|o| s.client(TlsMode::Disabled).options(o), &[true]);
    let m = s.only_message();
    assert_eq!(
        m.strings("mail_options"),
        [format!("SIZE={}", m.data.len()), "BODY=8BITMIME".to_owned()]
    );
}

/// Bare LF, bare CR, CR CR LF, lone dots that a lenient server could take for the end of
/// data (`\n.\n`, `\r.\r`: SMTP smuggling), and no line end at the end.
const BARE: &[u8] = b"Subject: dots\n\n.\n..\n.x\r\nbare CR\rhere\r\r\nmix\n\r\n\
a\n.\nMAIL FROM:<smuggled@example.test>\r\nb\r.\rc\nend";
/// What must arrive: every line end CRLF, the dots as written, a final CRLF added.
const BARE_DELIVERED: &[u8] = b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nbare CR\r\nhere\r\n\r\n\
mix\r\n\r\na\r\n.\r\nMAIL FROM:<smuggled@example.test>\r\nb\r\n.\r\nc\r\nend\r\n";

// ---------------------------------------------------------------------------------------
// Recipients and transactions

#[test]
fn a_refused_recipient_is_reported_while_the_others_get_the_message() {
    let Some(s) = start("refused recipient", &["--refuse", "nobody@example.test"]) else {
        return;
    };
    scenarios::refused_recipient(
        &s,
        &mut s.client(TlsMode::Disabled).build().unwrap(),
        ReplyText::Is("no such user"),
    );
    assert_eq!(s.messages().len(), 1);
}

#[test]
fn a_temporarily_refused_recipient_is_transient_and_the_session_goes_on() {
    let Some(s) = start("deferred recipient", &["--defer", "busy@example.test"]) else {
        return;
    };
    scenarios::temporarily_refused_recipient(
        &s,
        &mut s.client(TlsMode::Disabled).build().unwrap(),
        "busy@example.test",
        450,
        Some("4.2.1"),
    );
    assert_eq!(s.messages().len(), 1);
}

#[test]
fn every_recipient_refused_is_rejected_and_the_connection_goes_on_after_rset() {
    let Some(s) = start("all refused", &["--refuse", "nobody@example.test"]) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    let msg = message();
    let env = Envelope::new("alice@example.test", ["nobody@example.test"]);
    match client.send_bytes(&env, &msg) {
        Err(Error::Rejected {
            step,
            reply,
            refused,
        }) => {
            assert_eq!(step, Step::Rcpt);
            assert_eq!(reply.code, 550);
            assert_eq!(reply.text, "no such user");
            assert_eq!(refused.len(), 1);
            assert_eq!(refused[0].address, "nobody@example.test");
        }
        other => panic!("expected Rejected at RCPT, got {other:?}"),
    }
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    client.send_bytes(&env, &msg).unwrap();
    let m = s.only_message();
    assert_eq!(m.data, msg);
    assert_eq!(m.strings("rcpt_tos"), ["bob@example.test"]);
    assert_eq!(m.connection(), 1);
    let t = client.transcript().unwrap();
    let d = dialogue(&t);
    let rset = d.iter().position(|l| l == "C: RSET").expect("RSET");
    assert_eq!(d[rset + 1], "S: 250 OK", "{t}");
    assert!(
        !d[..rset].iter().any(|l| l == "C: DATA"),
        "no DATA without a recipient:\n{t}"
    );
}

#[test]
fn two_messages_go_over_one_connection() {
    let Some(s) = start::<&str>("two messages", &[]) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    let first = message();
    let second = b"Subject: second\r\n\r\nThe second one.\r\n".to_vec();
    client
        .send_bytes(&Envelope::new("a@example.test", ["b@example.test"]), &first)
        .unwrap();
    client
        .send_bytes(
            &Envelope::new("c@example.test", ["d@example.test"]),
            &second,
        )
        .unwrap();
    client.quit().unwrap();
    let m = s.messages();
    assert_eq!(m.len(), 2);
    assert_eq!(
        (m[0].data.as_slice(), m[0].mail_from()),
        (&first[..], "a@example.test")
    );
    assert_eq!(
        (m[1].data.as_slice(), m[1].mail_from()),
        (&second[..], "c@example.test")
    );
    assert_eq!(m[1].strings("rcpt_tos"), ["d@example.test"]);
    assert_eq!((m[0].connection(), m[1].connection()), (1, 1));
    let t = client.transcript().unwrap();
    let connects = t
        .entries()
        .iter()
        .filter(|e| e.text.starts_with("connected to"))
        .count();
    assert_eq!(connects, 1, "{t}");
    assert_eq!(
        dialogue(&t)
            .iter()
            .filter(|l| l.starts_with("C: EHLO"))
            .count(),
        1,
        "{t}"
    );
    assert!(t.contains_line("221 Bye"), "{t}");
}

#[test]
fn several_messages_after_starttls_and_auth_go_over_one_connection() {
    let Some(s) = auth_server("several messages") else {
        return;
    };
    scenarios::many_messages_one_connection(&s, s.client(TlsMode::StartTls), true, 3, &mut |_| 0);
    let m = s.messages();
    assert_eq!(m.len(), 3);
    for d in &m {
        assert_eq!(d.connection(), 1);
        assert_eq!(d.meta["tls"], true);
    }
}

// ---------------------------------------------------------------------------------------
// 8BITMIME and SMTPUTF8

#[test]
fn an_smtputf8_message_carries_its_utf8_envelope_and_bytes() {
    let Some(s) = start::<&str>("smtputf8", &[]) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    scenarios::smtputf8(&s, &mut client, "jöran@exämple.test", "用户@例子.test");
    let m = s.only_message();
    assert_eq!(m.mail_from(), "jöran@exämple.test");
    assert_eq!(m.meta["smtp_utf8"], true);
    assert_eq!(
        m.strings("mail_options"),
        [
            format!("SIZE={}", m.data.len()),
            "BODY=8BITMIME".to_owned(),
            "SMTPUTF8".to_owned()
        ]
    );
}

#[test]
fn a_utf8_address_without_smtputf8_is_refused_before_mail() {
    let Some(s) = start("no smtputf8", &["--no-smtputf8"]) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    let env = Envelope::new("jöran@exämple.test", ["bob@example.test"]);
    let err = client
        .send_bytes(&env, b"Subject: x\r\n\r\nx\r\n")
        .unwrap_err();
    assert_eq!(
        proto_error(err),
        postel::proto::Error::ExtensionRequired {
            extension: "SMTPUTF8"
        }
    );
    let t = client.transcript().unwrap();
    assert!(!t.contains_line("MAIL"), "{t}");
    // 8-bit content alone needs only 8BITMIME, which is offered.
    let msg = "Subject: caf\u{e9}\r\n\r\nGr\u{fc}\u{df}e\r\n".as_bytes();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    client.send_bytes(&env, msg).unwrap();
    let m = s.only_message();
    assert_eq!(m.data, msg);
    assert_eq!(
        m.strings("mail_options"),
        [format!("SIZE={}", msg.len()), "BODY=8BITMIME".to_owned()]
    );
    assert_eq!(m.meta["smtp_utf8"], false);
}

// ---------------------------------------------------------------------------------------
// SIZE (RFC 1870)

#[test]
fn a_message_over_the_size_limit_fails_before_anything_is_sent() {
    let Some(s) = start("size known", &["--size", "1000"]) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let t = scenarios::over_size_limit(&s, &mut client, 1000);
    assert!(t.contains_line("250-SIZE 1000"), "{t}");

    // Exactly at the limit is allowed (RFC 1870 §6.1: "exceeds").
    let fits = sized(1000);
    client.send_bytes(&env, &fits).unwrap();
    let m = s.only_message();
    assert_eq!(m.data, fits);
    assert_eq!(m.strings("mail_options"), ["SIZE=1000"]);
}

#[test]
fn a_streamed_message_growing_over_the_limit_is_abandoned_before_its_end() {
    let Some(s) = start("size streamed", &["--size", "1000"]) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let t = scenarios::streamed_over_size_limit(&s, &mut client, 1000, 5000);
    let d = dialogue(&t);
    assert!(d.iter().any(|l| l == "C: DATA"), "{t}");
    assert!(
        !d.iter().any(|l| l == "C: ."),
        "the end of data was not sent:\n{t}"
    );
    // aiosmtpd dropped the partial message; the next one is the only one stored.
    let small = sized(500);
    client.send_bytes(&env, &small).unwrap();
    let m = s.only_message();
    assert_eq!(m.data, small);
    assert_eq!(m.connection(), 2, "the abandoned session was not reused");
}

/// aiosmtpd counts the stuffed dots against its limit (RFC 1870 §4 says the size excludes
/// them), so a message exactly at the limit with dotted lines passes MAIL and is refused
/// at the end of data: the client reports that as a permanent refusal and goes on.
#[test]
fn aiosmtpd_counting_stuffed_dots_is_a_rejection_at_end_of_data() {
    let Some(s) = start("size with dots", &["--size", "1000"]) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let dotted = padded(b"Subject: dots\r\n\r\n.one\r\n.two\r\n", 1000);
    match client.send_bytes(&env, &dotted) {
        Err(e @ Error::Rejected { .. }) => {
            assert!(!e.is_transient());
            let Error::Rejected { step, reply, .. } = e else {
                unreachable!()
            };
            assert_eq!(step, Step::DataEnd);
            assert_eq!(
                (reply.code, reply.text.as_str()),
                (552, "Error: Too much mail data")
            );
        }
        other => panic!("expected Rejected at the end of data, got {other:?}"),
    }
    let t = client.transcript().unwrap();
    assert!(
        t.contains_line("MAIL FROM:<alice@example.test> SIZE=1000"),
        "{t}"
    );
    let fits = sized(1000);
    client.send_bytes(&env, &fits).unwrap();
    let m = s.only_message();
    assert_eq!(m.data, fits);
    assert_eq!(m.connection(), 1);
}

/// A CRLF message of exactly `len` octets (at least 40), no line starting with a dot.
fn sized(len: usize) -> Vec<u8> {
    padded(b"Subject: sized\r\n\r\n", len)
}

/// `start` (whole CRLF lines) and lines of `x` up to exactly `len` octets.
fn padded(start: &[u8], len: usize) -> Vec<u8> {
    scenarios::padded(start, len)
}

// ---------------------------------------------------------------------------------------
// STARTTLS

#[test]
fn starttls_required_by_the_server_is_done_with_the_ca_file() {
    let Some(mut flags) = starttls("starttls", "server") else {
        return;
    };
    flags.push("--require-starttls".to_owned());
    let Some(s) = start("starttls", &flags) else {
        return;
    };
    let mut client = s.client(TlsMode::StartTls).build().unwrap();
    let msg = message();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let report = client.send_bytes(&env, &msg).unwrap();
    assert!(report.encrypted);
    assert!(client.is_encrypted());
    client.quit().unwrap();
    let m = s.only_message();
    assert_eq!(m.data, msg);
    assert_eq!(m.meta["tls"], true);
    assert_eq!(m.meta["helo"], EHLO_NAME);

    let t = client.transcript().unwrap();
    let d = dialogue(&t);
    let mut expected = vec![format!("C: EHLO {EHLO_NAME}")];
    expected.extend(ehlo_reply(DEFAULT_SIZE, &["STARTTLS"]));
    expected.push("C: STARTTLS".to_owned());
    expected.push("S: 220 Ready to start TLS".to_owned());
    expected.push(format!("C: EHLO {EHLO_NAME}"));
    // After the handshake: no STARTTLS, and AUTH since the session is encrypted.
    expected.extend(ehlo_reply(DEFAULT_SIZE, &["AUTH LOGIN PLAIN"]));
    assert_eq!(d[..expected.len()], expected[..], "\n{t}");
    assert_eq!(
        d[expected.len()],
        format!(
            "C: MAIL FROM:<alice@example.test> SIZE={} BODY=8BITMIME",
            msg.len()
        )
    );
}

#[test]
fn opportunistic_tls_uses_the_offered_starttls() {
    let Some(flags) = starttls("opportunistic", "server") else {
        return;
    };
    let Some(s) = start("opportunistic", &flags) else {
        return;
    };
    scenarios::opportunistic_tls(&s, s.client(TlsMode::Opportunistic));
    assert_eq!(s.only_message().meta["tls"], Value::Bool(true));
}

#[test]
fn starttls_required_on_a_server_without_it_sends_nothing_private() {
    // AUTH is offered after TLS only, and this server has no TLS.
    let Some(s) = start("no starttls", &["--auth", "alice:s3cret"]) else {
        return;
    };
    scenarios::starttls_unavailable(&s, s.client(TlsMode::StartTls));
    assert!(s.messages().is_empty());
}

#[test]
fn a_server_requiring_starttls_refuses_mail_from_a_plaintext_client() {
    let Some(mut flags) = starttls("plaintext to starttls server", "server") else {
        return;
    };
    flags.push("--require-starttls".to_owned());
    let Some(s) = start("plaintext to starttls server", &flags) else {
        return;
    };
    let mut client = s.client(TlsMode::Disabled).build().unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    match client.send_bytes(&env, b"Subject: x\r\n\r\nx\r\n") {
        Err(Error::Rejected { step, reply, .. }) => {
            assert_eq!(step, Step::Mail);
            assert_eq!(
                (reply.code, reply.text.as_str()),
                (530, "Must issue a STARTTLS command first")
            );
        }
        other => panic!("expected Rejected at MAIL, got {other:?}"),
    }
    assert!(s.messages().is_empty());
}

#[test]
fn bad_certificates_are_named_and_nothing_private_is_sent() {
    for (leaf, expected) in [
        ("expired", TlsError::Expired),
        (
            "wronghost",
            TlsError::NotValidForName {
                name: String::new(),
            },
        ),
        ("untrusted", TlsError::UnknownIssuer),
    ] {
        let Some(mut flags) = starttls("bad certificates", leaf) else {
            return;
        };
        flags.extend(["--auth".to_owned(), "alice:s3cret".to_owned()]);
        let Some(s) = start("bad certificates", &flags) else {
            return;
        };
        // The kind of error is checked (the name a wrong host's certificate is not valid
        // for is the server's business).
        scenarios::bad_certificate(&s, s.client(TlsMode::StartTls), &expected);
        assert!(s.messages().is_empty(), "{leaf}");
    }
}

// ---------------------------------------------------------------------------------------
// AUTH (RFC 4954)

fn auth_server(test: &str) -> Option<Aiosmtpd> {
    let mut flags = starttls(test, "server")?;
    flags.extend(["--auth".to_owned(), "alice:s3cret".to_owned()]);
    start(test, &flags)
}

#[test]
fn auth_plain_and_login_after_starttls() {
    for mech in [Mechanism::Plain, Mechanism::Login] {
        let Some(s) = auth_server("auth after starttls") else {
            return;
        };
        scenarios::each_mechanism_logs_in(
            &s,
            &|| s.client(TlsMode::StartTls),
            &[mech],
            "235 2.7.0 Authentication successful",
        );
        let m = s.only_message();
        assert_eq!(m.meta["tls"], true);
        assert_eq!(
            m.meta["auth"],
            serde_json::json!({"mechanism": mech.name(), "login": "alice"})
        );
    }
}

#[test]
fn the_strongest_offered_mechanism_is_chosen_by_default() {
    let Some(s) = auth_server("default mechanism") else {
        return;
    };
    scenarios::default_mechanism(&s, s.client(TlsMode::StartTls), Mechanism::Plain);
    assert_eq!(s.only_message().meta["auth"]["mechanism"], "PLAIN");
}

#[test]
fn a_wrong_password_is_an_auth_failure_and_no_credentials_is_refused_at_mail() {
    let Some(s) = auth_server("wrong password") else {
        return;
    };
    scenarios::wrong_password(
        &s,
        &|| s.client(TlsMode::StartTls),
        &[Mechanism::Plain, Mechanism::Login],
    );

    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let mut client = s.client(TlsMode::StartTls).build().unwrap();
    match client.send_bytes(&env, b"Subject: x\r\n\r\nx\r\n") {
        Err(Error::Rejected { step, reply, .. }) => {
            assert_eq!(step, Step::Mail);
            assert_eq!(reply.code, 530);
            assert_eq!(
                reply.enhanced.map(|e| e.to_string()).as_deref(),
                Some("5.7.0")
            );
            assert_eq!(reply.text, "Authentication required");
        }
        other => panic!("expected Rejected at MAIL, got {other:?}"),
    }
    assert!(s.messages().is_empty());
}

#[test]
fn auth_over_plaintext_is_refused_unless_allowed() {
    let Some(s) = start(
        "plaintext auth",
        &["--auth", "alice:s3cret", "--auth-plaintext"],
    ) else {
        return;
    };
    let t = scenarios::plaintext_auth_refused(&s, s.client(TlsMode::Disabled));
    assert!(t.contains_line("250-AUTH LOGIN PLAIN"), "offered:\n{t}");
    assert!(s.messages().is_empty());

    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let msg = message();
    let mut client = s
        .client(TlsMode::Disabled)
        .credentials("alice", "s3cret")
        .mechanism(Mechanism::Login)
        .dangerous_allow_plaintext_auth(true)
        .build()
        .unwrap();
    client.send_bytes(&env, &msg).unwrap();
    let m = s.only_message();
    assert_eq!(m.data, msg);
    assert_eq!(m.meta["tls"], false);
    assert_eq!(
        m.meta["auth"],
        serde_json::json!({"mechanism": "LOGIN", "login": "alice"})
    );
}

#[test]
fn auth_not_offered_without_tls_is_unavailable() {
    // aiosmtpd hides AUTH until TLS (auth_require_tls), and this one has no TLS at all.
    let Some(s) = start("auth unavailable", &["--auth", "alice:s3cret"]) else {
        return;
    };
    let mut client = s
        .client(TlsMode::Disabled)
        .credentials("alice", "s3cret")
        .dangerous_allow_plaintext_auth(true)
        .build()
        .unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let err = client
        .send_bytes(&env, b"Subject: x\r\n\r\nx\r\n")
        .unwrap_err();
    assert_eq!(
        proto_error(err),
        postel::proto::Error::AuthUnavailable { wanted: None }
    );
    assert!(!client.transcript().unwrap().contains_line("MAIL"));
}

// ---------------------------------------------------------------------------------------
// The tokio AsyncClient

#[tokio::test]
async fn async_client_starttls_auth_and_two_messages_on_one_connection() {
    let Some(s) = auth_server("async starttls auth") else {
        return;
    };
    let client =
        scenarios::async_client_messages(&s, s.client(TlsMode::StartTls), Mechanism::Login, 1)
            .await;
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    client.send_bytes(&env, BARE).await.unwrap();
    let t = scenarios::async_client_done(&s, client, 2).await;
    assert!(t.contains_line("221 Bye"), "{t}");

    let m = s.messages();
    assert_eq!(m.len(), 2);
    assert_eq!(m[1].data, BARE_DELIVERED);
    for d in &m {
        assert_eq!(d.connection(), 1);
        assert_eq!(d.meta["tls"], true);
        assert_eq!(d.meta["auth"]["mechanism"], "LOGIN");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_delivers_concurrently_over_starttls_with_auth() {
    let Some(s) = auth_server("pool") else {
        return;
    };
    scenarios::pool_delivers_concurrently(&s, s.client(TlsMode::StartTls), Mechanism::Plain).await;
    let m = s.messages();
    assert_eq!(m.len(), 9);
    assert!(m.iter().all(|d| d.meta["tls"] == true));
}

#[tokio::test]
async fn async_client_reports_a_refused_recipient_and_utf8() {
    let Some(s) = start("async refused", &["--refuse", "nobody@example.test"]) else {
        return;
    };
    let client = s.client(TlsMode::Disabled).build_async().unwrap();
    let msg = "Subject: Grüße\r\n\r\nGrüße, 你好.\r\n".as_bytes();
    let env = Envelope::new(
        "jöran@exämple.test",
        ["nobody@example.test", "用户@例子.test"],
    );
    let report = client.send_bytes(&env, msg).await.unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(report.accepted[0].address, "用户@例子.test");
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].reply.code, 550);
    let m = s.only_message();
    assert_eq!(m.data, msg);
    assert_eq!(m.strings("rcpt_tos"), ["用户@例子.test"]);
    assert_eq!(m.meta["smtp_utf8"], true);
    client.quit().await;
}

#[tokio::test]
async fn async_client_over_the_size_limit_fails_and_the_next_message_goes() {
    let Some(s) = start("async size", &["--size", "1000"]) else {
        return;
    };
    let client = s.client(TlsMode::Disabled).build_async().unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let err = client.send_bytes(&env, sized(1001)).await.unwrap_err();
    assert_eq!(
        proto_error(err),
        postel::proto::Error::MessageTooLarge {
            size: 1001,
            limit: 1000
        }
    );
    let err = client
        .send_reader(&env, std::io::Cursor::new(sized(5000)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            proto_error(err),
            postel::proto::Error::MessageTooLarge { limit: 1000, .. }
        ),
        "streamed"
    );
    client.send_bytes(&env, sized(1000)).await.unwrap();
    assert_eq!(s.only_message().data, sized(1000));
    client.quit().await;
}

// ---------------------------------------------------------------------------------------
// A connection the server closed while it sat idle

/// aiosmtpd's idle timeout for these tests: long enough that no session stalls that long
/// on a loaded machine, short enough to wait for.
const IDLE_TIMEOUT: &str = "3";

fn idle_closing_server(test: &str, tls: bool) -> Option<Aiosmtpd> {
    let mut flags = vec!["--timeout".to_owned(), IDLE_TIMEOUT.to_owned()];
    if tls {
        flags.extend(starttls(test, "server")?);
    }
    start(test, &flags)
}

/// The marker of the server having closed connection `n` for idleness (its FIN or TLS
/// close_notify is sent before the marker appears).
fn idle_closed(s: &Aiosmtpd, n: u32) -> PathBuf {
    s.dir.join(format!("idle-closed-{n}"))
}

const IDLE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends one message, lets aiosmtpd close the idle connection (no 421: a FIN, or a TLS
/// close_notify), then sends another: it must go over a new connection, not fail.
#[test]
fn blocking_client_replaces_a_connection_the_server_closed_while_idle() {
    for (tls, mode) in [(false, TlsMode::Disabled), (true, TlsMode::StartTls)] {
        let Some(s) = idle_closing_server("idle close (blocking)", tls) else {
            return;
        };
        let mut client = s.client(mode).build().unwrap();
        let env = Envelope::new("alice@example.test", ["bob@example.test"]);
        client
            .send_bytes(&env, b"Subject: one\r\n\r\n1\r\n")
            .unwrap();
        let marker = idle_closed(&s, 1);
        let deadline = std::time::Instant::now() + IDLE_WAIT;
        while !marker.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd never timed out"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let report = client
            .send_bytes(&env, b"Subject: two\r\n\r\n2\r\n")
            .unwrap_or_else(|e| panic!("tls={tls}: {e}\n{}", client.transcript().unwrap()));
        assert_eq!(report.encrypted, tls);
        let m = s.messages();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].data, b"Subject: two\r\n\r\n2\r\n");
        assert_eq!((m[0].connection(), m[1].connection()), (1, 2), "tls={tls}");
    }
}

/// The same for the tokio client. Before the fix its connection task did not watch the
/// socket while idle, so the next message went out on the closed connection and failed
/// with `ConnectionClosed { step: Mail }`.
#[tokio::test]
async fn async_client_replaces_a_connection_the_server_closed_while_idle() {
    for (tls, mode) in [(false, TlsMode::Disabled), (true, TlsMode::StartTls)] {
        let Some(s) = idle_closing_server("idle close (async)", tls) else {
            return;
        };
        let client = s.client(mode).build_async().unwrap();
        let env = Envelope::new("alice@example.test", ["bob@example.test"]);
        client
            .send_bytes(&env, &b"Subject: one\r\n\r\n1\r\n"[..])
            .await
            .unwrap();
        let marker = idle_closed(&s, 1);
        let deadline = std::time::Instant::now() + IDLE_WAIT;
        while !marker.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd never timed out"
            );
            // Not a blocking sleep: the runtime must run to see the socket close, as it
            // would over the minutes a real connection sits idle.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::task::yield_now().await;
        let report = client
            .send_bytes(&env, &b"Subject: two\r\n\r\n2\r\n"[..])
            .await
            .unwrap_or_else(|e| panic!("tls={tls}: {e}\n{}", client.transcript().unwrap()));
        assert_eq!(report.encrypted, tls);
        let m = s.messages();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].data, b"Subject: two\r\n\r\n2\r\n");
        assert_eq!((m[0].connection(), m[1].connection()), (1, 2), "tls={tls}");
        let t = client.transcript().unwrap();
        assert!(
            t.entries().iter().any(|e| e.side == postel::Side::Note
                && e.text == "the server closed the idle connection: not reused"),
            "{t}"
        );
        client.quit().await;
    }
}
