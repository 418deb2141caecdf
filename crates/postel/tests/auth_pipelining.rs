//! `Options::auth_pipelining` (RFC 4954 §4's exception for AUTH PLAIN) against real
//! servers: the message's MAIL, RCPT and BDAT leave before the `235`, and the server takes
//! them. Postfix (scripts/postfix-up.sh) and Exim (scripts/exim-up.sh) are read from their
//! POSTEL_POSTFIX_* / POSTEL_EXIM_* variables: missing, a loud SKIP, or a failure when
//! CI=true or POSTEL_REQUIRE_SERVERS=1. postel-sim takes it in lenient mode and refuses
//! it in strict mode, with a typed error.

mod common;
mod scenarios;

use postel::{Client, ClientBuilder, Envelope, Error, Mechanism, Options, TlsMode, Transcript};

use common::marker;
use scenarios::{EnvServer, Kind, EXIM, POSTFIX};

fn options() -> Options {
    Options {
        auth_pipelining: true,
        ..Options::default()
    }
}

/// A builder for `kind`'s `listener` with its CA, user and password, AUTH PLAIN and the
/// option, or `None` after a SKIP.
fn server(kind: &'static Kind, listener: &str, test: &str) -> Option<(ClientBuilder, String)> {
    let s = EnvServer::find(kind, test)?;
    let (user, password) = s.login();
    let b = s
        .client(listener, TlsMode::StartTls)
        .credentials(user, password)
        .mechanism(Mechanism::Plain)
        .options(options());
    Some((b, s.var("DOMAIN")))
}

/// Client lines and server lines in the order they were written and read.
fn lines(t: &Transcript) -> Vec<String> {
    t.entries()
        .iter()
        .filter(|e| e.side != postel::Side::Note)
        .map(|e| {
            let side = if e.side == postel::Side::Client {
                "C"
            } else {
                "S"
            };
            format!("{side}: {}", e.text)
        })
        .collect()
}

/// Sends one message and checks the flight: AUTH, MAIL, RCPT, BDAT and the content all
/// written before the 235 was read, and the message accepted.
fn sends_in_one_flight(mut client: postel::Client, domain: &str) {
    let mark = marker("auth-pipelining-");
    let to = format!("pipelined@{domain}");
    let env = Envelope::new(format!("sender@{domain}"), [to.as_str()]);
    let message = format!("Subject: {mark}\r\n\r\nHello.\r\n");
    let report = client.send_bytes(&env, message.as_bytes()).unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(report.reply.code, 250);
    assert_eq!(report.authenticated, Some(Mechanism::Plain));
    let t = client.transcript().unwrap();
    let l = lines(&t);
    let at = |prefix: &str| {
        l.iter()
            .position(|x| x.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {t}"))
    };
    // After the second EHLO: AUTH, then MAIL, RCPT, BDAT and the content (the transcript
    // redacts every client line until AUTH's reply), then the 235.
    let auth = at("C: AUTH PLAIN");
    let ok = at("S: 235");
    assert!(
        ok >= auth + 4,
        "MAIL, RCPT and BDAT left before the 235: {t}"
    );
    assert!(
        l[auth + 1..ok].iter().all(|x| x.starts_with("C: ")),
        "no reply read between AUTH and its 235: {t}"
    );
    assert!(
        l[ok + 1..].iter().take(3).all(|x| x.starts_with("S: 250")),
        "MAIL, RCPT and BDAT answered after the 235: {t}"
    );
    client.quit().unwrap();
}

#[test]
fn postfix_takes_mail_rcpt_and_bdat_pipelined_after_auth_plain() {
    let Some((b, domain)) = server(&POSTFIX, "SUBMISSION", "postfix auth pipelining") else {
        return;
    };
    sends_in_one_flight(b.build().unwrap(), &domain);
}

#[test]
fn exim_takes_mail_rcpt_and_bdat_pipelined_after_auth_plain() {
    let Some((b, domain)) = server(&EXIM, "PLAIN", "exim auth pipelining") else {
        return;
    };
    sends_in_one_flight(b.build().unwrap(), &domain);
}

fn sim_client(sim: &postel_sim::BlockingSimulator) -> postel::Client {
    Client::builder("127.0.0.1")
        .port(sim.addr().port())
        .tls(TlsMode::StartTls)
        .ca_pem(sim.ca_pem().expect("a generated CA"))
        .ehlo_name("client.test")
        .credentials("alice", "pw")
        .mechanism(Mechanism::Plain)
        .options(options())
        .transcript(true)
        .build()
        .unwrap()
}

#[test]
fn a_lenient_simulator_takes_the_pipelined_message_with_exact_bytes() {
    let sim = postel_sim::BlockingSimulator::start(
        postel_sim::Config::builder()
            .user("alice", "pw")
            .lenient()
            .build(),
    )
    .expect("the simulator starts");
    sends_in_one_flight(sim_client(&sim), "mx.test");
    let got = sim.wait_for_messages(1, std::time::Duration::from_secs(5));
    assert_eq!(got[0].auth_user.as_deref(), Some("alice"));
    assert!(got[0].data.starts_with(b"Subject: auth-pipelining-"));
    assert!(got[0].data.ends_with(b"\r\n\r\nHello.\r\n"));
}

#[test]
fn a_strict_simulator_refuses_it_and_the_error_says_so() {
    let sim = postel_sim::BlockingSimulator::start(
        postel_sim::Config::builder().user("alice", "pw").build(),
    )
    .expect("the simulator starts");
    let mut client = sim_client(&sim);
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    match client.send_bytes(&env, b"Subject: x\r\n\r\nHello.\r\n") {
        Err(Error::Protocol(postel::proto::Error::AuthFailed { reply, .. })) => {
            assert_eq!(reply.code().get(), 554);
            assert_eq!(reply.text(), &b"Error: SMTP protocol synchronization"[..]);
        }
        other => panic!("expected the simulator's 554 to AUTH, got {other:?}"),
    }
    assert!(sim.messages().is_empty());
}
