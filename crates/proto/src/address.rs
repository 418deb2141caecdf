//! Validation of what goes into commands: mailboxes, domains, address literals.
//!
//! Strict in what we send: an address either matches RFC 5321 §4.1.2 (with the RFC 6531
//! UTF-8 extension) or it is refused with the offset of the first offending byte, before
//! anything is written. CR, LF and NUL can therefore never reach the wire through an argument.
//!
//! ```text
//! Mailbox    = Local-part "@" ( Domain / address-literal )
//! Local-part = Dot-string / Quoted-string
//! Dot-string = Atom *("."  Atom)
//! Domain     = sub-domain *("." sub-domain)
//! sub-domain = Let-dig [Ldh-str]        ; or a U-label with SMTPUTF8 (RFC 6531 §3.3)
//! ```

use crate::error::Invalid;

/// What validation learned about a mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MailboxInfo {
    /// The mailbox holds non-ASCII octets and can only be sent with SMTPUTF8.
    pub(crate) utf8: bool,
}

/// A validation failure at a byte offset.
pub(crate) type Failure = (usize, Invalid);

fn control(at: usize, b: u8) -> Failure {
    (at, Invalid::Byte(b))
}

/// RFC 5322 §3.2.3 atext, plus any non-ASCII octet (RFC 6531 §3.3 UTF8-non-ascii).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

/// Checks the bytes that are never allowed anywhere: ASCII controls and DEL.
fn check_controls(s: &[u8]) -> Result<(), Failure> {
    match s.iter().position(|&b| b < 0x20 || b == 0x7f) {
        Some(at) => Err(control(at, s[at])),
        None => Ok(()),
    }
}

/// Validates a mailbox (no angle brackets). An empty string is the null reverse-path only
/// where the caller allows it.
pub(crate) fn mailbox(s: &str) -> Result<MailboxInfo, Failure> {
    let b = s.as_bytes();
    check_controls(b)?;
    if b.is_empty() {
        return Err((0, Invalid::Empty));
    }
    let at = if b[0] == b'"' {
        quoted_string(b)?
    } else {
        dot_string(b)?
    };
    if b.get(at) != Some(&b'@') {
        return Err((at, Invalid::Syntax));
    }
    let domain_start = at + 1;
    let rest = &b[domain_start..];
    if rest.first() == Some(&b'[') {
        address_literal(rest).map_err(|(i, e)| (domain_start + i, e))?;
    } else {
        domain(rest, true).map_err(|(i, e)| (domain_start + i, e))?;
    }
    Ok(MailboxInfo {
        utf8: !s.is_ascii(),
    })
}

/// Reads a Dot-string from the start; returns where it ends.
fn dot_string(b: &[u8]) -> Result<usize, Failure> {
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && is_atext(b[i]) {
            i += 1;
        }
        if i == start {
            return Err((i, Invalid::Syntax));
        }
        if b.get(i) != Some(&b'.') {
            return Ok(i);
        }
        i += 1;
    }
}

/// Reads a Quoted-string from the start; returns where it ends (after the closing quote).
fn quoted_string(b: &[u8]) -> Result<usize, Failure> {
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Ok(i + 1),
            // quoted-pairSMTP = %d92 %d32-126
            b'\\' => match b.get(i + 1) {
                Some(&c) if (32..=126).contains(&c) => i += 2,
                _ => return Err((i, Invalid::Syntax)),
            },
            _ => i += 1,
        }
    }
    Err((b.len(), Invalid::Syntax))
}

/// Validates a domain name: labels of letters, digits and hyphens, not starting or ending with
/// a hyphen; with `utf8`, non-ASCII labels are allowed (they need SMTPUTF8).
pub(crate) fn domain(b: &[u8], utf8: bool) -> Result<(), Failure> {
    check_controls(b)?;
    if b.is_empty() {
        return Err((0, Invalid::Empty));
    }
    if b.len() > 255 {
        return Err((255, Invalid::TooLong));
    }
    let mut start = 0;
    for label in b.split(|&c| c == b'.') {
        let ok_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || (utf8 && c >= 0x80);
        if label.is_empty() || label.len() > 63 {
            return Err((start, Invalid::Syntax));
        }
        if let Some(p) = label.iter().position(|&c| !ok_byte(c)) {
            return Err((start + p, Invalid::Syntax));
        }
        if label[0] == b'-' || label[label.len() - 1] == b'-' {
            return Err((start, Invalid::Syntax));
        }
        start += label.len() + 1;
    }
    Ok(())
}

