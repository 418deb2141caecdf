//! Errors that end a session or refuse a request, and the steps they happen at.
//!
//! A server's "no" to one recipient or one message is not an error: it arrives as an
//! [`Event`](crate::Event). An [`Error`] means the session cannot go on (or, from
//! [`Client::submit`](crate::Client::submit), that the request was refused and nothing was
//! written).

use core::fmt;
use core::time::Duration;

use crate::auth::{AuthError, Mechanism};
use crate::config::Timeouts;
use crate::reply::{Code, ReplyError, ReplyInfo};

/// A step of the session, named for the command whose reply is awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Waiting for the 220 greeting.
    Greeting,
    /// EHLO sent.
    Ehlo,
    /// HELO sent (EHLO was refused).
    Helo,
    /// STARTTLS sent.
    StartTls,
    /// The TLS handshake, run by the driver.
    TlsHandshake,
    /// AUTH exchange.
    Auth,
    /// MAIL FROM sent.
    Mail,
    /// RCPT TO sent.
    Rcpt,
    /// DATA sent, waiting for 354.
    Data,
    /// Sending the message content (DATA body or BDAT chunks).
    Body,
    /// Final dot (or BDAT LAST) sent, waiting for the verdict.
    DataEnd,
    /// RSET sent.
    Rset,
    /// QUIT sent.
    Quit,
}

impl Step {
    /// The timeout for this step from `t` (RFC 5321 §4.5.3.2).
    pub const fn timeout(self, t: &Timeouts) -> Duration {
        match self {
            Step::Greeting => t.greeting,
            Step::Mail => t.mail,
            Step::Rcpt => t.rcpt,
            Step::Data => t.data_init,
            Step::Body => t.data_block,
            Step::DataEnd => t.data_end,
            Step::TlsHandshake => t.tls_handshake,
            Step::Ehlo | Step::Helo | Step::StartTls | Step::Auth | Step::Rset | Step::Quit => {
                t.command
            }
        }
    }

    /// The step's name as in the RFC.
    pub const fn name(self) -> &'static str {
        match self {
            Step::Greeting => "greeting",
            Step::Ehlo => "EHLO",
            Step::Helo => "HELO",
            Step::StartTls => "STARTTLS",
            Step::TlsHandshake => "TLS handshake",
            Step::Auth => "AUTH",
            Step::Mail => "MAIL FROM",
            Step::Rcpt => "RCPT TO",
            Step::Data => "DATA",
            Step::Body => "message content",
            Step::DataEnd => "end of data",
            Step::Rset => "RSET",
            Step::Quit => "QUIT",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which argument a validation error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Argument {
    /// The EHLO/HELO name.
    EhloName,
    /// The reverse-path (MAIL FROM).
    Sender,
    /// The recipient at this index of the envelope.
    Recipient(usize),
    /// The ORCPT of the recipient at this index.
    OriginalRecipient(usize),
    /// The DSN envelope id.
    EnvelopeId,
    /// A credential (username, password, token or SCRAM nonce).
    Credential,
}

/// What is wrong with an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// A byte never allowed there: CR, LF, NUL or another control.
    Byte(u8),
    /// Not the RFC 5321 syntax.
    Syntax,
    /// Empty where a value is needed.
    Empty,
    /// Longer than the protocol allows.
    TooLong,
    /// Non-ASCII where only ASCII can be sent.
    NonAscii,
}

/// How the server refused authentication (RFC 4954 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// 535 5.7.8: wrong username or password.
    InvalidCredentials,
    /// 534 5.7.9: the mechanism is too weak for this server's policy.
    MechanismTooWeak,
    /// 538 5.7.11: the mechanism needs an encrypted session.
    EncryptionRequired,
    /// 454 4.7.0: temporary failure on the server.
    Temporary,
    /// Any other refusal.
    Other,
}

