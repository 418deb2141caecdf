//! The blocking [`Client`]: one connection at a time, kept open between messages.

use std::io::Read;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use ouroboros::self_referencing;
use postel_proto::{Capabilities, Client as Core, Extension};

use crate::builder::{nonce, ClientBuilder, Settings, TlsMode};
use crate::deferred::Deferred;
use crate::drive::{self, Collector, Stop, Wire};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::message::{Counted, SendHooks, Sendable};
use crate::report::SendReport;
use crate::transcript::{Recorder, SharedTranscript, Transcript};
use crate::transport::{self, Stream};

/// Receive buffer: one reply line needs 512 octets; EHLO replies fit in 4 KiB.
pub(crate) const RX_BUFFER: usize = 4 * 1024;
/// Send buffer: a pipelined group and a whole BDAT chunk.
pub(crate) const TX_BUFFER: usize = 64 * 1024;

/// What the core's configuration borrows for the life of a connection.
struct Head {
    settings: Arc<Settings>,
    ehlo: String,
    nonce: String,
}

/// The rest of a connection, which the core does not borrow.
struct Tail {
    wire: Wire,
    span: tracing::Span,
    last_used: Instant,
}

/// One SMTP session over a socket: the core, the buffers it borrows, the wire.
#[self_referencing]
struct Conn {
    head: Head,
    rx: Vec<u8>,
    tx: Vec<u8>,
    tail: Tail,
    #[borrows(head, mut rx, mut tx)]
    #[covariant]
    core: Core<'this>,
}

impl Conn {
    /// Connects, runs the greeting, EHLO, STARTTLS and AUTH, and stops when the session
    /// can take a message.
    fn open(settings: &Arc<Settings>, transcript: Option<SharedTranscript>) -> Result<Conn, Error> {
        let span = tracing::info_span!("smtp_connection", server = %settings.endpoint(), tls = %settings.tls);
        let guard = span.enter();
        let tcp = transport::connect(&settings.host, settings.port, settings.connect_timeout)?;
        let recorder = Recorder::new(transcript);
        let peer = tcp.peer_addr().ok();
        recorder.note(format!(
            "connected to {}",
            peer.map_or_else(|| settings.endpoint(), |p| p.to_string())
        ));
        let ehlo = settings.ehlo_for(tcp.local_addr().ok());
        let mut wire = Wire::new(Stream::Plain(tcp), recorder, settings.timeouts);
        if settings.tls == TlsMode::Implicit {
            let (config, name) = settings.tls_parts()?;
            let result = wire
                .stream
                .upgrade(config, name, settings.timeouts.tls_handshake);
            note_tls(&wire, &result);
            result?;
        }
        drop(guard);
        let mut conn = ConnTryBuilder {
            head: Head {
                settings: Arc::clone(settings),
                ehlo,
                nonce: nonce()?,
            },
            rx: vec![0; RX_BUFFER],
            tx: vec![0; TX_BUFFER],
            tail: Tail {
                wire,
                span,
                last_used: Instant::now(),
            },
            core_builder: |h: &Head, rx: &mut Vec<u8>, tx: &mut Vec<u8>| {
                Core::new(h.settings.core_config(&h.ehlo, &h.nonce), rx, tx).map_err(Error::from)
            },
        }
        .try_build()?;
        conn.run(None, None, &mut Collector::default())?;
        Ok(conn)
    }

