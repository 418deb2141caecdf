//! What the simulated server offers and how strictly it judges the client.
//!
//! ```text
//! S: 220 mx.sim.test ESMTP postel-sim
//! C: EHLO client.test
//! S: 250-mx.sim.test
//! S: 250-PIPELINING            <- each line is one `Extension`, switched off with
//! S: 250-SIZE 10485760            `ConfigBuilder::without(Extension::Size)`
//! S: 250 ...
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::fault::Fault;

/// One ESMTP extension the simulator can advertise (RFC 5321 §4.1.1.1 EHLO keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Extension {
    /// RFC 2920 command pipelining.
    Pipelining,
    /// RFC 1870 message size declaration (`SIZE=` on MAIL, limit in EHLO).
    Size,
    /// RFC 6152 `BODY=8BITMIME`.
    EightBitMime,
    /// RFC 6531 internationalized addresses (`SMTPUTF8` on MAIL).
    SmtpUtf8,
    /// RFC 3030 `BDAT`.
    Chunking,
    /// RFC 3461 delivery status notifications (NOTIFY, ORCPT, RET, ENVID).
    Dsn,
    /// RFC 2034 enhanced status codes in reply text; when off they are stripped.
    EnhancedStatusCodes,
    /// RFC 3207 STARTTLS.
    StartTls,
    /// RFC 4954 AUTH, with the mechanisms in [`Config::auth_mechanisms`].
    Auth,
}

impl Extension {
    /// Every extension, in the order the EHLO reply lists them.
    pub const ALL: [Extension; 9] = [
        Extension::Pipelining,
        Extension::Size,
        Extension::StartTls,
        Extension::Auth,
        Extension::EnhancedStatusCodes,
        Extension::EightBitMime,
        Extension::Dsn,
        Extension::SmtpUtf8,
        Extension::Chunking,
    ];
}

/// A SASL mechanism the simulator accepts (RFC 4954).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// draft-murchison-sasl-login: base64 "Username:" / "Password:" prompts.
    Login,
    /// RFC 2195: HMAC-MD5 over a server challenge.
    CramMd5,
    /// Google's XOAUTH2: `user=..\x01auth=Bearer ..\x01\x01`, checked against
    /// [`Config::oauth_tokens`].
    XOAuth2,
    /// RFC 5802 / RFC 7677, without channel binding.
    ScramSha256,
}

impl Mechanism {
    /// The name as it appears in EHLO and in `AUTH <name>`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Looks a mechanism up by name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        [
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::CramMd5,
            Mechanism::XOAuth2,
            Mechanism::ScramSha256,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

/// How the simulator judges deviations from RFC 5321.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// As strict as the strictest real server (Postfix 3.9 with `smtpd_forbid_bare_newline
    /// = reject`, `smtpd_forbid_unauth_pipelining = yes`, `smtpd_helo_required = yes`,
    /// `strict_rfc821_envelopes = yes`): see the crate docs for each rule and its reply.
    #[default]
    Strict,
    /// As forgiving as a default Postfix before 3.9: LF alone ends a line, `<LF>.<LF>`
    /// ends DATA, pipelining is never policed, long lines pass up to the SIZE limit,
    /// `MAIL FROM: <a@b>` with a space or without brackets is taken.
    Lenient,
}

/// The TLS certificate the simulator presents.
#[derive(Debug, Clone, Default)]
pub enum TlsIdentity {
    /// Generate a CA and a leaf for `localhost`, 127.0.0.1, ::1 and the configured
    /// hostname at start; [`crate::Simulator::ca_pem`] gives the CA to trust.
    #[default]
    Generate,
    /// Use this PEM certificate chain (leaf first) and PEM private key (PKCS#8, PKCS#1 or SEC1).
    Pem {
        /// The chain, leaf first.
        cert_chain: String,
        /// The leaf's private key.
        key: String,
    },
}

/// A user that AUTH accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The authentication identity (authcid).
    pub name: String,
    /// The password; the simulator is a test tool, so it is kept in the clear.
    pub password: String,
}

