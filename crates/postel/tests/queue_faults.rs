//! The queue classifies failures as an MTA does: only a 5yz about the message or a
//! recipient is permanent; everything about the path is retried, and nothing the
//! server accepted is ever bounced.

use std::path::PathBuf;
use std::time::Duration;

use postel::queue::{Backoff, Queue, Record, Relay, Status, Worker};
use postel::{Client, ClientBuilder, TlsMode};
use postel_sim::fault::{Action, Fault, RcptMatch, Step as SimStep};
use postel_sim::{BlockingSimulator, Config};

const MESSAGE: &[u8] = b"From: a@client.test\r\nTo: b@mx.test\r\nSubject: queued\r\n\r\nHello.\r\n";

fn temp_queue(name: &str) -> (Queue, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("postel-queue-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (Queue::open(&dir).expect("the queue opens"), dir)
}

fn base(port: u16) -> ClientBuilder {
    Client::builder("127.0.0.1")
        .port(port)
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        .connect_timeout(Duration::from_secs(2))
}

/// Queues one message, runs one pass with `client`, and returns its record: it must
/// still be queued, with no bounce next to it and nothing delivered.
fn one_pass_defers(
    name: &str,
    sim: &BlockingSimulator,
    client: impl Fn() -> ClientBuilder,
) -> Record {
    let (queue, dir) = temp_queue(name);
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let s = Worker::new(queue.clone(), Relay::new(move || client().build()))
        .run_once()
        .unwrap();
    assert_eq!((s.failed, s.deferred), (0, 1), "{name}: {s:?}");
    let left = queue.list().unwrap();
    assert_eq!(left.len(), 1, "{name}: no bounce is queued: {left:?}");
    let rec = queue.show(&id).unwrap();
    assert_eq!(rec.recipients[0].status, Status::Pending, "{name}");
    assert!(
        rec.next_try > postel::queue::now_secs(),
        "{name}: retried later"
    );
    assert!(sim.messages().is_empty(), "{name}");
    let _ = std::fs::remove_dir_all(dir);
    rec
}

#[test]
fn tls_failures_at_the_relay_are_retried_not_bounced() {
    // The simulator's certificate is from its own CA: unknown to the platform's roots.
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let port = sim.addr().port();
    let rec = one_pass_defers("tls-issuer", &sim, move || {
        base(port).tls(TlsMode::StartTls)
    });
    assert!(rec.recipients[0].last.as_deref().unwrap().contains("TLS"));

    let plain = BlockingSimulator::start(
        Config::builder()
            .without(postel_sim::Extension::StartTls)
            .build(),
    )
    .unwrap();
    let port = plain.addr().port();
    let rec = one_pass_defers("tls-missing", &plain, move || {
        base(port).tls(TlsMode::StartTls)
    });
    assert!(
        rec.recipients[0]
            .last
            .as_deref()
            .unwrap()
            .contains("STARTTLS"),
        "{rec:?}"
    );
}

#[test]
fn a_refused_login_is_a_configuration_problem_retried_and_shown() {
    let sim = BlockingSimulator::start(
        Config::builder()
            .user("alice", "right")
            .require_tls_for_auth(false)
            .build(),
    )
    .unwrap();
    let port = sim.addr().port();
    let rec = one_pass_defers("auth", &sim, move || {
        base(port)
            .credentials("alice", "wrong")
            .dangerous_allow_plaintext_auth(true)
    });
    let last = rec.last_error.unwrap();
    assert!(last.contains(postel::queue::CONFIG_PROBLEM), "{last}");
    assert!(last.contains("535"), "{last}");
}

#[test]
fn path_failures_are_transient_whatever_their_code() {
    let cases: Vec<(&str, Vec<Fault>)> = vec![
        (
            "greeting-554",
            vec![Fault::new(
                SimStep::Greeting,
                Action::Reply(554, "5.7.1 go away".into()),
            )],
        ),
        (
            "ehlo-helo-550",
            vec![
                Fault::new(SimStep::Ehlo, Action::Reply(550, "5.5.1 no".into())),
                Fault::new(SimStep::Helo, Action::Reply(550, "5.5.1 no".into())),
            ],
        ),
        (
            "closed-at-mail",
            vec![Fault::new(SimStep::Mail, Action::Close)],
        ),
        (
            "overlong-reply-to-mail",
            vec![Fault::new(
                SimStep::Mail,
                Action::Reply(550, "x".repeat(70_000)),
            )],
        ),
        (
            "closed-at-rcpt",
            vec![Fault::new(SimStep::Rcpt(RcptMatch::Any), Action::Close)],
        ),
        (
            "421-at-rcpt",
            vec![Fault::new(SimStep::Rcpt(RcptMatch::Any), Action::Reply421)],
        ),
    ];
    for (name, faults) in cases {
        let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
        sim.set_faults(faults);
        let port = sim.addr().port();
        let rec = one_pass_defers(name, &sim, move || base(port));
        assert_eq!(rec.recipients[0].uncertain, 0, "{name}: nothing was sent");
    }
}

#[test]
fn a_timeout_is_retried() {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    sim.set_faults(vec![Fault::new(
        SimStep::Mail,
        Action::Delay(Duration::from_secs(3)),
    )]);
    let port = sim.addr().port();
    one_pass_defers("timeout", &sim, move || {
        base(port).timeouts(postel::Timeouts {
            mail: Duration::from_millis(300),
            ..postel::Timeouts::RFC5321
        })
    });
}

#[test]
fn a_5yz_about_the_message_or_a_recipient_is_still_permanent() {
    for (name, fault) in [
        (
            "rcpt-550",
            Fault::new(
                SimStep::Rcpt(RcptMatch::Any),
                Action::Reply(550, "5.1.1 no such user".into()),
            ),
        ),
        (
            "mail-553",
            Fault::new(SimStep::Mail, Action::Reply(553, "5.1.8 bad sender".into())),
        ),
        (
            "dot-554",
            Fault::new(
                SimStep::DataEnd,
                Action::Reply(554, "5.6.0 content rejected".into()),
            ),
        ),
    ] {
        let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
        sim.set_faults(vec![fault.on_connection(1)]);
        let port = sim.addr().port();
        let (queue, dir) = temp_queue(name);
        queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
        let s = Worker::new(queue.clone(), Relay::new(move || base(port).build()))
            .backoff(Backoff {
                initial: Duration::ZERO,
                ..Backoff::default()
            })
            .run_once()
            .unwrap();
        assert_eq!(s.failed, 1, "{name}");
        let left = queue.list().unwrap();
        assert_eq!(left.len(), 1, "{name}: only the bounce is left");
        assert_eq!(left[0].from, "", "{name}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
