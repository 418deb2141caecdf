//! The blocking `Client` and the tokio `AsyncClient` against a real Exim 4.96 (Debian 12's
//! exim4-daemon-light, unpacked and started by scripts/exim-up.sh; see
//! docs/testing-exim.md). Exim offers PIPELINING, CHUNKING, SMTPUTF8, 8BITMIME, DSN, SIZE,
//! STARTTLS and AUTH (PLAIN and LOGIN after TLS, CRAM-MD5 always), enforces SMTP
//! synchronization (a client that sends ahead where it may not gets `554 SMTP
//! synchronization error`), and delivers into one Maildir with CRLF line ends.
//!
//! Every test reads only POSTEL_EXIM_* variables: when they are absent it prints a loud
//! SKIP, or panics when CI=true or POSTEL_REQUIRE_SERVERS=1.

mod common;
mod scenarios;

use std::time::{Duration, Instant};

use postel::proto::{Notify, Ret};
use postel::{Client, Envelope, Error, Mechanism, Options, Side, TlsMode};

use common::{connections, contains, marker, proto_error};
use scenarios::{EnvServer, Framing, ReplyText, Server};

type Exim = EnvServer;

/// The instance's variables, or `None` (after a loud SKIP) when Exim is not running.
fn env(test: &str) -> Option<Exim> {
    EnvServer::find(&scenarios::EXIM, test)
}

/// Drops the one header Exim prepends, `Received:` with its continuation lines.
fn strip_received(file: &[u8]) -> Vec<u8> {
    scenarios::strip_prepended(file, scenarios::EXIM.prepended)
}

/// A CRLF message with what tends to break: a lone dot, leading dots, trailing spaces,
/// 8-bit UTF-8, a 990-octet line.
fn message(marker: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: postel exim test\r\n\
         X-Postel-Marker: {marker}\r\n\r\nHello.\r\n.\r\n.leading dot\r\n..two\r\n\
         trailing spaces   \r\nGr\u{fc}\u{df}e aus Z\u{fc}rich.\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&[b'x'; 990]);
    m.extend_from_slice(b"\r\nend\r\n");
    m
}

/// Bare LF, bare CR, CR CR LF, lone dots a lenient server could take for the end of data
/// (`\n.\n`, `\r.\r`: SMTP smuggling), a smuggled command, and no line end at the end.
fn bare(marker: &str) -> Vec<u8> {
    format!(
        "Subject: dots\nX-Postel-Marker: {marker}\n\n.\n..\n.x\r\nbare CR\rhere\r\r\nmix\n\r\n\
         a\n.\nMAIL FROM:<smuggled@example.test>\r\nb\r.\rc\nend"
    )
    .into_bytes()
}

/// What must arrive for [`bare`]: every line end CRLF, the dots as written, a final CRLF.
fn bare_delivered(marker: &str) -> Vec<u8> {
    format!(
        "Subject: dots\r\nX-Postel-Marker: {marker}\r\n\r\n.\r\n..\r\n.x\r\nbare CR\r\nhere\r\n\
         \r\nmix\r\n\r\na\r\n.\r\nMAIL FROM:<smuggled@example.test>\r\nb\r\n.\r\nc\r\nend\r\n"
    )
    .into_bytes()
}

/// Sends one message to bob and checks the delivered file byte for byte.
fn send_and_read_back(x: &Exim, client: &mut Client) -> postel::SendReport {
    let mark = marker("exim-");
    let msg = message(&mark);
    let env = Envelope::new("alice@example.test", [x.rcpt("bob")]);
    let report = client.send_bytes(&env, &msg).unwrap_or_else(|e| {
        panic!(
            "send failed: {e}\n{}",
            client.transcript().unwrap_or_default()
        )
    });
    assert_eq!(report.reply.code, 250, "{report:?}");
    x.assert_accepted(&report);
    assert_eq!(x.delivered(&mark), msg, "delivered file differs");
    report
}

/// The client's writes that carry a MAIL FROM.
fn transaction_writes(t: &postel::Transcript) -> Vec<Vec<&str>> {
    scenarios::transaction_writes(t)
}

