//! One mail session on a device, from the greeting to QUIT: EHLO, STARTTLS or implicit TLS,
//! AUTH, one message, QUIT; over any `embedded-io` transport, bounded in time by the
//! application's clock, with no heap.
//!
//! ```text
//! S: 220 mx.example ESMTP              send(..) waits within Timeouts::greeting
//! C: EHLO device.example
//! S: 250-STARTTLS
//! C: STARTTLS
//! S: 220 go ahead
//!    TLS 1.3 handshake                 the verifier checks chain, name and time here:
//!                                      a refusal ends the session before AUTH
//! C: EHLO device.example
//! C: AUTH SCRAM-SHA-256 ...
//! C: MAIL FROM:<..> / RCPT TO:<..> / DATA / .. / QUIT
//! ```
//!
//! The transport is borrowed for one session. For a device whose transport is a UART bridged
//! to TCP (a modem), wrap it in [`Timed`](postel_proto::drive::Timed) so that a reply — or a
//! TLS record — dribbled one byte at a time is cut off at the step's timeout.

use core::fmt;

use embedded_io::{Read, Write};
use postel_proto::drive::{blocking, Clock, Deadline, DriveError, Stop};
use postel_proto::{
    Client, Config, Envelope, Error as ProtoError, Event, ReplyInfo, Step, TlsMode,
};

/// The buffers one session borrows: the SMTP core's two and, with TLS, the two record buffers.
///
/// Sizes: `smtp_rx` and `smtp_tx` at least [`postel_proto::MIN_BUFFER`] (1 KiB each is plenty
/// for one message with a few recipients); `tls_read` 16,640 bytes (a full TLS record, since
/// servers do not all honour the max_fragment_length extension); `tls_write` at least 1 KiB
/// (larger means fewer records for the message content).
pub struct Buffers<'b> {
    /// Replies from the server, framed by the core.
    pub smtp_rx: &'b mut [u8],
    /// Commands and message content on their way out.
    pub smtp_tx: &'b mut [u8],
    /// TLS records read (ciphertext); unused without TLS.
    pub tls_read: &'b mut [u8],
    /// TLS records written (ciphertext); unused without TLS.
    pub tls_write: &'b mut [u8],
}

/// What the server said when it took the message.
#[derive(Clone, Copy, Debug)]
pub struct Delivered {
    /// The reply to the end of data (its text usually names the queue id).
    pub reply: ReplyInfo,
    /// How many recipients the server refused (the others got the message).
    pub refused: usize,
    /// The first recipient refusal, if any.
    pub first_refusal: Option<ReplyInfo>,
    /// How many recipients the server deferred as too many for one transaction (452, RFC 5321
    /// §4.5.3.1.10): they did not get this message; send it to them in another session.
    pub deferred: usize,
}

/// Why a session did not deliver its message.
#[derive(Debug)]
pub enum Failure<E> {
    /// The transport failed.
    Transport(E),
    /// The transport accepted none of a write.
    WriteZero,
    /// No reply (or write) within the step's timeout.
    Timeout(Step),
    /// Reading the message content failed; the message was abandoned.
    Body(embedded_io::ErrorKind),
    /// The SMTP session failed: a refused step, a malformed reply, TLS unavailable, AUTH
    /// refused...
    Session(ProtoError),
    /// The server refused the message for every recipient.
    Rejected {
        /// Where: MAIL, RCPT, DATA, or the end of data.
        step: Step,
        /// The refusal.
        reply: ReplyInfo,
    },
    /// The TLS handshake or a TLS record failed. A certificate the verifier refused lands
    /// here, before anything private was sent; the verifier keeps the precise reason.
    #[cfg(feature = "tls")]
    Tls(embedded_tls::TlsError),
    /// The configured TLS mode is not one this function sends with, and nothing was written:
    /// [`send_plain`] needs [`TlsMode::Disabled`] (TLS needs [`send`](crate::send) and the `tls`
    /// feature), and [`TlsMode::Opportunistic`] is not offered on a device (a stripped
    /// STARTTLS would send in plaintext).
    UnsupportedTlsMode(TlsMode),
}

