//! What can go wrong when sending, one variant per thing a caller can act on.

use std::fmt;
use std::io;
use std::time::Duration;

use postel_proto::{Fault, State, Step};

use crate::report::{Refused, ServerReply};
use crate::tls::TlsError;

/// Why a connection or a message failed. A server refusing *some* recipients is not an
/// error: those are listed in [`SendReport::refused`](crate::SendReport::refused).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No address of the host could be reached (each resolved address was tried).
    #[error("cannot connect to {host}: {source}")]
    Connect {
        /// The host and port as configured.
        host: String,
        /// The last address's error (or the resolver's).
        #[source]
        source: io::Error,
    },
    /// Reading or writing the connection failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// TLS failed; when it was the server's certificate, nothing private was sent.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The server did not answer, or did not take our bytes, in time (RFC 5321 §4.5.3.2).
    #[error("timed out after {within:?} ({state})")]
    Timeout {
        /// The step whose reply (or write, or TLS handshake) did not come in time.
        step: Step,
        /// Where the session was.
        state: State,
        /// The timeout that ran out.
        within: Duration,
    },
    /// The session could not go on: the server closed it, sent something that is not
    /// SMTP, refused TLS or AUTH, answered 421, and so on (see [`postel_proto::Error`]).
    #[error("{0}")]
    Protocol(postel_proto::Error),
    /// The message was delivered to nobody: the server refused it at `step`.
    #[error("message refused at {step}: {reply}")]
    Rejected {
        /// The step that was refused (MAIL FROM, RCPT TO when every recipient was
        /// refused, DATA, a BDAT chunk, or the end of data).
        step: postel_proto::Step,
        /// The reply that sealed it.
        reply: ServerReply,
        /// The recipients refused on the way, with their replies.
        refused: Vec<Refused>,
    },
    /// The builder's settings or the message cannot be used (bad CA file, empty
    /// recipient list, invalid mode name...).
    #[error("configuration: {0}")]
    Config(String),
    /// The message could not be encoded.
    #[error("message: {0}")]
    Message(#[from] postel_mime::Error),
    /// Reading the message content from the caller's reader failed.
    #[error("reading the message content: {0}")]
    Source(#[source] io::Error),
    /// The call does not fit the client's state: a bug in the calling program (or in
    /// postel), never the server's fault or the network's.
    #[error("{0}")]
    Misuse(Misuse),
}

/// What a caller did that the API does not allow (see [`Error::Misuse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// A send on a pool that was closed.
    #[error("the pool is closed")]
    PoolClosed,
    /// A message type that cannot be taken out of the caller's hands
    /// ([`Sendable::placeholder`](crate::Sendable::placeholder) is `None`) given to a call
    /// that encodes on another thread.
    #[error("the message type has no placeholder, so it cannot be encoded on another thread")]
    NoPlaceholder,
    /// A send with no message and no envelope.
    #[error("nothing to send")]
    NothingToSend,
    /// STARTTLS over a connection already encrypted.
    #[error("TLS is already up")]
    TlsAlreadyUp,
}

impl Error {
    /// True when sending again later may succeed: a 4yz reply, 421, a lost connection, a
    /// timeout, a network error, a refused RSET (whatever its code: it ends the session
    /// but says nothing about the message). False for 5yz refusals, certificate problems,
    /// bad configuration.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Io(_) | Error::Timeout { .. } => true,
            Error::Protocol(postel_proto::Error::Rejected {
                step: postel_proto::Step::Rset,
                ..
            }) => true,
            Error::Protocol(e) => e.is_transient(),
            Error::Rejected { reply, .. } => reply.is_transient(),
            Error::Tls(e) => e.is_transient(),
            Error::Config(_) | Error::Message(_) | Error::Source(_) | Error::Misuse(_) => false,
        }
    }

    /// Who is at fault: the server (its protocol, or a refusal with its reply as the
    /// evidence), the network, TLS, the caller ([`Fault::Misuse`] for a call the API does
    /// not allow, [`Fault::Input`] for a message or content that cannot be sent), or the
    /// local configuration.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Connect { .. } | Error::Io(_) | Error::Timeout { .. } => Fault::Network,
            Error::Tls(TlsError::Setup(_) | TlsError::NotTls) => Fault::Config,
            Error::Tls(_) => Fault::Tls,
            Error::Protocol(e) => e.fault(),
            Error::Rejected { .. } => Fault::Refused,
            Error::Config(_) => Fault::Config,
            Error::Message(_) | Error::Source(_) => Fault::Input,
            Error::Misuse(_) => Fault::Misuse,
        }
    }

    /// The server's reply behind this error, when there is one.
    pub fn reply(&self) -> Option<ServerReply> {
        match self {
            Error::Rejected { reply, .. } => Some(reply.clone()),
            Error::Protocol(e) => e.reply().map(ServerReply::from_info),
            _ => None,
        }
    }
}

impl From<Misuse> for Error {
    fn from(m: Misuse) -> Error {
        Error::Misuse(m)
    }
}

impl From<postel_proto::Error> for Error {
    fn from(e: postel_proto::Error) -> Error {
        Error::Protocol(e)
    }
}

/// Shown in `Debug` of settings in place of secrets.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
