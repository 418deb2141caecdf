//! The blocking driver: the core's own blocking loop ([`blocking::run`]) over a [`Wire`]
//! (socket timeouts from the loop's [`Deadline`], the transcript), the events gathered
//! into a report, and the loop's failures reported as [`Error`]s (shared with
//! [`crate::tokio_drive`]). The loop, its whole-reply deadline and the SMTP decisions are
//! the core's; nothing here reads the core's actions.

use std::io::{self, Read, Write};
use std::time::Duration;

use postel_proto::drive::{blocking, embedded_io, Deadline, DriveError, Stop as DriveStop};
use postel_proto::{Client as Core, Event, Step, Timeouts};

use crate::embedded::StdClock;
use crate::error::Error;
use crate::report::{Accepted, Refused, SendReport, ServerReply};
use crate::transcript::Recorder;
use crate::transport::Stream;

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Run the TLS handshake, then `handle_tls_ready`.
    StartTls,
    /// Nothing in flight: submit or quit.
    Idle,
    /// The session is over.
    Closed,
}

/// The stream with what goes with it: the transcript recorder and the timeouts in force.
#[derive(Debug)]
pub(crate) struct Wire {
    pub(crate) stream: Stream,
    pub(crate) recorder: Recorder,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Bounds every wait further (best-effort QUIT on drop).
    pub(crate) cap: Option<Duration>,
    /// The timeouts the core was configured with: what a timed-out step reports.
    timeouts: Timeouts,
}

impl Wire {
    pub(crate) fn new(stream: Stream, recorder: Recorder, timeouts: Timeouts) -> Wire {
        Wire {
            stream,
            recorder,
            read_timeout: None,
            write_timeout: None,
            cap: None,
            timeouts,
        }
    }

    fn bound(&self, within: Duration) -> Duration {
        self.cap.map_or(within, |c| c.min(within))
    }

    /// One write of as much of `bytes` as the transport takes, within `within`.
    fn write(&mut self, bytes: &[u8], within: Duration) -> io::Result<usize> {
        let within = Some(self.bound(within));
        if self.write_timeout != within {
            self.stream.set_timeouts(self.read_timeout, within)?;
            self.write_timeout = within;
        }
        let n = loop {
            match self.stream.write(bytes) {
                Ok(0) if !bytes.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.stream.flush()?;
        self.recorder.sent(&bytes[..n]);
        Ok(n)
    }

    /// One read into `into` within `within`; 0 at EOF.
    fn read(&mut self, into: &mut [u8], within: Duration) -> io::Result<usize> {
        let within = Some(self.bound(within));
        if self.read_timeout != within {
            self.stream.set_timeouts(within, self.write_timeout)?;
            self.read_timeout = within;
        }
        let n = loop {
            match self.stream.read(into) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A TLS peer that closes without close_notify: an EOF for SMTP's purposes.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break 0,
                Err(e) => return Err(e),
            }
        };
        self.recorder.received(&into[..n]);
        Ok(n)
    }

    /// Forgets the cached timeouts (after the stream was replaced by a TLS upgrade).
    pub(crate) fn reset_timeouts(&mut self) {
        self.read_timeout = None;
        self.write_timeout = None;
    }
}

/// Gathers the core's events into a report.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    to: Vec<String>,
    accepted: Vec<Accepted>,
    refused: Vec<Refused>,
    /// Left out by the server's limit on recipients, for a next transaction.
    deferred: Vec<Refused>,
    done: Option<ServerReply>,
    rejected: Option<(Step, ServerReply)>,
    /// The server answered QUIT.
    pub(crate) quit: bool,
}

impl Collector {
    /// For a message to `to` (empty outside a transaction).
    pub(crate) fn new(to: &[String]) -> Collector {
        Collector {
            to: to.to_vec(),
            ..Collector::default()
        }
    }

    fn address(&self, i: u32) -> String {
        self.to.get(i as usize).cloned().unwrap_or_default()
    }

