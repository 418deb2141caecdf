//! Postel on a microcontroller: one SMTP session over any `embedded-io` transport, with
//! STARTTLS or implicit TLS 1.3, a verified certificate chain and AUTH, and no heap.
#![no_std]
#![warn(missing_docs, unreachable_pub)]

#[cfg(test)]
extern crate std;

pub mod session;
#[cfg(feature = "tls")]
pub mod verify;

#[cfg(feature = "tls")]
pub use session::{send, Tls};
pub use session::{send_plain, Buffers, Delivered, Failure};
