//! The clock the driver loops measure every wait with, and the deadline of the wait in
//! progress that the loops and the transports under them share.
//!
//! The application provides the time ([`Clock`]: SysTick, an RTOS tick, a modem timer,
//! `std::time::Instant`). A loop sets the [`Deadline`] before each write and each wait for a
//! reply; a transport at any layer below it (the UART under a TLS connection, see
//! [`Timed`](super::timed::Timed)) consults the same `&Deadline` while it waits, so a server
//! that dribbles a byte now and then is cut off at the step's timeout however many layers
//! the bytes pass through.

#[cfg(any(test, not(target_has_atomic = "64")))]
use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::time::Duration;

/// A monotonic millisecond count: it never goes backwards. Where it starts does not matter.
pub trait Clock {
    /// Milliseconds since an arbitrary start.
    fn now_ms(&self) -> u64;

    /// Called while a transport polls for readiness and the deadline has not passed yet: a
    /// device may sleep until its next interrupt here (WFI), a host may yield. The default
    /// does nothing (a busy wait).
    fn idle(&self) {}
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }

    fn idle(&self) {
        (**self).idle()
    }
}

/// A [`Clock`] that can also wait: what the async loop races each read and write against.
pub trait AsyncClock: Clock {
    /// Completes once [`now_ms`](Clock::now_ms) has reached `at_ms` (at once if it has
    /// already). Completing early is harmless: the loop checks the clock again.
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()>;
}

impl<C: AsyncClock + ?Sized> AsyncClock for &C {
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()> {
        (**self).sleep_until(at_ms)
    }
}

/// A clock and the deadline of the wait in progress (none when no wait is bounded).
///
/// The driver loops set it; transports read it. It is shared by `&Deadline`, so the loop
/// and a transport several layers down can both hold it at once.
///
/// ```
/// use core::cell::Cell;
/// use core::time::Duration;
/// use postel_proto::drive::{Clock, Deadline};
///
/// struct Ticks(Cell<u64>);
/// impl Clock for Ticks {
///     fn now_ms(&self) -> u64 { self.0.get() }
/// }
///
/// let ticks = Ticks(Cell::new(1_000));
/// let deadline = Deadline::new(&ticks);
/// assert_eq!(deadline.remaining_ms(), None); // no limit yet
/// deadline.start(Duration::from_secs(2));
/// ticks.0.set(2_500);
/// assert_eq!(deadline.remaining_ms(), Some(500));
/// assert!(!deadline.expired());
/// ticks.0.set(3_000);
/// assert!(deadline.expired());
/// ```
pub struct Deadline<C: Clock> {
    clock: C,
    at: Slot,
}

/// Where a [`Deadline`] keeps its expiry: an atomic where the target has 64-bit atomics, so
/// a `Deadline` is `Sync` and an async loop holding `&Deadline` across an `.await` can run
/// in a task that moves between threads (tokio); a `Cell` elsewhere (Cortex-M3). Only the
/// loop that owns the deadline writes it, so relaxed ordering is enough.
struct Slot {
    #[cfg(target_has_atomic = "64")]
    at: core::sync::atomic::AtomicU64,
    #[cfg(target_has_atomic = "64")]
    limited: core::sync::atomic::AtomicBool,
    #[cfg(not(target_has_atomic = "64"))]
    at: Cell<Option<u64>>,
}

#[cfg(target_has_atomic = "64")]
impl Slot {
    const fn new() -> Slot {
        Slot {
            at: core::sync::atomic::AtomicU64::new(0),
            limited: core::sync::atomic::AtomicBool::new(false),
        }
    }

    fn get(&self) -> Option<u64> {
        use core::sync::atomic::Ordering::Relaxed;
        self.limited.load(Relaxed).then(|| self.at.load(Relaxed))
    }

    fn set(&self, at: Option<u64>) {
        use core::sync::atomic::Ordering::Relaxed;
        self.at.store(at.unwrap_or(0), Relaxed);
        self.limited.store(at.is_some(), Relaxed);
    }
}