    pub(crate) fn on_event(&mut self, e: Event<'_>) {
        match e {
            Event::Greeting(r) => tracing::debug!(reply = %r, "greeting"),
            Event::Ready => tracing::debug!("session ready"),
            Event::RecipientAccepted { rcpt, reply, .. } => self.accepted.push(Accepted {
                address: self.address(rcpt.0),
                reply: ServerReply::from_reply(&reply),
            }),
            Event::RecipientRefused { rcpt, reply, .. } => {
                let address = self.address(rcpt.0);
                tracing::info!(%address, %reply, "recipient refused");
                self.refused.push(Refused {
                    address,
                    reply: ServerReply::from_reply(&reply),
                });
            }
            Event::RecipientDeferred { rcpt, reply, .. } => {
                let address = self.address(rcpt.0);
                tracing::debug!(%address, %reply, "recipient deferred to a next transaction");
                self.deferred.push(Refused {
                    address,
                    reply: ServerReply::from_reply(&reply),
                });
            }
            Event::MessageAccepted { reply, .. } => {
                tracing::info!(%reply, "message accepted");
                self.done = Some(ServerReply::from_reply(&reply));
            }
            Event::MessageRejected { step, reply, .. } => {
                tracing::info!(%step, %reply, "message rejected");
                self.rejected = Some((step, ServerReply::from_reply(&reply)));
            }
            Event::Quit(_) => self.quit = true,
            _ => {}
        }
    }

    /// The outcome of the transaction, once `core` is idle again.
    /// Recipients deferred by the server's limit stay in [`SendReport::deferred`] for the
    /// caller's next transaction; when nobody got the message they are refused (452).
    pub(crate) fn finish(mut self, core: &Core<'_>) -> Result<SendReport, Error> {
        // The core tells deferred recipients never sent before those still in flight.
        let order = crate::report::Order::new(&self.to);
        self.deferred.sort_by_key(|r| order.of(&r.address));
        match (self.rejected, self.done) {
            (Some((step, reply)), _) => {
                let mut refused = self.refused;
                refused.append(&mut self.deferred);
                refused.sort_by_key(|r| order.of(&r.address));
                Err(Error::Rejected {
                    step,
                    reply,
                    refused,
                })
            }
            (None, Some(reply)) => Ok(SendReport {
                accepted: self.accepted,
                refused: self.refused,
                reply,
                encrypted: core.is_encrypted(),
                authenticated: core.authenticated(),
                deferred: self.deferred,
            }),
            (None, None) => Err(Error::Protocol(postel_proto::Error::Busy)),
        }
    }
}

/// Where the message content comes from.
pub(crate) type Body<'b> = Option<&'b mut dyn Read>;

/// A failure of the wire or the source as the core's loop sees it; the failure itself is
/// kept aside, whole, for the report.
#[derive(Debug)]
pub(crate) struct WireError;

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("I/O failed")
    }
}

impl std::error::Error for WireError {}

impl embedded_io::Error for WireError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

/// The wire as the core's blocking loop drives it: each read and write bounded by the
/// deadline the loop set (as the socket's timeouts), recorded in the transcript. The
/// failure itself is kept in `failed` for the report.
struct WireIo<'w, 'd> {
    wire: &'w mut Wire,
    deadline: &'d Deadline<StdClock>,
    failed: Option<io::Error>,
}

impl WireIo<'_, '_> {
    /// The time the deadline leaves (zero: no limit; the wire applies its cap).
    fn left(&self) -> Duration {
        self.deadline
            .remaining_ms()
            .map_or(Duration::ZERO, |ms| Duration::from_millis(ms.max(1)))
    }

    fn fail<T>(&mut self, e: io::Error) -> Result<T, WireError> {
        self.failed = Some(e);
        Err(WireError)
    }
}

impl embedded_io::ErrorType for WireIo<'_, '_> {
    type Error = WireError;
}

