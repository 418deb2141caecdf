//! Recipients the server's limit per transaction left out (RFC 5321 §4.5.3.1.10: 452
//! "too many recipients"), sent the message in further transactions, never to a recipient
//! accepted before. Shared by the blocking [`Client`](crate::Client) and the
//! [`Pool`](crate::Pool): they run the transactions, this decides what goes in each.

use std::collections::VecDeque;

use crate::envelope::Envelope;
use crate::error::Error;
use crate::report::{Order, Refused, SendReport};

/// The recipients still to send after a first transaction, and how many to put in each
/// next one.
#[derive(Debug)]
pub(crate) struct Deferred {
    pending: VecDeque<Refused>,
    /// As many as the server answered before its limit in the last transaction.
    limit: usize,
    /// The recipients of the transaction in flight.
    batch: Vec<Refused>,
}

impl Deferred {
    /// What `report` (of a transaction to everyone) deferred; `None` when nothing.
    pub(crate) fn take(report: &mut SendReport) -> Option<Deferred> {
        if report.deferred.is_empty() {
            return None;
        }
        Some(Deferred {
            pending: std::mem::take(&mut report.deferred).into(),
            limit: (report.accepted.len() + report.refused.len()).max(1),
            batch: Vec::new(),
        })
    }

    /// The envelope of the next transaction (`envelope` to some of the recipients left),
    /// or `None` when every recipient had its transaction.
    pub(crate) fn next(&mut self, envelope: &Envelope) -> Option<Envelope> {
        if self.pending.is_empty() {
            return None;
        }
        let n = self.limit.min(self.pending.len());
        self.batch = self.pending.drain(..n).collect();
        let mut next = envelope.clone();
        next.to = self.batch.iter().map(|r| r.address.clone()).collect();
        tracing::info!(
            recipients = next.to.len(),
            left = self.pending.len(),
            "the server's recipient limit was met: a next transaction"
        );
        Some(next)
    }

    /// Adds the outcome of the transaction to `next` to `report`; false when no further
    /// transaction is worth trying (it got nobody, or failed).
    pub(crate) fn absorb(
        &mut self,
        report: &mut SendReport,
        next: &Envelope,
        result: Result<SendReport, Error>,
    ) -> bool {
        match result {
            Ok(more) => {
                if !more.deferred.is_empty() {
                    self.limit = (more.accepted.len() + more.refused.len()).max(1);
                }
                for r in more.deferred.into_iter().rev() {
                    self.pending.push_front(r);
                }
                report.accepted.extend(more.accepted);
                report.refused.extend(more.refused);
                self.batch.clear();
                true
            }
            Err(Error::Rejected {
                step,
                reply,
                refused,
            }) => {
                // Nobody in this transaction got it: those refused at RCPT with their
                // reply, the others with the one that ended it.
                tracing::info!(%step, %reply, "a next transaction was rejected");
                let named = Order::new(&next.to);
                let mut listed = vec![false; next.to.len()];
                for r in &refused {
                    if let Some(flag) = listed.get_mut(named.of(&r.address)) {
                        *flag = true;
                    }
                }
                report.refused.extend(refused);
                let rest = next.to.iter().zip(listed).filter(|(_, l)| !l);
                report.refused.extend(rest.map(|(address, _)| Refused {
                    address: address.clone(),
                    reply: reply.clone(),
                }));
                self.batch.clear();
                false
            }
            Err(e) => {
                // What was accepted before stands; these are still to be sent.
                tracing::info!(error = %e, "a next transaction failed");
                false
            }
        }
    }

    /// Ends the follow-ups: the recipients never sent are refused with their 452 (for a
    /// later try), and the report is put in the order of `envelope`.
    pub(crate) fn finish(mut self, report: &mut SendReport, envelope: &Envelope) {
        report.deferred.append(&mut self.batch);
        report.deferred.extend(self.pending);
        report.refuse_deferred();
        report.sort_by(&envelope.to);
    }
}
