//! The cursor of awaited replies: which command the server's next reply answers.
//!
//! SMTP replies come in the order of the commands (RFC 5321 §4.1, RFC 2920 §3), so the
//! session keeps the commands whose replies are still due in a small queue, oldest first,
//! and a reply answers the front one. Runs of RCPT and of non-last BDAT chunks take one
//! entry each, so the queue never holds more than [`CAPACITY`] entries whatever the number
//! of recipients or of chunks in flight.

/// A command whose reply is awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Awaited {
    /// The 220 greeting.
    Greeting,
    /// EHLO.
    Ehlo,
    /// HELO, after EHLO was refused.
    Helo,
    /// STARTTLS.
    StartTls,
    /// AUTH, or the response to a challenge.
    Auth,
    /// RSET before a transaction.
    Rset,
    /// MAIL FROM.
    Mail,
    /// RCPT TO for the recipients `next..end` of the envelope; the next reply answers
    /// `next`. [`Queue::pop`] gives one recipient at a time (`end == next + 1`).
    Rcpt {
        /// The recipient whose reply comes next.
        next: u32,
        /// One past the last recipient of the run.
        end: u32,
    },
    /// DATA (its 354).
    Data,
    /// `chunks` BDAT chunks that do not end the message. [`Queue::pop`] gives one.
    Bdat {
        /// Chunks of the run.
        chunks: u32,
    },
    /// The BDAT chunk marked LAST.
    BdatLast,
    /// The dot that ends the DATA content.
    Dot,
    /// QUIT.
    Quit,
}

impl Awaited {
    /// Part of a mail transaction (RSET to the end of data).
    fn in_txn(self) -> bool {
        !matches!(
            self,
            Awaited::Greeting
                | Awaited::Ehlo
                | Awaited::Helo
                | Awaited::StartTls
                | Awaited::Auth
                | Awaited::Quit
        )
    }

    /// Replies this entry stands for.
    #[cfg(test)]
    fn replies(self) -> u32 {
        match self {
            Awaited::Rcpt { next, end } => end - next,
            Awaited::Bdat { chunks } => chunks,
            _ => 1,
        }
    }
}

/// Entries the queue holds at most. The longest a session makes is a pipelined AUTH PLAIN,
/// then RSET, MAIL, a run of RCPT, a run of BDAT chunks and the LAST chunk (six); with
/// DATA, its dot is only sent after the 354.
pub(super) const CAPACITY: usize = 6;

/// The awaited replies, oldest first: a ring of [`CAPACITY`] entries.
#[derive(Clone, Copy, Debug)]
pub(super) struct Queue {
    items: [Awaited; CAPACITY],
    head: u8,
    len: u8,
}

impl Queue {
    /// An empty queue.
    pub(super) const fn new() -> Queue {
        Queue {
            items: [Awaited::Greeting; CAPACITY],
            head: 0,
            len: 0,
        }
    }

    fn at(&self, i: usize) -> Awaited {
        self.items[(self.head as usize + i) % CAPACITY]
    }

    fn at_mut(&mut self, i: usize) -> &mut Awaited {
        &mut self.items[(self.head as usize + i) % CAPACITY]
    }

    /// A command was sent (or is on its way): its reply comes after those already awaited.
    /// RCPT for the recipient right after a run, and a non-last chunk after a run of
    /// chunks, join the run.
    pub(super) fn push(&mut self, a: Awaited) {
        if self.len > 0 {
            let last = self.at_mut(self.len as usize - 1);
            match (last, a) {
                (Awaited::Rcpt { end, .. }, Awaited::Rcpt { next, end: e }) if *end == next => {
                    *end = e;
                    return;
                }
                (Awaited::Bdat { chunks }, Awaited::Bdat { chunks: more }) => {
                    *chunks += more;
                    return;
                }
                _ => {}
            }
        }
        debug_assert!((self.len as usize) < CAPACITY, "awaited replies overflow");
        if (self.len as usize) < CAPACITY {
            *self.at_mut(self.len as usize) = a;
            self.len += 1;
        }
    }

    /// What the next reply answers, without taking it.
    pub(super) fn front(&self) -> Option<Awaited> {
        (self.len > 0).then(|| self.at(0))
    }

