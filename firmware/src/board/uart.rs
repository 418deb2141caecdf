//! The CMSDK APB UART (ARM DDI0479C §4.3; QEMU's hw/char/cmsdk-apb-uart.c) as an
//! `embedded-io` transport.
//!
//! The UART holds one received octet and one octet to send. QEMU bridges it to a TCP
//! connection and takes the next octet from the socket only once RX is enabled and the
//! holding register is empty, so nothing the server sends before the UART is set up is lost:
//! it waits in the socket. Octets written while QEMU has no connection are dropped by QEMU.
//!
//! Reads sleep (`wfi`) until the UART's RX interrupt; [`on_interrupt`] clears it.

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, Ordering};

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

use super::clock;

/// UART0 on the AN385.
const UART0: usize = 0x4000_4000;
/// UART0's RX interrupt number on the AN385 (TX is 1).
pub const UART0_RX_IRQ: u16 = 0;
/// The APB clock feeding the UARTs (AN385: 25 MHz).
const PCLK_HZ: u32 = 25_000_000;
/// The line rate set; QEMU ignores it on a socket, a real line needs it.
const BAUD: u32 = 115_200;

const DATA: usize = 0x000;
const STATE: usize = 0x004;
const CTRL: usize = 0x008;
const INTSTATUS: usize = 0x00c;
const BAUDDIV: usize = 0x010;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const STATE_RX_OVERRUN: u32 = 1 << 3;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_RX_INTEN: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;

static TAKEN: AtomicBool = AtomicBool::new(false);

/// A received octet was overwritten before it was read: the stream has a hole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overrun;

impl embedded_io::Error for Overrun {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

impl core::fmt::Display for Overrun {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("UART receive overrun")
    }
}

impl core::error::Error for Overrun {}

/// What [`Uart::drain`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drained {
    /// Octets dropped.
    pub octets: usize,
    /// When the last one came (`clock::now_ms`); the start of the drain if none did.
    pub last_ms: u64,
}

/// UART0, owned: at most one exists.
#[derive(Debug)]
pub struct Uart {
    base: usize,
}

impl Uart {
    /// Sets UART0 up (BAUDDIV, TX and RX enabled, RX interrupt on); `None` when it was taken
    /// already.
    pub fn take() -> Option<Uart> {
        if TAKEN.swap(true, Ordering::AcqRel) {
            return None;
        }
        let uart = Uart { base: UART0 };
        // BAUDDIV first: QEMU ignores divisors under 16 and complains when TX is enabled
        // without a valid one.
        uart.write_reg(BAUDDIV, PCLK_HZ / BAUD);
        uart.write_reg(CTRL, CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INTEN);
        Some(uart)
    }

    /// Reads and drops what the server still sends after a session, until nothing has
    /// arrived for `quiet_ms`: the UART cannot hang up, so the firmware waits for the
    /// server's close instead (a TLS close_notify after the 221, say). QEMU reads the socket's
    /// end only once the UART has taken every octet before it, then reconnects a second
    /// later; draining first keeps the old connection's octets out of the next session.
    ///
    /// Gives up with `Err(dropped)` when octets keep coming for `limit_ms`.
    pub fn drain(&mut self, quiet_ms: u64, limit_ms: u64) -> Result<Drained, usize> {
        let start = clock::now_ms();
        let mut last = start;
        let mut octets = 0;
        loop {
            let now = clock::now_ms();
            if self.rx_full() {
                let _ = self.read_reg(DATA);
                octets += 1;
                last = now;
            } else if now - last >= quiet_ms {
                let _ = self.take_overrun();
                return Ok(Drained {
                    octets,
                    last_ms: last,
                });
            } else {
                cortex_m::asm::wfi();
            }
            if now - start >= limit_ms {
                return Err(octets);
            }
        }
    }

    fn rx_full(&self) -> bool {
        self.read_reg(STATE) & STATE_RX_FULL != 0
    }

    fn tx_full(&self) -> bool {
        self.read_reg(STATE) & STATE_TX_FULL != 0
    }

    /// Reports and clears an overrun.
    fn take_overrun(&mut self) -> Result<(), Overrun> {
        if self.read_reg(STATE) & STATE_RX_OVERRUN != 0 {
            self.write_reg(STATE, STATE_RX_OVERRUN);
            return Err(Overrun);
        }
        Ok(())
    }

    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: `base + offset` is one of UART0's registers, always mapped on this board;
        // reading DATA pops the received octet, which only this owner does.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: as in `read_reg`; this value is owned by the only `Uart`.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }
}

/// Clears UART0's RX interrupt; the interrupt handler calls it (the octet stays for `read`).
pub fn on_interrupt() {
    // SAFETY: INTSTATUS is write-one-to-clear; clearing RX touches nothing `Uart` relies on.
    unsafe { write_volatile((UART0 + INTSTATUS) as *mut u32, INT_RX) }
}

impl ErrorType for Uart {
    type Error = Overrun;
}

impl Read for Uart {
    /// Waits for at least one octet, then takes what has arrived.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Overrun> {
        if buf.is_empty() {
            return Ok(0);
        }
        while !self.read_ready()? {
            // Sleep until an interrupt (RX or the 1 ms tick). With interrupts masked across
            // the check and the `wfi`, an octet arriving in between still wakes it.
            cortex_m::interrupt::free(|_| {
                if !self.rx_full() {
                    cortex_m::asm::wfi();
                }
            });
        }
        let mut n = 0;
        while n < buf.len() && self.rx_full() {
            // Only the low 8 bits of DATA hold the octet.
            buf[n] = (self.read_reg(DATA) & 0xff) as u8;
            n += 1;
        }
        self.take_overrun()?;
        Ok(n)
    }
}

impl ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Overrun> {
        self.take_overrun()?;
        Ok(self.rx_full())
    }
}

impl Write for Uart {
    /// Hands octets to the UART one at a time, waiting while its holding register is full.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Overrun> {
        for &b in buf {
            while self.tx_full() {}
            self.write_reg(DATA, u32::from(b));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Overrun> {
        while self.tx_full() {}
        Ok(())
    }
}

impl WriteReady for Uart {
    fn write_ready(&mut self) -> Result<bool, Overrun> {
        Ok(!self.tx_full())
    }
}
