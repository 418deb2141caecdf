//! The blocking client against a real Postfix 3.7 (scripts/postfix-up.sh; see
//! docs/testing-postfix.md). Every test reads only POSTEL_POSTFIX_* variables: when they
//! are absent it prints a loud SKIP, or panics when CI=true or POSTEL_REQUIRE_SERVERS=1.
//! The scenarios every real server runs are in tests/scenarios/mod.rs; the tests here
//! call them and keep what only Postfix shows.

mod common;
mod scenarios;

use postel::{Client, Envelope, Error, Mechanism, Options, TlsError, TlsMode};

use common::{contains, marker};
use scenarios::{lf, EnvServer, ReplyText, Server};

type Postfix = EnvServer;

/// The instance's variables, or `None` (after a loud SKIP) when Postfix is not running.
fn env(test: &str) -> Option<Postfix> {
    EnvServer::find(&scenarios::POSTFIX, test)
}

/// A message with what tends to break: a leading dot, a dotted line, trailing spaces,
/// 8-bit UTF-8, a 990-octet line.
fn message(marker: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: postel test\r\n\
         X-Postel-Marker: {marker}\r\n\r\nHello.\r\n.\r\n.leading dot\r\n..two\r\n\
         trailing spaces   \r\nGr\u{fc}\u{df}e aus Z\u{fc}rich.\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&[b'x'; 990]);
    m.extend_from_slice(b"\r\nend\r\n");
    m
}

/// Sends one message to bob and checks the delivered file byte for byte.
fn send_and_read_back(p: &Postfix, client: &mut Client) -> postel::SendReport {
    let mark = marker("");
    let msg = message(&mark);
    let env = Envelope::new("alice@example.test", [p.rcpt("bob")]);
    let report = client.send_bytes(&env, &msg).unwrap_or_else(|e| {
        panic!(
            "send failed: {e}\n{}",
            client.transcript().unwrap_or_default()
        )
    });
    assert_eq!(report.reply.code, 250, "{report:?}");
    assert_eq!(p.first_delivered(&mark), lf(&msg), "delivered file differs");
    report
}

fn assert_pipelined_bdat(client: &Client) {
    let t = client.transcript().unwrap();
    let group = t
        .client_writes()
        .into_iter()
        .find(|w| w.iter().any(|l| l.starts_with("MAIL FROM")))
        .unwrap_or_else(|| panic!("no MAIL FROM in\n{t}"));
    assert!(
        group[0].starts_with("MAIL FROM:<alice@example.test>"),
        "{group:?}"
    );
    assert!(group[1].starts_with("RCPT TO:<"), "{group:?}");
    assert!(
        group
            .iter()
            .any(|l| l.starts_with("BDAT ") && l.ends_with(" LAST")),
        "MAIL, RCPT and BDAT in one write: {group:?}\n{t}"
    );
}

#[test]
fn plain_listener_starttls_pipelines_mail_rcpt_bdat_and_delivers_byte_for_byte() {
    let Some(p) = env("plain starttls") else {
        return;
    };
    let mut client = p.client("PLAIN", TlsMode::StartTls).build().unwrap();
    send_and_read_back(&p, &mut client);
    assert!(client.is_encrypted());
    assert_pipelined_bdat(&client);
    let t = client.transcript().unwrap();
    assert!(t.contains_line("STARTTLS"), "{t}");
    assert!(t.contains_line("250-PIPELINING"), "{t}");
    assert!(t.contains_line("250 CHUNKING"), "{t}");
}

#[test]
fn plain_listener_without_tls_delivers_byte_for_byte() {
    let Some(p) = env("plain none") else { return };
    let mut client = p.client("PLAIN", TlsMode::Disabled).build().unwrap();
    send_and_read_back(&p, &mut client);
    assert!(!client.is_encrypted());
    assert!(!client.transcript().unwrap().contains_line("STARTTLS"));
}

#[test]
fn opportunistic_tls_uses_the_offered_starttls() {
    let Some(p) = env("plain opportunistic") else {
        return;
    };
    scenarios::opportunistic_tls(&p, p.client("PLAIN", TlsMode::Opportunistic));
}