/// Validates `[a.b.c.d]`, `[IPv6:...]` or a general literal `[tag:content]` (RFC 5321 §4.1.3).
pub(crate) fn address_literal(b: &[u8]) -> Result<(), Failure> {
    check_controls(b)?;
    if b.len() < 3 || b[0] != b'[' || b[b.len() - 1] != b']' {
        return Err((0, Invalid::Syntax));
    }
    let inner = &b[1..b.len() - 1];
    // dcontent = %d33-90 / %d94-126: printable ASCII except "[", "\", "]".
    match inner
        .iter()
        .position(|&c| !(33..=126).contains(&c) || matches!(c, b'[' | b'\\' | b']'))
    {
        Some(p) => Err((1 + p, Invalid::Syntax)),
        None => Ok(()),
    }
}

/// Validates the EHLO/HELO argument: a domain (ASCII: A-labels) or an address literal.
pub(crate) fn ehlo_name(s: &str) -> Result<(), Failure> {
    let b = s.as_bytes();
    if b.first() == Some(&b'[') {
        address_literal(b)
    } else {
        domain(b, false)
    }
}

/// Validates an `xtext`-able printable value (RFC 3461 ENVID, ORCPT address): any byte is
/// encoded, but controls and non-ASCII are refused so nothing ambiguous is sent.
pub(crate) fn xtext_source(s: &str) -> Result<(), Failure> {
    let b = s.as_bytes();
    check_controls(b)?;
    if b.is_empty() {
        return Err((0, Invalid::Empty));
    }
    match b.iter().position(|&c| c >= 0x80) {
        Some(p) => Err((p, Invalid::NonAscii)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_quoted_mailboxes() {
        assert_eq!(
            mailbox("a.b+c@example.com"),
            Ok(MailboxInfo { utf8: false })
        );
        assert_eq!(
            mailbox("\"john doe\"@example.com").map(|i| i.utf8),
            Ok(false)
        );
        assert_eq!(
            mailbox("\"a\\\"b@c\"@example.com").map(|i| i.utf8),
            Ok(false)
        );
        assert_eq!(mailbox("postmaster@[127.0.0.1]").map(|i| i.utf8), Ok(false));
        assert_eq!(mailbox("x@[IPv6:::1]").map(|i| i.utf8), Ok(false));
        assert_eq!(mailbox("jörg@bücher.example").map(|i| i.utf8), Ok(true));
    }

    #[test]
    fn refuses_injection_with_offset() {
        assert_eq!(
            mailbox("a@b.c\r\nRCPT TO:<x@y>"),
            Err((5, Invalid::Byte(b'\r')))
        );
        assert_eq!(mailbox("a\n@b.c"), Err((1, Invalid::Byte(b'\n'))));
        assert_eq!(mailbox("a@b\0.c"), Err((3, Invalid::Byte(0))));
        assert_eq!(mailbox("a>@b.c"), Err((1, Invalid::Syntax)));
        assert_eq!(mailbox("a@b.c> SIZE=1"), Err((5, Invalid::Syntax)));
        assert_eq!(mailbox("a b@c.d"), Err((1, Invalid::Syntax)));
    }

    #[test]
    fn refuses_bad_syntax() {
        assert_eq!(mailbox(""), Err((0, Invalid::Empty)));
        assert_eq!(mailbox("no-at-sign"), Err((10, Invalid::Syntax)));
        assert_eq!(mailbox("a..b@c.d"), Err((2, Invalid::Syntax)));
        assert_eq!(mailbox("a@-c.d"), Err((2, Invalid::Syntax)));
        assert_eq!(mailbox("a@c..d"), Err((4, Invalid::Syntax)));
        assert_eq!(mailbox("\"open@c.d"), Err((9, Invalid::Syntax)));
    }

    #[test]
    fn ehlo_name_is_ascii_domain_or_literal() {
        assert_eq!(ehlo_name("client.example"), Ok(()));
        assert_eq!(ehlo_name("[192.0.2.1]"), Ok(()));
        assert_eq!(ehlo_name("bücher.example"), Err((1, Invalid::Syntax)));
        assert_eq!(ehlo_name("a b"), Err((1, Invalid::Syntax)));
        assert_eq!(ehlo_name("x\r\nMAIL"), Err((1, Invalid::Byte(b'\r'))));
    }
}
