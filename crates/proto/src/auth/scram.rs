//! `SCRAM-SHA-256` (RFC 5802 with SHA-256 per RFC 7677), without channel binding.
//!
//! ```text
//! C: AUTH SCRAM-SHA-256 <base64 of "n,,n=user,r=rOprNGfwEbeRWgbNEkqO">
//! S: 334 <base64 of "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096">
//! C: <base64 of "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=">
//! S: 334 <base64 of "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=">
//! C:
//! S: 235 2.7.0 Authentication successful
//! ```
//!
//! (RFC 7677 §3's example.) The client proves it knows the password without sending it,
//! and the server proves it knows the salted password too: [`Exchange::success`] refuses
//! a `235` until the server's `v=` signature has checked out.
//!
//! The GS2 header is `n,,` ("client does not support channel binding", RFC 5802 §7), or
//! `n,a=<authzid>,` when an authzid is given; `c=` repeats it in base64 (`biws` for
//! `n,,`). Names are escaped as `saslname` (`,` → `=2C`, `=` → `=3D`). SASLprep
//! (RFC 4013) is not applied: the password's UTF-8 bytes are used as they are, which is
//! the same for ASCII passwords.
//!
//! Nothing is buffered between messages but the expected ServerSignature: the
//! AuthMessage (RFC 5802 §3) is fed to both HMACs piece by piece while the client-final
//! message is built, from the credentials and nonce the caller passes again.
//!
//! [`Exchange::success`]: super::Exchange::success

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{
    command_line, decode, password_creds, put_saslname, response_line, AuthError, Base64,
    Credentials, Mechanism, Sink, MAX_CHALLENGE,
};

/// The largest iteration count accepted from a server. RFC 7677 §4 asks for at least
/// 4096; a hostile server could otherwise ask for billions and stall the client.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// Where a SCRAM exchange is. No `Debug`: it holds the expected ServerSignature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    SentClientFirst,
    SentClientFinal { server_signature: [u8; 32] },
    Verified,
}

impl Step {
    pub(super) fn name(self) -> &'static str {
        match self {
            Step::SentClientFirst => "sent client-first",
            Step::SentClientFinal { .. } => "sent client-final",
            Step::Verified => "server verified",
        }
    }
}

pub(super) fn start(
    creds: &Credentials<'_>,
    nonce: &[u8],
    out: &mut [u8],
) -> Result<(usize, Step), AuthError> {
    let (username, _, authzid) = password_creds(creds)?;
    check_nonce(nonce)?;
    // RFC 5802 §7: client-first-message = gs2-header client-first-message-bare
    let message = |s: &mut dyn Sink| {
        gs2_header(s, authzid);
        client_first_bare(s, username, nonce);
    };
    let n = command_line(out, Mechanism::ScramSha256, Some(&message))?;
    Ok((n, Step::SentClientFirst))
}

pub(super) fn challenge(
    step: Step,
    creds: &Credentials<'_>,
    nonce: &[u8],
    text: &[u8],
    out: &mut [u8],
) -> Result<(usize, Step), AuthError> {
    match step {
        Step::SentClientFirst => client_final(creds, nonce, text, out),
        Step::SentClientFinal { server_signature } => {
            let mut buf = [0u8; MAX_CHALLENGE];
            verify_server_final(decode(text, &mut buf)?, &server_signature)?;
            // RFC 4954 §4: the server-final data came as a challenge, so the client
            // answers with an empty response before the server sends 235.
            let n = response_line(out, &|_: &mut dyn Sink| {})?;
            Ok((n, Step::Verified))
        }
        Step::Verified => Err(AuthError::UnexpectedChallenge),
    }
}