#[test]
fn data_framing_when_chunking_is_off_delivers_byte_for_byte() {
    let Some(p) = env("plain data") else { return };
    let options = Options {
        chunking: false,
        ..Options::default()
    };
    let mut client = p
        .client("PLAIN", TlsMode::StartTls)
        .options(options)
        .build()
        .unwrap();
    send_and_read_back(&p, &mut client);
    let t = client.transcript().unwrap();
    let group = t
        .client_writes()
        .into_iter()
        .find(|w| w.iter().any(|l| l.starts_with("MAIL FROM")))
        .unwrap();
    assert_eq!(
        group.last().copied(),
        Some("DATA"),
        "MAIL, RCPT, DATA in one write: {group:?}"
    );
}

#[test]
fn dots_and_bare_line_ends_arrive_unstuffed_with_bdat_and_data() {
    let Some(p) = env("dots and bare line ends") else {
        return;
    };
    scenarios::dots_and_bare_line_ends(
        &p,
        &|o| p.client("PLAIN", TlsMode::StartTls).options(o),
        &[true, false],
    );
}

#[test]
fn an_smtputf8_message_is_delivered_with_its_utf8_envelope() {
    let Some(p) = env("smtputf8") else { return };
    let domain = p.var("UTF8_DOMAIN");
    scenarios::smtputf8(
        &p,
        &mut p.client("PLAIN", TlsMode::StartTls).build().unwrap(),
        &format!("j\u{f6}ran@{domain}"),
        &format!("\u{7528}\u{6237}@{domain}"),
    );
}

#[test]
fn a_message_over_size_is_refused_before_mail_and_a_streamed_one_before_its_end() {
    let Some(p) = env("size") else { return };
    let limit: u64 = p.var("SIZE_LIMIT").parse().expect("a number");
    let mut client = p.client("PLAIN", TlsMode::Disabled).build().unwrap();
    scenarios::over_size_limit(&p, &mut client, limit);
    let t = scenarios::streamed_over_size_limit(&p, &mut client, limit, limit as usize + 100_000);
    assert!(t.contains_line("BDAT"), "{t}");
    send_and_read_back(&p, &mut client);
}

#[test]
fn ipv6_loopback_delivers() {
    let Some(p) = env("plain ipv6") else { return };
    if std::env::var("POSTEL_POSTFIX_PLAIN6").is_err() {
        eprintln!("*** SKIP ipv6: no ::1 listener ***");
        return;
    }
    let mut client = p.client("PLAIN6", TlsMode::StartTls).build().unwrap();
    send_and_read_back(&p, &mut client);
}

#[test]
fn implicit_tls_logs_in_with_each_offered_mechanism() {
    let Some(p) = env("implicit auth") else {
        return;
    };
    scenarios::each_mechanism_logs_in(
        &p,
        &|| p.client("IMPLICIT", TlsMode::Implicit),
        &[
            Mechanism::ScramSha256,
            Mechanism::CramMd5,
            Mechanism::Plain,
            Mechanism::Login,
        ],
        "235 2.7.0 Authentication successful",
    );
}

#[test]
fn the_strongest_mechanism_is_chosen_by_default() {
    let Some(p) = env("implicit default mechanism") else {
        return;
    };
    scenarios::default_mechanism(
        &p,
        p.client("IMPLICIT", TlsMode::Implicit),
        Mechanism::ScramSha256,
    );
}

#[test]
fn submission_requires_starttls_then_auth() {
    let Some(p) = env("submission") else { return };
    let (user, password) = p.user();
    let mut client = p
        .client("SUBMISSION", TlsMode::StartTls)
        .credentials(&user, &password)
        .build()
        .unwrap();
    send_and_read_back(&p, &mut client);
    assert!(client.is_encrypted());
    assert_eq!(client.authenticated(), Some(Mechanism::ScramSha256));
    let t = client.transcript().unwrap();
    let lines: Vec<_> = t
        .entries()
        .iter()
        .filter(|e| e.side == postel::Side::Client)
        .map(|e| e.text.as_str())
        .collect();
    let starttls = lines
        .iter()
        .position(|l| *l == "STARTTLS")
        .expect("STARTTLS");
    let auth = lines
        .iter()
        .position(|l| l.starts_with("AUTH"))
        .expect("AUTH");
    assert!(starttls < auth, "{t}");
}