    /// Takes what the next reply answers: one command (one recipient of a run of RCPT,
    /// one chunk of a run of BDAT).
    pub(super) fn pop(&mut self) -> Option<Awaited> {
        let front = self.front()?;
        let (answered, rest) = match front {
            Awaited::Rcpt { next, end } if end - next > 1 => (
                Awaited::Rcpt {
                    next,
                    end: next + 1,
                },
                Some(Awaited::Rcpt {
                    next: next + 1,
                    end,
                }),
            ),
            Awaited::Bdat { chunks } if chunks > 1 => (
                Awaited::Bdat { chunks: 1 },
                Some(Awaited::Bdat { chunks: chunks - 1 }),
            ),
            other => (other, None),
        };
        match rest {
            Some(r) => *self.at_mut(0) = r,
            None => {
                self.head = ((self.head as usize + 1) % CAPACITY) as u8;
                self.len -= 1;
            }
        }
        Some(answered)
    }

    /// The first awaited command of the mail transaction (a pipelined AUTH before it is
    /// skipped: only the front entry can be one, and a transaction's entries never share
    /// the queue with the other commands of the session).
    pub(super) fn txn_front(&self) -> Option<Awaited> {
        let skip = usize::from(matches!(self.front(), Some(Awaited::Auth)));
        (skip < self.len as usize)
            .then(|| self.at(skip))
            .filter(|a| a.in_txn())
    }

    /// A reply of the mail transaction is awaited.
    pub(super) fn txn_awaits(&self) -> bool {
        self.txn_front().is_some()
    }

    /// Replies awaited for the mail transaction.
    #[cfg(test)]
    fn txn_replies(&self) -> u32 {
        (0..self.len as usize)
            .map(|i| self.at(i))
            .filter(|a| a.in_txn())
            .map(Awaited::replies)
            .sum()
    }

    /// BDAT chunks whose replies are awaited.
    pub(super) fn chunks(&self) -> u32 {
        (0..self.len as usize)
            .map(|i| match self.at(i) {
                Awaited::Bdat { chunks } => chunks,
                Awaited::BdatLast => 1,
                _ => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_answered_one_at_a_time_in_order() {
        let mut q = Queue::new();
        q.push(Awaited::Mail);
        q.push(Awaited::Rcpt { next: 0, end: 2 });
        q.push(Awaited::Rcpt { next: 2, end: 3 });
        q.push(Awaited::Bdat { chunks: 1 });
        q.push(Awaited::Bdat { chunks: 1 });
        q.push(Awaited::BdatLast);
        assert_eq!(q.txn_replies(), 7);
        assert_eq!(q.chunks(), 3);
        assert_eq!(q.pop(), Some(Awaited::Mail));
        for i in 0..3 {
            assert_eq!(
                q.pop(),
                Some(Awaited::Rcpt {
                    next: i,
                    end: i + 1
                })
            );
        }
        assert_eq!(q.pop(), Some(Awaited::Bdat { chunks: 1 }));
        assert_eq!(q.pop(), Some(Awaited::Bdat { chunks: 1 }));
        assert_eq!(q.pop(), Some(Awaited::BdatLast));
        assert_eq!(q.pop(), None);
        assert_eq!(q.txn_replies(), 0);
    }

    #[test]
    fn a_pipelined_auth_is_answered_first_but_is_not_part_of_the_transaction() {
        let mut q = Queue::new();
        q.push(Awaited::Auth);
        q.push(Awaited::Mail);
        assert_eq!(q.front(), Some(Awaited::Auth));
        assert_eq!(q.txn_front(), Some(Awaited::Mail));
        assert_eq!(q.txn_replies(), 1);
    }

    #[test]
    fn the_ring_wraps() {
        let mut q = Queue::new();
        for _ in 0..3 * CAPACITY {
            q.push(Awaited::Ehlo);
            q.push(Awaited::Quit);
            assert_eq!(q.pop(), Some(Awaited::Ehlo));
            assert_eq!(q.pop(), Some(Awaited::Quit));
        }
        assert_eq!(q.front(), None);
    }
}