pub(super) fn success(step: Step, text: &[u8]) -> Result<Step, AuthError> {
    match step {
        Step::Verified => Ok(Step::Verified),
        Step::SentClientFinal { server_signature } => {
            // Some servers put the server-final message in the 235 itself (RFC 4954 §4
            // allows additional data with success), possibly after an enhanced code.
            let last_word = text.rsplit(|&b| b == b' ').next().unwrap_or(text);
            for candidate in [text, last_word] {
                let mut buf = [0u8; MAX_CHALLENGE];
                let Ok(message) = decode(candidate, &mut buf) else {
                    continue;
                };
                match verify_server_final(message, &server_signature) {
                    Ok(()) => return Ok(Step::Verified),
                    Err(AuthError::MalformedChallenge) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(AuthError::ServerNotVerified)
        }
        Step::SentClientFirst => Err(AuthError::ServerNotVerified),
    }
}

/// RFC 5802 §5.1: the nonce is printable ASCII (0x21–0x7E) except `,`.
fn check_nonce(nonce: &[u8]) -> Result<(), AuthError> {
    if nonce.is_empty() {
        return Err(AuthError::InvalidCredential {
            field: "nonce",
            at: 0,
        });
    }
    match nonce.iter().position(|&b| !is_nonce_char(b)) {
        Some(at) => Err(AuthError::InvalidCredential { field: "nonce", at }),
        None => Ok(()),
    }
}

fn is_nonce_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

/// RFC 5802 §7: `gs2-header = gs2-cbind-flag "," [ authzid ] ","`, flag `n`.
fn gs2_header(s: &mut dyn Sink, authzid: Option<&str>) {
    match authzid {
        None => s.put(b"n,,"),
        Some(a) => {
            s.put(b"n,a=");
            put_saslname(s, a);
            s.put(b",");
        }
    }
}

/// RFC 5802 §7: `client-first-message-bare = [reserved-mext ","] username "," nonce`.
fn client_first_bare(s: &mut dyn Sink, username: &str, nonce: &[u8]) {
    s.put(b"n=");
    put_saslname(s, username);
    s.put(b",r=");
    s.put(nonce);
}

/// RFC 5802 §7: `client-final-message-without-proof = channel-binding "," nonce`, where
/// `channel-binding = "c=" base64(gs2-header)` since there is no channel binding data.
fn client_final_without_proof(s: &mut dyn Sink, authzid: Option<&str>, full_nonce: &[u8]) {
    s.put(b"c=");
    let mut b = Base64::new(s);
    gs2_header(&mut b, authzid);
    b.finish();
    s.put(b",r=");
    s.put(full_nonce);
}

/// The fields of a server-first message the client uses.
struct ServerFirst<'m> {
    nonce: &'m [u8],
    salt: &'m [u8],
    iterations: u32,
}

/// RFC 5802 §7: `server-first-message = [reserved-mext ","] nonce "," salt ","
/// iteration-count ["," extensions]`.
fn parse_server_first<'m>(
    message: &'m [u8],
    our_nonce: &[u8],
) -> Result<ServerFirst<'m>, AuthError> {
    let malformed = AuthError::MalformedChallenge;
    let mut attrs = message.split(|&b| b == b',');
    // A leading "m=" is a mandatory extension we do not know, so we must fail (§5.1).
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix(b"r="))
        .ok_or(malformed)?;
    // §5.1: the server appends its own nonce to ours; a nonce that does not start with
    // ours (or adds nothing) is a replay or an impostor.
    if nonce.len() <= our_nonce.len()
        || !nonce.starts_with(our_nonce)
        || !nonce.iter().all(|&b| is_nonce_char(b))
    {
        return Err(malformed);
    }
    let salt = attrs
        .next()
        .and_then(|a| a.strip_prefix(b"s="))
        .filter(|s| !s.is_empty())
        .ok_or(malformed)?;
    let count = attrs
        .next()
        .and_then(|a| a.strip_prefix(b"i="))
        .ok_or(malformed)?;
    let iterations = parse_count(count).ok_or(malformed)?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

/// `iteration-count = "i=" posit-number`, within 1..=[`MAX_ITERATIONS`].
fn parse_count(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 7 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    (1..=MAX_ITERATIONS).contains(&n).then_some(n)
}

fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length (RFC 2104 §2)"),
    }
}

/// Feeds the AuthMessage to both signatures at once.
struct Signatures {
    client: Hmac<Sha256>,
    server: Hmac<Sha256>,
}

impl Sink for Signatures {
    fn put(&mut self, bytes: &[u8]) {
        self.client.update(bytes);
        self.server.update(bytes);
    }
}