impl<E: fmt::Debug> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Transport(e) => write!(f, "transport error: {e:?}"),
            Failure::WriteZero => f.write_str("the transport accepted no bytes"),
            Failure::Timeout(step) => write!(f, "timed out waiting at {step:?}"),
            Failure::Body(kind) => write!(f, "reading the message content failed: {kind:?}"),
            Failure::Session(e) => write!(f, "{e}"),
            Failure::Rejected { step, reply } => write!(
                f,
                "the server refused the message at {step:?}: {} {}",
                reply.code(),
                DisplayText(reply.text())
            ),
            #[cfg(feature = "tls")]
            Failure::Tls(e) => write!(f, "TLS failed: {e:?}"),
            Failure::UnsupportedTlsMode(TlsMode::Opportunistic) => f.write_str(
                "opportunistic TLS is not offered on a device: use TlsMode::Required (STARTTLS) or Implicit",
            ),
            Failure::UnsupportedTlsMode(mode) => write!(
                f,
                "send_plain sends without TLS, but the configuration asks for {mode:?}: use send() (feature tls)"
            ),
        }
    }
}

/// Reply text shown as ASCII (ReplyInfo already replaced control bytes).
struct DisplayText<'a>(&'a [u8]);

impl fmt::Display for DisplayText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            let c = if b.is_ascii() { b as char } else { '?' };
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

impl<E> From<ProtoError> for Failure<E> {
    fn from(e: ProtoError) -> Self {
        Failure::Session(e)
    }
}

/// What the core's events told about the message.
#[derive(Default)]
struct Verdict {
    accepted: Option<ReplyInfo>,
    rejected: Option<(Step, ReplyInfo)>,
    refused: usize,
    first_refusal: Option<ReplyInfo>,
    deferred: usize,
}

impl Verdict {
    fn record(&mut self, event: Event<'_>) {
        match event {
            Event::MessageAccepted { reply, .. } => self.accepted = Some(reply.to_info()),
            Event::MessageRejected { step, reply, .. } => {
                self.rejected = Some((step, reply.to_info()))
            }
            Event::RecipientRefused { reply, .. } => {
                self.refused += 1;
                if self.first_refusal.is_none() {
                    self.first_refusal = Some(reply.to_info());
                }
            }
            Event::RecipientDeferred { reply, .. } => {
                self.deferred += 1;
                // What the message ends with if no recipient is accepted (a device's stack
                // is small: no separate slot for it).
                if self.rejected.is_none() {
                    self.rejected = Some((Step::Rcpt, reply.to_info()));
                }
            }
            _ => {}
        }
    }
}

/// Runs the core over `io` until it needs the caller, mapping the loop's errors.
fn run<X, B, E, C>(
    client: &mut Client<'_>,
    io: &mut X,
    body: &mut B,
    deadline: &Deadline<C>,
    verdict: &mut Verdict,
    wrap: impl Fn(X::Error) -> Failure<E>,
) -> Result<Stop, Failure<E>>
where
    X: Read + Write,
    B: Read,
    C: Clock,
{
    blocking::run(client, io, body, deadline, |e| verdict.record(e)).map_err(|e| match e {
        DriveError::Transport(t) => wrap(t),
        DriveError::WriteZero => Failure::WriteZero,
        DriveError::Timeout(step) => Failure::Timeout(step),
        DriveError::Body(kind) => Failure::Body(kind),
        DriveError::Session(s) => Failure::Session(s),
    })
}

