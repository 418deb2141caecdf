//! What the session tells its driver: the [`Action`] to do next, the [`Event`]s it learns,
//! the [`State`] it is in, and the ids in them.

use core::fmt;
use core::time::Duration;

use crate::error::Step;
use crate::reply::{Reply, Span};

#[allow(unused_imports)] // for links in the docs
use super::Client;

/// Identifies a message submitted with [`Client::submit`], in events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnId(pub u32);

/// Identifies a recipient by its index in [`Envelope::recipients`](crate::Envelope::recipients).
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
pub(super) struct Deferral {
    pub(super) next: u32,
    pub(super) end: u32,
    pub(super) span: Span,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Pending {
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
pub(super) enum Next {
    Send,
    Receive,
    Body(usize),
    Recipients(u32),
    StartTls,
    Event(Pending),
    Idle,
    Closed,
}
