//! Clocks for the driver-loop tests: the real one (`Uptime`) and a fake one the test, its
//! transports and its idle hook advance (`FakeClock`).

use std::cell::Cell;
use std::future::Future;
use std::time::Instant;

use postel_proto::drive::{AsyncClock, Clock, Deadline};

/// Real time since the clock was made.
pub struct Uptime(Instant);

impl Clock for Uptime {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl AsyncClock for Uptime {
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()> {
        // A spin: ready once the time has come, woken again at once until then.
        std::future::poll_fn(move |cx| {
            if self.now_ms() >= at_ms {
                std::task::Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
    }
}

/// A deadline on real time, for sessions that are not about timeouts.
pub fn uptime() -> Deadline<Uptime> {
    Deadline::new(Uptime(Instant::now()))
}

/// Time that moves only when told: by the test, by a transport (a slow server), by the idle
/// hook (`idle_ms` per call) and by a sleep (which jumps to its end).
pub struct FakeClock {
    now: Cell<u64>,
    idle_ms: u64,
    /// Calls of `idle`.
    pub idles: Cell<u64>,
    /// Calls of `sleep_until`, with their targets.
    pub sleeps: Cell<Vec<u64>>,
}

impl FakeClock {
    /// A clock at `start`, advancing `idle_ms` per `idle`.
    pub fn new(start: u64, idle_ms: u64) -> FakeClock {
        FakeClock {
            now: Cell::new(start),
            idle_ms,
            idles: Cell::new(0),
            sleeps: Cell::new(Vec::new()),
        }
    }

    /// Now.
    pub fn now(&self) -> u64 {
        self.now.get()
    }

    /// Moves time forward.
    pub fn advance(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }

    /// The targets of the sleeps so far.
    pub fn sleep_targets(&self) -> Vec<u64> {
        let v = self.sleeps.take();
        self.sleeps.set(v.clone());
        v
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }

    fn idle(&self) {
        self.idles.set(self.idles.get() + 1);
        self.advance(self.idle_ms);
    }
}

impl AsyncClock for FakeClock {
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()> {
        let mut v = self.sleeps.take();
        v.push(at_ms);
        self.sleeps.set(v);
        // The time passes while the sleeper waits.
        if self.now.get() < at_ms {
            self.now.set(at_ms);
        }
        std::future::ready(())
    }
}
