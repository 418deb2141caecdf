//! The strict and lenient rules, seen from a raw TCP client, byte for byte.

mod common;

use std::time::Duration;

use common::Raw;
use postel_sim::{BlockingSimulator, Config, Extension, Transfer};

const EHLO: &str = "250-mx.sim.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-STARTTLS\r\n\
250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 SCRAM-SHA-256\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n\
250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";

fn strict() -> BlockingSimulator {
    BlockingSimulator::start(Config::builder().build()).expect("start")
}

fn lenient() -> BlockingSimulator {
    BlockingSimulator::start(Config::builder().lenient().build()).expect("start")
}

#[test]
fn greeting_and_ehlo_list_every_extension() {
    let sim = strict();
    let mut c = Raw::connect(sim.addr());
    assert_eq!(c.reply(), "220 mx.sim.test ESMTP postel-sim\r\n");
    assert_eq!(c.cmd("EHLO client.test"), EHLO);
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    c.expect_closed();
}

#[test]
fn each_extension_can_be_switched_off() {
    let sim = BlockingSimulator::start(
        Config::builder()
            .only_extensions(&[Extension::Size])
            .size_limit(1000)
            .build(),
    )
    .unwrap();
    let mut c = Raw::greeted(sim.addr());
    assert_eq!(c.cmd("EHLO c.test"), "250-mx.sim.test\r\n250 SIZE 1000\r\n");
    // Without ENHANCEDSTATUSCODES the x.y.z codes are gone from the text.
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test> BODY=8BITMIME"),
        "501 Bad BODY keyword syntax\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test> RET=FULL"),
        "555 Unsupported option: RET=FULL\r\n"
    );
    assert_eq!(c.cmd("STARTTLS"), "502 Error: command not implemented\r\n");
    assert_eq!(
        c.cmd("AUTH PLAIN AGEAYg=="),
        "503 Error: authentication not enabled\r\n"
    );
    assert_eq!(
        c.cmd("BDAT 0 LAST"),
        "502 Error: command not implemented\r\n"
    );
}

#[test]
fn a_whole_message_is_stored_with_envelope_and_exact_bytes() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@client.test", &["b@mx.test", "c@mx.test"]);
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    c.send(b"Subject: hi\r\n\r\n..leading dot\r\nlast\r\n.\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok: queued as 000001\r\n");
    let m = &sim.messages()[0];
    assert_eq!(m.mail_from, "a@client.test");
    assert_eq!(m.recipients(), vec!["b@mx.test", "c@mx.test"]);
    assert_eq!(m.data, b"Subject: hi\r\n\r\n.leading dot\r\nlast\r\n");
    assert_eq!(m.transfer, Transfer::Data);
    assert_eq!(m.helo, "client.test");
    assert!(!m.tls);
    // The session stays usable for a second transaction.
    assert_eq!(c.cmd("MAIL FROM:<>"), "250 2.1.0 Ok\r\n");
    assert_eq!(c.cmd("RSET"), "250 2.0.0 Ok\r\n");
}

#[test]
fn bare_lf_in_data_is_refused_in_strict_mode_and_the_connection_closed() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@client.test", &["b@mx.test"]);
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n");
    assert_eq!(
        c.reply(),
        "550 5.5.2 mx.sim.test Error: bare <LF> received\r\n"
    );
    c.expect_closed();
    assert_eq!(sim.messages(), vec![]);
}

#[test]
fn bare_lf_in_data_is_accepted_in_lenient_mode_and_stored_as_sent() {
    let sim = lenient();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@client.test", &["b@mx.test"]);
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: x\n\nbare\nlf\n.\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok: queued as 000001\r\n");
    assert_eq!(sim.messages()[0].data, b"Subject: x\n\nbare\nlf\n");
}

#[test]
fn bare_lf_and_bare_cr_in_commands_are_refused_in_strict_mode() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    c.send(b"EHLO client.test\n");
    assert_eq!(
        c.reply(),
        "550 5.5.2 mx.sim.test Error: bare <LF> received\r\n"
    );
    c.expect_closed();
    let mut c = Raw::greeted(sim.addr());
    c.send(b"EHLO client\r.test\r\n");
    assert_eq!(
        c.reply(),
        "550 5.5.2 mx.sim.test Error: bare <CR> received\r\n"
    );
    c.expect_closed();
    // The hobbyist's bug from seed 000: "\r\n" after a module that wanted "\r" alone
    // leaves an LF in front of the next command.
    let sim = lenient();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    c.send(b"\nNOOP\r\n");
    assert_eq!(c.reply(), "500 5.5.2 Error: bad syntax\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok\r\n");
}

