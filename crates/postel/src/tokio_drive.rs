//! The async driver, generic over any tokio `AsyncRead + AsyncWrite`: the core's own async
//! loop ([`asynch::run`]) on tokio's timer, over an adapter that records the transcript;
//! the message content sources of the tokio API ([`AsyncBody`]). The twin of
//! [`crate::drive`].

use std::io;

use postel_proto::drive::{asynch, embedded_io_async, Deadline, DriveError, Stop as DriveStop};
use postel_proto::{Client as Core, Step, Timeouts};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::drive::{failure, Collector, Stop, WireError};
use crate::embedded::TokioClock;
use crate::error::Error;
use crate::transcript::Recorder;

/// Message content for the async drivers.
pub(crate) enum AsyncBody {
    /// No content (outside a transaction).
    None,
    /// Bytes in memory, from `pos` on.
    Bytes { data: Vec<u8>, pos: usize },
    /// A caller's reader.
    Reader(Box<dyn AsyncRead + Send + Unpin>),
    /// Chunks pumped from a message encoder running in the caller's task, so a composed
    /// message streams in constant memory; `chunk[pos..]` is not yet handed to the core.
    Chunks {
        rx: tokio::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
        chunk: Vec<u8>,
        pos: usize,
    },
}

impl std::fmt::Debug for AsyncBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AsyncBody::None => f.write_str("None"),
            AsyncBody::Bytes { data, pos } => write!(f, "Bytes({} left)", data.len() - pos),
            AsyncBody::Reader(_) => f.write_str("Reader"),
            AsyncBody::Chunks { .. } => f.write_str("Chunks"),
        }
    }
}

impl AsyncBody {
    async fn read(&mut self, into: &mut [u8]) -> Result<usize, Error> {
        match self {
            AsyncBody::None => Ok(0),
            AsyncBody::Bytes { data, pos } => {
                let rest = data.get(*pos..).unwrap_or(&[]);
                let n = rest.len().min(into.len());
                into[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
            AsyncBody::Chunks { rx, chunk, pos } => {
                while *pos >= chunk.len() {
                    match rx.recv().await {
                        Some(Ok(next)) => {
                            *chunk = next;
                            *pos = 0;
                        }
                        Some(Err(e)) => return Err(Error::Source(e)),
                        None => return Ok(0),
                    }
                }
                let n = (chunk.len() - *pos).min(into.len());
                into[..n].copy_from_slice(&chunk[*pos..*pos + n]);
                *pos += n;
                Ok(n)
            }
            AsyncBody::Reader(r) => loop {
                match r.read(into).await {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::Source(e)),
                }
            },
        }
    }
}

/// A tokio stream as the core's async loop drives it: each read and write recorded in the
/// transcript, the failure kept whole for the report (the loop races each against the
/// deadline itself).
struct StreamIo<'s, S> {
    io: &'s mut S,
    recorder: &'s mut Recorder,
    failed: Option<io::Error>,
}

impl<S> embedded_io_async::ErrorType for StreamIo<'_, S> {
    type Error = WireError;
}

impl<S: AsyncRead + AsyncWrite + Unpin> embedded_io_async::Read for StreamIo<'_, S> {
    async fn read(&mut self, into: &mut [u8]) -> Result<usize, WireError> {
        let n = loop {
            match self.io.read(into).await {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A TLS peer that closes without close_notify: an EOF for SMTP's purposes.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break 0,
                Err(e) => {
                    self.failed = Some(e);
                    return Err(WireError);
                }
            }
        };
        self.recorder.received(&into[..n]);
        Ok(n)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> embedded_io_async::Write for StreamIo<'_, S> {
    /// One write, and a flush (TLS records leave at once).
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, WireError> {
        let written = async {
            let n = loop {
                match self.io.write(bytes).await {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n > 0 {
                self.io.flush().await?;
            }
            Ok(n)
        }
        .await;
        match written {
            Ok(n) => {
                self.recorder.sent(&bytes[..n]);
                Ok(n)
            }
            Err(e) => {
                self.failed = Some(e);
                Err(WireError)
            }
        }
    }

    /// Each write was flushed already.
    async fn flush(&mut self) -> Result<(), WireError> {
        Ok(())
    }
}

/// The message content as the core's async loop reads it; the failure is kept whole.
struct BodyIo<'b> {
    body: &'b mut AsyncBody,
    failed: Option<Error>,
}

impl embedded_io_async::ErrorType for BodyIo<'_> {
    type Error = WireError;
}

impl embedded_io_async::Read for BodyIo<'_> {
    async fn read(&mut self, into: &mut [u8]) -> Result<usize, WireError> {
        match self.body.read(into).await {
            Ok(n) => Ok(n),
            Err(e) => {
                self.failed = Some(e);
                Err(WireError)
            }
        }
    }
}

/// Drives `core` over `io` until it needs a TLS handshake, is idle, or is closed, through
/// the core's async loop on tokio's timer; `envelope` is the one submitted, if any (its
/// later flights of RCPT come from it). `timeouts` are the core's: what a timed-out step
/// reports.
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    core: &mut Core<'_>,
    io: &mut S,
    recorder: &mut Recorder,
    body: &mut AsyncBody,
    envelope: Option<&postel_proto::Envelope<'_>>,
    events: &mut Collector,
    timeouts: &Timeouts,
) -> Result<Stop, Error> {
    let deadline = Deadline::new(TokioClock::new());
    let mut body = BodyIo { body, failed: None };
    loop {
        let mut stream = StreamIo {
            io: &mut *io,
            recorder: &mut *recorder,
            failed: None,
        };
        let result = asynch::run(core, &mut stream, &mut body, &deadline, |e| {
            events.on_event(e)
        })
        .await;
        let failed = stream.failed.take();
        match result {
            Ok(DriveStop::Recipients) => {
                // More RCPT than one write holds: the next flight of this envelope.
                let envelope = envelope.ok_or(Error::Protocol(postel_proto::Error::Busy))?;
                core.handle_recipients(envelope)?;
            }
            Ok(DriveStop::StartTls) => return Ok(Stop::StartTls),
            Ok(DriveStop::Idle) => return Ok(Stop::Idle),
            Ok(DriveStop::Closed) => return Ok(Stop::Closed),
            Err(e) => {
                // The source's own error, whole (an io::Error, or the encoder's).
                if let (DriveError::Body(_), Some(source)) = (&e, body.failed.take()) {
                    return Err(source);
                }
                let within = |step: Step| step.timeout(timeouts);
                return Err(failure(core, recorder, within, failed, None, e));
            }
        }
    }
}
