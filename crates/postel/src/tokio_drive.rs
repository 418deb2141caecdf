//! The async driver, generic over any tokio `AsyncRead + AsyncWrite`: poll the core, do
//! what it says, and nothing else. The twin of [`crate::drive`].

use std::io;
use std::time::Duration;

use postel_proto::{Action, Client as Core};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::deadline::ReplyDeadline;
use crate::drive::{Collector, Stop};
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

/// Writes one action's bytes: one write (and a flush, for TLS records) within `within`.
async fn write<S: AsyncWrite + Unpin>(
    io: &mut S,
    bytes: &[u8],
    within: Duration,
) -> io::Result<usize> {
    let step = async {
        let n = loop {
            match io.write(bytes).await {
                Ok(0) if !bytes.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        io.flush().await?;
        Ok(n)
    };
    with_timeout(within, step).await
}

async fn read<S: AsyncRead + Unpin>(
    io: &mut S,
    into: &mut [u8],
    within: Duration,
) -> io::Result<usize> {
    let step = async {
        loop {
            match io.read(into).await {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
        }
    };
    with_timeout(within, step).await
}

async fn with_timeout<T>(
    within: Duration,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    if within.is_zero() {
        return f.await;
    }
    match tokio::time::timeout(within, f).await {
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// Drives `core` over `io` until it needs a TLS handshake, is idle, or is closed; `envelope`
/// is the one submitted, if any (its later flights of RCPT come from it).
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    core: &mut Core<'_>,
    io: &mut S,
    recorder: &mut Recorder,
    body: &mut AsyncBody,
    envelope: Option<&postel_proto::Envelope<'_>>,
    events: &mut Collector,
) -> Result<Stop, Error> {
    let mut deadline = ReplyDeadline::default();
    loop {
        // The step of this very action (see drive.rs).
        let (step, action) = core.poll_step()?;
        let failed: Option<(io::Error, Duration)> = match action {
            Action::Send { bytes, within } => {
                deadline.reset();
                match write(io, bytes, within).await {
                    Ok(n) => {
                        recorder.sent(&bytes[..n]);
                        core.handle_sent(n);
                        None
                    }
                    Err(e) => Some((e, within)),
                }
            }
            Action::Receive { into, within } => match deadline.left(step, within) {
                None => Some((io::ErrorKind::TimedOut.into(), within)),
                Some(left) => match read(io, into, left).await {
                    Ok(n) => {
                        recorder.received(&into[..n]);
                        core.handle_received(n)?;
                        None
                    }
                    Err(e) => Some((e, within)),
                },
            },
            Action::Body { into } => {
                deadline.reset();
                let n = body.read(into).await?;
                core.handle_body(n)?;
                None
            }
            Action::Recipients { .. } => {
                // More RCPT than one write holds: the next flight of this envelope.
                deadline.reset();
                let envelope = envelope.ok_or(Error::Protocol(postel_proto::Error::Busy))?;
                core.handle_recipients(envelope)?;
                None
            }
            Action::StartTls => return Ok(Stop::StartTls),
            Action::Event(e) => {
                deadline.reset();
                events.on_event(e);
                None
            }
            Action::Idle => return Ok(Stop::Idle),
            Action::Closed => return Ok(Stop::Closed),
        };
        if let Some((e, within)) = failed {
            let state = core.state();
            recorder.note(format!("error: {e} ({state})"));
            // The server refused the session (a 554 greeting) and the client is saying QUIT
            // before reporting it: a server that hung up meanwhile does not hide the refusal.
            if let Some(refusal) = core.error() {
                return Err(Error::Protocol(refusal));
            }
            return Err(match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    Error::Timeout { state, within }
                }
                _ => Error::Io(e),
            });
        }
    }
}
