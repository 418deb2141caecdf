//! Postel: an SMTP client for Rust. Blocking ([`Client`]) and tokio ([`AsyncClient`],
//! [`Pool`]) drivers over one sans-IO core ([`postel_proto`]), TLS by rustls.
//!
//! ```text
//! * connected to 192.0.2.25:587
//! S: 220 smtp.example.com ESMTP
//! C: EHLO client.example.com
//! S: 250-smtp.example.com
//! S: 250-PIPELINING
//! S: 250 STARTTLS
//! C: STARTTLS
//! S: 220 2.0.0 Ready to start TLS
//! * TLS established: TLSv1_3 TLS13_AES_256_GCM_SHA384
//! C: EHLO client.example.com
//! S: 250-smtp.example.com
//! S: 250-PIPELINING
//! S: 250-CHUNKING
//! S: 250 AUTH PLAIN SCRAM-SHA-256
//! C: AUTH SCRAM-SHA-256 <redacted>
//! ...
//! ```
//!
//! ```no_run
//! use postel::{Client, Envelope};
//! use postel_mime::Message;
//!
//! let mut client = Client::builder("smtp.example.com")   // STARTTLS required, port 587
//!     .credentials("alice", "correct horse battery staple")
//!     .build()?;
//! let mut msg = Message::builder()
//!     .from("Alice <alice@example.com>")
//!     .to("bob@example.net, nobody@example.net")
//!     .subject("Hello")
//!     .text("Hi Bob.\n")
//!     .build()?;
//! let report = client.send(&mut msg)?;                    // Bcc included, never shown
//! for r in &report.refused {
//!     eprintln!("{}: {}", r.address, r.reply);           // 550 5.1.1 ...
//! }
//! // Raw bytes to an explicit envelope, over the same connection:
//! let env = Envelope::new("alice@example.com", ["carol@example.org"]);
//! client.send_bytes(&env, b"Subject: raw\r\n\r\nHi.\r\n")?;
//! client.quit()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Security defaults: STARTTLS is required, certificates are verified against the
//! platform's roots (or the CA file given) and the host name, and credentials never go
//! over plaintext unless [`ClientBuilder::dangerous_allow_plaintext_auth`] says so. A
//! failed verification is a [`TlsError`] naming the reason, before anything private
//! was sent. Transcripts ([`ClientBuilder::transcript`]) redact every AUTH line.
//!
//! Features (docs/features.md): `tokio` (default) for [`AsyncClient`] and [`Pool`]; `mx`
//! for direct delivery to each domain's MX hosts (`postel::mx`, with hickory's
//! resolver; implies `queue`); `queue` for the durable queue (`postel::queue`);
//! `postgres` for the queue in PostgreSQL (implies `queue`). With
//! `default-features = false` only the blocking [`Client`] is built: no tokio, no
//! hickory.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod builder;
mod client;
mod deferred;
mod drive;
pub mod embedded;
mod envelope;
mod error;
mod message;
#[cfg(feature = "mx")]
pub mod mx;
#[cfg(feature = "tokio")]
mod pool;
#[cfg(feature = "queue")]
pub mod queue;
mod report;
mod tls;
#[cfg(feature = "tokio")]
mod tokio_conn;
#[cfg(feature = "tokio")]
mod tokio_drive;
#[cfg(feature = "tokio")]
mod tokio_transport;
mod transcript;
mod transport;

pub use builder::{ClientBuilder, TlsMode};
pub use client::Client;
pub use envelope::Envelope;
pub use error::{Error, Misuse};
pub use message::{SendHooks, Sendable};
#[cfg(feature = "tokio")]
pub use pool::{AsyncClient, Pool};
pub use report::{Accepted, Refused, SendReport, ServerReply};
pub use tls::{Roots, TlsError};
pub use transcript::{Entry, Side, Transcript};

/// Message composition.
pub use postel_mime as mime;
/// The sans-IO core, for drivers of your own.
pub use postel_proto as proto;
pub use postel_proto::{
    BodyType, Capabilities, EnhancedCode, Extension, Fault, Mechanism, Notify, Options, Ret, State,
    Step, Timeouts,
};
