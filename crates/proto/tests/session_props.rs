//! Session-level properties: any split of the server's bytes gives the same session, and any
//! message body reaches the server (un-stuffed, chunks joined) exactly as its line ends
//! normalized, with DATA and with BDAT, whatever the buffer sizes, write sizes, read sizes
//! and body chunks.

mod common;

use common::server::{normalized, Behaviour, Server};
use common::{check, event_str, load, transcript_files, Split};
use postel_proto::{Action, Client, Config, Envelope, Recipient, TlsMode};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};

#[test]
fn any_split_of_the_server_bytes_gives_the_same_bytes_and_events() {
    let transcripts: Vec<_> = transcript_files()
        .iter()
        .map(|f| load(f))
        .filter(|t| !t.settings.whole_only && t.settings.nonce.is_empty())
        .collect();
    let mut runner = TestRunner::new(PropConfig {
        cases: 768,
        ..PropConfig::default()
    });
    let strategy = (
        0..transcripts.len(),
        prop::collection::vec(any::<Index>(), 0..24),
    );
    runner
        .run(&strategy, |(i, cuts)| {
            let t = &transcripts[i];
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(t.server.len())).collect();
            cuts.sort_unstable();
            cuts.dedup();
            check(t, &Split::Cuts(cuts), usize::MAX).map_err(TestCaseError::fail)
        })
        .unwrap();
}

/// How the driver and the buffers behave in one run.
#[derive(Clone, Debug)]
struct Knobs {
    rx: usize,
    tx: usize,
    write_max: usize,
    read_max: usize,
    body_chunk: usize,
    pipelining: bool,
    chunking: bool,
    max_chunks: u32,
    /// Extra recipients with long names, so the envelope takes much of the send buffer.
    extra_recipients: usize,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        512..6000usize,
        512..20_000usize,
        1..4000usize,
        1..700usize,
        1..5000usize,
        any::<bool>(),
        any::<bool>(),
        1..5u32,
        0..5usize,
    )
        .prop_map(
            |(rx, tx, write_max, read_max, body_chunk, pipelining, chunking, max_chunks, extra)| {
                Knobs {
                    rx,
                    tx,
                    write_max,
                    read_max,
                    body_chunk,
                    pipelining,
                    chunking,
                    max_chunks,
                    extra_recipients: extra,
                }
            },
        )
}

/// Bodies rich in what is hard: CR, LF, dots at line starts.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => any::<u8>(),
            2 => Just(b'\r'),
            2 => Just(b'\n'),
            2 => Just(b'.'),
        ],
        0..6000,
    )
}

