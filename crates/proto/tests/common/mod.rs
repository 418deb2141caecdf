//! The `testdata/transcripts/*.smtp` format, and a harness that replays a transcript against
//! [`Client`], shared by the integration tests.
//!
//! ```text
//! # name (RFC ref): what it shows
//! # config: tls=disabled pipelining=off credentials=PLAIN:user:pass plaintext-auth
//! # message: from=a@client.test to=b@mx.test,c@mx.test size=120 body=8bit
//! B: Subject: the message body, one line per B: line
//! S: 220 server bytes
//! C: EHLO exact client bytes
//! E: Greeting 220
//! ```
//!
//! - `C:`, `S:` and `B:` lines end with CRLF implicitly. Escapes `\r`, `\n`, `\t`, `\\` and
//!   `\xHH` are decoded; a line whose text ends in an escaped `\r` or `\n`, or in a lone `\`
//!   (which is dropped), gets no implicit CRLF. So `S: 250 ok\n` is a bare-LF reply.
//! - Server bytes become available to the client once it has sent every `C:` byte written
//!   above them in the file; the runner chooses how the available bytes are cut into reads.
//!   When the client waits and the script has nothing more, the server closes (EOF).
//! - `E:` lines are the events, in order: `Greeting 220`, `Ready`,
//!   `RecipientAccepted txn=0 rcpt=1 250 2.1.5`, `RecipientRefused ...`,
//!   `RecipientDeferred ...` (the server's recipient limit),
//!   `MessageAccepted txn=0 250`, `MessageRejected txn=0 Data 554`, `Quit 221`, `StartTls`
//!   (the handshake the runner fakes), `SubmitError <error>`, and `Error <error>` for the
//!   error that ended the session. A reply is its code, then its enhanced code if any.
//! - `# config:` keys (defaults in brackets): `tls=required|opportunistic|implicit|disabled`
//!   [disabled], `pipelining=on|off` [on], `chunking=on|off` [on],
//!   `credentials=[MECH:]user:pass`, `token=[MECH:]user:token`, `nonce=...`,
//!   `plaintext-auth` (dangerous_allow_plaintext_auth), `ehlo=name` [client.example],
//!   `rx=N` `tx=N` [4096], `max-line=N`, `max-reply=N`, `max-chunks=N`,
//!   `auth-pipelining=on|off` [off], `quit=no` (stop at Idle instead of sending QUIT).
//! - `# message:` keys: `from=` (empty for `<>`), `to=a,b`, `size=N`, `body=8bit`, `smtputf8`.
//!   `B:` lines after it are its body (`body=repeat:N:text` makes N copies of `text` CRLF).
//! - `# splits: whole` replays only with the server's bytes fed whole (for behaviour that
//!   depends on bytes arriving together, such as an injection after STARTTLS's 220).
//! - `# body-chunks: whole` replays only with each body handed over whole (for outcomes that
//!   depend on how much content was read, such as the size reached when a limit is crossed).
#![allow(dead_code)]

#[cfg(any(feature = "embedded-io", feature = "embedded-io-async"))]
pub mod clock;
pub mod server;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use postel_proto::reply::Escaped;
use postel_proto::{
    Action, BodyType, Client, Config, Credentials, Envelope, Error, Event, Mechanism, Recipient,
    Reply, ReplyInfo, Secret, TlsMode,
};

/// Credentials from a `# config:` line.
#[derive(Clone, Debug)]
pub enum Creds {
    Password(String, String),
    Token(String, String),
}

/// A session's settings from `# config:`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub tls: TlsMode,
    pub pipelining: bool,
    pub chunking: bool,
    pub credentials: Option<Creds>,
    pub mechanism: Option<Mechanism>,
    pub nonce: String,
    pub plaintext_auth: bool,
    pub ehlo: String,
    pub rx: usize,
    pub tx: usize,
    pub max_line: Option<usize>,
    pub max_reply: Option<usize>,
    pub max_chunks: Option<u32>,
    pub auth_pipelining: bool,
    pub quit: bool,
    pub whole_only: bool,
    pub whole_bodies: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tls: TlsMode::Disabled,
            pipelining: true,
            chunking: true,
            credentials: None,
            mechanism: None,
            nonce: String::new(),
            plaintext_auth: false,
            ehlo: "client.example".into(),
            rx: 4096,
            tx: 4096,
            max_line: None,
            max_reply: None,
            max_chunks: None,
            auth_pipelining: false,
            quit: true,
            whole_only: false,
            whole_bodies: false,
        }
    }
}