/// Each transaction went as one write: MAIL, every RCPT, then `BDAT n LAST` and the
/// content (RFC 3030 with RFC 2920), and Exim found nothing out of sync.
fn assert_pipelined_bdat(t: &postel::Transcript, transactions: usize) {
    scenarios::assert_framing(t, Framing::PipelinedBdat, transactions);
}

// ---------------------------------------------------------------------------------------
// Plain, STARTTLS, implicit TLS

#[test]
fn plaintext_session_pipelines_mail_rcpt_bdat_and_delivers_byte_for_byte() {
    let Some(x) = env("plaintext") else { return };
    let mut client = x.client("PLAIN", TlsMode::Disabled).build().unwrap();
    let report = send_and_read_back(&x, &mut client);
    assert!(!report.encrypted);
    let t = client.transcript().unwrap();
    assert!(!t.contains_line("STARTTLS"), "{t}");
    for keyword in [
        "250-SIZE 1048576",
        "250-8BITMIME",
        "250-DSN",
        "250-PIPELINING",
        "250-CHUNKING",
        "250-STARTTLS",
        "250-SMTPUTF8",
        // PLAIN and LOGIN are kept for TLS sessions (server_advertise_condition).
        "250-AUTH CRAM-MD5",
    ] {
        assert!(t.contains_line(keyword), "{keyword} not offered:\n{t}");
    }
    assert_pipelined_bdat(&t, 1);
    client.quit().unwrap();
    assert!(
        client
            .transcript()
            .unwrap()
            .contains_line("221 postel-test.localhost closing connection"),
        "{}",
        client.transcript().unwrap()
    );
}

#[test]
fn starttls_required_verifies_the_chain_to_the_test_root_and_forgets_the_old_ehlo() {
    let Some(x) = env("starttls") else { return };
    let mut client = x.client("PLAIN", TlsMode::StartTls).build().unwrap();
    let report = send_and_read_back(&x, &mut client);
    assert!(report.encrypted);
    assert!(client.is_encrypted());
    let t = client.transcript().unwrap();
    let lines: Vec<String> = t.entries().iter().map(|e| e.text.clone()).collect();
    let starttls = lines
        .iter()
        .position(|l| l == "STARTTLS")
        .expect("STARTTLS");
    assert_eq!(lines[starttls + 1], "220 TLS go ahead", "{t}");
    // After the handshake: EHLO again, and now PLAIN and LOGIN are offered.
    let ehlos: Vec<_> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("EHLO "))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(ehlos.len(), 2, "{t}");
    assert!(ehlos[1] > starttls, "{t}");
    assert!(
        lines[ehlos[1]..]
            .iter()
            .any(|l| l == "250-AUTH PLAIN LOGIN CRAM-MD5"),
        "{t}"
    );
    assert!(
        !lines[ehlos[1]..].iter().any(|l| l == "250-STARTTLS"),
        "{t}"
    );
    assert_pipelined_bdat(&t, 1);
}

#[test]
fn implicit_tls_port_delivers() {
    let Some(x) = env("implicit") else { return };
    let mut client = x.client("IMPLICIT", TlsMode::Implicit).build().unwrap();
    let report = send_and_read_back(&x, &mut client);
    assert!(report.encrypted);
    let t = client.transcript().unwrap();
    assert!(!t.contains_line("STARTTLS"), "{t}");
    assert!(t.contains_line("250-AUTH PLAIN LOGIN CRAM-MD5"), "{t}");
    assert_pipelined_bdat(&t, 1);
}

#[test]
fn implicit_tls_without_the_test_root_is_an_unknown_issuer() {
    let Some(x) = env("implicit platform roots") else {
        return;
    };
    let b = x
        .client("IMPLICIT", TlsMode::Implicit)
        .roots(postel::Roots::Platform);
    let got = scenarios::bad_certificate(&x, b, &postel::TlsError::UnknownIssuer);
    assert_eq!(got, postel::TlsError::UnknownIssuer);
}

#[test]
fn opportunistic_tls_uses_the_offered_starttls() {
    let Some(x) = env("opportunistic") else {
        return;
    };
    let t = scenarios::opportunistic_tls(&x, x.client("PLAIN", TlsMode::Opportunistic));
    assert!(t.contains_line("220 TLS go ahead"), "{t}");
}

// ---------------------------------------------------------------------------------------
// AUTH