    /// Drives the core until it is idle, doing the TLS handshake when it asks; `envelope`
    /// is the one submitted, if any.
    fn run(
        &mut self,
        mut body: drive::Body<'_>,
        envelope: Option<&postel_proto::Envelope<'_>>,
        events: &mut Collector,
    ) -> Result<(), Error> {
        self.with_mut(|f| {
            let Tail { wire, span, .. } = &mut *f.tail;
            let settings = &f.head.settings;
            let _g = span.enter();
            loop {
                let reborrowed: drive::Body<'_> = match body.as_mut() {
                    Some(b) => Some(&mut **b),
                    None => None,
                };
                match drive::run(f.core, wire, reborrowed, envelope, events)? {
                    Stop::Idle => return Ok(()),
                    Stop::Closed => {
                        return Err(Error::Protocol(postel_proto::Error::Closed));
                    }
                    Stop::StartTls => {
                        let (config, name) = settings.tls_parts()?;
                        let result =
                            wire.stream
                                .upgrade(config, name, settings.timeouts.tls_handshake);
                        note_tls(wire, &result);
                        result?;
                        wire.reset_timeouts();
                        f.core.handle_tls_ready()?;
                    }
                }
            }
        })
    }

    /// Sends one message; the session stays usable when this returns `Ok` or a
    /// [`Error::Rejected`].
    fn transact(&mut self, envelope: &Envelope, body: &mut dyn Read) -> Result<SendReport, Error> {
        let span = tracing::info_span!(
            parent: &self.borrow_tail().span,
            "smtp_message",
            from = %envelope.from,
            recipients = envelope.to.len()
        );
        let _g = span.enter();
        let recipients = envelope.recipients();
        let borrowed = envelope.borrowed(&recipients);
        self.with_core_mut(|core| core.submit(&borrowed))?;
        let mut events = Collector::new(&envelope.to);
        self.run(Some(body), Some(&borrowed), &mut events)?;
        self.with_tail_mut(|t| t.last_used = Instant::now());
        events.finish(self.borrow_core())
    }

    fn capabilities(&self) -> Capabilities {
        *self.borrow_core().capabilities()
    }

    /// Still worth using: reusable for the core, not idle too long, and the server has not
    /// closed it or said anything (a 421) since.
    fn usable(&self) -> bool {
        let tail = self.borrow_tail();
        self.borrow_core().reusable()
            && tail.last_used.elapsed() < self.borrow_head().settings.idle_timeout
            && tail.wire.stream.looks_alive()
    }

    /// QUIT and wait for the reply, each wait bounded by `cap`.
    fn quit(mut self, cap: Option<Duration>) -> Result<(), Error> {
        self.with_tail_mut(|t| t.wire.cap = cap);
        self.with_core_mut(|core| core.quit())?;
        let mut events = Collector::default();
        self.with_mut(|f| drive::run(f.core, &mut f.tail.wire, None, None, &mut events))?;
        Ok(())
    }
}

fn note_tls(wire: &Wire, result: &Result<(), Error>) {
    match result {
        Ok(()) => wire.recorder.note(format!(
            "TLS established: {}, {}",
            wire.stream.tls_info().unwrap_or_default(),
            handshake_kind(&wire.stream)
        )),
        Err(e) => wire.recorder.note(format!("TLS failed: {e}")),
    }
}

/// "resumed session" when the handshake resumed one from the client configuration's
/// session cache (shared by every connection of a client or pool), else "full handshake".
fn handshake_kind(stream: &crate::transport::Stream) -> &'static str {
    match stream {
        crate::transport::Stream::Tls(s)
            if s.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) =>
        {
            "resumed session"
        }
        _ => "full handshake",
    }
}

