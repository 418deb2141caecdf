//! The blocking client against the in-process simulator (ephemeral port, generated CA).

use std::time::Duration;

use postel::{Client, Envelope, Error, Mechanism, Options, TlsError, TlsMode};
use postel_sim::fault::{Action, Fault, Step as SimStep};
use postel_sim::{BlockingSimulator, Config, Transfer};

const WAIT: Duration = Duration::from_secs(5);

fn plain(sim: &BlockingSimulator) -> postel::ClientBuilder {
    Client::builder("127.0.0.1")
        .port(sim.addr().port())
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        .transcript(true)
}

fn start(config: Config) -> BlockingSimulator {
    BlockingSimulator::start(config).expect("the simulator starts")
}

const MESSAGE: &[u8] = b"From: a@client.test\r\nTo: b@mx.test\r\nSubject: test\r\n\r\n\
Hello.\r\n.leading dot\r\n..two dots\r\n\r\nCaf\xc3\xa9 8-bit.\r\n";

#[test]
fn delivers_the_exact_bytes_with_mail_rcpt_and_bdat_in_one_write() {
    let sim = start(Config::builder().build());
    let mut client = plain(&sim).build().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test", "c@mx.test"]);
    let report = client.send_bytes(&env, MESSAGE).unwrap();
    assert_eq!(report.accepted.len(), 2);
    assert_eq!(report.accepted[1].address, "c@mx.test");
    assert!(report.refused.is_empty());
    assert_eq!(report.reply.code, 250);

    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, MESSAGE);
    assert_eq!(got[0].transfer, Transfer::Bdat);
    assert_eq!(got[0].mail_param("BODY"), Some("8BITMIME"));
    assert_eq!(
        got[0].mail_param("SIZE"),
        Some(MESSAGE.len().to_string().as_str())
    );
    assert_eq!(got[0].helo, "client.test");

    let t = client.transcript().unwrap();
    let group = t
        .client_writes()
        .into_iter()
        .find(|w| w.iter().any(|l| l.starts_with("MAIL FROM")))
        .expect("a write with MAIL FROM");
    assert_eq!(
        group,
        vec![
            format!(
                "MAIL FROM:<a@client.test> SIZE={} BODY=8BITMIME",
                MESSAGE.len()
            ),
            "RCPT TO:<b@mx.test>".to_owned(),
            "RCPT TO:<c@mx.test>".to_owned(),
            format!("BDAT {} LAST", MESSAGE.len()),
            format!("[{} octets of message content]", MESSAGE.len()),
        ]
    );
}

#[test]
fn data_framing_dot_stuffs_and_delivers_the_exact_bytes() {
    let sim = start(Config::builder().build());
    let options = Options {
        chunking: false,
        ..Options::default()
    };
    let mut client = plain(&sim).options(options).build().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    client.send_bytes(&env, MESSAGE).unwrap();
    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got[0].data, MESSAGE);
    assert_eq!(got[0].transfer, Transfer::Data);
    let t = client.transcript().unwrap();
    assert!(t.contains_line("DATA"), "{t}");
}

#[test]
fn a_refused_recipient_is_reported_while_the_others_get_the_message() {
    let sim = start(
        Config::builder()
            .fault(Fault::refuse_recipient(
                "nobody@mx.test",
                550,
                "5.1.1 <nobody@mx.test>: Recipient address rejected",
            ))
            .build(),
    );
    let mut client = plain(&sim).build().unwrap();
    let env = Envelope::new(
        "a@client.test",
        ["b@mx.test", "nobody@mx.test", "c@mx.test"],
    );
    let report = client.send_bytes(&env, MESSAGE).unwrap();
    let accepted: Vec<_> = report.accepted.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(accepted, ["b@mx.test", "c@mx.test"]);
    assert_eq!(report.refused.len(), 1);
    let r = &report.refused[0];
    assert_eq!(r.address, "nobody@mx.test");
    assert_eq!(r.reply.code, 550);
    assert_eq!(
        r.reply.enhanced.map(|e| e.to_string()),
        Some("5.1.1".to_owned())
    );
    assert_eq!(r.reply.text, "<nobody@mx.test>: Recipient address rejected");
    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got[0].recipients(), ["b@mx.test", "c@mx.test"]);
}

