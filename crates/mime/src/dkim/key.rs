//! Signing keys: loaded from PEM (RSA in PKCS#1 or PKCS#8, Ed25519 in PKCS#8), generated,
//! and their public half written as the DNS TXT record a verifier looks up.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};

use super::DkimError;

/// A signature algorithm (the `a=` tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `rsa-sha256` (RFC 6376): RSASSA-PKCS1-v1_5 over SHA-256.
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463): Ed25519 over the SHA-256 of the signed data.
    Ed25519Sha256,
}

impl Algorithm {
    /// The name used in the `a=` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }
}

enum Inner {
    Rsa(rsa::RsaPrivateKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private key to sign with.
///
/// ```
/// use postel_mime::dkim::{Algorithm, SigningKey};
/// let key = SigningKey::generate_ed25519();
/// let again = SigningKey::from_pem(&key.to_pkcs8_pem())?;
/// assert_eq!(again.algorithm(), Algorithm::Ed25519Sha256);
/// assert_eq!(again.dns_txt_value(), key.dns_txt_value());
/// assert!(SigningKey::from_pem("not a key").is_err());
/// # Ok::<(), postel_mime::dkim::DkimError>(())
/// ```
pub struct SigningKey(Inner);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        write!(f, "SigningKey({})", self.algorithm().as_str())
    }
}

/// Smallest RSA key accepted: RFC 8301 §3.2 forbids signing with fewer than 1024 bits.
pub const MIN_RSA_BITS: usize = 1024;

impl SigningKey {
    /// A key from PEM text: `BEGIN RSA PRIVATE KEY` (PKCS#1) or `BEGIN PRIVATE KEY`
    /// (PKCS#8, RSA or Ed25519).
    pub fn from_pem(pem: &str) -> Result<Self, DkimError> {
        let label = pem
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
            .ok_or(DkimError::KeyFormat {
                reason: "no PEM block (-----BEGIN ...-----) found".into(),
            })?;
        match label {
            "RSA PRIVATE KEY" => {
                let k =
                    rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| DkimError::KeyFormat {
                        reason: alloc::format!("PKCS#1 RSA key: {e}"),
                    })?;
                Self::rsa(k)
            }
            "PRIVATE KEY" => {
                if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
                    return Ok(SigningKey(Inner::Ed25519(k)));
                }
                let k =
                    rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| DkimError::KeyFormat {
                        reason: alloc::format!("PKCS#8 key that is neither Ed25519 nor RSA: {e}"),
                    })?;
                Self::rsa(k)
            }
            "ENCRYPTED PRIVATE KEY" => Err(DkimError::KeyFormat {
                reason: "encrypted keys are not supported; decrypt it (openssl pkey -in K -out K2)"
                    .into(),
            }),
            other => Err(DkimError::KeyFormat {
                reason: alloc::format!(
                    "PEM block {other:?} is not a private key (want RSA PRIVATE KEY or PRIVATE KEY)"
                ),
            }),
        }
    }

    /// A key from a PEM file.
    pub fn from_pem_file(path: impl AsRef<std::path::Path>) -> Result<Self, DkimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| DkimError::KeyFile {
            path: path.display().to_string(),
            error: e,
        })?;
        Self::from_pem(&text).map_err(|e| match e {
            DkimError::KeyFormat { reason } => DkimError::KeyFormat {
                reason: alloc::format!("{}: {reason}", path.display()),
            },
            other => other,
        })
    }

    fn rsa(k: rsa::RsaPrivateKey) -> Result<Self, DkimError> {
        let bits = k.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(DkimError::KeyFormat {
                reason: alloc::format!("RSA key of {bits} bits; at least {MIN_RSA_BITS} needed"),
            });
        }
        Ok(SigningKey(Inner::Rsa(k)))
    }

    /// A new Ed25519 key from the system's random source.
    pub fn generate_ed25519() -> Self {
        SigningKey(Inner::Ed25519(ed25519_dalek::SigningKey::generate(
            &mut rand_core::OsRng,
        )))
    }

    /// A new RSA key of `bits` bits (2048 is the usual choice; at least 1024).
    pub fn generate_rsa(bits: usize) -> Result<Self, DkimError> {
        if bits < MIN_RSA_BITS {
            return Err(DkimError::KeyFormat {
                reason: alloc::format!("RSA key of {bits} bits; at least {MIN_RSA_BITS} needed"),
            });
        }
        let k = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).map_err(|e| {
            DkimError::KeyFormat {
                reason: alloc::format!("RSA key generation failed: {e}"),
            }
        })?;
        Self::rsa(k)
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            Inner::Rsa(_) => Algorithm::RsaSha256,
            Inner::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), for a key file.
    pub fn to_pkcs8_pem(&self) -> String {
        let doc = match &self.0 {
            Inner::Rsa(k) => k.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF),
            Inner::Ed25519(k) => k.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF),
        };
        // Encoding a key we hold in memory cannot fail.
        doc.map(|d| d.to_string()).unwrap_or_default()
    }

    /// The `p=` value: the public key, base64 (RSA: SubjectPublicKeyInfo DER; Ed25519:
    /// the 32 raw bytes, RFC 8463 §4.2).
    pub fn public_key_base64(&self) -> String {
        let bytes: Vec<u8> = match &self.0 {
            Inner::Rsa(k) => k
                .to_public_key()
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .unwrap_or_default(),
            Inner::Ed25519(k) => k.verifying_key().to_bytes().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The text of the TXT record to publish at `<selector>._domainkey.<domain>`:
    /// `v=DKIM1; k=rsa; p=…` or `v=DKIM1; k=ed25519; p=…`.
    pub fn dns_txt_value(&self) -> String {
        let k = match self.0 {
            Inner::Rsa(_) => "rsa",
            Inner::Ed25519(_) => "ed25519",
        };
        alloc::format!("v=DKIM1; k={k}; p={}", self.public_key_base64())
    }

    /// Sign `data` (the canonicalised header fields): the SHA-256 of `data` signed with
    /// RSASSA-PKCS1-v1_5 or Ed25519. Both are deterministic: the same key and data give
    /// the same signature.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DkimError> {
        let digest = Sha256::digest(data);
        match &self.0 {
            Inner::Rsa(k) => k
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
                .map_err(|e| DkimError::Crypto {
                    reason: alloc::format!("RSA signing failed: {e}"),
                }),
            Inner::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                Ok(k.sign(&digest).to_bytes().to_vec())
            }
        }
    }

    /// The public key's size in bits (RSA) or 256 (Ed25519).
    pub fn bits(&self) -> usize {
        match &self.0 {
            Inner::Rsa(k) => k.n().bits(),
            Inner::Ed25519(_) => 256,
        }
    }
}