#[test]
fn auth_plain_login_and_cram_md5_after_starttls() {
    let Some(x) = env("auth after starttls") else {
        return;
    };
    scenarios::each_mechanism_logs_in(
        &x,
        &|| x.client("PLAIN", TlsMode::StartTls),
        &[Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5],
        "235 Authentication succeeded",
    );
}

#[test]
fn the_strongest_offered_mechanism_is_cram_md5() {
    let Some(x) = env("default mechanism") else {
        return;
    };
    scenarios::default_mechanism(
        &x,
        x.client("IMPLICIT", TlsMode::Implicit),
        Mechanism::CramMd5,
    );
}

#[test]
fn a_wrong_password_is_an_auth_failure_and_nothing_is_sent() {
    let Some(x) = env("wrong password") else {
        return;
    };
    scenarios::wrong_password(
        &x,
        &|| x.client("PLAIN", TlsMode::StartTls),
        &[Mechanism::Plain, Mechanism::CramMd5],
    );
}

#[test]
fn auth_over_plaintext_is_refused_unless_allowed() {
    let Some(x) = env("plaintext auth") else {
        return;
    };
    let t = scenarios::plaintext_auth_refused(&x, x.client("PLAIN", TlsMode::Disabled));
    assert!(t.contains_line("250-AUTH CRAM-MD5"), "{t}");

    let (user, password) = x.user();
    let env = Envelope::new("alice@example.test", [x.rcpt("bob")]);
    // Allowed: the one mechanism Exim offers without TLS.
    let mut client = x
        .client("PLAIN", TlsMode::Disabled)
        .credentials(&user, &password)
        .dangerous_allow_plaintext_auth(true)
        .build()
        .unwrap();
    let report = send_and_read_back(&x, &mut client);
    assert_eq!(report.authenticated, Some(Mechanism::CramMd5));
    assert!(!report.encrypted);

    // PLAIN is not offered in plaintext: asking for it is no reason to send it anyway.
    let mut client = x
        .client("PLAIN", TlsMode::Disabled)
        .credentials(&user, &password)
        .mechanism(Mechanism::Plain)
        .dangerous_allow_plaintext_auth(true)
        .build()
        .unwrap();
    let err = client
        .send_bytes(&env, b"Subject: x\r\n\r\nx\r\n")
        .unwrap_err();
    assert_eq!(
        proto_error(err),
        postel::proto::Error::AuthUnavailable {
            wanted: Some(Mechanism::Plain)
        }
    );
    assert!(!client.transcript().unwrap().contains_line("AUTH "));
}

// ---------------------------------------------------------------------------------------
// Recipients and transactions

#[test]
fn a_refused_recipient_is_reported_while_the_others_get_the_message() {
    let Some(x) = env("refused recipient") else {
        return;
    };
    scenarios::refused_recipient(
        &x,
        &mut x.client("PLAIN", TlsMode::StartTls).build().unwrap(),
        ReplyText::Is("No such user here (Postel test)"),
    );
}

#[test]
fn a_deferred_recipient_is_transient_and_the_session_goes_on() {
    let Some(x) = env("tempfail recipient") else {
        return;
    };
    // Exim's `defer` verb answers 451 unless the ACL names another code.
    let t = scenarios::temporarily_refused_recipient(
        &x,
        &mut x.client("PLAIN", TlsMode::StartTls).build().unwrap(),
        &x.var("TEMPFAIL"),
        451,
        Some("4.2.1"),
    );
    assert!(!t.contains_line("554"), "{t}");
}