#[test]
fn bare_cr_in_data_is_refused_in_strict_mode() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@client.test", &["b@mx.test"]);
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"a\rb\r\n.\r\n");
    assert_eq!(
        c.reply(),
        "550 5.5.2 mx.sim.test Error: bare <CR> received\r\n"
    );
    c.expect_closed();
}

#[test]
fn over_long_lines_are_refused() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    // 512 octets with CRLF is the limit for NOOP (RFC 5321 §4.5.3.1.4).
    let ok = format!("NOOP {}", "x".repeat(512 - 2 - 5));
    assert_eq!(c.cmd(&ok), "250 2.0.0 Ok\r\n");
    let long = format!("NOOP {}", "x".repeat(512 - 2 - 4));
    assert_eq!(c.cmd(&long), "500 5.5.0 Error: line too long\r\n");
    let huge = format!("NOOP {}", "x".repeat(20_000));
    assert_eq!(c.cmd(&huge), "500 5.5.0 Error: line too long\r\n");
    // A text line of 1001 octets with CRLF fails the message at the dot.
    assert_eq!(c.cmd("MAIL FROM:<a@c.test>"), "250 2.1.0 Ok\r\n");
    assert_eq!(c.cmd("RCPT TO:<b@c.test>"), "250 2.1.5 Ok\r\n");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(format!("{}\r\n.\r\n", "y".repeat(999)).as_bytes());
    assert_eq!(
        c.reply(),
        "554 5.6.0 Error: text line longer than 1000 octets\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n");
    assert!(sim.messages().is_empty());
}

#[test]
fn commands_out_of_order_get_503() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test>"),
        "503 5.5.1 Error: send HELO/EHLO first\r\n"
    );
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(
        c.cmd("RCPT TO:<b@c.test>"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    assert_eq!(c.cmd("DATA"), "503 5.5.1 Error: need MAIL command\r\n");
    assert_eq!(c.cmd("MAIL FROM:<a@c.test>"), "250 2.1.0 Ok\r\n");
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test>"),
        "503 5.5.1 Error: nested MAIL command\r\n"
    );
    assert_eq!(c.cmd("DATA"), "554 5.5.1 Error: no valid recipients\r\n");
    assert_eq!(c.cmd("FROB"), "502 5.5.2 Error: command not recognized\r\n");
    assert_eq!(
        c.cmd("MAIL FROM: <a@c.test>"),
        "503 5.5.1 Error: nested MAIL command\r\n"
    );
    assert_eq!(c.cmd("RSET"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        c.cmd("MAIL FROM: <a@c.test>"),
        "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
    );
}

#[test]
fn pipelining_when_not_offered_is_a_synchronization_error() {
    let sim =
        BlockingSimulator::start(Config::builder().without(Extension::Pipelining).build()).unwrap();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    c.send(b"MAIL FROM:<a@c.test>\r\nRCPT TO:<b@c.test>\r\n");
    assert_eq!(
        c.reply(),
        "554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    c.expect_closed();
}

#[test]
fn pipelining_when_offered_groups_mail_rcpt_data() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    c.send(b"MAIL FROM:<a@c.test>\r\nRCPT TO:<b@c.test>\r\nRCPT TO:<c@c.test>\r\nDATA\r\n");
    assert_eq!(c.reply(), "250 2.1.0 Ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Ok\r\n");
    assert_eq!(c.reply(), "354 End data with <CR><LF>.<CR><LF>\r\n");
    // After the final dot, the next transaction may follow in the same group.
    c.send(b"one\r\n.\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<d@c.test>\r\nDATA\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok: queued as 000001\r\n");
    assert_eq!(c.reply(), "250 2.1.0 Ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Ok\r\n");
    assert!(c.reply().starts_with("354"));
    c.send(b"two\r\n.\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok"));
    assert_eq!(sim.messages().len(), 2);
}

#[test]
fn body_sent_before_354_is_a_synchronization_error() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    c.send(b"MAIL FROM:<a@c.test>\r\nRCPT TO:<b@c.test>\r\nDATA\r\nSubject: early\r\n\r\n.\r\n");
    assert_eq!(c.reply(), "250 2.1.0 Ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Ok\r\n");
    assert_eq!(
        c.reply(),
        "554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    c.expect_closed();
}

