//! Where body bytes come from: memory, a caller's [`Source`], or (with `std`) a reader or
//! a file opened only when the encoder reaches it.

use alloc::borrow::Cow;
use alloc::boxed::Box;

use crate::error::Error;

/// A stream of body bytes read while the message is sent, like `std::io::Read` but
/// available without `std` (for example, an attachment read from flash).
///
/// ```
/// use postel_mime::{Error, Source};
/// struct Zeros(u64);
/// impl Source for Zeros {
///     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
///         let n = buf.len().min(self.0 as usize);
///         buf[..n].fill(0);
///         self.0 -= n as u64;
///         Ok(n)
///     }
/// }
/// ```
pub trait Source: Send {
    /// Fill some of `buf`; `Ok(0)` means the end.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error>;
}

/// Any `std::io::Read` as a [`Source`].
#[cfg(feature = "std")]
pub struct ReadSource<R>(pub R);

#[cfg(feature = "std")]
impl<R: std::io::Read + Send> Source for ReadSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => return other.map_err(Error::Io),
            }
        }
    }
}

/// A body's bytes.
pub(crate) enum Content {
    /// In memory, borrowed from a `'static` or owned.
    Bytes(Cow<'static, [u8]>),
    /// Read once, as the encoder goes; `len` when the caller declared it.
    Stream {
        source: Option<Box<dyn Source>>,
        len: Option<u64>,
    },
    /// A file, opened when the encoder reaches it (so the message can be encoded again).
    #[cfg(feature = "std")]
    File { path: std::path::PathBuf },
}

impl Content {
    pub(crate) fn memory(&self) -> Option<&[u8]> {
        match self {
            Content::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl core::fmt::Debug for Content {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Content::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Content::Stream { len, .. } => write!(f, "Stream {{ len: {len:?} }}"),
            #[cfg(feature = "std")]
            Content::File { path } => write!(f, "File({})", path.display()),
        }
    }
}
