//! The board: QEMU's mps2-an385 (a Cortex-M3 at 25 MHz with CMSDK peripherals).
//!
//! What an application on another board replaces: the UART (any `embedded-io` transport
//! will do: a TCP socket of an IP stack, a modem), the clock (any millisecond counter), the
//! RNG (the part's TRNG) and the console.

pub mod clock;
#[cfg(feature = "tls")]
pub mod rng;
pub mod semihosting;
pub mod stack;
pub mod uart;
mod vectors;

use cortex_m_rt::exception;

/// SysTick: the millisecond tick.
#[exception]
fn SysTick() {
    clock::on_tick();
}

/// Every device interrupt lands here (no device crate names them); on the AN385 only UART0
/// RX is enabled.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == uart::UART0_RX_IRQ as i16 {
        uart::on_interrupt();
    }
}

/// The board's devices, set up.
pub struct Board {
    /// UART0, bridged by QEMU to the server.
    pub uart: uart::Uart,
    /// The clock.
    pub clock: clock::SysTickClock,
}

impl Board {
    /// Paints the stack, starts the tick and sets UART0 up (RX interrupt enabled in the
    /// NVIC). `None` when called twice.
    pub fn init() -> Option<Board> {
        stack::paint();
        let mut core = cortex_m::Peripherals::take()?;
        clock::start(core.SYST);
        let uart = uart::Uart::take()?;
        // SAFETY: the handler for this interrupt (DefaultHandler) is in place and only
        // clears the UART's interrupt flag.
        unsafe { core.NVIC.set_priority(Irq(uart::UART0_RX_IRQ), 0x80) };
        unsafe { cortex_m::peripheral::NVIC::unmask(Irq(uart::UART0_RX_IRQ)) };
        Some(Board {
            uart,
            clock: clock::SysTickClock,
        })
    }
}

/// An interrupt number for the NVIC API.
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: the number is one of the AN385's 32 device interrupts.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}
