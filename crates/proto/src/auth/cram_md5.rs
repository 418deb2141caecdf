//! `CRAM-MD5` (RFC 2195): the password keys an HMAC-MD5 of the server's challenge.
//!
//! ```text
//! C: AUTH CRAM-MD5
//! S: 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+
//! C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw
//! S: 235 2.7.0 Authentication successful
//! ```
//!
//! The password never crosses the wire, but the server must store it in the clear (or an
//! equivalent), and MD5 is weak; SCRAM is preferred where offered. No authzid.

use hmac::{Hmac, Mac};
use md5::Md5;

use super::{decode, password_creds, response_line, AuthError, Credentials, Mechanism, Sink};

/// Where a CRAM-MD5 exchange is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Started,
    DigestSent,
}

impl Step {
    pub(super) fn name(self) -> &'static str {
        match self {
            Step::Started => "sent AUTH",
            Step::DigestSent => "sent digest",
        }
    }
}

pub(super) fn start(creds: &Credentials<'_>, out: &mut [u8]) -> Result<(usize, Step), AuthError> {
    password_creds(creds)?;
    let n = super::command_line(out, Mechanism::CramMd5, None)?;
    Ok((n, Step::Started))
}

pub(super) fn challenge(
    step: Step,
    creds: &Credentials<'_>,
    text: &[u8],
    out: &mut [u8],
) -> Result<(usize, Step), AuthError> {
    if step != Step::Started {
        return Err(AuthError::UnexpectedChallenge);
    }
    let (username, password, _) = password_creds(creds)?;
    let mut buf = [0u8; super::MAX_CHALLENGE];
    let challenge = decode(text, &mut buf)?;
    // RFC 2195 §2: digest = HMAC-MD5(key = password, text = challenge), sent as 32
    // lower-case hex digits after the user name and one space.
    let mut mac = match Hmac::<Md5>::new_from_slice(password.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length (RFC 2104 §2)"),
    };
    mac.update(challenge);
    let digest = mac.finalize().into_bytes();
    let mut hex = [0u8; 32];
    for (pair, b) in hex.chunks_exact_mut(2).zip(digest) {
        pair.copy_from_slice(&[
            HEX_DIGITS[usize::from(b >> 4)],
            HEX_DIGITS[usize::from(b & 15)],
        ]);
    }
    let n = response_line(out, &|s: &mut dyn Sink| {
        s.put(username.as_bytes());
        s.put(b" ");
        s.put(&hex);
    })?;
    Ok((n, Step::DigestSent))
}

const HEX_DIGITS: [u8; 16] = *b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::super::tests::{esc, password, unbase64};
    use super::super::{AuthError, Exchange, Mechanism};

    #[test]
    fn rfc2195_example() {
        let creds = password("tim", "tanstaaftanstaaf");
        let mut ex = Exchange::new(Mechanism::CramMd5);
        let mut out = [0u8; 64];
        let n = ex.start(&creds, b"", &mut out).expect("start");
        assert_eq!(esc(&out[..n]), esc(b"AUTH CRAM-MD5\r\n"));
        let challenge = b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
        let n = ex
            .challenge(&creds, b"", challenge, &mut out)
            .expect("digest");
        assert_eq!(
            esc(&out[..n]),
            esc(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n")
        );
        assert_eq!(
            esc(&unbase64(&out[..n])),
            esc(b"tim b913a602c7eda7a495b4e6e7334d3890")
        );
        assert_eq!(ex.success(b""), Ok(()));
    }

    #[test]
    fn bad_base64_challenge_is_malformed() {
        let creds = password("tim", "x");
        let mut ex = Exchange::new(Mechanism::CramMd5);
        let mut out = [0u8; 64];
        ex.start(&creds, b"", &mut out).expect("start");
        assert_eq!(
            ex.challenge(&creds, b"", b"<1896@host>", &mut out),
            Err(AuthError::MalformedChallenge)
        );
    }

    #[test]
    fn a_second_challenge_is_unexpected() {
        let creds = password("tim", "x");
        let mut ex = Exchange::new(Mechanism::CramMd5);
        let mut out = [0u8; 64];
        ex.start(&creds, b"", &mut out).expect("start");
        ex.challenge(&creds, b"", b"PDE+", &mut out)
            .expect("digest");
        assert_eq!(
            ex.challenge(&creds, b"", b"PDE+", &mut out),
            Err(AuthError::UnexpectedChallenge)
        );
    }

    #[test]
    fn buffer_too_small_says_how_big() {
        let creds = password("tim", "tanstaaftanstaaf");
        let mut ex = Exchange::new(Mechanism::CramMd5);
        let mut out = [0u8; 64];
        ex.start(&creds, b"", &mut out).expect("start");
        assert_eq!(
            ex.challenge(&creds, b"", b"PDE+", &mut out[..10]),
            Err(AuthError::BufferTooSmall { needed: 50 })
        );
    }
}
