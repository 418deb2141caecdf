//! `postel probe` against scripted servers: the exact bytes it sends (greeting, EHLO,
//! STARTTLS, QUIT: never MAIL or AUTH), what it reports, and its exit code, when STARTTLS is
//! missing or refused and when the greeting is refused.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::thread::JoinHandle;

const BIN: &str = env!("CARGO_BIN_EXE_postel");

/// A server that sends `greeting`, then answers each command line by its first word from
/// `replies` (unknown commands get a 500), and returns every byte the client sent.
fn server(
    greeting: &'static str,
    replies: &'static [(&'static str, &'static str)],
) -> (SocketAddr, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.write_all(greeting.as_bytes()).unwrap();
        let mut reader = BufReader::new(sock.try_clone().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return seen;
            }
            seen.push_str(&line);
            let verb = line.split_whitespace().next().unwrap_or("").to_owned();
            let reply = replies
                .iter()
                .find(|(v, _)| *v == verb)
                .map_or("500 5.5.1 what?\r\n", |(_, r)| r);
            if sock.write_all(reply.as_bytes()).is_err() {
                return seen;
            }
        }
    });
    (addr, handle)
}

fn probe(addr: SocketAddr, tls: &str) -> (Option<i32>, serde_json::Value) {
    let o = Command::new(BIN)
        .args(["probe", &addr.to_string(), "--tls", tls, "--json"])
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code(), v)
}

const EHLO_PLAIN: &str = "250-mx.test\r\n250-SIZE 1000\r\n250 AUTH PLAIN LOGIN\r\n";
const EHLO_STARTTLS: &str = "250-mx.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n";

#[test]
fn opportunistic_without_starttls_reports_the_extensions_and_quits() {
    let (addr, seen) = server(
        "220 mx.test ESMTP\r\n",
        &[("EHLO", EHLO_PLAIN), ("QUIT", "221 2.0.0 bye\r\n")],
    );
    let (code, v) = probe(addr, "opportunistic");
    assert_eq!(
        seen.join().unwrap(),
        "EHLO probe.postel.invalid\r\nQUIT\r\n"
    );
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["greeting"], serde_json::json!(["220 mx.test ESMTP"]));
    assert_eq!(
        v["extensions"],
        serde_json::json!(["SIZE 1000", "AUTH PLAIN LOGIN"])
    );
    assert_eq!(v["auth"], serde_json::json!(["PLAIN", "LOGIN"]));
    assert!(v["tls"].is_null(), "{v}");
    assert!(v["problem"].is_null(), "{v}");
}

#[test]
fn starttls_mode_reports_a_server_without_starttls() {
    let (addr, seen) = server(
        "220 mx.test ESMTP\r\n",
        &[("EHLO", EHLO_PLAIN), ("QUIT", "221 2.0.0 bye\r\n")],
    );
    let (code, v) = probe(addr, "starttls");
    assert_eq!(
        seen.join().unwrap(),
        "EHLO probe.postel.invalid\r\nQUIT\r\n"
    );
    assert_eq!(code, Some(69), "{v}");
    assert_eq!(v["problem"], "the server does not offer STARTTLS");
    assert_eq!(v["auth"], serde_json::json!(["PLAIN", "LOGIN"]));
}

#[test]
fn a_refused_starttls_is_reported_with_the_reply() {
    let (addr, seen) = server(
        "220 mx.test ESMTP\r\n",
        &[
            ("EHLO", EHLO_STARTTLS),
            ("STARTTLS", "454 4.7.0 TLS not available now\r\n"),
            ("QUIT", "221 2.0.0 bye\r\n"),
        ],
    );
    let (code, v) = probe(addr, "starttls");
    assert_eq!(
        seen.join().unwrap(),
        "EHLO probe.postel.invalid\r\nSTARTTLS\r\nQUIT\r\n"
    );
    assert_eq!(code, Some(69), "{v}");
    assert_eq!(
        v["problem"],
        "STARTTLS refused: 454 4.7.0 TLS not available now"
    );
    assert_eq!(
        v["extensions"],
        serde_json::json!(["STARTTLS", "AUTH PLAIN"])
    );
}

#[test]
fn a_refused_greeting_is_reported_and_nothing_but_quit_is_sent() {
    let (addr, seen) = server(
        "554-mx.test no service\r\n554 5.7.1 go away\r\n",
        &[("QUIT", "221 2.0.0 bye\r\n")],
    );
    let (code, v) = probe(addr, "none");
    assert_eq!(seen.join().unwrap(), "QUIT\r\n");
    assert_eq!(code, Some(69), "{v}");
    assert_eq!(
        v["problem"],
        "greeting refused: 554-mx.test no service / 554 5.7.1 go away"
    );
    assert_eq!(
        v["greeting"],
        serde_json::json!(["554-mx.test no service", "554 5.7.1 go away"])
    );
    assert_eq!(v["extensions"], serde_json::json!([]));
}