/// One message from `# message:` and its `B:` lines.
#[derive(Clone, Debug, Default)]
pub struct Message {
    pub from: String,
    pub to: Vec<String>,
    pub size: Option<u64>,
    pub eight_bit: bool,
    pub smtputf8: bool,
    pub body: Vec<u8>,
}

/// A parsed transcript.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    pub name: String,
    pub settings: Settings,
    pub messages: Vec<Message>,
    /// Every `C:` byte, in order.
    pub client: Vec<u8>,
    /// Every `S:` byte, in order.
    pub server: Vec<u8>,
    /// For each `S:` line: where it ends in `server`, and how many client bytes precede it.
    pub gates: Vec<(usize, usize)>,
    pub events: Vec<String>,
}

impl Transcript {
    /// Server bytes the client may have read once it has sent `sent` bytes.
    pub fn available(&self, sent: usize) -> usize {
        self.gates
            .iter()
            .take_while(|&&(_, before)| before <= sent)
            .last()
            .map_or(0, |&(end, _)| end)
    }
}

/// The directory holding the transcripts.
pub fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/transcripts")
}

/// Every `*.smtp` file, sorted.
pub fn transcript_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(transcripts_dir())
        .expect("testdata/transcripts exists")
        .map(|e| e.expect("readable directory").path())
        .filter(|p| p.extension().is_some_and(|x| x == "smtp"))
        .collect();
    files.sort();
    files
}

/// Decodes a line's escapes; the flag says whether the implicit CRLF applies.
pub fn decode(text: &str) -> Result<(Vec<u8>, bool), String> {
    let mut out = Vec::new();
    let mut crlf = true;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            crlf = true;
            continue;
        }
        let Some(&e) = bytes.get(i) else {
            // A lone backslash at the end: no implicit line end.
            crlf = false;
            break;
        };
        i += 1;
        crlf = true;
        match e {
            b'r' | b'n' => {
                out.push(if e == b'r' { b'\r' } else { b'\n' });
                crlf = false;
            }
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = text
                    .get(i..i + 2)
                    .ok_or_else(|| format!("short \\x escape in {text:?}"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| format!("{e} in {text:?}"))?);
                i += 2;
            }
            other => return Err(format!("unknown escape \\{} in {text:?}", other as char)),
        }
    }
    if crlf {
        out.extend_from_slice(b"\r\n");
    }
    Ok((out, crlf))
}

fn parse_mech(name: &str) -> Result<Mechanism, String> {
    Mechanism::from_name(name.as_bytes()).ok_or_else(|| format!("unknown mechanism {name}"))
}

fn parse_creds(value: &str, token: bool, s: &mut Settings) -> Result<(), String> {
    let parts: Vec<&str> = value.split(':').collect();
    let (user, secret) = match parts.as_slice() {
        [mech, user, secret] => {
            s.mechanism = Some(parse_mech(mech)?);
            (user, secret)
        }
        [user, secret] => (user, secret),
        _ => return Err(format!("bad credentials {value:?}")),
    };
    s.credentials = Some(if token {
        Creds::Token(user.to_string(), secret.to_string())
    } else {
        Creds::Password(user.to_string(), secret.to_string())
    });
    Ok(())
}

fn on_off(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("{key}={v}: expected on or off")),
    }
}