/// The transaction and QUIT, over whichever transport the session has reached.
fn transact<X, B, E, C>(
    client: &mut Client<'_>,
    io: &mut X,
    body: &mut B,
    deadline: &Deadline<C>,
    envelope: &Envelope<'_>,
    wrap: impl Fn(X::Error) -> Failure<E> + Copy,
) -> Result<Delivered, Failure<E>>
where
    X: Read + Write,
    B: Read,
    C: Clock,
{
    let mut verdict = Verdict::default();
    let mut nothing: &[u8] = &[];
    client.submit(envelope)?;
    // More recipients than the send buffer holds go in several flights.
    while run(client, io, body, deadline, &mut verdict, wrap)? == Stop::Recipients {
        client.handle_recipients(envelope)?;
    }
    let outcome = match (verdict.accepted, verdict.rejected) {
        (Some(reply), _) => Ok(Delivered {
            reply,
            refused: verdict.refused,
            first_refusal: verdict.first_refusal,
            deferred: verdict.deferred,
        }),
        // Refused, or every recipient deferred ("too many recipients" at the first: a 4yz,
        // try later).
        (None, Some((step, reply))) => Err(Failure::Rejected { step, reply }),
        // Idle with neither: the core reports an error instead; keep a typed answer anyway.
        (None, None) => Err(Failure::Session(ProtoError::ConnectionClosed {
            step: Step::DataEnd,
        })),
    };
    // The verdict is known; a QUIT that fails does not change it.
    if client.quit().is_ok() {
        let _ = run(client, io, &mut nothing, deadline, &mut verdict, wrap);
    }
    outcome
}

/// Sends one message over a session without TLS (`config.tls` must be
/// [`TlsMode::Disabled`]; anything else is refused here, since this build path has no TLS).
pub fn send_plain<T, C, B>(
    transport: &mut T,
    deadline: &Deadline<C>,
    config: Config<'_>,
    buffers: Buffers<'_>,
    envelope: &Envelope<'_>,
    body: &mut B,
) -> Result<Delivered, Failure<T::Error>>
where
    T: Read + Write,
    C: Clock,
    B: Read,
{
    if config.tls != TlsMode::Disabled {
        return Err(Failure::UnsupportedTlsMode(config.tls));
    }
    let mut client = Client::new(config, buffers.smtp_rx, buffers.smtp_tx)?;
    // Disabled never asks for TLS, and a closed session carries its error.
    reach(
        &mut client,
        transport,
        deadline,
        Stop::Idle,
        Failure::Transport,
    )?;
    transact(
        &mut client,
        transport,
        body,
        deadline,
        envelope,
        Failure::Transport,
    )
}

/// Runs the session's set-up (greeting, EHLO, STARTTLS, AUTH) until the core stops as
/// `want`; any other stop ends the session with the core's error.
fn reach<X, E, C>(
    client: &mut Client<'_>,
    io: &mut X,
    deadline: &Deadline<C>,
    want: Stop,
    wrap: impl Fn(X::Error) -> Failure<E>,
) -> Result<(), Failure<E>>
where
    X: Read + Write,
    C: Clock,
{
    let mut verdict = Verdict::default();
    let mut nothing: &[u8] = &[];
    match run(client, io, &mut nothing, deadline, &mut verdict, wrap)? {
        stop if stop == want => Ok(()),
        _ => Err(closed(client)),
    }
}

/// The error of a session that ended early.
fn closed<E>(client: &Client<'_>) -> Failure<E> {
    Failure::Session(client.error().unwrap_or(ProtoError::ConnectionClosed {
        step: client.step(),
    }))
}

#[cfg(feature = "tls")]
pub use self::tls::{send, Tls};

#[cfg(feature = "tls")]
mod tls {
    use super::*;
    use embedded_tls::blocking::{TlsConnection, TlsContext};
    use embedded_tls::{Aes128GcmSha256, CryptoProvider, TlsConfig, TlsError, TlsVerifier};
    use rand_core::{CryptoRng, CryptoRngCore, RngCore};

