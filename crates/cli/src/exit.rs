//! Exit codes from BSD `sysexits.h`, as sendmail, msmtp and their callers (cron, mutt,
//! `git send-email`, PHP's `mail()`) read them, and the one failure type every command
//! returns: a clear message for stderr plus the code.

use std::fmt;

use postel::proto::{Error as CoreError, Fault};
use postel::{Error, SendReport, Step};

/// Everything was accepted.
pub const OK: u8 = 0;
/// The command line is wrong (`EX_USAGE`).
pub const USAGE: u8 = 64;
/// The message or an address is malformed (`EX_DATAERR`).
pub const DATAERR: u8 = 65;
/// An input file does not exist or cannot be read (`EX_NOINPUT`).
pub const NOINPUT: u8 = 66;
/// Some (or all) recipients were refused permanently (`EX_NOUSER`).
pub const NOUSER: u8 = 67;
/// The server's host name does not exist (`EX_NOHOST`): permanent, unlike a resolver
/// that is down for now.
pub const NOHOST: u8 = 68;
/// The server refused permanently (`EX_UNAVAILABLE`).
pub const UNAVAILABLE: u8 = 69;
/// A bug: something that cannot happen did (`EX_SOFTWARE`).
pub const SOFTWARE: u8 = 70;
/// Writing the output failed (`EX_IOERR`).
pub const IOERR: u8 = 74;
/// A transient failure: try again later (`EX_TEMPFAIL`).
pub const TEMPFAIL: u8 = 75;
/// The server broke the protocol (`EX_PROTOCOL`).
pub const PROTOCOL: u8 = 76;
/// The server refused the login (`EX_NOPERM`, as msmtp exits on a wrong password).
pub const NOPERM: u8 = 77;
/// Bad configuration: config file, certificates, credentials source (`EX_CONFIG`).
pub const CONFIG: u8 = 78;

/// Why a command failed: the message for stderr and the sysexits code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code (one of this module's constants).
    pub code: u8,
    /// What to tell the user, one line or a few.
    pub message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A configuration problem (exit 78).
    pub fn config(message: impl Into<String>) -> Failure {
        Failure::new(CONFIG, message)
    }

    /// A bad message or address (exit 65).
    pub fn data(message: impl Into<String>) -> Failure {
        Failure::new(DATAERR, message)
    }

    /// A usage error (exit 64).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::new(code_for_error(&e), e.to_string())
    }
}

impl From<postel_mime::Error> for Failure {
    fn from(e: postel_mime::Error) -> Failure {
        Failure::data(format!("message: {e}"))
    }
}

/// The exit code for a send that failed as a whole.
pub fn code_for_error(e: &Error) -> u8 {
    match e {
        Error::Connect { source, .. } => match lookup_failure(source) {
            Some(Lookup::NoSuchHost) => NOHOST,
            Some(Lookup::Temporary) | None => TEMPFAIL,
        },
        Error::Io(_) | Error::Timeout { .. } => TEMPFAIL,
        // The wrong TLS mode for the port: a setting to change, not a reason to retry.
        Error::Tls(postel::TlsError::NotTls) => CONFIG,
        Error::Tls(postel::TlsError::Setup(_)) => CONFIG,
        Error::Tls(_) => UNAVAILABLE,
        Error::Config(_) => CONFIG,
        Error::Message(_) => DATAERR,
        Error::Source(_) => NOINPUT,
        Error::Rejected { step, reply, .. } => {
            if reply.is_transient() {
                TEMPFAIL
            } else if *step == Step::Rcpt {
                NOUSER
            } else {
                UNAVAILABLE
            }
        }
        Error::Protocol(p) => code_for_core(p),
        // A call the library does not allow: our bug, not the server's.
        Error::Misuse(_) => SOFTWARE,
        _ if e.is_transient() => TEMPFAIL,
        _ => SOFTWARE,
    }
}

/// The exit code for an error of the core, by who is at fault: a bug of ours (a call the
/// session's state does not allow, a buffer too small) is 70, never a protocol error.
fn code_for_core(e: &CoreError) -> u8 {
    if e.is_transient() {
        return TEMPFAIL;
    }
    match e.fault() {
        Fault::Protocol => PROTOCOL,
        Fault::Refused => match e {
            CoreError::AuthFailed { .. } => NOPERM,
            _ => UNAVAILABLE,
        },
        Fault::Network => TEMPFAIL,
        Fault::Tls => match e.reply() {
            Some(_) => UNAVAILABLE,
            // Required, and not offered.
            None => PROTOCOL,
        },
        Fault::Misuse => SOFTWARE,
        Fault::Input => DATAERR,
        Fault::Config => CONFIG,
        _ => SOFTWARE,
    }
}

