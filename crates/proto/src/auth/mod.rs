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
//! Each mechanism is a Cargo feature (`auth-plain`, `auth-login`, `auth-cram-md5`,
//! `auth-scram`, `auth-xoauth2`, `auth-oauthbearer`; all in `default`, and in `auth`), so
//! a device links only the ones it uses. [`Mechanism`] names all six either way
//! ([`Mechanism::is_built`] says which are in): one left out is never chosen, and asking
//! for it is [`AuthError::MechanismNotBuilt`]. With none built for the kind of credentials
//! configured, the session fails with [`AuthError::NoMechanismBuilt`] before any `AUTH`;
//! without credentials it works as before.
//!
//! Limits: a server challenge may be at most [`MAX_CHALLENGE`] bytes once decoded (real
//! ones are under 200); SCRAM iteration counts above `scram::MAX_ITERATIONS` are refused
//! so a hostile server cannot make the client spin. Passwords are used as their UTF-8
//! bytes without SASLprep normalization (RFC 4013): identical for ASCII passwords, and for
//! others it is what most deployed servers do too.

use core::fmt;

use crate::Secret;

#[cfg(feature = "auth-cram-md5")]
pub mod cram_md5;
#[cfg(feature = "auth-login")]
pub mod login;
#[cfg(feature = "auth-oauthbearer")]
pub mod oauthbearer;
#[cfg(feature = "auth-plain")]
pub mod plain;
#[cfg(feature = "auth-scram")]
pub mod scram;
#[cfg(feature = "_sasl")]
mod wire;
#[cfg(feature = "auth-xoauth2")]
pub mod xoauth2;

#[cfg(feature = "_sasl")]
use wire::*;

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

    /// Whether this build includes the mechanism: its Cargo feature
    /// ([`feature`](Self::feature)) was enabled. One that is not is never chosen, and
    /// [`Exchange::start`] refuses it with [`AuthError::MechanismNotBuilt`].
    pub const fn is_built(self) -> bool {
        match self {
            Mechanism::Plain => cfg!(feature = "auth-plain"),
            Mechanism::Login => cfg!(feature = "auth-login"),
            Mechanism::CramMd5 => cfg!(feature = "auth-cram-md5"),
            Mechanism::XOAuth2 => cfg!(feature = "auth-xoauth2"),
            Mechanism::OAuthBearer => cfg!(feature = "auth-oauthbearer"),
            Mechanism::ScramSha256 => cfg!(feature = "auth-scram"),
        }
    }

    /// The Cargo feature of `postel-proto` that builds the mechanism in.
    pub const fn feature(self) -> &'static str {
        match self {
            Mechanism::Plain => "auth-plain",
            Mechanism::Login => "auth-login",
            Mechanism::CramMd5 => "auth-cram-md5",
            Mechanism::XOAuth2 => "auth-xoauth2",
            Mechanism::OAuthBearer => "auth-oauthbearer",
            Mechanism::ScramSha256 => "auth-scram",
        }
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
/// (see [`Mechanism::strength`]) and is [built](Mechanism::is_built), or `None` if none
/// does.
pub fn choose(
    offered: impl Iterator<Item = Mechanism>,
    creds: &Credentials<'_>,
) -> Option<Mechanism> {
    offered
        .filter(|m| m.is_built() && fits(*m, creds))
        .max_by_key(|m| m.strength())
}

/// Whether any [built](Mechanism::is_built) mechanism takes credentials of the kind of
/// `creds`; if not, no server can be authenticated to with them.
pub fn any_built_for(creds: &Credentials<'_>) -> bool {
    Mechanism::ALL
        .into_iter()
        .any(|m| m.is_built() && fits(m, creds))
}

/// Whether `m` takes credentials of the kind of `creds`.
fn fits(m: Mechanism, creds: &Credentials<'_>) -> bool {
    m.uses_token() == matches!(creds, Credentials::Token { .. })
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
    /// The mechanism was left out of this build (its Cargo feature,
    /// [`Mechanism::feature`], is off). Nothing was sent.
    MechanismNotBuilt(Mechanism),
    /// Credentials are configured, but no mechanism that takes their kind (password or
    /// token) is built in: enable one of the `auth-*` Cargo features. Nothing was sent.
    NoMechanismBuilt,
}

