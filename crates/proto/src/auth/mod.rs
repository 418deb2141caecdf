//! SASL client mechanisms for SMTP `AUTH` (RFC 4954).
//!
//! ```text
//! S: 250-AUTH SCRAM-SHA-256 PLAIN LOGIN
//! C: AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=
//! S: 334 cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=
//! C: Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==
//! S: 334 dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==
//! C:
//! S: 235 2.7.0 Authentication successful
//! ```
//!
//! One [`Exchange`] drives one `AUTH` command: [`Exchange::start`] writes the command line
//! (with the initial response where the mechanism has one, RFC 4954 §4), each `334` reply
//! goes to [`Exchange::challenge`], which writes the client's response line, and a `235`
//! goes to [`Exchange::success`], which for SCRAM refuses to accept a server that never
//! proved it knows the password. A `5xx`/`4xx` ends the exchange; nothing needs to be told.
//!
//! All output is written into the caller's buffer; nothing is allocated. On
//! [`AuthError::BufferTooSmall`] the exchange is unchanged and the call may be repeated with
//! a bigger buffer (the contents of the too-small one are unspecified).
//!
//! Credentials are borrowed for each call rather than stored, so the `Exchange` holds no
//! secret except, for SCRAM, the ServerSignature it expects (which proves nothing to a
//! server); its `Debug` output shows neither.
//!
//! Limits: a server challenge may be at most [`MAX_CHALLENGE`] bytes once decoded (real
//! ones are under 200); SCRAM iteration counts above [`scram::MAX_ITERATIONS`] are refused
//! so a hostile server cannot make the client spin. Passwords are used as their UTF-8
//! bytes without SASLprep normalization (RFC 4013): identical for ASCII passwords, and for
//! others it is what most deployed servers do too.

use core::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::Secret;

pub mod cram_md5;
pub mod login;
pub mod oauthbearer;
pub mod plain;
pub mod scram;
pub mod xoauth2;

/// The largest decoded server challenge accepted, in bytes.
pub const MAX_CHALLENGE: usize = 512;

/// A SASL mechanism the client can use, as named in the EHLO `AUTH` keyword (RFC 4954 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): the password in the clear; only over TLS.
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login): username and password in two steps.
    Login,
    /// `CRAM-MD5` (RFC 2195): HMAC-MD5 of a server challenge.
    CramMd5,
    /// `XOAUTH2`: Google's and Microsoft's OAuth 2.0 bearer-token format.
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628): the standard OAuth 2.0 bearer-token mechanism.
    OAuthBearer,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677), without channel binding.
    ScramSha256,
}

