//! One SMTP server session: framing, the command sequence, faults, delivery.
//!
//! ```text
//! S: 220 mx.sim.test ESMTP postel-sim
//! C: EHLO client.test
//! S: 250-mx.sim.test ... 250 CHUNKING
//! C: MAIL FROM:<a@client.test>
//! S: 250 2.1.0 Ok
//! C: RCPT TO:<b@mx.test>
//! S: 250 2.1.5 Ok
//! C: DATA
//! S: 354 End data with <CR><LF>.<CR><LF>
//! C: (body) .
//! S: 250 2.0.0 Ok: queued as 000001
//! C: QUIT
//! S: 221 2.0.0 Bye
//! ```

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::annotate::{check_header, Deviation};
use crate::auth::{Exchange, Next};
use crate::config::{Config, Extension, Mechanism};
use crate::envelope::{parse_params, parse_path, valid_address};
use crate::fault::{Action, At, Plan};
use crate::server::Shared;
use crate::store::{escape, Param, ReceivedMessage, Recipient, Side, Transfer};
use crate::stream::Stream;
use crate::tls::HANDSHAKE_FAILURE_ALERT;

/// RFC 5321 §4.5.3.2.7: the server waits at least five minutes for the next command.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// RFC 4954 §4: AUTH command and SASL response lines may be 12288 octets.
const AUTH_LINE: usize = 12288;
/// Body bytes buffered before an over-long line is handled in pieces.
const DATA_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Close,
}

enum Framed {
    /// The line without its line ending, its length with it, and the bare line
    /// ending it had if bare ones are forgiven.
    Line(Vec<u8>, usize, Option<Deviation>),
    TooLong,
    /// A refused bare LF or CR, with the raw line.
    BareLf(Vec<u8>),
    BareCr(Vec<u8>),
    Eof,
}

/// The fault plan for the reply now being prepared.
#[derive(Default)]
struct Shaping {
    replace: Option<(u16, String)>,
    after_close: bool,
    dribble: bool,
    split: bool,
    split_first_only: bool,
}

enum Pre {
    Proceed { tls_fail: bool },
    Done(Flow),
}

struct Txn {
    from: String,
    params: Vec<Param>,
    rcpts: Vec<Recipient>,
    rcpt_commands: usize,
    smtputf8: bool,
    eight_bit_declared: bool,
    bdat: Option<Bdat>,
}

#[derive(Default)]
struct Bdat {
    data: Vec<u8>,
    too_big: bool,
}

#[derive(Default)]
struct Body {
    data: Vec<u8>,
    too_big: bool,
    too_long: bool,
    eight_bit: bool,
}