/// Exim answers a DATA or BDAT that follows only refused recipients with a multi-line 503
/// quoting the RCPT reply (`503-All RCPT commands were rejected with this error:`,
/// `503-550 5.1.1 ...`, `503 Valid RCPT command must precede BDAT`), and throws away the
/// pipelined chunk: the transaction fails with the recipient's own reply and the
/// connection carries the next message.
#[test]
fn every_recipient_refused_fails_with_their_reply_and_the_next_message_goes() {
    let Some(x) = env("all refused") else { return };
    for chunking in [true, false] {
        let options = Options {
            chunking,
            ..Options::default()
        };
        let mut client = x
            .client("PLAIN", TlsMode::Disabled)
            .options(options)
            .build()
            .unwrap();
        let env = Envelope::new("alice@example.test", [x.var("REFUSED"), x.var("REFUSED")]);
        let mark = marker("exim-");
        match client.send_bytes(&env, &message(&mark)) {
            Err(Error::Rejected {
                step,
                reply,
                refused,
            }) => {
                assert_eq!(step, postel::proto::Step::Rcpt, "chunking {chunking}");
                assert_eq!(reply.code, 550);
                assert_eq!(refused.len(), 2);
            }
            other => panic!("chunking {chunking}: expected Rejected, got {other:?}"),
        }
        send_and_read_back(&x, &mut client);
        let t = client.transcript().unwrap();
        assert_eq!(connections(&t), 1, "{t}");
        assert!(!t.contains_line("554"), "{t}");
        if chunking {
            assert!(
                t.contains_line("503-All RCPT commands were rejected with this error:"),
                "{t}"
            );
        } else {
            // DATA waits for its 354 before any content goes (RFC 2920 §3.1).
            assert!(
                t.contains_line("503 Valid RCPT command must precede DATA"),
                "{t}"
            );
        }
        assert!(x.files_with(&mark).is_empty(), "{mark} was delivered");
    }
}

/// Exim's DATA ACL gives its verdict after the end of data (or BDAT LAST), in one line:
/// a 550 is a permanent rejection of the message, a 451 a transient one; neither costs
/// the connection.
#[test]
fn a_verdict_on_the_content_after_the_end_of_data_is_reported_and_the_session_goes_on() {
    let Some(x) = env("data acl") else { return };
    for chunking in [true, false] {
        let options = Options {
            chunking,
            ..Options::default()
        };
        let mut client = x
            .client("PLAIN", TlsMode::StartTls)
            .options(options)
            .build()
            .unwrap();
        let env = Envelope::new("alice@example.test", [x.rcpt("bob")]);
        for (header, code, enhanced, transient) in [
            ("X-Postel-Reject", 550, "5.7.1", false),
            ("X-Postel-Defer", 451, "4.3.0", true),
        ] {
            let mark = marker("exim-");
            let msg = format!("{header}: yes\r\nX-Postel-Marker: {mark}\r\n\r\nbody\r\n");
            match client.send_bytes(&env, msg.as_bytes()) {
                Err(e @ Error::Rejected { .. }) => {
                    assert_eq!(e.is_transient(), transient, "{e}");
                    let Error::Rejected { step, reply, .. } = e else {
                        unreachable!()
                    };
                    assert_eq!(step, postel::proto::Step::DataEnd, "chunking {chunking}");
                    assert_eq!(reply.code, code);
                    assert_eq!(
                        reply.enhanced.map(|e| e.to_string()).as_deref(),
                        Some(enhanced)
                    );
                }
                other => panic!("chunking {chunking}, {header}: expected Rejected, got {other:?}"),
            }
            assert!(x.files_with(&mark).is_empty(), "{mark} was delivered");
        }
        send_and_read_back(&x, &mut client);
        let t = client.transcript().unwrap();
        assert_eq!(connections(&t), 1, "{t}");
        assert!(!t.contains_line("554"), "{t}");
    }
}

/// Exim counts "non-mail" commands and drops a client after too many
/// (`smtp_accept_max_nonmail`, 10; the first RSET after an accepted message, or after
/// connecting, is free). A transaction whose every recipient was refused leaves MAIL in
/// force, so the next one starts with RSET: the thirteenth such transaction in a row
/// meets `554 Too many nonmail commands` before its MAIL. That says nothing about the
/// message (no content was sent, the reply to RSET is awaited first): a transient error
/// naming RSET, and the next send goes over a new connection.
#[test]
fn exim_drops_a_client_after_too_many_rsets_and_the_next_send_reconnects() {
    let Some(x) = env("many failures") else {
        return;
    };
    let mut client = x.client("PLAIN", TlsMode::Disabled).build().unwrap();
    let refused = Envelope::new("alice@example.test", [x.var("REFUSED")]);
    let mut rset_refused = Vec::new();
    for i in 0..15 {
        match client.send_bytes(&refused, b"Subject: x\r\n\r\nx\r\n") {
            Err(Error::Rejected { reply, step, .. }) => {
                assert_eq!((step, reply.code), (postel::proto::Step::Rcpt, 550), "#{i}");
            }
            Err(e @ Error::Protocol(postel::proto::Error::Rejected { .. })) => {
                assert!(e.is_transient(), "{e}");
                let Error::Protocol(postel::proto::Error::Rejected { step, reply }) = e else {
                    unreachable!()
                };
                assert_eq!(step, postel::proto::Step::Rset);
                assert_eq!(reply.code().get(), 554);
                assert_eq!(reply.text(), b"Too many nonmail commands");
                rset_refused.push(i);
            }
            other => panic!("#{i}: expected a rejection, got {other:?}"),
        }
    }
    assert_eq!(rset_refused, [12], "{}", client.transcript().unwrap());
    send_and_read_back(&x, &mut client);
    let t = client.transcript().unwrap();
    assert_eq!(connections(&t), 2, "{t}");
    // The content of a transaction whose recipients were all refused is never sent.
    assert_eq!(
        t.entries()
            .iter()
            .filter(|e| e.side == Side::Client && e.text.starts_with("BDAT"))
            .count(),
        3,
        "{t}"
    );
}