#[test]
fn wrong_password_is_an_auth_failure() {
    let Some(p) = env("wrong password") else {
        return;
    };
    scenarios::wrong_password(
        &p,
        &|| p.client("SUBMISSION", TlsMode::StartTls),
        &[Mechanism::Plain],
    );
}

#[test]
fn auth_over_plaintext_is_refused_unless_allowed() {
    let Some(p) = env("plaintext auth") else {
        return;
    };
    scenarios::plaintext_auth_refused(&p, p.client("SUBMISSION_NOTLS_AUTH", TlsMode::Disabled));

    let (user, password) = p.user();
    let mut client = p
        .client("SUBMISSION_NOTLS_AUTH", TlsMode::Disabled)
        .credentials(&user, &password)
        .dangerous_allow_plaintext_auth(true)
        .build()
        .unwrap();
    send_and_read_back(&p, &mut client);
    assert_eq!(client.authenticated(), Some(Mechanism::ScramSha256));
}

#[test]
fn starttls_required_on_a_server_without_it_sends_nothing_private() {
    let Some(p) = env("starttls unavailable") else {
        return;
    };
    scenarios::starttls_unavailable(&p, p.client("SUBMISSION_NOTLS_AUTH", TlsMode::StartTls));
}

#[test]
fn a_refused_recipient_is_reported_while_the_others_get_the_message() {
    let Some(p) = env("refused recipient") else {
        return;
    };
    scenarios::refused_recipient(
        &p,
        &mut p.client("PLAIN", TlsMode::StartTls).build().unwrap(),
        ReplyText::Contains("No such user here"),
    );
}

#[test]
fn a_temporarily_refused_recipient_is_transient() {
    let Some(p) = env("tempfail recipient") else {
        return;
    };
    scenarios::temporarily_refused_recipient(
        &p,
        &mut p.client("PLAIN", TlsMode::StartTls).build().unwrap(),
        &p.var("TEMPFAIL"),
        450,
        None,
    );
}

#[test]
fn many_messages_go_over_one_connection() {
    let Some(p) = env("reuse") else { return };
    scenarios::many_messages_one_connection(
        &p,
        p.client("SUBMISSION", TlsMode::StartTls),
        true,
        3,
        &mut |_| 0,
    );
}

#[test]
fn a_composed_message_is_delivered_byte_for_byte() {
    let Some(p) = env("composed") else { return };
    let mut client = p.client("PLAIN", TlsMode::StartTls).build().unwrap();
    let mark = marker("");
    let mut msg = postel_mime::Message::builder()
        .from("Alice <alice@example.test>")
        .to(p.rcpt("bob").as_str())
        .bcc(p.rcpt("hidden").as_str())
        .subject("Grüße aus Zürich")
        .header("X-Postel-Marker", mark.clone())
        .text("Zwei Zeilen,\n.mit Punkt.\n")
        .build()
        .unwrap();
    let report = client.send(&mut msg).unwrap();
    assert_eq!(report.accepted.len(), 2);
    let opts = postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    let sent = msg.to_vec(&opts).unwrap();
    assert_eq!(p.first_delivered(&mark), lf(&sent));
    assert!(!contains(&sent, b"hidden@"));
}

fn bad_certificate(listener: &str, mode: TlsMode, expected: TlsError) {
    let Some(p) = env(listener) else { return };
    let got = scenarios::bad_certificate(&p, p.client(listener, mode), &expected);
    assert_eq!(got, expected, "{listener}");
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    bad_certificate("BAD_EXPIRED", TlsMode::Implicit, TlsError::Expired);
    bad_certificate("BAD_EXPIRED_STARTTLS", TlsMode::StartTls, TlsError::Expired);
}

#[test]
fn a_certificate_for_another_host_is_refused_as_not_valid_for_the_name() {
    let name = TlsError::NotValidForName {
        name: "localhost".to_owned(),
    };
    bad_certificate("BAD_WRONGHOST", TlsMode::Implicit, name.clone());
    bad_certificate("BAD_WRONGHOST_STARTTLS", TlsMode::StartTls, name);
}

