//! A mail transaction in flight: its data, and the phase it is in with the data that phase
//! alone has.

use crate::body::{BodyEncoder, Framing};
use crate::error::{Error, Step};
use crate::reply::{Reply, Span};

use super::awaited::Awaited;
use super::{Client, Deferral, Pending, RcptId, State};

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
    // One copy of the code for the three places the content begins (flash on devices).
    #[inline(never)]
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

/// The replies of a transaction.
impl Client<'_> {
    /// A reply in a transaction, to `awaited`.
    pub(super) fn on_txn_reply(&mut self, awaited: Awaited, span: Span) -> Result<(), Error> {
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
        let out_of_step = if matches!(awaited, Awaited::Data) {
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
                let is_last = matches!(awaited, Awaited::BdatLast);
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
    pub(super) fn limit_recipients(&mut self, t: &mut Txn, span: Span) {
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

    pub(super) fn reject(&mut self, t: &mut Txn, step: Step, span: Span) {
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

    /// After a reply: next command (no pipelining), or back to idle when all is answered.
    pub(super) fn settle(&mut self) {
        let Some(t) = self.txn else {
            return;
        };
        if !self.awaited.txn_awaits() {
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
    pub(super) fn end_envelope(&mut self) {
        let Some(mut t) = self.txn else {
            return;
        };
        let settled = t.before_data()
            && !t.failed
            && !self.awaited.txn_awaits()
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