#[test]
fn a_null_reverse_path_is_sent_as_empty_brackets() {
    let Some(x) = env("null sender") else { return };
    let mut client = x.client("PLAIN", TlsMode::Disabled).build().unwrap();
    let mark = marker("exim-");
    let msg = message(&mark);
    let env = Envelope::new("", [x.rcpt("bob")]);
    client.send_bytes(&env, &msg).unwrap();
    assert_eq!(x.delivered(&mark), msg);
    let t = client.transcript().unwrap();
    assert!(t.contains_line("MAIL FROM:<> SIZE="), "{t}");
}

#[test]
fn a_streamed_message_goes_in_pipelined_chunks_and_arrives_whole() {
    let Some(x) = env("streamed") else { return };
    let mut client = x.client("PLAIN", TlsMode::StartTls).build().unwrap();
    let mark = marker("exim-");
    let msg = sized(&mark, 300_000);
    let env = Envelope::new("alice@example.test", [x.rcpt("bob")]);
    let report = client.send_reader(&env, &msg[..]).unwrap();
    assert_eq!(report.reply.code, 250);
    assert_eq!(x.delivered(&mark), msg);
    let t = client.transcript().unwrap();
    let chunks = t
        .entries()
        .iter()
        .filter(|e| e.side == Side::Client && e.text.starts_with("BDAT "))
        .count();
    assert!(chunks > 1, "{t}");
    let last = t
        .entries()
        .iter()
        .filter(|e| e.side == Side::Client && e.text.ends_with(" LAST"))
        .count();
    assert_eq!(last, 1, "{t}");
    assert!(!t.contains_line("554"), "{t}");
    // The message carries no SIZE= (unknown ahead), and the session goes on.
    assert!(t.contains_line("MAIL FROM:<alice@example.test>"), "{t}");
    send_and_read_back(&x, &mut client);
}

#[test]
fn several_messages_on_one_connection_each_go_as_one_write() {
    let Some(x) = env("reuse bdat") else { return };
    // After three messages, one with many recipients, one of them refused, in the same
    // session.
    scenarios::many_messages_one_connection(
        &x,
        x.client("PLAIN", TlsMode::StartTls),
        true,
        3,
        &mut |client| {
            let mark = marker("exim-");
            let msg = message(&mark);
            let mut to: Vec<String> = (0..8).map(|i| x.rcpt(&format!("r{i}"))).collect();
            to.insert(3, x.var("REFUSED"));
            let report = client
                .send_bytes(&Envelope::new("alice@example.test", to), &msg)
                .unwrap();
            assert_eq!((report.accepted.len(), report.refused.len()), (8, 1));
            assert_eq!(x.delivered_n(&mark, 8).len(), 8);
            1
        },
    );
}

#[test]
fn without_chunking_mail_rcpt_data_go_as_one_write_and_content_as_the_next() {
    let Some(x) = env("data path") else { return };
    let options = Options {
        chunking: false,
        ..Options::default()
    };
    let mut client = x
        .client("PLAIN", TlsMode::StartTls)
        .options(options)
        .build()
        .unwrap();
    for _ in 0..3 {
        send_and_read_back(&x, &mut client);
    }
    let t = client.transcript().unwrap();
    let writes = transaction_writes(&t);
    assert_eq!(writes.len(), 3, "{t}");
    for w in writes {
        assert_eq!(
            w.last().copied(),
            Some("DATA"),
            "MAIL, RCPT, DATA in one write: {w:?}"
        );
    }
    assert!(!t.contains_line("BDAT"), "{t}");
    assert!(!t.contains_line("554"), "{t}");
    assert_eq!(connections(&t), 1, "{t}");
}