/// What a failed name lookup means for trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The name does not exist, or has no address: waiting will not help.
    NoSuchHost,
    /// The resolver could not answer now (no network, a DNS server down).
    Temporary,
}

/// Whether a connect error is the resolver's, and which kind. The standard library gives
/// getaddrinfo's failures no error kind of their own, only its text
/// ("failed to lookup address information: Name or service not known"), so that text is
/// what tells them from a refused or unreachable address (which carry an OS error code).
pub fn lookup_failure(e: &std::io::Error) -> Option<Lookup> {
    if e.raw_os_error().is_some() {
        return None;
    }
    let text = e.to_string();
    if e.kind() == std::io::ErrorKind::NotFound && text.contains("has no address") {
        return Some(Lookup::NoSuchHost);
    }
    if !text.contains("lookup address information") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    Some(
        if lower.contains("temporary") || lower.contains("try again") {
            Lookup::Temporary
        } else {
            Lookup::NoSuchHost
        },
    )
}

/// The exit code for a message accepted for at least one recipient: 0 when all were,
/// 67 when one was refused for good, 75 when the only refusals were temporary.
pub fn code_for_report(report: &SendReport) -> u8 {
    if report.refused.is_empty() {
        OK
    } else if report.refused.iter().all(|r| r.reply.is_transient()) {
        TEMPFAIL
    } else {
        NOUSER
    }
}

/// Of several outcomes, the one to exit with: the first failure's, in order of gravity
/// (a permanent failure over a partial refusal over a temporary failure).
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    let rank = |c: u8| match c {
        OK => 0,
        TEMPFAIL => 1,
        NOUSER => 2,
        _ => 3,
    };
    codes.into_iter().max_by_key(|&c| rank(c)).unwrap_or(OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_prefers_permanent_failure_over_partial_over_temporary() {
        assert_eq!(worst([OK, TEMPFAIL, NOUSER]), NOUSER);
        assert_eq!(worst([OK, TEMPFAIL]), TEMPFAIL);
        assert_eq!(worst([NOUSER, UNAVAILABLE, OK]), UNAVAILABLE);
        assert_eq!(worst([]), OK);
    }

    #[test]
    fn connection_failures_are_temporary_and_bad_config_is_config() {
        let e = Error::Connect {
            host: "x:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(code_for_error(&e), TEMPFAIL);
        assert_eq!(code_for_error(&Error::Config("bad".into())), CONFIG);
    }

    #[test]
    fn caller_bugs_are_software_errors_and_config_problems_are_config() {
        let core = |e: CoreError| code_for_error(&Error::Protocol(e));
        assert_eq!(core(CoreError::Busy), SOFTWARE);
        assert_eq!(core(CoreError::Closed), SOFTWARE);
        assert_eq!(core(CoreError::BufferTooSmall { needed: 600 }), SOFTWARE);
        assert_eq!(core(CoreError::AuthRequiresTls), CONFIG);
        let not_built =
            postel::proto::AuthError::MechanismNotBuilt(postel::proto::Mechanism::Plain);
        assert_eq!(core(CoreError::Sasl(not_built)), CONFIG);
        let bad_challenge = postel::proto::AuthError::MalformedChallenge;
        assert_eq!(core(CoreError::Sasl(bad_challenge)), PROTOCOL);
        assert_eq!(core(CoreError::DataAfterStartTls), PROTOCOL);
        assert_eq!(core(CoreError::LineTooLong { length: 1200 }), DATAERR);
        assert_eq!(core(CoreError::TlsUnavailable { reply: None }), PROTOCOL);
        assert_eq!(code_for_error(&postel::Misuse::PoolClosed.into()), SOFTWARE);
    }

    #[test]
    fn resolver_failures_are_told_apart_by_their_text() {
        let other = |m: &str| std::io::Error::other(m.to_owned());
        let gone = other("failed to lookup address information: Name or service not known");
        let again =
            other("failed to lookup address information: Temporary failure in name resolution");
        assert_eq!(lookup_failure(&gone), Some(Lookup::NoSuchHost));
        assert_eq!(lookup_failure(&again), Some(Lookup::Temporary));
        let refused = std::io::Error::from_raw_os_error(111);
        assert_eq!(lookup_failure(&refused), None);
        let e = Error::Connect {
            host: "nx.invalid:25".into(),
            source: gone,
        };
        assert_eq!(code_for_error(&e), NOHOST);
        let e = Error::Connect {
            host: "nx.invalid:25".into(),
            source: again,
        };
        assert_eq!(code_for_error(&e), TEMPFAIL);
    }
}
