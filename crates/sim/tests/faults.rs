//! Each fault kind, observed from a raw TCP client with the exact bytes expected, and a
//! table over every step × every action (the shape the postel client's matrix will take).

mod common;

use std::time::Duration;

use common::{timed, Raw};
use postel_sim::fault::{Action, Fault, RcptMatch, Step};
use postel_sim::{BlockingSimulator, Config};

const CLOSING_421: &str =
    "421 4.3.2 mx.sim.test Service shutting down, closing transmission channel\r\n";

fn sim_with(faults: Vec<Fault>) -> BlockingSimulator {
    let mut b = Config::builder().user("alice", "pw");
    for f in faults {
        b = b.fault(f);
    }
    BlockingSimulator::start(b.build()).expect("start")
}

fn send_body(c: &mut Raw) -> String {
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    c.send(b"Subject: t\r\n\r\nbody\r\n.\r\n");
    c.try_reply().unwrap_or_default()
}

#[test]
fn close_at_the_greeting_sends_nothing() {
    let sim = sim_with(vec![Fault::new(Step::Greeting, Action::Close)]);
    let mut c = Raw::connect(sim.addr());
    c.expect_closed();
}

#[test]
fn a_slow_greeting_arrives_after_the_delay() {
    let sim = sim_with(vec![Fault::new(
        Step::Greeting,
        Action::Delay(Duration::from_millis(400)),
    )]);
    let (reply, took) = timed(|| Raw::connect(sim.addr()).reply());
    assert_eq!(reply, "220 mx.sim.test ESMTP postel-sim\r\n");
    assert!(took >= Duration::from_millis(400), "{took:?}");
}

#[test]
fn talking_before_a_slow_greeting_is_a_synchronization_error() {
    let sim = sim_with(vec![Fault::new(
        Step::Greeting,
        Action::Delay(Duration::from_millis(200)),
    )]);
    let mut c = Raw::connect(sim.addr());
    c.send(b"EHLO early.test\r\n");
    assert_eq!(
        c.reply(),
        "554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    c.expect_closed();
}

#[test]
fn a_refused_greeting_answers_503_until_quit() {
    let sim = sim_with(vec![Fault::new(
        Step::Greeting,
        Action::Reply(554, "5.3.2 mx.sim.test no service".into()),
    )]);
    let mut c = Raw::connect(sim.addr());
    assert_eq!(c.reply(), "554 5.3.2 mx.sim.test no service\r\n");
    assert_eq!(
        c.cmd("EHLO c.test"),
        "503 5.5.1 Error: service unavailable, send QUIT\r\n"
    );
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    c.expect_closed();
}

#[test]
fn reply_421_at_mail_closes() {
    let sim = sim_with(vec![Fault::new(Step::Mail, Action::Reply421)]);
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO c.test").starts_with("250-"));
    assert_eq!(c.cmd("MAIL FROM:<a@c.test>"), CLOSING_421);
    c.expect_closed();
}

#[test]
fn a_chosen_reply_for_a_chosen_recipient_leaves_the_others() {
    let sim = sim_with(vec![
        Fault::refuse_recipient(
            "later@mx.test",
            450,
            "4.2.1 <later@mx.test>: try again later",
        ),
        Fault::refuse_recipient(
            "nobody@mx.test",
            550,
            "5.1.1 <nobody@mx.test>: Recipient address rejected",
        ),
    ]);
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["ok@mx.test"]);
    assert_eq!(
        c.cmd("RCPT TO:<later@mx.test>"),
        "450 4.2.1 <later@mx.test>: try again later\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<NOBODY@mx.test>"),
        "550 5.1.1 <nobody@mx.test>: Recipient address rejected\r\n"
    );
    assert!(send_body(&mut c).starts_with("250 2.0.0 Ok"));
    assert_eq!(sim.messages()[0].recipients(), vec!["ok@mx.test"]);
}