#[test]
fn every_recipient_refused_is_an_error_and_the_connection_is_reused_after_rset() {
    let sim = start(
        Config::builder()
            .fault(Fault::refuse_recipient(
                "nobody@mx.test",
                550,
                "5.1.1 no such user",
            ))
            .build(),
    );
    let mut client = plain(&sim).build().unwrap();
    let env = Envelope::new("a@client.test", ["nobody@mx.test"]);
    match client.send_bytes(&env, MESSAGE) {
        Err(Error::Rejected {
            step,
            reply,
            refused,
        }) => {
            assert_eq!(step, postel::Step::Rcpt);
            assert_eq!(reply.code, 550);
            assert_eq!(refused.len(), 1);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    client.send_bytes(&env, MESSAGE).unwrap();
    client.send_bytes(&env, MESSAGE).unwrap();
    assert_eq!(sim.wait_for_messages(2, WAIT).len(), 2);
    assert_eq!(
        sim.connections(),
        1,
        "one connection for all three messages"
    );
    let t = client.transcript().unwrap();
    assert!(
        t.contains_line("RSET"),
        "RSET after the failed transaction:\n{t}"
    );
}

#[test]
fn a_connection_closed_with_421_is_not_reused() {
    let sim = start(
        Config::builder()
            .fault(Fault::new(SimStep::Mail, Action::Reply421).on_connection(1))
            .build(),
    );
    let mut client = plain(&sim).build().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    let err = client.send_bytes(&env, MESSAGE).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol(postel::proto::Error::ServiceClosing { .. })
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    client.send_bytes(&env, MESSAGE).unwrap();
    assert_eq!(sim.wait_for_messages(1, WAIT).len(), 1);
    assert_eq!(sim.connections(), 2);
}

#[test]
fn a_connection_the_server_closed_while_idle_is_replaced() {
    let sim = start(
        Config::builder()
            .fault(
                Fault::new(SimStep::DataEnd, Action::Reply(250, "2.0.0 Ok".into()))
                    .on_connection(1),
            )
            .build(),
    );
    let mut client = plain(&sim)
        .idle_timeout(Duration::from_millis(1))
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    client.send_bytes(&env, MESSAGE).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    client.send_bytes(&env, MESSAGE).unwrap();
    assert_eq!(sim.wait_for_messages(2, WAIT).len(), 2);
    assert_eq!(
        sim.connections(),
        2,
        "idle past the timeout: QUIT and reconnect"
    );
    let first = sim.wait_for_close(1, WAIT).expect("connection 1 closed");
    assert_eq!(first.client_lines().last().copied(), Some("QUIT"));
}

#[test]
fn starttls_verifies_the_sims_generated_ca() {
    let sim = start(Config::builder().build());
    let ca = sim.ca_pem().expect("a generated CA");
    let mut client = plain(&sim)
        .tls(TlsMode::StartTls)
        .ca_pem(ca)
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    client.send_bytes(&env, MESSAGE).unwrap();
    assert!(client.is_encrypted());
    let got = sim.wait_for_messages(1, WAIT);
    assert!(got[0].tls);
    assert_eq!(got[0].data, MESSAGE);
}

#[test]
fn implicit_tls_verifies_the_sims_generated_ca() {
    let sim = start(Config::builder().implicit_tls(true).build());
    let ca = sim.ca_pem().expect("a generated CA");
    let mut client = plain(&sim)
        .tls(TlsMode::Implicit)
        .ca_pem(ca)
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    client.send_bytes(&env, MESSAGE).unwrap();
    assert!(sim.wait_for_messages(1, WAIT)[0].tls);
}

#[test]
fn an_unknown_ca_is_refused_before_anything_private_is_sent() {
    let sim = start(Config::builder().user("alice", "pw").build());
    // The platform's roots: the sim's generated CA is not among them.
    let mut client = plain(&sim)
        .tls(TlsMode::StartTls)
        .roots(postel::Roots::Platform)
        .credentials("alice", "pw")
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    let err = client.send_bytes(&env, MESSAGE).unwrap_err();
    assert!(
        matches!(err, Error::Tls(TlsError::UnknownIssuer)),
        "{err:?}"
    );
    let t = sim.wait_for_close(1, WAIT).expect("closed");
    assert_eq!(t.client_lines(), ["EHLO client.test", "STARTTLS"]);
    assert!(sim.messages().is_empty());
}

#[test]
fn auth_over_plaintext_is_refused_unless_allowed() {
    let sim = start(Config::builder().user("alice", "pw").build());
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    let mut client = plain(&sim).credentials("alice", "pw").build().unwrap();
    let err = client.send_bytes(&env, MESSAGE).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(postel::proto::Error::AuthRequiresTls)),
        "{err:?}"
    );
    assert!(!client.transcript().unwrap().contains_line("AUTH"));

    let mut client = plain(&sim)
        .credentials("alice", "pw")
        .mechanism(Mechanism::Plain)
        .dangerous_allow_plaintext_auth(true)
        .build()
        .unwrap();
    client.send_bytes(&env, MESSAGE).unwrap();
    assert_eq!(client.authenticated(), Some(Mechanism::Plain));
    let t = client.transcript().unwrap().to_string();
    assert!(t.contains("C: AUTH PLAIN <redacted>"), "{t}");
    assert!(
        !t.contains("AGFsaWNlAHB3"),
        "the PLAIN response must not be in:\n{t}"
    );
    assert_eq!(
        sim.wait_for_messages(1, WAIT)[0].auth_user.as_deref(),
        Some("alice")
    );
}

