//! The message content: encoding it into the send buffer and releasing it (the DATA
//! content, or BDAT chunks).

use crate::body::Framing;
use crate::command::{self, BDAT_HEADER_MAX};
use crate::error::Error;

use super::awaited::Awaited;
use super::txn::{Content, Phase, Source, Txn};
use super::{Client, Next};

impl Client<'_> {
    pub(super) fn start_body(&mut self, t: &mut Txn) {
        let base = match t.framing {
            Framing::Data => 0,
            Framing::Bdat => BDAT_HEADER_MAX,
        };
        t.phase = Phase::Body(Content::new(t.framing, base));
        self.tx.reset_to(base);
        t.cmd_next = 0;
        t.cmd_end = 0;
    }

    /// One step of the message content: encode, flush, or ask the driver for more.
    pub(super) fn body_step(&mut self) -> Result<Option<Next>, Error> {
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

    pub(super) fn body_step_inner(
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

    pub(super) fn check_limits(&self, t: &Txn, c: &Content) -> Result<(), Error> {
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
    pub(super) fn flush(&mut self, t: &mut Txn, c: &mut Content, last: bool) -> Next {
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