#[cfg(not(target_has_atomic = "64"))]
impl Slot {
    const fn new() -> Slot {
        Slot {
            at: Cell::new(None),
        }
    }

    fn get(&self) -> Option<u64> {
        self.at.get()
    }

    fn set(&self, at: Option<u64>) {
        self.at.set(at);
    }
}

impl<C: Clock> Deadline<C> {
    /// A deadline on `clock`, with no wait bounded yet.
    pub const fn new(clock: C) -> Self {
        Deadline {
            clock,
            at: Slot::new(),
        }
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The time ([`Clock::now_ms`]) at which the wait in progress expires; `None` when it
    /// has no limit.
    pub fn at_ms(&self) -> Option<u64> {
        self.at.get()
    }

    /// Sets when the wait in progress expires (`None`: no limit).
    pub fn set_at_ms(&self, at_ms: Option<u64>) {
        self.at.set(at_ms);
    }

    /// Starts a wait of at most `within` from now; zero means no limit (as in
    /// [`Timeouts`](crate::Timeouts) and [`Action`](crate::Action)). Use it for waits the
    /// loops do not run, such as the TLS handshake
    /// ([`Timeouts::tls_handshake`](crate::Timeouts::tls_handshake)).
    pub fn start(&self, within: Duration) {
        let at = match millis(within) {
            0 => None,
            ms => Some(self.clock.now_ms().saturating_add(ms)),
        };
        self.at.set(at);
    }

    /// No limit on whatever comes next.
    pub fn clear(&self) {
        self.at.set(None);
    }

    /// Whether the wait in progress has run out of time (never when it has no limit).
    pub fn expired(&self) -> bool {
        self.remaining_ms() == Some(0)
    }

    /// Milliseconds left of the wait in progress: `None` when it has no limit, `Some(0)`
    /// once it has expired.
    pub fn remaining_ms(&self) -> Option<u64> {
        self.at
            .get()
            .map(|at| at.saturating_sub(self.clock.now_ms()))
    }
}

impl<C: Clock> fmt::Debug for Deadline<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("at_ms", &self.at.get())
            .finish_non_exhaustive()
    }
}

/// `d` in whole milliseconds, rounded up (a non-zero timeout never becomes "no limit"),
/// saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Cell<u64>);

    impl Clock for Fixed {
        fn now_ms(&self) -> u64 {
            self.0.get()
        }
    }

    #[test]
    fn a_deadline_counts_down_and_zero_means_no_limit() {
        let clock = Fixed(Cell::new(10));
        let d = Deadline::new(&clock);
        assert_eq!(
            (d.at_ms(), d.remaining_ms(), d.expired()),
            (None, None, false)
        );
        d.start(Duration::from_millis(100));
        assert_eq!(d.at_ms(), Some(110));
        clock.0.set(109);
        assert_eq!((d.remaining_ms(), d.expired()), (Some(1), false));
        clock.0.set(110);
        assert_eq!((d.remaining_ms(), d.expired()), (Some(0), true));
        clock.0.set(500);
        assert_eq!((d.remaining_ms(), d.expired()), (Some(0), true));
        d.start(Duration::ZERO);
        assert_eq!((d.at_ms(), d.expired()), (None, false));
        d.set_at_ms(Some(400));
        assert!(d.expired());
        d.clear();
        assert!(!d.expired());
    }

    #[test]
    fn milliseconds_round_up_and_saturate() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_micros(1)), 1);
        assert_eq!(millis(Duration::from_micros(1_500)), 2);
        assert_eq!(millis(Duration::from_secs(300)), 300_000);
        assert_eq!(millis(Duration::MAX), u64::MAX);
        let clock = Fixed(Cell::new(u64::MAX - 1));
        let d = Deadline::new(&clock);
        d.start(Duration::from_secs(1));
        assert_eq!(d.at_ms(), Some(u64::MAX));
    }
}
