//! Protocol deviations found in a session, each pinned to the transcript line where it
//! happened, with what real servers would do about it.
//!
//! The simulator notes a deviation whatever its own [`crate::Strictness`]: a lenient
//! simulator accepts a bare LF and still says that Postfix with
//! `smtpd_forbid_bare_newline = reject` would have refused it.
//!
//! ```
//! use postel_sim::annotate::{Deviation, Outcome};
//! let v = Deviation::BareLf.verdicts();
//! assert!(v.iter().any(|v| v.server.starts_with("Postfix") && v.outcome == Outcome::Refuses));
//! ```

/// One kind of protocol deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Deviation {
    /// A line ended in LF without the CR before it (RFC 5321 §2.3.8).
    BareLf,
    /// A CR not followed by LF (RFC 5321 §2.3.8).
    BareCr,
    /// The client closed with an unterminated line, or a BDAT message does not end in CRLF.
    MissingCrlf,
    /// Commands sent before the reply they must wait for: without PIPELINING, after a
    /// command that ends a group (RFC 2920 §3.1), or before the greeting.
    Pipelining,
    /// A command line over 512 octets with its CRLF (RFC 5321 §4.5.3.1.4, with the
    /// extensions' allowances on MAIL and RCPT).
    CommandLineTooLong,
    /// A text line over 1000 octets with its CRLF (RFC 5321 §4.5.3.1.6).
    TextLineTooLong,
    /// A DATA line starting with a single `.`: the server removes it (RFC 5321 §4.5.2),
    /// so the client did not dot-stuff; or BDAT data that looks dot-stuffed.
    DotStuffing,
    /// 8-bit octets in a message sent without `BODY=8BITMIME` (RFC 6152 §3).
    EightBitWithout8BitMime,
    /// A UTF-8 address, or UTF-8 in the header, without `SMTPUTF8` (RFC 6531 §3.4).
    SmtpUtf8,
    /// No `From:` header field (RFC 5322 §3.6 requires one).
    NoFrom,
    /// No `Date:` header field (RFC 5322 §3.6 requires one).
    NoDate,
    /// No `Message-ID:` header field (RFC 5322 §3.6.4: SHOULD).
    NoMessageId,
}

/// What a server does with a deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Takes it (perhaps altered: see [`Verdict::how`]).
    Accepts,
    /// Refuses the command or message, or drops the connection.
    Refuses,
    /// Not documented; the note says what is known.
    Unknown,
}

impl Outcome {
    /// `accepts`, `refuses` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepts => "accepts",
            Outcome::Refuses => "refuses",
            Outcome::Unknown => "unknown",
        }
    }
}

/// What one real server does, from its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The server and the settings the verdict is for.
    pub server: &'static str,
    /// Accepts, refuses, or unknown.
    pub outcome: Outcome,
    /// How, with the setting or the reply.
    pub how: &'static str,
}

const POSTFIX: &str = "Postfix 3.9 (defaults)";
const POSTFIX_STRICT: &str = "Postfix (strict settings)";
const EXIM: &str = "Exim 4.96 (defaults)";
const GMAIL: &str = "Gmail (MX)";

macro_rules! v {
    ($server:expr, $outcome:expr, $how:expr) => {
        Verdict {
            server: $server,
            outcome: $outcome,
            how: $how,
        }
    };
}

use Outcome::{Accepts, Refuses, Unknown};

impl Deviation {
    /// Every deviation, in the order of the docs.
    pub const ALL: [Deviation; 12] = [
        Deviation::BareLf,
        Deviation::BareCr,
        Deviation::MissingCrlf,
        Deviation::Pipelining,
        Deviation::CommandLineTooLong,
        Deviation::TextLineTooLong,
        Deviation::DotStuffing,
        Deviation::EightBitWithout8BitMime,
        Deviation::SmtpUtf8,
        Deviation::NoFrom,
        Deviation::NoDate,
        Deviation::NoMessageId,
    ];