fn client_final(
    creds: &Credentials<'_>,
    nonce: &[u8],
    text: &[u8],
    out: &mut [u8],
) -> Result<(usize, Step), AuthError> {
    let (username, password, authzid) = password_creds(creds)?;
    check_nonce(nonce)?;
    let mut buf = [0u8; MAX_CHALLENGE];
    let server_first = decode(text, &mut buf)?;
    let parsed = parse_server_first(server_first, nonce)?;
    let mut salt_buf = [0u8; MAX_CHALLENGE];
    let salt = decode(parsed.salt, &mut salt_buf)?;

    // RFC 5802 §3:
    //   SaltedPassword  := Hi(Normalize(password), salt, i)     (Hi is PBKDF2, RFC 2898)
    //   ClientKey       := HMAC(SaltedPassword, "Client Key")
    //   StoredKey       := H(ClientKey)
    //   AuthMessage     := client-first-message-bare + "," + server-first-message + "," +
    //                      client-final-message-without-proof
    //   ClientSignature := HMAC(StoredKey, AuthMessage)
    //   ClientProof     := ClientKey XOR ClientSignature
    //   ServerKey       := HMAC(SaltedPassword, "Server Key")
    //   ServerSignature := HMAC(ServerKey, AuthMessage)
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, parsed.iterations, &mut salted);
    let mut mac = hmac_sha256(&salted);
    mac.update(b"Client Key");
    let client_key = mac.finalize().into_bytes();
    let stored_key = Sha256::digest(client_key);
    let mut mac = hmac_sha256(&salted);
    mac.update(b"Server Key");
    let server_key = mac.finalize().into_bytes();

    let mut sigs = Signatures {
        client: hmac_sha256(&stored_key),
        server: hmac_sha256(&server_key),
    };
    client_first_bare(&mut sigs, username, nonce);
    sigs.put(b",");
    sigs.put(server_first);
    sigs.put(b",");
    client_final_without_proof(&mut sigs, authzid, parsed.nonce);
    let client_signature = sigs.client.finalize().into_bytes();
    let server_signature: [u8; 32] = sigs.server.finalize().into_bytes().into();

    let mut proof = [0u8; 32];
    for ((p, k), s) in proof.iter_mut().zip(client_key).zip(client_signature) {
        *p = k ^ s;
    }
    let mut proof_b64 = [0u8; 44];
    let proof_len = STANDARD
        .encode_slice(proof, &mut proof_b64)
        .map_err(|_| AuthError::BufferTooSmall { needed: 44 })?;
    let proof_b64 = proof_b64.get(..proof_len).unwrap_or_default();

    // RFC 5802 §7: client-final-message = client-final-message-without-proof "," proof
    let n = response_line(out, &|s: &mut dyn Sink| {
        client_final_without_proof(s, authzid, parsed.nonce);
        s.put(b",p=");
        s.put(proof_b64);
    })?;
    Ok((n, Step::SentClientFinal { server_signature }))
}

