//! [`ClientBuilder`]: where to connect, how to secure it, who to log in as.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use postel_proto::{Config, Credentials, Mechanism, Options, Secret, Timeouts};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use crate::error::{Error, Redacted};
use crate::tls::{self, ClientCert, Roots};

/// When to use TLS (RFC 3207 STARTTLS, RFC 8314 implicit TLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// `starttls`: STARTTLS must succeed before anything but EHLO is sent; a server that
    /// does not offer it ends the session with nothing private sent. The default.
    #[default]
    StartTls,
    /// `opportunistic`: STARTTLS when offered, plaintext otherwise (MTA to MTA on port 25).
    /// Credentials still need TLS unless plaintext AUTH is allowed.
    Opportunistic,
    /// `implicit`: TLS from the first byte (port 465, RFC 8314 §3.3).
    Implicit,
    /// `none`: never TLS.
    Disabled,
}

impl TlsMode {
    /// The usual port: 587 (submission, RFC 6409) for STARTTLS, 465 for implicit TLS
    /// (RFC 8314 §3.3), and 25 for opportunistic TLS and no TLS (relay between MTAs,
    /// RFC 5321 §4.5.4): submission on 587 without TLS is what RFC 8314 §3.3 retires.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::StartTls => 587,
            TlsMode::Implicit => 465,
            TlsMode::Opportunistic | TlsMode::Disabled => 25,
        }
    }

    pub(crate) fn core(self) -> postel_proto::TlsMode {
        match self {
            TlsMode::StartTls => postel_proto::TlsMode::Required,
            TlsMode::Opportunistic => postel_proto::TlsMode::Opportunistic,
            TlsMode::Implicit => postel_proto::TlsMode::Implicit,
            TlsMode::Disabled => postel_proto::TlsMode::Disabled,
        }
    }
}

impl FromStr for TlsMode {
    type Err = Error;

    /// `starttls`, `opportunistic`, `implicit` (or `tls`, `smtps`), `none` (or `plain`).
    fn from_str(s: &str) -> Result<TlsMode, Error> {
        match s.to_ascii_lowercase().as_str() {
            "starttls" | "required" => Ok(TlsMode::StartTls),
            "opportunistic" => Ok(TlsMode::Opportunistic),
            "implicit" | "tls" | "smtps" => Ok(TlsMode::Implicit),
            "none" | "plain" | "disabled" => Ok(TlsMode::Disabled),
            _ => Err(Error::Config(format!(
                "unknown TLS mode {s:?} (starttls, opportunistic, implicit, none)"
            ))),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::StartTls => "starttls",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::Implicit => "implicit",
            TlsMode::Disabled => "none",
        })
    }
}

/// Owned credentials; the secret never prints.
#[derive(Clone)]
pub(crate) enum Login {
    Password {
        username: String,
        password: Secret<String>,
    },
    Token {
        username: String,
        token: Secret<String>,
    },
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, username) = match self {
            Login::Password { username, .. } => ("Password", username),
            Login::Token { username, .. } => ("Token", username),
        };
        f.debug_struct(kind)
            .field("username", username)
            .field("secret", &Redacted)
            .finish()
    }
}

/// Everything a connection needs, shared by every connection of a client or pool.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: TlsMode,
    pub(crate) tls_config: Option<Arc<ClientConfig>>,
    pub(crate) server_name: Option<ServerName<'static>>,
    pub(crate) ehlo_name: Option<String>,
    pub(crate) login: Option<Login>,
    pub(crate) mechanism: Option<Mechanism>,
    pub(crate) allow_plaintext_auth: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeouts: Timeouts,
    pub(crate) options: Options,
    pub(crate) idle_timeout: Duration,
    /// Read by the [`Pool`](crate::Pool) only (feature `tokio`).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) max_connections: usize,
    pub(crate) transcript: bool,
}

