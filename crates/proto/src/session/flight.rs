//! The envelope's commands: rendering MAIL, RCPT and DATA into flights and releasing them
//! (all at once with PIPELINING, one by one without).

use crate::body::Framing;
use crate::command::{self, Writer, BDAT_HEADER_MAX};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::session::State;

use super::awaited::Awaited;
use super::txn::{Content, Phase, Txn};
use super::Client;

impl Client<'_> {
    /// The first recipient still to be written, when the session waits for
    /// [`handle_recipients`](Self::handle_recipients).
    pub(super) fn awaiting_recipients(&self, t: &Txn) -> Option<u32> {
        let idle = self.state == State::InTransaction
            && t.in_envelope()
            && !t.failed
            && !self.awaited.txn_awaits()
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
    pub(super) fn render_flight(
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
    pub(super) fn launch_flight(&mut self, t: &mut Txn, cmd_end: usize, count: u32, rset: bool) {
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

    /// Releases the next rendered command for sending (no PIPELINING: one at a time).
    pub(super) fn release_command(&mut self) {
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
}
