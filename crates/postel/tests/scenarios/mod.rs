//! The scenarios every real server runs: one list, one function each, taking a description
//! of the server ([`Server`]: its addresses through a builder, the recipients it refuses,
//! its credentials, how it frames a transaction, how to read what it delivered). The suites
//! (tests/postfix.rs, exim.rs, aiosmtpd.rs, smtp_server_node.rs) start or find their
//! server, call these, and add what only their server shows; their own tests stay there.
//!
//! | scenario                               | Postfix | Exim | aiosmtpd | smtp-server |
//! |----------------------------------------|---------|------|----------|-------------|
//! | [`refused_recipient`]                  | x       | x    | x        | x           |
//! | [`default_mechanism`]                  | x       | x    | x        | x           |
//! | [`each_mechanism_logs_in`]             | x       | x    | x        | x           |
//! | [`wrong_password`]                     | x       | x    | x        | x           |
//! | [`plaintext_auth_refused`]             | x       | x    | x        | x           |
//! | [`starttls_unavailable`]               | x       |      | x        | x           |
//! | [`bad_certificate`]                    | x       | x    | x        | x           |
//! | [`opportunistic_tls`]                  | x       | x    | x        | x           |
//! | [`many_messages_one_connection`]       | x       | x    | x        | x           |
//! | [`dots_and_bare_line_ends`]            | x       | x    | x        | x           |
//! | [`smtputf8`]                           | x       | x    | x        | x           |
//! | [`temporarily_refused_recipient`]      | x       | x    | x        | x           |
//! | [`over_size_limit`]                    | x       | x    | x        | x           |
//! | [`streamed_over_size_limit`]           | x       | x    | x        | x           |
//! | [`pool_delivers_concurrently`]         | x       | x    | x        | x           |
//! | [`async_client_messages`]              |         | x    | x        |             |
//! | [`async_client_done`]                  |         | x    | x        | x           |
#![allow(dead_code)]

use std::time::Duration;

use postel::proto::AuthFailure;
use postel::{Client, ClientBuilder, Envelope, Error, Mechanism, SendReport, Side, TlsError};
use postel::{TlsMode, Transcript};

use crate::common::{connections, contains, marker, servers_required};

/// How the server lets a transaction go on the wire (what it offers of RFC 2920 and 3030).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No PIPELINING: one command per write, DATA (aiosmtpd).
    LockStep,
    /// PIPELINING without CHUNKING: MAIL, every RCPT and DATA in one write (smtp-server).
    PipelinedData,
    /// PIPELINING and CHUNKING: MAIL, every RCPT and `BDAT n LAST` in one write (Postfix,
    /// Exim), and no `554` synchronization error.
    PipelinedBdat,
}

/// A real server as the scenarios see it.
pub trait Server {
    /// A recipient this server delivers to.
    fn rcpt(&self, local: &str) -> String;
    /// The recipient this server refuses with `550 5.1.1`.
    fn refused(&self) -> String;
    /// The login and password it accepts.
    fn user(&self) -> (String, String);
    /// How its transactions are framed.
    fn framing(&self) -> Framing;
    /// Whether it offers SIZE (RFC 1870), so that MAIL declares the message's size.
    fn offers_size(&self) -> bool {
        true
    }
    /// Checks that the message carrying `marker` arrived for exactly `to`, as `wire` (the
    /// CRLF content the client sent, see [`normalized`]), byte for byte as this server
    /// stores it. Waits for a server that delivers after its reply.
    fn assert_delivered(&self, marker: &str, wire: &[u8], to: &[String]);
    /// Checks that nothing carrying `marker` was stored.
    fn assert_not_delivered(&self, marker: &str);
    /// What the server's reply to an accepted message must say beyond its 250.
    fn assert_accepted(&self, report: &SendReport) {
        let _ = report;
    }
}

// ---------------------------------------------------------------------------------------
// A server found through POSTEL_<NAME>_* variables (Postfix, Exim)

/// What differs between the servers found through `POSTEL_{prefix}_*` variables.
pub struct Kind {
    /// `POSTFIX` or `EXIM`.
    pub prefix: &'static str,
    /// The server's name, for messages.
    pub name: &'static str,
    /// `scripts/{script}-up.sh` starts it and writes `target/{script}/env`.
    pub script: &'static str,
    /// The header lines it puts on top of a delivered file, in order.
    pub prepended: &'static [&'static str],
    /// Whether its Maildir files have LF line ends (Postfix's local(8)) or the CRLF of the
    /// wire (Exim's appendfile).
    pub stores_lf: bool,
    /// What its reply to an accepted message says beyond its 250, if anything is known.
    pub accepted_says: Option<&'static str>,
}

/// Postfix 3.7 as scripts/postfix-up.sh configures it.
pub static POSTFIX: Kind = Kind {
    prefix: "POSTFIX",
    name: "Postfix",
    script: "postfix",
    // docs/testing-postfix.md, "Comparing delivered messages".
    prepended: &[
        "Return-Path: ",
        "X-Original-To: ",
        "Delivered-To: ",
        "Received: ",
    ],
    stores_lf: true,
    accepted_says: None,
};