#[test]
fn the_nth_recipient_can_be_faulted() {
    let sim = sim_with(vec![Fault::new(
        Step::Rcpt(RcptMatch::Nth(2)),
        Action::Reply421,
    )]);
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["1@mx.test"]);
    assert_eq!(c.cmd("RCPT TO:<2@mx.test>"), CLOSING_421);
    c.expect_closed();
    assert!(sim.messages().is_empty());
}

#[test]
fn a_chosen_reply_for_a_chosen_command() {
    let sim = sim_with(vec![Fault::new(
        Step::Ehlo,
        Action::Reply(421, "4.7.0 mx.sim.test too busy".into()),
    )]);
    let mut c = Raw::greeted(sim.addr());
    assert_eq!(c.cmd("EHLO c.test"), "421 4.7.0 mx.sim.test too busy\r\n");
    c.expect_closed();
    let sim = sim_with(vec![Fault::new(
        Step::Auth,
        Action::Reply(454, "4.7.0 Temporary authentication failure".into()),
    )]);
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO c.test").starts_with("250-"));
    assert_eq!(
        c.cmd("AUTH PLAIN AGFsaWNlAHB3"),
        "454 4.7.0 Temporary authentication failure\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n");
}

#[test]
fn a_dribbled_reply_arrives_a_byte_at_a_time() {
    let sim = sim_with(vec![Fault::new(Step::Mail, Action::Dribble)]);
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO c.test").starts_with("250-"));
    let before = c.read_sizes.len();
    assert_eq!(c.cmd("MAIL FROM:<a@c.test>"), "250 2.1.0 Ok\r\n");
    let reads = &c.read_sizes[before..];
    assert!(reads.len() > 3, "expected many small reads, got {reads:?}");
}

#[test]
fn a_reply_split_over_continuation_lines() {
    let sim = sim_with(vec![
        Fault::new(Step::Greeting, Action::SplitMultiline),
        Fault::new(Step::Mail, Action::SplitMultiline),
        Fault::new(Step::Ehlo, Action::SplitMultiline),
        Fault::new(Step::DataEnd, Action::SplitMultiline),
    ]);
    let mut c = Raw::connect(sim.addr());
    assert_eq!(
        c.reply(),
        "220-mx.sim.test\r\n220-ESMTP\r\n220 postel-sim\r\n"
    );
    assert!(c
        .cmd("EHLO c.test")
        .starts_with("250-mx.sim.test\r\n250-PIPELINING\r\n"));
    assert_eq!(c.cmd("MAIL FROM:<a@c.test>"), "250-2.1.0\r\n250 Ok\r\n");
    assert_eq!(c.cmd("RCPT TO:<b@c.test>"), "250 2.1.5 Ok\r\n");
    assert_eq!(
        send_body(&mut c),
        "250-2.0.0\r\n250-Ok:\r\n250-queued\r\n250-as\r\n250 000001\r\n"
    );
}

#[test]
fn tls_handshake_failure_after_starttls_sends_an_alert_and_closes() {
    let sim = sim_with(vec![Fault::new(Step::StartTls, Action::TlsHandshakeFail)]);
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO c.test").contains("250-STARTTLS\r\n"));
    assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n");
    let ca = sim.ca_pem().unwrap();
    let err = c.upgrade(&ca).expect_err("handshake must fail");
    assert!(err.to_string().contains("HandshakeFailure"), "{err}");
}

