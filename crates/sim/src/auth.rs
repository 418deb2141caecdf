//! The server side of the SASL mechanisms (RFC 4954), one exchange at a time.
//!
//! ```text
//! C: AUTH CRAM-MD5
//! S: 334 PDEyMzQ1Ljk4NzZAbXguc2ltLnRlc3Q+
//! C: YWxpY2UgYjkxM2E2MDJjN2VkYTdhNDk1YjRlNmU3MzM0ZDM4OTA=
//! S: 235 2.7.0 Authentication successful
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::{Config, Mechanism};

/// What the session does after feeding the exchange a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send `334 <text>` and read another line.
    Challenge(String),
    /// Authenticated as this user: send 235.
    Success(String),
    /// Send `535 5.7.8 ...`.
    Failure,
    /// Send `501 5.5.2 ...`: the client's data was not valid base64 or not the format.
    Malformed,
}

/// One SASL exchange in progress.
pub(crate) struct Exchange {
    mech: Mechanism,
    state: State,
}

enum State {
    Start,
    LoginWantUser,
    LoginWantPassword(String),
    Cram(String),
    XOAuthFailed,
    ScramWantFinal {
        user: String,
        client_first_bare: String,
        server_first: String,
        nonce: String,
        salt: Vec<u8>,
    },
    ScramWantEmpty(String),
}

const SCRAM_ITERATIONS: u32 = 4096;

impl Exchange {
    pub(crate) fn new(mech: Mechanism) -> Exchange {
        Exchange {
            mech,
            state: State::Start,
        }
    }

    /// Starts the exchange, with the initial response if the AUTH command had one
    /// (`=` stands for an empty one, RFC 4954 §4).
    pub(crate) fn start(&mut self, config: &Config, initial: Option<&str>) -> Next {
        match self.mech {
            Mechanism::Plain => match initial {
                Some(i) => self.plain(config, i),
                None => Next::Challenge(String::new()),
            },
            Mechanism::Login => match initial {
                Some(i) => match decode(i) {
                    Some(user) => {
                        self.state = State::LoginWantPassword(user);
                        Next::Challenge(B64.encode("Password:"))
                    }
                    None => Next::Malformed,
                },
                None => {
                    self.state = State::LoginWantUser;
                    Next::Challenge(B64.encode("Username:"))
                }
            },
            Mechanism::CramMd5 => {
                if initial.is_some() {
                    return Next::Malformed;
                }
                let challenge = format!(
                    "<{}.{}@{}>",
                    random_u64() % 100_000_000,
                    unix_time(),
                    config.hostname
                );
                let text = B64.encode(&challenge);
                self.state = State::Cram(challenge);
                Next::Challenge(text)
            }
            Mechanism::XOAuth2 => match initial {
                Some(i) => self.xoauth2(config, i),
                None => Next::Challenge(String::new()),
            },
            Mechanism::ScramSha256 => match initial {
                Some(i) => self.scram_first(config, i),
                None => Next::Challenge(String::new()),
            },
        }
    }

    /// Feeds one client line (base64, or `*` to cancel, which the session handles).
    pub(crate) fn step(&mut self, config: &Config, line: &str) -> Next {
        match std::mem::replace(&mut self.state, State::Start) {
            State::Start => match self.mech {
                Mechanism::Plain => self.plain(config, line),
                Mechanism::XOAuth2 => self.xoauth2(config, line),
                Mechanism::ScramSha256 => self.scram_first(config, line),
                _ => Next::Malformed,
            },
            State::LoginWantUser => match decode(line) {
                Some(user) => {
                    self.state = State::LoginWantPassword(user);
                    Next::Challenge(B64.encode("Password:"))
                }
                None => Next::Malformed,
            },
            State::LoginWantPassword(user) => match decode(line) {
                Some(pass) => check_password(config, &user, &pass),
                None => Next::Malformed,
            },
            State::Cram(challenge) => {
                let Some(resp) = decode(line) else {
                    return Next::Malformed;
                };
                let Some((user, digest)) = resp.rsplit_once(' ') else {
                    return Next::Malformed;
                };
                let Some(u) = config.users.iter().find(|u| u.name == user) else {
                    return Next::Failure;
                };
                let Ok(mut mac) = Hmac::<md5::Md5>::new_from_slice(u.password.as_bytes()) else {
                    return Next::Failure;
                };
                mac.update(challenge.as_bytes());
                let expect = hex(&mac.finalize().into_bytes());
                if expect.eq_ignore_ascii_case(digest) {
                    Next::Success(u.name.clone())
                } else {
                    Next::Failure
                }
            }
            State::XOAuthFailed => Next::Failure,
            State::ScramWantFinal {
                user,
                client_first_bare,
                server_first,
                nonce,
                salt,
            } => self.scram_final(
                config,
                line,
                &user,
                &client_first_bare,
                &server_first,
                &nonce,
                &salt,
            ),
            State::ScramWantEmpty(user) => {
                if line.is_empty() {
                    Next::Success(user)
                } else {
                    Next::Malformed
                }
            }
        }
    }