#[test]
fn bdat_chunks_are_counted_exactly_and_concatenated() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    // Pipelined: two chunks, the dot-looking line is not unstuffed in BDAT.
    c.send(b"BDAT 10\r\nSubject: x\nBDAT 11 LAST\r\n\r\n.\r\nbody\r\n");
    // "Subject: x\n" + "\r\n.\r\nbody\r\n" would hold a bare LF: strict refuses it at LAST.
    assert_eq!(c.reply(), "250 2.0.0 Ok: 10 octets received\r\n");
    assert_eq!(
        c.reply(),
        "550 5.5.2 mx.sim.test Error: bare <LF> received\r\n"
    );
    c.expect_closed();

    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    c.send(b"BDAT 12\r\nSubject: x\r\nBDAT 11 LAST\r\n\r\n.\r\nbody\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok: 12 octets received\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok: queued as 000001\r\n");
    let m = &sim.messages()[0];
    assert_eq!(m.data, b"Subject: x\r\n\r\n.\r\nbody\r\n");
    assert_eq!(m.transfer, Transfer::Bdat);
    // DATA may not follow BDAT in one transaction; BDAT without MAIL reads its chunk.
    assert_eq!(c.cmd("MAIL FROM:<a@c.test>"), "250 2.1.0 Ok\r\n");
    assert_eq!(c.cmd("RCPT TO:<b@c.test>"), "250 2.1.5 Ok\r\n");
    c.send(b"BDAT 3\r\nabc");
    assert_eq!(c.reply(), "250 2.0.0 Ok: 3 octets received\r\n");
    assert_eq!(
        c.cmd("DATA"),
        "503 5.5.1 Error: DATA is not allowed after BDAT\r\n"
    );
    assert_eq!(c.cmd("RSET"), "250 2.0.0 Ok\r\n");
    c.send(b"BDAT 4 LAST\r\nQUIT");
    assert_eq!(c.reply(), "503 5.5.1 Error: need MAIL command\r\n");
    assert_eq!(
        c.cmd("BDAT 4 FIRST"),
        "501 5.5.4 Syntax: BDAT count [LAST]\r\n"
    );
    c.expect_closed();
}

#[test]
fn size_is_checked_on_mail_and_on_the_data() {
    let sim = BlockingSimulator::start(Config::builder().size_limit(100).build()).unwrap();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").contains("250-SIZE 100\r\n"));
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test> SIZE=101"),
        "552 5.3.4 Message size exceeds fixed limit\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test> SIZE=1x"),
        "501 5.5.4 Bad message size syntax\r\n"
    );
    assert_eq!(c.cmd("MAIL FROM:<a@c.test> SIZE=100"), "250 2.1.0 Ok\r\n");
    assert_eq!(c.cmd("RCPT TO:<b@c.test>"), "250 2.1.5 Ok\r\n");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(format!("{}\r\n.\r\n", "z".repeat(150)).as_bytes());
    assert_eq!(c.reply(), "552 5.3.4 Error: message file too big\r\n");
    assert!(sim.messages().is_empty());
}

#[test]
fn dsn_parameters_are_validated_and_stored() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test> RET=SOME"),
        "501 5.5.4 Bad RET parameter syntax\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test> ENVID=a=b"),
        "501 5.5.4 Bad ENVID parameter syntax\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test> RET=HDRS ENVID=QQ+2B1"),
        "250 2.1.0 Ok\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<b@c.test> NOTIFY=NEVER,SUCCESS"),
        "501 5.5.4 Bad NOTIFY parameter syntax\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<b@c.test> ORCPT=b@c.test"),
        "501 5.5.4 Bad ORCPT parameter syntax\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<b@c.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+40c.test"),
        "250 2.1.5 Ok\r\n"
    );
    assert_eq!(c.cmd("RCPT TO:<c@c.test> NOTIFY=NEVER"), "250 2.1.5 Ok\r\n");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"x\r\n.\r\n");
    assert!(c.reply().starts_with("250 "));
    let m = &sim.messages()[0];
    assert_eq!(m.mail_param("RET"), Some("HDRS"));
    assert_eq!(m.mail_param("ENVID"), Some("QQ+2B1"));
    assert_eq!(m.rcpt_to[0].param("NOTIFY"), Some("SUCCESS,FAILURE"));
    assert_eq!(m.rcpt_to[0].param("ORCPT"), Some("rfc822;b+40c.test"));
    assert_eq!(m.rcpt_to[1].param("NOTIFY"), Some("NEVER"));
}