/// Exim 4.96 as scripts/exim-up.sh configures it. The transport adds no Return-path,
/// Envelope-to or Delivery-date, and Exim adds no Message-ID or Date to a message from a
/// remote host (docs/testing-exim.md): only its Received: is prepended.
pub static EXIM: Kind = Kind {
    prefix: "EXIM",
    name: "Exim",
    script: "exim",
    prepended: &["Received: from "],
    stores_lf: false,
    // Exim answers BDAT LAST with "250- N byte chunk, total N" and "250 OK id=...".
    accepted_says: Some("OK id="),
};

/// A server started outside the tests (scripts/postfix-up.sh, scripts/exim-up.sh),
/// described by `POSTEL_{prefix}_*` variables, delivering into one Maildir
/// (`POSTEL_{prefix}_MAILDIR`).
pub struct EnvServer {
    /// Which one.
    pub kind: &'static Kind,
}

impl EnvServer {
    /// The server, or `None` after a loud SKIP; a panic when real servers are required.
    pub fn find(kind: &'static Kind, test: &str) -> Option<Self> {
        let (prefix, name, script) = (kind.prefix, kind.name, kind.script);
        match std::env::var(format!("POSTEL_{prefix}_PLAIN")) {
            Ok(_) => Some(EnvServer { kind }),
            Err(_) if servers_required() => panic!(
                "CI=true (or POSTEL_REQUIRE_SERVERS=1) but POSTEL_{prefix}_PLAIN is not set: \
                 {name} did not start (scripts/{script}-up.sh)"
            ),
            Err(_) => {
                eprintln!(
                    "\n*** SKIP {test}: no {name} (run scripts/{script}-up.sh and source \
                     target/{script}/env) ***\n"
                );
                None
            }
        }
    }

    /// The Maildir's `new/`.
    pub fn maildir(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(self.var("MAILDIR")).join("new")
    }

    /// The delivered files holding `marker`, as the server wrote them.
    pub fn files_with(&self, marker: &str) -> Vec<Vec<u8>> {
        maildir_files_with(&self.maildir(), marker)
    }

    /// A delivered file without the headers the server prepends.
    pub fn strip(&self, file: &[u8]) -> Vec<u8> {
        strip_prepended(file, self.kind.prepended)
    }

    /// Waits until `n` delivered files hold `marker` (the server delivers after its reply,
    /// in another process), checks that no more do, and returns them without the headers
    /// the server prepends.
    pub fn delivered_n(&self, marker: &str, n: usize) -> Vec<Vec<u8>> {
        let files = wait_for_files(&self.maildir(), marker, n, &self.var("LOG"));
        assert_eq!(files.len(), n, "more than {n} files hold {marker}");
        files.iter().map(|f| self.strip(f)).collect()
    }

    /// The one delivered file holding `marker`, without the headers the server prepends.
    pub fn delivered(&self, marker: &str) -> Vec<u8> {
        self.delivered_n(marker, 1).remove(0)
    }

    /// The first delivered file found holding `marker` (there may be more: one per
    /// recipient), without the headers the server prepends.
    pub fn first_delivered(&self, marker: &str) -> Vec<u8> {
        let files = wait_for_files(&self.maildir(), marker, 1, &self.var("LOG"));
        self.strip(&files[0])
    }

    /// `POSTEL_{prefix}_{name}`, which must be set.
    pub fn var(&self, name: &str) -> String {
        let key = format!("POSTEL_{}_{name}", self.kind.prefix);
        std::env::var(&key).unwrap_or_else(|_| panic!("{key} is not set"))
    }

    /// A builder for the listener `listener` (`PLAIN`, `IMPLICIT`...), trusting the test
    /// root.
    pub fn client(&self, listener: &str, mode: TlsMode) -> ClientBuilder {
        let hostport = self.var(listener);
        let (host, port) = hostport.rsplit_once(':').expect("host:port");
        Client::builder(host)
            .port(port.parse().expect("a port"))
            .tls(mode)
            .ca_file(self.var("CA"))
            .tls_name(self.var("TLS_NAME"))
            .ehlo_name("client.postel.test")
            .timeouts(postel::Timeouts {
                greeting: Duration::from_secs(20),
                ..postel::Timeouts::RFC5321
            })
            .transcript(true)
    }

    /// The login and password.
    pub fn login(&self) -> (String, String) {
        (self.var("USER"), self.var("PASSWORD"))
    }

    /// `local` at the server's domain.
    pub fn at_domain(&self, local: &str) -> String {
        format!("{local}@{}", self.var("DOMAIN"))
    }
}

