//! A millisecond clock from SysTick: the exception handler counts ticks, [`now_ms`] reads
//! them. It starts at 0 when [`start`] runs; wall-clock time is the build time plus this (see
//! `config::UNIX_TIME`).

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use postel_proto::drive::Clock;

/// The core clock SysTick counts (AN385: 25 MHz).
const CORE_HZ: u32 = 25_000_000;

/// Milliseconds since [`start`], low and high words; only the SysTick handler writes them.
static LOW: AtomicU32 = AtomicU32::new(0);
static HIGH: AtomicU32 = AtomicU32::new(0);

/// Starts SysTick: one interrupt per millisecond from the core clock.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CORE_HZ / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Counts one millisecond; the SysTick handler calls it (and nothing else may).
pub fn on_tick() {
    let low = LOW.load(Ordering::Relaxed).wrapping_add(1);
    if low == 0 {
        HIGH.fetch_add(1, Ordering::Relaxed);
    }
    LOW.store(low, Ordering::Release);
}

/// Milliseconds since [`start`].
pub fn now_ms() -> u64 {
    loop {
        let high = HIGH.load(Ordering::Acquire);
        let low = LOW.load(Ordering::Acquire);
        // A tick between the loads changes HIGH only on a wrap; then read again.
        if HIGH.load(Ordering::Acquire) == high {
            return (u64::from(high) << 32) | u64::from(low);
        }
    }
}

/// The SysTick clock as postel-proto's [`Clock`]: the driver loops and [`Timed`] measure
/// every wait with it.
///
/// [`Timed`]: postel_proto::drive::Timed
#[derive(Clone, Copy, Debug, Default)]
pub struct SysTickClock;

impl Clock for SysTickClock {
    fn now_ms(&self) -> u64 {
        now_ms()
    }

    /// Sleeps until the next interrupt: the UART's RX, or the tick at most 1 ms away.
    fn idle(&self) {
        cortex_m::asm::wfi();
    }
}
