//! Postel's SMTP client core: a sans-IO state machine.
//!
//! `#![no_std]`, no heap, no clock, no sockets, no randomness. The caller lends two buffers,
//! feeds the bytes it received, writes the bytes it is given, and is told what happened, when
//! to start TLS and which timeout applies to each wait. Any transport can drive it: std
//! sockets, tokio, an embedded TCP stack, or an AT-command modem that wants an explicit byte
//! count per write.
//!
//! ```text
//! S: 220 mx.example ESMTP
//! C: EHLO client.example
//! S: 250-mx.example
//! S: 250-PIPELINING
//! S: 250-STARTTLS
//! S: 250 AUTH PLAIN
//! C: STARTTLS
//! S: 220 go ahead
//!    (TLS handshake by the driver; everything learned so far is forgotten)
//! C: EHLO client.example
//! ...
//! ```
//!
//! Start with [`Client`]; its documentation shows the driving loop.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::std_instead_of_core)]

#[cfg(test)]
extern crate std;

mod address;
pub mod auth;
pub mod body;
mod capability;
mod command;
mod config;
#[cfg(any(feature = "embedded-io", feature = "embedded-io-async"))]
pub mod drive;
mod envelope;
mod error;
pub mod reply;
mod reuse;
mod secret;
mod session;

pub use auth::{AuthError, Credentials, Mechanism};
pub use capability::{Capabilities, Extension};
pub use config::{Config, Options, Timeouts, TlsMode};
pub use envelope::{BodyType, Envelope, Notify, Recipient, Ret};
pub use error::{Argument, AuthFailure, Error, Fault, Invalid, Step};
pub use reply::{Code, EnhancedCode, Reply, ReplyInfo};
pub use secret::Secret;
pub use session::{Action, Client, Event, RcptId, State, TxnId, MIN_BUFFER};
