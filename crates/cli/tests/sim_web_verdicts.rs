//! The annotations' verdicts checked against real servers: each deviation is sent to
//! the loopback Exim 4.96 and Postfix (scripts/exim-up.sh, scripts/postfix-up.sh) over
//! a raw socket, and what the server did must be what `Deviation::verdicts()` says for
//! "Exim 4.96 (defaults)" and "Postfix 3.9 (defaults)". Debian 12's Postfix is 3.7.11
//! with the backported `smtpd_forbid_bare_newline = no` and `smtpd_forbid_unauth_pipelining
//! = no`; its defaults match 3.9's for every row checked here except pipelining (3.9
//! refuses), which is checked against Exim only.
//!
//! Without the servers' environment (target/*/env) the test is skipped, unless
//! POSTEL_REQUIRE_SERVERS=1: then it fails.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use postel_sim::annotate::{Deviation, Outcome};

struct Server {
    name: &'static str,
    /// The verdicts' server name it is checked against.
    verdict: &'static str,
    addr: String,
    domain: String,
}

fn server(prefix: &str, name: &'static str, verdict: &'static str) -> Option<Server> {
    match std::env::var(format!("POSTEL_{prefix}_PLAIN")) {
        Ok(addr) => Some(Server {
            name,
            verdict,
            addr,
            domain: std::env::var(format!("POSTEL_{prefix}_DOMAIN"))
                .unwrap_or_else(|_| "example.test".to_owned()),
        }),
        Err(_) => {
            assert!(
                std::env::var("POSTEL_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "POSTEL_REQUIRE_SERVERS=1 but POSTEL_{prefix}_PLAIN is not set: start it \
                 (scripts/{}-up.sh) and source target/{}/env",
                name.to_lowercase(),
                name.to_lowercase()
            );
            eprintln!("skipped: POSTEL_{prefix}_PLAIN is not set");
            None
        }
    }
}

struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    fn connect(addr: &str) -> Raw {
        let w = TcpStream::connect(addr).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        Raw { w, r }
    }

    /// The next reply's code, or 0 when the server closed.
    fn code(&mut self) -> u16 {
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) | Err(_) => return 0,
                Ok(_) => {}
            }
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            }
        }
    }

    /// Writes `bytes` at once and returns the codes of `n` replies.
    fn send(&mut self, bytes: &[u8], n: usize) -> Vec<u16> {
        if self.w.write_all(bytes).is_err() {
            return vec![0; n];
        }
        (0..n).map(|_| self.code()).collect()
    }
}

fn outcome(codes: &[u16]) -> Outcome {
    if codes.iter().all(|c| (200..400).contains(c)) {
        Outcome::Accepts
    } else {
        Outcome::Refuses
    }
}

fn verdict(d: Deviation, server: &str) -> Outcome {
    d.verdicts()
        .iter()
        .find(|v| v.server == server)
        .unwrap_or_else(|| panic!("no verdict for {server}"))
        .outcome
}

/// Greeting, EHLO, MAIL, RCPT, DATA; then `body` (ending with the final dot) and its reply.
fn send_message(s: &Server, mail: &[u8], body: &[u8]) -> Vec<u16> {
    let mut c = Raw::connect(&s.addr);
    assert_eq!(c.code(), 220);
    let d = &s.domain;
    assert_eq!(c.send(b"EHLO probe.test\r\n", 1), [250]);
    let mut codes = c.send(mail, 1);
    codes.extend(c.send(format!("RCPT TO:<probe@{d}>\r\n").as_bytes(), 1));
    codes.extend(c.send(b"DATA\r\n", 1));
    codes.extend(c.send(body, 1));
    c.send(b"QUIT\r\n", 1);
    codes
}