impl embedded_io::Read for WireIo<'_, '_> {
    fn read(&mut self, into: &mut [u8]) -> Result<usize, WireError> {
        let left = self.left();
        match self.wire.read(into, left) {
            Ok(n) => Ok(n),
            Err(e) => self.fail(e),
        }
    }
}

impl embedded_io::Write for WireIo<'_, '_> {
    fn write(&mut self, bytes: &[u8]) -> Result<usize, WireError> {
        let left = self.left();
        match self.wire.write(bytes, left) {
            Ok(n) => Ok(n),
            Err(e) => self.fail(e),
        }
    }

    /// Each write was flushed already (TLS records leave at once).
    fn flush(&mut self) -> Result<(), WireError> {
        Ok(())
    }
}

/// The message content as the core's loop reads it; the failure is kept whole.
struct BodyIo<'b> {
    src: Body<'b>,
    failed: Option<io::Error>,
}

impl embedded_io::ErrorType for BodyIo<'_> {
    type Error = WireError;
}

impl embedded_io::Read for BodyIo<'_> {
    fn read(&mut self, into: &mut [u8]) -> Result<usize, WireError> {
        let Some(src) = self.src.as_deref_mut() else {
            return Ok(0);
        };
        loop {
            match src.read(into) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failed = Some(e);
                    return Err(WireError);
                }
            }
        }
    }
}

/// Drives `core` until it needs a TLS handshake, is idle, or is closed, through the
/// core's blocking loop. `envelope` is the one submitted, if a transaction is in flight:
/// its later flights of RCPT come from it.
pub(crate) fn run(
    core: &mut Core<'_>,
    wire: &mut Wire,
    body: Body<'_>,
    envelope: Option<&postel_proto::Envelope<'_>>,
    events: &mut Collector,
) -> Result<Stop, Error> {
    let deadline = Deadline::new(StdClock::new());
    let mut body = BodyIo {
        src: body,
        failed: None,
    };
    loop {
        let mut io = WireIo {
            wire: &mut *wire,
            deadline: &deadline,
            failed: None,
        };
        let result = blocking::run(core, &mut io, &mut body, &deadline, |e| events.on_event(e));
        let failed = io.failed.take();
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
                let within = |step: Step| wire.bound(step.timeout(&wire.timeouts));
                let source = body.failed.take();
                return Err(failure(core, &wire.recorder, within, failed, source, e));
            }
        }
    }
}

/// The report of a failed loop (either driver's): the wire's failure (`wire_failed`) or
/// the source's (`body_failed`) whole, a timeout with the step's timeout (`within`), the
/// session's error; noted in the transcript as the old drivers did.
pub(crate) fn failure(
    core: &Core<'_>,
    recorder: &Recorder,
    within: impl Fn(Step) -> Duration,
    wire_failed: Option<io::Error>,
    body_failed: Option<io::Error>,
    e: DriveError<WireError>,
) -> Error {
    let state = core.state();
    let timed_out = |step: Step| Error::Timeout {
        step,
        state,
        within: within(step),
    };
    let note = |e: &dyn std::fmt::Display| recorder.note(format!("error: {e} ({state})"));
    match e {
        DriveError::Body(_) => {
            Error::Source(body_failed.unwrap_or_else(|| io::Error::other("the source failed")))
        }
        DriveError::Session(e) => {
            // The wire failed and the session had already ended with this error.
            if let Some(io) = &wire_failed {
                note(io);
            }
            Error::Protocol(e)
        }
        DriveError::Timeout(step) => {
            note(&wire_failed.unwrap_or_else(|| io::ErrorKind::TimedOut.into()));
            timed_out(step)
        }
        DriveError::WriteZero => {
            let e = io::Error::from(io::ErrorKind::WriteZero);
            note(&e);
            Error::Io(e)
        }
        DriveError::Transport(WireError) => {
            let e = wire_failed.unwrap_or_else(|| io::Error::other("the wire failed"));
            note(&e);
            match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(core.step()),
                _ => Error::Io(e),
            }
        }
    }
}
