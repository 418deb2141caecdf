//! What arrived: messages with their envelopes and exact bytes, and session transcripts.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

/// One ESMTP parameter of MAIL or RCPT (RFC 5321 §4.1.2 `esmtp-param`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The keyword, upper-cased.
    pub keyword: String,
    /// The value after `=`, as sent.
    pub value: Option<String>,
}

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address without angle brackets.
    pub address: String,
    /// Its RCPT parameters (NOTIFY, ORCPT, ...), validated.
    pub params: Vec<Param>,
}

impl Recipient {
    /// The value of a parameter, if it was given (keyword compared ignoring case).
    pub fn param(&self, keyword: &str) -> Option<&str> {
        find_param(&self.params, keyword)
    }
}

/// How the message body was transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// DATA, un-dot-stuffed.
    Data,
    /// BDAT chunks, concatenated.
    Bdat,
}

/// One message the simulator accepted (replied 250 to, or withheld the 250 by a
/// [`crate::fault::Action::CloseAfterAccept`] fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The connection number, from 1.
    pub connection: u64,
    /// The id in the `250 2.0.0 Ok: queued as <id>` reply.
    pub queue_id: String,
    /// The EHLO or HELO argument.
    pub helo: String,
    /// The reverse-path without angle brackets (empty for `<>`).
    pub mail_from: String,
    /// MAIL parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH), validated.
    pub mail_params: Vec<Param>,
    /// Accepted recipients, in order.
    pub rcpt_to: Vec<Recipient>,
    /// The message exactly as delivered: after un-dot-stuffing for DATA (the final
    /// `.CRLF` removed, the CRLF before it kept), chunks concatenated for BDAT.
    pub data: Vec<u8>,
    /// DATA or BDAT.
    pub transfer: Transfer,
    /// Whether the session was under TLS.
    pub tls: bool,
    /// The authenticated user, if any.
    pub auth_user: Option<String>,
}

impl ReceivedMessage {
    /// The value of a MAIL parameter, if it was given (keyword compared ignoring case).
    pub fn mail_param(&self, keyword: &str) -> Option<&str> {
        find_param(&self.mail_params, keyword)
    }

    /// The recipients' addresses.
    pub fn recipients(&self) -> Vec<&str> {
        self.rcpt_to.iter().map(|r| r.address.as_str()).collect()
    }
}

fn find_param<'a>(params: &'a [Param], keyword: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| p.keyword.eq_ignore_ascii_case(keyword))
        .map(|p| p.value.as_deref().unwrap_or(""))
}

/// Who wrote a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client (`C:`).
    Client,
    /// The simulator (`S:`).
    Server,
}

/// One line of a transcript, without its line ending. Non-printable bytes are escaped
/// as `\r`, `\n`, `\xHH`; AUTH data is `<redacted>`; `#` lines note events (close, TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Who sent it, or `None` for a `#` note.
    pub side: Option<Side>,
    /// The text.
    pub text: String,
}

/// The transcript of one connection, in the `testdata/transcripts/*.smtp` format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The connection number, from 1.
    pub connection: u64,
    /// The lines in order.
    pub lines: Vec<Line>,
    /// Whether the connection has ended.
    pub closed: bool,
}

impl Transcript {
    /// The lines the server wrote, in order.
    pub fn server_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.side == Some(Side::Server))
            .map(|l| l.text.as_str())
            .collect()
    }

    /// The lines the client wrote, in order.
    pub fn client_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.side == Some(Side::Client))
            .map(|l| l.text.as_str())
            .collect()
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# connection {}", self.connection)?;
        for l in &self.lines {
            match l.side {
                Some(Side::Client) => writeln!(f, "C: {}", l.text)?,
                Some(Side::Server) => writeln!(f, "S: {}", l.text)?,
                None => writeln!(f, "# {}", l.text)?,
            }
        }
        Ok(())
    }
}

/// Escapes bytes for a transcript line: printable ASCII and UTF-8 as is, the rest as
/// `\r`, `\n`, `\t` or `\xHH`, and `\` as `\\`.
pub fn escape(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lossless = matches!(text, std::borrow::Cow::Borrowed(_));
    let mut out = String::with_capacity(bytes.len());
    if lossless {
        for c in text.chars() {
            push_escaped(&mut out, c as u32, Some(c));
        }
    } else {
        for &b in bytes {
            push_escaped(&mut out, u32::from(b), (b < 0x80).then_some(b as char));
        }
    }
    out
}

fn push_escaped(out: &mut String, code: u32, c: Option<char>) {
    match c {
        Some('\r') => out.push_str("\\r"),
        Some('\n') => out.push_str("\\n"),
        Some('\t') => out.push_str("\\t"),
        Some('\\') => out.push_str("\\\\"),
        Some(c) if !c.is_control() => out.push(c),
        _ => out.push_str(&format!("\\x{:02X}", code)),
    }
}

/// Writes `data` into `<dir>/tmp` and renames it into `<dir>/new` (the Maildir
/// protocol), creating the three folders if needed. Returns the file name.
pub(crate) fn deliver_to_maildir(dir: &Path, unique: &str, data: &[u8]) -> std::io::Result<String> {
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let tmp = dir.join("tmp").join(unique);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join("new").join(unique))?;
    Ok(unique.to_owned())
}
