//! One SMTP session per message, through postel-device: greeting, EHLO, STARTTLS or
//! implicit TLS with the chain verified (`tls` feature), AUTH, the message, QUIT.
//!
//! What stays from one session to the next is only what [`Sessions`] holds: the buffers (in
//! static RAM), the decoded trust anchors and the RNG. The SMTP client, the TLS connection
//! and the certificate verifier are made afresh for each session on the stack and dropped at
//! its end, so the RAM a session uses is the same for the first message and the hundredth.

#[cfg(feature = "tls")]
mod tls;

use core::time::Duration;

use embedded_io::{Read, Write};
use postel_device::{Buffers, Delivered, Failure};
use postel_proto::drive::{Clock, Deadline};
use postel_proto::{Config, Envelope, Recipient, Timeouts};

use crate::config;
use crate::message::MessageReader;
use crate::ram::Ram;

/// Why the sessions could not be set up.
#[derive(Debug)]
pub enum SetupError {
    /// The trust anchors (`--ca-file`) could not be read.
    #[cfg(feature = "tls")]
    TrustAnchors(tls::AnchorError),
}

impl core::fmt::Display for SetupError {
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            #[cfg(feature = "tls")]
            SetupError::TrustAnchors(ref e) => write!(f, "the trust anchors: {e}"),
        }
    }
}

/// The state kept across sessions.
pub struct Sessions<'a> {
    smtp_rx: &'a mut [u8],
    smtp_tx: &'a mut [u8],
    #[cfg(feature = "tls")]
    tls: tls::TlsState<'a>,
}

impl<'a> Sessions<'a> {
    /// Takes the buffers; with TLS, decodes the trust anchors and keys the RNG (`ticks`
    /// folds the current tick count into its seed).
    pub fn new(ram: &'a mut Ram, ticks: u64) -> Result<Sessions<'a>, SetupError> {
        #[cfg(not(feature = "tls"))]
        let _ = ticks;
        Ok(Sessions {
            smtp_rx: &mut ram.smtp_rx,
            smtp_tx: &mut ram.smtp_tx,
            #[cfg(feature = "tls")]
            tls: tls::TlsState::new(
                &mut ram.tls_read,
                &mut ram.tls_write,
                &mut ram.ca_der,
                ticks,
            )
            .map_err(SetupError::TrustAnchors)?,
        })
    }

    /// How many trust anchors were decoded (0 without TLS).
    pub fn trust_anchors(&self) -> usize {
        #[cfg(feature = "tls")]
        return self.tls.anchors();
        #[cfg(not(feature = "tls"))]
        0
    }

    /// Sends `message` (read to its end, its size known ahead) from `config::FROM` to
    /// `config::TO` over a new connection on
    /// `transport`, every wait bounded through `deadline` (which `transport` should consult
    /// too, as `Timed` does). `unix_time` is now, for the certificates' validity.
    pub fn send<T, C>(
        &mut self,
        transport: &mut T,
        deadline: &Deadline<C>,
        unix_time: u64,
        message: &mut MessageReader<'_>,
    ) -> Result<Delivered, Failure<T::Error>>
    where
        T: Read + Write,
        C: Clock,
    {
        let mut config = Config::new(config::EHLO);
        config.tls = mode();
        if let Some(ms) = config::STEP_TIMEOUT_MS {
            config.timeouts = Timeouts::all(Duration::from_millis(ms));
        }
        let recipients = [Recipient::new(config::TO)];
        let mut envelope = Envelope::new(config::FROM, &recipients);
        envelope.size = Some(message.size() as u64);
        let body = message;
        #[cfg(feature = "tls")]
        {
            if config.tls != postel_proto::TlsMode::Disabled {
                return self.tls.send(
                    transport,
                    deadline,
                    config,
                    unix_time,
                    (&mut *self.smtp_rx, &mut *self.smtp_tx),
                    &envelope,
                    body,
                );
            }
        }
        let _ = unix_time;
        let buffers = Buffers {
            smtp_rx: &mut *self.smtp_rx,
            smtp_tx: &mut *self.smtp_tx,
            tls_read: &mut [],
            tls_write: &mut [],
        };
        postel_device::send_plain(transport, deadline, config, buffers, &envelope, body)
    }

    /// Why the last session's server certificate was refused, if it was.
    #[cfg(feature = "tls")]
    pub fn verify_failure(&self) -> Option<postel_device::verify::VerifyFailure> {
        self.tls.last_failure()
    }
}

/// The core's TLS mode for `config::TLS`.
fn mode() -> postel_proto::TlsMode {
    match config::TLS {
        config::Security::Plain => postel_proto::TlsMode::Disabled,
        config::Security::StartTls => postel_proto::TlsMode::Required,
        config::Security::Implicit => postel_proto::TlsMode::Implicit,
    }
}
