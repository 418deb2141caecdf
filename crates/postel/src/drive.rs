//! The blocking driver: poll the core, do what it says over a [`Wire`], and nothing else.
//! The only place (with its async twin) that touches the core's actions.

use std::io::{self, Read, Write};
use std::time::Duration;

use postel_proto::{Action, Client as Core, Event, Step};

use crate::deadline::ReplyDeadline;
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
}

impl Wire {
    pub(crate) fn new(stream: Stream, recorder: Recorder) -> Wire {
        Wire {
            stream,
            recorder,
            read_timeout: None,
            write_timeout: None,
            cap: None,
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

/// Drives `core` until it needs a TLS handshake, is idle, or is closed. `envelope` is the
/// one submitted, if a transaction is in flight: its later flights of RCPT come from it.
pub(crate) fn run(
    core: &mut Core<'_>,
    wire: &mut Wire,
    mut body: Body<'_>,
    envelope: Option<&postel_proto::Envelope<'_>>,
    events: &mut Collector,
) -> Result<Stop, Error> {
    let mut deadline = ReplyDeadline::default();
    loop {
        // The step of this very action: asked before poll() it can be stale (pipelined
        // replies move MAIL on to RCPT inside poll).
        let (step, action) = core.poll_step()?;
        // The I/O error and the timeout it ran into, mapped once the core is free again.
        let failed: Option<(io::Error, Duration)> = match action {
            Action::Send { bytes, within } => {
                deadline.reset();
                match wire.write(bytes, within) {
                    Ok(n) => {
                        core.handle_sent(n);
                        None
                    }
                    Err(e) => Some((e, within)),
                }
            }
            Action::Receive { into, within } => match deadline.left(step, within) {
                None => Some((io::ErrorKind::TimedOut.into(), within)),
                Some(left) => match wire.read(into, left) {
                    Ok(n) => {
                        core.handle_received(n)?;
                        None
                    }
                    Err(e) => Some((e, within)),
                },
            },
            Action::Body { into } => {
                deadline.reset();
                let n = match body.as_deref_mut() {
                    Some(src) => read_body(src, into)?,
                    None => 0,
                };
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
            wire.recorder.note(format!("error: {e} ({state})"));
            // The server refused the session (a 554 greeting) and the client is saying QUIT
            // before reporting it: a server that hung up meanwhile does not hide the refusal.
            if let Some(refusal) = core.error() {
                return Err(Error::Protocol(refusal));
            }
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
                    state,
                    within: wire.bound(within),
                },
                _ => Error::Io(e),
            });
        }
    }
}

fn read_body(src: &mut dyn Read, into: &mut [u8]) -> Result<usize, Error> {
    loop {
        match src.read(into) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Source(e)),
        }
    }
}
