//! The SMTP client state machine.
//!
//! ```text
//! S: 220 mx.example ESMTP
//! C: EHLO client.example
//! S: 250-mx.example
//! S: 250-PIPELINING
//! S: 250 CHUNKING
//! C: MAIL FROM:<a@client.example>
//! C: RCPT TO:<b@mx.example>
//! C: BDAT 120 LAST
//! C: <120 octets of message>
//! S: 250 2.1.0 Ok
//! S: 250 2.1.5 Ok
//! S: 250 2.0.0 Ok: queued as 4Xyz
//! ```
//!
//! [`Client`] never touches a socket, a clock or the heap. The driver loops over
//! [`Client::poll`] and does what each [`Action`] says; see [`Client`] for the loop.

use core::fmt;
use core::time::Duration;

mod awaited;
mod send_buf;
mod txn;

use crate::auth::{self, AuthError, Exchange, Mechanism};
use crate::body::Framing;
use crate::capability::{Capabilities, Extension};
use crate::command::{self, Writer, BDAT_HEADER_MAX};
use crate::config::{Config, TlsMode};
use crate::envelope::Envelope;
use crate::error::{Argument, AuthFailure, Error, Step};
use crate::reply::{Code, Reply, Span};

use awaited::{Awaited, Queue};
use send_buf::SendBuf;
use txn::{too_many_recipients, Content, Phase, Source, Txn};

/// Smallest receive and send buffers accepted: one RFC 5321 §4.5.3.1.5 reply line (512
/// octets) must fit in the receive buffer, one command line (§4.5.3.1.4) in the send buffer.
pub const MIN_BUFFER: usize = 512;

/// Identifies a message submitted with [`Client::submit`], in events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnId(pub u32);

/// Identifies a recipient by its index in [`Envelope::recipients`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RcptId(pub u32);

/// What the driver must do next.
#[must_use = "an unhandled Action stalls the session"]
#[derive(Debug)]
pub enum Action<'a> {
    /// Write these bytes (as many as the transport takes), then call
    /// [`Client::handle_sent`] with the count. `within` bounds each write.
    Send {
        /// Bytes to write.
        bytes: &'a [u8],
        /// Timeout for the write.
        within: Duration,
    },
    /// Read into `into`, then call [`Client::handle_received`] with the count (0 at EOF).
    /// `within` is the timeout of this wait (RFC 5321 §4.5.3.2).
    Receive {
        /// Where to read to.
        into: &'a mut [u8],
        /// Timeout for the wait.
        within: Duration,
    },
    /// Read message content into `into` (any amount), then call [`Client::handle_body`]
    /// with the count; 0 means the message has ended.
    Body {
        /// Where to read message content to.
        into: &'a mut [u8],
    },
    /// The recipients that fitted in the send buffer are answered and more are to be sent
    /// (a message to more recipients than one write holds goes in several flights): call
    /// [`Client::handle_recipients`] with the envelope given to [`Client::submit`], whose
    /// recipients from `from` on are written next.
    Recipients {
        /// The first recipient not written yet.
        from: RcptId,
    },
    /// Run a TLS handshake over the transport, then call [`Client::handle_tls_ready`].
    StartTls,
    /// Something happened; nothing to do but look.
    Event(Event<'a>),
    /// Nothing in flight: [`Client::submit`] a message or [`Client::quit`].
    Idle,
    /// The session is over; close the transport.
    Closed,
}

/// What the server said, as the session learns it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The server's 220 greeting.
    Greeting(Reply<'a>),
    /// EHLO (and STARTTLS and AUTH, as configured) are done; messages can be submitted.
    Ready,
    /// The server accepted a recipient.
    RecipientAccepted {
        /// The message.
        txn: TxnId,
        /// The recipient.
        rcpt: RcptId,
        /// The reply (250 or 251).
        reply: Reply<'a>,
    },
    /// The server refused a recipient; the others still get the message.
    RecipientRefused {
        /// The message.
        txn: TxnId,
        /// The recipient.
        rcpt: RcptId,
        /// The refusal (4yz: try later; 5yz: do not).
        reply: Reply<'a>,
    },
    /// The server took responsibility for the message, for every accepted recipient.
    MessageAccepted {
        /// The message.
        txn: TxnId,
        /// The final reply.
        reply: Reply<'a>,
    },
    /// The server's limit on recipients per message was met (RFC 5321 §4.5.3.1.10: 452, or
    /// 552, "too many recipients", enhanced code x.5.3): this recipient is not part of this
    /// transaction, which goes on without sending any further RCPT. Unlike a refusal, it says
    /// nothing about the recipient: send it in a next transaction, without the recipients
    /// accepted in this one (they get this message). Recipients whose RCPT was never sent
    /// get this event too, with the reply that met the limit, right after its own event
    /// (before the events of the RCPT commands already in flight after it).
    RecipientDeferred {
        /// The message.
        txn: TxnId,
        /// The recipient.
        rcpt: RcptId,
        /// The reply that met the limit (to this recipient's RCPT, or to an earlier one).
        reply: Reply<'a>,
    },
    /// The message was not accepted for anyone.
    MessageRejected {
        /// The message.
        txn: TxnId,
        /// Where it failed: [`Step::Mail`], [`Step::Rcpt`] (every recipient refused; the
        /// reply is the last refusal), [`Step::Data`], [`Step::Body`] (a BDAT chunk) or
        /// [`Step::DataEnd`].
        step: Step,
        /// The reply that sealed it.
        reply: Reply<'a>,
    },
    /// The server answered QUIT.
    Quit(Reply<'a>),
}

/// Where the session is, named for the RFC 5321 command sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Connected, waiting for 220.
    AwaitingGreeting,
    /// EHLO sent.
    EhloSent,
    /// HELO sent after EHLO was refused.
    HeloSent,
    /// STARTTLS sent.
    StartTlsSent,
    /// Waiting for the driver's TLS handshake.
    TlsHandshake,
    /// In an AUTH exchange.
    Authenticating,
    /// Ready for a message.
    Idle,
    /// A message is in flight.
    InTransaction,
    /// QUIT sent.
    QuitSent,
    /// Over.
    Closed,
    /// An error ended the session.
    Failed,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::AwaitingGreeting => "awaiting greeting",
            State::EhloSent => "EHLO sent",
            State::HeloSent => "HELO sent",
            State::StartTlsSent => "STARTTLS sent",
            State::TlsHandshake => "TLS handshake",
            State::Authenticating => "authenticating",
            State::Idle => "idle",
            State::InTransaction => "in transaction",
            State::QuitSent => "QUIT sent",
            State::Closed => "closed",
            State::Failed => "failed",
        })
    }
}