/// RFC 5802 §7: `server-final-message = (server-error / verifier) ["," extensions]`.
fn verify_server_final(message: &[u8], expected: &[u8; 32]) -> Result<(), AuthError> {
    let first = message.split(|&b| b == b',').next().unwrap_or(message);
    if first.starts_with(b"e=") {
        // The server refused (e.g. "invalid-proof"); its 535 will follow.
        return Err(AuthError::ServerSignatureMismatch);
    }
    let verifier = first
        .strip_prefix(b"v=")
        .ok_or(AuthError::MalformedChallenge)?;
    let mut buf = [0u8; 48];
    let got = decode(verifier, &mut buf)?;
    // Compare without an early exit, as signature checks should.
    let same = got.len() == expected.len()
        && got
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(AuthError::ServerSignatureMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b64, esc, password, unbase64};
    use super::super::{AuthError, Credentials, Exchange, Mechanism};
    use crate::Secret;
    use proptest::prelude::*;
    use std::format;
    use std::string::String;

    const NONCE: &[u8] = b"rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn line(payload: &[u8]) -> String {
        esc(format!("{}\r\n", b64(payload)).as_bytes())
    }

    /// Runs the RFC 7677 §3 exchange up to the client-final message.
    fn to_client_final(ex: &mut Exchange, creds: &Credentials<'_>) {
        let mut out = [0u8; 256];
        ex.start(creds, NONCE, &mut out).expect("start");
        ex.challenge(creds, NONCE, b64(SERVER_FIRST).as_bytes(), &mut out)
            .expect("client-final");
    }

    #[test]
    fn rfc7677_example() {
        let creds = password("user", "pencil");
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        let mut out = [0u8; 256];

        let n = ex.start(&creds, NONCE, &mut out).expect("start");
        assert_eq!(
            esc(&out[..n]),
            esc(format!(
                "AUTH SCRAM-SHA-256 {}\r\n",
                b64(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
            )
            .as_bytes())
        );

        let n = ex
            .challenge(&creds, NONCE, b64(SERVER_FIRST).as_bytes(), &mut out)
            .expect("client-final");
        assert_eq!(esc(&unbase64(&out[..n])), esc(CLIENT_FINAL));
        assert_eq!(esc(&out[..n]), line(CLIENT_FINAL));

        let n = ex
            .challenge(&creds, NONCE, b64(SERVER_FINAL).as_bytes(), &mut out)
            .expect("verified");
        assert_eq!(esc(&out[..n]), esc(b"\r\n"));
        assert_eq!(ex.success(b"2.7.0 Authentication successful"), Ok(()));
        assert_eq!(
            ex.challenge(&creds, NONCE, b"", &mut out),
            Err(AuthError::UnexpectedChallenge)
        );
    }

    #[test]
    fn server_final_may_come_with_the_235() {
        let creds = password("user", "pencil");
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        to_client_final(&mut ex, &creds);
        assert_eq!(ex.success(b64(SERVER_FINAL).as_bytes()), Ok(()));

        let mut ex = Exchange::new(Mechanism::ScramSha256);
        to_client_final(&mut ex, &creds);
        let text = format!("2.7.0 {}", b64(SERVER_FINAL));
        assert_eq!(ex.success(text.as_bytes()), Ok(()));
    }

    #[test]
    fn success_before_the_server_proved_itself_is_refused() {
        let creds = password("user", "pencil");
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        to_client_final(&mut ex, &creds);
        assert_eq!(
            ex.success(b"2.7.0 Authentication successful"),
            Err(AuthError::ServerNotVerified)
        );

        let mut ex = Exchange::new(Mechanism::ScramSha256);
        let mut out = [0u8; 128];
        ex.start(&creds, NONCE, &mut out).expect("start");
        assert_eq!(ex.success(b""), Err(AuthError::ServerNotVerified));
    }

    #[test]
    fn wrong_server_signature_is_refused_and_stays_refused() {
        let creds = password("user", "pencil");
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        to_client_final(&mut ex, &creds);
        let mut out = [0u8; 64];
        let forged = b64(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert_eq!(
            ex.challenge(&creds, NONCE, forged.as_bytes(), &mut out),
            Err(AuthError::ServerSignatureMismatch)
        );
        assert_eq!(ex.success(b""), Err(AuthError::ServerNotVerified));
        assert_eq!(
            ex.success(forged.as_bytes()),
            Err(AuthError::ServerSignatureMismatch)
        );
    }

    #[test]
    fn server_error_is_a_signature_mismatch() {
        let creds = password("user", "pencil");
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        to_client_final(&mut ex, &creds);
        let mut out = [0u8; 64];
        assert_eq!(
            ex.challenge(&creds, NONCE, b64(b"e=invalid-proof").as_bytes(), &mut out),
            Err(AuthError::ServerSignatureMismatch)
        );
    }

    #[test]
    fn bad_server_first_messages_are_malformed() {
        let creds = password("user", "pencil");
        let cases: &[&[u8]] = &[
            // Nonce does not extend ours.
            b"r=XOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            // Nonce is ours, with nothing added.
            b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            // Mandatory extension.
            b"m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            // Salt missing, empty, not base64.
            b"r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=,i=4096",
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=!!!!,i=4096",
            // Iteration count zero, absurd, not a number, missing.
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001",
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            b"",
        ];
        for case in cases {
            let mut ex = Exchange::new(Mechanism::ScramSha256);
            let mut out = [0u8; 256];
            ex.start(&creds, NONCE, &mut out).expect("start");
            assert_eq!(
                ex.challenge(&creds, NONCE, b64(case).as_bytes(), &mut out),
                Err(AuthError::MalformedChallenge),
                "{}",
                esc(case)
            );
            assert_eq!(ex.success(b""), Err(AuthError::ServerNotVerified));
        }
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        let mut out = [0u8; 256];
        ex.start(&creds, NONCE, &mut out).expect("start");
        assert_eq!(
            ex.challenge(&creds, NONCE, b"not base64!", &mut out),
            Err(AuthError::MalformedChallenge)
        );
    }

    #[test]
    fn bad_client_nonces_are_refused_with_their_offset() {
        let creds = password("user", "pencil");
        let mut out = [0u8; 256];
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        assert_eq!(
            ex.start(&creds, b"", &mut out),
            Err(AuthError::InvalidCredential {
                field: "nonce",
                at: 0
            })
        );
        assert_eq!(
            ex.start(&creds, b"abc,def", &mut out),
            Err(AuthError::InvalidCredential {
                field: "nonce",
                at: 3
            })
        );
        assert_eq!(
            ex.start(&creds, b"abc def", &mut out),
            Err(AuthError::InvalidCredential {
                field: "nonce",
                at: 3
            })
        );
    }

    #[test]
    fn names_are_escaped_and_authzid_goes_in_the_gs2_header() {
        let creds = Credentials::Password {
            username: "a,b=c",
            password: Secret::new("pencil"),
            authzid: Some("admin"),
        };
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        let mut out = [0u8; 256];
        let n = ex.start(&creds, b"abc", &mut out).expect("start");
        assert_eq!(
            esc(&unbase64(&out[..n])),
            esc(b"n,a=admin,n=a=2Cb=3Dc,r=abc")
        );
        let server_first = b"r=abcdef,s=c2FsdA==,i=1";
        let n = ex
            .challenge(&creds, b"abc", b64(server_first).as_bytes(), &mut out)
            .expect("client-final");
        let client_final = unbase64(&out[..n]);
        let expected_prefix = format!("c={},r=abcdef,p=", b64(b"n,a=admin,"));
        assert!(
            client_final.starts_with(expected_prefix.as_bytes()),
            "{}",
            esc(&client_final)
        );
    }

    #[test]
    fn nul_in_password_is_refused() {
        let mut out = [0u8; 256];
        assert_eq!(
            Exchange::new(Mechanism::ScramSha256).start(
                &password("user", "pen\0cil"),
                NONCE,
                &mut out
            ),
            Err(AuthError::InvalidCredential {
                field: "password",
                at: 3
            })
        );
    }

    #[test]
    fn buffer_too_small_for_client_final_can_be_retried() {
        let creds = password("user", "pencil");
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        let mut out = [0u8; 256];
        ex.start(&creds, NONCE, &mut out).expect("start");
        let needed = b64(CLIENT_FINAL).len() + 2;
        assert_eq!(
            ex.challenge(&creds, NONCE, b64(SERVER_FIRST).as_bytes(), &mut out[..40]),
            Err(AuthError::BufferTooSmall { needed })
        );
        let n = ex
            .challenge(&creds, NONCE, b64(SERVER_FIRST).as_bytes(), &mut out)
            .expect("retry");
        assert_eq!(esc(&out[..n]), line(CLIENT_FINAL));
    }

    #[test]
    fn debug_does_not_show_the_server_signature() {
        let creds = password("user", "pencil");
        let mut ex = Exchange::new(Mechanism::ScramSha256);
        to_client_final(&mut ex, &creds);
        assert_eq!(
            format!("{ex:?}"),
            "Exchange { mechanism: ScramSha256, step: \"sent client-final\" }"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn hostile_server_first_never_panics(
            body in prop::collection::vec(any::<u8>(), 0..300),
            raw in any::<bool>(),
        ) {
            let creds = password("user", "pencil");
            let mut ex = Exchange::new(Mechanism::ScramSha256);
            let mut out = [0u8; 512];
            ex.start(&creds, NONCE, &mut out).expect("start");
            // Mostly well-formed-looking, so parsing gets past the nonce sometimes.
            let mut msg = std::vec::Vec::from(&b"r=rOprNGfwEbeRWgbNEkqOx,s="[..]);
            msg.extend_from_slice(&body);
            let text = if raw { body.clone() } else { b64(&msg).into_bytes() };
            let _ = ex.challenge(&creds, NONCE, &text, &mut out);
            let _ = ex.challenge(&creds, NONCE, &text, &mut out);
            prop_assert!(ex.success(&text).is_err());
        }
    }
}