/// An error that ends the session, or a refused request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer closed the connection while a reply was awaited.
    ConnectionClosed {
        /// What was awaited.
        step: Step,
    },
    /// The server's bytes are not SMTP replies.
    MalformedReply {
        /// What was awaited.
        step: Step,
        /// What is wrong.
        error: ReplyError,
        /// The code the bad reply began with, when it began with one: a garbled or
        /// over-long `250` to the final dot still says the message was taken.
        started_with: Option<Code>,
    },
    /// The server sent a reply when none was awaited, or one no command it was sent can
    /// have (RFC 5321 §4.3.2): a 2yz to DATA, a 3yz to anything but DATA and AUTH. Its
    /// replies are out of step with the commands, so the session cannot go on.
    UnexpectedReply {
        /// The reply.
        reply: ReplyInfo,
    },
    /// The server refused a step the session cannot go on without (greeting, EHLO and HELO,
    /// a transaction's reset).
    Rejected {
        /// The refused step.
        step: Step,
        /// The server's reply.
        reply: ReplyInfo,
    },
    /// 421: the server is closing the connection (RFC 5321 §3.8).
    ServiceClosing {
        /// The step it answered.
        step: Step,
        /// The server's reply.
        reply: ReplyInfo,
    },
    /// TLS is required, but the server did not offer STARTTLS or refused it. Nothing private
    /// was sent.
    TlsUnavailable {
        /// The refusal of STARTTLS, when there was one; `None` when it was not offered.
        reply: Option<ReplyInfo>,
    },
    /// Bytes followed the 220 to STARTTLS before the handshake: a plaintext injection attempt
    /// (RFC 3207 §6, CVE-2011-0411). The connection must be dropped.
    DataAfterStartTls,
    /// Credentials would go over an unencrypted session and that was not allowed.
    AuthRequiresTls,
    /// The server offers no mechanism usable with the given credentials.
    AuthUnavailable {
        /// The mechanism the caller asked for, if any.
        wanted: Option<Mechanism>,
    },
    /// The server refused the credentials.
    AuthFailed {
        /// How.
        failure: AuthFailure,
        /// The server's reply.
        reply: ReplyInfo,
    },
    /// The SASL exchange failed on our side (malformed challenge, server not verified...).
    Sasl(AuthError),
    /// An argument is not valid SMTP; nothing was written.
    InvalidArgument {
        /// Which argument.
        argument: Argument,
        /// Byte offset in the argument.
        at: usize,
        /// What is wrong.
        invalid: Invalid,
    },
    /// The message needs an extension the server does not offer (SMTPUTF8, 8BITMIME,
    /// REQUIRETLS); nothing was written.
    ExtensionRequired {
        /// The EHLO keyword.
        extension: &'static str,
    },
    /// The message is larger than the server's declared maximum (RFC 1870). When known in
    /// advance nothing was sent; when found while sending, the session was abandoned before the
    /// end of data, so the server discards what it got.
    MessageTooLarge {
        /// The message size (or the size reached so far).
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// The message holds a line longer than the configured maximum (998 octets by RFC 5322
    /// §2.1.1). The session was abandoned before the end of data.
    LineTooLong {
        /// The line's length without CRLF.
        length: usize,
    },
    /// A buffer given to the client is too small for this step.
    BufferTooSmall {
        /// The size needed.
        needed: usize,
    },
    /// The call does not fit the session's state (e.g. `submit` while a message is in flight).
    Busy,
    /// The session is closed.
    Closed,
}

impl Error {
    /// True when trying again later may succeed: 4yz replies, 421, a lost connection.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::ConnectionClosed { .. } | Error::ServiceClosing { .. } => true,
            Error::Rejected { reply, .. } | Error::AuthFailed { reply, .. } => reply.is_transient(),
            Error::TlsUnavailable { reply: Some(r) } => r.is_transient(),
            _ => false,
        }
    }

    /// The server's reply behind this error, if any.
    pub fn reply(&self) -> Option<&ReplyInfo> {
        match self {
            Error::UnexpectedReply { reply }
            | Error::Rejected { reply, .. }
            | Error::ServiceClosing { reply, .. }
            | Error::AuthFailed { reply, .. }
            | Error::TlsUnavailable { reply: Some(reply) } => Some(reply),
            _ => None,
        }
    }
}

/// Who is at fault for an [`Error`]: what went wrong, and so what can be done about it.
/// [`Error::fault`] gives it; the error itself carries the evidence (the server's reply, the
/// step, the argument and offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The server broke the protocol: bytes that are not SMTP replies, a reply out of step
    /// with the commands, bytes after its STARTTLS reply, a SASL exchange it got wrong.
    Protocol,
    /// The server refused: by a reply ([`Error::reply`] is the evidence), or by what it
    /// declared in EHLO (its SIZE limit, an extension the message needs and it lacks).
    Refused,
    /// The connection was lost.
    Network,
    /// TLS is required and the server does not offer it or refused it.
    Tls,
    /// The caller used the API wrongly: a call the session's state does not allow, a buffer
    /// too small for what it was asked to hold. A bug in the calling program.
    Misuse,
    /// What the caller asked to send cannot be sent as given: an argument that is not valid
    /// SMTP, a message line longer than the limit.
    Input,
    /// The local configuration cannot work: credentials over an unencrypted session that
    /// was not allowed, no AUTH mechanism of this build or of the server's fits them.
    Config,
}