/// Recipients `next..end` deferred by the reply `span` (see [`Event::RecipientDeferred`]).
#[derive(Clone, Copy, Debug)]
struct Deferral {
    next: u32,
    end: u32,
    span: Span,
}

#[derive(Clone, Copy, Debug)]
enum Pending {
    Greeting(Span),
    Ready,
    Accepted(RcptId, Span),
    Refused(RcptId, Span),
    Deferred(RcptId, Span),
    MessageAccepted(Span),
    MessageRejected(Step, Span),
    Quit(Span),
}

/// Internal decision of one step of [`Client::poll`], free of borrows.
enum Next {
    Send,
    Receive,
    Body(usize),
    Recipients(u32),
    StartTls,
    Event(Pending),
    Idle,
    Closed,
}

/// The SMTP client session: a sans-IO state machine over two caller-provided buffers.
///
/// # Driving it
/// 1. Connect the transport (for implicit TLS, finish the handshake first and use
///    [`TlsMode::Implicit`]).
/// 2. Make the client with [`Client::new`], lending it a receive and a send buffer (at least
///    [`MIN_BUFFER`] octets each; 4 KiB and 16–64 KiB are good sizes).
/// 3. Loop on [`Client::poll`] and do what the [`Action`] says:
///    `Send` → write, [`handle_sent`](Client::handle_sent);
///    `Receive` → read, [`handle_received`](Client::handle_received);
///    `StartTls` → handshake, [`handle_tls_ready`](Client::handle_tls_ready);
///    `Body` → read message content, [`handle_body`](Client::handle_body);
///    `Event` → note it; `Recipients` → [`handle_recipients`](Client::handle_recipients)
///    with the envelope being sent (more RCPT than one write holds); `Idle` →
///    [`submit`](Client::submit) the next message or [`quit`](Client::quit); `Closed` →
///    close the transport.
/// 4. An `Err` from `poll` ends the session: close the transport.
///
/// ```
/// use postel_proto::{Action, Client, Config, Envelope, Event, Recipient, TlsMode};
///
/// let mut config = Config::new("client.example");
/// config.tls = TlsMode::Disabled;
/// let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
/// let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
/// let mut server: &[u8] = b"220 mx ESMTP\r\n250-mx\r\n250 PIPELINING\r\n\
///     250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n";
/// let mut body: &[u8] = b"Subject: hi\r\n\r\nHello.\r\n";
/// let mut wire = Vec::new();
/// let (mut submitted, mut quit) = (false, false);
/// loop {
///     match client.poll().unwrap() {
///         Action::Send { bytes, .. } => {
///             wire.extend_from_slice(bytes);
///             let n = bytes.len();
///             client.handle_sent(n);
///         }
///         Action::Receive { into, .. } => {
///             let n = into.len().min(server.len());
///             into[..n].copy_from_slice(&server[..n]);
///             server = &server[n..];
///             client.handle_received(n).unwrap();
///         }
///         Action::Body { into } => {
///             let n = into.len().min(body.len());
///             into[..n].copy_from_slice(&body[..n]);
///             body = &body[n..];
///             client.handle_body(n).unwrap();
///         }
///         Action::Event(Event::MessageAccepted { reply, .. }) => assert_eq!(reply.code().get(), 250),
///         Action::Event(_) => {}
///         Action::Idle if !submitted => {
///             let to = [Recipient::new("b@mx.example")];
///             client.submit(&Envelope::new("a@client.example", &to)).unwrap();
///             submitted = true;
///         }
///         Action::Idle if !quit => { client.quit().unwrap(); quit = true; }
///         Action::Idle | Action::Closed => break,
///         Action::Recipients { .. } => unreachable!("one recipient fits in one write"),
///         Action::StartTls => unreachable!("TLS disabled"),
///     }
/// }
/// assert_eq!(wire, b"EHLO client.example\r\n\
///     MAIL FROM:<a@client.example>\r\nRCPT TO:<b@mx.example>\r\nDATA\r\n\
///     Subject: hi\r\n\r\nHello.\r\n.\r\nQUIT\r\n");
/// ```
pub struct Client<'a> {
    config: Config<'a>,
    rx: &'a mut [u8],
    tx: SendBuf<'a>,
    framer: crate::reply::Framer,
    state: State,
    /// What the server's next replies answer, in order.
    awaited: Queue,
    caps: Capabilities,
    encrypted: bool,
    tls_declined: bool,
    authenticated: Option<Mechanism>,
    auth: Option<Exchange>,
    lines_in_reply: u32,
    pending: [Option<Pending>; 2],
    txn: Option<Txn>,
    next_txn: u32,
    needs_rset: bool,
    error: Option<Error>,
    /// Recipients never sent, deferred by the reply that met the server's limit: their
    /// events are given before anything else is read, while that reply is in rx.
    deferred: Option<Deferral>,
    /// `error` is a refusal the server is being told about with QUIT (RFC 5321 §3.1); the
    /// session ends with it once QUIT is answered or the connection closes.
    closing: bool,
}

impl fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state)
            .field("encrypted", &self.encrypted)
            .field("authenticated", &self.authenticated)
            .field("capabilities", &self.caps)
            .finish_non_exhaustive()
    }
}

impl<'a> Client<'a> {
    /// Starts a session over a freshly connected transport (the greeting is awaited first).
    ///
    /// Fails with [`Error::BufferTooSmall`] when a buffer is under [`MIN_BUFFER`], and with
    /// [`Error::InvalidArgument`] when the EHLO name is not a domain or address literal.
    pub fn new(
        config: Config<'a>,
        rx: &'a mut [u8],
        tx: &'a mut [u8],
    ) -> Result<Client<'a>, Error> {
        if rx.len() < MIN_BUFFER || tx.len() < MIN_BUFFER {
            return Err(Error::BufferTooSmall { needed: MIN_BUFFER });
        }
        crate::address::ehlo_name(config.ehlo_name).map_err(|(at, invalid)| {
            Error::InvalidArgument {
                argument: Argument::EhloName,
                at,
                invalid,
            }
        })?;
        Ok(Client {
            encrypted: config.tls == TlsMode::Implicit,
            config,
            rx,
            tx: SendBuf::new(tx),
            framer: crate::reply::Framer::default(),
            state: State::AwaitingGreeting,
            awaited: {
                let mut q = Queue::new();
                q.push(Awaited::Greeting);
                q
            },
            caps: Capabilities::new(),
            tls_declined: false,
            authenticated: None,
            auth: None,
            lines_in_reply: 0,
            pending: [None, None],
            txn: None,
            next_txn: 0,
            needs_rset: false,
            error: None,
            deferred: None,
            closing: false,
        })
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The step whose reply (or write) is awaited now: what a timeout or a lost
    /// connection interrupted.
    pub fn step(&self) -> Step {
        self.current_step()
    }

