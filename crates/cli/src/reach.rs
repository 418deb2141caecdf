//! Opening the connection as a person watches it: a spinner on a terminal while connecting
//! and waiting for the greeting; a port that stays silent is checked for TLS, so the wrong
//! `--tls` fails in seconds with the mode to use instead of after RFC 5321's five minutes;
//! and each failure said with what to do next.

use std::io::{IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use postel::proto::{AuthFailure, Error as CoreError};
use postel::{Client, Error, State, Step, TlsError, TlsMode};

use crate::exit::{self, Failure, Lookup};
use crate::server::Server;

/// How long a port may stay silent before it is checked for TLS. Real servers greet at
/// once (Postfix's postscreen sends its first `220-` line at once too), so a few seconds
/// of silence already says something.
pub const SUSPECT_AFTER: Duration = Duration::from_secs(5);
/// The bound on each step of that check (connect, send a ClientHello, read an answer).
const CHECK_WITHIN: Duration = Duration::from_secs(5);

/// Connects `client` (greeting, EHLO, STARTTLS, AUTH), showing progress when `progress`
/// and stderr is a terminal. The client comes back with the library's error when
/// connecting failed (see [`explain`]); `Err` is a port found to expect TLS from the first
/// byte, whose first connection is left waiting (the command ends with this failure).
pub fn open(
    client: Client,
    server: &Server,
    progress: bool,
) -> Result<(Client, Option<Error>), Failure> {
    let spinner = progress
        .then(|| spinner(&format!("connecting to {}…", server.endpoint())))
        .flatten();
    let result = watch(client, server, spinner.as_ref());
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    result
}

fn watch(
    mut client: Client,
    server: &Server,
    spinner: Option<&ProgressBar>,
) -> Result<(Client, Option<Error>), Failure> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("connect".into())
        .spawn(move || {
            let result = client.connect().map(|_| ());
            let _ = tx.send((client, result));
        })
        .map_err(|e| Failure::new(exit::SOFTWARE, format!("cannot start a thread: {e}")))?;
    // Only a connection that waits for a greeting can be one that waits for a ClientHello.
    let mut may_be_tls = server.tls != TlsMode::Implicit;
    let started = Instant::now();
    loop {
        let answer = if may_be_tls {
            rx.recv_timeout(SUSPECT_AFTER.saturating_sub(started.elapsed()))
        } else {
            rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        };
        match answer {
            Ok((client, Ok(()))) => return Ok((client, None)),
            Ok((client, Err(e))) => {
                // A short --timeout, or a server that gave up on us: check now.
                if may_be_tls && no_greeting(&e) && check(server, spinner) {
                    return Err(expects_tls(server));
                }
                return Ok((client, Some(e)));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                may_be_tls = false;
                if check(server, spinner) {
                    // The first connection is left waiting; the process ends with this.
                    return Err(expects_tls(server));
                }
                if let Some(s) = spinner {
                    s.set_message(format!(
                        "waiting for the greeting from {}…",
                        server.endpoint()
                    ));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Failure::new(
                    exit::SOFTWARE,
                    "the connection ended without a result",
                ))
            }
        }
    }
}

/// The session ended, or timed out, before the server said anything.
fn no_greeting(e: &Error) -> bool {
    matches!(
        e,
        Error::Timeout {
            state: State::AwaitingGreeting,
            ..
        } | Error::Protocol(CoreError::ConnectionClosed {
            step: Step::Greeting
        })
    )
}

/// Checks whether the server answers a TLS ClientHello on a second connection; says so
/// on the spinner.
fn check(server: &Server, spinner: Option<&ProgressBar>) -> bool {
    if let Some(s) = spinner {
        s.set_message(format!(
            "no greeting from {}; checking whether it expects TLS…",
            server.endpoint()
        ));
    }
    speaks_tls(&server.host, server.port)
}

fn expects_tls(server: &Server) -> Failure {
    server.name_in(Failure::config(format!(
        "{} sent no SMTP greeting but answers TLS: this port expects TLS from the first \
         byte: use {}",
        server.endpoint(),
        server.tls_setting("implicit")
    )))
}

/// True when `host:port` answers a ClientHello with a TLS record (a ServerHello, or an
/// alert). Nothing is verified: the answer's first bytes are all that is read.
pub fn speaks_tls(host: &str, port: u16) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(addrs) = (bare, port).to_socket_addrs() else {
        return false;
    };
    let Some(hello) = client_hello(bare) else {
        return false;
    };
    addrs
        .into_iter()
        .any(|addr| answers_tls(addr, &hello).unwrap_or(false))
}

