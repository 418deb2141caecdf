//! What an operator watches: `postel queue stats [--json]`.

use serde::Serialize;

use super::{Record, Status};

/// Counts by state, the oldest message's age and attempts, for either store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Messages in the queue (held ones included).
    pub messages: u64,
    /// Messages due now (not held), whether or not a worker is sending them.
    pub due: u64,
    /// Messages waiting for a later try.
    pub deferred: u64,
    /// Messages kept but not tried: undeliverable bounces (`queue flush ID` releases one).
    pub held: u64,
    /// Messages a living worker holds right now (the database's leases; the file queue
    /// does not count its `flock`s and says 0).
    pub claimed: u64,
    /// Recipients by state.
    pub recipients: RecipientCounts,
    /// Seconds since the oldest message was queued (0 when empty).
    pub oldest_age_secs: u64,
    /// Delivery runs over all messages.
    pub attempts: u64,
    /// The most delivery runs of one message.
    pub max_attempts: u64,
    /// Attempts whose outcome was never learned (each may have delivered a copy).
    pub uncertain: u64,
}

/// Recipients of queued messages by [`Status`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecipientCounts {
    /// Not delivered yet.
    pub pending: u64,
    /// Marked in flight (being sent, or left so by a worker that died).
    pub in_flight: u64,
    /// Delivered (their message still has other recipients to send).
    pub delivered: u64,
    /// Given up (their message is kept for its other recipients, or held).
    pub failed: u64,
}

impl QueueStats {
    /// The statistics of `records` at `now` (Unix seconds).
    pub fn of(records: &[Record], now: u64) -> QueueStats {
        let mut s = QueueStats {
            messages: records.len() as u64,
            ..QueueStats::default()
        };
        for r in records {
            if r.held.is_some() {
                s.held += 1;
            } else if r.next_try <= now {
                s.due += 1;
            } else {
                s.deferred += 1;
            }
            s.oldest_age_secs = s.oldest_age_secs.max(now.saturating_sub(r.queued_at));
            s.attempts += u64::from(r.attempts);
            s.max_attempts = s.max_attempts.max(u64::from(r.attempts));
            for rc in &r.recipients {
                s.uncertain += u64::from(rc.uncertain);
                match rc.status {
                    Status::Pending => s.recipients.pending += 1,
                    Status::InFlight => s.recipients.in_flight += 1,
                    Status::Delivered => s.recipients.delivered += 1,
                    Status::Failed => s.recipients.failed += 1,
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::RecipientState;
    use super::*;

    fn rcpt(status: Status, uncertain: u32) -> RecipientState {
        RecipientState {
            address: "b@x.test".to_owned(),
            status,
            attempts: 1,
            uncertain,
            last: None,
        }
    }

    fn record(queued_at: u64, next_try: u64, attempts: u32, held: bool) -> Record {
        Record {
            id: "00-01".to_owned(),
            from: "a@x.test".to_owned(),
            recipients: vec![rcpt(Status::Pending, 0), rcpt(Status::Delivered, 1)],
            queued_at,
            attempts,
            next_try,
            last_error: None,
            held: held.then(|| "undeliverable bounce".to_owned()),
            size: None,
        }
    }

    #[test]
    fn counts_states_ages_and_attempts() {
        let now = 10_000;
        let mut bounce = record(4_000, 0, 7, true);
        bounce.recipients = vec![rcpt(Status::Failed, 0), rcpt(Status::InFlight, 2)];
        let s = QueueStats::of(
            &[
                record(9_000, now, 1, false),
                record(8_000, now + 60, 3, false),
                bounce,
            ],
            now,
        );
        assert_eq!(
            (s.messages, s.due, s.deferred, s.held, s.claimed),
            (3, 1, 1, 1, 0)
        );
        assert_eq!(
            s.recipients,
            RecipientCounts {
                pending: 2,
                in_flight: 1,
                delivered: 2,
                failed: 1
            }
        );
        assert_eq!(s.oldest_age_secs, 6_000);
        assert_eq!((s.attempts, s.max_attempts, s.uncertain), (11, 7, 4));
        assert_eq!(QueueStats::of(&[], now), QueueStats::default());
    }
}