    /// What TLS needs from the application: a certificate verifier (see
    /// [`crate::verify`]), a cryptographic random number generator (a hardware TRNG, or a CSPRNG
    /// seeded from one) and the server's name as the certificate must show it.
    pub struct Tls<'t, V, R> {
        /// Checks the server's chain, name and validity, then its CertificateVerify.
        pub verifier: &'t mut V,
        /// Key shares and the ClientHello random.
        pub rng: &'t mut R,
        /// The host name the certificate must be valid for (also sent as SNI).
        pub server_name: &'t str,
    }

    /// Length of a SCRAM client nonce drawn by [`send`]: 24 characters of 64 values (144 bits).
    const NONCE_LEN: usize = 24;

    /// Fills `out` with printable nonce characters (RFC 5802 §5.1: no comma).
    fn fill_nonce<R: RngCore>(rng: &mut R, out: &mut [u8]) {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut random = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut random);
        for (o, r) in out.iter_mut().zip(random) {
            *o = ALPHABET[usize::from(r & 63)];
        }
    }

    /// The embedded-tls provider made of the application's verifier and RNG.
    struct Provider<'p, V, R> {
        verifier: &'p mut V,
        rng: &'p mut R,
    }

    impl<V, R> CryptoProvider for Provider<'_, V, R>
    where
        V: TlsVerifier<Aes128GcmSha256>,
        R: RngCore + CryptoRng,
    {
        type CipherSuite = Aes128GcmSha256;
        type Signature = &'static [u8];

        fn rng(&mut self) -> impl CryptoRngCore {
            &mut *self.rng
        }

        fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
            Ok(&mut *self.verifier)
        }
    }

    /// Sends one message: greeting, EHLO, STARTTLS (for [`TlsMode::Required`]) or a TLS
    /// handshake first (for [`TlsMode::Implicit`]), AUTH when `config.credentials` is set,
    /// the message, QUIT. `TlsMode::Disabled` sends in plaintext (and AUTH then needs
    /// `config.dangerous_allow_plaintext_auth`). [`TlsMode::Opportunistic`] is refused as a
    /// configuration error: a device that can verify a chain has no reason to accept a
    /// stripped STARTTLS.
    ///
    /// A certificate the verifier refuses ends the session with [`Failure::Tls`] before a
    /// credential or an envelope is written.
    #[allow(clippy::too_many_arguments)]
    pub fn send<T, C, B, V, R>(
        transport: &mut T,
        deadline: &Deadline<C>,
        config: Config<'_>,
        tls: Tls<'_, V, R>,
        buffers: Buffers<'_>,
        envelope: &Envelope<'_>,
        body: &mut B,
    ) -> Result<Delivered, Failure<T::Error>>
    where
        T: Read + Write,
        C: Clock,
        B: Read,
        V: TlsVerifier<Aes128GcmSha256>,
        R: RngCore + CryptoRng,
    {
        match config.tls {
            TlsMode::Disabled => {
                return send_plain(transport, deadline, config, buffers, envelope, body)
            }
            TlsMode::Opportunistic => return Err(Failure::UnsupportedTlsMode(config.tls)),
            TlsMode::Required | TlsMode::Implicit => {}
        }
        let Buffers {
            smtp_rx,
            smtp_tx,
            tls_read,
            tls_write,
        } = buffers;
        let timeouts = config.timeouts;
        let implicit = config.tls == TlsMode::Implicit;
        // SCRAM needs a client nonce; with none given, draw one from the TLS RNG.
        let mut nonce = [0u8; NONCE_LEN];
        let mut config = config;
        if config.nonce.is_empty() {
            fill_nonce(tls.rng, &mut nonce);
            config.nonce = &nonce;
        }
        let mut client = Client::new(config, smtp_rx, smtp_tx)?;
        if !implicit {
            // Required TLS: the core never goes idle before TLS; Closed carries the error.
            reach(
                &mut client,
                transport,
                deadline,
                Stop::StartTls,
                Failure::Transport,
            )?;
        }
        let mut conn: TlsConnection<'_, &mut T, Aes128GcmSha256> =
            TlsConnection::new(&mut *transport, tls_read, tls_write);
        let mut tls_config = TlsConfig::new().with_server_name(tls.server_name);
        if cfg!(feature = "rsa") {
            tls_config = tls_config.enable_rsa_signatures();
        }
        let provider = Provider {
            verifier: tls.verifier,
            rng: tls.rng,
        };
        deadline.start(timeouts.tls_handshake);
        let opened = conn.open(TlsContext::new(&tls_config, provider));
        let expired = deadline.expired();
        deadline.clear();
        match opened {
            Ok(()) => {}
            Err(_) if expired => return Err(Failure::Timeout(Step::TlsHandshake)),
            Err(e) => return Err(Failure::Tls(e)),
        }
        if !implicit {
            client.handle_tls_ready()?;
        }
        reach(&mut client, &mut conn, deadline, Stop::Idle, Failure::Tls)?;
        transact(
            &mut client,
            &mut conn,
            body,
            deadline,
            envelope,
            Failure::Tls,
        )
    }
}