fn parse_config(rest: &str, s: &mut Settings) -> Result<(), String> {
    for word in rest.split_whitespace() {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let num = || value.parse::<usize>().map_err(|e| format!("{word}: {e}"));
        match key {
            "tls" => {
                s.tls = match value {
                    "required" => TlsMode::Required,
                    "opportunistic" => TlsMode::Opportunistic,
                    "implicit" => TlsMode::Implicit,
                    "disabled" => TlsMode::Disabled,
                    _ => return Err(format!("bad tls mode {value}")),
                }
            }
            "pipelining" => s.pipelining = on_off(key, value)?,
            "chunking" => s.chunking = on_off(key, value)?,
            "credentials" => parse_creds(value, false, s)?,
            "token" => parse_creds(value, true, s)?,
            "mechanism" => s.mechanism = Some(parse_mech(value)?),
            "nonce" => s.nonce = value.to_string(),
            "plaintext-auth" => s.plaintext_auth = true,
            "ehlo" => s.ehlo = value.to_string(),
            "rx" => s.rx = num()?,
            "tx" => s.tx = num()?,
            "max-line" => s.max_line = Some(num()?),
            "max-reply" => s.max_reply = Some(num()?),
            "max-chunks" => s.max_chunks = Some(num()? as u32),
            "auth-pipelining" => s.auth_pipelining = on_off(key, value)?,
            "quit" => s.quit = on_off(key, value)?,
            _ => return Err(format!("unknown config key {key}")),
        }
    }
    Ok(())
}

/// A directive's value with its escapes decoded (no implicit line end).
fn decode_value(value: &str) -> Result<String, String> {
    let (bytes, _) = decode(&format!("{value}\\"))?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

fn parse_message(rest: &str) -> Result<Message, String> {
    let mut m = Message::default();
    for word in rest.split_whitespace() {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let value = &decode_value(value)?;
        match key {
            "from" => m.from = value.to_string(),
            "to" => {
                m.to = word[3..]
                    .split(',')
                    .map(decode_value)
                    .collect::<Result<_, _>>()?
            }
            "size" => m.size = Some(value.parse().map_err(|e| format!("{word}: {e}"))?),
            "body" if value == "8bit" => m.eight_bit = true,
            "body" => {
                let spec = value
                    .strip_prefix("repeat:")
                    .ok_or_else(|| format!("bad body {value}"))?;
                let (n, text) = spec.split_once(':').ok_or("body=repeat:N:text")?;
                let n: usize = n.parse().map_err(|e| format!("{word}: {e}"))?;
                for _ in 0..n {
                    m.body.extend_from_slice(text.as_bytes());
                    m.body.extend_from_slice(b"\r\n");
                }
            }
            "smtputf8" => m.smtputf8 = true,
            _ => return Err(format!("unknown message key {key}")),
        }
    }
    Ok(m)
}

/// Parses a transcript file's text.
pub fn parse(text: &str) -> Result<Transcript, String> {
    let mut t = Transcript::default();
    for (i, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", i + 1);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(rest) = comment.strip_prefix("config:") {
                parse_config(rest, &mut t.settings).map_err(at)?;
            } else if let Some(rest) = comment.strip_prefix("message:") {
                t.messages.push(parse_message(rest).map_err(at)?);
            } else if let Some(rest) = comment.strip_prefix("splits:") {
                t.settings.whole_only = rest.trim() == "whole";
            } else if let Some(rest) = comment.strip_prefix("body-chunks:") {
                t.settings.whole_bodies = rest.trim() == "whole";
            } else if t.name.is_empty() {
                t.name = comment.split_whitespace().next().unwrap_or("").to_string();
            }
            continue;
        }
        let (tag, rest) = line
            .split_once(':')
            .ok_or_else(|| at(format!("expected C:, S:, B:, E: or #: {line:?}")))?;
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match tag {
            "C" => t.client.extend(decode(rest).map_err(at)?.0),
            "S" => {
                t.server.extend(decode(rest).map_err(at)?.0);
                t.gates.push((t.server.len(), t.client.len()));
            }
            "B" => {
                let body = decode(rest).map_err(at)?.0;
                t.messages
                    .last_mut()
                    .ok_or_else(|| at("B: before any # message:".into()))?
                    .body
                    .extend(body);
            }
            "E" => t.events.push(rest.trim().to_string()),
            _ => return Err(at(format!("unknown tag {tag:?}"))),
        }
    }
    Ok(t)
}

