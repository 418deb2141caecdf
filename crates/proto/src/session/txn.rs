//! A mail transaction in flight: its data, and the phase it is in with the data that phase
//! alone has.

use crate::body::{BodyEncoder, Framing};
use crate::error::Step;
use crate::reply::Reply;

use super::awaited::Awaited;

/// Where a transaction is. Which replies it waits for is the session's queue of awaited
/// replies; this says what it does next.
#[derive(Clone, Copy, Debug)]
pub(super) enum Phase {
    /// MAIL, RCPT, DATA: replies awaited, or commands still to send (one by one, or in
    /// later flights).
    Envelope {
        /// DATA is rendered (pipelined with the last flight, or after the last RCPT
        /// reply).
        data_rendered: bool,
    },
    /// Message content flows.
    Body(Content),
    /// Content ended; the verdict is awaited.
    Final,
    /// The message failed; remaining pipelined replies are read and dropped.
    Draining,
    /// The last reply is read: the transaction ends once nothing else is awaited.
    Over,
}

/// The message content being encoded and sent (see `SendBuf` for where it lies in the
/// send buffer).
#[derive(Clone, Copy, Debug)]
pub(super) struct Content {
    pub(super) body: BodyEncoder,
    /// Raw message content read by the driver, not yet encoded: `tx[raw_start..raw_end]`.
    pub(super) raw_start: usize,
    pub(super) raw_end: usize,
    /// Where the driver was last asked to read content to.
    pub(super) window: usize,
    /// BDAT: where the current chunk's data starts.
    pub(super) chunk_start: usize,
    pub(super) source: Source,
}

impl Content {
    /// Content not begun, whose first chunk's data (BDAT) starts at `chunk_start`.
    pub(super) fn new(framing: Framing, chunk_start: usize) -> Content {
        Content {
            body: BodyEncoder::new(framing),
            raw_start: 0,
            raw_end: 0,
            window: 0,
            chunk_start,
            source: Source::Open,
        }
    }
}

/// How far the driver's message content is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// More may come.
    Open,
    /// The driver said it has ended.
    Ended,
    /// Ended, and the terminator is written.
    Terminated,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Txn {
    pub(super) id: u32,
    pub(super) framing: Framing,
    pub(super) pipelined: bool,
    /// The MAIL command said SMTPUTF8: later flights may carry UTF-8 addresses.
    pub(super) smtputf8: bool,
    pub(super) size_limit: Option<u64>,
    pub(super) phase: Phase,
    /// Recipients in this transaction: the envelope's, or fewer once the server's limit
    /// was met (see `rcpt_given`).
    pub(super) rcpt_total: u32,
    /// Recipients in the envelope given to `submit`.
    pub(super) rcpt_given: u32,
    /// Recipients whose RCPT is rendered into tx (sent or about to be).
    pub(super) rcpt_rendered: u32,
    /// Recipients whose RCPT is sent (its reply awaited or read).
    pub(super) rcpt_sent: u32,
    pub(super) rcpt_accepted: u32,
    /// MAIL was accepted.
    pub(super) mail_ok: bool,
    /// The message was rejected (its event is given); what is left is drained.
    pub(super) failed: bool,
    /// Commands rendered into tx and not yet released for sending: `tx[cmd_next..cmd_end]`.
    pub(super) cmd_next: usize,
    pub(super) cmd_end: usize,
}

impl Txn {
    /// In the envelope, with DATA not rendered yet.
    pub(super) fn before_data(&self) -> bool {
        matches!(
            self.phase,
            Phase::Envelope {
                data_rendered: false
            }
        )
    }

    pub(super) fn in_envelope(&self) -> bool {
        matches!(self.phase, Phase::Envelope { .. })
    }

    pub(super) fn in_body(&self) -> bool {
        matches!(self.phase, Phase::Body(_))
    }

    /// The step a timeout or a lost connection interrupts: the first command of the
    /// transaction whose reply is awaited (`first`), else what the phase does.
    pub(super) fn step(&self, first: Option<Awaited>) -> Step {
        match first {
            Some(Awaited::Rset) => Step::Rset,
            Some(Awaited::Mail) => Step::Mail,
            Some(Awaited::Rcpt { .. }) => Step::Rcpt,
            Some(Awaited::Data) => Step::Data,
            _ => match self.phase {
                // Between flights of RCPT commands.
                Phase::Envelope { .. } => Step::Rcpt,
                Phase::Final => Step::DataEnd,
                _ => Step::Body,
            },
        }
    }
}

/// RFC 5321 §4.5.3.1.10: a reply saying the server's limit on recipients per message is
/// met: 452 (or 552, which the RFC asks clients to take as temporary there) with the
/// enhanced code x.5.3 (RFC 3463 "too many recipients") or saying "too many recipients".
pub(super) fn too_many_recipients(reply: &Reply<'_>) -> bool {
    if !matches!(reply.code().get(), 452 | 552) {
        return false;
    }
    if let Some(e) = reply.enhanced() {
        if e.subject == 5 && e.detail == 3 {
            return true;
        }
    }
    const SAID: &[u8] = b"too many recipients";
    reply
        .text()
        .windows(SAID.len())
        .any(|w| w.eq_ignore_ascii_case(SAID))
}
