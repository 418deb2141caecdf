//! `postel send` end to end against aiosmtpd, a real SMTP server independent of Postfix
//! and of postel-sim (Debian's `python3-aiosmtpd`, run by
//! crates/postel/tests/py/aiosmtpd_server.py, which stores each message's envelope and
//! exact DATA bytes). Without aiosmtpd a test prints a loud SKIP, or panics when CI=true
//! or POSTEL_REQUIRE_SERVERS=1 (scripts/test.sh).

#[path = "../../postel/tests/aiosmtpd_harness/mod.rs"]
mod aiosmtpd_harness;
mod common;

use std::process::{Command, Output};

use aiosmtpd_harness::Aiosmtpd;
use common::{assert_code, run, BIN};

fn start(flags: &[&str]) -> Option<Aiosmtpd> {
    aiosmtpd_harness::start("postel-cli aiosmtpd tests", flags)
}

fn server(s: &Aiosmtpd) -> String {
    format!("127.0.0.1:{}", s.port)
}

fn send(s: &Aiosmtpd, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(["send", "--server", &server(s), "--tls", "none"])
        .args(args);
    run(c, None)
}

#[test]
fn send_raw_files_over_one_connection_arrive_crlf_normalized_and_unstuffed() {
    let Some(s) = start(&[]) else { return };
    let first = s.dir.join("first.eml");
    let second = s.dir.join("second.eml");
    // LF line ends, as files on Unix have them; dotted lines; 8-bit.
    std::fs::write(
        &first,
        "From: a@client.test\nTo: b@example.test\nSubject: raw one\n\n.\n..two\n.x\nGr\u{fc}\u{df}e\n",
    )
    .unwrap();
    std::fs::write(&second, b"Subject: raw two\r\n\r\nsecond\r\n").unwrap();
    let o = send(
        &s,
        &[
            "--from",
            "a@client.test",
            "--to",
            "b@example.test",
            // The bytes as they are: no Date: or Message-ID: added.
            "--no-add-headers",
            "--raw",
            first.to_str().unwrap(),
            "--raw",
            second.to_str().unwrap(),
        ],
    );
    assert_code(&o, 0);
    let m = s.messages();
    assert_eq!(m.len(), 2);
    assert_eq!(
        m[0].data,
        "From: a@client.test\r\nTo: b@example.test\r\nSubject: raw one\r\n\r\n.\r\n..two\r\n.x\r\nGr\u{fc}\u{df}e\r\n"
            .as_bytes()
    );
    assert_eq!(m[1].data, b"Subject: raw two\r\n\r\nsecond\r\n");
    for meta in m.iter().map(|d| &d.meta) {
        assert_eq!(meta["mail_from"], "a@client.test");
        assert_eq!(meta["rcpt_tos"], serde_json::json!(["b@example.test"]));
        assert_eq!(meta["connection"], 1, "both over one connection");
    }
    // 8-bit content is declared (RFC 6152).
    let body = |i: usize| {
        m[i].meta["mail_options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "BODY=8BITMIME")
    };
    assert!(body(0), "{}", m[0].meta);
}

#[test]
fn send_text_composes_a_message_aiosmtpd_accepts() {
    let Some(s) = start(&[]) else { return };
    let o = send(
        &s,
        &[
            "--from",
            "a@client.test",
            "--to",
            "b@example.test",
            "--subject",
            "hello aiosmtpd",
            "--text",
            "line one\n.dotted\n",
        ],
    );
    assert_code(&o, 0);
    let m = s.messages();
    assert_eq!(m.len(), 1);
    let text = String::from_utf8(m[0].data.clone()).unwrap();
    assert!(text.contains("\r\nSubject: hello aiosmtpd\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\nline one\r\n.dotted\r\n"),
        "{text:?}"
    );
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {text:?}"
    );
}

#[test]
fn a_refused_recipient_gives_exit_67_and_the_others_get_the_message() {
    let Some(s) = start(&["--refuse", "nobody@example.test"]) else {
        return;
    };
    let o = send(
        &s,
        &[
            "--from",
            "a@client.test",
            "--to",
            "b@example.test",
            "--to",
            "nobody@example.test",
            "--text",
            "x",
            "--json",
        ],
    );
    assert_code(&o, 67);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let refused = &v["messages"][0]["refused"][0];
    assert_eq!(refused["address"], "nobody@example.test");
    assert_eq!(refused["reply"]["code"], 550);
    let m = s.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].meta["rcpt_tos"], serde_json::json!(["b@example.test"]));
}