#[test]
fn utf8_addresses_need_the_smtputf8_parameter() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(
        c.cmd("MAIL FROM:<jöran@c.test>"),
        "553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n"
    );
    assert_eq!(c.cmd("MAIL FROM:<a@c.test>"), "250 2.1.0 Ok\r\n");
    assert_eq!(
        c.cmd("RCPT TO:<用户@例子.test>"),
        "553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n"
    );
    assert_eq!(c.cmd("RSET"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        c.cmd("MAIL FROM:<jöran@c.test> SMTPUTF8 BODY=8BITMIME"),
        "250 2.1.0 Ok\r\n"
    );
    assert_eq!(c.cmd("RCPT TO:<用户@例子.test>"), "250 2.1.5 Ok\r\n");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send("Subject: héllo\r\n\r\nß\r\n.\r\n".as_bytes());
    assert!(c.reply().starts_with("250 "));
    assert_eq!(sim.messages()[0].recipients(), vec!["用户@例子.test"]);
}

#[test]
fn eight_bit_without_8bitmime_is_refused_only_when_configured() {
    let sim =
        BlockingSimulator::start(Config::builder().reject_8bit_without_8bitmime(true).build())
            .unwrap();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    assert!(c.cmd("DATA").starts_with("354"));
    c.send("ß\r\n.\r\n".as_bytes());
    assert_eq!(
        c.reply(),
        "554 5.6.1 Error: 8-bit data without BODY=8BITMIME\r\n"
    );
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    assert!(c.cmd("DATA").starts_with("354"));
    c.send("ß\r\n.\r\n".as_bytes());
    assert!(c.reply().starts_with("250 "));
}

#[test]
fn auth_before_tls_is_refused_when_tls_is_required_for_it() {
    let sim = BlockingSimulator::start(
        Config::builder()
            .require_tls_for_auth(true)
            .user("alice", "pw")
            .build(),
    )
    .unwrap();
    let mut c = Raw::greeted(sim.addr());
    let ehlo = c.cmd("EHLO client.test");
    assert!(
        !ehlo.contains("AUTH"),
        "AUTH must not be offered before TLS: {ehlo}"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN AGFsaWNlAHB3"),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
}

#[test]
fn auth_plain_in_a_raw_session_is_redacted_in_the_transcript() {
    let sim = BlockingSimulator::start(Config::builder().user("alice", "pw").build()).unwrap();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    // "\0alice\0wrong", then "\0alice\0pw"
    assert_eq!(
        c.cmd("AUTH PLAIN AGFsaWNlAHdyb25n"),
        "535 5.7.8 Error: authentication failed: authentication failure\r\n"
    );
    assert_eq!(c.cmd("AUTH PLAIN"), "334 \r\n");
    assert_eq!(
        c.cmd("AGFsaWNlAHB3"),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN AGFsaWNlAHB3"),
        "503 5.5.1 Error: already authenticated\r\n"
    );
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    let t = sim.wait_for_close(1, Duration::from_secs(5)).unwrap();
    let text = t.to_string();
    assert!(!text.contains("AGFsaWNlAHB3"), "{text}");
    assert!(text.contains("C: AUTH PLAIN <redacted>"), "{text}");
    assert!(text.contains("C: <redacted>"), "{text}");
}

#[test]
fn mail_requires_tls_and_auth_when_configured() {
    let sim = BlockingSimulator::start(Config::builder().require_tls(true).build()).unwrap();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test>"),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
    let sim = BlockingSimulator::start(Config::builder().require_auth(true).build()).unwrap();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test>"),
        "530 5.7.0 Authentication required\r\n"
    );
}

#[test]
fn too_many_recipients_get_452() {
    let sim = BlockingSimulator::start(Config::builder().max_recipients(2).build()).unwrap();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["1@c.test", "2@c.test"]);
    assert_eq!(
        c.cmd("RCPT TO:<3@c.test>"),
        "452 4.5.3 Error: too many recipients\r\n"
    );
}

