//! Generic driver loops over `embedded-io` (blocking) and `embedded-io-async`, for devices
//! without std and for anyone whose transport implements those traits.
//!
//! ```text
//! S: 220 mx.example ESMTP          run(..) -> Ok(Stop::Idle)       (greeting, EHLO done)
//!    client.submit(&envelope)      run(..) -> Ok(Stop::Idle)       (message sent)
//!    client.quit()                 run(..) -> Ok(Stop::Closed)     (221 read)
//! ```
//!
//! Each loop does what [`Client::poll`](crate::Client::poll) says until the client needs the
//! caller: [`Stop::Idle`] (submit a message or quit, then call again), [`Stop::StartTls`]
//! (run the TLS handshake over the transport, call
//! [`Client::handle_tls_ready`](crate::Client::handle_tls_ready), then call again with the
//! TLS stream as the transport: its type may differ) or [`Stop::Closed`]. Events go to the
//! caller's `on_event` as they happen; message content is read from the `body` source, and
//! its end of file ends the message.
//!
//! These loops have no clock: the timeout of each wait
//! ([`Action::Receive::within`](crate::Action::Receive)) is the transport's to enforce (a
//! socket read timeout, a modem's own timer), or use a driver of your own that owns one.

use core::fmt;

use crate::Error;

#[cfg(feature = "embedded-io-async")]
pub mod asynch;
#[cfg(feature = "embedded-io")]
pub mod blocking;

/// The `embedded-io` crate these loops are written against (its traits and `ErrorKind`).
#[cfg(feature = "embedded-io")]
pub use embedded_io;
/// The `embedded-io-async` crate the async loop is written against.
#[cfg(feature = "embedded-io-async")]
pub use embedded_io_async;

#[cfg(feature = "embedded-io")]
use embedded_io::ErrorKind;
#[cfg(all(feature = "embedded-io-async", not(feature = "embedded-io")))]
use embedded_io_async::ErrorKind;

/// Why a driver loop handed control back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Nothing in flight: [`submit`](crate::Client::submit) a message or
    /// [`quit`](crate::Client::quit), then run again.
    Idle,
    /// Run the TLS handshake over the transport, call
    /// [`handle_tls_ready`](crate::Client::handle_tls_ready), then run again over TLS.
    StartTls,
    /// The session is over; close the transport.
    Closed,
}

/// A driver loop failed; the session cannot go on, close the transport.
#[derive(Debug)]
pub enum DriveError<E> {
    /// Reading from or writing to the transport failed.
    Transport(E),
    /// The transport accepted none of a non-empty write.
    WriteZero,
    /// Reading message content from the body source failed: the message was abandoned before
    /// its end, so the server discards it.
    Body(ErrorKind),
    /// The session ended with an error (a refused step, a malformed reply, a closed
    /// connection...).
    Session(Error),
}

impl<E> From<Error> for DriveError<E> {
    fn from(e: Error) -> Self {
        DriveError::Session(e)
    }
}

impl<E: fmt::Debug> fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::Transport(e) => write!(f, "transport error: {e:?}"),
            DriveError::WriteZero => f.write_str("the transport accepted no bytes"),
            DriveError::Body(kind) => write!(f, "reading the message content failed: {kind:?}"),
            DriveError::Session(e) => write!(f, "{e}"),
        }
    }
}