impl Fault {
    /// A short name: "protocol", "refused", "network", "TLS", "misuse", "input", "config".
    pub const fn name(self) -> &'static str {
        match self {
            Fault::Protocol => "protocol",
            Fault::Refused => "refused",
            Fault::Network => "network",
            Fault::Tls => "TLS",
            Fault::Misuse => "misuse",
            Fault::Input => "input",
            Fault::Config => "config",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Error {
    /// Who is at fault (see [`Fault`]).
    pub fn fault(&self) -> Fault {
        match self {
            Error::ConnectionClosed { .. } => Fault::Network,
            Error::MalformedReply { .. }
            | Error::UnexpectedReply { .. }
            | Error::DataAfterStartTls => Fault::Protocol,
            Error::Rejected { .. }
            | Error::ServiceClosing { .. }
            | Error::AuthFailed { .. }
            | Error::ExtensionRequired { .. }
            | Error::MessageTooLarge { .. } => Fault::Refused,
            Error::TlsUnavailable { .. } => Fault::Tls,
            Error::AuthRequiresTls | Error::AuthUnavailable { .. } => Fault::Config,
            Error::Sasl(e) => match e {
                AuthError::MechanismNotBuilt(_)
                | AuthError::NoMechanismBuilt
                | AuthError::WrongCredentialKind => Fault::Config,
                AuthError::BufferTooSmall { .. } => Fault::Misuse,
                AuthError::InvalidCredential { .. } => Fault::Input,
                _ => Fault::Protocol,
            },
            Error::InvalidArgument { .. } | Error::LineTooLong { .. } => Fault::Input,
            Error::BufferTooSmall { .. } | Error::Busy | Error::Closed => Fault::Misuse,
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::MalformedReply { error, .. } => Some(error),
            Error::Sasl(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Error {
        match e {
            AuthError::BufferTooSmall { needed } => Error::BufferTooSmall { needed },
            AuthError::InvalidCredential { at, .. } => Error::InvalidArgument {
                argument: Argument::Credential,
                at,
                invalid: Invalid::Syntax,
            },
            other => Error::Sasl(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ConnectionClosed { step } => {
                write!(f, "connection closed by the server while waiting for the reply to {step}")
            }
            Error::MalformedReply { step, error, .. } => {
                write!(f, "{error} from the server (after {step})")
            }
            Error::UnexpectedReply { reply } => write!(f, "unexpected reply: {reply}"),
            Error::Rejected { step, reply } => write!(f, "server refused {step}: {reply}"),
            Error::ServiceClosing { step, reply } => {
                write!(f, "server closing the connection (at {step}): {reply}")
            }
            Error::TlsUnavailable { reply: None } => {
                f.write_str("TLS is required but the server does not offer STARTTLS")
            }
            Error::TlsUnavailable { reply: Some(r) } => {
                write!(f, "TLS is required but the server refused STARTTLS: {r}")
            }
            Error::DataAfterStartTls => {
                f.write_str("server sent data after its STARTTLS reply (injection attempt)")
            }
            Error::AuthRequiresTls => f.write_str(
                "refusing to send credentials over an unencrypted connection (use TLS or allow plaintext auth explicitly)",
            ),
            Error::AuthUnavailable { wanted: Some(m) } => {
                write!(f, "server does not offer AUTH {}", m.name())
            }
            Error::AuthUnavailable { wanted: None } => {
                f.write_str("server offers no authentication mechanism usable with these credentials")
            }
            Error::AuthFailed { failure, reply } => {
                let what = match failure {
                    AuthFailure::InvalidCredentials => "invalid credentials",
                    AuthFailure::MechanismTooWeak => "mechanism too weak",
                    AuthFailure::EncryptionRequired => "encryption required",
                    AuthFailure::Temporary => "temporary authentication failure",
                    AuthFailure::Other => "authentication failed",
                };
                write!(f, "{what}: {reply}")
            }
            Error::Sasl(e) => write!(f, "authentication exchange failed: {e}"),
            Error::InvalidArgument {
                argument,
                at,
                invalid,
            } => {
                let what = match argument {
                    Argument::EhloName => "EHLO name",
                    Argument::Sender => "sender address",
                    Argument::Recipient(_) => "recipient address",
                    Argument::OriginalRecipient(_) => "original recipient (ORCPT)",
                    Argument::EnvelopeId => "envelope id",
                    Argument::Credential => "credential",
                };
                match invalid {
                    Invalid::Byte(b) => write!(f, "invalid byte 0x{b:02x} in {what} at offset {at}"),
                    Invalid::Syntax => write!(f, "invalid {what}: syntax error at offset {at}"),
                    Invalid::Empty => write!(f, "{what} is empty"),
                    Invalid::TooLong => write!(f, "{what} is too long"),
                    Invalid::NonAscii => write!(f, "{what} must be ASCII (offset {at})"),
                }
            }
            Error::ExtensionRequired { extension } => {
                write!(f, "the message needs {extension}, which the server does not offer")
            }
            Error::MessageTooLarge { size, limit } => {
                write!(f, "message of {size} octets exceeds the server's limit of {limit}")
            }
            Error::LineTooLong { length } => {
                write!(f, "message line of {length} octets exceeds the limit")
            }
            Error::BufferTooSmall { needed } => write!(f, "buffer too small: {needed} octets needed"),
            Error::Busy => f.write_str("the session is busy with another request"),
            Error::Closed => f.write_str("the session is closed"),
        }
    }
}