#[test]
fn dots_and_bare_line_ends_arrive_crlf_normalized_and_unstuffed_with_bdat_and_data() {
    let Some(x) = env("dots and bare line ends") else {
        return;
    };
    scenarios::dots_and_bare_line_ends(
        &x,
        &|o| x.client("PLAIN", TlsMode::Disabled).options(o),
        &[true, false],
    );
}

#[test]
fn an_smtputf8_message_is_delivered_with_its_utf8_envelope() {
    let Some(x) = env("smtputf8") else { return };
    let mut client = x.client("PLAIN", TlsMode::StartTls).build().unwrap();
    let domain = x.var("UTF8_DOMAIN");
    let rcpt = format!("\u{7528}\u{6237}@{domain}");
    let (_, mark) = scenarios::smtputf8(&x, &mut client, &format!("j\u{f6}ran@{domain}"), &rcpt);
    let file = x.files_with(&mark);
    // Exim's own Received: names the UTF-8 envelope and says the session used SMTPUTF8.
    let received = String::from_utf8_lossy(&file[0]).into_owned();
    assert!(received.contains("with utf8esmtps"), "{received}");
    assert!(received.contains(&format!("for {rcpt};")), "{received}");
}

#[test]
fn dsn_parameters_are_sent_and_exim_reports_success_to_the_sender() {
    let Some(x) = env("dsn") else { return };
    let mut client = x.client("PLAIN", TlsMode::StartTls).build().unwrap();
    let mark = marker("exim-");
    let envid = format!("postel-{mark}");
    let env = Envelope::new(x.rcpt("dsn-sender"), [x.rcpt("bob")])
        .notify(Notify::SUCCESS.union(Notify::FAILURE))
        .ret(Ret::Headers)
        .envid(envid.clone());
    let msg = message(&mark);
    client.send_bytes(&env, &msg).unwrap();
    let t = client.transcript().unwrap();
    assert!(
        t.contains_line(&format!(
            "RCPT TO:<{}> NOTIFY=SUCCESS,FAILURE",
            x.rcpt("bob")
        )),
        "{t}"
    );
    assert!(
        t.entries().iter().any(|e| e.text.starts_with("MAIL FROM:")
            && e.text.contains(" RET=HDRS")
            && e.text.contains(&format!(" ENVID={envid}"))),
        "{t}"
    );
    // The message itself, and Exim's success DSN to the sender quoting the ENVID.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let files = x.files_with(&envid);
        if let Some(dsn) = files.iter().find(|f| contains(f, b"multipart/report")) {
            let dsn = String::from_utf8_lossy(dsn);
            assert!(
                dsn.contains(&format!("Original-Envelope-ID: {envid}")),
                "{dsn}"
            );
            assert!(dsn.contains("Action: delivered"), "{dsn}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no success DSN quoting {envid} (see {})",
            x.var("LOG")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // RET=HDRS: the DSN quotes the headers (and so the marker) but not the body.
    let files = x.files_with(&mark);
    assert_eq!(files.len(), 2);
    let original: Vec<_> = files
        .iter()
        .filter(|f| !contains(f, b"multipart/report"))
        .collect();
    assert_eq!(original.len(), 1);
    assert_eq!(strip_received(original[0]), msg);
}

// ---------------------------------------------------------------------------------------
// SIZE (RFC 1870)

fn limit(x: &Exim) -> usize {
    x.var("SIZE_LIMIT").parse().expect("a number")
}

/// A CRLF message of exactly `len` octets with `marker` in a header.
fn sized(marker: &str, len: usize) -> Vec<u8> {
    scenarios::sized(marker, len)
}

#[test]
fn a_message_over_size_is_refused_before_mail_and_a_streamed_one_before_its_end() {
    let Some(x) = env("size") else { return };
    let limit = limit(&x);
    let mut client = x.client("PLAIN", TlsMode::Disabled).build().unwrap();
    scenarios::over_size_limit(&x, &mut client, limit as u64);

    // Of unknown size: abandoned before the last chunk; Exim keeps nothing.
    let t = scenarios::streamed_over_size_limit(&x, &mut client, limit as u64, limit * 2);
    assert!(t.contains_line("BDAT"), "{t}");

    // The client goes on (over a new connection if it had to drop the old one).
    let mark = marker("exim-");
    let env = Envelope::new("alice@example.test", [x.rcpt("bob")]);
    let fits = message(&mark);
    client.send_bytes(&env, &fits).unwrap();
    assert_eq!(x.delivered(&mark), fits, "only the small message arrived");
}

// ---------------------------------------------------------------------------------------
// The tokio AsyncClient

#[tokio::test]
async fn async_client_starttls_auth_several_messages_and_a_refused_recipient() {
    let Some(x) = env("async starttls") else {
        return;
    };
    let client = scenarios::async_client_messages(
        &x,
        x.client("PLAIN", TlsMode::StartTls),
        Mechanism::Login,
        2,
    )
    .await;
    let mark = marker("exim-");
    let env = Envelope::new("alice@example.test", [x.var("REFUSED"), x.rcpt("carol")]);
    let report = client.send_bytes(&env, bare(&mark)).await.unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(report.refused[0].reply.code, 550);
    scenarios::async_client_done(&x, client, 3).await;
    assert_eq!(x.delivered(&mark), bare_delivered(&mark));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_delivers_concurrently_over_starttls_with_auth() {
    let Some(x) = env("pool") else { return };
    scenarios::pool_delivers_concurrently(
        &x,
        x.client("PLAIN", TlsMode::StartTls),
        Mechanism::CramMd5,
    )
    .await;
}

#[tokio::test]
async fn async_client_implicit_tls_cram_md5_utf8_and_size() {
    let Some(x) = env("async implicit") else {
        return;
    };
    let (user, password) = x.user();
    let client = x
        .client("IMPLICIT", TlsMode::Implicit)
        .credentials(&user, &password)
        .build_async()
        .unwrap();
    let domain = x.var("UTF8_DOMAIN");
    let mark = marker("exim-");
    let msg =
        format!("Subject: Gr\u{fc}\u{df}e\r\nX-Postel-Marker: {mark}\r\n\r\n\u{4f60}\u{597d}.\r\n")
            .into_bytes();
    let env = Envelope::new("alice@example.test", [format!("\u{7528}\u{6237}@{domain}")]);
    let report = client.send_bytes(&env, msg.clone()).await.unwrap();
    assert_eq!(report.authenticated, Some(Mechanism::CramMd5));
    assert!(report.encrypted);
    assert_eq!(x.delivered(&mark), msg);

    let limit = limit(&x);
    let env = Envelope::new("alice@example.test", [x.rcpt("bob")]);
    let err = client
        .send_bytes(&env, sized(&mark, limit + 1))
        .await
        .unwrap_err();
    assert_eq!(
        proto_error(err),
        postel::proto::Error::MessageTooLarge {
            size: limit as u64 + 1,
            limit: limit as u64
        }
    );
    let mark = marker("exim-");
    let data = Options {
        chunking: false,
        ..Options::default()
    };
    let client = x
        .client("IMPLICIT", TlsMode::Implicit)
        .options(data)
        .build_async()
        .unwrap();
    let report = client.send_bytes(&env, message(&mark)).await.unwrap();
    assert_eq!(report.reply.code, 250);
    assert_eq!(x.delivered(&mark), message(&mark));
    let t = client.transcript().unwrap();
    assert_eq!(
        transaction_writes(&t)[0].last().copied(),
        Some("DATA"),
        "{t}"
    );
    client.quit().await;
}

#[test]
fn the_test_server_is_the_debian_exim() {
    let Some(x) = env("version") else { return };
    let mut client = x.client("PLAIN", TlsMode::Disabled).build().unwrap();
    client.connect().unwrap();
    let t = client.transcript().unwrap();
    assert!(
        t.contains_line("220 postel-test.localhost ESMTP Postel test Exim 4.96"),
        "{t}"
    );
    assert!(x.var("VERSION").starts_with("4.96"), "{}", x.var("VERSION"));
}
