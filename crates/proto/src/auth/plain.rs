//! `PLAIN` (RFC 4616): authorization identity, username and password in one message.
//!
//! ```text
//! C: AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm
//! S: 235 2.7.0 Authentication successful
//! ```
//!
//! RFC 4616 §2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`. The password is in
//! the clear (base64 is not encryption), so the session offers PLAIN only over TLS
//! (RFC 4954 §4, RFC 4616 §4).

use super::{command_line, password_creds, AuthError, Credentials, Mechanism, Sink};

/// Where a PLAIN exchange is: everything went with the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Sent,
}

pub(super) fn start(creds: &Credentials<'_>, out: &mut [u8]) -> Result<(usize, Step), AuthError> {
    // NUL is the field separator, so check_field's refusal of NUL is what keeps a username
    // from smuggling in another identity.
    let (username, password, authzid) = password_creds(creds)?;
    let message = |s: &mut dyn Sink| {
        s.put(authzid.unwrap_or("").as_bytes());
        s.put(b"\0");
        s.put(username.as_bytes());
        s.put(b"\0");
        s.put(password.as_bytes());
    };
    let n = command_line(out, Mechanism::Plain, Some(&message))?;
    Ok((n, Step::Sent))
}

pub(super) fn challenge(_step: Step, _out: &mut [u8]) -> Result<(usize, Step), AuthError> {
    // The whole message went as the initial response; there is nothing left to say.
    Err(AuthError::UnexpectedChallenge)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b64, esc, password};
    use super::super::{AuthError, Credentials, Exchange, Mechanism};
    use crate::Secret;
    use std::format;

    fn start(creds: &Credentials<'_>) -> std::string::String {
        let mut out = [0u8; 128];
        let n = Exchange::new(Mechanism::Plain)
            .start(creds, b"", &mut out)
            .expect("start");
        esc(&out[..n])
    }

    #[test]
    fn rfc4616_examples() {
        // RFC 4616 §4: "\0tim\0tanstaaftanstaaf" and "Ursel\0Kurt\0xipj3plmq".
        assert_eq!(
            start(&password("tim", "tanstaaftanstaaf")),
            esc(b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
        );
        let creds = Credentials::Password {
            username: "Kurt",
            password: Secret::new("xipj3plmq"),
            authzid: Some("Ursel"),
        };
        assert_eq!(
            start(&creds),
            esc(format!("AUTH PLAIN {}\r\n", b64(b"Ursel\0Kurt\0xipj3plmq")).as_bytes())
        );
    }

    #[test]
    fn nul_in_username_is_refused_with_its_offset() {
        let mut out = [0u8; 128];
        assert_eq!(
            Exchange::new(Mechanism::Plain).start(&password("ti\0m", "x"), b"", &mut out),
            Err(AuthError::InvalidCredential {
                field: "username",
                at: 2
            })
        );
    }

    #[test]
    fn buffer_too_small_says_how_big() {
        let mut ex = Exchange::new(Mechanism::Plain);
        let mut small = [0u8; 20];
        assert_eq!(
            ex.start(&password("tim", "tanstaaftanstaaf"), b"", &mut small),
            Err(AuthError::BufferTooSmall { needed: 41 })
        );
        let mut out = [0u8; 41];
        assert_eq!(
            ex.start(&password("tim", "tanstaaftanstaaf"), b"", &mut out),
            Ok(41)
        );
    }

    #[test]
    fn a_challenge_after_the_initial_response_is_unexpected() {
        let mut ex = Exchange::new(Mechanism::Plain);
        let mut out = [0u8; 128];
        let creds = password("tim", "x");
        ex.start(&creds, b"", &mut out).expect("start");
        assert_eq!(
            ex.challenge(&creds, b"", b"", &mut out),
            Err(AuthError::UnexpectedChallenge)
        );
        assert_eq!(ex.success(b"2.7.0 ok"), Ok(()));
    }
}
