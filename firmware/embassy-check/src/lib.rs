//! `postel_proto::drive::asynch::run` over `embassy_net::tcp::TcpSocket`, with the loop's
//! clock on embassy-time: what an embassy firmware writes to send one message over a TCP
//! connection it has opened. Only type-checked (`scripts/embassy-check.sh`); nothing here
//! runs.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::future::Future;

use embassy_net::tcp::{Error as TcpError, TcpSocket};
use embassy_time::{Instant, Timer};
use postel_proto::drive::{asynch, AsyncClock, Clock, Deadline, DriveError, Stop};
use postel_proto::{Client, Config, Credentials, Envelope, Recipient, Secret, TlsMode};

/// The driver loop's clock on embassy-time's: milliseconds since boot, and its timer queue
/// to wait on.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmbassyClock;

impl Clock for EmbassyClock {
    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }
}

impl AsyncClock for EmbassyClock {
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()> {
        Timer::at(Instant::try_from_millis(at_ms).unwrap_or(Instant::MAX))
    }
}

/// Why [`send_one`] failed.
#[derive(Debug)]
pub enum SendError {
    /// The client could not be made (buffers too small, a bad EHLO name).
    Setup(postel_proto::Error),
    /// The message was refused before it was sent (a bad address).
    Submit(postel_proto::Error),
    /// The session failed: the socket, a timeout, the server.
    Drive(DriveError<TcpError>),
    /// The loop stopped where this example did not expect it (STARTTLS, which it does not
    /// do, or the session closed early).
    UnexpectedStop(Stop),
}

impl From<DriveError<TcpError>> for SendError {
    fn from(e: DriveError<TcpError>) -> Self {
        SendError::Drive(e)
    }
}

/// Sends `content` from `from` to `to` over `socket` (connected, no TLS: a submission port
/// on a private network), with PLAIN or SCRAM-SHA-256 when `credentials` are given. Every
/// wait is bounded by the RFC 5321 timeouts, measured on embassy-time.
pub async fn send_one(
    socket: &mut TcpSocket<'_>,
    credentials: Option<(&str, &str)>,
    from: &str,
    to: &str,
    content: &[u8],
    nonce: &[u8],
) -> Result<(), SendError> {
    let mut config = Config::new("device.example");
    config.tls = TlsMode::Disabled;
    config.nonce = nonce;
    config.dangerous_allow_plaintext_auth = credentials.is_some();
    config.credentials = credentials.map(|(username, password)| Credentials::Password {
        username,
        password: Secret::new(password),
        authzid: None,
    });
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config, &mut rx, &mut tx).map_err(SendError::Setup)?;
    let deadline = Deadline::new(EmbassyClock);
    let mut nothing: &[u8] = &[];
    expect_stop(
        asynch::run(&mut client, socket, &mut nothing, &deadline, |_| {}).await?,
        Stop::Idle,
    )?;
    let recipients = [Recipient::new(to)];
    client
        .submit(&Envelope::new(from, &recipients))
        .map_err(SendError::Submit)?;
    let mut body = content;
    expect_stop(
        asynch::run(&mut client, socket, &mut body, &deadline, |_| {}).await?,
        Stop::Idle,
    )?;
    client.quit().map_err(SendError::Submit)?;
    expect_stop(
        asynch::run(&mut client, socket, &mut nothing, &deadline, |_| {}).await?,
        Stop::Closed,
    )
}

fn expect_stop(got: Stop, want: Stop) -> Result<(), SendError> {
    if got == want {
        Ok(())
    } else {
        Err(SendError::UnexpectedStop(got))
    }
}