impl Settings {
    /// The core's configuration for one connection, borrowing these settings.
    pub(crate) fn core_config<'a>(&'a self, ehlo: &'a str, nonce: &'a str) -> Config<'a> {
        let mut c = Config::new(ehlo);
        c.tls = self.tls.core();
        c.credentials = self.login.as_ref().map(|l| match l {
            Login::Password { username, password } => Credentials::Password {
                username,
                password: Secret::new(password.expose().as_str()),
                authzid: None,
            },
            Login::Token { username, token } => Credentials::Token {
                username,
                token: Secret::new(token.expose().as_str()),
            },
        });
        c.mechanism = self.mechanism;
        c.nonce = nonce.as_bytes();
        c.dangerous_allow_plaintext_auth = self.allow_plaintext_auth;
        c.timeouts = self.timeouts;
        c.options = self.options;
        c
    }

    /// The EHLO name for a connection from `local`: the configured one, else the
    /// machine's FQDN, else an address literal (RFC 5321 §4.1.4).
    pub(crate) fn ehlo_for(&self, local: Option<SocketAddr>) -> String {
        if let Some(n) = &self.ehlo_name {
            return n.clone();
        }
        if let Some(n) = fqdn() {
            return n;
        }
        match local.map(|a| a.ip()) {
            Some(IpAddr::V4(ip)) => format!("[{ip}]"),
            Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => format!("[{v4}]"),
                None => format!("[IPv6:{ip}]"),
            },
            None => "[127.0.0.1]".to_owned(),
        }
    }

    pub(crate) fn tls_parts(&self) -> Result<(&Arc<ClientConfig>, &ServerName<'static>), Error> {
        match (&self.tls_config, &self.server_name) {
            (Some(c), Some(n)) => Ok((c, n)),
            _ => Err(Error::Config("TLS is disabled".to_owned())),
        }
    }

    /// `host:port`, for spans and errors.
    pub(crate) fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The host name if it is a fully qualified domain name (has a dot, LDH labels).
fn fqdn() -> Option<String> {
    let name = gethostname::gethostname().into_string().ok()?;
    let name = name.trim_end_matches('.');
    let ldh = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let ok = name.contains('.')
        && name.len() <= 253
        && name.split('.').all(ldh)
        && !name.ends_with(".localdomain");
    ok.then(|| name.to_owned())
}