#[test]
fn tls_handshake_failure_on_an_implicit_tls_listener() {
    let sim = BlockingSimulator::start(
        Config::builder()
            .implicit_tls(true)
            .fault(Fault::new(Step::Greeting, Action::TlsHandshakeFail))
            .build(),
    )
    .unwrap();
    let mut c = Raw::connect(sim.addr());
    c.send(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x01]);
    assert_eq!(c.rest(), [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
}

#[test]
fn close_after_the_final_dot_before_the_reply_stores_the_message() {
    let sim = sim_with(vec![Fault::new(Step::DataEnd, Action::CloseAfterAccept)]);
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    assert_eq!(send_body(&mut c), "");
    c.expect_closed();
    let got = sim.messages();
    assert_eq!(got.len(), 1, "the reply was lost but the message was taken");
    assert_eq!(got[0].data, b"Subject: t\r\n\r\nbody\r\n");
}

#[test]
fn close_at_the_final_dot_discards_the_message() {
    let sim = sim_with(vec![Fault::new(Step::DataEnd, Action::Close)]);
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    assert_eq!(send_body(&mut c), "");
    c.expect_closed();
    assert!(sim.messages().is_empty());
}

#[test]
fn a_transient_reply_to_the_final_dot_keeps_the_session() {
    let sim = sim_with(vec![Fault::new(
        Step::DataEnd,
        Action::Reply(451, "4.3.0 Error: queue file write error".into()),
    )]);
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    assert_eq!(
        send_body(&mut c),
        "451 4.3.0 Error: queue file write error\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<b@c.test>"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    assert!(sim.messages().is_empty());
}

#[test]
fn a_delay_on_the_final_dot_reply() {
    let sim = sim_with(vec![Fault::new(
        Step::DataEnd,
        Action::Delay(Duration::from_millis(300)),
    )]);
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    let (reply, took) = timed(|| send_body(&mut c));
    assert!(reply.starts_with("250 2.0.0 Ok"));
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[test]
fn a_fault_on_one_connection_spares_the_others() {
    let sim = sim_with(vec![
        Fault::new(Step::Mail, Action::Reply421).on_connection(2)
    ]);
    for n in 1..=3u64 {
        let mut c = Raw::greeted(sim.addr());
        assert!(c.cmd("EHLO c.test").starts_with("250-"));
        let reply = c.cmd("MAIL FROM:<a@c.test>");
        if n == 2 {
            assert_eq!(reply, CLOSING_421);
        } else {
            assert_eq!(reply, "250 2.1.0 Ok\r\n");
        }
        assert_eq!(
            sim.wait_for_close(n, Duration::from_millis(1))
                .map(|t| t.connection),
            Some(n)
        );
    }
}

#[test]
fn a_refused_bdat_chunk_fails_the_transaction() {
    let sim = sim_with(vec![Fault::new(
        Step::Bdat,
        Action::Reply(452, "4.3.1 Insufficient system storage".into()),
    )]);
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    c.send(b"BDAT 3\r\nabc");
    assert_eq!(c.reply(), "452 4.3.1 Insufficient system storage\r\n");
    c.send(b"BDAT 3 LAST\r\ndef");
    assert_eq!(c.reply(), "503 5.5.1 Error: need MAIL command\r\n");
}

#[test]
fn faults_can_be_changed_while_running() {
    let sim = sim_with(vec![]);
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO c.test").starts_with("250-"));
    sim.set_faults(vec![Fault::new(
        Step::Noop,
        Action::Reply(250, "2.0.0 changed".into()),
    )]);
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 changed\r\n");
    sim.set_faults(vec![]);
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n");
}

// ------------------------------------------------------------------- the table

/// What the client sees at the faulted step.
#[derive(Debug, PartialEq)]
enum Seen {
    /// The normal reply's code (delays, dribbles and splits change only timing/shape).
    Normal(u16),
    /// This code, then the connection stays open.
    Refused(u16),
    /// This code, then the connection closes.
    RefusedThenClosed(u16),
    /// The connection closes without a reply.
    Closed,
    /// The TLS handshake fails.
    HandshakeFailed,
}

fn actions() -> Vec<Action> {
    vec![
        Action::Close,
        Action::CloseAfterAccept,
        Action::Reply421,
        Action::Reply(451, "4.3.0 scripted".into()),
        Action::Reply(554, "5.7.1 scripted".into()),
        Action::Delay(Duration::from_millis(50)),
        Action::Dribble,
        Action::SplitMultiline,
        Action::TlsHandshakeFail,
    ]
}

fn expected(step: &Step, action: &Action, normal: u16) -> Seen {
    match action {
        Action::Close | Action::CloseAfterAccept => Seen::Closed,
        Action::TlsHandshakeFail if *step == Step::StartTls => Seen::HandshakeFailed,
        Action::TlsHandshakeFail => Seen::Closed,
        Action::Reply421 => Seen::RefusedThenClosed(421),
        Action::Reply(c, _) if *step == Step::Greeting => Seen::Refused(*c),
        Action::Reply(c, _) => Seen::Refused(*c),
        _ => Seen::Normal(normal),
    }
}

/// One full session touching every step; stops at the faulted one and reports it.
fn session(sim: &BlockingSimulator, target: &Step) -> Seen {
    let ca = sim.ca_pem().unwrap();
    let mut c = Raw::connect(sim.addr());
    let code = |r: &str| r.get(..3).and_then(|c| c.parse::<u16>().ok()).unwrap_or(0);
    // (step, command or bytes, normal code)
    let script: Vec<(Step, Vec<u8>, u16)> = vec![
        (Step::Greeting, vec![], 220),
        (Step::Ehlo, b"EHLO c.test\r\n".to_vec(), 250),
        (Step::StartTls, b"STARTTLS\r\n".to_vec(), 220),
        (Step::Ehlo, b"EHLO c.test\r\n".to_vec(), 250),
        (Step::Auth, b"AUTH PLAIN AGFsaWNlAHB3\r\n".to_vec(), 235),
        (Step::Mail, b"MAIL FROM:<a@c.test>\r\n".to_vec(), 250),
        (
            Step::Rcpt(RcptMatch::Any),
            b"RCPT TO:<b@c.test>\r\n".to_vec(),
            250,
        ),
        (Step::Data, b"DATA\r\n".to_vec(), 354),
        (Step::DataEnd, b"x\r\n.\r\n".to_vec(), 250),
        (Step::Mail, b"MAIL FROM:<a@c.test>\r\n".to_vec(), 250),
        (
            Step::Rcpt(RcptMatch::Any),
            b"RCPT TO:<b@c.test>\r\n".to_vec(),
            250,
        ),
        (Step::Bdat, b"BDAT 3\r\nabc".to_vec(), 250),
        (Step::DataEnd, b"BDAT 3 LAST\r\ndef".to_vec(), 250),
        (Step::Rset, b"RSET\r\n".to_vec(), 250),
        (Step::Noop, b"NOOP\r\n".to_vec(), 250),
        (Step::Quit, b"QUIT\r\n".to_vec(), 221),
    ];
    for (step, bytes, normal) in script {
        if !bytes.is_empty() {
            c.send(&bytes);
        }
        let reply = c.try_reply();
        let hit = step == *target;
        let Some(reply) = reply else {
            assert!(hit, "closed at unfaulted step {step:?}");
            return Seen::Closed;
        };
        if hit {
            let got = code(&reply);
            if got != normal {
                let closed = c.is_closed();
                return if closed {
                    Seen::RefusedThenClosed(got)
                } else {
                    Seen::Refused(got)
                };
            }
            if step == Step::StartTls && c.upgrade(&ca).is_err() {
                return Seen::HandshakeFailed;
            }
            return Seen::Normal(got);
        }
        assert_eq!(
            code(&reply),
            normal,
            "unfaulted step {step:?} got {reply:?}"
        );
        if step == Step::StartTls {
            c.upgrade(&ca).expect("handshake");
        }
    }
    unreachable!("the target step {target:?} was never reached")
}

#[test]
fn every_fault_at_every_step_does_what_the_table_says() {
    let sim = sim_with(vec![]);
    let mut rows = Vec::new();
    for step in Step::MATRIX {
        for action in actions() {
            sim.set_faults(vec![Fault::new(step.clone(), action.clone())]);
            let normal = match step {
                Step::Greeting | Step::StartTls => 220,
                Step::Auth => 235,
                Step::Data => 354,
                Step::Quit => 221,
                _ => 250,
            };
            let want = expected(&step, &action, normal);
            let got = session(&sim, &step);
            if got != want {
                rows.push(format!(
                    "{step:?} × {action:?}: expected {want:?}, got {got:?}"
                ));
            }
        }
    }
    assert!(rows.is_empty(), "mismatches:\n{}", rows.join("\n"));
}
