//! Each wait carries the RFC 5321 §4.5.3.2 timeout of its step: the initial 220, MAIL, RCPT,
//! DATA initiation, each data block, DATA termination, and the other commands.

mod common;

use std::time::Duration;

use common::server::{Behaviour, Server};
use postel_proto::{Action, Client, Config, Envelope, Recipient, Timeouts, TlsMode};

/// Distinct values, so each step's timeout can be recognised.
const T: Timeouts = Timeouts {
    greeting: Duration::from_secs(1),
    mail: Duration::from_secs(2),
    rcpt: Duration::from_secs(3),
    data_init: Duration::from_secs(4),
    data_block: Duration::from_secs(5),
    data_end: Duration::from_secs(6),
    command: Duration::from_secs(7),
    tls_handshake: Duration::from_secs(8),
};

fn name(d: Duration) -> &'static str {
    [
        "?",
        "greeting",
        "mail",
        "rcpt",
        "data_init",
        "data_block",
        "data_end",
        "command",
    ][d.as_secs() as usize]
}

/// Runs a session without pipelining and returns each send and receive with its timeout;
/// checks that the step `poll_step` names for each is the one whose timeout it carries.
fn waits(chunking: bool, body: &[u8]) -> Vec<String> {
    let mut server = Server::new(Behaviour {
        pipelining: false,
        chunking,
        ..Behaviour::default()
    });
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    config.timeouts = T;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let to = [Recipient::new("a@mx.test")];
    let env = Envelope::new("me@client.test", &to);
    let (mut submitted, mut quit, mut pos) = (false, false, 0);
    let mut log = Vec::new();
    loop {
        let (step, action) = client.poll_step().unwrap();
        if let Action::Send { within, .. } | Action::Receive { within, .. } = &action {
            assert_eq!(step.timeout(&T), *within, "{step:?}");
        }
        match action {
            Action::Send { bytes, within } => {
                let line = String::from_utf8_lossy(bytes);
                let verb = line.split([' ', '\r']).next().unwrap_or("");
                let commands = ["EHLO", "MAIL", "RCPT", "DATA", "BDAT", "QUIT"];
                let what = if commands.contains(&verb) {
                    verb
                } else {
                    "content"
                };
                log.push(format!("send {what}: {}", name(within)));
                server.write(bytes);
                let n = bytes.len();
                client.handle_sent(n);
            }
            Action::Receive { into, within } => {
                log.push(format!("receive: {}", name(within)));
                let n = server.read_into(into);
                client.handle_received(n).unwrap();
            }
            Action::Body { into } => {
                let n = into.len().min(body.len() - pos);
                into[..n].copy_from_slice(&body[pos..pos + n]);
                pos += n;
                client.handle_body(n).unwrap();
            }
            Action::Idle if !submitted => {
                client.submit(&env).unwrap();
                submitted = true;
            }
            Action::Idle if !quit => {
                client.quit().unwrap();
                quit = true;
            }
            Action::Idle | Action::Closed => return log,
            Action::Event(_) => {}
            Action::StartTls => unreachable!("TLS disabled"),
            Action::Recipients { .. } => unreachable!("one recipient fits"),
        }
    }
}

/// The log with consecutive content writes folded into one entry.
fn folded(log: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in log {
        if out.last() == Some(&entry) {
            continue;
        }
        out.push(entry);
    }
    out
}

#[test]
fn each_wait_carries_its_rfc_5321_timeout_with_data() {
    // A 1500-octet body takes more than one write of the 1024-octet send buffer.
    let body: Vec<u8> = b"x\r\n".repeat(500);
    let log = folded(waits(false, &body));
    assert_eq!(
        log,
        [
            "receive: greeting",
            "send EHLO: command",
            "receive: command",
            "send MAIL: mail",
            "receive: mail",
            "send RCPT: rcpt",
            "receive: rcpt",
            "send DATA: data_init",
            "receive: data_init",
            "send content: data_block",
            "receive: data_end",
            "send QUIT: command",
            "receive: command",
        ]
    );
}

#[test]
fn each_wait_carries_its_rfc_5321_timeout_with_bdat() {
    let body: Vec<u8> = b"x\r\n".repeat(500);
    let log = folded(waits(true, &body));
    assert_eq!(
        log,
        [
            "receive: greeting",
            "send EHLO: command",
            "receive: command",
            "send MAIL: mail",
            "receive: mail",
            "send RCPT: rcpt",
            "receive: rcpt",
            "send BDAT: data_block",
            "receive: data_block",
            "send BDAT: data_block",
            "receive: data_block",
            "send BDAT: data_block",
            "receive: data_end",
            "send QUIT: command",
            "receive: command",
        ]
    );
}