/// Reads and parses one file.
pub fn load(path: &Path) -> Transcript {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How the server's available bytes are cut into reads.
#[derive(Clone, Debug)]
pub enum Split {
    /// As much as is available and fits.
    Whole,
    /// One byte per read.
    Bytes,
    /// Reads never cross these offsets (sorted).
    Cuts(Vec<usize>),
}

impl Split {
    fn limit(&self, pos: usize) -> usize {
        match self {
            Split::Whole => usize::MAX,
            Split::Bytes => pos + 1,
            Split::Cuts(cuts) => cuts
                .iter()
                .copied()
                .find(|&c| c > pos)
                .unwrap_or(usize::MAX),
        }
    }
}

/// What a replay produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub client: Vec<u8>,
    pub events: Vec<String>,
    /// Server bytes never handed to the client.
    pub unread: usize,
    /// The session ended with an error.
    pub failed: bool,
}

/// A reply as transcripts write it: the code, then the enhanced code when there is one.
pub fn reply_str(code: u16, enhanced: Option<postel_proto::EnhancedCode>) -> String {
    match enhanced {
        Some(e) => format!("{code} {e}"),
        None => code.to_string(),
    }
}

fn reply(r: &Reply<'_>) -> String {
    reply_str(r.code().get(), r.enhanced())
}

fn info(r: &ReplyInfo) -> String {
    reply_str(r.code().get(), r.enhanced())
}

/// An event as `E:` lines write it.
pub fn event_str(e: &Event<'_>) -> String {
    match e {
        Event::Greeting(r) => format!("Greeting {}", reply(r)),
        Event::Ready => "Ready".into(),
        Event::RecipientAccepted {
            txn,
            rcpt,
            reply: r,
        } => {
            format!(
                "RecipientAccepted txn={} rcpt={} {}",
                txn.0,
                rcpt.0,
                reply(r)
            )
        }
        Event::RecipientRefused {
            txn,
            rcpt,
            reply: r,
        } => {
            format!(
                "RecipientRefused txn={} rcpt={} {}",
                txn.0,
                rcpt.0,
                reply(r)
            )
        }
        Event::RecipientDeferred {
            txn,
            rcpt,
            reply: r,
        } => {
            format!(
                "RecipientDeferred txn={} rcpt={} {}",
                txn.0,
                rcpt.0,
                reply(r)
            )
        }
        Event::MessageAccepted { txn, reply: r } => {
            format!("MessageAccepted txn={} {}", txn.0, reply(r))
        }
        Event::MessageRejected {
            txn,
            step,
            reply: r,
        } => {
            format!("MessageRejected txn={} {:?} {}", txn.0, step, reply(r))
        }
        Event::Quit(r) => format!("Quit {}", reply(r)),
        other => format!("{other:?}"),
    }
}

/// An error as `E: Error ...` lines write it.
pub fn error_str(e: &Error) -> String {
    match e {
        Error::ConnectionClosed { step } => format!("ConnectionClosed {step:?}"),
        Error::MalformedReply { step, error, .. } => format!("MalformedReply {step:?} {error:?}"),
        Error::UnexpectedReply { reply } => format!("UnexpectedReply {}", info(reply)),
        Error::Rejected { step, reply } => format!("Rejected {step:?} {}", info(reply)),
        Error::ServiceClosing { step, reply } => format!("ServiceClosing {step:?} {}", info(reply)),
        Error::TlsUnavailable { reply: None } => "TlsUnavailable".into(),
        Error::TlsUnavailable { reply: Some(r) } => format!("TlsUnavailable {}", info(r)),
        Error::AuthFailed { failure, reply } => format!("AuthFailed {failure:?} {}", info(reply)),
        Error::Sasl(e) => format!("Sasl {e:?}"),
        Error::MessageTooLarge { size, limit } => format!("MessageTooLarge {size} {limit}"),
        Error::LineTooLong { length } => format!("LineTooLong {length}"),
        Error::BufferTooSmall { needed } => format!("BufferTooSmall {needed}"),
        Error::AuthUnavailable { wanted: None } => "AuthUnavailable".into(),
        Error::AuthUnavailable { wanted: Some(m) } => format!("AuthUnavailable {}", m.name()),
        Error::ExtensionRequired { extension } => format!("ExtensionRequired {extension}"),
        Error::InvalidArgument {
            argument,
            at,
            invalid,
        } => format!("InvalidArgument {argument:?} at={at} {invalid:?}"),
        other => format!("{other:?}"),
    }
}