    fn plain(&mut self, config: &Config, b64: &str) -> Next {
        let Some(raw) = decode_bytes(b64) else {
            return Next::Malformed;
        };
        // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
        let parts: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
        let [_authzid, authcid, passwd] = parts.as_slice() else {
            return Next::Malformed;
        };
        match (std::str::from_utf8(authcid), std::str::from_utf8(passwd)) {
            (Ok(u), Ok(p)) => check_password(config, u, p),
            _ => Next::Malformed,
        }
    }

    fn xoauth2(&mut self, config: &Config, b64: &str) -> Next {
        let Some(raw) = decode(b64) else {
            return Next::Malformed;
        };
        let mut user = None;
        let mut token = None;
        for field in raw.split('\x01') {
            if let Some(u) = field.strip_prefix("user=") {
                user = Some(u);
            } else if let Some(a) = field.strip_prefix("auth=") {
                token = a.strip_prefix("Bearer ");
            }
        }
        let (Some(user), Some(token)) = (user, token) else {
            return Next::Malformed;
        };
        if config
            .oauth_tokens
            .iter()
            .any(|(u, t)| u == user && t == token)
        {
            Next::Success(user.to_owned())
        } else {
            // Google's behaviour: a 334 with a JSON error, an empty line, then 535.
            self.state = State::XOAuthFailed;
            Next::Challenge(B64.encode(
                r#"{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}"#,
            ))
        }
    }

    fn scram_first(&mut self, config: &Config, b64: &str) -> Next {
        let Some(msg) = decode(b64) else {
            return Next::Malformed;
        };
        // RFC 5802 §7: gs2-header = gs2-cbind-flag "," [ authzid ] ","
        let mut it = msg.splitn(3, ',');
        let (Some(flag), Some(_authz), Some(bare)) = (it.next(), it.next(), it.next()) else {
            return Next::Malformed;
        };
        if flag != "n" && flag != "y" {
            return Next::Malformed; // channel binding is not offered
        }
        let mut user = None;
        let mut cnonce = None;
        for attr in bare.split(',') {
            if let Some(u) = attr.strip_prefix("n=") {
                user = Some(u.replace("=2C", ",").replace("=3D", "="));
            } else if let Some(r) = attr.strip_prefix("r=") {
                cnonce = Some(r.to_owned());
            }
        }
        let (Some(user), Some(cnonce)) = (user, cnonce) else {
            return Next::Malformed;
        };
        let salt = random_bytes::<16>().to_vec();
        let nonce = format!("{cnonce}{}", B64.encode(random_bytes::<18>()));
        let server_first = format!("r={nonce},s={},i={SCRAM_ITERATIONS}", B64.encode(&salt));
        let _ = config;
        self.state = State::ScramWantFinal {
            user,
            client_first_bare: bare.to_owned(),
            server_first: server_first.clone(),
            nonce,
            salt,
        };
        Next::Challenge(B64.encode(server_first))
    }

    #[allow(clippy::too_many_arguments)]
    fn scram_final(
        &mut self,
        config: &Config,
        b64: &str,
        user: &str,
        client_first_bare: &str,
        server_first: &str,
        nonce: &str,
        salt: &[u8],
    ) -> Next {
        let Some(msg) = decode(b64) else {
            return Next::Malformed;
        };
        let Some((without_proof, proof_b64)) = msg.rsplit_once(",p=") else {
            return Next::Malformed;
        };
        if !without_proof.split(',').any(|a| a == format!("r={nonce}")) {
            return Next::Failure;
        }
        let Some(proof) = decode_bytes(proof_b64) else {
            return Next::Malformed;
        };
        let Some(u) = config.users.iter().find(|u| u.name == user) else {
            return Next::Failure;
        };
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(u.password.as_bytes(), salt, SCRAM_ITERATIONS, &mut salted);
        let client_key = hmac256(&salted, b"Client Key");
        let stored_key = Sha256::digest(client_key);
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let client_sig = hmac256(&stored_key, auth_message.as_bytes());
        if proof.len() != client_sig.len() {
            return Next::Failure;
        }
        let recovered: Vec<u8> = proof
            .iter()
            .zip(client_sig.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        if Sha256::digest(&recovered).as_slice() != stored_key.as_slice() {
            return Next::Failure;
        }
        let server_key = hmac256(&salted, b"Server Key");
        let server_sig = hmac256(&server_key, auth_message.as_bytes());
        self.state = State::ScramWantEmpty(u.name.clone());
        Next::Challenge(B64.encode(format!("v={}", B64.encode(server_sig))))
    }
}

fn check_password(config: &Config, user: &str, pass: &str) -> Next {
    if config
        .users
        .iter()
        .any(|u| u.name == user && u.password == pass)
    {
        Next::Success(user.to_owned())
    } else {
        Next::Failure
    }
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn decode_bytes(b64: &str) -> Option<Vec<u8>> {
    if b64 == "=" {
        return Some(Vec::new());
    }
    B64.decode(b64.trim()).ok()
}

fn decode(b64: &str) -> Option<String> {
    decode_bytes(b64).and_then(|b| String::from_utf8(b).ok())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::getrandom(&mut b).is_err() {
        // No OS randomness: fall back to the clock; nonces only need to differ here.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, x) in b.iter_mut().enumerate() {
            *x = (t >> ((i % 16) * 8)) as u8;
        }
    }
    b
}

fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes::<8>())
}