/// A blocking SMTP client. It connects when first needed, keeps the connection open
/// between messages, and reconnects when the server closed it, it failed, or it sat idle
/// too long.
///
/// ```no_run
/// use postel::{Client, Envelope};
/// let mut client = Client::builder("smtp.example.com").credentials("alice", "secret").build()?;
/// let env = Envelope::new("alice@example.com", ["bob@example.net"]);
/// let report = client.send_bytes(&env, b"Subject: hi\r\n\r\nHello.\r\n")?;
/// for r in &report.refused {
///     eprintln!("{} refused: {}", r.address, r.reply);
/// }
/// client.quit()?;
/// # Ok::<(), postel::Error>(())
/// ```
pub struct Client {
    settings: Arc<Settings>,
    conn: Option<Conn>,
    transcript: Option<SharedTranscript>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.settings.endpoint())
            .field("tls", &self.settings.tls)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a [`ClientBuilder`] for the server `host`.
    pub fn builder(host: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(host)
    }

    pub(crate) fn from_settings(settings: Arc<Settings>) -> Client {
        let transcript = settings.transcript.then(SharedTranscript::default);
        Client {
            settings,
            conn: None,
            transcript,
        }
    }

    /// Connects now (greeting, EHLO, STARTTLS, AUTH) unless a usable connection is open,
    /// and returns what the server offers.
    pub fn connect(&mut self) -> Result<Capabilities, Error> {
        Ok(self.conn()?.capabilities())
    }

    fn conn(&mut self) -> Result<&mut Conn, Error> {
        if let Some(c) = self.conn.take() {
            if c.usable() {
                return Ok(self.conn.insert(c));
            }
            tracing::debug!("not reusing the connection");
            // Politely, and briefly: it may be dead already.
            let _ = c.quit(Some(Duration::from_secs(2)));
        }
        let c = Conn::open(&self.settings, self.transcript.clone())?;
        Ok(self.conn.insert(c))
    }

    /// Runs one transaction, dropping the connection unless the session is still good.
    fn transact(&mut self, envelope: &Envelope, body: &mut dyn Read) -> Result<SendReport, Error> {
        envelope.check()?;
        let conn = self.conn()?;
        let result = conn.transact(envelope, body);
        // A refused message, or one the core refused before anything was written, leaves
        // the session reusable; a failure of the server, the wire or the source does not.
        if result.is_err() && !conn.borrow_core().reusable() {
            if let (Some(c), Err(e)) = (self.conn.take(), &result) {
                c.borrow_tail()
                    .wire
                    .recorder
                    .note(format!("dropping the connection: {e}"));
            }
        }
        result
    }

    /// Sends a composed message ([`postel_mime::Message`] or
    /// [`postel_mime::RawMessage`]) to the recipients of its envelope (To, Cc, Bcc).
    /// It is encoded for what the server offers (8BITMIME, SMTPUTF8), with `SIZE=`.
    ///
    /// `Ok` when at least one recipient got it (see [`SendReport::refused`] for the
    /// others); [`Error::Rejected`] when nobody did. Recipients past the server's limit per
    /// transaction (452 "too many recipients") get it in further transactions on the same
    /// connection, each recipient once.
    pub fn send<M: Sendable>(&mut self, message: &mut M) -> Result<SendReport, Error> {
        self.send_composed(None, message)
    }

    /// Sends a composed message to `envelope` instead of the recipients in its headers.
    pub fn send_with_envelope<M: Sendable>(
        &mut self,
        envelope: &Envelope,
        message: &mut M,
    ) -> Result<SendReport, Error> {
        self.send_composed(Some(envelope), message)
    }

    fn send_composed<M: Sendable>(
        &mut self,
        envelope: Option<&Envelope>,
        message: &mut M,
    ) -> Result<SendReport, Error> {
        self.send_with(envelope, message, &mut ())
    }

    /// Sends a composed message as [`send`](Self::send) does (to `envelope`, or to the
    /// recipients in its headers when `None`), with `hooks` told the envelope before
    /// `MAIL` (where DSN or REQUIRETLS can be set) and the content as it is read.
    pub fn send_with<M: Sendable>(
        &mut self,
        envelope: Option<&Envelope>,
        message: &mut M,
        hooks: &mut dyn SendHooks,
    ) -> Result<SendReport, Error> {
        if let Some(e) = envelope {
            // A bad address is refused before connecting.
            e.check()?;
        }
        let caps = self.conn()?.capabilities();
        let opts = crate::message::encode_options(&caps);
        let mut envelope = match envelope {
            Some(e) => e.clone(),
            None => Envelope::from_mime(&message.envelope()?, opts.smtputf8)?,
        };
        let encoder = message.encoder(&opts)?;
        crate::message::describe(&mut envelope, &encoder);
        hooks.envelope(&mut envelope);
        let mut body = Counted {
            inner: encoder,
            hooks: &mut *hooks,
        };
        let first = self.transact(&envelope, &mut body);
        drop(body);
        self.send_deferred(&envelope, first, |c, next| {
            let mut body = Counted {
                inner: message.encoder(&opts)?,
                hooks: &mut *hooks,
            };
            c.transact(next, &mut body)
        })
    }

    /// After a transaction to `envelope`: the recipients the server's limit per
    /// transaction left out (RFC 5321 §4.5.3.1.10) are sent the message again with `again`,
    /// in as many further transactions as the limit takes, never to a recipient accepted
    /// before; each takes as many recipients as the server answered before its limit. It
    /// stops when a transaction gets nobody or fails; the recipients left are refused with
    /// their 452, to try later.
    fn send_deferred(
        &mut self,
        envelope: &Envelope,
        first: Result<SendReport, Error>,
        mut again: impl FnMut(&mut Client, &Envelope) -> Result<SendReport, Error>,
    ) -> Result<SendReport, Error> {
        let mut report = first?;
        let Some(mut deferred) = Deferred::take(&mut report) else {
            return Ok(report);
        };
        while let Some(next) = deferred.next(envelope) {
            let result = again(self, &next);
            if !deferred.absorb(&mut report, &next, result) {
                break;
            }
        }
        deferred.finish(&mut report, envelope);
        Ok(report)
    }

    /// Sends `message` (the whole RFC 5322 message, CRLF or LF line ends) to `envelope`.
    /// `SIZE=` and `BODY=8BITMIME` are set from the bytes. Recipients past the server's
    /// limit per transaction get it in further transactions, each recipient once.
    pub fn send_bytes(&mut self, envelope: &Envelope, message: &[u8]) -> Result<SendReport, Error> {
        let envelope = envelope.for_bytes(message)?;
        let mut body = message;
        let first = self.transact(&envelope, &mut body);
        self.send_deferred(&envelope, first, |c, next| {
            let mut body = message;
            c.transact(next, &mut body)
        })
    }

    /// Sends the message read from `message` to `envelope`, streaming it. Say whether it
    /// is 8-bit and its size in the envelope, when known. A stream is sent once: recipients
    /// past the server's limit per transaction are in [`SendReport::refused`] with its 452
    /// (try them later), where [`send_bytes`](Self::send_bytes) sends them in further
    /// transactions.
    pub fn send_reader(
        &mut self,
        envelope: &Envelope,
        mut message: impl Read,
    ) -> Result<SendReport, Error> {
        // A stream cannot be sent twice: recipients the server's limit left out are
        // refused with its 452, for the caller to send later.
        let mut report = self.transact(envelope, &mut message)?;
        report.refuse_deferred();
        Ok(report)
    }

    /// What the server offered, when connected.
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.conn.as_ref().map(Conn::capabilities)
    }

    /// True when the current session is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| c.borrow_core().is_encrypted())
    }

    /// The SASL mechanism the current session logged in with.
    pub fn authenticated(&self) -> Option<postel_proto::Mechanism> {
        self.conn
            .as_ref()
            .and_then(|c| c.borrow_core().authenticated())
    }

    /// True when the server offered `ext` on the current connection.
    pub fn offers(&self, ext: Extension) -> bool {
        self.capabilities().is_some_and(|c| c.has(ext))
    }

    /// Ends the session politely (QUIT). The next `send` connects again.
    pub fn quit(&mut self) -> Result<(), Error> {
        match self.conn.take() {
            Some(c) => c.quit(None),
            None => Ok(()),
        }
    }

    /// The transcript so far, if enabled with [`ClientBuilder::transcript`].
    pub fn transcript(&self) -> Option<Transcript> {
        self.transcript
            .as_ref()
            .map(|t| t.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// Takes the transcript so far, leaving an empty one.
    pub fn take_transcript(&mut self) -> Option<Transcript> {
        self.transcript
            .as_ref()
            .map(|t| std::mem::take(&mut *t.lock().unwrap_or_else(PoisonError::into_inner)))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.quit(Some(Duration::from_secs(2)));
        }
    }
}