impl Server for EnvServer {
    fn rcpt(&self, local: &str) -> String {
        self.at_domain(local)
    }
    fn refused(&self) -> String {
        self.var("REFUSED")
    }
    fn user(&self) -> (String, String) {
        self.login()
    }
    fn framing(&self) -> Framing {
        Framing::PipelinedBdat
    }
    /// One file per recipient, each `wire` (with LF line ends where the server stores
    /// them so) after the headers the server prepends.
    fn assert_delivered(&self, marker: &str, wire: &[u8], to: &[String]) {
        let want = if self.kind.stores_lf {
            lf(wire)
        } else {
            wire.to_vec()
        };
        for file in self.delivered_n(marker, to.len()) {
            assert_eq!(file, want, "delivered file differs");
        }
    }
    fn assert_not_delivered(&self, marker: &str) {
        assert!(self.files_with(marker).is_empty(), "{marker} was delivered");
    }
    fn assert_accepted(&self, report: &SendReport) {
        if let Some(says) = self.kind.accepted_says {
            assert!(report.reply.text.contains(says), "{report:?}");
        }
    }
}

/// Drops the header lines at the top of a delivered file that start with one of
/// `prefixes`, in that order, each with its continuation lines.
pub fn strip_prepended(file: &[u8], prefixes: &[&str]) -> Vec<u8> {
    let mut lines = file.split_inclusive(|&b| b == b'\n').peekable();
    for prefix in prefixes {
        let line = lines.next().expect("a prepended header");
        assert!(
            line.starts_with(prefix.as_bytes()),
            "expected {prefix:?} first, got {:?}",
            String::from_utf8_lossy(line)
        );
        while lines
            .peek()
            .is_some_and(|l| l.starts_with(b" ") || l.starts_with(b"\t"))
        {
            lines.next();
        }
    }
    lines.flatten().copied().collect()
}

/// The Maildir files under `dir` that hold `marker`.
pub fn maildir_files_with(dir: &std::path::Path, marker: &str) -> Vec<Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| std::fs::read(e.path()).ok())
                .filter(|b| contains(b, marker.as_bytes()))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (20 s at most) until at least `n` files under `dir` hold `marker` (a server that
/// delivers after its reply, in another process), and returns them.
pub fn wait_for_files(dir: &std::path::Path, marker: &str, n: usize, log: &str) -> Vec<Vec<u8>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let files = maildir_files_with(dir, marker);
        if files.len() >= n {
            return files;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} files hold {marker} (see {log})",
            files.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// For a server that captures what it gets: the one of `messages` whose content holds
/// `marker`.
pub fn the_one_holding<T: std::fmt::Debug>(
    messages: Vec<T>,
    content: impl Fn(&T) -> &[u8],
    marker: &str,
) -> T {
    let mut m: Vec<T> = messages
        .into_iter()
        .filter(|m| contains(content(m), marker.as_bytes()))
        .collect();
    assert_eq!(m.len(), 1, "one message holds {marker}: {m:?}");
    m.remove(0)
}

/// For a server that captures what it gets: none of `contents` holds `marker`.
pub fn assert_none_holds<'a>(contents: impl IntoIterator<Item = &'a [u8]>, marker: &str) {
    assert!(
        !contents.into_iter().any(|c| contains(c, marker.as_bytes())),
        "{marker} was delivered"
    );
}

// ---------------------------------------------------------------------------------------
// Messages

/// The message the scenarios send: what tends to break. A lone dot line, leading dots,
/// trailing spaces, 8-bit UTF-8, an empty line, a 990-octet line, bare LF, bare CR, CR CR
/// LF, lone dots a lenient server could take for the end of data (`\n.\n`, `\r.\r`: SMTP
/// smuggling) followed by a command, and no line end at the end.
pub fn tricky(marker: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: postel scenario\r\n\
         X-Postel-Marker: {marker}\r\n\r\nHello.\r\n.\r\n.leading dot\r\n..two\r\n\r\n\
         trailing spaces   \r\nGr\u{fc}\u{df}e aus Z\u{fc}rich.\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&[b'x'; 990]);
    m.extend_from_slice(
        b"\r\nbare LF\n.\n.after a bare LF\nbare CR\r.\r.after a bare CR\rCR CR LF\r\r\n\n\r\n\
          ..\r\n. \r\na\n.\nMAIL FROM:<smuggled@example.test>\r\nb\r.\rc\nend without a line end",
    );
    m
}

/// What must arrive for [`tricky`], written out: every line end CRLF, the dots as written,
/// a final CRLF.
pub fn tricky_wire(marker: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: postel scenario\r\n\
         X-Postel-Marker: {marker}\r\n\r\nHello.\r\n.\r\n.leading dot\r\n..two\r\n\r\n\
         trailing spaces   \r\nGr\u{fc}\u{df}e aus Z\u{fc}rich.\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&[b'x'; 990]);
    m.extend_from_slice(
        b"\r\nbare LF\r\n.\r\n.after a bare LF\r\nbare CR\r\n.\r\n.after a bare CR\r\n\
          CR CR LF\r\n\r\n\r\n\r\n..\r\n. \r\na\r\n.\r\nMAIL FROM:<smuggled@example.test>\r\n\
          b\r\n.\r\nc\r\nend without a line end\r\n",
    );
    m
}