impl Mechanism {
    /// Every mechanism this crate implements.
    pub const ALL: [Mechanism; 6] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
        Mechanism::ScramSha256,
    ];

    /// The registered SASL name, as sent after `AUTH`.
    pub const fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Looks a mechanism up by name, ignoring ASCII case (RFC 4422 §3.1 names are
    /// upper case, but servers are not always careful).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether the mechanism takes [`Credentials::Token`] rather than a password.
    pub const fn uses_token(self) -> bool {
        matches!(self, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
    }

    /// Rank for automatic choice among mechanisms of the same credential kind; higher is
    /// preferred. Passwords: SCRAM-SHA-256 (mutual authentication, no password on the
    /// wire) > CRAM-MD5 > PLAIN > LOGIN (non-standard). Tokens: OAUTHBEARER (standard) >
    /// XOAUTH2.
    pub const fn strength(self) -> u8 {
        match self {
            Mechanism::ScramSha256 => 4,
            Mechanism::CramMd5 => 3,
            Mechanism::Plain => 2,
            Mechanism::Login => 1,
            Mechanism::OAuthBearer => 2,
            Mechanism::XOAuth2 => 1,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Picks the strongest of the `offered` mechanisms that fits the kind of `creds`
/// (see [`Mechanism::strength`]), or `None` if none does.
pub fn choose(
    offered: impl Iterator<Item = Mechanism>,
    creds: &Credentials<'_>,
) -> Option<Mechanism> {
    let token = matches!(creds, Credentials::Token { .. });
    offered
        .filter(|m| m.uses_token() == token)
        .max_by_key(|m| m.strength())
}

/// What the caller authenticates with. Borrowed, no heap; the secret part never prints.
#[derive(Clone, Copy, Debug)]
pub enum Credentials<'a> {
    /// For PLAIN, LOGIN, CRAM-MD5 and SCRAM-SHA-256.
    Password {
        /// The authentication identity (RFC 4422 §2 "authcid").
        username: &'a str,
        /// The password.
        password: Secret<&'a str>,
        /// Act as this identity instead (RFC 4422 §2 "authzid"); PLAIN and SCRAM only,
        /// ignored by LOGIN and CRAM-MD5, which cannot carry it.
        authzid: Option<&'a str>,
    },
    /// For XOAUTH2 and OAUTHBEARER.
    Token {
        /// The account the token was issued for.
        username: &'a str,
        /// The OAuth 2.0 access token (RFC 6750 bearer token).
        token: Secret<&'a str>,
    },
}

/// Why an exchange cannot go on. A server's refusal (`535`) is not an error here: it is a
/// reply the session reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// `out` is too small; `needed` bytes would do. Nothing changed; call again.
    BufferTooSmall {
        /// Bytes the line needs.
        needed: usize,
    },
    /// A credential field (or the SCRAM client nonce) holds a byte the mechanism cannot
    /// carry: NUL, CR or LF in any field, `0x01` in OAuth fields, and in the nonce anything
    /// but printable ASCII other than `,`. SCRAM's `,` and `=` in names are escaped, not
    /// refused (RFC 5802 §5.1).
    InvalidCredential {
        /// `"username"`, `"password"`, `"authzid"`, `"token"` or `"nonce"`.
        field: &'static str,
        /// Byte offset of the offending byte in that field.
        at: usize,
    },
    /// Token credentials for a password mechanism, or the other way round.
    WrongCredentialKind,
    /// The server's challenge is not valid base64 or not what the mechanism expects (for
    /// SCRAM: a nonce that does not extend ours, a bad salt, an iteration count out of
    /// range, a mandatory extension).
    MalformedChallenge,
    /// A `334` arrived when the mechanism has nothing more to send, or before `start`.
    UnexpectedChallenge,
    /// SCRAM: the server's signature is wrong, or it sent an `e=` error (RFC 5802 §7).
    ServerSignatureMismatch,
    /// SCRAM: `235` arrived before the server proved it knows the password (RFC 5802 §5.1).
    ServerNotVerified,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            AuthError::InvalidCredential { field, at } => {
                write!(f, "invalid byte in {field} at offset {at}")
            }
            AuthError::WrongCredentialKind => {
                f.write_str("credential kind does not fit the mechanism")
            }
            AuthError::MalformedChallenge => f.write_str("malformed server challenge"),
            AuthError::UnexpectedChallenge => f.write_str("unexpected server challenge"),
            AuthError::ServerSignatureMismatch => {
                f.write_str("server failed to prove it knows the password")
            }
            AuthError::ServerNotVerified => {
                f.write_str("server accepted before proving it knows the password")
            }
        }
    }
}

/// Where each mechanism is in its exchange.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Plain(plain::Step),
    Login(login::Step),
    CramMd5(cram_md5::Step),
    XOAuth2(xoauth2::Step),
    OAuthBearer(oauthbearer::Step),
    Scram(scram::Step),
}

/// One `AUTH` exchange in progress; see the [module docs](self).
///
/// Small and `Copy`; credentials are passed to each call, not kept.
#[derive(Clone, Copy)]
pub struct Exchange {
    mechanism: Mechanism,
    state: State,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The SCRAM state holds the expected ServerSignature; print only where we are.
        let step = match self.state {
            State::NotStarted => "not started",
            State::Plain(_) | State::XOAuth2(_) | State::OAuthBearer(_) => "sent",
            State::Login(s) => s.name(),
            State::CramMd5(s) => s.name(),
            State::Scram(s) => s.name(),
        };
        f.debug_struct("Exchange")
            .field("mechanism", &self.mechanism)
            .field("step", &step)
            .finish()
    }
}

impl Exchange {
    /// An exchange for `mechanism`, before the `AUTH` command.
    pub fn new(mechanism: Mechanism) -> Self {
        Exchange {
            mechanism,
            state: State::NotStarted,
        }
    }