    /// What the server offered in its last EHLO.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// True once TLS is up (implicit, or after STARTTLS).
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// The mechanism that authenticated the session, if any.
    pub fn authenticated(&self) -> Option<Mechanism> {
        self.authenticated
    }

    /// The error that ended the session, if one did, or that will end it once the QUIT the
    /// client sends after a refused greeting is answered. A driver whose transport fails
    /// during that QUIT should report this error rather than the transport's.
    pub fn error(&self) -> Option<Error> {
        self.error
    }

    /// The next thing to do. An `Err` ends the session.
    pub fn poll(&mut self) -> Result<Action<'_>, Error> {
        self.poll_step().map(|(_, action)| action)
    }

    /// [`poll`](Self::poll), with the step the action belongs to: the step whose timeout
    /// is the `within` of an [`Action::Send`] or [`Action::Receive`] (a write of message
    /// content is [`Step::Body`]), else [`step`](Self::step). A driver that measures waits
    /// itself keys them by it, and names it when one times out; [`step`](Self::step) cannot
    /// be asked while the action borrows the client.
    pub fn poll_step(&mut self) -> Result<(Step, Action<'_>), Error> {
        let next = match self.advance() {
            Ok(n) => n,
            Err(e) => return Err(self.fail(e)),
        };
        let step = match (&next, self.current_step()) {
            // RFC 5321 §4.5.3.2: every write of content, the last block and the
            // terminator included, is a data block; DATA termination's 10 minutes are
            // for the reply that follows.
            (Next::Send, Step::DataEnd) => Step::Body,
            (_, step) => step,
        };
        let action = match next {
            Next::Send => Action::Send {
                bytes: &self.tx.buf[self.tx.start..self.tx.send_end],
                within: step.timeout(&self.config.timeouts),
            },
            Next::Receive => {
                let within = step.timeout(&self.config.timeouts);
                self.framer.compact(self.rx);
                let at = self.framer.free_start();
                Action::Receive {
                    into: &mut self.rx[at..],
                    within,
                }
            }
            Next::Body(at) => Action::Body {
                into: &mut self.tx.buf[at..],
            },
            Next::Recipients(from) => Action::Recipients { from: RcptId(from) },
            Next::StartTls => Action::StartTls,
            Next::Event(p) => Action::Event(self.event(p)),
            Next::Idle => Action::Idle,
            Next::Closed => Action::Closed,
        };
        Ok((step, action))
    }

    /// The driver wrote `n` bytes of the last [`Action::Send`].
    pub fn handle_sent(&mut self, n: usize) {
        self.tx.start = (self.tx.start + n).min(self.tx.send_end);
        if self.tx.sending() {
            return;
        }
        if let Some(t) = self.txn.as_mut() {
            let base = match t.framing {
                Framing::Data => 0,
                Framing::Bdat => BDAT_HEADER_MAX,
            };
            match &mut t.phase {
                Phase::Body(c) => {
                    self.tx.reset_to(base);
                    c.chunk_start = base;
                }
                Phase::Final => self.tx.reset_to(base),
                _ => {}
            }
        }
    }

    /// The driver read `n` bytes into the last [`Action::Receive`]; 0 means the peer closed.
    pub fn handle_received(&mut self, n: usize) -> Result<(), Error> {
        if let Some(e) = self.error {
            if !self.closing {
                return Err(e);
            }
        }
        if n == 0 {
            if let (true, Some(e)) = (self.closing, self.error) {
                return Err(self.fail(e));
            }
            if self.state == State::QuitSent {
                self.state = State::Closed;
                return Ok(());
            }
            let step = self.current_step();
            return Err(self.fail(Error::ConnectionClosed { step }));
        }
        let room = self.rx.len() - self.framer.free_start();
        self.framer.received(n.min(room));
        Ok(())
    }

    /// The driver's TLS handshake (after [`Action::StartTls`]) succeeded. Everything learned
    /// before is forgotten and EHLO is sent again (RFC 3207 §4.2).
    pub fn handle_tls_ready(&mut self) -> Result<(), Error> {
        if self.state != State::TlsHandshake {
            return Err(Error::Busy);
        }
        self.encrypted = true;
        self.caps = Capabilities::new();
        self.framer.clear();
        self.send_hello(true).map_err(|e| self.fail(e))
    }

    /// The driver read `n` bytes of message content into the last [`Action::Body`]; 0 ends
    /// the message.
    pub fn handle_body(&mut self, n: usize) -> Result<(), Error> {
        let len = self.tx.buf.len();
        let Some(Txn {
            phase: Phase::Body(c),
            ..
        }) = self.txn.as_mut()
        else {
            return Err(Error::Busy);
        };
        if c.raw_start != c.raw_end || c.source != Source::Open {
            return Err(Error::Busy);
        }
        if n == 0 {
            c.source = Source::Ended;
            return Ok(());
        }
        c.raw_start = c.window;
        c.raw_end = (c.window + n).min(len);
        Ok(())
    }

    /// Starts a message. Every argument is checked before this returns, and the commands
    /// of the first flight are written to the send buffer: MAIL and every RCPT when they fit
    /// (with PIPELINING, the whole envelope then goes in one write), else as many RCPT as
    /// fit, the others following in later flights once these are answered (see
    /// [`Action::Recipients`]). On `Err` nothing was written and the session is unchanged.
    pub fn submit(&mut self, envelope: &Envelope<'_>) -> Result<TxnId, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.state != State::Idle || self.txn.is_some() {
            return Err(Error::Busy);
        }
        let check = command::check_envelope(envelope, &self.caps, self.encrypted)?;
        let pipelined = self.config.options.pipelining && self.caps.has(Extension::Pipelining);
        let framing = if self.config.options.chunking && self.caps.has(Extension::Chunking) {
            Framing::Bdat
        } else {
            Framing::Data
        };
        let total =
            u32::try_from(envelope.recipients.len()).map_err(|_| Error::InvalidArgument {
                argument: Argument::Recipient(u32::MAX as usize),
                at: 0,
                invalid: crate::error::Invalid::TooLong,
            })?;
        let id = self.next_txn;
        let mut t = Txn {
            id,
            framing,
            pipelined,
            smtputf8: check.smtputf8,
            size_limit: self.caps.size_limit(),
            phase: Phase::Envelope {
                data_rendered: false,
            },
            rcpt_total: total,
            rcpt_given: total,
            rcpt_rendered: 0,
            rcpt_sent: 0,
            rcpt_accepted: 0,
            mail_ok: false,
            failed: false,
            cmd_next: 0,
            cmd_end: 0,
        };
        let rset = self.needs_rset;
        let (cmd_end, count) = self.render_flight(&t, envelope, Some((&check, rset)))?;
        self.next_txn = self.next_txn.wrapping_add(1);
        self.needs_rset = false;
        self.state = State::InTransaction;
        self.launch_flight(&mut t, cmd_end, count, rset);
        self.txn = Some(t);
        if !pipelined {
            self.release_command();
        }
        Ok(TxnId(id))
    }

    /// Writes the next flight of RCPT commands, after [`Action::Recipients`]: `envelope` is
    /// the one given to [`submit`](Self::submit) (the same recipients, in the same order).
    ///
    /// Fails with [`Error::Busy`] when no recipients are awaited or `envelope` has another
    /// number of recipients, and with [`Error::InvalidArgument`] when a recipient is not
    /// valid (it was when submitted: this is another envelope); nothing is written then, and
    /// the session still awaits the recipients.
    pub fn handle_recipients(&mut self, envelope: &Envelope<'_>) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let Some(mut t) = self.txn else {
            return Err(Error::Busy);
        };
        if self.awaiting_recipients(&t).is_none()
            || envelope.recipients.len() != t.rcpt_given as usize
        {
            return Err(Error::Busy);
        }
        let (cmd_end, count) = self.render_flight(&t, envelope, None)?;
        self.launch_flight(&mut t, cmd_end, count, false);
        self.txn = Some(t);
        if !t.pipelined {
            self.release_command();
        }
        Ok(())
    }

    /// The first recipient still to be written, when the session waits for
    /// [`handle_recipients`](Self::handle_recipients).
    fn awaiting_recipients(&self, t: &Txn) -> Option<u32> {
        let idle = self.state == State::InTransaction
            && t.in_envelope()
            && !t.failed
            && self.awaited.txn_replies() == 0
            && t.cmd_next >= t.cmd_end
            && !self.tx.sending();
        (idle && t.rcpt_rendered < t.rcpt_total).then_some(t.rcpt_rendered)
    }

    /// Writes a flight of commands at the start of tx: RSET (`first.1`) and MAIL when
    /// `first` is given, then as many RCPT as fit from `t.rcpt_rendered` on, then DATA
    /// (pipelined) when every recipient is in. Room for DATA, or for a BDAT header and some
    /// content, is kept, so that the last flight can end the envelope. Returns the length
    /// written and the number of recipients in it; writes nothing the session would send
    /// on `Err`.
    fn render_flight(
        &mut self,
        t: &Txn,
        env: &Envelope<'_>,
        first: Option<(&command::EnvelopeCheck, bool)>,
    ) -> Result<(usize, u32), Error> {
        let reserve = match t.framing {
            Framing::Data => 6,
            Framing::Bdat => BDAT_HEADER_MAX + 64,
        };
        let limit = self.tx.buf.len() - reserve;
        let mut w = Writer::new(&mut self.tx.buf[..limit]);
        if let Some((check, rset)) = first {
            if rset {
                w.put(b"RSET\r\n");
            }
            command::mail(&mut w, env, &self.caps, check);
        }
        let from = t.rcpt_rendered as usize;
        let mut count = 0u32;
        let mut end = w.len();
        for (i, r) in env.recipients.iter().enumerate().skip(from) {
            if i >= t.rcpt_total as usize {
                break;
            }
            if first.is_none() {
                // Checked by `submit` for the envelope given then; this may be another.
                command::check_recipient(i, r, t.smtputf8)?;
            }
            command::rcpt(&mut w, r, &self.caps);
            if w.len() > limit {
                if count == 0 {
                    return Err(Error::BufferTooSmall {
                        needed: w.len() + reserve,
                    });
                }
                break;
            }
            end = w.len();
            count += 1;
        }
        if end > limit {
            // MAIL alone does not fit.
            return Err(Error::BufferTooSmall {
                needed: end + reserve,
            });
        }
        let last = from + count as usize >= t.rcpt_total as usize;
        if last && t.pipelined && t.framing == Framing::Data {
            self.tx.buf[end..end + 6].copy_from_slice(b"DATA\r\n");
            end += 6;
        }
        Ok((end, count))
    }

    /// Sets the flight rendered by [`render_flight`](Self::render_flight) on its way.
    fn launch_flight(&mut self, t: &mut Txn, cmd_end: usize, count: u32, rset: bool) {
        let first = t.rcpt_rendered == 0;
        t.rcpt_rendered += count;
        let last = t.rcpt_rendered >= t.rcpt_total;
        self.tx.reset_to(0);
        self.tx.end = cmd_end;
        t.cmd_next = 0;
        t.cmd_end = cmd_end;
        if !t.pipelined {
            // One command at a time (`release_command`); DATA follows the last RCPT reply.
            return;
        }
        // RFC 2920 §3.1 allows RSET, MAIL and RCPT anywhere in a group, and DATA (or BDAT)
        // last.
        if first {
            if rset {
                self.awaited.push(Awaited::Rset);
            }
            self.awaited.push(Awaited::Mail);
        }
        if count > 0 {
            self.awaited.push(Awaited::Rcpt {
                next: t.rcpt_sent,
                end: t.rcpt_sent + count,
            });
        }
        t.rcpt_sent += count;
        t.cmd_next = cmd_end;
        if !last || t.framing == Framing::Data || rset {
            // A flight that does not end the envelope waits for its replies before the next
            // (the server's replies to a long group must be read, or both sides block). DATA
            // ends a group. After a failed transaction the recipients end it too: a refused
            // RSET may leave the old transaction open, and BDAT content sent behind it would
            // be delivered (to the old recipients as well) while the session reports a
            // failure, so a retry delivers it again.
            if last && t.framing == Framing::Data {
                self.awaited.push(Awaited::Data);
                t.phase = Phase::Envelope {
                    data_rendered: true,
                };
            }
            self.tx.send_end = cmd_end;
        } else {
            // The commands leave with the first chunk, so a small message costs one round
            // trip; the chunk's header goes between them and its data.
            let chunk_start = cmd_end + BDAT_HEADER_MAX;
            t.phase = Phase::Body(Content::new(t.framing, chunk_start));
            self.tx.end = chunk_start;
        }
    }

    /// Ends the session politely: QUIT, then [`Action::Closed`] after the reply.
    pub fn quit(&mut self) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.state != State::Idle {
            return Err(Error::Busy);
        }
        let n = command::simple(self.tx.buf, b"QUIT")?;
        self.queue_send(n);
        self.awaited.push(Awaited::Quit);
        self.state = State::QuitSent;
        Ok(())
    }

    fn fail(&mut self, e: Error) -> Error {
        if self.error.is_none() {
            self.error = Some(e);
        }
        self.closing = false;
        self.state = State::Failed;
        self.error.unwrap_or(e)
    }

    fn queue_send(&mut self, n: usize) {
        self.tx.send_all(n);
    }

    fn push_event(&mut self, p: Pending) {
        if self.pending[0].is_none() {
            self.pending[0] = Some(p);
        } else {
            self.pending[1] = Some(p);
        }
    }

    fn take_event(&mut self) -> Option<Pending> {
        let first = self.pending[0].take();
        self.pending[0] = self.pending[1].take();
        first
    }

    fn event(&self, p: Pending) -> Event<'_> {
        let txn = TxnId(self.txn.map_or(self.next_txn.wrapping_sub(1), |t| t.id));
        let rx: &[u8] = self.rx;
        match p {
            Pending::Greeting(s) => Event::Greeting(s.reply(rx)),
            Pending::Ready => Event::Ready,
            Pending::Accepted(rcpt, s) => Event::RecipientAccepted {
                txn,
                rcpt,
                reply: s.reply(rx),
            },
            Pending::Refused(rcpt, s) => Event::RecipientRefused {
                txn,
                rcpt,
                reply: s.reply(rx),
            },
            Pending::Deferred(rcpt, s) => Event::RecipientDeferred {
                txn,
                rcpt,
                reply: s.reply(rx),
            },
            Pending::MessageAccepted(s) => Event::MessageAccepted {
                txn,
                reply: s.reply(rx),
            },
            Pending::MessageRejected(step, s) => Event::MessageRejected {
                txn,
                step,
                reply: s.reply(rx),
            },
            Pending::Quit(s) => Event::Quit(s.reply(rx)),
        }
    }

    /// The step whose reply (or write) is awaited, for timeouts and errors.
    fn current_step(&self) -> Step {
        match self.state {
            State::AwaitingGreeting => Step::Greeting,
            State::EhloSent => Step::Ehlo,
            State::HeloSent => Step::Helo,
            State::StartTlsSent => Step::StartTls,
            State::TlsHandshake => Step::TlsHandshake,
            State::Authenticating => Step::Auth,
            State::QuitSent | State::Closed | State::Failed | State::Idle => Step::Quit,
            State::InTransaction => match self.txn {
                Some(t) => t.step(self.awaited.txn_front()),
                None => Step::Rset,
            },
        }
    }

    fn must_read(&self) -> bool {
        match self.state {
            State::AwaitingGreeting
            | State::EhloSent
            | State::HeloSent
            | State::StartTlsSent
            | State::Authenticating
            | State::QuitSent => true,
            State::InTransaction => match self.txn {
                Some(t) if self.awaited.txn_replies() > 0 => match t.phase {
                    // `cmd_end > 0`: pipelined commands not written yet (see `advance`).
                    Phase::Body(_) => {
                        t.cmd_end == 0
                            && (!t.pipelined
                                || self.awaited.chunks()
                                    >= self.config.options.max_chunks_in_flight)
                    }
                    _ => true,
                },
                _ => false,
            },
            _ => false,
        }
    }

    fn advance(&mut self) -> Result<Next, Error> {
        loop {
            if let Some(e) = self.error {
                if !self.closing {
                    return Err(e);
                }
            }
            if self.tx.sending() {
                return Ok(Next::Send);
            }
            // A recipient's event, then the recipients deferred with it, then the message's.
            if let Some(
                p @ (Pending::Accepted(..) | Pending::Refused(..) | Pending::Deferred(..)),
            ) = self.pending[0]
            {
                self.take_event();
                return Ok(Next::Event(p));
            }
            if let Some(d) = self.deferred.as_mut() {
                if d.next < d.end {
                    let p = Pending::Deferred(RcptId(d.next), d.span);
                    d.next += 1;
                    return Ok(Next::Event(p));
                }
                self.deferred = None;
            }
            if let Some(p) = self.take_event() {
                return Ok(Next::Event(p));
            }
            match self.state {
                State::Closed => return Ok(Next::Closed),
                State::TlsHandshake => return Ok(Next::StartTls),
                State::Idle => return Ok(Next::Idle),
                _ => {}
            }
            let outstanding = match self.txn {
                Some(_) => self.awaited.txn_replies(),
                None => 0,
            };
            // Pipelined MAIL and RCPT wait in tx for the first BDAT chunk; a reply read before
            // they are written would be matched to a command the server never saw.
            let unsent = self.txn.is_some_and(|t| t.in_body() && t.cmd_end > 0);
            let opportunistic = outstanding > 0 && self.framer.has_unscanned() && !unsent;
            if self.must_read() || opportunistic {
                let max = self.config.options.max_reply_bytes;
                let step = self.current_step();
                match self.framer.next_line(self.rx, max) {
                    Ok(Some(line)) => {
                        self.on_line(line)?;
                        continue;
                    }
                    Ok(None) if self.must_read() => return Ok(Next::Receive),
                    Ok(None) => {}
                    Err(error) => {
                        let started_with = self.framer.started_with(self.rx);
                        return Err(Error::MalformedReply {
                            step,
                            error,
                            started_with,
                        });
                    }
                }
            }
            if self.state == State::InTransaction {
                if let Some(next) = self.body_step()? {
                    return Ok(next);
                }
                continue;
            }
            // No reply awaited and nothing to do: only reachable in a closed state.
            return Ok(Next::Closed);
        }
    }

    fn on_line(&mut self, line: crate::reply::Line) -> Result<(), Error> {
        let first = self.lines_in_reply == 0;
        self.lines_in_reply += 1;
        let to_ehlo = self.awaited.front() == Some(Awaited::Ehlo);
        if to_ehlo && !first && !line.cut && line.code.is_positive() {
            let text = self.rx.get(line.start + 4..line.end).unwrap_or(&[]);
            self.caps.add_line(text);
        }
        if !line.last {
            return Ok(());
        }
        self.lines_in_reply = 0;
        let Some(span) = self.framer.take_reply() else {
            return Ok(());
        };
        self.on_reply(span)
    }

    fn info(&self, span: Span) -> crate::reply::ReplyInfo {
        span.reply(self.rx).to_info()
    }

    fn on_reply(&mut self, span: Span) -> Result<(), Error> {
        let code = span.code;
        if code.get() == 421 && self.state != State::QuitSent {
            return Err(Error::ServiceClosing {
                step: self.current_step(),
                reply: self.info(span),
            });
        }
        // Replies come in order: a pipelined AUTH's is first, before those of the commands
        // that followed it in the flight (or QUIT's).
        let Some(awaited) = self.awaited.pop() else {
            return Err(Error::UnexpectedReply {
                reply: self.info(span),
            });
        };
        match awaited {
            Awaited::Greeting => {
                if code.get() != 220 {
                    // RFC 5321 §3.1: a server that refuses service with 554 (or any code but
                    // 421, after which it closes) waits for QUIT; say it, then report.
                    let refusal = Error::Rejected {
                        step: Step::Greeting,
                        reply: self.info(span),
                    };
                    let n = command::simple(self.tx.buf, b"QUIT")?;
                    self.queue_send(n);
                    self.awaited.push(Awaited::Quit);
                    self.state = State::QuitSent;
                    self.error = Some(refusal);
                    self.closing = true;
                    return Ok(());
                }
                self.push_event(Pending::Greeting(span));
                self.send_hello(true)
            }
            Awaited::Ehlo => {
                if code.is_positive() {
                    return self.after_hello();
                }
                // RFC 5321 §4.1.4: a server that does not know EHLO answers 500/502/504/550;
                // fall back to HELO. A TLS requirement cannot be met then.
                if code.is_permanent() {
                    if self.config.tls == TlsMode::Required && !self.encrypted {
                        return Err(Error::TlsUnavailable {
                            reply: Some(self.info(span)),
                        });
                    }
                    self.caps = Capabilities::new();
                    return self.send_hello(false);
                }
                Err(Error::Rejected {
                    step: Step::Ehlo,
                    reply: self.info(span),
                })
            }
            Awaited::Helo => {
                if code.is_positive() {
                    return self.after_hello();
                }
                Err(Error::Rejected {
                    step: Step::Helo,
                    reply: self.info(span),
                })
            }
            Awaited::StartTls => {
                if code.get() == 220 {
                    // RFC 3207 §6: anything already buffered came before the handshake and
                    // could be an attacker's injection; it must not be read as a reply.
                    if self.framer.pending() > 0 {
                        return Err(Error::DataAfterStartTls);
                    }
                    self.state = State::TlsHandshake;
                    return Ok(());
                }
                if self.config.tls == TlsMode::Required {
                    return Err(Error::TlsUnavailable {
                        reply: Some(self.info(span)),
                    });
                }
                self.tls_declined = true;
                self.after_hello()
            }
            Awaited::Auth => self.on_auth_reply(span),
            Awaited::Quit => {
                if let (true, Some(refusal)) = (self.closing, self.error) {
                    return Err(refusal);
                }
                self.push_event(Pending::Quit(span));
                self.state = State::Closed;
                Ok(())
            }
            txn => self.on_txn_reply(txn, span),
        }
    }

    fn send_hello(&mut self, extended: bool) -> Result<(), Error> {
        let n = command::hello(self.tx.buf, extended, self.config.ehlo_name)?;
        self.queue_send(n);
        let (state, awaited) = if extended {
            (State::EhloSent, Awaited::Ehlo)
        } else {
            (State::HeloSent, Awaited::Helo)
        };
        self.state = state;
        self.awaited.push(awaited);
        Ok(())
    }

    /// After EHLO/HELO succeeded: STARTTLS, AUTH, or ready.
    fn after_hello(&mut self) -> Result<(), Error> {
        let wants_tls = matches!(self.config.tls, TlsMode::Required | TlsMode::Opportunistic);
        if wants_tls && !self.encrypted && !self.tls_declined {
            if self.caps.has(Extension::StartTls) {
                let n = command::simple(self.tx.buf, b"STARTTLS")?;
                self.queue_send(n);
                self.awaited.push(Awaited::StartTls);
                self.state = State::StartTlsSent;
                return Ok(());
            }
            if self.config.tls == TlsMode::Required {
                return Err(Error::TlsUnavailable { reply: None });
            }
        }
        if let (Some(creds), None) = (self.config.credentials, self.authenticated) {
            // What this build cannot do, whatever the server offers: said before anything
            // about the connection.
            match self.config.mechanism {
                Some(m) if !m.is_built() => return Err(AuthError::MechanismNotBuilt(m).into()),
                None if !auth::any_built_for(&creds) => {
                    return Err(AuthError::NoMechanismBuilt.into())
                }
                _ => {}
            }
            if !self.encrypted && !self.config.dangerous_allow_plaintext_auth {
                return Err(Error::AuthRequiresTls);
            }
            let mech = match self.config.mechanism {
                Some(m) if self.caps.offers_auth(m) => m,
                Some(m) => return Err(Error::AuthUnavailable { wanted: Some(m) }),
                None => auth::choose(self.caps.auth_mechanisms(), &creds)
                    .ok_or(Error::AuthUnavailable { wanted: None })?,
            };
            let mut ex = Exchange::new(mech);
            let n = ex.start(&creds, self.config.nonce, self.tx.buf)?;
            self.auth = Some(ex);
            self.queue_send(n);
            self.awaited.push(Awaited::Auth);
            // RFC 4954 §4: AUTH ends a pipelined group, except with an initial response
            // for a mechanism that completes in one round trip with no security layer:
            // PLAIN. Then the first message may follow before the reply.
            let pipelining = self.config.options.pipelining && self.caps.has(Extension::Pipelining);
            if mech == Mechanism::Plain && self.config.options.auth_pipelining && pipelining {
                self.state = State::Idle;
                self.push_event(Pending::Ready);
                return Ok(());
            }
            self.state = State::Authenticating;
            return Ok(());
        }
        self.state = State::Idle;
        self.push_event(Pending::Ready);
        Ok(())
    }

    fn on_auth_reply(&mut self, span: Span) -> Result<(), Error> {
        let Some(mut ex) = self.auth else {
            return Err(Error::UnexpectedReply {
                reply: self.info(span),
            });
        };
        let creds = self.config.credentials.ok_or(Error::Busy)?;
        let code = span.code.get();
        let reply = span.reply(self.rx);
        let result = match code {
            334 => {
                let text = reply.text();
                // Copy the challenge out of rx: the response is written to tx.
                let mut challenge = [0u8; 1024];
                let len = text.len().min(challenge.len());
                challenge[..len].copy_from_slice(&text[..len]);
                match ex.challenge(&creds, self.config.nonce, &challenge[..len], self.tx.buf) {
                    Ok(n) => {
                        self.queue_send(n);
                        // A challenge to a pipelined AUTH is out of step: the replies that
                        // follow are the transaction's.
                        if self.state == State::Authenticating {
                            self.awaited.push(Awaited::Auth);
                        }
                        Ok(())
                    }
                    Err(e) => Err(Error::from(e)),
                }
            }
            235 => match ex.success(reply.text()) {
                Ok(()) => {
                    self.authenticated = Some(ex.mechanism());
                    self.auth = None;
                    if self.state == State::Authenticating {
                        self.state = State::Idle;
                        self.push_event(Pending::Ready);
                    }
                    return Ok(());
                }
                Err(e) => Err(Error::from(e)),
            },
            _ => {
                let failure = match code {
                    535 => AuthFailure::InvalidCredentials,
                    534 => AuthFailure::MechanismTooWeak,
                    538 => AuthFailure::EncryptionRequired,
                    454 => AuthFailure::Temporary,
                    _ => AuthFailure::Other,
                };
                Err(Error::AuthFailed {
                    failure,
                    reply: reply.to_info(),
                })
            }
        };
        self.auth = Some(ex);
        result
    }

    /// Releases the next rendered command for sending (no PIPELINING: one at a time).
    fn release_command(&mut self) {
        let Some(t) = self.txn.as_mut() else {
            return;
        };
        if t.cmd_next >= t.cmd_end {
            return;
        }
        let rest = &self.tx.buf[t.cmd_next..t.cmd_end];
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        let awaited = match &rest[..4] {
            b"RSET" => Awaited::Rset,
            b"MAIL" => Awaited::Mail,
            b"RCPT" => {
                t.rcpt_sent += 1;
                Awaited::Rcpt {
                    next: t.rcpt_sent - 1,
                    end: t.rcpt_sent,
                }
            }
            _ => Awaited::Data,
        };
        self.awaited.push(awaited);
        self.tx.start = t.cmd_next;
        self.tx.send_end = t.cmd_next + len;
        t.cmd_next += len;
    }

    /// A reply in a transaction, to `awaited`.
    fn on_txn_reply(&mut self, awaited: Awaited, span: Span) -> Result<(), Error> {
        let Some(mut t) = self.txn else {
            return Err(Error::UnexpectedReply {
                reply: self.info(span),
            });
        };
        let code = span.code;
        let ok = code.is_positive();
        // RFC 5321 §4.3.2: 354 answers DATA and nothing else, and DATA's only positive
        // answer is 354 (RFC 3030 §2: BDAT never gets one). Another 2yz to DATA, or a 3yz
        // to anything else, means the server does not follow the commands (it talks out of
        // turn, or replies are out of step): going on would match replies to the wrong
        // commands, and content sent after a 250 to DATA would be read as commands.
        let out_of_step = if awaited == Awaited::Data {
            code.get() != 354 && (ok || code.is_intermediate())
        } else {
            code.is_intermediate()
        };
        if out_of_step {
            return Err(Error::UnexpectedReply {
                reply: self.info(span),
            });
        }
        match awaited {
            Awaited::Rset => {
                if !ok {
                    return Err(Error::Rejected {
                        step: Step::Rset,
                        reply: self.info(span),
                    });
                }
            }
            Awaited::Mail => {
                t.mail_ok = ok;
                if !ok {
                    self.reject(&mut t, Step::Mail, span);
                }
            }
            Awaited::Rcpt { next, .. } => {
                let rcpt = RcptId(next);
                let answered = next + 1;
                if t.mail_ok {
                    if ok {
                        t.rcpt_accepted += 1;
                        self.push_event(Pending::Accepted(rcpt, span));
                    } else if too_many_recipients(&span.reply(self.rx)) {
                        self.push_event(Pending::Deferred(rcpt, span));
                        self.limit_recipients(&mut t, span);
                    } else {
                        self.push_event(Pending::Refused(rcpt, span));
                    }
                    if answered == t.rcpt_total && t.rcpt_accepted == 0 {
                        self.reject(&mut t, Step::Rcpt, span);
                    }
                }
                if answered == t.rcpt_total
                    && !t.failed
                    && t.before_data()
                    && t.framing == Framing::Bdat
                {
                    self.start_body(&mut t);
                }
            }
            Awaited::Data => {
                if code.get() == 354 {
                    // Even a failed transaction must end DATA: send an empty body (RFC 2920
                    // §3.1).
                    self.start_body(&mut t);
                    if let (true, Phase::Body(c)) = (t.failed, &mut t.phase) {
                        c.source = Source::Ended;
                    }
                } else if !t.failed {
                    self.reject(&mut t, Step::Data, span);
                } else {
                    t.phase = Phase::Over;
                }
            }
            Awaited::Bdat { .. } | Awaited::BdatLast => {
                let is_last = awaited == Awaited::BdatLast;
                if !ok && !t.failed {
                    let step = if is_last { Step::DataEnd } else { Step::Body };
                    self.reject(&mut t, step, span);
                } else if is_last && !t.failed {
                    self.push_event(Pending::MessageAccepted(span));
                }
                if is_last {
                    t.phase = Phase::Over;
                }
            }
            Awaited::Dot => {
                t.phase = Phase::Over;
                if !t.failed {
                    if ok {
                        self.push_event(Pending::MessageAccepted(span));
                    } else {
                        self.reject(&mut t, Step::DataEnd, span);
                    }
                }
            }
            _ => {
                return Err(Error::UnexpectedReply {
                    reply: self.info(span),
                })
            }
        }
        self.txn = Some(t);
        self.settle();
        Ok(())
    }

    /// The server's limit on recipients was met by the reply `span`: this transaction ends
    /// its envelope with the RCPT already sent, and the recipients never sent are deferred.
    fn limit_recipients(&mut self, t: &mut Txn, span: Span) {
        if t.rcpt_total > t.rcpt_sent {
            self.deferred = Some(Deferral {
                next: t.rcpt_sent,
                end: t.rcpt_total,
                span,
            });
        }
        t.rcpt_total = t.rcpt_sent;
        t.rcpt_rendered = t.rcpt_rendered.min(t.rcpt_sent);
        if !t.pipelined {
            // Rendered RCPT commands not released yet are dropped (DATA is not among them).
            t.cmd_next = t.cmd_end;
        }
    }

    fn reject(&mut self, t: &mut Txn, step: Step, span: Span) {
        t.failed = true;
        self.push_event(Pending::MessageRejected(step, span));
        if !t.pipelined {
            // Unsent commands are dropped: nothing more goes out for this message.
            t.cmd_next = t.cmd_end;
        }
        if matches!(t.phase, Phase::Body(_) | Phase::Envelope { .. }) {
            t.phase = Phase::Draining;
        }
        // A BDAT that failed mid-message leaves the server in the transaction; a refused
        // final reply does not. RSET before the next message when in doubt.
        self.needs_rset = t.mail_ok && !matches!(step, Step::DataEnd);
    }

    fn start_body(&mut self, t: &mut Txn) {
        let base = match t.framing {
            Framing::Data => 0,
            Framing::Bdat => BDAT_HEADER_MAX,
        };
        t.phase = Phase::Body(Content::new(t.framing, base));
        self.tx.reset_to(base);
        t.cmd_next = 0;
        t.cmd_end = 0;
    }

    /// After a reply: next command (no pipelining), or back to idle when all is answered.
    fn settle(&mut self) {
        let Some(t) = self.txn else {
            return;
        };
        if self.awaited.txn_replies() == 0 {
            if matches!(t.phase, Phase::Over) || (t.failed && matches!(t.phase, Phase::Draining)) {
                self.txn = None;
                self.state = State::Idle;
                return;
            }
            if !t.pipelined && t.in_envelope() {
                self.release_command();
            }
            self.end_envelope();
        }
    }

    /// Every recipient is answered and the envelope is not ended yet (several flights, or
    /// no PIPELINING): DATA, or the BDAT content.
    fn end_envelope(&mut self) {
        let Some(mut t) = self.txn else {
            return;
        };
        let settled = t.before_data()
            && !t.failed
            && self.awaited.txn_replies() == 0
            && t.cmd_next >= t.cmd_end
            && !self.tx.sending()
            && t.rcpt_rendered >= t.rcpt_total
            && t.rcpt_sent >= t.rcpt_total;
        if !settled {
            return;
        }
        match t.framing {
            Framing::Data => {
                t.phase = Phase::Envelope {
                    data_rendered: true,
                };
                self.tx.buf[..6].copy_from_slice(b"DATA\r\n");
                t.cmd_next = 0;
                t.cmd_end = 6;
                self.tx.end = 6;
                self.txn = Some(t);
                self.release_command();
            }
            Framing::Bdat => {
                self.start_body(&mut t);
                self.txn = Some(t);
            }
        }
    }

    /// One step of the message content: encode, flush, or ask the driver for more.
    fn body_step(&mut self) -> Result<Option<Next>, Error> {
        let len = self.tx.buf.len();
        let Some(mut t) = self.txn else {
            return Ok(Some(Next::Idle));
        };
        let Phase::Body(mut c) = t.phase else {
            if let Some(from) = self.awaiting_recipients(&t) {
                return Ok(Some(Next::Recipients(from)));
            }
            // Waiting on nothing and not in the body: the transaction is settled.
            self.settle();
            return Ok(None);
        };
        let result = self.body_step_inner(&mut t, &mut c, len);
        if t.in_body() {
            t.phase = Phase::Body(c);
        }
        if self.txn.is_some() {
            self.txn = Some(t);
        }
        result
    }

    fn body_step_inner(
        &mut self,
        t: &mut Txn,
        c: &mut Content,
        len: usize,
    ) -> Result<Option<Next>, Error> {
        if c.raw_start < c.raw_end {
            let (head, input) = self.tx.buf.split_at_mut(c.raw_start);
            let (read, written) = c
                .body
                .encode(&input[..c.raw_end - c.raw_start], &mut head[self.tx.end..]);
            c.raw_start += read;
            self.tx.end += written;
            self.check_limits(t, c)?;
            if c.raw_start == c.raw_end {
                c.raw_start = 0;
                c.raw_end = 0;
            }
            if read > 0 || written > 0 {
                return Ok(None);
            }
            return Ok(Some(self.flush(t, c, false)));
        }
        if c.source == Source::Open {
            // Keep a quarter free for headers and the terminator; flush when below that.
            if len - self.tx.end < len / 4 {
                return Ok(Some(self.flush(t, c, false)));
            }
            let free = len - self.tx.end - 8;
            let k = free / 2;
            c.window = len - k;
            return Ok(Some(Next::Body(c.window)));
        }
        if c.source == Source::Ended {
            match c.body.finish(&mut self.tx.buf[self.tx.end..]) {
                Ok(w) => {
                    // The terminator adds no line and does not count toward SIZE.
                    self.tx.end += w;
                    c.source = Source::Terminated;
                }
                Err(_) => return Ok(Some(self.flush(t, c, false))),
            }
        }
        Ok(Some(self.flush(t, c, true)))
    }

    fn check_limits(&self, t: &Txn, c: &Content) -> Result<(), Error> {
        let longest = c.body.longest_line();
        if longest > self.config.options.max_line_len {
            return Err(Error::LineTooLong { length: longest });
        }
        if let Some(limit) = t.size_limit {
            // RFC 1870 §4: stuffed dots are not part of the size.
            let size = c.body.message_size();
            if size > limit {
                return Err(Error::MessageTooLarge { size, limit });
            }
        }
        Ok(())
    }

    /// Releases the buffered content for sending; `last` ends the message (the phase
    /// becomes [`Phase::Final`]).
    fn flush(&mut self, t: &mut Txn, c: &mut Content, last: bool) -> Next {
        match t.framing {
            Framing::Data => {
                self.tx.start = 0;
                self.tx.send_end = self.tx.end;
                if last {
                    t.phase = Phase::Final;
                    self.awaited.push(Awaited::Dot);
                }
            }
            Framing::Bdat => {
                let size = (self.tx.end - c.chunk_start) as u64;
                if size == 0 && !last && t.cmd_end > 0 {
                    // The pipelined commands left no room for content in this write: send
                    // them alone rather than with an empty, pointless `BDAT 0` chunk.
                    self.tx.start = 0;
                    self.tx.send_end = t.cmd_end;
                    t.cmd_end = 0;
                    t.cmd_next = 0;
                    return Next::Send;
                }
                let start =
                    command::bdat_right_aligned(&mut self.tx.buf[..c.chunk_start], size, last);
                // Pipelined commands not yet sent go right before the first chunk's header.
                let cmds = t.cmd_end;
                if cmds > 0 {
                    self.tx.buf.copy_within(0..cmds, start - cmds);
                    t.cmd_end = 0;
                    t.cmd_next = 0;
                }
                self.tx.start = start - cmds;
                self.tx.send_end = self.tx.end;
                if last {
                    self.awaited.push(Awaited::BdatLast);
                    t.phase = Phase::Final;
                } else {
                    self.awaited.push(Awaited::Bdat { chunks: 1 });
                }
            }
        }
        Next::Send
    }
}

impl Code {
    /// 250: the usual positive completion.
    pub const OK: Code = match Code::new(250) {
        Some(c) => c,
        None => panic!(),
    };
}
