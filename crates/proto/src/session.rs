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

mod action;
mod awaited;
mod content;
mod flight;
mod hello;
mod send_buf;
mod txn;

use crate::auth::{Exchange, Mechanism};
use crate::body::Framing;
use crate::capability::{Capabilities, Extension};
use crate::command::{self, BDAT_HEADER_MAX};
use crate::config::{Config, TlsMode};
use crate::envelope::Envelope;
use crate::error::{Argument, Error, Step};
use crate::reply::{Code, Span};

pub use action::{Action, Event, RcptId, State, TxnId};

use action::{Deferral, Next, Pending};
use awaited::{Awaited, Queue};
use send_buf::SendBuf;
use txn::{Phase, Source, Txn};

/// Smallest receive and send buffers accepted: one RFC 5321 §4.5.3.1.5 reply line (512
/// octets) must fit in the receive buffer, one command line (§4.5.3.1.4) in the send buffer.
pub const MIN_BUFFER: usize = 512;

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
                Some(t) if self.awaited.txn_awaits() => match t.phase {
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
            let outstanding = self.txn.is_some() && self.awaited.txn_awaits();
            // Pipelined MAIL and RCPT wait in tx for the first BDAT chunk; a reply read before
            // they are written would be matched to a command the server never saw.
            let unsent = self.txn.is_some_and(|t| t.in_body() && t.cmd_end > 0);
            let opportunistic = outstanding && self.framer.has_unscanned() && !unsent;
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
        let to_ehlo = matches!(self.awaited.front(), Some(Awaited::Ehlo));
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
}

impl Code {
    /// 250: the usual positive completion.
    pub const OK: Code = match Code::new(250) {
        Some(c) => c,
        None => panic!(),
    };
}