fn answers_tls(addr: SocketAddr, hello: &[u8]) -> std::io::Result<bool> {
    let mut tcp = TcpStream::connect_timeout(&addr, CHECK_WITHIN)?;
    tcp.set_read_timeout(Some(CHECK_WITHIN))?;
    tcp.set_write_timeout(Some(CHECK_WITHIN))?;
    tcp.write_all(hello)?;
    let mut head = [0u8; 3];
    tcp.read_exact(&mut head)?;
    Ok(is_tls_record(&head))
}

/// A TLS record header: handshake (22) or alert (21), then version 3.x.
fn is_tls_record(head: &[u8; 3]) -> bool {
    matches!(head[0], 21 | 22) && head[1] == 3 && head[2] <= 4
}

/// The bytes of a ClientHello for `host` (SNI when it is a name).
fn client_hello(host: &str) -> Option<Vec<u8>> {
    use rustls::pki_types::ServerName;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .or_else(|_| ServerName::try_from("smtp.invalid".to_owned()))
        .ok()?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let mut out = Vec::new();
    conn.write_tls(&mut out).ok()?;
    Some(out)
}

/// A spinner on stderr when it is a terminal.
fn spinner(message: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let s = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        s.set_style(style);
    }
    s.set_message(message.to_owned());
    s.enable_steady_tick(Duration::from_millis(120));
    Some(s)
}

/// The failure for `e` with the exit code, what to do next, and the account used.
pub fn explain(e: &Error, server: &Server) -> Failure {
    let mut message = e.to_string();
    if let Some(hint) = hint(e, server) {
        message.push_str("; ");
        message.push_str(&hint);
    }
    server.name_in(Failure::new(exit::code_for_error(e), message))
}

fn hint(e: &Error, server: &Server) -> Option<String> {
    Some(match e {
        Error::Tls(TlsError::UnknownIssuer) => match &server.ca_file {
            Some(f) => format!(
                "it does not chain to the CA certificates in {}: is that the CA that \
                 signed the server's certificate?",
                f.display()
            ),
            None => "the system's trust store does not hold its issuer: for a private CA, \
                     give its certificate with --ca-file PEM (or ca_file in the account); \
                     for a public one, update the system store (e.g. update-ca-certificates)"
                .to_owned(),
        },
        Error::Tls(TlsError::NotTls) => format!(
            "{} does not speak TLS from the first byte: try {}",
            server.endpoint(),
            server.tls_setting("starttls")
        ),
        Error::Connect { source, .. } => match exit::lookup_failure(source) {
            Some(Lookup::NoSuchHost) => {
                format!("there is no host {:?}: check the name", server.host)
            }
            Some(Lookup::Temporary) => {
                "the name could not be looked up now (is the network up?)".to_owned()
            }
            None if source.kind() == std::io::ErrorKind::ConnectionRefused => {
                format!("nothing listens on port {}: check the port", server.port)
            }
            None => return None,
        },
        Error::Timeout {
            state: State::AwaitingGreeting,
            ..
        } => format!(
            "{} accepted the connection but sent no greeting: is it an SMTP port?",
            server.endpoint()
        ),
        Error::Protocol(CoreError::AuthFailed {
            failure: AuthFailure::InvalidCredentials,
            ..
        }) => "the server refused the user name or password: check them (--user, \
               --password-env, --password-command, or the account's)"
            .to_owned(),
        Error::Protocol(CoreError::AuthUnavailable { .. }) => match &server.account {
            Some(a) => format!(
                "the login comes from account {a:?}: to send without one, give --server \
                 without --account"
            ),
            None => "to send without logging in, leave out --user".to_owned(),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_records_are_told_from_smtp_replies() {
        assert!(is_tls_record(&[22, 3, 3]));
        assert!(is_tls_record(&[21, 3, 1]));
        assert!(!is_tls_record(b"220"));
        assert!(!is_tls_record(b"500"));
        assert!(!is_tls_record(&[22, 2, 0]));
    }

    #[test]
    fn a_client_hello_is_a_tls_handshake_record() {
        let hello = client_hello("mx.example.com").unwrap();
        assert_eq!(&hello[..2], &[22, 3]);
        assert!(client_hello("127.0.0.1").is_some());
    }
}
