//! `XOAUTH2`: Google's (and Microsoft's) OAuth 2.0 bearer-token mechanism, predating
//! RFC 7628.
//!
//! ```text
//! C: AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==
//! S: 235 2.7.0 Accepted
//! ```
//!
//! The initial response is `user=` username `^A` `auth=Bearer ` token `^A^A` (`^A` is
//! 0x01), as Google's "XOAUTH2 protocol" page specifies. On failure the server first sends
//! `334` with a base64 JSON error status; the client answers with an empty line, and the
//! server then sends its `5xx`.

use super::{command_line, response_line, token_creds, AuthError, Credentials, Mechanism, Sink};

/// Where an XOAUTH2 exchange is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Sent,
    AcknowledgedError,
}

pub(super) fn start(creds: &Credentials<'_>, out: &mut [u8]) -> Result<(usize, Step), AuthError> {
    let (username, token) = token_creds(creds)?;
    let message = |s: &mut dyn Sink| {
        s.put(b"user=");
        s.put(username.as_bytes());
        s.put(b"\x01auth=Bearer ");
        s.put(token.as_bytes());
        s.put(b"\x01\x01");
    };
    let n = command_line(out, Mechanism::XOAuth2, Some(&message))?;
    Ok((n, Step::Sent))
}

pub(super) fn challenge(step: Step, out: &mut [u8]) -> Result<(usize, Step), AuthError> {
    match step {
        // The 334 carries the error JSON; the empty answer lets the server finish with
        // its 5xx. The JSON is not parsed: the final reply is what the session reports.
        Step::Sent => Ok((
            response_line(out, &|_: &mut dyn Sink| {})?,
            Step::AcknowledgedError,
        )),
        Step::AcknowledgedError => Err(AuthError::UnexpectedChallenge),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{esc, password, token, unbase64};
    use super::super::{AuthError, Exchange, Mechanism};

    #[test]
    fn google_documented_format() {
        let creds = token(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        let mut out = [0u8; 256];
        let n = Exchange::new(Mechanism::XOAuth2)
            .start(&creds, b"", &mut out)
            .expect("start");
        assert!(out[..n].starts_with(b"AUTH XOAUTH2 "), "{}", esc(&out[..n]));
        assert_eq!(
            esc(&out[..n]),
            esc(b"AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n")
        );
        assert_eq!(
            esc(&unbase64(&out[..n])),
            esc(b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01")
        );
    }

    #[test]
    fn error_challenge_gets_an_empty_line_once() {
        let creds = token("u@example.com", "t");
        let mut ex = Exchange::new(Mechanism::XOAuth2);
        let mut out = [0u8; 128];
        ex.start(&creds, b"", &mut out).expect("start");
        let json = b"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
        let n = ex.challenge(&creds, b"", json, &mut out).expect("ack");
        assert_eq!(esc(&out[..n]), esc(b"\r\n"));
        assert_eq!(
            ex.challenge(&creds, b"", json, &mut out),
            Err(AuthError::UnexpectedChallenge)
        );
    }

    #[test]
    fn separator_byte_in_token_is_refused() {
        let mut out = [0u8; 128];
        assert_eq!(
            Exchange::new(Mechanism::XOAuth2).start(&token("u", "ab\x01c"), b"", &mut out),
            Err(AuthError::InvalidCredential {
                field: "token",
                at: 2
            })
        );
        assert_eq!(
            Exchange::new(Mechanism::XOAuth2).start(&password("u", "p"), b"", &mut out),
            Err(AuthError::WrongCredentialKind)
        );
    }

    #[test]
    fn buffer_too_small_says_how_big() {
        let mut out = [0u8; 16];
        assert_eq!(
            Exchange::new(Mechanism::XOAuth2).start(&token("u", "t"), b"", &mut out),
            Err(AuthError::BufferTooSmall { needed: 47 })
        );
    }
}
