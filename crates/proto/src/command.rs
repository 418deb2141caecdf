//! Commands and their arguments, written into the caller's send buffer.
//!
//! ```text
//! C: MAIL FROM:<a@example.com> SIZE=1024 BODY=8BITMIME
//! C: RCPT TO:<b@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@example.net
//! C: BDAT 1024 LAST
//! ```
//!
//! Every argument has been validated ([`crate::address`]) before a command is written, so no
//! CR, LF or NUL from the caller reaches the wire. A command that does not fit reports how
//! many octets it needed and writes nothing the session would send.

use crate::address;
use crate::capability::{Capabilities, Extension};
use crate::envelope::{BodyType, Envelope, Recipient, Ret};
use crate::error::{Argument, Error};

/// A cursor over a slice that counts what did not fit, so the error can say how big the
/// buffer must be.
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
    wanted: usize,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Writer<'b> {
        Writer {
            buf,
            pos: 0,
            wanted: 0,
        }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.wanted + bytes.len();
        if end <= self.buf.len() {
            self.buf[self.wanted..end].copy_from_slice(bytes);
            self.pos = end;
        }
        self.wanted = end;
    }

    pub(crate) fn put_u64(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }

    /// RFC 3461 §4: `xtext = *( xchar / hexchar )`; "+", "=" and bytes outside 33..=126 are
    /// written as "+XX".
    pub(crate) fn put_xtext(&mut self, s: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for &b in s {
            if (33..=126).contains(&b) && b != b'+' && b != b'=' {
                self.put(&[b]);
            } else {
                self.put(&[b'+', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
    }

    /// The length written so far, or that would have been: past the buffer's end when
    /// something did not fit (nothing more is written then).
    pub(crate) fn len(&self) -> usize {
        self.wanted
    }

    /// The length written, or how much room it would have taken.
    pub(crate) fn finish(self) -> Result<usize, Error> {
        if self.wanted > self.buf.len() {
            Err(Error::BufferTooSmall {
                needed: self.wanted,
            })
        } else {
            Ok(self.pos)
        }
    }
}

/// Writes `EHLO name` or `HELO name`.
pub(crate) fn hello(out: &mut [u8], extended: bool, name: &str) -> Result<usize, Error> {
    let mut w = Writer::new(out);
    w.put(if extended { b"EHLO " } else { b"HELO " });
    w.put(name.as_bytes());
    w.put(b"\r\n");
    w.finish()
}

/// Writes a command without arguments.
pub(crate) fn simple(out: &mut [u8], verb: &[u8]) -> Result<usize, Error> {
    let mut w = Writer::new(out);
    w.put(verb);
    w.put(b"\r\n");
    w.finish()
}

fn invalid(argument: Argument) -> impl Fn(address::Failure) -> Error {
    move |(at, invalid)| Error::InvalidArgument {
        argument,
        at,
        invalid,
    }
}

/// What validating an envelope found out.
pub(crate) struct EnvelopeCheck {
    pub(crate) smtputf8: bool,
}

/// Validates every argument of `env` against what the server offers, writing nothing.
pub(crate) fn check_envelope(
    env: &Envelope<'_>,
    caps: &Capabilities,
    encrypted: bool,
) -> Result<EnvelopeCheck, Error> {
    let mut utf8 = env.smtputf8;
    if !env.sender.is_empty() {
        utf8 |= address::mailbox(env.sender)
            .map_err(invalid(Argument::Sender))?
            .utf8;
    }
    for (i, r) in env.recipients.iter().enumerate() {
        utf8 |= recipient(i, r)?;
    }
    if let Some(id) = env.envid {
        address::xtext_source(id).map_err(invalid(Argument::EnvelopeId))?;
    }
    if env.recipients.is_empty() {
        return Err(Error::InvalidArgument {
            argument: Argument::Recipient(0),
            at: 0,
            invalid: crate::error::Invalid::Empty,
        });
    }
    if utf8 && !caps.has(Extension::SmtpUtf8) {
        return Err(Error::ExtensionRequired {
            extension: "SMTPUTF8",
        });
    }
    if env.body == BodyType::EightBitMime && !caps.has(Extension::EightBitMime) {
        return Err(Error::ExtensionRequired {
            extension: "8BITMIME",
        });
    }
    if env.require_tls && (!caps.has(Extension::RequireTls) || !encrypted) {
        return Err(Error::ExtensionRequired {
            extension: "REQUIRETLS",
        });
    }
    if let (Some(size), Some(limit)) = (env.size, caps.size_limit()) {
        if size > limit {
            return Err(Error::MessageTooLarge { size, limit });
        }
    }
    Ok(EnvelopeCheck { smtputf8: utf8 })
}

/// Validates the recipient at index `i`; true when its address needs SMTPUTF8.
fn recipient(i: usize, r: &Recipient<'_>) -> Result<bool, Error> {
    let utf8 = address::mailbox(r.address)
        .map_err(invalid(Argument::Recipient(i)))?
        .utf8;
    if let Some(o) = r.orcpt {
        address::xtext_source(o).map_err(invalid(Argument::OriginalRecipient(i)))?;
    }
    Ok(utf8)
}

/// Validates the recipient at index `i` for a transaction whose MAIL said SMTPUTF8 or not
/// (`smtputf8`): a later flight's recipients must be as safe as the first's.
pub(crate) fn check_recipient(i: usize, r: &Recipient<'_>, smtputf8: bool) -> Result<(), Error> {
    if recipient(i, r)? && !smtputf8 {
        return Err(Error::ExtensionRequired {
            extension: "SMTPUTF8",
        });
    }
    Ok(())
}

/// Writes `MAIL FROM:<sender>` with the parameters the server offers.
pub(crate) fn mail(
    w: &mut Writer<'_>,
    env: &Envelope<'_>,
    caps: &Capabilities,
    check: &EnvelopeCheck,
) {
    w.put(b"MAIL FROM:<");
    w.put(env.sender.as_bytes());
    w.put(b">");
    if let (Some(size), true) = (env.size, caps.has(Extension::Size)) {
        w.put(b" SIZE=");
        w.put_u64(size);
    }
    if env.body == BodyType::EightBitMime {
        w.put(b" BODY=8BITMIME");
    }
    if check.smtputf8 {
        w.put(b" SMTPUTF8");
    }
    if env.require_tls {
        w.put(b" REQUIRETLS");
    }
    if caps.has(Extension::Dsn) {
        match env.ret {
            Some(Ret::Full) => w.put(b" RET=FULL"),
            Some(Ret::Headers) => w.put(b" RET=HDRS"),
            None => {}
        }
        if let Some(id) = env.envid {
            w.put(b" ENVID=");
            w.put_xtext(id.as_bytes());
        }
    }
    w.put(b"\r\n");
}

/// Writes `RCPT TO:<address>` with DSN parameters when the server offers DSN.
pub(crate) fn rcpt(w: &mut Writer<'_>, r: &Recipient<'_>, caps: &Capabilities) {
    w.put(b"RCPT TO:<");
    w.put(r.address.as_bytes());
    w.put(b">");
    if caps.has(Extension::Dsn) {
        let bits = r.notify.bits();
        if bits & 1 != 0 {
            w.put(b" NOTIFY=NEVER");
        } else if bits != 0 {
            w.put(b" NOTIFY=");
            let mut first = true;
            for (bit, name) in [(2, &b"SUCCESS"[..]), (4, b"FAILURE"), (8, b"DELAY")] {
                if bits & bit != 0 {
                    if !first {
                        w.put(b",");
                    }
                    w.put(name);
                    first = false;
                }
            }
        }
        if let Some(o) = r.orcpt {
            w.put(b" ORCPT=rfc822;");
            w.put_xtext(o.as_bytes());
        }
    }
    w.put(b"\r\n");
}

/// Longest BDAT command line: "BDAT " + 20 digits + " LAST\r\n".
pub(crate) const BDAT_HEADER_MAX: usize = 5 + 20 + 7;

/// Writes `BDAT size[ LAST]` right-aligned so that it ends at `out.len()`; returns where it
/// starts.
pub(crate) fn bdat_right_aligned(out: &mut [u8], size: u64, last: bool) -> usize {
    let mut tmp = [0u8; BDAT_HEADER_MAX];
    let mut w = Writer::new(&mut tmp);
    w.put(b"BDAT ");
    w.put_u64(size);
    if last {
        w.put(b" LAST");
    }
    w.put(b"\r\n");
    // Cannot fail: BDAT_HEADER_MAX covers the longest header.
    let n = w.finish().unwrap_or(0);
    let start = out.len() - n;
    out[start..].copy_from_slice(&tmp[..n]);
    start
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Notify;

    fn caps(lines: &[&str]) -> Capabilities {
        let mut c = Capabilities::new();
        for l in lines {
            c.add_line(l.as_bytes());
        }
        c
    }

    fn render(env: &Envelope<'_>, c: &Capabilities) -> Result<std::string::String, Error> {
        let check = check_envelope(env, c, true)?;
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        mail(&mut w, env, c, &check);
        for r in env.recipients {
            rcpt(&mut w, r, c);
        }
        let n = w.finish()?;
        Ok(std::string::String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    #[test]
    fn writes_parameters_only_when_offered() {
        let rcpts = [Recipient {
            address: "b@y.test",
            notify: Notify::FAILURE.union(Notify::DELAY),
            orcpt: Some("b+x=y@y.test"),
        }];
        let mut env = Envelope::new("a@x.test", &rcpts);
        env.size = Some(1234);
        env.ret = Some(Ret::Headers);
        env.envid = Some("id 1");
        let none = caps(&[]);
        assert_eq!(
            render(&env, &none).unwrap(),
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"
        );
        let all = caps(&["SIZE 2000", "DSN"]);
        assert_eq!(
            render(&env, &all).unwrap(),
            "MAIL FROM:<a@x.test> SIZE=1234 RET=HDRS ENVID=id+201\r\n\
             RCPT TO:<b@y.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b+2Bx+3Dy@y.test\r\n"
        );
    }

    #[test]
    fn refuses_oversize_and_missing_extensions() {
        let rcpts = [Recipient::new("b@y.test")];
        let mut env = Envelope::new("a@x.test", &rcpts);
        env.size = Some(5_000_000);
        assert_eq!(
            render(&env, &caps(&["SIZE 1000000"])),
            Err(Error::MessageTooLarge {
                size: 5_000_000,
                limit: 1_000_000
            })
        );
        let utf8 = [Recipient::new("jörg@y.test")];
        let env = Envelope::new("a@x.test", &utf8);
        assert_eq!(
            render(&env, &caps(&[])),
            Err(Error::ExtensionRequired {
                extension: "SMTPUTF8"
            })
        );
        assert_eq!(
            render(&env, &caps(&["SMTPUTF8"])).unwrap(),
            "MAIL FROM:<a@x.test> SMTPUTF8\r\nRCPT TO:<jörg@y.test>\r\n"
        );
    }

    #[test]
    fn refuses_injection_in_recipient() {
        let rcpts = [
            Recipient::new("ok@y.test"),
            Recipient::new("b@y.test>\r\nDATA"),
        ];
        let env = Envelope::new("a@x.test", &rcpts);
        assert_eq!(
            render(&env, &caps(&[])),
            Err(Error::InvalidArgument {
                argument: Argument::Recipient(1),
                at: 9,
                invalid: crate::error::Invalid::Byte(b'\r')
            })
        );
    }

    #[test]
    fn bdat_header_is_right_aligned() {
        let mut buf = [b'.'; 40];
        let start = bdat_right_aligned(&mut buf, 1234, true);
        assert_eq!(&buf[start..], b"BDAT 1234 LAST\r\n");
        assert_eq!(start, 40 - 16);
    }
}