    /// The deviation with this [`Deviation::code`].
    pub fn from_code(code: &str) -> Option<Deviation> {
        Deviation::ALL.into_iter().find(|d| d.code() == code)
    }

    /// A stable name for JSON and CSS: `bare-lf`, `pipelining`, ...
    pub fn code(self) -> &'static str {
        match self {
            Deviation::BareLf => "bare-lf",
            Deviation::BareCr => "bare-cr",
            Deviation::MissingCrlf => "missing-crlf",
            Deviation::Pipelining => "pipelining",
            Deviation::CommandLineTooLong => "command-line-too-long",
            Deviation::TextLineTooLong => "text-line-too-long",
            Deviation::DotStuffing => "dot-stuffing",
            Deviation::EightBitWithout8BitMime => "8bit-without-8bitmime",
            Deviation::SmtpUtf8 => "smtputf8",
            Deviation::NoFrom => "no-from",
            Deviation::NoDate => "no-date",
            Deviation::NoMessageId => "no-message-id",
        }
    }

    /// One line saying what is wrong, with the RFC.
    pub fn title(self) -> &'static str {
        match self {
            Deviation::BareLf => "bare LF: line ended without CR (RFC 5321 §2.3.8)",
            Deviation::BareCr => "bare CR: CR not followed by LF (RFC 5321 §2.3.8)",
            Deviation::MissingCrlf => "missing CRLF at the end",
            Deviation::Pipelining => {
                "command sent before its reply was due (RFC 2920 §3.1; no PIPELINING, or after a command that ends a group)"
            }
            Deviation::CommandLineTooLong => {
                "command line over 512 octets (RFC 5321 §4.5.3.1.4)"
            }
            Deviation::TextLineTooLong => "text line over 1000 octets (RFC 5321 §4.5.3.1.6)",
            Deviation::DotStuffing => "dot-stuffing (RFC 5321 §4.5.2)",
            Deviation::EightBitWithout8BitMime => {
                "8-bit data without BODY=8BITMIME (RFC 6152 §3)"
            }
            Deviation::SmtpUtf8 => "UTF-8 without SMTPUTF8 (RFC 6531 §3.4)",
            Deviation::NoFrom => "no From: header field (RFC 5322 §3.6)",
            Deviation::NoDate => "no Date: header field (RFC 5322 §3.6)",
            Deviation::NoMessageId => "no Message-ID: header field (RFC 5322 §3.6.4)",
        }
    }

    /// What Postfix (defaults and strict settings), Exim and Gmail do with it.
    pub fn verdicts(self) -> &'static [Verdict] {
        match self {
            Deviation::BareLf => &[
                v!(POSTFIX, Accepts, "smtpd_forbid_bare_newline = normalize (the 3.9 default): LF alone ends a line, only <CR><LF>.<CR><LF> ends DATA; before 3.9 (and in the backports' default `no`) it is taken as is"),
                v!(POSTFIX_STRICT, Refuses, "smtpd_forbid_bare_newline = reject: 550 5.5.2 Error: bare <LF> received, then disconnect"),
                v!(EXIM, Accepts, "spec \"Line endings\": an LF not preceded by CR is treated as a line ending (in commands and in DATA)"),
                v!(GMAIL, Unknown, "not documented; a message that is not RFC 5322 compliant may be refused with 550 5.7.1"),
            ],
            Deviation::BareCr => &[
                v!(POSTFIX, Accepts, "a bare CR is kept as an ordinary character of the line"),
                v!(POSTFIX_STRICT, Accepts, "smtpd_forbid_bare_newline concerns LF only; the CR is kept"),
                v!(EXIM, Accepts, "spec \"Line endings\": a CR is treated as a line ending (the line is split there)"),
                v!(GMAIL, Unknown, "not documented"),
            ],
            Deviation::MissingCrlf => &[
                v!(POSTFIX, Refuses, "an unterminated last line is not a command; at the end of BDAT data the message ends without a line ending"),
                v!(POSTFIX_STRICT, Refuses, "as with the defaults"),
                v!(EXIM, Refuses, "an unterminated last line is not a command"),
                v!(GMAIL, Refuses, "an unterminated last line is not a command"),
            ],
            Deviation::Pipelining => &[
                v!(POSTFIX, Refuses, "smtpd_forbid_unauth_pipelining = yes (the 3.9 default): disconnects (improper command pipelining); postscreen's pregreet test catches a client that talks before the greeting"),
                v!(POSTFIX_STRICT, Refuses, "smtpd_forbid_unauth_pipelining = yes: disconnect"),
                v!(EXIM, Accepts, "smtp_enforce_sync refuses input sent ahead only where PIPELINING is not advertised, but pipelining_advertise_hosts = * (the default) advertises it to every host, and PIPECONNECT lets EHLO come before the greeting: EHLO+MAIL, HELO+MAIL+RCPT and DATA+message sent at once are all taken"),
                v!(GMAIL, Unknown, "not documented"),
            ],
            Deviation::CommandLineTooLong => &[
                v!(POSTFIX, Accepts, "line_length_limit = 2048: longer command lines are not refused below that"),
                v!(POSTFIX_STRICT, Accepts, "line_length_limit applies, not the RFC's 512"),
                v!(EXIM, Accepts, "Exim reads command lines longer than 512 octets"),
                v!(GMAIL, Unknown, "not documented"),
            ],
            Deviation::TextLineTooLong => &[
                v!(POSTFIX, Accepts, "line_length_limit = 2048: longer lines are split into pieces (the message is altered, not refused)"),
                v!(POSTFIX_STRICT, Accepts, "as with the defaults (lines over line_length_limit are split)"),
                v!(EXIM, Accepts, "accepted on input; the smtp transport's message_linelength_limit (998, Exim 4.95+) fails it when relayed"),
                v!(GMAIL, Unknown, "not documented for receiving; lines over 998 characters break RFC 5322 §2.1.1"),
            ],
            Deviation::DotStuffing => &[
                v!(POSTFIX, Accepts, "the leading dot is removed: the message is silently altered"),
                v!(POSTFIX_STRICT, Accepts, "the leading dot is removed: the message is silently altered"),
                v!(EXIM, Accepts, "the leading dot is removed: the message is silently altered"),
                v!(GMAIL, Accepts, "the leading dot is removed: the message is silently altered"),
            ],
            Deviation::EightBitWithout8BitMime => &[
                v!(POSTFIX, Accepts, "strict_8bitmime_body = no (default)"),
                v!(POSTFIX_STRICT, Refuses, "strict_8bitmime = yes (strict_7bit_headers + strict_8bitmime_body): 554 5.6.0 invalid message content"),
                v!(EXIM, Accepts, "accepted"),
                v!(GMAIL, Unknown, "not documented"),
            ],
            Deviation::SmtpUtf8 => &[
                v!(POSTFIX, Accepts, "smtputf8_enable = yes: a UTF-8 sender without SMTPUTF8 is taken at MAIL, and UTF-8 in headers passes (strict_7bit_headers = no)"),
                v!(POSTFIX_STRICT, Refuses, "strict_7bit_headers = yes (part of strict_8bitmime) refuses 8-bit headers; the envelope address is not checked"),
                v!(EXIM, Accepts, "a UTF-8 sender without SMTPUTF8 is taken at MAIL"),
                v!(GMAIL, Unknown, "not documented"),
            ],
            Deviation::NoFrom => &[
                v!(POSTFIX, Accepts, "no header checks by default"),
                v!(POSTFIX_STRICT, Accepts, "no header checks unless header_checks are configured"),
                v!(EXIM, Accepts, "accepted unless an ACL has `verify = header_syntax` or requires the field"),
                v!(GMAIL, Refuses, "550 5.7.1 ... not RFC 5322 compliant: 'From' header is missing"),
            ],
            Deviation::NoDate => &[
                v!(POSTFIX, Accepts, "no header checks by default (cleanup adds Date only for local submissions)"),
                v!(POSTFIX_STRICT, Accepts, "no header checks unless configured"),
                v!(EXIM, Accepts, "accepted"),
                v!(GMAIL, Unknown, "not documented"),
            ],
            Deviation::NoMessageId => &[
                v!(POSTFIX, Accepts, "accepted (cleanup adds one only for local submissions or always_add_missing_headers)"),
                v!(POSTFIX_STRICT, Accepts, "accepted"),
                v!(EXIM, Accepts, "accepted"),
                v!(GMAIL, Refuses, "550 5.7.1 Messages missing a valid Message-ID header are not accepted"),
            ],
        }
    }
}

