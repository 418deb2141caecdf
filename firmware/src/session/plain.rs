//! The plaintext session (`--tls none`): postel-proto's blocking driver straight over the
//! UART, no TLS and therefore no AUTH (credentials never cross a plaintext link).

use core::fmt;

use cortex_m_semihosting::hprintln;
use postel_proto::drive::{blocking, Clock, Deadline, DriveError, Stop};
use postel_proto::{Client, Config, Envelope, Event, Recipient, TlsMode};

use super::{first_line, Text};

/// Receive and send buffers: Postfix's EHLO reply is about 200 octets; the core's minimum
/// is 512 (`postel_proto::MIN_BUFFER`).
const RX_BYTES: usize = 512;
const TX_BYTES: usize = 512;

/// What went wrong in one session.
#[derive(Debug)]
pub enum Failure<E> {
    /// The driver stopped with an error (transport, protocol, a refused step).
    Drive(DriveError<E>),
    /// The driver stopped where this session cannot go on (e.g. the server asked for
    /// STARTTLS, which a plaintext session never starts).
    Unexpected(Stop),
    /// The server did not accept the message; its reply was printed.
    Rejected,
}

impl<E> From<DriveError<E>> for Failure<E> {
    fn from(e: DriveError<E>) -> Self {
        Failure::Drive(e)
    }
}

impl<E: fmt::Debug> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Drive(e) => write!(f, "{e}"),
            Failure::Unexpected(stop) => write!(f, "the driver stopped with {stop:?}"),
            Failure::Rejected => f.write_str("the server did not accept the message"),
        }
    }
}

/// Sends `message` to `to` from `from` over a fresh connection on `transport`: waits for
/// the greeting, EHLO, MAIL/RCPT/DATA, QUIT, each wait bounded by `deadline` (the RFC 5321
/// timeouts; `transport` should consult the same deadline, as `Timed` does). `label`
/// prefixes what is printed.
pub fn send<T, C>(
    transport: &mut T,
    deadline: &Deadline<C>,
    ehlo: &str,
    from: &str,
    to: &str,
    message: &[u8],
    label: fmt::Arguments<'_>,
) -> Result<(), Failure<T::Error>>
where
    T: embedded_io::Read + embedded_io::Write,
    C: Clock,
{
    let mut config = Config::new(ehlo);
    config.tls = TlsMode::Disabled;
    let (mut rx, mut tx) = ([0u8; RX_BYTES], [0u8; TX_BYTES]);
    let mut client = Client::new(config, &mut rx, &mut tx).map_err(DriveError::Session)?;

    let mut nothing: &[u8] = b"";
    let mut accepted = false;
    let mut on_event = |e: Event<'_>| match e {
        Event::MessageAccepted { reply, .. } => {
            accepted = true;
            hprintln!("{}: accepted: {}", label, Text(first_line(reply.raw())));
        }
        Event::MessageRejected { step, reply, .. } => {
            hprintln!("{}: rejected at {:?}: {}", label, step, Text(first_line(reply.raw())));
        }
        Event::RecipientRefused { reply, .. } => {
            hprintln!("{}: recipient refused: {}", label, Text(first_line(reply.raw())));
        }
        _ => {}
    };

    match blocking::run(&mut client, transport, &mut nothing, deadline, &mut on_event)? {
        Stop::Idle => {}
        other => return Err(Failure::Unexpected(other)),
    }
    let recipients = [Recipient::new(to)];
    let mut envelope = Envelope::new(from, &recipients);
    envelope.size = Some(message.len() as u64);
    client.submit(&envelope).map_err(DriveError::Session)?;
    let mut body = message;
    match blocking::run(&mut client, transport, &mut body, deadline, &mut on_event)? {
        Stop::Idle => {}
        other => return Err(Failure::Unexpected(other)),
    }
    client.quit().map_err(DriveError::Session)?;
    match blocking::run(&mut client, transport, &mut nothing, deadline, &mut on_event)? {
        Stop::Closed => {}
        other => return Err(Failure::Unexpected(other)),
    }
    if accepted {
        Ok(())
    } else {
        Err(Failure::Rejected)
    }
}
