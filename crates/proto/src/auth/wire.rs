//! The plumbing the mechanisms share: byte sinks, so messages are written straight into
//! the output (through base64, into HMACs) without an intermediate buffer, the `AUTH` and
//! response lines, challenge decoding and credential checks.
// Not every mechanism uses every piece; with some left out of the build, some go unused.
#![cfg_attr(
    not(all(
        feature = "auth-plain",
        feature = "auth-login",
        feature = "auth-cram-md5",
        feature = "auth-scram",
        feature = "auth-xoauth2",
        feature = "auth-oauthbearer"
    )),
    allow(dead_code)
)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{AuthError, Credentials, Mechanism};

/// Somewhere bytes go.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

/// The caller's output buffer; counts past its end so the error can say what is needed.
pub(crate) struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Out<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Out { buf, len: 0 }
    }

    pub(crate) fn finish(self) -> Result<usize, AuthError> {
        if self.len > self.buf.len() {
            Err(AuthError::BufferTooSmall { needed: self.len })
        } else {
            Ok(self.len)
        }
    }
}

impl Sink for Out<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
    }
}

/// Base64-encodes (RFC 4648 §4, padded) whatever is put into it, into `inner`.
pub(crate) struct Base64<'s> {
    inner: &'s mut dyn Sink,
    pending: [u8; 3],
    n: usize,
    total: usize,
}

impl<'s> Base64<'s> {
    pub(crate) fn new(inner: &'s mut dyn Sink) -> Self {
        Base64 {
            inner,
            pending: [0; 3],
            n: 0,
            total: 0,
        }
    }

    fn flush(&mut self) {
        let mut enc = [0u8; 4];
        let src = self.pending.get(..self.n).unwrap_or_default();
        if let Ok(k) = STANDARD.encode_slice(src, &mut enc) {
            self.inner.put(enc.get(..k).unwrap_or_default());
        }
        self.n = 0;
    }

    /// Writes the last partial group with its padding; returns how many bytes went in.
    pub(crate) fn finish(mut self) -> usize {
        if self.n > 0 {
            self.flush();
        }
        self.total
    }
}

impl Sink for Base64<'_> {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.pending.get_mut(self.n) {
                *slot = b;
            }
            self.n += 1;
            if self.n == 3 {
                self.flush();
            }
        }
        self.total += bytes.len();
    }
}

/// Writes `name` as a GS2/SCRAM `saslname` (RFC 5801 §4, RFC 5802 §5.1): `,` becomes
/// `=2C` and `=` becomes `=3D`, since those two delimit the message's attributes.
pub(crate) fn put_saslname(s: &mut dyn Sink, name: &str) {
    for piece in name.as_bytes().split_inclusive(|&b| b == b',' || b == b'=') {
        match piece.split_last() {
            Some((b',', head)) => {
                s.put(head);
                s.put(b"=2C");
            }
            Some((b'=', head)) => {
                s.put(head);
                s.put(b"=3D");
            }
            _ => s.put(piece),
        }
    }
}

/// Writes a SASL message into a sink; called once per line, the sink encoding as it goes.
pub(crate) type Message<'a> = &'a dyn Fn(&mut dyn Sink);

/// Writes `AUTH <name>[ <base64 initial response>]\r\n`. An empty initial response is
/// sent as `=` (RFC 4954 §4), to tell it from none.
pub(crate) fn command_line(
    out: &mut [u8],
    mechanism: Mechanism,
    initial: Option<Message<'_>>,
) -> Result<usize, AuthError> {
    let mut w = Out::new(out);
    w.put(b"AUTH ");
    w.put(mechanism.name().as_bytes());
    if let Some(write) = initial {
        w.put(b" ");
        let mut b = Base64::new(&mut w);
        write(&mut b);
        if b.finish() == 0 {
            w.put(b"=");
        }
    }
    w.put(b"\r\n");
    w.finish()
}

/// Writes a response line: base64 of what `write` produces, then CRLF (RFC 4954 §4).
pub(crate) fn response_line(out: &mut [u8], write: Message<'_>) -> Result<usize, AuthError> {
    let mut w = Out::new(out);
    let mut b = Base64::new(&mut w);
    write(&mut b);
    b.finish();
    w.put(b"\r\n");
    w.finish()
}

/// Decodes a base64 challenge (RFC 4954 §4) into `buf`.
pub(crate) fn decode<'b>(text: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], AuthError> {
    // Refuse early what cannot fit, so the decoder's own size check never matters.
    if text.len() / 4 * 3 > buf.len() {
        return Err(AuthError::MalformedChallenge);
    }
    let n = STANDARD
        .decode_slice(text, buf)
        .map_err(|_| AuthError::MalformedChallenge)?;
    buf.get(..n).ok_or(AuthError::MalformedChallenge)
}

/// Refuses NUL, CR, LF and any of `extra` in a credential field.
pub(crate) fn check_field(field: &'static str, value: &str, extra: &[u8]) -> Result<(), AuthError> {
    match value
        .bytes()
        .position(|b| matches!(b, 0 | b'\r' | b'\n') || extra.contains(&b))
    {
        Some(at) => Err(AuthError::InvalidCredential { field, at }),
        None => Ok(()),
    }
}

/// The password credentials, checked, or [`AuthError::WrongCredentialKind`].
pub(crate) fn password_creds<'a>(
    creds: &Credentials<'a>,
) -> Result<(&'a str, &'a str, Option<&'a str>), AuthError> {
    match *creds {
        Credentials::Password {
            username,
            password,
            authzid,
        } => {
            check_field("username", username, &[])?;
            check_field("password", password.expose(), &[])?;
            if let Some(a) = authzid {
                check_field("authzid", a, &[])?;
            }
            Ok((username, password.expose(), authzid))
        }
        Credentials::Token { .. } => Err(AuthError::WrongCredentialKind),
    }
}

/// The token credentials, checked (`0x01` separates OAuth fields, RFC 7628 §3.1), or
/// [`AuthError::WrongCredentialKind`].
pub(crate) fn token_creds<'a>(creds: &Credentials<'a>) -> Result<(&'a str, &'a str), AuthError> {
    match *creds {
        Credentials::Token { username, token } => {
            check_field("username", username, &[0x01])?;
            check_field("token", token.expose(), &[0x01])?;
            Ok((username, token.expose()))
        }
        Credentials::Password { .. } => Err(AuthError::WrongCredentialKind),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b64, esc};
    use super::*;

    #[test]
    fn base64_sink_matches_the_crate_for_any_split() {
        let data = b"any carnal pleasure.";
        for cut in 0..data.len() {
            let mut buf = [0u8; 64];
            let mut w = Out::new(&mut buf);
            let mut b = Base64::new(&mut w);
            b.put(&data[..cut]);
            b.put(&data[cut..]);
            assert_eq!(b.finish(), data.len());
            let n = w.finish().expect("fits");
            assert_eq!(esc(&buf[..n]), esc(b64(data).as_bytes()));
        }
    }

    #[test]
    fn empty_initial_response_is_an_equals_sign() {
        let mut out = [0u8; 32];
        let n =
            command_line(&mut out, Mechanism::Plain, Some(&|_: &mut dyn Sink| {})).expect("fits");
        assert_eq!(esc(&out[..n]), esc(b"AUTH PLAIN =\r\n"));
    }

    #[test]
    fn out_reports_exact_size_needed() {
        let mut out = [0u8; 10];
        assert_eq!(
            command_line(&mut out, Mechanism::ScramSha256, None),
            Err(AuthError::BufferTooSmall { needed: 20 })
        );
    }
}