/// Owned envelope parts, so an `Envelope` can borrow them.
pub struct EnvelopeParts<'m> {
    pub recipients: Vec<Recipient<'m>>,
}

impl<'m> EnvelopeParts<'m> {
    pub fn new(m: &'m Message) -> Self {
        EnvelopeParts {
            recipients: m.to.iter().map(|a| Recipient::new(a)).collect(),
        }
    }

    pub fn envelope(&'m self, m: &'m Message) -> Envelope<'m> {
        let mut env = Envelope::new(&m.from, &self.recipients);
        env.size = m.size;
        env.smtputf8 = m.smtputf8;
        if m.eight_bit {
            env.body = BodyType::EightBitMime;
        }
        env
    }
}

/// The `Config` a transcript's settings describe.
pub fn config(s: &Settings) -> Config<'_> {
    let mut c = Config::new(&s.ehlo);
    c.tls = s.tls;
    c.options.pipelining = s.pipelining;
    c.options.chunking = s.chunking;
    c.credentials = s.credentials.as_ref().map(|cr| match cr {
        Creds::Password(u, p) => Credentials::Password {
            username: u,
            password: Secret::new(p),
            authzid: None,
        },
        Creds::Token(u, t) => Credentials::Token {
            username: u,
            token: Secret::new(t),
        },
    });
    c.mechanism = s.mechanism;
    c.nonce = s.nonce.as_bytes();
    c.dangerous_allow_plaintext_auth = s.plaintext_auth;
    if let Some(n) = s.max_line {
        c.options.max_line_len = n;
    }
    if let Some(n) = s.max_reply {
        c.options.max_reply_bytes = n;
    }
    if let Some(n) = s.max_chunks {
        c.options.max_chunks_in_flight = n;
    }
    c.options.auth_pipelining = s.auth_pipelining;
    c
}

/// Replays `t` with the server's bytes cut by `split` and the message bodies handed over
/// `body_chunk` bytes at a time at most. Panics when the client waits for a reply the script
/// only gives after more client bytes (the client and the script disagree).
pub fn replay(t: &Transcript, split: &Split, body_chunk: usize) -> Result<Outcome, String> {
    replay_with(t, split, body_chunk, true)
}

