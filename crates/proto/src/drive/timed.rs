//! [`Timed`]: a blocking transport whose reads and writes end when the shared [`Deadline`]
//! does. Put it at the bottom of the stack (the UART, the socket), under TLS: a record
//! dribbled a byte at a time is still cut off at the step's timeout, because every read the
//! TLS layer makes waits against the deadline the driver loop set for the step.
//!
//! ```text
//! blocking::run(.., &deadline, ..)        sets the deadline of each write and reply wait
//!   TLS connection (embedded-tls, ...)    reads whole records: many transport reads
//!     Timed::new(uart, &deadline)         waits for readiness until the deadline expires
//!       uart: Read + Write + ReadReady + WriteReady
//! ```

use core::fmt;

use embedded_io::{Error, ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

use super::clock::{Clock, Deadline};

/// A transport bounded by a shared [`Deadline`]: [`read`](Read::read) and
/// [`write`](Write::write) poll the transport's readiness until it is ready, calling
/// [`Clock::idle`] between polls, and fail with [`TimedError::TimedOut`] (kind
/// [`ErrorKind::TimedOut`]) once the deadline has expired. With no deadline set they wait as
/// long as it takes. `flush` is passed through unbounded (readiness says nothing about it).
pub struct Timed<'d, T, C: Clock> {
    inner: T,
    deadline: &'d Deadline<C>,
}

impl<'d, T, C: Clock> Timed<'d, T, C> {
    /// `inner`, bounded by `deadline`.
    pub fn new(inner: T, deadline: &'d Deadline<C>) -> Self {
        Timed { inner, deadline }
    }

    /// The transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The transport, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The deadline it is bounded by.
    pub fn deadline(&self) -> &'d Deadline<C> {
        self.deadline
    }

    /// Waits until `ready` says so, or fails once the deadline has expired.
    fn wait<E>(
        &mut self,
        mut ready: impl FnMut(&mut T) -> Result<bool, E>,
    ) -> Result<(), TimedError<E>> {
        loop {
            if self.deadline.expired() {
                return Err(TimedError::TimedOut);
            }
            if ready(&mut self.inner).map_err(TimedError::Transport)? {
                return Ok(());
            }
            self.deadline.clock().idle();
        }
    }
}

impl<T, C: Clock> fmt::Debug for Timed<'_, T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timed")
            .field("deadline", self.deadline)
            .finish_non_exhaustive()
    }
}

/// Why a [`Timed`] transport failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimedError<E> {
    /// The deadline expired before the transport was ready.
    TimedOut,
    /// The transport failed.
    Transport(E),
}

impl<E: fmt::Debug> fmt::Display for TimedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimedError::TimedOut => {
                f.write_str("the deadline expired before the transport was ready")
            }
            TimedError::Transport(e) => write!(f, "transport error: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for TimedError<E> {}

impl<E: Error> Error for TimedError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            TimedError::TimedOut => ErrorKind::TimedOut,
            TimedError::Transport(e) => e.kind(),
        }
    }
}

impl<T: ErrorType, C: Clock> ErrorType for Timed<'_, T, C> {
    type Error = TimedError<T::Error>;
}

impl<T: Read + ReadReady, C: Clock> Read for Timed<'_, T, C> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if !buf.is_empty() {
            self.wait(T::read_ready)?;
        }
        self.inner.read(buf).map_err(TimedError::Transport)
    }
}

impl<T: Write + WriteReady, C: Clock> Write for Timed<'_, T, C> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if !buf.is_empty() {
            self.wait(T::write_ready)?;
        }
        self.inner.write(buf).map_err(TimedError::Transport)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().map_err(TimedError::Transport)
    }
}

impl<T: Read + ReadReady, C: Clock> ReadReady for Timed<'_, T, C> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        self.inner.read_ready().map_err(TimedError::Transport)
    }
}

impl<T: Write + WriteReady, C: Clock> WriteReady for Timed<'_, T, C> {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        self.inner.write_ready().map_err(TimedError::Transport)
    }
}
