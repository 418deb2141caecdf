//! The core's generic driver loops over `embedded-io` ([`blocking::run`]) and
//! `embedded-io-async` ([`asynch::run`]), re-exported from [`postel_proto::drive`], with
//! the clocks a host gives them: [`StdClock`] (blocking) and [`TokioClock`] (async, on
//! tokio's timer).
//!
//! Any transport implementing those traits (an embedded TCP stack, a modem, a test duplex)
//! runs a session with them; a device without std uses [`postel_proto::drive`] directly and
//! implements [`Clock`] on its own tick counter.

#[cfg(feature = "tokio")]
use std::future::Future;
use std::time::{Duration, Instant};

pub use postel_proto::drive::*;

/// Milliseconds since `start`, saturating.
fn ms_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A [`Clock`] on [`std::time::Instant`]: milliseconds since the clock was made. While a
/// [`Timed`] transport waits for readiness it sleeps a millisecond at a time.
#[derive(Clone, Copy, Debug)]
pub struct StdClock {
    start: Instant,
}

impl StdClock {
    /// A clock starting now.
    pub fn new() -> Self {
        StdClock {
            start: Instant::now(),
        }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        StdClock::new()
    }
}

impl Clock for StdClock {
    fn now_ms(&self) -> u64 {
        ms_since(self.start)
    }

    fn idle(&self) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(feature = "tokio")]
/// An [`AsyncClock`] on tokio's timer (`tokio::time`): milliseconds since the clock was
/// made, sleeps with [`tokio::time::sleep_until`]. Needs a runtime with time enabled, and
/// follows tokio's paused time in tests.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

#[cfg(feature = "tokio")]
impl TokioClock {
    /// A clock starting now (tokio's now: paused time in tests is followed).
    pub fn new() -> Self {
        TokioClock {
            start: tokio::time::Instant::now(),
        }
    }
}

#[cfg(feature = "tokio")]
impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

#[cfg(feature = "tokio")]
impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(feature = "tokio")]
impl AsyncClock for TokioClock {
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()> {
        let at = self
            .start
            .checked_add(Duration::from_millis(at_ms))
            // Beyond what the platform's clock can represent: a year from now is "never"
            // for an SMTP wait.
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(365 * 86_400));
        tokio::time::sleep_until(at)
    }
}