#[test]
fn every_password_mechanism_logs_in_over_starttls() {
    let sim = start(
        Config::builder()
            .user("alice", "pw")
            .require_tls_for_auth(true)
            .build(),
    );
    let ca = sim.ca_pem().unwrap();
    for mech in [
        Mechanism::ScramSha256,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
    ] {
        let mut client = plain(&sim)
            .tls(TlsMode::StartTls)
            .ca_pem(ca.clone())
            .credentials("alice", "pw")
            .mechanism(mech)
            .build()
            .unwrap();
        let env = Envelope::new("a@client.test", ["b@mx.test"]);
        client.send_bytes(&env, MESSAGE).unwrap();
        assert_eq!(client.authenticated(), Some(mech));
        let t = client.transcript().unwrap();
        let auth_lines: Vec<_> = t
            .entries()
            .iter()
            .filter(|e| e.side == postel::Side::Client)
            .skip_while(|e| !e.text.starts_with("AUTH"))
            .take_while(|e| !e.text.starts_with("MAIL"))
            .map(|e| e.text.as_str())
            .collect();
        assert!(
            auth_lines[1..].iter().all(|l| *l == "<redacted>"),
            "{mech}: {auth_lines:?}"
        );
    }
}

#[test]
fn a_slow_server_is_a_timeout_naming_the_state() {
    let sim = start(
        Config::builder()
            .fault(Fault::new(
                SimStep::Greeting,
                Action::Delay(Duration::from_secs(2)),
            ))
            .build(),
    );
    let timeouts = postel::Timeouts {
        greeting: Duration::from_millis(200),
        ..postel::Timeouts::RFC5321
    };
    let mut client = plain(&sim).timeouts(timeouts).build().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    match client.send_bytes(&env, MESSAGE) {
        Err(e @ Error::Timeout { .. }) => {
            assert!(e.is_transient());
            let Error::Timeout {
                step,
                state,
                within,
            } = e
            else {
                unreachable!()
            };
            assert_eq!(step, postel::Step::Greeting);
            assert_eq!(state, postel::State::AwaitingGreeting);
            assert_eq!(within, Duration::from_millis(200));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_composed_message_goes_to_to_cc_and_bcc_without_showing_bcc() {
    let sim = start(Config::builder().build());
    let mut client = plain(&sim).build().unwrap();
    let mut msg = postel_mime::Message::builder()
        .from("Alice <a@client.test>")
        .to("Bob <b@mx.test>")
        .cc("c@mx.test")
        .bcc("hidden@mx.test")
        .subject("Grüße")
        .text("Hallo, schöne Welt.\n")
        .build()
        .unwrap();
    let report = client.send(&mut msg).unwrap();
    assert_eq!(report.accepted.len(), 3);
    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(
        got[0].recipients(),
        ["b@mx.test", "c@mx.test", "hidden@mx.test"]
    );
    assert_eq!(got[0].mail_from, "a@client.test");
    let opts = postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    assert_eq!(got[0].data, msg.to_vec(&opts).unwrap());
    assert!(!String::from_utf8_lossy(&got[0].data).contains("hidden@"));
}

#[test]
fn an_envelope_override_replaces_the_header_recipients() {
    let sim = start(Config::builder().build());
    let mut client = plain(&sim).build().unwrap();
    let mut msg = postel_mime::Message::builder()
        .from("a@client.test")
        .to("b@mx.test")
        .text("x\n")
        .build()
        .unwrap();
    let env = Envelope::new("bounce@client.test", ["other@mx.test"]);
    client.send_with_envelope(&env, &mut msg).unwrap();
    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got[0].mail_from, "bounce@client.test");
    assert_eq!(got[0].recipients(), ["other@mx.test"]);
}

#[test]
fn the_default_ehlo_name_is_the_fqdn_or_an_address_literal() {
    let sim = start(Config::builder().build());
    let mut client = Client::builder("127.0.0.1")
        .port(sim.addr().port())
        .tls(TlsMode::Disabled)
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    client.send_bytes(&env, MESSAGE).unwrap();
    let helo = sim.wait_for_messages(1, WAIT)[0].helo.clone();
    assert!(
        helo == "[127.0.0.1]" || (helo.contains('.') && !helo.starts_with('[')),
        "EHLO {helo}"
    );
}

#[test]
fn a_host_name_is_resolved_and_each_address_tried() {
    let sim = start(Config::builder().build());
    let mut client = Client::builder("localhost")
        .port(sim.addr().port())
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    client.send_bytes(&env, MESSAGE).unwrap();
    assert_eq!(sim.wait_for_messages(1, WAIT).len(), 1);
}

#[test]
fn nothing_listening_is_a_transient_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut client = Client::builder("127.0.0.1")
        .port(port)
        .tls(TlsMode::Disabled)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    let err = client.send_bytes(&env, MESSAGE).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[test]
fn tls_modes_parse_from_their_names() {
    assert_eq!("starttls".parse::<TlsMode>().unwrap(), TlsMode::StartTls);
    assert_eq!(
        "opportunistic".parse::<TlsMode>().unwrap(),
        TlsMode::Opportunistic
    );
    assert_eq!("implicit".parse::<TlsMode>().unwrap(), TlsMode::Implicit);
    assert_eq!("none".parse::<TlsMode>().unwrap(), TlsMode::Disabled);
    assert!(matches!("bogus".parse::<TlsMode>(), Err(Error::Config(_))));
    assert_eq!(TlsMode::Implicit.default_port(), 465);
    assert_eq!(TlsMode::StartTls.default_port(), 587);
}

#[test]
fn debug_output_never_shows_the_password() {
    let b = Client::builder("smtp.example.com").credentials("alice", "hunter2-secret");
    let shown = format!("{b:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("alice"));
}

/// Gives `ok` bytes, then fails.
struct Failing {
    ok: usize,
}

impl std::io::Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok).min(1000);
        buf[..n].fill(b'a');
        if n >= 2 {
            buf[n - 2..n].copy_from_slice(b"\r\n");
        }
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn a_reader_failing_mid_message_delivers_nothing_and_drops_the_connection() {
    for chunking in [true, false] {
        let sim = start(Config::builder().build());
        let options = Options {
            chunking,
            ..Options::default()
        };
        let mut client = plain(&sim).options(options).build().unwrap();
        let env = Envelope::new("a@client.test", ["b@mx.test"]);
        let err = client
            .send_reader(&env, Failing { ok: 150_000 })
            .unwrap_err();
        assert!(matches!(err, Error::Source(_)), "{err:?}");
        client.send_bytes(&env, MESSAGE).unwrap();
        let got = sim.wait_for_messages(1, WAIT);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, MESSAGE, "only the second message arrives");
        assert_eq!(got[0].connection, 2);
    }
}

#[test]
fn an_envelope_without_recipients_is_refused_before_connecting() {
    let mut client = Client::builder("127.0.0.1")
        .port(1)
        .tls(TlsMode::Disabled)
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", Vec::<String>::new());
    assert!(matches!(
        client.send_bytes(&env, MESSAGE),
        Err(Error::Config(_))
    ));
}

#[test]
fn size_is_declared_exactly_even_for_bare_line_ends() {
    let sim = start(Config::builder().build());
    let mut client = plain(&sim).build().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    for raw in [
        &b"Subject: x\n\nbare LF\nand CR\rend"[..],
        b"Subject: y\r\n\r\ny\r\n",
        b"",
    ] {
        client.send_bytes(&env, raw).unwrap();
    }
    let got = sim.wait_for_messages(3, WAIT);
    assert_eq!(
        got[0].data,
        b"Subject: x\r\n\r\nbare LF\r\nand CR\r\nend\r\n"
    );
    for m in &got {
        assert_eq!(
            m.mail_param("SIZE"),
            Some(m.data.len().to_string().as_str())
        );
    }
}

#[test]
fn send_bytes_refuses_a_bare_cr_in_a_header_and_a_nul_before_sending_anything() {
    let sim = start(Config::builder().build());
    let mut client = plain(&sim).build().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    // Sent as it was, the wire's CRLF normalisation would make "Bcc: c@evil.test" a field.
    let smuggled: &[u8] = b"From: a@client.test\r\nSubject: hi\rBcc: c@evil.test\r\n\r\nbody\r\n";
    match client.send_bytes(&env, smuggled) {
        Err(postel::Error::Message(postel_mime::Error::RawByte {
            section: "header",
            line: 2,
            byte: b'\r',
        })) => {}
        other => panic!("expected the bare CR refused, got {other:?}"),
    }
    let nul: &[u8] = b"From: a@client.test\r\nSubject: hi\r\n\r\nbody\0\r\n";
    match client.send_bytes(&env, nul) {
        Err(postel::Error::Message(postel_mime::Error::RawByte {
            section: "body",
            line: 1,
            byte: 0,
        })) => {}
        other => panic!("expected the NUL refused, got {other:?}"),
    }
    // A bare CR in the body is only a line end to normalise: that one is sent.
    let fine: &[u8] = b"From: a@client.test\r\nSubject: hi\r\n\r\nbody\rmore\r\n";
    client.send_bytes(&env, fine).unwrap();
    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1, "only the last message reached the server");
    assert!(got[0]
        .data
        .starts_with(b"From: a@client.test\r\nSubject: hi\r\n\r\nbody\r\nmore"));
}
