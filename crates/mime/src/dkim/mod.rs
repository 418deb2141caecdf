//! DKIM signing (RFC 6376, with `ed25519-sha256` from RFC 8463) that streams.
//!
//! `bh=`, the hash of the body, must be in a header field sent before the body. The
//! signer therefore reads the message twice: [`Signer::sign`] encodes it once through the
//! canonicaliser and SHA-256 (keeping only the header section, so memory stays constant
//! in body size) and attaches the `DKIM-Signature` field; sending then encodes it again,
//! with the field first. The message's Date, Message-ID, boundaries and transfer
//! encodings are fixed when it is built, so both passes produce the same bytes.
//!
//! Bodies that can be read only once — a [`Part`](crate::Part) or
//! [`Attachment`](crate::Attachment) from a reader, a [`RawMessage`](crate::RawMessage)
//! from stdin — are copied to a temporary file during the first pass (never to memory);
//! the file is deleted when the message is dropped. A raw message from
//! [`RawMessage::from_file`](crate::RawMessage::from_file) is re-read from its file.
//!
//! A signed [`Message`](crate::Message) is always encoded as 7-bit (quoted-printable or
//! base64 bodies), whatever the server offers, as RFC 6376 §5.3 advises: the signed bytes
//! are then the bytes every server receives, and no relay needs to downgrade them.
//!
//! ```
//! use postel_mime::dkim::{Signer, SigningKey};
//! use postel_mime::{EncodeOptions, RawMessage};
//! let key = SigningKey::generate_ed25519();
//! println!("publish at s1._domainkey.example.com: {}", key.dns_txt_value());
//! let signer = Signer::new(key, "example.com", "s1")?;
//! let mut raw = RawMessage::from_bytes(b"From: a@example.com\nSubject: hi\n\nbody\n".to_vec())?;
//! signer.sign(&mut raw)?;
//! let sent = raw.to_vec(&EncodeOptions::default())?;
//! assert!(sent.starts_with(b"DKIM-Signature: "));
//! assert!(sent.ends_with(b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"));
//! # Ok::<(), postel_mime::Error>(())
//! ```

mod canon;
mod headers;
mod key;
mod sign;
mod signer;

pub use canon::{
    canonicalize_header, canonicalize_header_unterminated, BodyCanonicalizer, Canonicalization,
};
pub use headers::{DEFAULT_HEADERS, OVERSIGNED};
pub use key::{Algorithm, SigningKey, MIN_RSA_BITS};
pub use sign::Signable;
pub use signer::{MessageHasher, Signer};

use alloc::string::String;
use core::fmt;

/// What can go wrong while loading a key, configuring a signer or signing.
#[derive(Debug)]
#[non_exhaustive]
pub enum DkimError {
    /// The key file could not be read.
    KeyFile {
        /// The path given.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The key text is not a private key this crate reads.
    KeyFormat {
        /// What is wrong with it.
        reason: String,
    },
    /// A domain, selector, identity or header name that cannot be used.
    InvalidName {
        /// Which setting (`"domain"`, `"selector"`, `"identity"`, `"header field name"`).
        what: &'static str,
        /// The value given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The message has no `From` field, which a signature must cover (RFC 6376 §5.4).
    NoFrom,
    /// The header section is longer than the signer keeps.
    HeaderSectionTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The signature could not be computed.
    Crypto {
        /// What the library said.
        reason: String,
    },
}

impl fmt::Display for DkimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DkimError::KeyFile { path, error } => {
                write!(f, "cannot read DKIM key file {path}: {error}")
            }
            DkimError::KeyFormat { reason } => write!(f, "bad DKIM key: {reason}"),
            DkimError::InvalidName { what, name, reason } => {
                write!(f, "bad DKIM {what} {name:?}: {reason}")
            }
            DkimError::NoFrom => f.write_str("cannot DKIM-sign a message without a From field"),
            DkimError::HeaderSectionTooLarge { limit } => {
                write!(f, "header section longer than {limit} bytes; not signed")
            }
            DkimError::Crypto { reason } => write!(f, "DKIM signing failed: {reason}"),
        }
    }
}

#[allow(clippy::std_instead_of_core)]
impl std::error::Error for DkimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DkimError::KeyFile { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<DkimError> for crate::Error {
    fn from(e: DkimError) -> Self {
        crate::Error::Dkim(e)
    }
}
