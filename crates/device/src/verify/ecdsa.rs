//! ECDSA signature verification for webpki and for TLS 1.3 CertificateVerify, on the RustCrypto
//! `p256` crate (and `p384` behind the `p384` feature). No heap.
//!
//! The signature is the DER `ECDSA-Sig-Value` of X.509 and TLS (`SEQUENCE { r INTEGER,
//! s INTEGER }`), parsed here; the public key is the uncompressed or compressed SEC1 point
//! from the certificate's subjectPublicKey.

use super::der;
use super::hash::{Hash, MAX_DIGEST};
use rustls_pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm,
};

/// The curves supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    #[cfg(feature = "p384")]
    P384,
}

impl Curve {
    /// Field (and scalar) size in octets.
    const fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            #[cfg(feature = "p384")]
            Self::P384 => 48,
        }
    }
}

/// One ECDSA curve with one hash, as a webpki signature algorithm.
#[derive(Debug)]
struct Ecdsa {
    curve: Curve,
    hash: Hash,
    public_key_alg_id: AlgorithmIdentifier,
    signature_alg_id: AlgorithmIdentifier,
}

/// ECDSA on P-256 with SHA-256 (`ecdsa-with-SHA256`, TLS `ecdsa_secp256r1_sha256`).
pub static ECDSA_P256_SHA256: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P256,
    hash: Hash::Sha256,
    public_key_alg_id: alg_id::ECDSA_P256,
    signature_alg_id: alg_id::ECDSA_SHA256,
};

/// ECDSA on P-256 with SHA-384 (a P-256 key in a certificate chain signed `ecdsa-with-SHA384`).
pub static ECDSA_P256_SHA384: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P256,
    hash: Hash::Sha384,
    public_key_alg_id: alg_id::ECDSA_P256,
    signature_alg_id: alg_id::ECDSA_SHA384,
};

/// ECDSA on P-384 with SHA-384 (TLS `ecdsa_secp384r1_sha384`; e.g. Let's Encrypt's E-series
/// intermediates and ISRG Root X2).
#[cfg(feature = "p384")]
pub static ECDSA_P384_SHA384: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P384,
    hash: Hash::Sha384,
    public_key_alg_id: alg_id::ECDSA_P384,
    signature_alg_id: alg_id::ECDSA_SHA384,
};

/// ECDSA on P-384 with SHA-256 (a P-384 key in a chain signed `ecdsa-with-SHA256`).
#[cfg(feature = "p384")]
pub static ECDSA_P384_SHA256: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P384,
    hash: Hash::Sha256,
    public_key_alg_id: alg_id::ECDSA_P384,
    signature_alg_id: alg_id::ECDSA_SHA256,
};

/// Longest fixed-width `r || s`: two P-384 scalars (or two P-256 ones without `p384`).
#[cfg(feature = "p384")]
const MAX_RS: usize = 96;
#[cfg(not(feature = "p384"))]
const MAX_RS: usize = 64;

/// Parses a DER `ECDSA-Sig-Value` into `r || s`, each left-padded to `field_len` octets.
fn fixed_signature(signature: &[u8], field_len: usize, out: &mut [u8; MAX_RS]) -> Option<usize> {
    let seq = der::only(signature, der::SEQUENCE)?;
    let (r, rest) = der::expect(seq, der::INTEGER)?;
    let s = der::only(rest, der::INTEGER)?;
    let mut at = 0;
    for scalar in [r, s] {
        let magnitude = der::positive_integer(scalar)?;
        if magnitude.len() > field_len {
            return None;
        }
        let pad = field_len - magnitude.len();
        out[at..at + pad].fill(0);
        out[at + pad..at + field_len].copy_from_slice(magnitude);
        at += field_len;
    }
    Some(at)
}

impl SignatureVerificationAlgorithm for Ecdsa {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let mut rs = [0u8; MAX_RS];
        let rs_len =
            fixed_signature(signature, self.curve.field_len(), &mut rs).ok_or(InvalidSignature)?;
        let mut digest = [0u8; MAX_DIGEST];
        let digest = self.hash.digest(&[message], &mut digest);
        match self.curve {
            Curve::P256 => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier;
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| InvalidSignature)?;
                let sig = p256::ecdsa::Signature::from_slice(&rs[..rs_len])
                    .map_err(|_| InvalidSignature)?;
                key.verify_prehash(digest, &sig)
                    .map_err(|_| InvalidSignature)
            }
            #[cfg(feature = "p384")]
            Curve::P384 => {
                use p384::ecdsa::signature::hazmat::PrehashVerifier;
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| InvalidSignature)?;
                let sig = p384::ecdsa::Signature::from_slice(&rs[..rs_len])
                    .map_err(|_| InvalidSignature)?;
                key.verify_prehash(digest, &sig)
                    .map_err(|_| InvalidSignature)
            }
        }
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.public_key_alg_id
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_signature_to_fixed_width() {
        // r = 0x80 (needs a leading zero in DER), s = 1
        let sig = [0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01];
        let mut out = [0u8; MAX_RS];
        assert_eq!(fixed_signature(&sig, 32, &mut out), Some(64));
        assert_eq!(out[31], 0x80);
        assert_eq!(out[63], 0x01);
        assert!(out[..31].iter().chain(&out[32..63]).all(|&b| b == 0));
        // trailing garbage, negative r, too long a scalar
        assert_eq!(
            fixed_signature(&[0x30, 0x03, 0x02, 0x01, 0x01, 0x00], 32, &mut out),
            None
        );
        assert_eq!(
            fixed_signature(
                &[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01],
                32,
                &mut out
            ),
            None
        );
        let mut long = [0u8; 2 + 2 + 33 + 3];
        long[..4].copy_from_slice(&[0x30, 38, 0x02, 33]);
        long[4] = 0x01;
        long[37..].copy_from_slice(&[0x02, 0x01, 0x01]);
        assert_eq!(fixed_signature(&long, 32, &mut out), None);
    }
}
