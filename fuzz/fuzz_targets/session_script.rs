//! A session against a server script built from the input: each few bytes pick a reply
//! (a code that matters to SMTP, one or more lines, an EHLO keyword, an enhanced code, a bare
//! LF), so the fuzzer reaches deep states that random bytes rarely do.
//!
//! Checks, beyond "no panic, ends, room to read, no bare CR or LF sent, split invariance":
//! - every message gets at most one verdict (`MessageAccepted` or `MessageRejected`), and
//!   exactly one when the session ends with QUIT answered;
//! - every recipient is answered at most once;
//! - no message content is sent for a message already refused for every recipient
//!   (`MessageRejected` at MAIL or RCPT) other than the lone dot that ends a DATA;
//! - with TLS required (input bit 0x20), nothing but EHLO and STARTTLS is written before the
//!   handshake, whatever the server says (a stripping or injecting attacker gains nothing).
//!   Split invariance is not checked then: bytes arriving with STARTTLS's 220 are refused as
//!   an injection, which depends on how they arrive.
#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use postel_proto::{
    Action, Client, Config, Credentials, Envelope, Event, Mechanism, Recipient, Secret, Step,
    TlsMode,
};

const CODES: [u16; 24] = [
    220, 221, 235, 250, 251, 334, 354, 421, 450, 451, 452, 454, 500, 501, 502, 503, 504, 530, 534,
    535, 550, 552, 553, 554,
];
const KEYWORDS: [&str; 11] = [
    "PIPELINING",
    "CHUNKING",
    "SIZE 100000",
    "AUTH PLAIN LOGIN",
    "8BITMIME",
    "SMTPUTF8",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "SIZE",
    "X-UNKNOWN",
    "STARTTLS",
];