/// A 24-byte random SCRAM client nonce, base64 (printable, no comma).
pub(crate) fn nonce() -> Result<String, Error> {
    let mut raw = [0u8; 24];
    getrandom::getrandom(&mut raw)
        .map_err(|e| Error::Config(format!("no randomness for the SCRAM nonce: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(raw))
}

/// Builds a [`Client`](crate::Client), an [`AsyncClient`](crate::AsyncClient) or a
/// [`Pool`](crate::Pool).
///
/// ```no_run
/// use postel::{Client, TlsMode};
/// let mut client = Client::builder("smtp.example.com")
///     .tls(TlsMode::StartTls)                      // the default; port 587
///     .credentials("alice", "correct horse")
///     .build()?;
/// # Ok::<(), postel::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "call build()"]
pub struct ClientBuilder {
    host: String,
    port: Option<u16>,
    tls: TlsMode,
    roots: Roots,
    client_cert: Option<ClientCert>,
    tls_name: Option<String>,
    tls_resumption: bool,
    ehlo_name: Option<String>,
    login: Option<Login>,
    mechanism: Option<Mechanism>,
    allow_plaintext_auth: bool,
    connect_timeout: Duration,
    timeouts: Timeouts,
    options: Options,
    idle_timeout: Duration,
    max_connections: usize,
    transcript: bool,
}

impl ClientBuilder {
    /// Settings for the server `host` (a name, or an IP address), with the defaults:
    /// STARTTLS required on port 587, platform roots, no credentials, RFC 5321 timeouts,
    /// 30 s to connect, idle connections closed after 60 s.
    pub fn new(host: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            host: host.into(),
            port: None,
            tls: TlsMode::default(),
            roots: Roots::Platform,
            client_cert: None,
            tls_name: None,
            tls_resumption: true,
            ehlo_name: None,
            login: None,
            mechanism: None,
            allow_plaintext_auth: false,
            connect_timeout: Duration::from_secs(30),
            timeouts: Timeouts::RFC5321,
            options: Options::default(),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4,
            transcript: false,
        }
    }

    /// The port; by default [`TlsMode::default_port`].
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// When to use TLS.
    pub fn tls(mut self, mode: TlsMode) -> Self {
        self.tls = mode;
        self
    }

    /// Trust only the CA certificates in this PEM file, instead of the platform's.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots = Roots::CaFile(path.into());
        self
    }

    /// Trust only these PEM-encoded CA certificates, instead of the platform's.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots = Roots::CaPem(pem.into());
        self
    }

    /// Which certificate authorities to trust.
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Present this client certificate (PEM chain, leaf first) with its PEM private key.
    pub fn client_certificate(
        mut self,
        chain: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_cert = Some(ClientCert {
            chain: chain.into(),
            key: key.into(),
        });
        self
    }

    /// Check the server's certificate against this name (and send it as SNI) instead of
    /// the host connected to.
    pub fn tls_name(mut self, name: impl Into<String>) -> Self {
        self.tls_name = Some(name.into());
        self
    }

    /// Resume TLS sessions (on by default): every connection of a client, async client or
    /// pool shares one rustls configuration whose in-memory cache keeps the session
    /// tickets servers send, so a reconnect to the same server skips the certificate
    /// chain and its signature checks (TLS 1.3 resumption, RFC 8446 §2.2). Off: a full
    /// handshake for every connection.
    pub fn tls_session_resumption(mut self, on: bool) -> Self {
        self.tls_resumption = on;
        self
    }

    /// The name sent with EHLO. By default the machine's FQDN, else an address literal
    /// of the local end of the connection (`[192.0.2.1]`).
    pub fn ehlo_name(mut self, name: impl Into<String>) -> Self {
        self.ehlo_name = Some(name.into());
        self
    }

    /// Log in with a username and password (SCRAM-SHA-256, CRAM-MD5, PLAIN or LOGIN,
    /// the strongest the server offers).
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.login = Some(Login::Password {
            username: username.into(),
            password: Secret::new(password.into()),
        });
        self
    }

    /// Log in with an OAuth 2.0 access token (OAUTHBEARER or XOAUTH2).
    pub fn oauth_token(mut self, username: impl Into<String>, token: impl Into<String>) -> Self {
        self.login = Some(Login::Token {
            username: username.into(),
            token: Secret::new(token.into()),
        });
        self
    }

    /// Use this SASL mechanism rather than the strongest offered.
    pub fn mechanism(mut self, mechanism: Mechanism) -> Self {
        self.mechanism = Some(mechanism);
        self
    }

    /// Send credentials even over an unencrypted connection. Dangerous: anyone on the
    /// path can read them (PLAIN, LOGIN) or attack them offline (CRAM-MD5).
    pub fn dangerous_allow_plaintext_auth(mut self, allow: bool) -> Self {
        self.allow_plaintext_auth = allow;
        self
    }

    /// How long to wait for each address to accept the TCP connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The timeout of each wait (RFC 5321 §4.5.3.2 by default).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The core's options: PIPELINING, CHUNKING, limits.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Close (QUIT) a connection unused for this long. Default 60 s.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// For a [`Pool`](crate::Pool): at most this many connections at once. Default 4.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Record a transcript of every connection (credentials redacted); read it with
    /// `transcript()`.
    pub fn transcript(mut self, on: bool) -> Self {
        self.transcript = on;
        self
    }

    /// Checks the settings and loads the certificates.
    pub(crate) fn settings(self) -> Result<Settings, Error> {
        if self.host.is_empty() {
            return Err(Error::Config("empty host name".to_owned()));
        }
        let (tls_config, server_name) = match self.tls {
            TlsMode::Disabled => (None, None),
            _ => (
                Some(tls::client_config(
                    &self.roots,
                    self.client_cert.as_ref(),
                    self.tls_resumption,
                )?),
                Some(tls::server_name(
                    self.tls_name.as_deref().unwrap_or(&self.host),
                )?),
            ),
        };
        Ok(Settings {
            port: self.port.unwrap_or(self.tls.default_port()),
            host: self.host,
            tls: self.tls,
            tls_config,
            server_name,
            ehlo_name: self.ehlo_name,
            login: self.login,
            mechanism: self.mechanism,
            allow_plaintext_auth: self.allow_plaintext_auth,
            connect_timeout: self.connect_timeout,
            timeouts: self.timeouts,
            options: self.options,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            transcript: self.transcript,
        })
    }

    /// A blocking [`Client`](crate::Client). Nothing is connected yet.
    pub fn build(self) -> Result<crate::Client, Error> {
        Ok(crate::Client::from_settings(Arc::new(self.settings()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::TlsMode;

    /// RFC 6409 submission with STARTTLS, RFC 8314 implicit TLS, and port 25 for relay
    /// (opportunistic) and for no TLS at all.
    #[test]
    fn default_ports() {
        assert_eq!(TlsMode::StartTls.default_port(), 587);
        assert_eq!(TlsMode::Implicit.default_port(), 465);
        assert_eq!(TlsMode::Opportunistic.default_port(), 25);
        assert_eq!(TlsMode::Disabled.default_port(), 25);
    }
}