pub(crate) struct Session {
    shared: Arc<Shared>,
    conn: u64,
    stream: Stream,
    inbuf: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    auth_user: Option<String>,
    txn: Option<Txn>,
    greeting_refused: bool,
    shaping: Shaping,
    /// Deviations seen before their line was noted (pregreet input), pinned to the next
    /// client line.
    deferred: Vec<(Deviation, String)>,
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, conn: u64, tcp: TcpStream) -> Session {
        let _ = tcp.set_nodelay(true);
        Session {
            shared,
            conn,
            stream: Stream::Plain(tcp),
            inbuf: Vec::new(),
            helo: None,
            esmtp: false,
            auth_user: None,
            txn: None,
            greeting_refused: false,
            shaping: Shaping::default(),
            deferred: Vec::new(),
        }
    }

    fn config(&self) -> &Config {
        &self.shared.config
    }

    fn host(&self) -> String {
        self.shared.config.hostname.clone()
    }

    fn strict(&self) -> bool {
        self.shared.config.is_strict()
    }

    /// Runs the session to its end; the transcript is closed whatever happens.
    pub(crate) async fn run(mut self) {
        let result = self.serve().await;
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                let text = format!("421 4.4.2 {} Error: timeout exceeded", self.host());
                let _ = self
                    .write_raw(format!("{text}\r\n").as_bytes(), false)
                    .await;
                self.note(Some(Side::Server), text);
            }
            Err(e) => self.note(None, format!("connection error: {e}")),
        }
        self.stream.shutdown().await;
        self.note(None, "closed".to_owned());
        self.shared.close_transcript(self.conn);
    }

    async fn serve(&mut self) -> io::Result<()> {
        let plan = self.plan(At::Greeting);
        if self.config().implicit_tls {
            if matches!(plan.terminal, Some(Action::TlsHandshakeFail)) {
                self.fail_handshake().await;
                return Ok(());
            }
            if !self.handshake().await {
                return Ok(());
            }
        }
        if self.greet(plan).await? == Flow::Close {
            return Ok(());
        }
        loop {
            let limit = AUTH_LINE.max(self.config().max_command_line) + 1200;
            let framed = self.read_line(limit).await?;
            let flow = match framed {
                Framed::Eof => {
                    self.unterminated_at_eof();
                    self.note(None, "client closed the connection".to_owned());
                    return Ok(());
                }
                Framed::TooLong => {
                    self.note(Some(Side::Client), "<line too long>".to_owned());
                    self.annotate(
                        Deviation::CommandLineTooLong,
                        format!("a command line over {limit} octets (discarded)"),
                    );
                    self.reply(500, "5.5.0 Error: line too long").await?
                }
                Framed::BareLf(raw) => return self.bare_line_end("LF", &escape(&raw)).await,
                Framed::BareCr(raw) => return self.bare_line_end("CR", &escape(&raw)).await,
                Framed::Line(line, len, bare) => self.command(line, len, bare).await?,
            };
            if flow == Flow::Close {
                return Ok(());
            }
        }
    }

    async fn greet(&mut self, plan: Plan) -> io::Result<Flow> {
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
        }
        self.shaping = Shaping {
            dribble: plan.dribble,
            split: plan.split,
            ..Shaping::default()
        };
        let mut code = 220;
        let banner = self
            .config()
            .greeting
            .clone()
            .unwrap_or_else(|| "ESMTP postel-sim".to_owned());
        let mut text = format!("{} {banner}", self.host());
        match plan.terminal {
            Some(Action::Close | Action::CloseAfterAccept | Action::TlsHandshakeFail) => {
                self.note(None, "fault: closed before the greeting".to_owned());
                return Ok(Flow::Close);
            }
            Some(Action::Reply421) => {
                code = 421;
                text = format!(
                    "4.3.2 {} Service shutting down, closing transmission channel",
                    self.host()
                );
            }
            Some(Action::Reply(c, t)) => {
                code = c;
                text = t;
            }
            _ => {}
        }
        // Postfix postscreen's pregreet test: a client that talks first is not SMTP.
        if self.pending_input().await {
            let detail = format!(
                "the client sent {} octets before the greeting",
                self.inbuf.len()
            );
            if self.config().polices_pipelining() {
                let first = self.inbuf.split(|b| *b == b'\n').next().unwrap_or(&[]);
                let first = escape(first).trim_end_matches("\\r").to_owned();
                self.note(Some(Side::Client), first);
                self.annotate(Deviation::Pipelining, detail);
                self.reply(554, "5.5.0 Error: SMTP protocol synchronization")
                    .await?;
                return Ok(Flow::Close);
            }
            self.deferred.push((Deviation::Pipelining, detail));
        }
        self.write_reply(code, &[text]).await?;
        if code == 421 {
            return Ok(Flow::Close);
        }
        if code >= 400 {
            self.greeting_refused = true;
        }
        Ok(Flow::Continue)
    }

    // ---------------------------------------------------------------- framing

    async fn read_more(&mut self) -> io::Result<usize> {
        let mut buf = [0u8; 16 * 1024];
        let n = tokio::time::timeout(IDLE_TIMEOUT, self.stream.read(&mut buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle timeout"))??;
        self.inbuf.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// Whether the client has sent anything beyond what has been processed. Data already
    /// buffered counts, and so does data the socket has ready right now.
    async fn pending_input(&mut self) -> bool {
        if !self.inbuf.is_empty() {
            return true;
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::ZERO, self.stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                self.inbuf.extend_from_slice(&buf[..n]);
                true
            }
            _ => false,
        }
    }

    /// Frames one command line. Strict: CRLF only, no CR or LF alone (Postfix
    /// `smtpd_forbid_bare_newline = reject`). Lenient: LF ends a line, a CR before it is
    /// dropped. A line longer than `hard_limit` is read to its end and discarded.
    async fn read_line(&mut self, hard_limit: usize) -> io::Result<Framed> {
        let mut discarding = false;
        loop {
            if let Some(pos) = self.inbuf.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = self.inbuf.drain(..=pos).collect();
                if discarding || raw.len() > hard_limit {
                    return Ok(Framed::TooLong);
                }
                return Ok(self.judge_line(raw));
            }
            if self.inbuf.len() > hard_limit {
                discarding = true;
                let keep_cr = self.inbuf.last() == Some(&b'\r');
                self.inbuf.clear();
                if keep_cr {
                    self.inbuf.push(b'\r');
                }
            }
            if self.read_more().await? == 0 {
                return Ok(Framed::Eof);
            }
        }
    }

    fn judge_line(&self, mut raw: Vec<u8>) -> Framed {
        let len = raw.len();
        let bare = if len < 2 || raw[len - 2] != b'\r' {
            Some(Deviation::BareLf)
        } else if raw[..len - 2].contains(&b'\r') {
            Some(Deviation::BareCr)
        } else {
            None
        };
        if self.config().refuses_bare_newline() {
            match bare {
                Some(Deviation::BareLf) => return Framed::BareLf(raw),
                Some(_) => return Framed::BareCr(raw),
                None => raw.truncate(len - 2),
            }
        } else {
            raw.pop();
            if raw.last() == Some(&b'\r') {
                raw.pop();
            }
        }
        Framed::Line(raw, len, bare)
    }

    /// Postfix 3.9 `smtpd_forbid_bare_newline = reject`: reply and disconnect.
    /// `line` is the offending line, escaped (or `<redacted>` in AUTH).
    async fn bare_line_end(&mut self, what: &str, line: &str) -> io::Result<()> {
        self.note(Some(Side::Client), format!("<bare {what}>"));
        let kind = if what == "LF" {
            Deviation::BareLf
        } else {
            Deviation::BareCr
        };
        self.annotate(kind, format!("refused line: {line}"));
        let text = format!("5.5.2 {} Error: bare <{what}> received", self.host());
        self.reply(550, &text).await?;
        Ok(())
    }

    /// Pins a deviation to the line noted last.
    fn annotate(&self, deviation: Deviation, detail: String) {
        self.shared.annotate(self.conn, deviation, detail);
    }

    /// The client closed with bytes of an unterminated line: note them and say so.
    fn unterminated_at_eof(&mut self) {
        if self.inbuf.is_empty() {
            return;
        }
        let rest = std::mem::take(&mut self.inbuf);
        self.note(Some(Side::Client), escape(&rest));
        self.annotate(
            Deviation::MissingCrlf,
            format!(
                "the connection ended after {} octets without a line ending",
                rest.len()
            ),
        );
    }

    // ---------------------------------------------------------------- replies

    fn plan(&self, at: At<'_>) -> Plan {
        let faults = self.shared.faults();
        Plan::from_faults(faults.iter().filter(|f| f.matches(self.conn, at)))
    }

    /// Consults the faults for a step: waits, closes, replies 421 or the chosen reply,
    /// or arranges for the next reply to be reshaped.
    async fn pre(&mut self, at: At<'_>) -> io::Result<Pre> {
        let plan = self.plan(at);
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
        }
        self.shaping = Shaping {
            dribble: plan.dribble,
            split: plan.split,
            split_first_only: matches!(at, At::Ehlo),
            ..Shaping::default()
        };
        let tls_step = matches!(at, At::StartTls);
        match plan.terminal {
            None => Ok(Pre::Proceed { tls_fail: false }),
            Some(Action::TlsHandshakeFail) if tls_step => Ok(Pre::Proceed { tls_fail: true }),
            Some(Action::Close | Action::TlsHandshakeFail) => {
                self.note(
                    None,
                    "fault: connection closed instead of a reply".to_owned(),
                );
                Ok(Pre::Done(Flow::Close))
            }
            Some(Action::CloseAfterAccept) => {
                self.shaping.after_close = true;
                Ok(Pre::Proceed { tls_fail: false })
            }
            Some(Action::Reply421) => {
                let text = format!(
                    "4.3.2 {} Service shutting down, closing transmission channel",
                    self.host()
                );
                self.reply(421, &text).await?;
                Ok(Pre::Done(Flow::Close))
            }
            Some(Action::Reply(code, text)) if code >= 400 => {
                self.reply(code, &text).await?;
                Ok(Pre::Done(if code == 421 {
                    Flow::Close
                } else {
                    Flow::Continue
                }))
            }
            Some(Action::Reply(code, text)) => {
                self.shaping.replace = Some((code, text));
                Ok(Pre::Proceed { tls_fail: false })
            }
            Some(_) => Ok(Pre::Proceed { tls_fail: false }),
        }
    }

    async fn reply(&mut self, code: u16, text: &str) -> io::Result<Flow> {
        self.reply_lines(code, vec![text.to_owned()]).await
    }

    /// Writes a reply through the fault shaping; a 2xx/3xx may be replaced, and a
    /// `CloseAfterAccept` fault withholds it and closes.
    async fn reply_lines(&mut self, code: u16, lines: Vec<String>) -> io::Result<Flow> {
        if self.shaping.after_close {
            self.shaping = Shaping::default();
            self.note(
                None,
                "fault: accepted, connection closed before the reply".to_owned(),
            );
            return Ok(Flow::Close);
        }
        let (code, lines) = match self.shaping.replace.take() {
            Some((c, t)) if code < 400 => (c, vec![t]),
            _ => (code, lines),
        };
        self.write_reply(code, &lines).await?;
        Ok(Flow::Continue)
    }

    async fn write_reply(&mut self, code: u16, lines: &[String]) -> io::Result<()> {
        let shaping = std::mem::take(&mut self.shaping);
        let strip = !self.config().has(Extension::EnhancedStatusCodes);
        let mut texts: Vec<String> = lines
            .iter()
            .map(|l| if strip { strip_enhanced(l) } else { l.clone() })
            .collect();
        if shaping.split {
            texts = split_texts(&texts, shaping.split_first_only);
            // A one-word reply still gets a continuation: `250-word` then a bare `250`.
            // Not for EHLO (its last line must hold a keyword) nor 334 (SASL data).
            if texts.len() == 1 && !shaping.split_first_only && code != 334 {
                texts.push(String::new());
            }
        }
        let mut out = String::new();
        let last = texts.len().saturating_sub(1);
        for (i, t) in texts.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            // RFC 5321 §4.2: `Reply-code [ SP textstring ]`, but RFC 4954 §4's
            // continue-req is `"334" SP [base64]`, with the space even when empty.
            let line = if t.is_empty() && i == last && code != 334 {
                format!("{code}")
            } else {
                format!("{code}{sep}{t}")
            };
            self.note(Some(Side::Server), line.clone());
            out.push_str(&line);
            out.push_str("\r\n");
        }
        if texts.is_empty() {
            out = format!("{code}\r\n");
            self.note(Some(Side::Server), format!("{code}"));
        }
        self.write_raw(out.as_bytes(), shaping.dribble).await
    }

    async fn write_raw(&mut self, bytes: &[u8], dribble: bool) -> io::Result<()> {
        if dribble {
            self.stream.dribble(bytes).await
        } else {
            self.stream.write_all(bytes).await
        }
    }

    fn note(&self, side: Option<Side>, text: String) {
        self.shared.note(self.conn, side, text);
    }

    // ---------------------------------------------------------------- commands

    async fn command(
        &mut self,
        line: Vec<u8>,
        len: usize,
        bare: Option<Deviation>,
    ) -> io::Result<Flow> {
        let text = match String::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                let bytes = e.into_bytes();
                self.note(Some(Side::Client), escape(&bytes));
                return self.reply(500, "5.5.2 Error: bad UTF-8 syntax").await;
            }
        };
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.to_owned()),
            None => (text.to_ascii_uppercase(), String::new()),
        };
        if verb == "AUTH" {
            let mech = arg.split(' ').next().unwrap_or("");
            let redacted = if arg.contains(' ') { " <redacted>" } else { "" };
            self.note(Some(Side::Client), format!("AUTH {mech}{redacted}"));
        } else {
            self.note(Some(Side::Client), escape(text.as_bytes()));
        }
        if let Some(kind) = bare {
            let what = if kind == Deviation::BareLf {
                "ends in LF without CR"
            } else {
                "holds a CR that is not followed by LF"
            };
            self.annotate(kind, format!("the {verb} command line {what}"));
        }
        for (kind, detail) in std::mem::take(&mut self.deferred) {
            self.annotate(kind, detail);
        }
        let rfc_limit = self.line_limit_from(512, &verb);
        if len > rfc_limit {
            self.annotate(
                Deviation::CommandLineTooLong,
                format!(
                    "{len} octets with the line ending; RFC 5321 allows {rfc_limit} for {verb}"
                ),
            );
        }

        // Per-command line limits: RFC 5321 §4.5.3.1.4 plus each extension's allowance.
        if len > self.line_limit(&verb) {
            return self.reply(500, "5.5.0 Error: line too long").await;
        }

        if self.greeting_refused && verb != "QUIT" {
            return self
                .reply(503, "5.5.1 Error: service unavailable, send QUIT")
                .await;
        }

        // RFC 2920 §3.1 and Postfix `smtpd_forbid_unauth_pipelining`.
        // BDAT's chunk follows its command at once (RFC 3030 §2), so bdat() checks after it.
        if verb != "QUIT" && verb != "BDAT" && self.pending_input().await {
            let pipelining = self.esmtp && self.config().has(Extension::Pipelining);
            let last_in_group = matches!(
                verb.as_str(),
                "EHLO" | "HELO" | "DATA" | "NOOP" | "STARTTLS" | "AUTH" | "VRFY" | "EXPN" | "HELP"
            );
            if !pipelining || last_in_group {
                let why = if !pipelining {
                    "PIPELINING is not in effect (not offered, or HELO instead of EHLO)".to_owned()
                } else {
                    format!("{verb} must be the last command of a group")
                };
                self.annotate(
                    Deviation::Pipelining,
                    format!(
                        "{} more octets arrived before the reply to {verb}: {why}",
                        self.inbuf.len()
                    ),
                );
                if self.config().polices_pipelining() {
                    self.note(None, format!("unexpected input pipelined after {verb}"));
                    self.reply(554, "5.5.0 Error: SMTP protocol synchronization")
                        .await?;
                    return Ok(Flow::Close);
                }
            }
        }

        match verb.as_str() {
            "EHLO" => self.ehlo(&arg, true).await,
            "HELO" => self.ehlo(&arg, false).await,
            "STARTTLS" => self.starttls(&arg).await,
            "AUTH" => self.auth(&arg).await,
            "MAIL" => self.mail(&arg).await,
            "RCPT" => self.rcpt(&arg).await,
            "DATA" => self.data(&arg).await,
            "BDAT" => self.bdat(&arg).await,
            "RSET" => {
                if let Pre::Done(f) = self.pre(At::Rset).await? {
                    return Ok(f);
                }
                if !arg.is_empty() && self.strict() {
                    return self.reply(501, "5.5.4 Syntax: RSET").await;
                }
                self.txn = None;
                self.reply(250, "2.0.0 Ok").await
            }
            "NOOP" => {
                if let Pre::Done(f) = self.pre(At::Noop).await? {
                    return Ok(f);
                }
                self.reply(250, "2.0.0 Ok").await
            }
            "QUIT" => {
                if let Pre::Done(f) = self.pre(At::Quit).await? {
                    return Ok(f);
                }
                self.reply(221, "2.0.0 Bye").await?;
                Ok(Flow::Close)
            }
            "VRFY" => self.reply(502, "5.5.1 VRFY command is disabled").await,
            "" => self.reply(500, "5.5.2 Error: bad syntax").await,
            _ => self.reply(502, "5.5.2 Error: command not recognized").await,
        }
    }

    fn line_limit(&self, verb: &str) -> usize {
        self.line_limit_from(self.config().max_command_line, verb)
    }

    /// The limit for `verb` from a base limit for plain commands.
    fn line_limit_from(&self, base: usize, verb: &str) -> usize {
        let c = self.config();
        let ext = |e: Extension, n: usize| if c.has(e) { n } else { 0 };
        match verb {
            "AUTH" => AUTH_LINE.max(base),
            // RFC 1870 §3 (+26), RFC 3461 §4 (+100 for RET/ENVID), RFC 4954 §5 (+500 AUTH=),
            // RFC 6152 (BODY=8BITMIME), RFC 6531 (SMTPUTF8).
            "MAIL" => {
                base + ext(Extension::Size, 26)
                    + ext(Extension::Dsn, 100)
                    + ext(Extension::Auth, 500)
                    + ext(Extension::EightBitMime, 15)
                    + ext(Extension::SmtpUtf8, 9)
            }
            // RFC 3461 §4: NOTIFY and ORCPT add 500 to RCPT.
            "RCPT" => base + ext(Extension::Dsn, 500),
            _ => base,
        }
    }

    async fn ehlo(&mut self, arg: &str, extended: bool) -> io::Result<Flow> {
        let at = if extended { At::Ehlo } else { At::Helo };
        if let Pre::Done(f) = self.pre(at).await? {
            return Ok(f);
        }
        let name = arg.trim();
        if name.is_empty() || (self.strict() && name.contains(' ')) {
            let verb = if extended { "EHLO" } else { "HELO" };
            return self.reply(501, &format!("Syntax: {verb} hostname")).await;
        }
        self.helo = Some(name.to_owned());
        self.esmtp = extended;
        self.txn = None;
        if !extended {
            let host = self.host();
            return self.reply(250, &host).await;
        }
        let lines = self.ehlo_lines();
        self.reply_lines(250, lines).await
    }

    fn auth_offered(&self) -> bool {
        let c = self.config();
        c.has(Extension::Auth)
            && !c.auth_mechanisms.is_empty()
            && (!c.require_tls_for_auth || self.stream.is_tls())
    }

    fn ehlo_lines(&self) -> Vec<String> {
        let c = self.config();
        let mut lines = vec![c.hostname.clone()];
        for ext in Extension::ALL {
            if !c.has(ext) {
                continue;
            }
            match ext {
                Extension::Pipelining => lines.push("PIPELINING".into()),
                Extension::Size if c.size_limit > 0 => lines.push(format!("SIZE {}", c.size_limit)),
                Extension::Size => lines.push("SIZE".into()),
                Extension::StartTls => {
                    if !self.stream.is_tls() && self.shared.tls.is_some() {
                        lines.push("STARTTLS".into());
                    }
                }
                Extension::Auth => {
                    if self.auth_offered() {
                        let names: Vec<&str> = c.auth_mechanisms.iter().map(|m| m.name()).collect();
                        lines.push(format!("AUTH {}", names.join(" ")));
                    }
                }
                Extension::EnhancedStatusCodes => lines.push("ENHANCEDSTATUSCODES".into()),
                Extension::EightBitMime => lines.push("8BITMIME".into()),
                Extension::Dsn => lines.push("DSN".into()),
                Extension::SmtpUtf8 => lines.push("SMTPUTF8".into()),
                Extension::Chunking => lines.push("CHUNKING".into()),
            }
        }
        lines
    }

    // ---------------------------------------------------------------- STARTTLS

    async fn starttls(&mut self, arg: &str) -> io::Result<Flow> {
        if !self.config().has(Extension::StartTls) || self.shared.tls.is_none() {
            return self
                .reply(502, "5.5.1 Error: command not implemented")
                .await;
        }
        if self.stream.is_tls() {
            return self.reply(554, "5.5.1 Error: TLS already active").await;
        }
        if !arg.is_empty() {
            return self.reply(501, "5.5.4 Syntax: STARTTLS").await;
        }
        if self.strict() && self.helo.is_none() {
            return self.reply(503, "5.5.1 Error: send HELO/EHLO first").await;
        }
        let tls_fail = match self.pre(At::StartTls).await? {
            Pre::Done(f) => return Ok(f),
            Pre::Proceed { tls_fail } => tls_fail,
        };
        if self.reply(220, "2.0.0 Ready to start TLS").await? == Flow::Close {
            return Ok(Flow::Close);
        }
        // RFC 3207 §4.2 / CVE-2011-0411: plaintext sent after STARTTLS is not carried over.
        if !self.inbuf.is_empty() {
            self.note(
                None,
                format!(
                    "discarded {} plaintext bytes after STARTTLS",
                    self.inbuf.len()
                ),
            );
            self.inbuf.clear();
        }
        if tls_fail {
            self.fail_handshake().await;
            return Ok(Flow::Close);
        }
        if !self.handshake().await {
            return Ok(Flow::Close);
        }
        // RFC 3207 §4.2: everything learnt before TLS is forgotten.
        self.helo = None;
        self.esmtp = false;
        self.auth_user = None;
        self.txn = None;
        Ok(Flow::Continue)
    }

    async fn handshake(&mut self) -> bool {
        let Some(tls) = self.shared.tls.clone() else {
            return false;
        };
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return false;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        match tokio::time::timeout(Duration::from_secs(30), acceptor.accept(tcp)).await {
            Ok(Ok(s)) => {
                self.stream = Stream::Tls(Box::new(s));
                self.note(None, "TLS handshake complete".to_owned());
                true
            }
            Ok(Err(e)) => {
                self.note(None, format!("TLS handshake failed: {e}"));
                false
            }
            Err(_) => {
                self.note(None, "TLS handshake timed out".to_owned());
                false
            }
        }
    }

    /// Reads the ClientHello (for up to 5 s), answers with a fatal alert, and closes.
    async fn fail_handshake(&mut self) {
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut buf)).await;
        let _ = self.stream.write_all(&HANDSHAKE_FAILURE_ALERT).await;
        self.note(None, "fault: TLS handshake failed (alert sent)".to_owned());
        self.stream = Stream::Closed;
    }

    // ---------------------------------------------------------------- AUTH

    async fn auth(&mut self, arg: &str) -> io::Result<Flow> {
        let c = self.config();
        if !c.has(Extension::Auth) || c.auth_mechanisms.is_empty() {
            return self
                .reply(503, "5.5.1 Error: authentication not enabled")
                .await;
        }
        if self.helo.is_none() || (self.strict() && !self.esmtp) {
            return self.reply(503, "5.5.1 Error: send EHLO first").await;
        }
        if c.require_tls_for_auth && !self.stream.is_tls() {
            return self
                .reply(530, "5.7.0 Must issue a STARTTLS command first")
                .await;
        }
        if self.auth_user.is_some() {
            return self.reply(503, "5.5.1 Error: already authenticated").await;
        }
        if self.txn.is_some() {
            return self
                .reply(503, "5.5.1 Error: MAIL transaction in progress")
                .await;
        }
        let mut parts = arg.split(' ');
        let name = parts.next().unwrap_or("");
        let initial = parts.next();
        if parts.next().is_some() || name.is_empty() {
            return self.reply(501, "5.5.4 Syntax: AUTH mechanism").await;
        }
        let mech = Mechanism::from_name(name).filter(|m| self.config().auth_mechanisms.contains(m));
        let Some(mech) = mech else {
            return self
                .reply(504, "5.5.4 Unrecognized authentication type")
                .await;
        };
        if let Pre::Done(f) = self.pre(At::Auth).await? {
            return Ok(f);
        }
        let mut exchange = Exchange::new(mech);
        let shared = self.shared.clone();
        let mut next = exchange.start(&shared.config, initial);
        loop {
            match next {
                Next::Challenge(text) => {
                    if self.reply(334, &text).await? == Flow::Close {
                        return Ok(Flow::Close);
                    }
                    let line = match self.read_line(AUTH_LINE).await? {
                        Framed::Line(l, _, _) => l,
                        Framed::Eof => return Ok(Flow::Close),
                        Framed::TooLong => {
                            return self
                                .reply(500, "5.5.6 Authentication exchange line is too long")
                                .await
                        }
                        Framed::BareLf(_) => {
                            self.bare_line_end("LF", "<redacted>").await?;
                            return Ok(Flow::Close);
                        }
                        Framed::BareCr(_) => {
                            self.bare_line_end("CR", "<redacted>").await?;
                            return Ok(Flow::Close);
                        }
                    };
                    let line = String::from_utf8_lossy(&line).into_owned();
                    if line == "*" {
                        self.note(Some(Side::Client), "*".to_owned());
                        return self.reply(501, "5.7.0 Authentication aborted").await;
                    }
                    self.note(Some(Side::Client), "<redacted>".to_owned());
                    next = exchange.step(&shared.config, &line);
                }
                Next::Success(user) => {
                    self.auth_user = Some(user);
                    return self.reply(235, "2.7.0 Authentication successful").await;
                }
                Next::Failure => {
                    return self
                        .reply(
                            535,
                            "5.7.8 Error: authentication failed: authentication failure",
                        )
                        .await
                }
                Next::Malformed => return self.reply(501, "5.5.2 Cannot decode response").await,
            }
        }
    }

    // ---------------------------------------------------------------- MAIL / RCPT

    async fn mail(&mut self, arg: &str) -> io::Result<Flow> {
        if self.helo.is_none() && self.strict() {
            return self.reply(503, "5.5.1 Error: send HELO/EHLO first").await;
        }
        if self.txn.is_some() {
            return self.reply(503, "5.5.1 Error: nested MAIL command").await;
        }
        let c = self.config().clone();
        if c.require_tls && !self.stream.is_tls() {
            return self
                .reply(530, "5.7.0 Must issue a STARTTLS command first")
                .await;
        }
        if c.require_auth && self.auth_user.is_none() {
            return self.reply(530, "5.7.0 Authentication required").await;
        }
        let Some((from, rest)) = parse_path(arg, "FROM:", self.strict()) else {
            return self.reply(501, "5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        if !from.is_empty() && !valid_address(&from, false) {
            return self.reply(501, "5.1.7 Bad sender address syntax").await;
        }
        let asks_utf8 = rest.split(' ').any(|w| w.eq_ignore_ascii_case("SMTPUTF8"));
        if asks_utf8 && !(self.esmtp && c.has(Extension::SmtpUtf8)) {
            self.annotate(
                Deviation::SmtpUtf8,
                "SMTPUTF8 on MAIL, but the server did not offer it (RFC 6531 §3.4)".to_owned(),
            );
        }
        let params = match parse_params(self.config(), self.esmtp, self.strict(), rest, true) {
            Ok(p) => p,
            Err((code, text)) => return self.reply(code, &text).await,
        };
        let smtputf8 = params.iter().any(|p| p.keyword == "SMTPUTF8");
        if !from.is_ascii() && !smtputf8 {
            self.annotate(
                Deviation::SmtpUtf8,
                "a UTF-8 sender address without the SMTPUTF8 parameter".to_owned(),
            );
            return self
                .reply(553, "5.6.7 Must declare SMTPUTF8 to send unicode address")
                .await;
        }
        if let Some(size) = params.iter().find(|p| p.keyword == "SIZE") {
            let n: u64 = size
                .value
                .as_deref()
                .unwrap_or("")
                .parse()
                .unwrap_or(u64::MAX);
            if c.size_limit > 0 && n > c.size_limit {
                return self
                    .reply(552, "5.3.4 Message size exceeds fixed limit")
                    .await;
            }
        }
        if let Pre::Done(f) = self.pre(At::Mail).await? {
            return Ok(f);
        }
        let eight_bit_declared = params
            .iter()
            .any(|p| p.keyword == "BODY" && p.value.as_deref() == Some("8BITMIME"));
        self.txn = Some(Txn {
            from,
            params,
            rcpts: Vec::new(),
            rcpt_commands: 0,
            smtputf8,
            eight_bit_declared,
            bdat: None,
        });
        self.reply(250, "2.1.0 Ok").await
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<Flow> {
        let Some(txn) = self.txn.as_mut() else {
            return self.reply(503, "5.5.1 Error: need MAIL command").await;
        };
        txn.rcpt_commands += 1;
        let nth = txn.rcpt_commands;
        let smtputf8 = txn.smtputf8;
        let Some((to, rest)) = parse_path(arg, "TO:", self.strict()) else {
            return self.reply(501, "5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if let Pre::Done(f) = self.pre(At::Rcpt { nth, address: &to }).await? {
            return Ok(f);
        }
        if !valid_address(&to, true) {
            return self.reply(501, "5.1.3 Bad recipient address syntax").await;
        }
        if !to.is_ascii() && !smtputf8 {
            self.annotate(
                Deviation::SmtpUtf8,
                "a UTF-8 recipient address, and MAIL had no SMTPUTF8 parameter".to_owned(),
            );
            return self
                .reply(553, "5.6.7 Must declare SMTPUTF8 to send unicode address")
                .await;
        }
        let params = match parse_params(self.config(), self.esmtp, self.strict(), rest, false) {
            Ok(p) => p,
            Err((code, text)) => return self.reply(code, &text).await,
        };
        let max = self.config().max_recipients;
        let Some(txn) = self.txn.as_mut() else {
            return self.reply(503, "5.5.1 Error: need MAIL command").await;
        };
        if txn.rcpts.len() >= max {
            return self.reply(452, "4.5.3 Error: too many recipients").await;
        }
        txn.rcpts.push(Recipient {
            address: to,
            params,
        });
        self.reply(250, "2.1.5 Ok").await
    }

    // ---------------------------------------------------------------- DATA / BDAT

    async fn data(&mut self, arg: &str) -> io::Result<Flow> {
        let Some(txn) = self.txn.as_ref() else {
            return self.reply(503, "5.5.1 Error: need MAIL command").await;
        };
        if txn.bdat.is_some() {
            return self
                .reply(503, "5.5.1 Error: DATA is not allowed after BDAT")
                .await;
        }
        if txn.rcpts.is_empty() {
            return self.reply(554, "5.5.1 Error: no valid recipients").await;
        }
        if !arg.is_empty() {
            return self.reply(501, "5.5.4 Syntax: DATA").await;
        }
        if let Pre::Done(f) = self.pre(At::Data).await? {
            return Ok(f);
        }
        if self.reply(354, "End data with <CR><LF>.<CR><LF>").await? == Flow::Close {
            return Ok(Flow::Close);
        }
        let body = match self.read_body().await? {
            Ok(b) => b,
            Err(flow) => return Ok(flow),
        };
        self.finish_message(body, Transfer::Data).await
    }

    /// Reads a DATA body up to the final dot, un-dot-stuffing it (RFC 5321 §4.5.2).
    /// `Err(flow)` when the session must end (bare line ending in strict mode, EOF).
    async fn read_body(&mut self) -> io::Result<Result<Body, Flow>> {
        let strict = self.strict();
        let forbid_bare = self.config().refuses_bare_newline();
        let max_line = if strict {
            self.config().max_text_line
        } else {
            0
        };
        let limit = self.config().size_limit;
        let mut body = Body::default();
        let mut continuing = false;
        let mut line_len = 0usize;
        let mut lines_noted = 0usize;
        let mut line_no = 0usize;
        let mut noted_deviations = 0usize;
        loop {
            if let Some(pos) = self.inbuf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
                let len = line.len();
                line_no += 1;
                let bare = if len < 2 || line[len - 2] != b'\r' {
                    Some("LF")
                } else if line[..len - 2].contains(&b'\r') {
                    Some("CR")
                } else {
                    None
                };
                if forbid_bare {
                    if let Some(kind) = bare {
                        self.note(Some(Side::Client), escape(&line));
                        let detail = format!("message line {line_no}");
                        self.bare_line_end(kind, &detail).await?;
                        return Ok(Err(Flow::Close));
                    }
                }
                let end = !continuing && (line == b".\r\n" || (!forbid_bare && line == b".\n"));
                if lines_noted < 1000 || end {
                    self.note(
                        Some(Side::Client),
                        escape(&line[..len - 1]).trim_end_matches("\\r").to_owned(),
                    );
                    lines_noted += 1;
                }
                // At most 20 notes per message, so a whole bare-LF body stays readable.
                let mut found = Vec::new();
                match bare {
                    Some("LF") => found.push((
                        Deviation::BareLf,
                        format!("message line {line_no} ends in LF without CR"),
                    )),
                    Some(_) => found.push((
                        Deviation::BareCr,
                        format!("message line {line_no} holds a CR not followed by LF"),
                    )),
                    None => {}
                }
                if !continuing && !end && line.first() == Some(&b'.') && line.get(1) != Some(&b'.')
                {
                    found.push((
                        Deviation::DotStuffing,
                        format!(
                            "message line {line_no} starts with a single '.': the server removes \
                             it (a client that dot-stuffs sends '..')"
                        ),
                    ));
                }
                if line_len + len > 1000 {
                    found.push((
                        Deviation::TextLineTooLong,
                        format!(
                            "message line {line_no} is {} octets with its line ending",
                            line_len + len
                        ),
                    ));
                }
                for (kind, detail) in found {
                    if noted_deviations < 20 {
                        self.annotate(kind, detail);
                    }
                    noted_deviations += 1;
                }
                if end {
                    return Ok(Ok(body));
                }
                line_len += len;
                if max_line > 0 && line_len > max_line {
                    body.too_long = true;
                }
                let content = if !continuing && line.first() == Some(&b'.') {
                    &line[1..]
                } else {
                    &line[..]
                };
                append(&mut body, content, limit);
                continuing = false;
                line_len = 0;
            } else if self.inbuf.len() >= DATA_CHUNK {
                let mut take = self.inbuf.len();
                if self.inbuf.last() == Some(&b'\r') {
                    take -= 1;
                }
                let chunk: Vec<u8> = self.inbuf.drain(..take).collect();
                if forbid_bare && chunk.contains(&b'\r') {
                    let detail = format!("message line {}", line_no + 1);
                    self.bare_line_end("CR", &detail).await?;
                    return Ok(Err(Flow::Close));
                }
                line_len += chunk.len();
                if max_line > 0 && line_len > max_line {
                    body.too_long = true;
                }
                let content = if !continuing && chunk.first() == Some(&b'.') {
                    &chunk[1..]
                } else {
                    &chunk[..]
                };
                append(&mut body, content, limit);
                continuing = true;
            } else if self.read_more().await? == 0 {
                self.unterminated_at_eof();
                self.note(None, "client closed the connection during DATA".to_owned());
                return Ok(Err(Flow::Close));
            }
        }
    }

    /// RFC 3030 §2: `BDAT chunk-size [LAST]`; the chunk follows at once, unstuffed.
    async fn bdat(&mut self, arg: &str) -> io::Result<Flow> {
        if !self.config().has(Extension::Chunking) {
            return self
                .reply(502, "5.5.1 Error: command not implemented")
                .await;
        }
        let mut words = arg.split(' ');
        let size = words.next().unwrap_or("");
        let last = match words.next() {
            None => false,
            Some(w) if w.eq_ignore_ascii_case("LAST") => true,
            Some(_) => {
                // The chunk size cannot be trusted, so what follows cannot be framed.
                self.reply(501, "5.5.4 Syntax: BDAT count [LAST]").await?;
                return Ok(Flow::Close);
            }
        };
        let Some(size) =
            (!size.is_empty() && size.len() <= 19 && size.bytes().all(|b| b.is_ascii_digit()))
                .then(|| size.parse::<u64>().ok())
                .flatten()
        else {
            self.reply(501, "5.5.4 Syntax: BDAT count [LAST]").await?;
            return Ok(Flow::Close);
        };
        if words.next().is_some() {
            self.reply(501, "5.5.4 Syntax: BDAT count [LAST]").await?;
            return Ok(Flow::Close);
        }
        // The chunk is read whatever the verdict, so the session stays in step.
        let limit = self.config().size_limit;
        let room = match self.txn.as_ref().and_then(|t| t.bdat.as_ref()) {
            Some(b) if limit > 0 => limit.saturating_sub(b.data.len() as u64),
            None if limit > 0 => limit,
            _ => u64::MAX,
        };
        let Some((chunk, overflow)) = self.read_exact_chunk(size, room).await? else {
            self.note(None, "client closed the connection during BDAT".to_owned());
            return Ok(Flow::Close);
        };
        self.note(Some(Side::Client), format!("<{size} octets>"));

        let pipelining = self.esmtp && self.config().has(Extension::Pipelining);
        if !pipelining && self.pending_input().await {
            self.annotate(
                Deviation::Pipelining,
                "more input arrived before the reply to BDAT, without PIPELINING".to_owned(),
            );
            if self.config().polices_pipelining() {
                self.reply(554, "5.5.0 Error: SMTP protocol synchronization")
                    .await?;
                return Ok(Flow::Close);
            }
        }
        let Some(txn) = self.txn.as_mut() else {
            return self.reply(503, "5.5.1 Error: need MAIL command").await;
        };
        if txn.rcpts.is_empty() {
            return self.reply(554, "5.5.1 Error: no valid recipients").await;
        }
        let state = txn.bdat.get_or_insert_with(Bdat::default);
        if overflow {
            state.too_big = true;
        } else {
            state.data.extend_from_slice(&chunk);
        }
        if !last {
            if let Pre::Done(f) = self.pre(At::Bdat).await? {
                // RFC 3030 §3: a refused chunk fails the transaction.
                self.txn = None;
                return Ok(f);
            }
            let too_big = self
                .txn
                .as_ref()
                .and_then(|t| t.bdat.as_ref())
                .is_some_and(|b| b.too_big);
            if too_big {
                self.txn = None;
                return self.reply(552, "5.3.4 Error: message file too big").await;
            }
            return self
                .reply(250, &format!("2.0.0 Ok: {size} octets received"))
                .await;
        }
        let Some(state) = self.txn.as_mut().and_then(|t| t.bdat.take()) else {
            return self.reply(503, "5.5.1 Error: need MAIL command").await;
        };
        let mut body = Body {
            too_big: state.too_big,
            ..Body::default()
        };
        if let Some(kind) = bare_line_ending(&state.data) {
            if self.config().refuses_bare_newline() {
                self.bare_line_end(kind, "in the BDAT data").await?;
                return Ok(Flow::Close);
            }
            let deviation = if kind == "LF" {
                Deviation::BareLf
            } else {
                Deviation::BareCr
            };
            self.annotate(deviation, format!("a bare {kind} in the BDAT data"));
        }
        if self.strict() {
            let max = self.config().max_text_line;
            if max > 0 && state.data.split(|b| *b == b'\n').any(|l| l.len() + 1 > max) {
                body.too_long = true;
            }
        }
        if let Some(n) = state
            .data
            .split(|b| *b == b'\n')
            .position(|l| l.len() + 1 > 1000)
        {
            self.annotate(
                Deviation::TextLineTooLong,
                format!("line {} of the BDAT data is over 1000 octets", n + 1),
            );
        }
        if !state.data.is_empty() && !state.data.ends_with(b"\r\n") {
            self.annotate(
                Deviation::MissingCrlf,
                "the BDAT data does not end in CRLF".to_owned(),
            );
        }
        if state.data.starts_with(b"..") || contains(&state.data, b"\n..") {
            self.annotate(
                Deviation::DotStuffing,
                "the BDAT data has lines starting '..': BDAT data is not dot-stuffed, so the \
                 recipient sees both dots"
                    .to_owned(),
            );
        }
        body.eight_bit = state.data.iter().any(|b| *b >= 0x80);
        body.data = state.data;
        self.finish_message(body, Transfer::Bdat).await
    }

    /// Reads `size` octets; keeps at most `room`, reporting overflow. `None` at EOF.
    async fn read_exact_chunk(
        &mut self,
        size: u64,
        room: u64,
    ) -> io::Result<Option<(Vec<u8>, bool)>> {
        let overflow = size > room;
        let mut kept = Vec::new();
        let mut remaining = size;
        loop {
            let take = (self.inbuf.len() as u64).min(remaining) as usize;
            if take > 0 {
                if !overflow {
                    kept.extend_from_slice(&self.inbuf[..take]);
                }
                self.inbuf.drain(..take);
                remaining -= take as u64;
            }
            if remaining == 0 {
                return Ok(Some((kept, overflow)));
            }
            if self.read_more().await? == 0 {
                return Ok(None);
            }
        }
    }

    async fn finish_message(&mut self, body: Body, transfer: Transfer) -> io::Result<Flow> {
        let pipelining = self.esmtp && self.config().has(Extension::Pipelining);
        if transfer == Transfer::Data && !pipelining && self.pending_input().await {
            self.annotate(
                Deviation::Pipelining,
                "more input arrived before the reply to the final dot, without PIPELINING"
                    .to_owned(),
            );
            if self.config().polices_pipelining() {
                self.note(
                    None,
                    "unexpected input pipelined after the final dot".to_owned(),
                );
                self.reply(554, "5.5.0 Error: SMTP protocol synchronization")
                    .await?;
                return Ok(Flow::Close);
            }
        }
        if let Some(txn) = self.txn.as_ref() {
            let mut found = Vec::new();
            if body.eight_bit && !txn.eight_bit_declared {
                let offered = if self.config().has(Extension::EightBitMime) {
                    ""
                } else {
                    " (and 8BITMIME was not offered)"
                };
                found.push((
                    Deviation::EightBitWithout8BitMime,
                    format!("8-bit octets in the message, MAIL had no BODY=8BITMIME{offered}"),
                ));
            }
            found.extend(check_header(&body.data, txn.smtputf8));
            for (kind, detail) in found {
                self.annotate(kind, detail);
            }
        }
        if let Pre::Done(f) = self.pre(At::DataEnd).await? {
            self.txn = None;
            return Ok(f);
        }
        let Some(txn) = self.txn.take() else {
            return self.reply(503, "5.5.1 Error: need MAIL command").await;
        };
        if body.too_big {
            return self.reply(552, "5.3.4 Error: message file too big").await;
        }
        if body.too_long {
            let max = self.config().max_text_line;
            return self
                .reply(
                    554,
                    &format!("5.6.0 Error: text line longer than {max} octets"),
                )
                .await;
        }
        if body.eight_bit && !txn.eight_bit_declared && self.config().reject_8bit_without_8bitmime {
            return self
                .reply(554, "5.6.1 Error: 8-bit data without BODY=8BITMIME")
                .await;
        }
        let queue_id = self.shared.next_queue_id();
        let message = ReceivedMessage {
            connection: self.conn,
            queue_id: queue_id.clone(),
            helo: self.helo.clone().unwrap_or_default(),
            mail_from: txn.from,
            mail_params: txn.params,
            rcpt_to: txn.rcpts,
            data: body.data,
            transfer,
            tls: self.stream.is_tls(),
            auth_user: self.auth_user.clone(),
        };
        if let Err(e) = self.shared.deliver(message) {
            self.note(None, format!("maildir delivery failed: {e}"));
            return self.reply(451, "4.3.0 Error: queue file write error").await;
        }
        self.reply(250, &format!("2.0.0 Ok: queued as {queue_id}"))
            .await
    }
}

fn append(body: &mut Body, content: &[u8], limit: u64) {
    if content.iter().any(|b| *b >= 0x80) {
        body.eight_bit = true;
    }
    if body.too_big {
        return;
    }
    if limit > 0 && (body.data.len() + content.len()) as u64 > limit {
        body.too_big = true;
        return;
    }
    body.data.extend_from_slice(content);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The first bare line ending in `data`, if any.
fn bare_line_ending(data: &[u8]) -> Option<&'static str> {
    for (i, b) in data.iter().enumerate() {
        match b {
            b'\n' if i == 0 || data[i - 1] != b'\r' => return Some("LF"),
            b'\r' if data.get(i + 1) != Some(&b'\n') => return Some("CR"),
            _ => {}
        }
    }
    None
}

/// Removes a leading RFC 3463 `class.subject.detail ` from a reply text.
fn strip_enhanced(text: &str) -> String {
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let parts: Vec<&str> = first.split('.').collect();
    let is_code = parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    if is_code {
        rest.to_owned()
    } else {
        text.to_owned()
    }
}

/// Splits reply texts at spaces into more continuation lines (the `SplitMultiline` fault).
fn split_texts(texts: &[String], first_only: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        if first_only && i > 0 {
            out.push(t.clone());
            continue;
        }
        let words: Vec<&str> = t.split(' ').collect();
        out.extend(words.iter().map(|w| (*w).to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_codes_are_stripped_only_when_present() {
        assert_eq!(strip_enhanced("2.1.0 Ok"), "Ok");
        assert_eq!(strip_enhanced("Ok: queued"), "Ok: queued");
        assert_eq!(strip_enhanced("mx.sim.test"), "mx.sim.test");
    }

    #[test]
    fn bare_line_endings_are_found() {
        assert_eq!(bare_line_ending(b"a\r\nb\r\n"), None);
        assert_eq!(bare_line_ending(b"a\nb\r\n"), Some("LF"));
        assert_eq!(bare_line_ending(b"a\rb\r\n"), Some("CR"));
    }
}