/// The whole configuration of one simulator; build it with [`Config::builder`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The name in the greeting, the EHLO reply and Postfix-style error texts.
    pub hostname: String,
    /// Where to listen: loopback only (127.0.0.1 or ::1) unless [`Config::allow_remote`];
    /// anything else is refused at start.
    pub bind: IpAddr,
    /// Allow a non-loopback [`Config::bind`] (the CLI warns when it is used).
    pub allow_remote: bool,
    /// The greeting text after the hostname; `None` is `ESMTP postel-sim`.
    pub greeting: Option<String>,
    /// Refuse bare LF / bare CR (Postfix `smtpd_forbid_bare_newline = reject`); `None`
    /// follows [`Config::strictness`].
    pub forbid_bare_newline: Option<bool>,
    /// Police pipelining (Postfix `smtpd_forbid_unauth_pipelining`, Exim
    /// `smtp_enforce_sync`); `None` follows [`Config::strictness`].
    pub enforce_pipelining: Option<bool>,
    /// The port; 0 picks an ephemeral one.
    pub port: u16,
    /// Extensions advertised and honoured.
    pub extensions: Vec<Extension>,
    /// SASL mechanisms offered when [`Extension::Auth`] is on, in EHLO order.
    pub auth_mechanisms: Vec<Mechanism>,
    /// Users for PLAIN, LOGIN, CRAM-MD5 and SCRAM-SHA-256.
    pub users: Vec<User>,
    /// `(user, bearer token)` pairs that XOAUTH2 accepts.
    pub oauth_tokens: Vec<(String, String)>,
    /// The SIZE limit in octets (advertised in EHLO, checked on `SIZE=` and on the data);
    /// 0 means no limit.
    pub size_limit: u64,
    /// Offer and accept AUTH only after STARTTLS (Postfix `smtpd_tls_auth_only`).
    pub require_tls_for_auth: bool,
    /// Refuse MAIL before a successful AUTH with `530 5.7.0 Authentication required`.
    pub require_auth: bool,
    /// Refuse MAIL before STARTTLS with `530 5.7.0 Must issue a STARTTLS command first`.
    pub require_tls: bool,
    /// Strict (default) or lenient.
    pub strictness: Strictness,
    /// The longest command line, CRLF included (RFC 5321 §4.5.3.1.4: 512); extensions
    /// add their allowances on MAIL and RCPT, and AUTH lines may be 12288 (RFC 4954 §4).
    pub max_command_line: usize,
    /// The longest text line in DATA, CRLF included (RFC 5321 §4.5.3.1.6: 1000);
    /// 0 means unlimited. Checked in strict mode only.
    pub max_text_line: usize,
    /// Recipients accepted per transaction; more get `452 4.5.3 Error: too many recipients`.
    pub max_recipients: usize,
    /// Refuse 8-bit octets in a body sent without `BODY=8BITMIME` (RFC 6152 §3 forbids
    /// them; Postfix and most real servers accept them anyway, so this is off by default).
    pub reject_8bit_without_8bitmime: bool,
    /// Also deliver each accepted message into this Maildir (`new/`, created if missing).
    pub maildir: Option<PathBuf>,
    /// The certificate for STARTTLS and implicit TLS.
    pub tls_identity: TlsIdentity,
    /// Write the generated CA certificate (PEM) to this file at start.
    pub write_ca_to: Option<PathBuf>,
    /// Handshake TLS at connect, before the greeting (RFC 8314, port-465 style).
    pub implicit_tls: bool,
    /// Faults to inject, in the order given; see [`crate::fault`].
    pub faults: Vec<Fault>,
}

impl Config {
    /// A builder starting from the strict defaults: every extension on, AUTH with all
    /// mechanisms, 10 MiB SIZE, hostname `mx.sim.test`, an ephemeral port on 127.0.0.1.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
            command_line_set: false,
            text_line_set: false,
        }
    }

    /// Whether `ext` is switched on.
    pub fn has(&self, ext: Extension) -> bool {
        self.extensions.contains(&ext)
    }

    /// Whether the strict rules apply.
    pub fn is_strict(&self) -> bool {
        self.strictness == Strictness::Strict
    }

    /// Whether a bare LF or CR is refused (and LF alone does not end a line).
    pub fn refuses_bare_newline(&self) -> bool {
        self.forbid_bare_newline.unwrap_or(self.is_strict())
    }

    /// Whether commands sent ahead of their reply end the session.
    pub fn polices_pipelining(&self) -> bool {
        self.enforce_pipelining.unwrap_or(self.is_strict())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: "mx.sim.test".to_owned(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            allow_remote: false,
            greeting: None,
            forbid_bare_newline: None,
            enforce_pipelining: None,
            port: 0,
            extensions: Extension::ALL.to_vec(),
            auth_mechanisms: vec![
                Mechanism::Plain,
                Mechanism::Login,
                Mechanism::CramMd5,
                Mechanism::XOAuth2,
                Mechanism::ScramSha256,
            ],
            users: Vec::new(),
            oauth_tokens: Vec::new(),
            size_limit: 10 * 1024 * 1024,
            require_tls_for_auth: false,
            require_auth: false,
            require_tls: false,
            strictness: Strictness::Strict,
            max_command_line: 512,
            max_text_line: 1000,
            max_recipients: 100,
            reject_8bit_without_8bitmime: false,
            maildir: None,
            tls_identity: TlsIdentity::Generate,
            write_ca_to: None,
            implicit_tls: false,
            faults: Vec::new(),
        }
    }
}

/// Builds a [`Config`]; every setter consumes and returns the builder.
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    config: Config,
    command_line_set: bool,
    text_line_set: bool,
}

