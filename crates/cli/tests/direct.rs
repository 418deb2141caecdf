//! `postel send --direct` on the library's one send path: the DSN flags and
//! `--require-tls` reach each MX (they were dropped before), against the simulator on an
//! address literal of its own loopback address.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Output};
use std::time::Duration;

use postel_sim::{BlockingSimulator, Config};

use common::{run, text, BIN};

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A simulator on 127.0.0.4 and the port it listens on.
fn sim() -> (BlockingSimulator, u16) {
    let port = free_port("127.0.0.4");
    let sim = BlockingSimulator::start(
        Config::builder()
            .bind(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)))
            .port(port)
            .build(),
    )
    .unwrap();
    (sim, port)
}

fn send_direct(port: u16, extra: &[&str]) -> Output {
    let port = port.to_string();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "send",
        "--direct",
        "--mx-port",
        &port,
        "--helo",
        "client.test",
        "--from",
        "a@client.test",
        "--to",
        "b@[127.0.0.4]",
        "--to",
        "c@[127.0.0.4]",
        "--subject",
        "direct",
        "--text",
        "hello",
    ])
    .args(extra)
    .env_remove("POSTEL_ACCOUNT");
    run(cmd, None)
}

#[test]
fn send_direct_passes_the_dsn_request_as_mail_and_rcpt_parameters() {
    let (sim, port) = sim();
    let out = send_direct(
        port,
        &[
            "--dsn-notify",
            "success,failure",
            "--dsn-return",
            "headers",
            "--envid",
            "QQ+314 159",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let m = sim.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].mail_from, "a@client.test");
    assert_eq!(m[0].mail_param("RET"), Some("HDRS"));
    assert_eq!(m[0].mail_param("ENVID"), Some("QQ+2B314+20159"));
    assert_eq!(m[0].rcpt_to.len(), 2);
    for r in &m[0].rcpt_to {
        assert_eq!(r.param("NOTIFY"), Some("SUCCESS,FAILURE"), "{}", r.address);
    }

    // Without the flags: no DSN parameters at all.
    let out = send_direct(port, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let m = sim.wait_for_messages(2, Duration::from_secs(5));
    assert_eq!(m[1].mail_param("RET"), None);
    assert_eq!(m[1].mail_param("ENVID"), None);
    assert_eq!(m[1].rcpt_to[0].param("NOTIFY"), None);
}

#[test]
fn send_direct_with_require_tls_sends_nothing_to_a_server_without_it() {
    // The simulator offers neither STARTTLS here nor REQUIRETLS (RFC 8689): the message
    // must not go out in plaintext. Before, --direct dropped the flag and delivered it.
    let (sim, port) = sim();
    let out = send_direct(port, &["--require-tls"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("REQUIRETLS"),
        "{}",
        text(&out.stderr)
    );
    assert!(sim.messages().is_empty());
    for t in sim.transcripts() {
        let t = format!("{t:?}");
        assert!(!t.contains("MAIL FROM"), "{t}");
    }
}