/// Sends `bodies` as messages to a [`Server`]; returns it and the events.
/// Each message is a body and whether every recipient is refused.
fn deliver(
    messages: &[(Vec<u8>, bool)],
    k: &Knobs,
) -> Result<(Server, Vec<String>), TestCaseError> {
    let mut server = Server::new(Behaviour {
        pipelining: k.pipelining,
        chunking: k.chunking,
        ..Behaviour::default()
    });
    let (mut rx, mut tx) = (vec![0u8; k.rx], vec![0u8; k.tx]);
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    config.options.max_line_len = usize::MAX;
    config.options.max_chunks_in_flight = k.max_chunks;
    let mut client =
        Client::new(config, &mut rx, &mut tx).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let extra: Vec<String> = (0..k.extra_recipients)
        .map(|i| format!("recipient{i:02}@a-rather-long-domain-name-for-the-envelope.test"))
        .collect();
    let mut to = vec![
        Recipient::new("a@mx.test"),
        Recipient::new("nobody@mx.test"),
        Recipient::new("b@mx.test"),
    ];
    to.extend(extra.iter().map(|a| Recipient::new(a)));
    let envelope = Envelope::new("me@client.test", &to);
    let nobody = [
        Recipient::new("nobody1@mx.test"),
        Recipient::new("nobody2@mx.test"),
    ];
    let refused = Envelope::new("me@client.test", &nobody);
    let (mut next, mut pos, mut quit) = (0usize, 0usize, false);
    let mut events = Vec::new();
    for _ in 0..10_000_000 {
        let action = client
            .poll()
            .map_err(|e| TestCaseError::fail(format!("session failed: {e}")))?;
        match action {
            Action::Send { bytes, .. } => {
                let n = bytes.len().min(k.write_max);
                server.write(&bytes[..n]);
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                let max = into.len().min(k.read_max);
                let n = server.read_into(&mut into[..max]);
                if n == 0 && !server.closed {
                    return Err(TestCaseError::fail(
                        "the client waits, the server has nothing to say",
                    ));
                }
                client
                    .handle_received(n)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Action::Body { into } => {
                let src = &messages[next - 1].0;
                let n = into.len().min(k.body_chunk).min(src.len() - pos);
                into[..n].copy_from_slice(&src[pos..pos + n]);
                pos += n;
                client
                    .handle_body(n)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Action::Event(e) => events.push(event_str(&e)),
            Action::Idle if next < messages.len() => {
                let env = if messages[next].1 {
                    &refused
                } else {
                    &envelope
                };
                next += 1;
                pos = 0;
                client
                    .submit(env)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Action::Idle if !quit => {
                quit = true;
                client
                    .quit()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Action::Idle | Action::Closed => return Ok((server, events)),
            Action::Recipients { .. } => {
                let env = if messages[next - 1].1 {
                    &refused
                } else {
                    &envelope
                };
                client
                    .handle_recipients(env)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Action::StartTls => return Err(TestCaseError::fail("TLS was disabled")),
        }
    }
    Err(TestCaseError::fail("the session never ended"))
}

proptest! {
    #![proptest_config(PropConfig { cases: 256, ..PropConfig::default() })]

    #[test]
    fn any_body_arrives_with_only_its_line_ends_normalized(
        first in body(),
        second in body(),
        k in knobs(),
    ) {
        let (server, events) = deliver(&[(first.clone(), false), (second.clone(), false)], &k)?;
        prop_assert!(server.violations.is_empty(), "{:?}", server.violations);
        prop_assert_eq!(server.messages.len(), 2, "{:?}", events);
        prop_assert!(server.messages[0] == normalized(&first), "first body differs");
        prop_assert!(server.messages[1] == normalized(&second), "second body differs");
        prop_assert_eq!(server.recipients[0].len(), 2 + k.extra_recipients);
        let accepted = events.iter().filter(|e| e.starts_with("MessageAccepted")).count();
        prop_assert_eq!(accepted, 2, "{:?}", events);
        let refused = events.iter().filter(|e| e.starts_with("RecipientRefused")).count();
        prop_assert_eq!(refused, 2, "{:?}", events);
    }
}

proptest! {
    #![proptest_config(PropConfig { cases: 128, ..PropConfig::default() })]

    #[test]
    fn a_message_refused_for_everyone_does_not_disturb_the_next(
        messages in prop::collection::vec((body(), any::<bool>()), 1..4),
        k in knobs(),
    ) {
        let (server, events) = deliver(&messages, &k)?;
        prop_assert!(server.violations.is_empty(), "{:?}", server.violations);
        let delivered: Vec<Vec<u8>> = messages
            .iter()
            .filter(|(_, refused)| !refused)
            .map(|(b, _)| normalized(b))
            .collect();
        prop_assert!(server.messages == delivered, "{:?}", events);
        let rejected = messages.iter().filter(|(_, refused)| *refused).count();
        let count = |p: &str| events.iter().filter(|e| e.starts_with(p)).count();
        prop_assert_eq!(count("MessageRejected"), rejected, "{:?}", events);
        prop_assert_eq!(count("MessageAccepted"), delivered.len(), "{:?}", events);
        for (i, e) in events.iter().filter(|e| e.starts_with("MessageRejected")).enumerate() {
            prop_assert!(e.contains(" Rcpt 550"), "{} ({})", e, i);
        }
    }
}

#[test]
fn normalization_reference_matches_the_rfc_rules() {
    assert_eq!(normalized(b""), b"");
    assert_eq!(normalized(b"a"), b"a\r\n");
    assert_eq!(normalized(b"a\rb\nc\r\nd\r"), b"a\r\nb\r\nc\r\nd\r\n");
    assert_eq!(normalized(b"\r\r\n"), b"\r\n\r\n");
}

/// Sends one message to `to` as a caller would: in a transaction, then again to the
/// recipients the server's limit deferred, until none is left. Returns the server and, for
/// each transaction, the events.
fn deliver_to_all(
    to: &[String],
    body: &[u8],
    k: &Knobs,
    max_recipients: usize,
) -> Result<(Server, Vec<Vec<String>>), TestCaseError> {
    let fail = |e: postel_proto::Error| TestCaseError::fail(e.to_string());
    let mut server = Server::new(Behaviour {
        pipelining: k.pipelining,
        chunking: k.chunking,
        max_recipients,
        ..Behaviour::default()
    });
    let (mut rx, mut tx) = (vec![0u8; k.rx], vec![0u8; k.tx]);
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    config.options.max_line_len = usize::MAX;
    config.options.max_chunks_in_flight = k.max_chunks;
    let mut client = Client::new(config, &mut rx, &mut tx).map_err(fail)?;
    // The recipients of the transaction in flight, as indexes into `to`.
    let mut current: Vec<usize> = Vec::new();
    let mut left: Vec<usize> = (0..to.len()).collect();
    let mut transactions: Vec<Vec<String>> = Vec::new();
    let (mut pos, mut quit) = (0usize, false);
    let mut deferred: Vec<usize> = Vec::new();
    let mut recipients: Vec<Recipient<'_>> = Vec::new();
    for _ in 0..50_000_000 {
        let action = client.poll().map_err(fail)?;
        match action {
            Action::Send { bytes, .. } => {
                let n = bytes.len().min(k.write_max);
                server.write(&bytes[..n]);
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                let max = into.len().min(k.read_max);
                let n = server.read_into(&mut into[..max]);
                if n == 0 && !server.closed {
                    return Err(TestCaseError::fail(
                        "the client waits, the server is silent",
                    ));
                }
                client.handle_received(n).map_err(fail)?;
            }
            Action::Body { into } => {
                let n = into.len().min(k.body_chunk).min(body.len() - pos);
                into[..n].copy_from_slice(&body[pos..pos + n]);
                pos += n;
                client.handle_body(n).map_err(fail)?;
            }
            Action::Event(e) => {
                if let postel_proto::Event::RecipientDeferred { rcpt, .. } = e {
                    deferred.push(current[rcpt.0 as usize]);
                }
                if let Some(t) = transactions.last_mut() {
                    t.push(event_str(&e));
                }
            }
            Action::Recipients { .. } => {
                client
                    .handle_recipients(&Envelope::new("me@client.test", &recipients))
                    .map_err(fail)?;
            }
            Action::Idle if !transactions.is_empty() && deferred.is_empty() => {
                if quit {
                    return Ok((server, transactions));
                }
                quit = true;
                client.quit().map_err(fail)?;
            }
            Action::Idle => {
                // Everyone first, then those deferred by the last transaction.
                if !transactions.is_empty() {
                    left = std::mem::take(&mut deferred);
                    left.sort_unstable();
                }
                current = std::mem::take(&mut left);
                recipients = current.iter().map(|&i| Recipient::new(&to[i])).collect();
                transactions.push(Vec::new());
                pos = 0;
                client
                    .submit(&Envelope::new("me@client.test", &recipients))
                    .map_err(fail)?;
            }
            Action::Closed => return Ok((server, transactions)),
            Action::StartTls => return Err(TestCaseError::fail("TLS was disabled")),
        }
    }
    Err(TestCaseError::fail("the session never ended"))
}

proptest! {
    #![proptest_config(PropConfig { cases: 256, ..PropConfig::default() })]

    #[test]
    fn any_number_of_recipients_get_the_message_once_whatever_the_limit(
        n in 1..400usize,
        limit in prop_oneof![Just(usize::MAX), 1..120usize],
        body in prop::collection::vec(any::<u8>(), 0..3000),
        k in knobs(),
    ) {
        let to: Vec<String> = (0..n).map(|i| format!("rcpt{i:03}@mx.test")).collect();
        let (server, transactions) = deliver_to_all(&to, &body, &k, limit)?;
        prop_assert!(server.violations.is_empty(), "{:?}", server.violations);
        let mut got: Vec<&String> = server.recipients.iter().flatten().collect();
        prop_assert_eq!(got.len(), n, "each recipient once: {:?}", transactions);
        got.sort_unstable();
        got.dedup();
        prop_assert_eq!(got.len(), n);
        prop_assert!(server.messages.iter().all(|m| *m == normalized(&body)));
        prop_assert_eq!(server.messages.len(), n.div_ceil(limit.min(n)));
        for t in &transactions {
            let count = |p: &str| t.iter().filter(|e| e.starts_with(p)).count();
            prop_assert_eq!(count("MessageAccepted"), 1, "{:?}", t);
            prop_assert_eq!(count("RecipientRefused"), 0, "{:?}", t);
        }
    }
}
