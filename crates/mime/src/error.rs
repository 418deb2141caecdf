//! The one error type of this crate.

use alloc::string::String;
use core::fmt;

/// Everything that can go wrong while building or encoding a message.
///
/// Variants carry the evidence (field, byte, offset) so a caller can point at the input.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A CR, LF or NUL byte (or another forbidden control byte) in a header value, name,
    /// address or parameter: refused so that header injection is impossible.
    InvalidByte {
        /// The header field or parameter the value was meant for (`"Subject"`, `"filename"`).
        field: String,
        /// The offending byte.
        byte: u8,
        /// Its byte offset in the value given.
        at: usize,
    },
    /// An address that is not RFC 5322 `address` syntax.
    InvalidAddress {
        /// The field it was given for (`"To"`, or `"address"` when parsed directly).
        field: String,
        /// What was expected.
        reason: &'static str,
        /// Byte offset in the input where parsing failed.
        at: usize,
    },
    /// A domain that IDNA (UTS #46) refuses, so it has no A-label form.
    InvalidDomain {
        /// The domain as given.
        domain: String,
    },
    /// A header name outside RFC 5322 `ftext` (printable ASCII except `:`), or empty.
    InvalidHeaderName {
        /// The name as given.
        name: String,
    },
    /// A custom header whose name this crate writes itself (`From`, `Bcc`,
    /// `Content-Type`…): set it through the builder method instead.
    ReservedHeader {
        /// The name as given.
        name: String,
    },
    /// A value that is syntactically wrong for its field (content type, Content-ID,
    /// Message-ID…), or too long to ever fit in a 998-octet line.
    InvalidValue {
        /// The field.
        field: String,
        /// What was expected.
        reason: &'static str,
    },
    /// A required field is missing: `From` always, `Date` without the `std` feature, or
    /// `Sender` when `From` holds more than one mailbox (RFC 5322 §3.6.2).
    MissingField {
        /// The field name.
        field: &'static str,
    },
    /// The message was given two conflicting bodies (for example `body(part)` and `text(..)`).
    ConflictingBody,
    /// An address has a UTF-8 local part, and the output is for a server without SMTPUTF8
    /// (RFC 6531): the message cannot be sent there.
    NeedsSmtpUtf8 {
        /// The address.
        address: String,
    },
    /// A streamed source was already read by an earlier encoder; only memory and file
    /// sources can be encoded twice.
    SourceConsumed,
    /// A source declared a length and produced another number of bytes.
    LengthMismatch {
        /// The declared length.
        declared: u64,
        /// The bytes actually read.
        actual: u64,
    },
    /// A raw message whose header section does not end within the limit.
    HeaderSectionTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A raw message holding a byte it cannot be sent with: a bare CR in the header
    /// section (the wire's CRLF normalisation would turn it into a line end, so
    /// `Subject: a<CR>From: b` would reach the server as two fields), or a NUL anywhere
    /// (this crate never declares `BODY=BINARYMIME`, the only way to carry one).
    RawByte {
        /// `"header"` or `"body"`.
        section: &'static str,
        /// The line of that section the byte is on, from 1.
        line: u64,
        /// The byte: `0x0d` or `0x00`.
        byte: u8,
    },
    /// A caller-implemented [`Source`](crate::Source) failed.
    Source {
        /// What the source said.
        message: String,
    },
    /// An I/O error from a reader or a file.
    #[cfg(feature = "std")]
    Io(std::io::Error),
    /// DKIM signing failed (a key, a setting, or a message without `From`).
    #[cfg(feature = "dkim")]
    Dkim(crate::dkim::DkimError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidByte { field, byte, at } => {
                write!(f, "{field}: forbidden byte 0x{byte:02x} at offset {at}")
            }
            Error::InvalidAddress { field, reason, at } => {
                write!(f, "{field}: invalid address at offset {at}: {reason}")
            }
            Error::InvalidDomain { domain } => write!(f, "invalid domain {domain:?} (IDNA)"),
            Error::InvalidHeaderName { name } => write!(f, "invalid header name {name:?}"),
            Error::ReservedHeader { name } => {
                write!(
                    f,
                    "header {name:?} is written by the builder; use its method"
                )
            }
            Error::InvalidValue { field, reason } => write!(f, "{field}: {reason}"),
            Error::MissingField { field } => write!(f, "missing required field {field}"),
            Error::ConflictingBody => f.write_str("the message was given two bodies"),
            Error::NeedsSmtpUtf8 { address } => {
                write!(f, "address {address:?} needs a server offering SMTPUTF8")
            }
            Error::SourceConsumed => f.write_str("a streamed source was already read"),
            Error::LengthMismatch { declared, actual } => {
                write!(f, "source declared {declared} bytes but produced {actual}")
            }
            Error::HeaderSectionTooLarge { limit } => {
                write!(f, "header section longer than {limit} bytes")
            }
            Error::RawByte {
                section: "header",
                line,
                byte: b'\r',
            } => write!(
                f,
                "header line {line} holds a bare CR (0x0d), which would start a new header \
                 field on the wire; end lines with LF or CRLF"
            ),
            Error::RawByte {
                section,
                line,
                byte: 0,
            } => write!(
                f,
                "{section} line {line} holds a NUL byte (0x00), which cannot be sent as \
                 text (send binary data as a base64 attachment)"
            ),
            Error::RawByte {
                section,
                line,
                byte,
            } => write!(f, "{section} line {line}: forbidden byte 0x{byte:02x}"),
            Error::Source { message } => write!(f, "source failed: {message}"),
            #[cfg(feature = "std")]
            Error::Io(e) => write!(f, "I/O error: {e}"),
            #[cfg(feature = "dkim")]
            Error::Dkim(e) => write!(f, "{e}"),
        }
    }
}

// `core::error::Error` needs Rust 1.81; the workspace supports 1.80.
#[cfg(feature = "std")]
#[allow(clippy::std_instead_of_core)]
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            #[cfg(feature = "dkim")]
            Error::Dkim(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "std")]
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            other => std::io::Error::other(other),
        }
    }
}
