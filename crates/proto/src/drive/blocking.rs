//! The blocking driver loop over [`embedded_io::Read`] + [`embedded_io::Write`].
//!
//! ```
//! use postel_proto::drive::{blocking, Clock, Deadline, Stop};
//! use postel_proto::{Client, Config, Envelope, Recipient, TlsMode};
//!
//! /// A scripted server: replies from a slice, client bytes into a vector.
//! struct Script<'s> { replies: &'s [u8], sent: Vec<u8> }
//! impl embedded_io::ErrorType for Script<'_> { type Error = core::convert::Infallible; }
//! impl embedded_io::Read for Script<'_> {
//!     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
//!         embedded_io::Read::read(&mut self.replies, buf)
//!     }
//! }
//! impl embedded_io::Write for Script<'_> {
//!     fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
//!         self.sent.extend_from_slice(buf);
//!         Ok(buf.len())
//!     }
//!     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
//! }
//!
//! /// The application's clock: here std's, on a device a tick counter.
//! struct Uptime(std::time::Instant);
//! impl Clock for Uptime {
//!     fn now_ms(&self) -> u64 { self.0.elapsed().as_millis() as u64 }
//! }
//! let deadline = Deadline::new(Uptime(std::time::Instant::now()));
//!
//! let mut config = Config::new("client.example");
//! config.tls = TlsMode::Disabled;
//! let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
//! let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
//! let mut io = Script {
//!     replies: b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
//!     sent: Vec::new(),
//! };
//! let mut no_body: &[u8] = b"";
//! let stop = blocking::run(&mut client, &mut io, &mut no_body, &deadline, |e| println!("{e:?}"));
//! assert_eq!(stop.unwrap(), Stop::Idle);
//!
//! let to = [Recipient::new("b@mx.example")];
//! client.submit(&Envelope::new("a@client.example", &to)).unwrap();
//! let mut body: &[u8] = b"Subject: hi\r\n\r\nHello.\r\n";
//! assert_eq!(blocking::run(&mut client, &mut io, &mut body, &deadline, |_| {}).unwrap(), Stop::Idle);
//!
//! client.quit().unwrap();
//! assert_eq!(blocking::run(&mut client, &mut io, &mut no_body, &deadline, |_| {}).unwrap(), Stop::Closed);
//! assert!(io.sent.ends_with(b".\r\nQUIT\r\n"));
//! ```

use core::time::Duration;

use embedded_io::{Error as _, Read, Write};

use super::{io_failure, transport_error, Clock, Deadline, DriveError, Stop, Waits};
use crate::{Action, Client, Event, Step};

/// Drives `client` over `transport` until it needs the caller (see [`Stop`]). Message
/// content is read from `body` when the client asks for it; `on_event` sees every event.
///
/// `deadline` bounds every write and every wait for a reply (see [the module](super)); the
/// loop sets it and checks it between reads and writes, and `transport` may consult it
/// while it waits (as [`Timed`](super::Timed) does). It is cleared when the loop returns.
pub fn run<T, B, C>(
    client: &mut Client<'_>,
    transport: &mut T,
    body: &mut B,
    deadline: &Deadline<C>,
    on_event: impl FnMut(Event<'_>),
) -> Result<Stop, DriveError<T::Error>>
where
    T: Read + Write,
    B: Read,
    C: Clock,
{
    let result = drive(client, transport, body, deadline, on_event);
    deadline.clear();
    result
}

fn drive<T, B, C>(
    client: &mut Client<'_>,
    transport: &mut T,
    body: &mut B,
    deadline: &Deadline<C>,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Stop, DriveError<T::Error>>
where
    T: Read + Write,
    B: Read,
    C: Clock,
{
    let mut waits = Waits::default();
    // Written and not yet flushed (the step and timeout of the last write): flushed before
    // every wait for the server.
    let mut unflushed: Option<(Step, Duration)> = None;
    loop {
        let (step, action) = client.poll_step()?;
        let stop = match action {
            Action::Send { bytes, within } => {
                waits.write(deadline, within);
                let n = match transport.write(bytes) {
                    Ok(0) => return Err(io_failure(client, DriveError::WriteZero)),
                    Ok(n) => n,
                    Err(e) => return Err(io_failure(client, transport_error(e, deadline, step))),
                };
                client.handle_sent(n);
                unflushed = Some((step, within));
                continue;
            }
            Action::Receive { into, within } => {
                let waited = match unflushed.take() {
                    Some((step, within)) => flush(transport, deadline, step, within),
                    None => Ok(()),
                }
                .and_then(|()| waits.read(deadline, step, within));
                let read = waited.and_then(|()| {
                    transport
                        .read(into)
                        .map_err(|e| transport_error(e, deadline, step))
                });
                let n = read.map_err(|e| io_failure(client, e))?;
                client.handle_received(n)?;
                continue;
            }
            Action::Body { into } => {
                waits.other();
                let n = body.read(into).map_err(|e| DriveError::Body(e.kind()))?;
                client.handle_body(n)?;
                continue;
            }
            Action::Event(e) => {
                waits.other();
                on_event(e);
                continue;
            }
            Action::Recipients { .. } => Stop::Recipients,
            Action::StartTls => Stop::StartTls,
            Action::Idle => Stop::Idle,
            Action::Closed => Stop::Closed,
        };
        if let Some((step, within)) = unflushed {
            flush(transport, deadline, step, within).map_err(|e| io_failure(client, e))?;
        }
        return Ok(stop);
    }
}

/// Flushes what the writes of `step` left buffered, bounded by their timeout `within`.
fn flush<T: Write, C: Clock>(
    transport: &mut T,
    deadline: &Deadline<C>,
    step: Step,
    within: Duration,
) -> Result<(), DriveError<T::Error>> {
    deadline.start(within);
    transport
        .flush()
        .map_err(|e| transport_error(e, deadline, step))
}