/// One deviation at one transcript line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// The index into [`crate::Transcript::lines`] of the line it is about.
    pub line: usize,
    /// What kind of deviation.
    pub deviation: Deviation,
    /// What exactly was seen (escaped like transcript text).
    pub detail: String,
}

/// Header-section findings for a received message: missing fields and UTF-8 without
/// SMTPUTF8. Returns `(deviation, detail)` pairs.
pub(crate) fn check_header(data: &[u8], smtputf8: bool) -> Vec<(Deviation, String)> {
    let end = find_header_end(data);
    let header = &data[..end];
    let has = |name: &str| {
        header
            .split(|b| *b == b'\n')
            .any(|l| l.len() > name.len() && l[..name.len()].eq_ignore_ascii_case(name.as_bytes()))
    };
    let mut out = Vec::new();
    if !has("from:") {
        out.push((
            Deviation::NoFrom,
            "the header has no From: field".to_owned(),
        ));
    }
    if !has("date:") {
        out.push((
            Deviation::NoDate,
            "the header has no Date: field".to_owned(),
        ));
    }
    if !has("message-id:") {
        out.push((
            Deviation::NoMessageId,
            "the header has no Message-ID: field".to_owned(),
        ));
    }
    if !smtputf8 && header.iter().any(|b| *b >= 0x80) {
        out.push((
            Deviation::SmtpUtf8,
            "8-bit octets in the header without SMTPUTF8 on MAIL (RFC 6532 needs it)".to_owned(),
        ));
    }
    out
}

