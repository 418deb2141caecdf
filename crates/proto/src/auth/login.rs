//! `LOGIN` (draft-murchison-sasl-login): username and password, each after a prompt.
//!
//! ```text
//! C: AUTH LOGIN
//! S: 334 VXNlcm5hbWU6
//! C: dGlt
//! S: 334 UGFzc3dvcmQ6
//! C: dGFuc3RhYWZ0YW5zdGFhZg==
//! S: 235 2.7.0 Authentication successful
//! ```
//!
//! The prompts are usually `Username:` and `Password:` in base64, but the draft (§2)
//! makes them informational and servers vary (some localize them), so the answer depends
//! only on how many `334`s came before. LOGIN cannot carry an authzid; it is ignored.
//! The password is in the clear: TLS only.

use super::{password_creds, response_line, AuthError, Credentials, Mechanism, Sink};

/// Where a LOGIN exchange is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Started,
    UsernameSent,
    PasswordSent,
}

impl Step {
    pub(super) fn name(self) -> &'static str {
        match self {
            Step::Started => "sent AUTH",
            Step::UsernameSent => "sent username",
            Step::PasswordSent => "sent password",
        }
    }
}

pub(super) fn start(creds: &Credentials<'_>, out: &mut [u8]) -> Result<(usize, Step), AuthError> {
    password_creds(creds)?;
    let n = super::command_line(out, Mechanism::Login, None)?;
    Ok((n, Step::Started))
}

pub(super) fn challenge(
    step: Step,
    creds: &Credentials<'_>,
    out: &mut [u8],
) -> Result<(usize, Step), AuthError> {
    let (username, password, _) = password_creds(creds)?;
    let (field, next) = match step {
        Step::Started => (username, Step::UsernameSent),
        Step::UsernameSent => (password, Step::PasswordSent),
        Step::PasswordSent => return Err(AuthError::UnexpectedChallenge),
    };
    let n = response_line(out, &|s: &mut dyn Sink| s.put(field.as_bytes()))?;
    Ok((n, next))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{esc, password};
    use super::super::{AuthError, Exchange, Mechanism};

    #[test]
    fn username_then_password_whatever_the_prompts() {
        let creds = password("tim", "tanstaaftanstaaf");
        let mut ex = Exchange::new(Mechanism::Login);
        let mut out = [0u8; 64];
        let n = ex.start(&creds, b"", &mut out).expect("start");
        assert_eq!(esc(&out[..n]), esc(b"AUTH LOGIN\r\n"));
        let n = ex
            .challenge(&creds, b"", b"VXNlcm5hbWU6", &mut out)
            .expect("username");
        assert_eq!(esc(&out[..n]), esc(b"dGlt\r\n"));
        // Not base64 at all: still the second prompt, so the password.
        let n = ex
            .challenge(&creds, b"", b"Passwort bitte", &mut out)
            .expect("password");
        assert_eq!(esc(&out[..n]), esc(b"dGFuc3RhYWZ0YW5zdGFhZg==\r\n"));
        assert_eq!(ex.success(b""), Ok(()));
    }

    #[test]
    fn a_third_challenge_is_unexpected() {
        let creds = password("tim", "x");
        let mut ex = Exchange::new(Mechanism::Login);
        let mut out = [0u8; 64];
        ex.start(&creds, b"", &mut out).expect("start");
        ex.challenge(&creds, b"", b"", &mut out).expect("username");
        ex.challenge(&creds, b"", b"", &mut out).expect("password");
        assert_eq!(
            ex.challenge(&creds, b"", b"", &mut out),
            Err(AuthError::UnexpectedChallenge)
        );
    }

    #[test]
    fn empty_password_is_an_empty_line() {
        let creds = password("tim", "");
        let mut ex = Exchange::new(Mechanism::Login);
        let mut out = [0u8; 64];
        ex.start(&creds, b"", &mut out).expect("start");
        ex.challenge(&creds, b"", b"", &mut out).expect("username");
        let n = ex.challenge(&creds, b"", b"", &mut out).expect("password");
        assert_eq!(esc(&out[..n]), esc(b"\r\n"));
    }

    #[test]
    fn buffer_too_small_leaves_the_step_unchanged() {
        let creds = password("timothy", "x");
        let mut ex = Exchange::new(Mechanism::Login);
        let mut out = [0u8; 64];
        ex.start(&creds, b"", &mut out).expect("start");
        assert_eq!(
            ex.challenge(&creds, b"", b"", &mut out[..4]),
            Err(AuthError::BufferTooSmall { needed: 14 })
        );
        let n = ex.challenge(&creds, b"", b"", &mut out).expect("username");
        assert_eq!(esc(&out[..n]), esc(b"dGltb3RoeQ==\r\n"));
    }
}