    /// The mechanism this exchange uses.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Writes the whole command line `AUTH <NAME>[ <initial-response>]\r\n` into `out` and
    /// returns its length.
    ///
    /// PLAIN, XOAUTH2, OAUTHBEARER and SCRAM-SHA-256 send an initial response (RFC 4954
    /// §4, which also says an empty one is sent as `=`); LOGIN and CRAM-MD5 do not.
    /// `nonce` is the SCRAM client nonce (RFC 5802 §5.1: printable ASCII except `,`; at
    /// least 16 random bytes' worth recommended, from the caller's RNG); other mechanisms
    /// ignore it. Pass the same `creds` and `nonce` to every later call. Calling `start`
    /// again begins the exchange afresh.
    pub fn start(
        &mut self,
        creds: &Credentials<'_>,
        nonce: &[u8],
        out: &mut [u8],
    ) -> Result<usize, AuthError> {
        let (n, state) = match self.mechanism {
            Mechanism::Plain => plain::start(creds, out).map(|(n, s)| (n, State::Plain(s)))?,
            Mechanism::Login => login::start(creds, out).map(|(n, s)| (n, State::Login(s)))?,
            Mechanism::CramMd5 => {
                cram_md5::start(creds, out).map(|(n, s)| (n, State::CramMd5(s)))?
            }
            Mechanism::XOAuth2 => {
                xoauth2::start(creds, out).map(|(n, s)| (n, State::XOAuth2(s)))?
            }
            Mechanism::OAuthBearer => {
                oauthbearer::start(creds, out).map(|(n, s)| (n, State::OAuthBearer(s)))?
            }
            Mechanism::ScramSha256 => {
                scram::start(creds, nonce, out).map(|(n, s)| (n, State::Scram(s)))?
            }
        };
        self.state = state;
        Ok(n)
    }

    /// Answers a `334` reply; `text` is what follows `334 ` (without CRLF, maybe empty).
    /// Writes the response line (base64 and CRLF, or CRLF alone) into `out` and returns its
    /// length.
    ///
    /// - LOGIN: the first `334` gets the username, the second the password (whatever the
    ///   prompts say); a third is [`AuthError::UnexpectedChallenge`].
    /// - CRAM-MD5: `user SP hex(HMAC-MD5(password, challenge))` (RFC 2195 §2).
    /// - XOAUTH2, OAUTHBEARER: the `334` carries the server's error JSON; the answer is an
    ///   empty line (XOAUTH2) or a single `0x01` (RFC 7628 §3.2.3), after which the server
    ///   sends its final failure reply.
    /// - SCRAM-SHA-256: the server-first message gets the client-final message with the
    ///   proof; the server-final message is verified (RFC 5802 §3) and answered with an
    ///   empty line, or refused with [`AuthError::ServerSignatureMismatch`].
    /// - PLAIN: a `334` is [`AuthError::UnexpectedChallenge`].
    ///
    /// On an error the exchange is unchanged: for SCRAM that means a later `235` is still
    /// refused as [`AuthError::ServerNotVerified`]. The session should cancel the exchange
    /// with a `*` line (RFC 4954 §4) or close the connection.
    pub fn challenge(
        &mut self,
        creds: &Credentials<'_>,
        nonce: &[u8],
        text: &[u8],
        out: &mut [u8],
    ) -> Result<usize, AuthError> {
        let (n, state) = match self.state {
            State::NotStarted => return Err(AuthError::UnexpectedChallenge),
            State::Plain(s) => plain::challenge(s, out).map(|(n, s)| (n, State::Plain(s)))?,
            State::Login(s) => {
                login::challenge(s, creds, out).map(|(n, s)| (n, State::Login(s)))?
            }
            State::CramMd5(s) => {
                cram_md5::challenge(s, creds, text, out).map(|(n, s)| (n, State::CramMd5(s)))?
            }
            State::XOAuth2(s) => xoauth2::challenge(s, out).map(|(n, s)| (n, State::XOAuth2(s)))?,
            State::OAuthBearer(s) => {
                oauthbearer::challenge(s, out).map(|(n, s)| (n, State::OAuthBearer(s)))?
            }
            State::Scram(s) => {
                scram::challenge(s, creds, nonce, text, out).map(|(n, s)| (n, State::Scram(s)))?
            }
        };
        self.state = state;
        Ok(n)
    }