impl core::error::Error for AuthError {}

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
            AuthError::MechanismNotBuilt(m) => write!(
                f,
                "SASL mechanism {m} is not in this build (Cargo feature {} of postel-proto)",
                m.feature()
            ),
            AuthError::NoMechanismBuilt => f.write_str(
                "no SASL mechanism for these credentials is in this build (Cargo features auth-* of postel-proto)",
            ),
        }
    }
}

/// Where each mechanism is in its exchange.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    #[cfg(feature = "auth-plain")]
    Plain(plain::Step),
    #[cfg(feature = "auth-login")]
    Login(login::Step),
    #[cfg(feature = "auth-cram-md5")]
    CramMd5(cram_md5::Step),
    #[cfg(feature = "auth-xoauth2")]
    XOAuth2(xoauth2::Step),
    #[cfg(feature = "auth-oauthbearer")]
    OAuthBearer(oauthbearer::Step),
    #[cfg(feature = "auth-scram")]
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
            #[cfg(feature = "auth-plain")]
            State::Plain(_) => "sent",
            #[cfg(feature = "auth-xoauth2")]
            State::XOAuth2(_) => "sent",
            #[cfg(feature = "auth-oauthbearer")]
            State::OAuthBearer(_) => "sent",
            #[cfg(feature = "auth-login")]
            State::Login(s) => s.name(),
            #[cfg(feature = "auth-cram-md5")]
            State::CramMd5(s) => s.name(),
            #[cfg(feature = "auth-scram")]
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
    ///
    /// A mechanism left out of the build is [`AuthError::MechanismNotBuilt`].
    // With no mechanism built, every arm returns.
    #[cfg_attr(not(feature = "_sasl"), allow(unreachable_code))]
    pub fn start(
        &mut self,
        creds: &Credentials<'_>,
        nonce: &[u8],
        out: &mut [u8],
    ) -> Result<usize, AuthError> {
        // Unused when no mechanism needs them.
        let _ = (creds, nonce, &out);
        let (n, state) = match self.mechanism {
            #[cfg(feature = "auth-plain")]
            Mechanism::Plain => plain::start(creds, out).map(|(n, s)| (n, State::Plain(s)))?,
            #[cfg(feature = "auth-login")]
            Mechanism::Login => login::start(creds, out).map(|(n, s)| (n, State::Login(s)))?,
            #[cfg(feature = "auth-cram-md5")]
            Mechanism::CramMd5 => {
                cram_md5::start(creds, out).map(|(n, s)| (n, State::CramMd5(s)))?
            }
            #[cfg(feature = "auth-xoauth2")]
            Mechanism::XOAuth2 => {
                xoauth2::start(creds, out).map(|(n, s)| (n, State::XOAuth2(s)))?
            }
            #[cfg(feature = "auth-oauthbearer")]
            Mechanism::OAuthBearer => {
                oauthbearer::start(creds, out).map(|(n, s)| (n, State::OAuthBearer(s)))?
            }
            #[cfg(feature = "auth-scram")]
            Mechanism::ScramSha256 => {
                scram::start(creds, nonce, out).map(|(n, s)| (n, State::Scram(s)))?
            }
            #[allow(unreachable_patterns)] // every mechanism built
            m => return Err(AuthError::MechanismNotBuilt(m)),
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
    #[cfg_attr(not(feature = "_sasl"), allow(unreachable_code))]
    pub fn challenge(
        &mut self,
        creds: &Credentials<'_>,
        nonce: &[u8],
        text: &[u8],
        out: &mut [u8],
    ) -> Result<usize, AuthError> {
        // Unused when no mechanism needs them.
        let _ = (creds, nonce, text, &out);
        let (n, state) = match self.state {
            State::NotStarted => return Err(AuthError::UnexpectedChallenge),
            #[cfg(feature = "auth-plain")]
            State::Plain(s) => plain::challenge(s, out).map(|(n, s)| (n, State::Plain(s)))?,
            #[cfg(feature = "auth-login")]
            State::Login(s) => {
                login::challenge(s, creds, out).map(|(n, s)| (n, State::Login(s)))?
            }
            #[cfg(feature = "auth-cram-md5")]
            State::CramMd5(s) => {
                cram_md5::challenge(s, creds, text, out).map(|(n, s)| (n, State::CramMd5(s)))?
            }
            #[cfg(feature = "auth-xoauth2")]
            State::XOAuth2(s) => xoauth2::challenge(s, out).map(|(n, s)| (n, State::XOAuth2(s)))?,
            #[cfg(feature = "auth-oauthbearer")]
            State::OAuthBearer(s) => {
                oauthbearer::challenge(s, out).map(|(n, s)| (n, State::OAuthBearer(s)))?
            }
            #[cfg(feature = "auth-scram")]
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
        let _ = text; // unused without SCRAM
        match self.state {
            #[cfg(feature = "auth-scram")]
            State::Scram(s) => {
                self.state = State::Scram(scram::success(s, text)?);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    // Helpers for the mechanisms' tests: with some mechanisms left out, some go unused.
    #![allow(dead_code)]

    use super::*;
    use std::string::{String, ToString};
    #[cfg(feature = "_sasl")]
    use std::vec::Vec;

    /// Escaped bytes, so a mismatch shows where.
    pub(crate) fn esc(bytes: &[u8]) -> String {
        bytes.escape_ascii().to_string()
    }

    /// A response line's base64 payload, decoded.
    #[cfg(feature = "_sasl")]
    pub(crate) fn unbase64(line: &[u8]) -> Vec<u8> {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        let line = line.strip_suffix(b"\r\n").expect("CRLF");
        let b64 = line.rsplit(|&b| b == b' ').next().unwrap_or(line);
        let mut out = std::vec![0u8; b64.len()];
        let n = STANDARD.decode_slice(b64, &mut out).expect("base64");
        out.truncate(n);
        out
    }

    #[cfg(feature = "_sasl")]
    pub(crate) fn b64(bytes: &[u8]) -> String {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
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
    #[cfg(feature = "auth")]
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
        for m in Mechanism::ALL.into_iter().filter(|m| m.is_built()) {
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
    fn mechanisms_left_out_of_the_build_are_refused_and_never_chosen() {
        let features = [
            (Mechanism::Plain, cfg!(feature = "auth-plain")),
            (Mechanism::Login, cfg!(feature = "auth-login")),
            (Mechanism::CramMd5, cfg!(feature = "auth-cram-md5")),
            (Mechanism::XOAuth2, cfg!(feature = "auth-xoauth2")),
            (Mechanism::OAuthBearer, cfg!(feature = "auth-oauthbearer")),
            (Mechanism::ScramSha256, cfg!(feature = "auth-scram")),
        ];
        for (m, built) in features {
            assert_eq!(m.is_built(), built, "{m}");
            let creds = if m.uses_token() {
                token("u", "t")
            } else {
                password("u", "p")
            };
            let chosen = choose([m].into_iter(), &creds);
            let mut out = [0u8; 256];
            let started = Exchange::new(m).start(&creds, b"0123456789abcdef", &mut out);
            if built {
                assert_eq!(chosen, Some(m));
                assert!(started.is_ok(), "{m}: {started:?}");
            } else {
                assert_eq!(chosen, None, "{m} is not built, so never chosen");
                assert_eq!(started, Err(AuthError::MechanismNotBuilt(m)));
                assert_eq!(
                    AuthError::MechanismNotBuilt(m).to_string(),
                    std::format!(
                        "SASL mechanism {} is not in this build (Cargo feature {} of postel-proto)",
                        m.name(),
                        m.feature()
                    )
                );
            }
        }
        let any_password = features.iter().any(|&(m, b)| b && !m.uses_token());
        let any_token = features.iter().any(|&(m, b)| b && m.uses_token());
        assert_eq!(any_built_for(&password("u", "p")), any_password);
        assert_eq!(any_built_for(&token("u", "t")), any_token);
    }

    #[test]
    #[cfg(feature = "auth-login")]
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