/// What the client must send for `message`: every bare CR or LF made CRLF, a final CRLF
/// added. Written apart from the client's encoder on purpose.
pub fn normalized(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = message.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'\r' => {
                if bytes.peek() == Some(&b'\n') {
                    bytes.next();
                }
                out.extend_from_slice(b"\r\n");
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
    }
    if !out.ends_with(b"\r\n") && !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `crlf` with every CRLF made LF (how Postfix's local(8) stores a message).
pub fn lf(crlf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(crlf.len());
    let mut i = 0;
    while i < crlf.len() {
        if crlf[i] == b'\r' && crlf.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(crlf[i]);
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Checks

/// The client's writes that carry a MAIL FROM.
pub fn transaction_writes(t: &Transcript) -> Vec<Vec<&str>> {
    t.client_writes()
        .into_iter()
        .filter(|w| w.iter().any(|l| l.starts_with("MAIL FROM")))
        .collect()
}

/// The client's lines, in order.
pub fn client_lines(t: &Transcript) -> Vec<&str> {
    t.entries()
        .iter()
        .filter(|e| e.side == Side::Client)
        .map(|e| e.text.as_str())
        .collect()
}

/// The transcript shows `transactions` transactions framed as `framing` says.
pub fn assert_framing(t: &Transcript, framing: Framing, transactions: usize) {
    match framing {
        Framing::LockStep => {
            for w in t.client_writes() {
                let commands = w.iter().filter(|l| !l.starts_with('[')).count();
                assert!(commands <= 1, "two commands in one write {w:?}:\n{t}");
            }
            let mails = client_lines(t)
                .iter()
                .filter(|l| l.starts_with("MAIL FROM:"))
                .count();
            assert_eq!(mails, transactions, "{t}");
        }
        Framing::PipelinedData => {
            let groups = transaction_writes(t);
            assert_eq!(groups.len(), transactions, "MAIL groups:\n{t}");
            for group in groups {
                assert!(group[0].starts_with("MAIL FROM:<"), "{group:?}\n{t}");
                assert!(group[1].starts_with("RCPT TO:<"), "{group:?}\n{t}");
                assert_eq!(
                    group.last().copied(),
                    Some("DATA"),
                    "MAIL, RCPT and DATA in one write: {group:?}\n{t}"
                );
            }
            assert!(!t.contains_line("BDAT"), "no CHUNKING offered:\n{t}");
        }
        Framing::PipelinedBdat => {
            let writes = transaction_writes(t);
            assert_eq!(writes.len(), transactions, "{t}");
            for w in writes {
                assert!(w[0].starts_with("MAIL FROM:<"), "{w:?}");
                assert!(w[1].starts_with("RCPT TO:<"), "{w:?}");
                let bdat = w
                    .iter()
                    .position(|l| l.starts_with("BDAT ") && l.ends_with(" LAST"))
                    .unwrap_or_else(|| panic!("MAIL, RCPT and BDAT LAST in one write: {w:?}\n{t}"));
                assert!(
                    w[1..bdat].iter().all(|l| l.starts_with("RCPT TO:<")),
                    "{w:?}"
                );
            }
            assert!(!t.contains_line("554"), "synchronization error:\n{t}");
        }
    }
}

/// The client's transcript (it is built with one).
fn transcript(client: &Client) -> Transcript {
    client.transcript().expect("built with .transcript(true)")
}

/// Sends [`tricky`] from alice to `to` and checks it arrived byte for byte.
pub fn send_tricky(s: &dyn Server, client: &mut Client, to: &[String]) -> SendReport {
    let mark = marker("scenario-");
    let msg = tricky(&mark);
    let env = Envelope::new("alice@example.test", to.to_vec());
    let report = client
        .send_bytes(&env, &msg)
        .unwrap_or_else(|e| panic!("send failed: {e}\n{}", transcript(client)));
    assert_eq!(report.reply.code, 250, "{report:?}");
    s.assert_accepted(&report);
    s.assert_delivered(&mark, &normalized(&msg), to);
    report
}

/// A 5xx or 4xx on a throwaway message: the error.
fn send_expecting_error(s: &dyn Server, client: &mut Client) -> Error {
    let env = Envelope::new("alice@example.test", [s.rcpt("bob")]);
    client
        .send_bytes(&env, b"Subject: x\r\n\r\nx\r\n")
        .expect_err("the send must fail")
}

// ---------------------------------------------------------------------------------------
// The scenarios

/// What a refused recipient's reply says.
pub enum ReplyText<'a> {
    /// Exactly this.
    Is(&'a str),
    /// This somewhere.
    Contains(&'a str),
}

/// bob, the refused recipient and carol, over `client` (which the server's test may go
/// on using): bob and carol get the message (one copy each in a Maildir, one message for
/// both in a capture), the refusal is reported as a permanent `550 5.1.1` saying `text`,
/// and the transaction is framed as the server's [`Framing`]. Returns the report for the
/// server's own checks.
pub fn refused_recipient(s: &dyn Server, client: &mut Client, text: ReplyText<'_>) -> SendReport {
    let refused = s.refused();
    let mark = marker("scenario-");
    let msg = tricky(&mark);
    let env = Envelope::new(
        "alice@example.test",
        [s.rcpt("bob"), refused.clone(), s.rcpt("carol")],
    );
    let report = client.send_bytes(&env, &msg).unwrap();
    let accepted: Vec<_> = report.accepted.iter().map(|a| a.address.clone()).collect();
    assert_eq!(accepted, [s.rcpt("bob"), s.rcpt("carol")]);
    assert_eq!(report.refused.len(), 1);
    assert!(!report.all_accepted());
    let r = &report.refused[0];
    assert_eq!(r.address, refused);
    assert_eq!(r.reply.code, 550);
    assert_eq!(
        r.reply.enhanced.map(|e| e.to_string()).as_deref(),
        Some("5.1.1")
    );
    match text {
        ReplyText::Is(want) => assert_eq!(r.reply.text, want),
        ReplyText::Contains(want) => assert!(r.reply.text.contains(want), "{:?}", r.reply),
    }
    assert!(!r.reply.is_transient());
    s.assert_delivered(&mark, &normalized(&msg), &[s.rcpt("bob"), s.rcpt("carol")]);
    assert_framing(&transcript(client), s.framing(), 1);
    report
}

/// With credentials and no mechanism named, the client picks `expected`, the strongest
/// mechanism the server offers, and the message arrives.
pub fn default_mechanism(s: &dyn Server, b: ClientBuilder, expected: Mechanism) -> SendReport {
    let (user, password) = s.user();
    let mut client = b.credentials(user, password).build().unwrap();
    let report = send_tricky(s, &mut client, &[s.rcpt("bob")]);
    assert_eq!(report.authenticated, Some(expected));
    assert_eq!(client.authenticated(), Some(expected));
    report
}

/// Logs in with each of `mechanisms` (XOAUTH2 with the password as its token), one client
/// each: the report and the client name the mechanism, the transcript shows `AUTH <name>`
/// and `success` and never the password nor the base64 of `alice` outside AUTH lines, an
/// encrypted session did STARTTLS (if any) before AUTH, and the message arrives. Returns
/// each login's report and transcript.
pub fn each_mechanism_logs_in(
    s: &dyn Server,
    b: &dyn Fn() -> ClientBuilder,
    mechanisms: &[Mechanism],
    success: &str,
) -> Vec<(SendReport, Transcript)> {
    let (user, password) = s.user();
    let mut out = Vec::new();
    for &mech in mechanisms {
        let builder = b().mechanism(mech);
        let builder = if mech == Mechanism::XOAuth2 {
            builder.oauth_token(&user, &password)
        } else {
            builder.credentials(&user, &password)
        };
        let mut client = builder.build().unwrap();
        let report = send_tricky(s, &mut client, &[s.rcpt("bob")]);
        assert_eq!(report.authenticated, Some(mech));
        assert_eq!(client.authenticated(), Some(mech));
        let t = transcript(&client);
        let text = t.to_string();
        assert!(text.contains(&format!("C: AUTH {}", mech.name())), "{t}");
        assert!(text.contains(&format!("S: {success}")), "{t}");
        assert!(!text.contains(&password), "password in transcript:\n{t}");
        for e in t.entries() {
            if e.side == Side::Client && !e.text.starts_with("AUTH") {
                assert!(!e.text.contains("AGFsaWNl"), "credential in {:?}", e.text);
            }
        }
        let lines = client_lines(&t);
        let auth = lines
            .iter()
            .position(|l| l.starts_with("AUTH"))
            .expect("AUTH");
        if let Some(starttls) = lines.iter().position(|l| *l == "STARTTLS") {
            assert!(starttls < auth, "{t}");
        }
        assert_framing(&t, s.framing(), 1);
        out.push((report, t));
    }
    out
}

/// A wrong password with each of `mechanisms` (XOAUTH2: an expired token; the server's
/// 334 with a JSON error is answered with an empty line to get the final 535): a
/// permanent `AuthFailed` with `InvalidCredentials` and 535, and no MAIL sent.
pub fn wrong_password(s: &dyn Server, b: &dyn Fn() -> ClientBuilder, mechanisms: &[Mechanism]) {
    let (user, _) = s.user();
    for &mech in mechanisms {
        let builder = b().mechanism(mech);
        let builder = if mech == Mechanism::XOAuth2 {
            builder.oauth_token(&user, "expired-token")
        } else {
            builder.credentials(&user, "not the password")
        };
        let mut client = builder.build().unwrap();
        let err = send_expecting_error(s, &mut client);
        assert!(!err.is_transient(), "{mech}: {err}");
        match &err {
            Error::Protocol(postel::proto::Error::AuthFailed { failure, reply }) => {
                assert_eq!(*failure, AuthFailure::InvalidCredentials, "{mech}");
                assert_eq!(reply.code().get(), 535, "{mech}");
            }
            other => panic!(
                "{mech}: expected AuthFailed, got {other:?}\n{}",
                transcript(&client)
            ),
        }
        assert!(!transcript(&client).contains_line("MAIL"), "{mech}");
    }
}

/// Credentials over a plaintext session (`b`, without TLS, the server offering AUTH or
/// STARTTLS): the client refuses with `AuthRequiresTls` before any AUTH or MAIL leaves.
/// Returns the transcript (the servers check what was offered).
pub fn plaintext_auth_refused(s: &dyn Server, b: ClientBuilder) -> Transcript {
    let (user, password) = s.user();
    let mut client = b.credentials(user, password).build().unwrap();
    let err = send_expecting_error(s, &mut client);
    assert!(
        matches!(err, Error::Protocol(postel::proto::Error::AuthRequiresTls)),
        "{err:?}"
    );
    let t = transcript(&client);
    assert!(
        !t.entries()
            .iter()
            .any(|e| e.side == Side::Client && e.text.starts_with("AUTH")),
        "no AUTH may be sent:\n{t}"
    );
    assert!(!t.contains_line("MAIL"), "no MAIL may be sent:\n{t}");
    t
}

/// STARTTLS required (`b`, with credentials added here) of a server that offers none:
/// `TlsUnavailable` without a reply, and neither AUTH nor MAIL sent.
pub fn starttls_unavailable(s: &dyn Server, b: ClientBuilder) {
    let (user, password) = s.user();
    let mut client = b.credentials(user, password).build().unwrap();
    let err = send_expecting_error(s, &mut client);
    assert!(
        matches!(
            err,
            Error::Protocol(postel::proto::Error::TlsUnavailable { reply: None })
        ),
        "{err:?}"
    );
    let t = transcript(&client);
    assert!(!t.contains_line("AUTH") && !t.contains_line("MAIL"), "{t}");
}

/// A bad certificate (`b`, credentials added here): a permanent `Error::Tls` of the kind
/// `expected`, named in its message, and neither AUTH nor MAIL sent. Returns the TLS error
/// for servers that know its exact value.
pub fn bad_certificate(s: &dyn Server, b: ClientBuilder, expected: &TlsError) -> TlsError {
    let (user, password) = s.user();
    let mut client = b.credentials(user, password).build().unwrap();
    let err = send_expecting_error(s, &mut client);
    let tls = match &err {
        Error::Tls(t) => t.clone(),
        other => panic!("expected {expected:?}, got {other:?}"),
    };
    assert_eq!(
        std::mem::discriminant(&tls),
        std::mem::discriminant(expected),
        "expected {expected:?}, got {tls:?}"
    );
    assert!(!err.is_transient());
    let t = transcript(&client);
    assert!(!t.contains_line("AUTH") && !t.contains_line("MAIL"), "{t}");
    let named = match expected {
        TlsError::Expired => "expired",
        TlsError::UnknownIssuer => "unknown issuer",
        _ => "not valid for",
    };
    assert!(err.to_string().contains(named), "{err}");
    tls
}

/// Opportunistic TLS (`b`) against a server offering STARTTLS: the session is encrypted
/// and the message arrives.
pub fn opportunistic_tls(s: &dyn Server, b: ClientBuilder) -> Transcript {
    let mut client = b.build().unwrap();
    let report = send_tricky(s, &mut client, &[s.rcpt("bob")]);
    assert!(report.encrypted);
    assert!(client.is_encrypted());
    let t = transcript(&client);
    assert!(t.contains_line("STARTTLS"), "{t}");
    t
}

/// `n` messages over one client (`b`, logged in when `auth`), then whatever `more` sends
/// over the same client (it returns how many transactions it made): one connection, one
/// AUTH, each transaction framed as the server's [`Framing`], each message arrived, and
/// QUIT answered with 221. Returns the transcript.
pub fn many_messages_one_connection(
    s: &dyn Server,
    b: ClientBuilder,
    auth: bool,
    n: usize,
    more: &mut dyn FnMut(&mut Client) -> usize,
) -> Transcript {
    let b = if auth {
        let (user, password) = s.user();
        b.credentials(user, password)
    } else {
        b
    };
    let mut client = b.build().unwrap();
    for _ in 0..n {
        send_tricky(s, &mut client, &[s.rcpt("bob")]);
    }
    let extra = more(&mut client);
    client.quit().unwrap();
    let t = transcript(&client);
    assert_eq!(connections(&t), 1, "{t}");
    let auths = client_lines(&t)
        .iter()
        .filter(|l| l.starts_with("AUTH"))
        .count();
    assert_eq!(auths, usize::from(auth), "{t}");
    assert_framing(&t, s.framing(), n + extra);
    assert!(t.contains_line("221"), "{t}");
    t
}

/// The MAIL FROM line the client sent for a message of `size` octets from `from`: with
/// `SIZE=` when the server offers SIZE, then `rest` (`BODY=8BITMIME`...).
fn mail_line(s: &dyn Server, from: &str, size: usize, rest: &str) -> String {
    if s.offers_size() {
        format!("MAIL FROM:<{from}> SIZE={size}{rest}")
    } else {
        format!("MAIL FROM:<{from}>{rest}")
    }
}

/// [`tricky`] with each `Options::chunking` in `chunking` (a client per setting, from
/// `b`): it arrives with every line end CRLF, the dots as written (stuffed on the wire,
/// unstuffed by the server), the smuggled command only as content, and MAIL declares the
/// normalized size and 8BITMIME. Returns each session's transcript.
pub fn dots_and_bare_line_ends(
    s: &dyn Server,
    b: &dyn Fn(postel::Options) -> ClientBuilder,
    chunking: &[bool],
) -> Vec<Transcript> {
    let mut out = Vec::new();
    for &chunking in chunking {
        let options = postel::Options {
            chunking,
            ..postel::Options::default()
        };
        let mut client = b(options).build().unwrap();
        let mark = marker("scenario-");
        let msg = tricky(&mark);
        let wire = tricky_wire(&mark);
        assert_eq!(
            normalized(&msg),
            wire,
            "the two spellings of the expectation agree"
        );
        let env = Envelope::new("alice@example.test", [s.rcpt("bob")]);
        let report = client.send_bytes(&env, &msg).unwrap();
        assert_eq!(report.reply.code, 250);
        s.assert_delivered(&mark, &wire, &[s.rcpt("bob")]);
        let t = transcript(&client);
        let mail = mail_line(s, "alice@example.test", wire.len(), " BODY=8BITMIME");
        assert!(
            client_lines(&t).contains(&mail.as_str()),
            "chunking {chunking}: no {mail:?} in\n{t}"
        );
        assert!(!t.contains_line("MAIL FROM:<smuggled"), "{t}");
        out.push(t);
    }
    out
}

/// A message with UTF-8 in its header and body, from `from` to `to` (UTF-8 addresses),
/// over `client`: `to` is accepted, the message arrives byte for byte, and MAIL says
/// `BODY=8BITMIME SMTPUTF8` (with `SIZE=` when offered). Returns the report and the marker
/// for the server's own checks.
pub fn smtputf8(s: &dyn Server, client: &mut Client, from: &str, to: &str) -> (SendReport, String) {
    let mark = marker("scenario-");
    let msg = format!(
        "From: J\u{f6}ran <{from}>\r\nTo: {to}\r\nSubject: Gr\u{fc}\u{df}e\r\n\
         X-Postel-Marker: {mark}\r\n\r\nGr\u{fc}\u{df}e aus Z\u{fc}rich, \u{4f60}\u{597d}, \u{2603}.\r\n\
         .\u{df}\r\n"
    )
    .into_bytes();
    let env = Envelope::new(from, [to]);
    let report = client.send_bytes(&env, &msg).unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(report.accepted[0].address, to);
    s.assert_delivered(&mark, &msg, &[to.to_owned()]);
    let t = transcript(client);
    let mail = mail_line(s, from, msg.len(), " BODY=8BITMIME SMTPUTF8");
    assert!(
        client_lines(&t).contains(&mail.as_str()),
        "no {mail:?} in\n{t}"
    );
    (report, mark)
}

/// A recipient the server defers (`tempfail`): a transient rejection with `code` (and
/// `enhanced`, when given), after which the same connection carries the next message.
/// Returns the transcript.
pub fn temporarily_refused_recipient(
    s: &dyn Server,
    client: &mut Client,
    tempfail: &str,
    code: u16,
    enhanced: Option<&str>,
) -> Transcript {
    let env = Envelope::new("alice@example.test", [tempfail]);
    match client.send_bytes(&env, b"Subject: x\r\n\r\nx\r\n") {
        Err(e @ Error::Rejected { .. }) => {
            assert!(e.is_transient(), "{e}");
            let reply = e.reply().unwrap();
            assert_eq!(reply.code, code);
            if let Some(want) = enhanced {
                assert_eq!(reply.enhanced.map(|c| c.to_string()).as_deref(), Some(want));
            }
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    // The session survives the refusal: the next message goes over it.
    send_tricky(s, client, &[s.rcpt("bob")]);
    let t = transcript(client);
    assert_eq!(connections(&t), 1, "{t}");
    t
}

/// A CRLF message of exactly `len` octets (at least 60) with `marker` in a header and no
/// line starting with a dot.
pub fn sized(marker: &str, len: usize) -> Vec<u8> {
    padded(
        format!("Subject: sized\r\nX-Postel-Marker: {marker}\r\n\r\n").as_bytes(),
        len,
    )
}

/// `start` (whole CRLF lines) and lines of `x` up to exactly `len` octets.
pub fn padded(start: &[u8], len: usize) -> Vec<u8> {
    let mut m = start.to_vec();
    while m.len() < len {
        let left = len - m.len();
        let line = left.min(78);
        if line < 3 {
            // Too short for a line of its own: lengthen the previous one.
            let at = m.len() - 2;
            m.splice(at..at, std::iter::repeat_n(b'y', left));
        } else {
            m.extend(std::iter::repeat_n(b'x', line - 2));
            m.extend_from_slice(b"\r\n");
        }
    }
    assert_eq!(m.len(), len);
    m
}

/// A message one octet over the server's SIZE `limit` (offered in the EHLO reply): a
/// `MessageTooLarge` naming both, before MAIL; nothing stored. Returns the transcript.
pub fn over_size_limit(s: &dyn Server, client: &mut Client, limit: u64) -> Transcript {
    let mark = marker("scenario-");
    let env = Envelope::new("alice@example.test", [s.rcpt("bob")]);
    let err = client
        .send_bytes(&env, &sized(&mark, limit as usize + 1))
        .unwrap_err();
    match err {
        Error::Protocol(e) => assert_eq!(
            e,
            postel::proto::Error::MessageTooLarge {
                size: limit + 1,
                limit
            }
        ),
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    let t = transcript(client);
    assert!(
        t.contains_line(&format!("250-SIZE {limit}"))
            || t.contains_line(&format!("250 SIZE {limit}")),
        "{t}"
    );
    assert!(
        !t.contains_line("MAIL"),
        "nothing sent for the message:\n{t}"
    );
    s.assert_not_delivered(&mark);
    t
}

/// A message of unknown size (`len` octets read from a reader) over the SIZE `limit`: a
/// `MessageTooLarge` with that limit once it passes it, the end of the content never sent
/// (no `BDAT … LAST`, no final dot), nothing stored. Returns the transcript.
pub fn streamed_over_size_limit(
    s: &dyn Server,
    client: &mut Client,
    limit: u64,
    len: usize,
) -> Transcript {
    let mark = marker("scenario-");
    let env = Envelope::new("alice@example.test", [s.rcpt("bob")]);
    let big = sized(&mark, len);
    let err = client.send_reader(&env, &big[..]).unwrap_err();
    match err {
        Error::Protocol(postel::proto::Error::MessageTooLarge { size, limit: l }) => {
            assert_eq!(l, limit);
            assert!(size > l, "{size}");
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    let t = transcript(client);
    let lines = client_lines(&t);
    assert!(
        !lines.iter().any(|l| l.ends_with(" LAST") || *l == "."),
        "the end of the content was not sent:\n{t}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("BDAT ") || *l == "DATA"),
        "{t}"
    );
    s.assert_not_delivered(&mark);
    t
}

/// Nine messages through a `Pool` of at most three connections (from `b`, logged in):
/// every report says encrypted and `mechanism`, every message arrives, the transcript shows
/// one to three connections and each transaction framed as the server's [`Framing`].
pub async fn pool_delivers_concurrently(s: &dyn Server, b: ClientBuilder, mechanism: Mechanism) {
    let (user, password) = s.user();
    let pool = b
        .credentials(user, password)
        .max_connections(3)
        .build_pool()
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    let mut expected = Vec::new();
    for _ in 0..9 {
        let mark = marker("scenario-");
        let msg = tricky(&mark);
        expected.push((mark, normalized(&msg)));
        let pool = pool.clone();
        let env = Envelope::new("alice@example.test", [s.rcpt("bob")]);
        set.spawn(async move { pool.send_bytes(&env, msg).await });
    }
    while let Some(r) = set.join_next().await {
        let report = r.unwrap().unwrap();
        assert!(report.encrypted);
        assert_eq!(report.authenticated, Some(mechanism));
    }
    pool.close().await;
    for (mark, wire) in expected {
        s.assert_delivered(&mark, &wire, &[s.rcpt("bob")]);
    }
    let t = pool.transcript().unwrap();
    assert!((1..=3).contains(&connections(&t)), "{t}");
    assert_framing(&t, s.framing(), 9);
}

/// An `AsyncClient` from `b`, logged in with `mechanism`, sends [`tricky`] `n` times: each
/// report says encrypted and `mechanism`, each message arrives. Returns the client for the
/// server's own messages over the same connection, then [`async_client_done`].
pub async fn async_client_messages(
    s: &dyn Server,
    b: ClientBuilder,
    mechanism: Mechanism,
    n: usize,
) -> postel::AsyncClient {
    let (user, password) = s.user();
    let client = b
        .credentials(user, password)
        .mechanism(mechanism)
        .build_async()
        .unwrap();
    for _ in 0..n {
        let mark = marker("scenario-");
        let msg = tricky(&mark);
        let env = Envelope::new("alice@example.test", [s.rcpt("bob")]);
        let report = client.send_bytes(&env, msg.clone()).await.unwrap();
        assert!(report.encrypted);
        assert_eq!(report.authenticated, Some(mechanism));
        s.assert_delivered(&mark, &normalized(&msg), &[s.rcpt("bob")]);
    }
    client
}

/// QUITs `client` and checks its session: one connection, `transactions` transactions
/// framed as the server's [`Framing`], the QUIT answered, no password in the transcript.
pub async fn async_client_done(
    s: &dyn Server,
    client: postel::AsyncClient,
    transactions: usize,
) -> Transcript {
    client.quit().await;
    let t = client.transcript().unwrap();
    assert_eq!(connections(&t), 1, "{t}");
    assert_framing(&t, s.framing(), transactions);
    assert!(t.contains_line("221"), "{t}");
    assert!(!t.to_string().contains(&s.user().1), "{t}");
    t
}
