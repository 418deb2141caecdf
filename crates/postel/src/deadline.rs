//! The time left to wait for one reply. RFC 5321 §4.5.3.2's timeouts bound the wait for a
//! whole reply, not each read: a server that dribbles a byte now and then must not hold a
//! session open forever (a tarpit), so both drivers measure each wait from its first read.

use std::time::{Duration, Instant};

use postel_proto::Step;

/// When the current wait for a reply began, and for which step.
#[derive(Debug, Default)]
pub(crate) struct ReplyDeadline {
    current: Option<(Step, Instant)>,
}

impl ReplyDeadline {
    /// How long the next read may wait for the reply to `step`, whose timeout is `within`
    /// (zero: no limit); `None` when that time is already up.
    pub(crate) fn left(&mut self, step: Step, within: Duration) -> Option<Duration> {
        if within.is_zero() {
            return Some(within);
        }
        match self.current {
            Some((s, started)) if s == step => within
                .checked_sub(started.elapsed())
                .filter(|d| !d.is_zero()),
            _ => {
                self.current = Some((step, Instant::now()));
                Some(within)
            }
        }
    }

    /// Something else happened (a write, an event, body content): the next read starts a
    /// new wait.
    pub(crate) fn reset(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_shrinks_across_reads_and_restarts_on_a_new_step() {
        let mut d = ReplyDeadline::default();
        let within = Duration::from_millis(200);
        assert_eq!(d.left(Step::Greeting, within), Some(within));
        std::thread::sleep(Duration::from_millis(50));
        let left = d.left(Step::Greeting, within).unwrap();
        assert!(left <= Duration::from_millis(150), "{left:?}");
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(d.left(Step::Greeting, within), None);
        // A new step, or a reset, starts a full wait again.
        assert_eq!(d.left(Step::Ehlo, within), Some(within));
        d.reset();
        assert_eq!(d.left(Step::Ehlo, within), Some(within));
        // Zero means no limit, always.
        assert_eq!(d.left(Step::Ehlo, Duration::ZERO), Some(Duration::ZERO));
    }
}
