//! The deviations the web bench shows, as the simulator records them: each at the
//! transcript line where it happened, in strict and lenient mode, over raw sockets
//! that misbehave on purpose.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use postel_sim::fault::{Action, Fault, Step};
use postel_sim::{BlockingSimulator, Config, Deviation, Extension};

struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    fn connect(sim: &BlockingSimulator) -> Raw {
        let w = TcpStream::connect(sim.addr()).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        let mut raw = Raw { w, r };
        assert!(raw.reply().starts_with("220 "));
        raw
    }

    /// The next whole reply; its last line.
    fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line).unwrap() == 0 {
                return String::new();
            }
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line.trim_end().to_owned();
            }
        }
    }

    /// Writes `bytes` in one go and reads `n` replies.
    fn send(&mut self, bytes: &[u8], n: usize) -> Vec<String> {
        self.w.write_all(bytes).unwrap();
        (0..n).map(|_| self.reply()).collect()
    }
}

/// `(deviation, the text of the line it is pinned to)` for connection `n`, once closed.
fn notes(sim: &BlockingSimulator, n: u64) -> Vec<(Deviation, String)> {
    let t = sim
        .wait_for_close(n, Duration::from_secs(10))
        .expect("a transcript");
    assert!(t.closed);
    sim.annotations(n)
        .into_iter()
        .map(|a| (a.deviation, t.lines[a.line].text.clone()))
        .collect()
}

fn has(notes: &[(Deviation, String)], d: Deviation, line: &str) -> bool {
    notes.iter().any(|(k, l)| *k == d && l == line)
}

#[test]
fn pipelining_without_the_extension_is_refused_when_strict_and_noted_when_lenient() {
    for lenient in [false, true] {
        let mut b = Config::builder().without(Extension::Pipelining);
        if lenient {
            b = b.lenient();
        }
        let sim = BlockingSimulator::start(b.build()).unwrap();
        let mut c = Raw::connect(&sim);
        assert!(c.send(b"EHLO a.test\r\n", 1)[0].starts_with("250 "));
        let replies = c.send(
            b"MAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\n",
            if lenient { 2 } else { 1 },
        );
        if lenient {
            assert_eq!(replies, ["250 2.1.0 Ok", "250 2.1.5 Ok"]);
            c.send(b"QUIT\r\n", 1);
        } else {
            assert_eq!(replies, ["554 5.5.0 Error: SMTP protocol synchronization"]);
        }
        let n = notes(&sim, 1);
        assert!(
            has(&n, Deviation::Pipelining, "MAIL FROM:<a@a.test>"),
            "lenient={lenient}: {n:?}"
        );
        assert_eq!(n.len(), 1, "{n:?}");
    }
}

