//! The blocking driver loop over [`embedded_io::Read`] + [`embedded_io::Write`].
//!
//! ```
//! use postel_proto::drive::{blocking, Stop};
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
//! let mut config = Config::new("client.example");
//! config.tls = TlsMode::Disabled;
//! let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
//! let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
//! let mut io = Script {
//!     replies: b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
//!     sent: Vec::new(),
//! };
//! let mut no_body: &[u8] = b"";
//! let stop = blocking::run(&mut client, &mut io, &mut no_body, |e| println!("{e:?}")).unwrap();
//! assert_eq!(stop, Stop::Idle);
//!
//! let to = [Recipient::new("b@mx.example")];
//! client.submit(&Envelope::new("a@client.example", &to)).unwrap();
//! let mut body: &[u8] = b"Subject: hi\r\n\r\nHello.\r\n";
//! assert_eq!(blocking::run(&mut client, &mut io, &mut body, |_| {}).unwrap(), Stop::Idle);
//!
//! client.quit().unwrap();
//! assert_eq!(blocking::run(&mut client, &mut io, &mut no_body, |_| {}).unwrap(), Stop::Closed);
//! assert!(io.sent.ends_with(b".\r\nQUIT\r\n"));
//! ```

use embedded_io::{Error as _, Read, Write};

use super::{DriveError, Stop};
use crate::{Action, Client, Event};

/// Drives `client` over `transport` until it needs the caller (see [`Stop`]). Message
/// content is read from `body` when the client asks for it; `on_event` sees every event.
pub fn run<T, B>(
    client: &mut Client<'_>,
    transport: &mut T,
    body: &mut B,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Stop, DriveError<T::Error>>
where
    T: Read + Write,
    B: Read,
{
    // Written and not yet flushed: flushed before every wait for the server.
    let mut unflushed = false;
    loop {
        let stop = match client.poll()? {
            Action::Send { bytes, .. } => {
                let n = transport.write(bytes).map_err(DriveError::Transport)?;
                if n == 0 {
                    return Err(DriveError::WriteZero);
                }
                client.handle_sent(n);
                unflushed = true;
                continue;
            }
            Action::Receive { into, .. } => {
                if unflushed {
                    transport.flush().map_err(DriveError::Transport)?;
                    unflushed = false;
                }
                let n = transport.read(into).map_err(DriveError::Transport)?;
                client.handle_received(n)?;
                continue;
            }
            Action::Body { into } => {
                let n = body.read(into).map_err(|e| DriveError::Body(e.kind()))?;
                client.handle_body(n)?;
                continue;
            }
            Action::Event(e) => {
                on_event(e);
                continue;
            }
            Action::StartTls => Stop::StartTls,
            Action::Idle => Stop::Idle,
            Action::Closed => Stop::Closed,
        };
        if unflushed {
            transport.flush().map_err(DriveError::Transport)?;
        }
        return Ok(stop);
    }
}