impl ConfigBuilder {
    /// The name the server calls itself.
    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.config.hostname = name.into();
        self
    }

    /// The loopback address to bind (127.0.0.1 or ::1).
    pub fn bind(mut self, ip: IpAddr) -> Self {
        self.config.bind = ip;
        self
    }

    /// Allow binding a non-loopback address.
    pub fn allow_remote(mut self, on: bool) -> Self {
        self.config.allow_remote = on;
        self
    }

    /// The greeting text after the hostname (`ESMTP Postfix`, ...).
    pub fn greeting(mut self, text: impl Into<String>) -> Self {
        self.config.greeting = Some(text.into());
        self
    }

    /// Refuse (or accept) bare LF and CR whatever the strictness.
    pub fn forbid_bare_newline(mut self, on: bool) -> Self {
        self.config.forbid_bare_newline = Some(on);
        self
    }

    /// Police (or ignore) pipelining whatever the strictness.
    pub fn enforce_pipelining(mut self, on: bool) -> Self {
        self.config.enforce_pipelining = Some(on);
        self
    }

    /// A fixed port instead of an ephemeral one.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Switches `ext` on or off.
    pub fn extension(mut self, ext: Extension, on: bool) -> Self {
        self.config.extensions.retain(|e| *e != ext);
        if on {
            self.config.extensions.push(ext);
        }
        self
    }

    /// Switches `ext` off.
    pub fn without(self, ext: Extension) -> Self {
        self.extension(ext, false)
    }

    /// Exactly these extensions, no others.
    pub fn only_extensions(mut self, exts: &[Extension]) -> Self {
        self.config.extensions = exts.to_vec();
        self
    }

    /// The SASL mechanisms offered, in this order.
    pub fn auth_mechanisms(mut self, mechs: &[Mechanism]) -> Self {
        self.config.auth_mechanisms = mechs.to_vec();
        self
    }

    /// Adds a user for the password mechanisms.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.users.push(User {
            name: name.into(),
            password: password.into(),
        });
        self
    }

    /// Adds a bearer token that XOAUTH2 accepts for `user`.
    pub fn oauth_token(mut self, user: impl Into<String>, token: impl Into<String>) -> Self {
        self.config.oauth_tokens.push((user.into(), token.into()));
        self
    }

    /// The SIZE limit in octets; 0 is unlimited.
    pub fn size_limit(mut self, octets: u64) -> Self {
        self.config.size_limit = octets;
        self
    }

    /// Offer AUTH only after STARTTLS.
    pub fn require_tls_for_auth(mut self, on: bool) -> Self {
        self.config.require_tls_for_auth = on;
        self
    }

    /// Refuse MAIL before AUTH.
    pub fn require_auth(mut self, on: bool) -> Self {
        self.config.require_auth = on;
        self
    }

    /// Refuse MAIL before STARTTLS.
    pub fn require_tls(mut self, on: bool) -> Self {
        self.config.require_tls = on;
        self
    }

    /// Strict or lenient; lenient also raises the line limits to Postfix's (2048 for
    /// commands, unlimited text lines) unless they were set explicitly.
    pub fn strictness(mut self, s: Strictness) -> Self {
        self.config.strictness = s;
        self
    }

    /// Shorthand for `strictness(Strictness::Lenient)`.
    pub fn lenient(self) -> Self {
        self.strictness(Strictness::Lenient)
    }

    /// The longest command line, CRLF included.
    pub fn max_command_line(mut self, octets: usize) -> Self {
        self.config.max_command_line = octets;
        self.command_line_set = true;
        self
    }

    /// The longest DATA text line, CRLF included; 0 is unlimited.
    pub fn max_text_line(mut self, octets: usize) -> Self {
        self.config.max_text_line = octets;
        self.text_line_set = true;
        self
    }

    /// Recipients per transaction.
    pub fn max_recipients(mut self, n: usize) -> Self {
        self.config.max_recipients = n;
        self
    }

    /// Refuse 8-bit bodies without `BODY=8BITMIME`.
    pub fn reject_8bit_without_8bitmime(mut self, on: bool) -> Self {
        self.config.reject_8bit_without_8bitmime = on;
        self
    }

    /// Deliver into a Maildir too.
    pub fn maildir(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.maildir = Some(path.into());
        self
    }

    /// Present this certificate instead of a generated one.
    pub fn tls_identity(mut self, id: TlsIdentity) -> Self {
        self.config.tls_identity = id;
        self
    }

    /// Write the generated CA (PEM) here at start.
    pub fn write_ca_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.write_ca_to = Some(path.into());
        self
    }

    /// TLS from the first byte (port-465 style).
    pub fn implicit_tls(mut self, on: bool) -> Self {
        self.config.implicit_tls = on;
        self
    }

    /// Adds a fault; see [`crate::fault::Fault`].
    pub fn fault(mut self, fault: Fault) -> Self {
        self.config.faults.push(fault);
        self
    }

    /// The finished configuration.
    pub fn build(mut self) -> Config {
        if self.config.strictness == Strictness::Lenient {
            if !self.command_line_set {
                self.config.max_command_line = 2048;
            }
            if !self.text_line_set {
                self.config.max_text_line = 0;
            }
        }
        self.config
    }
}