/// [`replay`]; with `strict` false the client's bytes are not compared as they go and every
/// server byte is available from the start (for writing new transcripts).
pub fn replay_with(
    t: &Transcript,
    split: &Split,
    body_chunk: usize,
    strict: bool,
) -> Result<Outcome, String> {
    let (mut rx, mut tx) = (vec![0u8; t.settings.rx], vec![0u8; t.settings.tx]);
    let cfg = config(&t.settings);
    let mut out = Outcome {
        client: Vec::new(),
        events: Vec::new(),
        unread: 0,
        failed: false,
    };
    let mut client = match Client::new(cfg, &mut rx, &mut tx) {
        Ok(c) => c,
        Err(e) => {
            out.events.push(format!("Error {}", error_str(&e)));
            out.failed = true;
            return Ok(out);
        }
    };
    let parts: Vec<EnvelopeParts<'_>> = t.messages.iter().map(EnvelopeParts::new).collect();
    let mut next_message = 0;
    let mut body_pos = 0;
    let mut fed = 0;
    let mut quit_sent = false;
    for _ in 0..10_000_000u64 {
        let action = match client.poll() {
            Ok(a) => a,
            Err(e) => {
                out.events.push(format!("Error {}", error_str(&e)));
                out.failed = true;
                break;
            }
        };
        match action {
            Action::Send { bytes, .. } => {
                out.client.extend_from_slice(bytes);
                if strict && !t.client.starts_with(&out.client) {
                    return Err(mismatch(t, &out));
                }
                let n = bytes.len();
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                let avail = if strict {
                    t.available(out.client.len())
                } else {
                    t.server.len()
                };
                if fed == t.server.len() {
                    if let Err(e) = client.handle_received(0) {
                        out.events.push(format!("Error {}", error_str(&e)));
                        out.failed = true;
                        break;
                    }
                    continue;
                }
                if fed == avail {
                    return Err(format!(
                        "{}: the client waits for a reply, but the script wants more client \
                         bytes first\n{}",
                        t.name,
                        mismatch(t, &out)
                    ));
                }
                let end = avail.min(split.limit(fed)).min(fed + into.len());
                let n = end - fed;
                into[..n].copy_from_slice(&t.server[fed..end]);
                fed = end;
                if let Err(e) = client.handle_received(n) {
                    out.events.push(format!("Error {}", error_str(&e)));
                    out.failed = true;
                    break;
                }
            }
            Action::Body { into } => {
                let body = &t.messages[next_message - 1].body;
                let n = into.len().min(body.len() - body_pos).min(body_chunk);
                into[..n].copy_from_slice(&body[body_pos..body_pos + n]);
                body_pos += n;
                if let Err(e) = client.handle_body(n) {
                    out.events.push(format!("Error {}", error_str(&e)));
                    out.failed = true;
                    break;
                }
            }
            Action::StartTls => {
                out.events.push("StartTls".into());
                if let Err(e) = client.handle_tls_ready() {
                    out.events.push(format!("Error {}", error_str(&e)));
                    out.failed = true;
                    break;
                }
            }
            Action::Event(e) => out.events.push(event_str(&e)),
            Action::Recipients { .. } => {
                let m = &t.messages[next_message - 1];
                let env = parts[next_message - 1].envelope(m);
                if let Err(e) = client.handle_recipients(&env) {
                    out.events
                        .push(format!("RecipientsError {}", error_str(&e)));
                    break;
                }
            }
            Action::Idle => {
                if next_message < t.messages.len() {
                    let m = &t.messages[next_message];
                    next_message += 1;
                    body_pos = 0;
                    let env = parts[next_message - 1].envelope(m);
                    if let Err(e) = client.submit(&env) {
                        out.events.push(format!("SubmitError {}", error_str(&e)));
                    }
                } else if t.settings.quit && !quit_sent {
                    quit_sent = true;
                    if let Err(e) = client.quit() {
                        out.events.push(format!("QuitError {}", error_str(&e)));
                        break;
                    }
                } else {
                    break;
                }
            }
            Action::Closed => break,
        }
    }
    out.unread = t.server.len() - fed;
    Ok(out)
}

fn mismatch(t: &Transcript, out: &Outcome) -> String {
    let common = t
        .client
        .iter()
        .zip(&out.client)
        .take_while(|(a, b)| a == b)
        .count();
    let from = common.saturating_sub(60);
    format!(
        "client bytes differ at offset {common}\n  expected: …{}\n  actual:   …{}",
        Escaped(&t.client[from..(common + 80).min(t.client.len())]),
        Escaped(&out.client[from..(common + 80).min(out.client.len())]),
    )
}

/// Checks one replay against the transcript.
pub fn check(t: &Transcript, split: &Split, body_chunk: usize) -> Result<(), String> {
    let out = replay(t, split, body_chunk)?;
    let mut problems = String::new();
    if out.client != t.client {
        let _ = writeln!(problems, "{}", mismatch(t, &out));
    }
    if out.events != t.events {
        let _ = writeln!(
            problems,
            "events differ\n  expected: {:#?}\n  actual:   {:#?}",
            t.events, out.events
        );
    }
    if !out.failed && out.unread != 0 {
        let _ = writeln!(
            problems,
            "the session ended cleanly with {} server bytes unread: {}",
            out.unread,
            Escaped(&t.server[t.server.len() - out.unread..])
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} ({split:?}):\n{problems}", t.name))
    }
}