#[test]
fn an_untrusted_certificate_is_refused_as_unknown_issuer() {
    bad_certificate("BAD_UNTRUSTED", TlsMode::Implicit, TlsError::UnknownIssuer);
    bad_certificate(
        "BAD_UNTRUSTED_STARTTLS",
        TlsMode::StartTls,
        TlsError::UnknownIssuer,
    );
}

#[test]
fn the_platform_roots_do_not_trust_the_test_pki() {
    let Some(p) = env("platform roots") else {
        return;
    };
    let b = p
        .client("IMPLICIT", TlsMode::Implicit)
        .roots(postel::Roots::Platform);
    let got = scenarios::bad_certificate(&p, b, &TlsError::UnknownIssuer);
    assert_eq!(got, TlsError::UnknownIssuer);
}

#[test]
fn a_client_certificate_is_presented_when_required() {
    let Some(p) = env("client certificate") else {
        return;
    };
    let mut client = p
        .client("CLIENTCERT", TlsMode::StartTls)
        .client_certificate(p.var("CLIENT_CERT"), p.var("CLIENT_KEY"))
        .build()
        .unwrap();
    send_and_read_back(&p, &mut client);

    let mut client = p.client("CLIENTCERT", TlsMode::StartTls).build().unwrap();
    let env = Envelope::new("alice@example.test", [p.rcpt("bob")]);
    let err = client
        .send_bytes(&env, b"Subject: x\r\n\r\nx\r\n")
        .unwrap_err();
    match err {
        Error::Protocol(postel::proto::Error::ServiceClosing { reply, .. }) => {
            assert_eq!(reply.code().get(), 421);
        }
        other => panic!("expected 421 without a client certificate, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_pool_delivers_concurrently_over_submission_with_auth() {
    let Some(p) = env("async pool") else { return };
    scenarios::pool_delivers_concurrently(
        &p,
        p.client("SUBMISSION", TlsMode::StartTls),
        Mechanism::ScramSha256,
    )
    .await;
}

#[tokio::test]
async fn the_async_client_uses_implicit_tls_and_names_bad_certificates() {
    let Some(p) = env("async implicit") else {
        return;
    };
    let (user, password) = p.user();
    let client = p
        .client("IMPLICIT", TlsMode::Implicit)
        .credentials(&user, &password)
        .mechanism(Mechanism::CramMd5)
        .build_async()
        .unwrap();
    let mark = marker("");
    let mut msg = postel_mime::Message::builder()
        .from("alice@example.test")
        .to(p.rcpt("bob").as_str())
        .subject("async")
        .header("X-Postel-Marker", mark.clone())
        .text("Hallo aus tokio.\n")
        .build()
        .unwrap();
    let report = client.send(&mut msg).await.unwrap();
    assert_eq!(report.authenticated, Some(Mechanism::CramMd5));
    let opts = postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    assert_eq!(p.first_delivered(&mark), lf(&msg.to_vec(&opts).unwrap()));
    client.quit().await;

    for (listener, mode, expected) in [
        ("BAD_EXPIRED", TlsMode::Implicit, TlsError::Expired),
        (
            "BAD_UNTRUSTED_STARTTLS",
            TlsMode::StartTls,
            TlsError::UnknownIssuer,
        ),
        (
            "BAD_WRONGHOST",
            TlsMode::Implicit,
            TlsError::NotValidForName {
                name: "localhost".to_owned(),
            },
        ),
    ] {
        let client = p
            .client(listener, mode)
            .credentials(&user, &password)
            .build_async()
            .unwrap();
        let env = Envelope::new("alice@example.test", [p.rcpt("bob")]);
        match client
            .send_bytes(&env, &b"Subject: x\r\n\r\nx\r\n"[..])
            .await
        {
            Err(Error::Tls(t)) => assert_eq!(t, expected, "{listener}"),
            other => panic!("{listener}: expected {expected:?}, got {other:?}"),
        }
        let t = client.transcript().unwrap();
        assert!(!t.contains_line("AUTH") && !t.contains_line("MAIL"), "{t}");
    }
}
