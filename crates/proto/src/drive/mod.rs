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
//! Each loop measures its waits with the application's [`Clock`] through a shared
//! [`Deadline`] (`postel`'s blocking and tokio clients are these loops): the wait for a reply to a
//! step is measured from its first read and kept across the reads of that step (a server
//! that dribbles a byte at a time is cut off at the step's timeout: the whole-reply bound of
//! RFC 5321 §4.5.3.2), and starts again once anything else happens; each write is bounded
//! by its own timeout; a zero timeout means no limit. A wait that runs out ends the loop with
//! [`DriveError::Timeout`] and the step.
//!
//! The blocking loop can only look at the clock between reads and writes: a transport that
//! blocks forever must itself give up at the deadline. Wrap it in [`Timed`] (over
//! `ReadReady` + `WriteReady`), or have its own reads consult
//! [`Deadline::remaining_ms`]; under TLS, the deadline is what the bottom transport
//! consults, so each TLS record read is bounded too. The async loop races each read and
//! write against [`AsyncClock::sleep_until`], so any async transport is bounded.

use core::fmt;

use crate::{Error, Step};

mod clock;
#[cfg(feature = "embedded-io-async")]
mod race;
#[cfg(feature = "embedded-io")]
mod timed;

#[cfg(feature = "embedded-io-async")]
pub mod asynch;
#[cfg(feature = "embedded-io")]
pub mod blocking;

pub use clock::{AsyncClock, Clock, Deadline};
#[cfg(feature = "embedded-io")]
pub use timed::{Timed, TimedError};

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
    /// The recipients that fitted in the send buffer are answered and more are to be
    /// sent: call [`handle_recipients`](crate::Client::handle_recipients) with the envelope
    /// given to [`submit`](crate::Client::submit), then run again (see
    /// [`Action::Recipients`](crate::Action::Recipients)).
    Recipients,
    /// Run the TLS handshake over the transport, call
    /// [`handle_tls_ready`](crate::Client::handle_tls_ready), then run again over TLS.
    StartTls,
    /// The session is over; close the transport.
    Closed,
}

/// A driver loop failed; the session cannot go on, close the transport. When the session
/// already has an error of its own ([`Client::error`](crate::Client::error)), a transport
/// failure is reported as that error ([`DriveError::Session`]).
#[derive(Debug)]
pub enum DriveError<E> {
    /// Reading from or writing to the transport failed.
    Transport(E),
    /// The transport accepted none of a non-empty write.
    WriteZero,
    /// A write, or the wait for the reply to this step, ran past the step's timeout
    /// ([`Action::Send::within`](crate::Action::Send),
    /// [`Action::Receive::within`](crate::Action::Receive)); also reported when the transport
    /// failed after the deadline had expired (a [`Timed`] transport, or one that consults the
    /// [`Deadline`] itself).
    Timeout(Step),
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
            DriveError::Timeout(step) => write!(f, "the {step} step timed out"),
            DriveError::Body(kind) => write!(f, "reading the message content failed: {kind:?}"),
            DriveError::Session(e) => write!(f, "{e}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for DriveError<E> {}

/// The error a transport failure `e` during `step` is reported as: a timeout once the
/// deadline has expired (the transport gave up because of it), the failure otherwise.
fn transport_error<E, C: Clock>(e: E, deadline: &Deadline<C>, step: Step) -> DriveError<E> {
    if deadline.expired() {
        DriveError::Timeout(step)
    } else {
        DriveError::Transport(e)
    }
}

/// What a failure of the transport (or of its deadline) ends the loop with: the session's
/// own error when it already has one. A server that refused the session (a 554 greeting)
/// and hung up while the client says QUIT is reported as the refusal, not as the hang-up
/// (see [`Client::error`](crate::Client::error)).
fn io_failure<E>(client: &crate::Client<'_>, failure: DriveError<E>) -> DriveError<E> {
    match client.error() {
        Some(e) => DriveError::Session(e),
        None => failure,
    }
}

/// Where a loop is in its waits: the step whose reply it is waiting for, if any, so that
/// the reads of one reply share one deadline.
#[derive(Default)]
struct Waits {
    reply: Option<Step>,
}

impl Waits {
    /// A write bounded by `within` starts now.
    fn write<C: Clock>(&mut self, deadline: &Deadline<C>, within: core::time::Duration) {
        self.reply = None;
        deadline.start(within);
    }

    /// A read of the reply to `step`, whose timeout is `within`: starts the wait at the
    /// first read of that reply, and fails once the wait has expired.
    fn read<C: Clock, E>(
        &mut self,
        deadline: &Deadline<C>,
        step: Step,
        within: core::time::Duration,
    ) -> Result<(), DriveError<E>> {
        if self.reply != Some(step) {
            self.reply = Some(step);
            deadline.start(within);
        }
        if deadline.expired() {
            return Err(DriveError::Timeout(step));
        }
        Ok(())
    }

    /// Something else happened (an event, message content): the next read starts a new
    /// wait.
    fn other(&mut self) {
        self.reply = None;
    }
}
