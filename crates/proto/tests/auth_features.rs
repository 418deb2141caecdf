//! AUTH mechanisms as Cargo features: a mechanism left out of the build is never chosen,
//! asking for it is a typed error before any `AUTH` goes out, credentials with no mechanism
//! of their kind built are a typed error too, and a session without credentials works with
//! none built. Which tests run depends on the features; run this file with
//! `--no-default-features`, with `--no-default-features --features auth-login`, and with
//! the defaults.

mod common;

use common::server::{normalized, Behaviour, Server};
use postel_proto::{
    Action, Client, Config, Credentials, Envelope, Error, Mechanism, Recipient, Secret, TlsMode,
};

/// A server offering `AUTH PLAIN LOGIN` (and accepting any credentials).
fn auth_server() -> Server {
    Server::new(Behaviour {
        auth: true,
        ..Behaviour::default()
    })
}

fn config(credentials: bool, mechanism: Option<Mechanism>) -> Config<'static> {
    let mut c = Config::new("client.test");
    c.tls = TlsMode::Disabled;
    c.dangerous_allow_plaintext_auth = true;
    if credentials {
        c.credentials = Some(Credentials::Password {
            username: "user",
            password: Secret::new("pass"),
            authzid: None,
        });
    }
    c.mechanism = mechanism;
    c
}

/// What a session did: the client's bytes, and how it ended.
struct Outcome {
    written: Vec<u8>,
    result: Result<(), Error>,
    server: Server,
}

impl Outcome {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.written).into_owned()
    }
}

/// Runs a session against `server`: greeting, EHLO, maybe AUTH, then one message (when
/// `send`) and QUIT.
fn session(config: Config<'_>, mut server: Server, send: bool) -> Outcome {
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let to = [Recipient::new("a@mx.test")];
    let mut body: &[u8] = b"Subject: features\r\n\r\nhi\r\n";
    let (mut submitted, mut quit) = (!send, false);
    let mut written = Vec::new();
    let result = loop {
        let action = match client.poll() {
            Ok(a) => a,
            Err(e) => break Err(e),
        };
        match action {
            Action::Send { bytes, .. } => {
                written.extend_from_slice(bytes);
                server.write(bytes);
                let n = bytes.len();
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                let n = server.read_into(into);
                if let Err(e) = client.handle_received(n) {
                    break Err(e);
                }
            }
            Action::Body { into } => {
                let n = std::io::Read::read(&mut body, into).unwrap();
                client.handle_body(n).unwrap();
            }
            Action::Idle if !submitted => {
                submitted = true;
                client
                    .submit(&Envelope::new("me@client.test", &to))
                    .unwrap();
            }
            Action::Idle if !quit => {
                quit = true;
                client.quit().unwrap();
            }
            Action::Idle | Action::Closed => break Ok(()),
            Action::Event(_) => {}
            Action::StartTls => unreachable!("TLS is disabled"),
            Action::Recipients { .. } => unreachable!("one recipient fits"),
        }
    };
    Outcome {
        written,
        result,
        server,
    }
}

#[test]
fn a_session_without_credentials_needs_no_mechanism() {
    let out = session(config(false, None), auth_server(), true);
    assert_eq!(out.result, Ok(()));
    assert!(!out.text().contains("AUTH"), "{}", out.text());
    assert_eq!(
        out.server.messages,
        [normalized(b"Subject: features\r\n\r\nhi\r\n")]
    );
}

#[test]
#[cfg(not(feature = "auth-login"))]
fn asking_for_a_mechanism_left_out_is_a_typed_error_before_any_auth() {
    let out = session(config(true, Some(Mechanism::Login)), auth_server(), true);
    assert_eq!(
        out.result,
        Err(Error::Sasl(postel_proto::AuthError::MechanismNotBuilt(
            Mechanism::Login
        )))
    );
    assert_eq!(out.text(), "EHLO client.test\r\n", "nothing after EHLO");
    assert!(out.server.messages.is_empty());
    assert_eq!(
        out.result.unwrap_err().to_string(),
        "authentication exchange failed: SASL mechanism LOGIN is not in this build \
         (Cargo feature auth-login of postel-proto)"
    );
}

#[test]
#[cfg(not(any(
    feature = "auth-plain",
    feature = "auth-login",
    feature = "auth-cram-md5",
    feature = "auth-scram"
)))]
fn credentials_with_no_mechanism_of_their_kind_built_are_a_typed_error() {
    let out = session(config(true, None), auth_server(), true);
    assert_eq!(
        out.result,
        Err(Error::Sasl(postel_proto::AuthError::NoMechanismBuilt))
    );
    assert_eq!(out.text(), "EHLO client.test\r\n", "nothing after EHLO");
    assert!(out.server.messages.is_empty());
}

#[test]
#[cfg(all(feature = "auth-login", not(feature = "auth-plain")))]
fn a_mechanism_left_out_is_never_chosen() {
    // The server offers PLAIN and LOGIN; PLAIN ranks higher but is not built.
    let out = session(config(true, None), auth_server(), true);
    assert_eq!(out.result, Ok(()));
    assert!(out.text().contains("\r\nAUTH LOGIN\r\n"), "{}", out.text());
    assert_eq!(out.server.messages.len(), 1);
}

#[test]
#[cfg(all(feature = "auth-plain", feature = "auth-login"))]
fn with_both_built_the_stronger_is_chosen() {
    let out = session(config(true, None), auth_server(), true);
    assert_eq!(out.result, Ok(()));
    assert!(out.text().contains("\r\nAUTH PLAIN "), "{}", out.text());
    assert_eq!(out.server.messages.len(), 1);
}