#[test]
fn a_client_that_sends_before_the_greeting_is_noted_at_its_first_line() {
    // A slow greeting, so the client's bytes are surely there when it is due.
    let slow = Fault::new(Step::Greeting, Action::Delay(Duration::from_millis(300)));
    let sim = BlockingSimulator::start(Config::builder().lenient().fault(slow).build()).unwrap();
    let mut w = TcpStream::connect(sim.addr()).unwrap();
    w.write_all(b"EHLO early.test\r\n").unwrap();
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(w.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    // Lenient: greeted anyway, and the EHLO is answered.
    assert!(line.starts_with("220 "), "{line}");
    w.write_all(b"QUIT\r\n").unwrap();
    let _ = std::io::Read::read_to_end(&mut r, &mut Vec::new());
    let n = notes(&sim, 1);
    assert!(has(&n, Deviation::Pipelining, "EHLO early.test"), "{n:?}");
}

#[test]
fn long_lines_are_noted_against_the_rfc_limits_whatever_the_configured_ones() {
    let sim = BlockingSimulator::start(Config::builder().lenient().build()).unwrap();
    let mut c = Raw::connect(&sim);
    let noop = format!("NOOP {}\r\n", "x".repeat(600));
    assert_eq!(c.send(noop.as_bytes(), 1), ["250 2.0.0 Ok"]);
    c.send(
        b"EHLO a.test\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n",
        4,
    );
    let long = "y".repeat(1500);
    let body = format!("From: a@a.test\r\n\r\n{long}\r\nshort\r\n.\r\n");
    assert!(c.send(body.as_bytes(), 1)[0].starts_with("250 2.0.0 Ok: queued"));
    c.send(b"QUIT\r\n", 1);
    let n = notes(&sim, 1);
    assert!(
        has(&n, Deviation::CommandLineTooLong, &noop[..noop.len() - 2]),
        "{n:?}"
    );
    assert!(has(&n, Deviation::TextLineTooLong, &long), "{n:?}");
    assert!(!has(&n, Deviation::TextLineTooLong, "short"), "{n:?}");
}

#[test]
fn eight_bit_data_is_noted_only_without_body_8bitmime() {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    for mail in [
        "MAIL FROM:<a@a.test>\r\n",
        "MAIL FROM:<a@a.test> BODY=8BITMIME\r\n",
    ] {
        let mut c = Raw::connect(&sim);
        c.send(b"EHLO a.test\r\n", 1);
        c.send(mail.as_bytes(), 1);
        c.send(b"RCPT TO:<b@b.test>\r\n", 1);
        c.send(b"DATA\r\n", 1);
        let body = "From: a@a.test\r\nDate: x\r\nMessage-ID: <1@a>\r\n\r\nCaf\u{e9}\r\n.\r\n";
        assert!(c.send(body.as_bytes(), 1)[0].starts_with("250 "));
        c.send(b"QUIT\r\n", 1);
    }
    let first = notes(&sim, 1);
    assert_eq!(
        first,
        vec![(Deviation::EightBitWithout8BitMime, ".".to_owned())]
    );
    assert_eq!(notes(&sim, 2), vec![]);
}

#[test]
fn a_utf8_sender_without_smtputf8_is_refused_and_noted() {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let mut c = Raw::connect(&sim);
    c.send(b"EHLO a.test\r\n", 1);
    let r = c.send("MAIL FROM:<j\u{f6}rg@a.test>\r\n".as_bytes(), 1);
    assert!(r[0].starts_with("553 5.6.7"), "{r:?}");
    c.send(b"QUIT\r\n", 1);
    let n = notes(&sim, 1);
    assert!(
        has(&n, Deviation::SmtpUtf8, "MAIL FROM:<j\u{f6}rg@a.test>"),
        "{n:?}"
    );
}

#[test]
fn an_unterminated_last_line_and_bdat_data_without_crlf_are_noted() {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let mut c = Raw::connect(&sim);
    c.send(b"EHLO a.test\r\n", 1);
    c.w.write_all(b"QUI").unwrap();
    c.w.shutdown(Shutdown::Write).unwrap();
    let n = notes(&sim, 1);
    assert_eq!(n, vec![(Deviation::MissingCrlf, "QUI".to_owned())]);

    let mut c = Raw::connect(&sim);
    c.send(b"EHLO a.test\r\n", 1);
    c.send(b"MAIL FROM:<a@a.test>\r\n", 1);
    c.send(b"RCPT TO:<b@b.test>\r\n", 1);
    let r = c.send(b"BDAT 5 LAST\r\nhello", 1);
    assert!(r[0].starts_with("250 2.0.0 Ok: queued"), "{r:?}");
    c.send(b"QUIT\r\n", 1);
    let n = notes(&sim, 2);
    for d in [
        Deviation::MissingCrlf,
        Deviation::NoFrom,
        Deviation::NoDate,
        Deviation::NoMessageId,
    ] {
        assert!(has(&n, d, "<5 octets>"), "{d:?} in {n:?}");
    }
}

#[test]
fn auth_secrets_never_reach_the_transcript_or_the_annotations() {
    let sim = BlockingSimulator::start(Config::builder().user("alice", "pw").build()).unwrap();
    let mut c = Raw::connect(&sim);
    c.send(b"EHLO a.test\r\n", 1);
    // base64("\0alice\0pw"), sent with a bare LF after it (lenient about nothing).
    let r = c.send(b"AUTH PLAIN AGFsaWNlAHB3\r\n", 1);
    assert!(r[0].starts_with("235 "), "{r:?}");
    let r = c.send(b"AUTH LOGIN\r\n", 1);
    assert!(r[0].starts_with("503 "), "already authenticated: {r:?}");
    c.send(b"QUIT\r\n", 1);
    let t = sim.wait_for_close(1, Duration::from_secs(10)).unwrap();
    let all = t.to_string();
    assert!(all.contains("C: AUTH PLAIN <redacted>"), "{all}");
    assert!(!all.contains("AGFsaWNlAHB3"), "{all}");
    assert!(sim.annotations(1).is_empty());
}

#[test]
fn smtputf8_asked_for_when_it_was_not_offered_is_noted() {
    let sim =
        BlockingSimulator::start(Config::builder().without(Extension::SmtpUtf8).build()).unwrap();
    let mut c = Raw::connect(&sim);
    c.send(b"EHLO a.test\r\n", 1);
    let r = c.send(b"MAIL FROM:<a@a.test> SMTPUTF8\r\n", 1);
    assert!(r[0].starts_with("555 "), "{r:?}");
    c.send(b"QUIT\r\n", 1);
    let n = notes(&sim, 1);
    assert_eq!(
        n,
        vec![(
            Deviation::SmtpUtf8,
            "MAIL FROM:<a@a.test> SMTPUTF8".to_owned()
        )]
    );
}
