//! When to try again, and when to give up (RFC 5321 §4.5.4.1).

use std::time::Duration;

/// Retry policy. RFC 5321 §4.5.4.1: "the retry interval SHOULD be at least 30 minutes"
/// and "the give-up time generally needs to be at least 4-5 days"; the interval grows
/// exponentially from `initial` by `factor` up to `max`, and a message still not
/// delivered `lifetime` after it was queued is returned to its sender.
///
/// ```
/// use std::time::Duration;
/// let b = postel::queue::Backoff::default();
/// assert_eq!(b.delay(1), Duration::from_secs(30 * 60));
/// assert_eq!(b.delay(2), Duration::from_secs(60 * 60));
/// assert_eq!(b.delay(20), Duration::from_secs(4 * 3600));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The wait after the first failed attempt (default 30 minutes).
    pub initial: Duration,
    /// How much each further failure multiplies the wait (default 2).
    pub factor: f64,
    /// The longest wait between attempts (default 4 hours).
    pub max: Duration,
    /// How long after queueing a message is given up (default 5 days).
    pub lifetime: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_secs(30 * 60),
            factor: 2.0,
            max: Duration::from_secs(4 * 3600),
            lifetime: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th failed attempt (1 for the first failure; 0 is
    /// treated as 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(64) as i32;
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        let secs = self.initial.as_secs_f64() * factor.powi(exp);
        let max = self.max.as_secs_f64();
        if !secs.is_finite() || secs >= max {
            self.max
        } else {
            Duration::from_secs_f64(secs.max(0.0))
        }
    }
}
