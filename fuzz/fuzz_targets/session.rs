//! Arbitrary server bytes against a whole client session.
//!
//! The first two bytes choose the configuration (pipelining, chunking, credentials, implicit
//! TLS, read chunk size, receive buffer size); the rest is what the server says. The client
//! submits two messages and quits whenever it is idle. Checks:
//! - no panic, and the session ends within a bounded number of steps;
//! - every read the client asks for has room (an empty read would look like end of file);
//! - the client never sends a bare CR or LF, whatever the server says;
//! - split invariance: the server's bytes fed whole or in chunks give the same client bytes,
//!   events and outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_proto::{
    Action, Client, Config, Credentials, Envelope, Mechanism, Recipient, Secret, TlsMode,
};

const BODY: &[u8] = b"Subject: fuzz\n\n.dot line\r\nbare cr\rend";

#[derive(Debug, PartialEq, Eq)]
struct Run {
    client: Vec<u8>,
    events: Vec<String>,
    end: String,
}

fn run(knobs: u8, rx_len: usize, server: &[u8], chunk: usize) -> Run {
    let mut config = Config::new("client.example");
    config.options.pipelining = knobs & 1 != 0;
    config.options.chunking = knobs & 2 != 0;
    if knobs & 4 != 0 {
        config.credentials = Some(Credentials::Password {
            username: "user",
            password: Secret::new("pass"),
            authzid: None,
        });
        config.mechanism = Some(if knobs & 8 != 0 {
            Mechanism::Plain
        } else {
            Mechanism::Login
        });
        config.dangerous_allow_plaintext_auth = true;
    }
    config.tls = if knobs & 16 != 0 {
        TlsMode::Implicit
    } else {
        TlsMode::Disabled
    };
    let (mut rx, mut tx) = (vec![0u8; rx_len], vec![0u8; 1024]);
    let mut client = Client::new(config, &mut rx, &mut tx).expect("valid configuration");
    let to = [
        Recipient::new("a@mx.example"),
        Recipient::new("b@mx.example"),
    ];
    let envelope = Envelope::new("me@client.example", &to);
    let mut out = Run {
        client: Vec::new(),
        events: Vec::new(),
        end: String::new(),
    };
    let (mut fed, mut body_pos, mut submitted, mut quit) = (0usize, 0usize, 0, false);
    for _ in 0..200_000 {
        let action = match client.poll() {
            Ok(a) => a,
            Err(e) => {
                out.end = format!("{e:?}");
                return out;
            }
        };
        match action {
            Action::Send { bytes, .. } => {
                out.client.extend_from_slice(bytes);
                let n = bytes.len();
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                assert!(
                    !into.is_empty(),
                    "the client asks to read into an empty buffer"
                );
                let n = into.len().min(chunk).min(server.len() - fed);
                into[..n].copy_from_slice(&server[fed..fed + n]);
                fed += n;
                if let Err(e) = client.handle_received(n) {
                    out.end = format!("{e:?}");
                    return out;
                }
            }
            Action::Body { into } => {
                let n = into.len().min(BODY.len() - body_pos);
                into[..n].copy_from_slice(&BODY[body_pos..body_pos + n]);
                body_pos += n;
                client.handle_body(n).expect("the client asked for content");
            }
            Action::Recipients { .. } => {
                if let Err(e) = client.handle_recipients(&envelope) {
                    out.events.push(format!("recipients: {e:?}"));
                    break;
                }
            }
            Action::StartTls => {
                out.events.push("StartTls".into());
                client.handle_tls_ready().expect("the client asked for TLS");
            }
            Action::Event(e) => out.events.push(format!("{e:?}")),
            Action::Idle if submitted < 2 => {
                submitted += 1;
                body_pos = 0;
                if let Err(e) = client.submit(&envelope) {
                    out.events.push(format!("submit: {e:?}"));
                }
            }
            Action::Idle if !quit => {
                quit = true;
                client.quit().expect("idle client can quit");
            }
            Action::Idle | Action::Closed => {
                out.end = "closed".into();
                return out;
            }
        }
    }
    panic!("the session did not end in 200000 steps");
}

fuzz_target!(|data: &[u8]| {
    let [knobs, size, server @ ..] = data else {
        return;
    };
    let chunk = [1, 2, 3, 7, 64, 512, 4096, usize::MAX][usize::from(knobs >> 5)];
    let rx_len = 512 + usize::from(*size) * 16;
    let whole = run(*knobs, rx_len, server, usize::MAX);
    // No bare CR or LF leaves the client: commands and content alike end lines with CRLF.
    for (i, &b) in whole.client.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(whole.client.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
            b'\n' => assert!(i > 0 && whole.client[i - 1] == b'\r', "bare LF at {i}"),
            _ => {}
        }
    }
    let split = run(*knobs, rx_len, server, chunk);
    assert_eq!(split, whole, "split invariance (chunk {chunk})");
});
