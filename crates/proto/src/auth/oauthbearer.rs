//! `OAUTHBEARER` (RFC 7628): the standard OAuth 2.0 bearer-token mechanism.
//!
//! ```text
//! C: AUTH OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB
//! S: 235 2.7.0 Accepted
//! ```
//!
//! RFC 7628 §3.1: `gs2-header kvsep *kvpair kvsep` with the GS2 header `n,a=` user `,`
//! (no channel binding) and the `auth=Bearer <token>` pair; `kvsep` is 0x01. The optional
//! `host` and `port` pairs are not sent (the credentials do not carry them and servers in
//! use do not require them). On failure the server sends `334` with a base64 JSON error;
//! RFC 7628 §3.2.3 has the client answer with a single 0x01, after which the server
//! sends its `5xx`.

use super::{
    command_line, put_saslname, response_line, token_creds, AuthError, Credentials, Mechanism, Sink,
};

/// Where an OAUTHBEARER exchange is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Sent,
    AcknowledgedError,
}

pub(super) fn start(creds: &Credentials<'_>, out: &mut [u8]) -> Result<(usize, Step), AuthError> {
    let (username, token) = token_creds(creds)?;
    let message = |s: &mut dyn Sink| {
        s.put(b"n,a=");
        // The authzid in the GS2 header is a saslname (RFC 5801 §4): ',' and '=' escaped.
        put_saslname(s, username);
        s.put(b",\x01auth=Bearer ");
        s.put(token.as_bytes());
        s.put(b"\x01\x01");
    };
    let n = command_line(out, Mechanism::OAuthBearer, Some(&message))?;
    Ok((n, Step::Sent))
}

pub(super) fn challenge(step: Step, out: &mut [u8]) -> Result<(usize, Step), AuthError> {
    match step {
        // RFC 7628 §3.2.3: the error "MUST be followed by a client response consisting of
        // a single %x01 (control A) character"; the JSON itself is not parsed.
        Step::Sent => Ok((
            response_line(out, &|s: &mut dyn Sink| s.put(b"\x01"))?,
            Step::AcknowledgedError,
        )),
        Step::AcknowledgedError => Err(AuthError::UnexpectedChallenge),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{esc, token, unbase64};
    use super::super::{AuthError, Exchange, Mechanism};

    #[test]
    fn rfc7628_format() {
        // RFC 7628 §4.1's example, without the optional host and port pairs.
        let creds = token(
            "user@example.com",
            "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        );
        let mut out = [0u8; 256];
        let n = Exchange::new(Mechanism::OAuthBearer)
            .start(&creds, b"", &mut out)
            .expect("start");
        assert_eq!(
            esc(&unbase64(&out[..n])),
            esc(b"n,a=user@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01")
        );
        assert_eq!(
            esc(&out[..n]),
            esc(b"AUTH OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB\r\n")
        );
    }

    #[test]
    fn username_is_a_saslname() {
        let mut out = [0u8; 256];
        let n = Exchange::new(Mechanism::OAuthBearer)
            .start(&token("a,b=c", "t"), b"", &mut out)
            .expect("start");
        assert_eq!(
            esc(&unbase64(&out[..n])),
            esc(b"n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01")
        );
    }

    #[test]
    fn error_challenge_gets_a_single_control_a() {
        let creds = token("user@example.com", "t");
        let mut ex = Exchange::new(Mechanism::OAuthBearer);
        let mut out = [0u8; 128];
        ex.start(&creds, b"", &mut out).expect("start");
        let json = b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=";
        let n = ex.challenge(&creds, b"", json, &mut out).expect("ack");
        assert_eq!(esc(&out[..n]), esc(b"AQ==\r\n"));
        assert_eq!(
            ex.challenge(&creds, b"", json, &mut out),
            Err(AuthError::UnexpectedChallenge)
        );
    }

    #[test]
    fn nul_in_username_is_refused() {
        let mut out = [0u8; 128];
        assert_eq!(
            Exchange::new(Mechanism::OAuthBearer).start(&token("\0u", "t"), b"", &mut out),
            Err(AuthError::InvalidCredential {
                field: "username",
                at: 0
            })
        );
    }
}
