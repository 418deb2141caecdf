//! How a session behaves: TLS policy, credentials, timeouts, leniencies.

use core::time::Duration;

use crate::auth::{Credentials, Mechanism};

/// When to use TLS (RFC 3207, RFC 8314).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// STARTTLS must succeed before anything else than EHLO is sent; a server that does not
    /// offer it, or refuses it, ends the session (a stripping attacker gains nothing).
    #[default]
    Required,
    /// STARTTLS when offered, plaintext otherwise (port 25 between MTAs).
    Opportunistic,
    /// The transport is already TLS (port 465, RFC 8314 §3.3): no STARTTLS, and the session
    /// counts as encrypted.
    Implicit,
    /// Never start TLS.
    Disabled,
}

/// Timeouts for each wait (RFC 5321 §4.5.3.2). The core names the one in force; the driver
/// owns the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Initial 220 message: 5 minutes.
    pub greeting: Duration,
    /// MAIL command: 5 minutes.
    pub mail: Duration,
    /// RCPT command: 5 minutes.
    pub rcpt: Duration,
    /// DATA initiation (waiting for 354): 2 minutes.
    pub data_init: Duration,
    /// Each write of message content: 3 minutes.
    pub data_block: Duration,
    /// After the final dot (or BDAT LAST): 10 minutes.
    pub data_end: Duration,
    /// EHLO, HELO, STARTTLS, AUTH, RSET, QUIT: 5 minutes.
    pub command: Duration,
    /// The TLS handshake run by the driver: 1 minute.
    pub tls_handshake: Duration,
}

impl Timeouts {
    /// Every wait, and the TLS handshake, bounded by `t` (a short test bound, a command's
    /// `--timeout`, a device's tarpit test).
    pub const fn all(t: Duration) -> Timeouts {
        Timeouts {
            greeting: t,
            mail: t,
            rcpt: t,
            data_init: t,
            data_block: t,
            data_end: t,
            command: t,
            tls_handshake: t,
        }
    }

    /// The RFC 5321 §4.5.3.2 values.
    pub const RFC5321: Timeouts = Timeouts {
        greeting: Duration::from_secs(300),
        mail: Duration::from_secs(300),
        rcpt: Duration::from_secs(300),
        data_init: Duration::from_secs(120),
        data_block: Duration::from_secs(180),
        data_end: Duration::from_secs(600),
        command: Duration::from_secs(300),
        tls_handshake: Duration::from_secs(60),
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::RFC5321
    }
}

/// Knobs for meeting many servers with one binary. Each is a runtime choice, never a Cargo
/// feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Use PIPELINING (RFC 2920) when offered. Default: true.
    pub pipelining: bool,
    /// Use CHUNKING/BDAT (RFC 3030) when offered. Default: true.
    pub chunking: bool,
    /// Longest reply accepted, in octets over all its lines; longer is
    /// [`Error::MalformedReply`](crate::Error) with `TooLong`. Default: 64 KiB.
    pub max_reply_bytes: usize,
    /// Longest message line, without CRLF. A longer line abandons the message before the end
    /// of data with [`Error::LineTooLong`](crate::Error), because a server would cut or refuse
    /// it (RFC 5321 §4.5.3.1.6). Default: 998 (RFC 5322 §2.1.1); `usize::MAX` disables.
    pub max_line_len: usize,
    /// With PIPELINING and CHUNKING, how many BDAT chunks may await their reply before the
    /// client stops to read. Default: 32.
    pub max_chunks_in_flight: u32,
    /// With PIPELINING, do not wait for the reply to AUTH PLAIN: the session is ready at
    /// once, and the first message's MAIL, RCPT and DATA or BDAT (with its content) follow
    /// the AUTH line before its `235`, saving a round trip (RFC 4954 §4 allows it for a
    /// mechanism that completes in one round trip with an initial response, as PLAIN
    /// does). Other mechanisms wait as before. Default: false, because a server may refuse
    /// it (postel-sim's strict mode does, with `554 5.5.0`; Postfix 3.7 and Exim 4.96 take
    /// it), being ready no longer proves the credentials, and if AUTH fails, BDAT content
    /// is already on its way: a server that takes mail for its own users without AUTH may
    /// deliver it while the session ends with [`Error::AuthFailed`](crate::Error).
    pub auth_pipelining: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pipelining: true,
            chunking: true,
            max_reply_bytes: 64 * 1024,
            max_line_len: 998,
            max_chunks_in_flight: 32,
            auth_pipelining: false,
        }
    }
}

/// A session's configuration. Borrowed strings live as long as the [`Client`](crate::Client).
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// The name sent with EHLO/HELO: the client's fully qualified domain name (A-labels), or
    /// an address literal such as `[192.0.2.1]` (RFC 5321 §4.1.4).
    pub ehlo_name: &'a str,
    /// When to use TLS.
    pub tls: TlsMode,
    /// Credentials; `None` skips AUTH.
    pub credentials: Option<Credentials<'a>>,
    /// Force this mechanism instead of the strongest offered.
    pub mechanism: Option<Mechanism>,
    /// The SCRAM client nonce: random printable ASCII from the caller (the core has no RNG).
    pub nonce: &'a [u8],
    /// Send credentials even on an unencrypted session. Dangerous: anyone on the path can read
    /// or replay them.
    pub dangerous_allow_plaintext_auth: bool,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Leniencies and limits.
    pub options: Options,
}

impl<'a> Config<'a> {
    /// A configuration with the given EHLO name, TLS required, no credentials.
    pub fn new(ehlo_name: &'a str) -> Config<'a> {
        Config {
            ehlo_name,
            tls: TlsMode::Required,
            credentials: None,
            mechanism: None,
            nonce: &[],
            dangerous_allow_plaintext_auth: false,
            timeouts: Timeouts::RFC5321,
            options: Options::default(),
        }
    }
}
