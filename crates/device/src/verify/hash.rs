//! The SHA-2 hashes the signature algorithms use, behind one small enum so that each
//! algorithm is a value rather than a generic instantiation (less code on the device).

use sha2::{Digest, Sha256, Sha384, Sha512};

/// Longest digest: SHA-512's 64 octets.
pub(crate) const MAX_DIGEST: usize = 64;

/// A SHA-2 hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    #[cfg_attr(not(feature = "rsa"), allow(dead_code))]
    Sha512,
}

/// A running hash of one of the SHA-2 kinds.
pub(crate) enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hash {
    /// Digest length in octets.
    #[cfg_attr(not(feature = "rsa"), allow(dead_code))]
    pub(crate) const fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// A fresh hasher.
    pub(crate) fn hasher(self) -> Hasher {
        match self {
            Self::Sha256 => Hasher::Sha256(Sha256::new()),
            Self::Sha384 => Hasher::Sha384(Sha384::new()),
            Self::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// The digest of `parts` concatenated, in the first `len()` octets of `out`.
    pub(crate) fn digest<'o>(self, parts: &[&[u8]], out: &'o mut [u8; MAX_DIGEST]) -> &'o [u8] {
        let mut h = self.hasher();
        for part in parts {
            h.update(part);
        }
        h.finish(out)
    }
}

impl Hasher {
    /// Feeds more input.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// The digest, in the first octets of `out`.
    pub(crate) fn finish(self, out: &mut [u8; MAX_DIGEST]) -> &[u8] {
        match self {
            Self::Sha256(h) => {
                out[..32].copy_from_slice(&h.finalize());
                &out[..32]
            }
            Self::Sha384(h) => {
                out[..48].copy_from_slice(&h.finalize());
                &out[..48]
            }
            Self::Sha512(h) => {
                out.copy_from_slice(&h.finalize());
                &out[..]
            }
        }
    }
}
