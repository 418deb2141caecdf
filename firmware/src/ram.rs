//! The session's buffers, in static RAM (`.bss`) rather than on the stack, so that the
//! linker counts them and the stack stays small: what a board needs is the static RAM that
//! `arm-none-eabi-size` reports plus the stack high-water mark the firmware prints.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// The SMTP core's receive and send buffers. `postel_proto::MIN_BUFFER` (512) is enough for
/// the plain image: Postfix's EHLO reply is about 200 octets (a longer reply is cut, not
/// refused), and the send buffer holds a command group or a chunk of message content. With
/// TLS, 1 KiB: each flush of the send buffer becomes one TLS record.
#[cfg(not(feature = "tls"))]
pub const SMTP_BYTES: usize = postel_proto::MIN_BUFFER;
/// The SMTP core's receive and send buffers (see the plain image's).
#[cfg(feature = "tls")]
pub const SMTP_BYTES: usize = 1024;
/// One whole TLS record read: 16 KiB of plaintext plus the record's header, tag and padding
/// allowance (servers do not all honour max_fragment_length).
#[cfg(feature = "tls")]
pub const TLS_READ_BYTES: usize = 16_640;
/// TLS records written: the message goes out in records of up to this size.
#[cfg(feature = "tls")]
pub const TLS_WRITE_BYTES: usize = 2048;
/// Room for the trust anchors' DER: never more than 3/4 of their PEM.
#[cfg(feature = "tls")]
pub const CA_DER_BYTES: usize = crate::config::CA_PEM.len() / 4 * 3 + 3;

/// Everything the sessions borrow.
pub struct Ram {
    /// The SMTP core's receive buffer.
    pub smtp_rx: [u8; SMTP_BYTES],
    /// The SMTP core's send buffer.
    pub smtp_tx: [u8; SMTP_BYTES],
    /// TLS ciphertext read.
    #[cfg(feature = "tls")]
    pub tls_read: [u8; TLS_READ_BYTES],
    /// TLS ciphertext written.
    #[cfg(feature = "tls")]
    pub tls_write: [u8; TLS_WRITE_BYTES],
    /// The decoded trust anchors, which the verifier borrows for the whole run.
    #[cfg(feature = "tls")]
    pub ca_der: [u8; CA_DER_BYTES],
}

struct Cell(UnsafeCell<Ram>);

// SAFETY: `take` hands out the only reference, once.
unsafe impl Sync for Cell {}

static RAM: Cell = Cell(UnsafeCell::new(Ram {
    smtp_rx: [0; SMTP_BYTES],
    smtp_tx: [0; SMTP_BYTES],
    #[cfg(feature = "tls")]
    tls_read: [0; TLS_READ_BYTES],
    #[cfg(feature = "tls")]
    tls_write: [0; TLS_WRITE_BYTES],
    #[cfg(feature = "tls")]
    ca_der: [0; CA_DER_BYTES],
}));
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The buffers; `None` after the first call.
pub fn take() -> Option<&'static mut Ram> {
    if TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: TAKEN guarantees this is the only reference ever made.
    Some(unsafe { &mut *RAM.0.get() })
}