    /// The server said `235`; `text` is its reply text.
    ///
    /// For SCRAM-SHA-256 this is `Ok` only if the server proved itself: either its
    /// server-final message came in an earlier `334`, or `text` is (or ends with) the
    /// base64 of a valid `v=` server-final message. Otherwise a server that never checked
    /// the password (an impostor) would be accepted, which is what SCRAM exists to
    /// prevent (RFC 5802 §9). Other mechanisms: always `Ok`.
    pub fn success(&mut self, text: &[u8]) -> Result<(), AuthError> {
        match self.state {
            State::Scram(s) => {
                self.state = State::Scram(scram::success(s, text)?);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared plumbing: byte sinks, so messages are written straight into the output (through
// base64, into HMACs) without an intermediate buffer.

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
pub(crate) mod tests {
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// Escaped bytes, so a mismatch shows where.
    pub(crate) fn esc(bytes: &[u8]) -> String {
        bytes.escape_ascii().to_string()
    }

    /// A response line's base64 payload, decoded.
    pub(crate) fn unbase64(line: &[u8]) -> Vec<u8> {
        let line = line.strip_suffix(b"\r\n").expect("CRLF");
        let b64 = line.rsplit(|&b| b == b' ').next().unwrap_or(line);
        let mut out = std::vec![0u8; b64.len()];
        let n = STANDARD.decode_slice(b64, &mut out).expect("base64");
        out.truncate(n);
        out
    }

    pub(crate) fn b64(bytes: &[u8]) -> String {
        let mut out = std::vec![0u8; bytes.len() * 4 / 3 + 4];
        let n = STANDARD.encode_slice(bytes, &mut out).expect("fits");
        out.truncate(n);
        String::from_utf8(out).expect("ASCII")
    }

    pub(crate) fn password<'a>(user: &'a str, pass: &'a str) -> Credentials<'a> {
        Credentials::Password {
            username: user,
            password: Secret::new(pass),
            authzid: None,
        }
    }

    pub(crate) fn token<'a>(user: &'a str, tok: &'a str) -> Credentials<'a> {
        Credentials::Token {
            username: user,
            token: Secret::new(tok),
        }
    }

    #[test]
    fn names_round_trip_ignoring_case() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name().as_bytes()), Some(m));
            let lower = m.name().to_ascii_lowercase();
            assert_eq!(Mechanism::from_name(lower.as_bytes()), Some(m));
        }
        assert_eq!(Mechanism::from_name(b"SCRAM-SHA-1"), None);
        assert_eq!(Mechanism::from_name(b""), None);
    }

    #[test]
    fn choose_prefers_the_strongest_of_the_right_kind() {
        let offered = [
            Mechanism::Login,
            Mechanism::Plain,
            Mechanism::XOAuth2,
            Mechanism::CramMd5,
        ];
        let pw = password("u", "p");
        assert_eq!(choose(offered.into_iter(), &pw), Some(Mechanism::CramMd5));
        assert_eq!(
            choose(Mechanism::ALL.into_iter(), &pw),
            Some(Mechanism::ScramSha256)
        );
        let tok = token("u", "t");
        assert_eq!(choose(offered.into_iter(), &tok), Some(Mechanism::XOAuth2));
        assert_eq!(
            choose(Mechanism::ALL.into_iter(), &tok),
            Some(Mechanism::OAuthBearer)
        );
        assert_eq!(choose([Mechanism::Plain].into_iter(), &tok), None);
    }

    #[test]
    fn credentials_never_print() {
        let creds = Credentials::Password {
            username: "tim",
            password: Secret::new("tanstaaftanstaaf"),
            authzid: None,
        };
        let shown = std::format!("{creds:?}");
        assert!(!shown.contains("tanstaaf"), "{shown}");
        let creds = token("tim", "ya29.secret");
        let shown = std::format!("{creds:?}");
        assert!(!shown.contains("ya29"), "{shown}");
    }

    #[test]
    fn wrong_credential_kind_is_refused_by_every_mechanism() {
        for m in Mechanism::ALL {
            let creds = if m.uses_token() {
                password("u", "p")
            } else {
                token("u", "t")
            };
            let mut out = [0u8; 256];
            assert_eq!(
                Exchange::new(m).start(&creds, b"nonce", &mut out),
                Err(AuthError::WrongCredentialKind),
                "{m}"
            );
        }
    }

    #[test]
    fn challenge_before_start_is_unexpected() {
        for m in Mechanism::ALL {
            let mut out = [0u8; 64];
            assert_eq!(
                Exchange::new(m).challenge(&password("u", "p"), b"n", b"", &mut out),
                Err(AuthError::UnexpectedChallenge),
                "{m}"
            );
        }
    }

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

    #[test]
    fn debug_shows_the_step_not_the_state() {
        let mut ex = Exchange::new(Mechanism::Login);
        let mut out = [0u8; 64];
        ex.start(&password("u", "p"), b"", &mut out).expect("fits");
        assert_eq!(
            std::format!("{ex:?}"),
            "Exchange { mechanism: Login, step: \"sent AUTH\" }"
        );
    }
}