#[test]
fn exim_and_postfix_do_what_the_annotations_say() {
    let servers: Vec<Server> = [
        server("EXIM", "Exim", "Exim 4.96 (defaults)"),
        server("POSTFIX", "Postfix", "Postfix 3.9 (defaults)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    for s in &servers {
        let d = s.domain.clone();
        let mail = format!("MAIL FROM:<probe@{d}>\r\n");
        let headers = format!(
            "From: probe@{d}\r\nTo: probe@{d}\r\nDate: Fri, 04 Dec 2026 21:00:00 +0000\r\nMessage-ID: <v@{d}>\r\nSubject: verdicts\r\n\r\n"
        );
        let mut checks: Vec<(Deviation, &str, Vec<u16>)> = Vec::new();

        // A bare LF in a command.
        let mut c = Raw::connect(&s.addr);
        c.code();
        checks.push((
            Deviation::BareLf,
            "EHLO with LF",
            c.send(b"EHLO probe.test\n", 1),
        ));
        // ... and in the message.
        let body = format!("{headers}line one\nline two\r\n.\r\n");
        checks.push((
            Deviation::BareLf,
            "LF in DATA",
            send_message(s, mail.as_bytes(), body.as_bytes()),
        ));
        // A 700-octet command line.
        let mut c = Raw::connect(&s.addr);
        c.code();
        c.send(b"EHLO probe.test\r\n", 1);
        let noop = format!("NOOP {}\r\n", "x".repeat(700));
        checks.push((
            Deviation::CommandLineTooLong,
            "NOOP 700",
            c.send(noop.as_bytes(), 1),
        ));
        // A 1500-octet text line.
        let body = format!("{headers}{}\r\n.\r\n", "y".repeat(1500));
        checks.push((
            Deviation::TextLineTooLong,
            "1500-octet line",
            send_message(s, mail.as_bytes(), body.as_bytes()),
        ));
        // 8-bit without BODY=8BITMIME.
        let body = format!("{headers}Caf\u{e9}\r\n.\r\n");
        checks.push((
            Deviation::EightBitWithout8BitMime,
            "8-bit body",
            send_message(s, mail.as_bytes(), body.as_bytes()),
        ));
        // A UTF-8 sender without SMTPUTF8.
        let utf8_mail = format!("MAIL FROM:<j\u{f6}rg@{d}>\r\n");
        checks.push((
            Deviation::SmtpUtf8,
            "UTF-8 sender",
            send_message(
                s,
                utf8_mail.as_bytes(),
                format!("{headers}x\r\n.\r\n").as_bytes(),
            ),
        ));
        // No From, Date or Message-ID.
        for (dev, what) in [
            (Deviation::NoFrom, "no From"),
            (Deviation::NoDate, "no Date"),
            (Deviation::NoMessageId, "no Message-ID"),
        ] {
            checks.push((
                dev,
                what,
                send_message(s, mail.as_bytes(), b"Subject: bare\r\n\r\nx\r\n.\r\n"),
            ));
        }
        // A line with an unstuffed leading dot: taken (the dot is lost).
        let body = format!("{headers}.lost dot\r\n.\r\n");
        checks.push((
            Deviation::DotStuffing,
            "unstuffed dot",
            send_message(s, mail.as_bytes(), body.as_bytes()),
        ));
        // A control that must come out "refuses": a last line without CRLF, then EOF, is
        // never answered.
        let mut c = Raw::connect(&s.addr);
        c.code();
        c.send(b"EHLO probe.test\r\n", 1);
        c.w.write_all(b"NOOP").unwrap();
        c.w.shutdown(std::net::Shutdown::Write).unwrap();
        checks.push((Deviation::MissingCrlf, "unterminated NOOP", vec![c.code()]));
        if s.name == "Exim" {
            // Pipelining where RFC 2920 forbids it: after EHLO, after HELO, after DATA.
            let mut c = Raw::connect(&s.addr);
            c.code();
            let codes = c.send(format!("EHLO probe.test\r\n{mail}").as_bytes(), 2);
            checks.push((Deviation::Pipelining, "EHLO+MAIL", codes));
            let mut c = Raw::connect(&s.addr);
            c.code();
            c.send(b"HELO probe.test\r\n", 1);
            let codes = c.send(format!("{mail}RCPT TO:<probe@{d}>\r\n").as_bytes(), 2);
            checks.push((Deviation::Pipelining, "HELO then MAIL+RCPT", codes));
            let mut c = Raw::connect(&s.addr);
            c.code();
            c.send(b"EHLO probe.test\r\n", 1);
            c.send(mail.as_bytes(), 1);
            c.send(format!("RCPT TO:<probe@{d}>\r\n").as_bytes(), 1);
            let codes = c.send(format!("DATA\r\n{headers}x\r\n.\r\n").as_bytes(), 2);
            checks.push((Deviation::Pipelining, "DATA+message", codes));
        }
        for (dev, what, codes) in checks {
            assert_eq!(
                outcome(&codes),
                verdict(dev, s.verdict),
                "{}: {what} ({}) got {codes:?}",
                s.name,
                dev.code()
            );
        }
    }
}