/// Where the header section ends: after the first empty line, or the whole message.
fn find_header_end(data: &[u8]) -> usize {
    let mut start = 0;
    for (i, b) in data.iter().enumerate() {
        if *b == b'\n' {
            let line = &data[start..i];
            if line.is_empty() || line == b"\r" {
                return start;
            }
            start = i + 1;
        }
    }
    data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks_find_missing_fields_and_8bit() {
        let ok = b"From: a@b\r\nDate: x\r\nMessage-ID: <1@b>\r\n\r\nbody without from:\r\n";
        assert!(check_header(ok, false).is_empty());
        let bad = "Subject: h\u{e9}\r\n\r\nFrom: in the body\r\n".as_bytes();
        let kinds: Vec<Deviation> = check_header(bad, false).into_iter().map(|f| f.0).collect();
        assert_eq!(
            kinds,
            vec![
                Deviation::NoFrom,
                Deviation::NoDate,
                Deviation::NoMessageId,
                Deviation::SmtpUtf8
            ]
        );
        assert!(!check_header(bad, true)
            .iter()
            .any(|f| f.0 == Deviation::SmtpUtf8));
    }

    #[test]
    fn every_deviation_has_four_verdicts() {
        for d in Deviation::ALL {
            assert_eq!(d.verdicts().len(), 4, "{}", d.code());
            assert_eq!(Deviation::from_code(d.code()), Some(d));
        }
    }
}