/// Turns the input into server bytes: 2 bytes per reply.
fn script(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for pair in data.chunks(2) {
        let (a, b) = (pair[0], pair.get(1).copied().unwrap_or(0));
        let code = CODES[usize::from(a) % CODES.len()];
        let lines = 1 + usize::from(b & 3);
        let end: &[u8] = if b & 4 != 0 { b"\n" } else { b"\r\n" };
        for i in 0..lines {
            let sep = if i + 1 == lines { ' ' } else { '-' };
            let text = if i == 0 {
                if b & 8 != 0 {
                    format!("{}.{}.{} text", code / 100, (a >> 5) % 8, b >> 4)
                } else {
                    "mx.example".to_string()
                }
            } else {
                KEYWORDS[(usize::from(b >> 4) + i) % KEYWORDS.len()].to_string()
            };
            out.extend_from_slice(format!("{code}{sep}{text}").as_bytes());
            out.extend_from_slice(end);
        }
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
struct Run {
    client: Vec<u8>,
    events: Vec<String>,
    end: String,
}

const BODY: &[u8] = b"Subject: s\n\n.dot\nline\r\n";

fn run(knobs: u8, server: &[u8], chunk: usize) -> Run {
    let mut config = Config::new("client.example");
    let tls_required = knobs & 0x20 != 0;
    config.tls = if tls_required {
        TlsMode::Required
    } else {
        TlsMode::Disabled
    };
    config.options.pipelining = knobs & 1 != 0;
    config.options.chunking = knobs & 2 != 0;
    if knobs & 4 != 0 {
        config.credentials = Some(Credentials::Password {
            username: "u",
            password: Secret::new("p"),
            authzid: None,
        });
        config.mechanism = Some(if knobs & 8 != 0 {
            Mechanism::Plain
        } else {
            Mechanism::Login
        });
        config.dangerous_allow_plaintext_auth = !tls_required;
    }
    let (mut rx, mut tx) = (
        vec![0u8; 512],
        vec![0u8; 512 + usize::from(knobs >> 6) * 256],
    );
    let mut client = Client::new(config, &mut rx, &mut tx).expect("valid configuration");
    let to = [
        Recipient::new("a@mx.example"),
        Recipient::new("b@mx.example"),
    ];
    let mut envelope = Envelope::new("me@client.example", &to);
    envelope.size = Some(BODY.len() as u64 + 8);
    let mut out = Run {
        client: Vec::new(),
        events: Vec::new(),
        end: String::new(),
    };
    let (mut fed, mut pos, mut submitted, mut quit) = (0usize, 0usize, 0u32, false);
    let mut verdicts: HashMap<u32, u32> = HashMap::new();
    let mut answered: HashSet<(u32, u32)> = HashSet::new();
    let mut refused_txn: Option<u32> = None;
    let mut content_after_refusal = 0usize;
    for _ in 0..100_000 {
        let action = match client.poll() {
            Ok(a) => a,
            Err(e) => {
                out.end = format!("{e:?}");
                return out;
            }
        };
        match action {
            Action::Send { bytes, .. } => {
                if refused_txn.is_some() && bytes != b".\r\n" && !bytes.starts_with(b"RSET") {
                    content_after_refusal += bytes.len();
                }
                out.client.extend_from_slice(bytes);
                let n = bytes.len();
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                assert!(!into.is_empty(), "read into an empty buffer");
                let n = into.len().min(chunk).min(server.len() - fed);
                into[..n].copy_from_slice(&server[fed..fed + n]);
                fed += n;
                if let Err(e) = client.handle_received(n) {
                    out.end = format!("{e:?}");
                    return out;
                }
            }
            Action::Body { into } => {
                let n = into.len().min(BODY.len() - pos);
                into[..n].copy_from_slice(&BODY[pos..pos + n]);
                pos += n;
                client.handle_body(n).expect("content requested");
            }
            Action::Recipients { .. } => {
                if let Err(e) = client.handle_recipients(&envelope) {
                    out.events.push(format!("recipients: {e:?}"));
                    break;
                }
            }
            Action::StartTls => {
                assert!(tls_required, "STARTTLS only when TLS is wanted");
                let mut plain = out.client.as_slice();
                while !plain.is_empty() {
                    let end = plain
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .map_or(plain.len(), |p| p + 2);
                    let line = &plain[..end];
                    assert!(
                        line.starts_with(b"EHLO ") || line == b"STARTTLS\r\n",
                        "sent before TLS: {:?}",
                        String::from_utf8_lossy(line)
                    );
                    plain = &plain[end..];
                }
                out.events.push("StartTls".into());
                client.handle_tls_ready().expect("the client asked for TLS");
            }
            Action::Event(e) => {
                match e {
                    Event::MessageAccepted { txn, .. } => {
                        *verdicts.entry(txn.0).or_default() += 1;
                    }
                    Event::MessageRejected { txn, step, .. } => {
                        *verdicts.entry(txn.0).or_default() += 1;
                        if matches!(step, Step::Mail | Step::Rcpt) {
                            refused_txn = Some(txn.0);
                        }
                    }
                    Event::RecipientAccepted { txn, rcpt, .. }
                    | Event::RecipientRefused { txn, rcpt, .. } => {
                        assert!(answered.insert((txn.0, rcpt.0)), "recipient answered twice");
                    }
                    _ => {}
                }
                out.events.push(format!("{e:?}"));
            }
            Action::Idle if submitted < 3 => {
                refused_txn = None;
                pos = 0;
                match client.submit(&envelope) {
                    Ok(_) => submitted += 1,
                    Err(e) => {
                        out.events.push(format!("submit: {e:?}"));
                        submitted = 3;
                    }
                }
            }
            Action::Idle if !quit => {
                refused_txn = None;
                quit = true;
                client.quit().expect("idle client can quit");
            }
            Action::Idle | Action::Closed => {
                out.end = "closed".into();
                break;
            }
        }
    }
    assert!(!out.end.is_empty(), "the session did not end");
    assert!(
        verdicts.values().all(|&n| n == 1),
        "a message got two verdicts: {verdicts:?}"
    );
    if out.end == "closed" {
        assert_eq!(
            verdicts.len() as u32,
            submitted,
            "every message got a verdict"
        );
    }
    assert_eq!(
        content_after_refusal, 0,
        "content sent for a refused message"
    );
    out
}

fuzz_target!(|data: &[u8]| {
    let [knobs, split, rest @ ..] = data else {
        return;
    };
    let server = script(rest);
    let whole = run(*knobs, &server, usize::MAX);
    for (i, &b) in whole.client.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(whole.client.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
            b'\n' => assert!(i > 0 && whole.client[i - 1] == b'\r', "bare LF at {i}"),
            _ => {}
        }
    }
    if knobs & 0x20 == 0 {
        let chunk = 1 + usize::from(*split % 16);
        assert_eq!(
            run(*knobs, &server, chunk),
            whole,
            "split invariance (chunk {chunk})"
        );
    } else if !whole.events.iter().any(|e| e == "StartTls") {
        // TLS never started: nothing but EHLO, STARTTLS and QUIT (which carries nothing
        // private: the answer to a refused greeting) may have been written.
        assert!(
            whole.client.split(|&b| b == b'\n').all(|l| l.is_empty()
                || l.starts_with(b"EHLO ")
                || l == b"STARTTLS\r"
                || l == b"QUIT\r"),
            "plaintext sent without TLS: {:?}",
            String::from_utf8_lossy(&whole.client)
        );
    }
});