#[test]
fn messages_are_delivered_into_a_maildir() {
    let dir = std::env::temp_dir().join(format!("postel-sim-maildir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sim = BlockingSimulator::start(Config::builder().maildir(&dir).build()).unwrap();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: m\r\n\r\nhello\r\n.\r\n");
    assert!(c.reply().starts_with("250 "));
    let files: Vec<_> = std::fs::read_dir(dir.join("new")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let path = files.into_iter().next().unwrap().unwrap().path();
    assert_eq!(std::fs::read(path).unwrap(), b"Subject: m\r\n\r\nhello\r\n");
    assert!(dir.join("tmp").is_dir() && dir.join("cur").is_dir());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn non_loopback_addresses_are_refused() {
    let cfg = Config::builder().bind("0.0.0.0".parse().unwrap()).build();
    let err = BlockingSimulator::start(cfg).err().expect("must refuse");
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[test]
fn lenient_mode_takes_what_lenient_servers_take() {
    let sim = lenient();
    let mut c = Raw::greeted(sim.addr());
    // No HELO, a space after the colon, no brackets, pipelining policing off.
    c.send(b"MAIL FROM: a@c.test\r\nRCPT TO: <b@c.test>\r\nDATA\r\n");
    assert_eq!(c.reply(), "250 2.1.0 Ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Ok\r\n");
    assert!(c.reply().starts_with("354"));
    c.send(format!("{}\r\n.\r\n", "y".repeat(5000)).as_bytes());
    assert!(c.reply().starts_with("250 "));
    assert_eq!(sim.messages()[0].mail_from, "a@c.test");
}

#[test]
fn bdat_without_pipelining_sends_each_chunk_with_its_command() {
    let sim =
        BlockingSimulator::start(Config::builder().without(Extension::Pipelining).build()).unwrap();
    let mut c = Raw::greeted(sim.addr());
    c.envelope("a@c.test", &["b@c.test"]);
    c.send(b"BDAT 5\r\nHello");
    assert_eq!(c.reply(), "250 2.0.0 Ok: 5 octets received\r\n");
    c.send(b"BDAT 2 LAST\r\n\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok: queued as 000001\r\n");
    // Without PIPELINING the next BDAT may not ride along with a chunk.
    assert_eq!(c.cmd("MAIL FROM:<a@c.test>"), "250 2.1.0 Ok\r\n");
    assert_eq!(c.cmd("RCPT TO:<b@c.test>"), "250 2.1.5 Ok\r\n");
    c.send(b"BDAT 1\r\nxBDAT 1 LAST\r\ny");
    assert_eq!(
        c.reply(),
        "554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    c.expect_closed();
    assert_eq!(sim.messages()[0].data, b"Hello\r\n");
}

/// `run` prints where it listens, then each message, then transcripts when asked.
#[test]
fn run_prints_messages_and_transcripts_as_they_arrive() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out = Shared::default();
    let text = |o: &Shared| String::from_utf8_lossy(&o.0.lock().unwrap()).into_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let writer = out.clone();
    let runner = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(postel_sim::run(
            Config::builder().build(),
            postel_sim::RunOptions { transcripts: true },
            writer,
            async {
                let _ = stopped.await;
            },
        ))
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let addr = loop {
        let t = text(&out);
        if let Some(rest) = t.strip_prefix("postel-sim listening on ") {
            if let Some(a) = rest.lines().next() {
                break a.parse().unwrap();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run printed no address: {t:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut c = Raw::greeted(addr);
    c.envelope("a@c.test", &["b@c.test"]);
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: printed\r\n\r\nhello\r\n.\r\n");
    assert!(c.reply().starts_with("250 "));
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    c.expect_closed();
    while !text(&out).contains("# closed") {
        assert!(
            std::time::Instant::now() < deadline,
            "no transcript: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.send(()).unwrap();
    runner.join().unwrap().unwrap();
    let t = text(&out);
    assert!(
        t.contains(
            "=== message 000001 (connection 1, Data)\nMAIL FROM:<a@c.test>\nRCPT TO:<b@c.test>\n\
             --- 27 octets\nSubject: printed\r\n\r\nhello\r\n=== end of message 000001\n"
        ),
        "{t}"
    );
    assert!(
        t.contains("# connection 1\nS: 220 mx.sim.test ESMTP postel-sim\nC: EHLO client.test\n"),
        "{t}"
    );
    assert!(
        t.contains("C: Subject: printed\nC: \nC: hello\nC: .\nS: 250 2.0.0 Ok: queued as 000001\n"),
        "{t}"
    );
}

#[test]
fn after_helo_there_are_no_extensions_and_no_pipelining() {
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    assert_eq!(c.cmd("HELO client.test"), "250 mx.sim.test\r\n");
    assert_eq!(
        c.cmd("MAIL FROM:<a@c.test> SIZE=10"),
        "555 5.5.4 Unsupported option: SIZE=10\r\n"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN AGFsaWNlAHB3"),
        "503 5.5.1 Error: send EHLO first\r\n"
    );
    c.send(b"MAIL FROM:<a@c.test>\r\nRCPT TO:<b@c.test>\r\n");
    assert_eq!(
        c.reply(),
        "554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    c.expect_closed();
}

#[test]
fn starttls_forgets_the_session_and_discards_injected_plaintext() {
    let sim = lenient();
    let ca = sim.ca_pem().unwrap();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").contains("250-STARTTLS\r\n"));
    // CVE-2011-0411 style injection: a command riding along with STARTTLS.
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@c.test>\r\n");
    assert_eq!(c.reply(), "220 2.0.0 Ready to start TLS\r\n");
    c.upgrade(&ca).expect("handshake");
    // The injected MAIL was dropped, and EHLO must be given again.
    assert_eq!(
        c.cmd("RCPT TO:<b@c.test>"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    let ehlo = c.cmd("EHLO client.test");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert_eq!(c.cmd("STARTTLS"), "554 5.5.1 Error: TLS already active\r\n");
    // Strict mode refuses the injection outright.
    let sim = strict();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@c.test>\r\n");
    assert_eq!(
        c.reply(),
        "554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    c.expect_closed();
}

#[test]
fn auth_failures_cancels_and_unknown_mechanisms() {
    let sim = BlockingSimulator::start(
        Config::builder()
            .user("alice", "pw")
            .oauth_token("alice", "good")
            .build(),
    )
    .unwrap();
    let mut c = Raw::greeted(sim.addr());
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(
        c.cmd("AUTH FOO"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN !!!"),
        "501 5.5.2 Cannot decode response\r\n"
    );
    assert_eq!(c.cmd("AUTH PLAIN"), "334 \r\n");
    assert_eq!(c.cmd("*"), "501 5.7.0 Authentication aborted\r\n");
    // XOAUTH2 with a bad token: Google's 334 with a JSON error, an empty line, then 535.
    // base64("user=alice\x01auth=Bearer bad\x01\x01")
    let reply = c.cmd("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBiYWQBAQ==");
    assert_eq!(
        reply,
        "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n"
    );
    assert_eq!(
        c.cmd(""),
        "535 5.7.8 Error: authentication failed: authentication failure\r\n"
    );
    // LOGIN with the user name as initial response ("alice"), then the password ("pw").
    assert_eq!(c.cmd("AUTH LOGIN YWxpY2U="), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(c.cmd("cHc="), "235 2.7.0 Authentication successful\r\n");
    assert_eq!(
        c.cmd("MAIL FROM:<alice@c.test> AUTH=alice@c.test"),
        "250 2.1.0 Ok\r\n"
    );
}

/// Seeded junk (command fragments, CR, LF, dots, NUL, 8-bit, long runs) in both modes:
/// no session panics, and the simulator still serves a clean session afterwards.
#[test]
fn random_input_never_panics_a_session() {
    let pieces: [&[u8]; 16] = [
        b"EHLO x\r\n",
        b"MAIL FROM:<a@b>\r\n",
        b"RCPT TO:<c@d>\r\n",
        b"DATA\r\n",
        b"BDAT 3\r\n",
        b"BDAT 99999999999999999999 LAST\r\n",
        b".\r\n",
        b"\r",
        b"\n",
        b".",
        b"\0",
        b"\xff\xfe",
        b"AUTH PLAIN\r\n",
        b"AUTH SCRAM-SHA-256 biws\r\n",
        b"STARTTLS\r\n",
        b"RSET\r\n",
    ];
    let mut seed: u64 = 0x0005_eed0_f51e;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for sim in [strict(), lenient()] {
        for _ in 0..40 {
            let mut c = Raw::connect(sim.addr());
            let mut junk = Vec::new();
            for _ in 0..(next() % 30) {
                let p = pieces[(next() % pieces.len() as u64) as usize];
                if next() % 8 == 0 {
                    junk.extend_from_slice(&vec![b'x'; (next() % 3000) as usize]);
                }
                junk.extend_from_slice(p);
            }
            let _ = std::io::Write::write_all(&mut c.stream, &junk);
            let _ = c.stream.flush_and_close();
        }
        let mut c = Raw::greeted(sim.addr());
        c.envelope("a@c.test", &["b@c.test"]);
        assert!(c.cmd("DATA").starts_with("354"));
        c.send(b"ok\r\n.\r\n");
        assert!(c.reply().starts_with("250 "));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(sim.session_panics(), 0);
    }
}
