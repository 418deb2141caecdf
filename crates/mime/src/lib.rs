//! Message composition for Postel: RFC 5322 headers, MIME bodies and attachments, as a
//! **pull encoder** that produces the bytes while they are sent.
//!
//! ```
//! use postel_mime::{Attachment, EncodeOptions, Message};
//!
//! let mut msg = Message::builder()
//!     .from("Alice <alice@example.com>")
//!     .to("Bob <bob@example.net>, carol@example.org")
//!     .bcc("archive@example.com")
//!     .subject("Photos from Zürich")
//!     .text("Two photos attached.\n")
//!     .attach(Attachment::new("zürich.jpg", vec![0xff, 0xd8, 0xff, 0xe0])?)
//!     .date(postel_mime::DateTime::from_unix(1_795_386_300, 0)?) // default: now, with `std`
//!     .build()?;
//!
//! // What the SMTP client needs: envelope, capabilities, size, then the bytes.
//! let envelope = msg.envelope()?;              // MAIL FROM / RCPT TO (Bcc included)
//! assert_eq!(envelope.to().len(), 3);
//! let opts = EncodeOptions { allow_8bit: false, smtputf8: false }; // from EHLO
//! let mut encoder = msg.encoder(&opts)?;
//! let size = encoder.encoded_len();           // Some(n): SIZE=n
//! let mut sent = Vec::new();
//! let mut buf = [0u8; 1024];
//! loop {
//!     let n = encoder.read(&mut buf)?;        // 0 = end
//!     if n == 0 { break; }
//!     sent.extend_from_slice(&buf[..n]);      // hand to the SMTP body writer
//! }
//! assert_eq!(size, Some(sent.len() as u64));
//! # Ok::<(), postel_mime::Error>(())
//! ```
//!
//! # What it guarantees
//! - Output has CRLF line ends only, and no line over 998 octets (RFC 5322 §2.1.1):
//!   headers fold at 78 columns and fall back to RFC 2047 encoded words, bodies are
//!   7bit/8bit only when their lines fit, else quoted-printable or base64 (76 columns).
//! - CR, LF, NUL (and other control bytes) in any header value, name, address or file
//!   name are refused with [`Error::InvalidByte`]: header injection is impossible.
//! - Bcc recipients are in [`Message::envelope`] and never in the headers.
//! - Memory is constant in body size: file and reader attachments are read in
//!   [`CHUNK`]-byte pieces as the bytes go out.
//! - [`Encoder::encoded_len`] is exact when every source's length is known.
//!
//! # Features
//! - `std` (default): files ([`Attachment::from_path`]), readers, `std::io::Read` for
//!   [`Encoder`], the system clock for `Date` and generated Message-IDs, and `mime_guess`.
//!   Without it the crate is `no_std` + `alloc`: give a [`DateTime`], and stream bodies
//!   through [`Source`].
//! - `dkim` (default; needs `std`): DKIM signing that streams, [`dkim`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::std_instead_of_core)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod address;
mod base64;
mod content_type;
mod date;
#[cfg(feature = "dkim")]
pub mod dkim;
mod encoder;
mod encoding;
mod envelope;
mod error;
mod header;
mod message;
mod message_id;
mod part;
mod raw;
mod source;
mod utf8;

pub use address::{AddrSpec, Address, Mailbox};
pub use content_type::ContentType;
pub use date::{DateTime, Rfc3339Utc};
pub use encoder::{EncodeOptions, Encoder, CHUNK};
pub use encoding::TransferEncoding;
pub use envelope::Envelope;
pub use error::Error;
pub use message::{IntoAddresses, Message, MessageBuilder};
pub use message_id::MessageId;
pub use part::{Attachment, Part};
pub use raw::{check_raw, RawMessage, MAX_HEADER_SECTION};
#[cfg(feature = "std")]
pub use source::ReadSource;
pub use source::Source;
#[cfg(feature = "std")]
pub use utf8::reader_is_utf8;
pub use utf8::Utf8Check;
