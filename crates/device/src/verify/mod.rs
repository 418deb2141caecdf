//! Certificate verification for embedded-tls on the device, without a heap.
//!
//! [`ChainVerifier`] implements embedded-tls's `TlsVerifier` on rustls-webpki (no `alloc`,
//! no `ring`): the server's chain is built by webpki from the intermediates in its
//! Certificate message up to one of the application's [`TrustAnchor`]s, every certificate's
//! basicConstraints, path length and name constraints, extendedKeyUsage (serverAuth) and
//! validity are checked, the server's certificate must name the host (a DNS name or an IP
//! address literal), and the CertificateVerify signature must verify with its key. A refusal
//! ends the handshake with a `TlsError` and leaves the precise
//! [`VerifyFailure`] in the verifier.
//!
//! Signature algorithms ([`ecdsa`], [`rsa`]): ECDSA P-256 with SHA-256/384 (p256 crate),
//! P-384 with SHA-384/256 behind the `p384` feature, and behind the `rsa` feature RSA
//! PKCS#1 v1.5 and PSS with SHA-256/384/512 for 2048..=4096-bit keys (our own code on
//! crypto-bigint: no crate verifies RSA without a heap). For CertificateVerify:
//! `ecdsa_secp256r1_sha256`, `ecdsa_secp384r1_sha384` (`p384`), `rsa_pss_rsae_sha256/384/512`
//! (`rsa`); offer the RSA ones with `TlsConfig::enable_rsa_signatures()` (embedded-tls only
//! offers them by default with its `alloc` feature).
//!
//! # Time policy
//!
//! Validity is checked against the time given to [`ChainVerifier::new`] or
//! [`ChainVerifier::set_time`], in Unix seconds. A device without a battery-backed clock must
//! get a real time before its first TLS connection: from SNTP, from the cellular modem's
//! network time (`AT+CCLK?`), or from a GNSS receiver, and pass it for each connection.
//! If none is available, the documented fallback is the firmware's build time (e.g. a
//! `SOURCE_DATE_EPOCH` baked in at build): it still refuses certificates that had expired when
//! the firmware was built and ones not yet valid then, but it accepts a certificate that
//! expired (or was revoked and replaced) after the build, for as long as the device runs
//! that firmware. Never pass 0 or a far-future time to "make it work": 0 refuses every
//! certificate as not yet valid, and a far-future time refuses every one as expired.
//!
//! # Resources (Cortex-M3, measured)
//!
//! Measured under QEMU's mps2-an385 (Cortex-M3) with `opt-level = "z"`, LTO and
//! `panic = "abort"`, by a probe firmware that paints the stack and counts instructions
//! (`-icount`), verifying this crate's test fixtures:
//!
//! | what | stack (bytes, deepest) | instructions |
//! | --- | --- | --- |
//! | chain check, P-256 root → intermediate → server (2 ECDSA verifications) + name | 9,032 | 42 M |
//! | CertificateVerify, ECDSA P-256 | 5,472 | 21 M |
//! | chain check, RSA-4096 (PKCS#1 v1.5 SHA-384) → 3072 (PSS SHA-256) → 2048 | 7,640 | 24 M |
//! | CertificateVerify, RSA-2048 PSS SHA-256 | 4,048 | 3.9 M |
//! | a refused (expired) chain | 3,696 | < 0.01 M |
//!
//! About 5 KB of each ECDSA figure is the p256 crate's own verification; building p256,
//! primeorder and elliptic-curve with `opt-level = 3` brings a P-256 verification from 21 M
//! to 13 M instructions for 5.7 KB more flash. The verifier itself takes
//! `size_of::<ChainVerifier<Aes128GcmSha256>>()` = 1,000 bytes of RAM on thumbv7m, mostly
//! the [`MAX_SPKI`] key copy and the host name.
//!
//! Flash (`.text` + `.rodata`, the probe's own code and fixtures taken out): about 68 KB with
//! RSA (webpki 13 KB, sha2 13.5 KB of which SHA-512's unrolled compression 10.5 KB, p256 and
//! primeorder 9 KB, this module 11 KB), about 63 KB without the `rsa` feature. sha2's
//! `force-soft-compact` feature (a firmware can enable it on its own sha2 dependency) saves
//! 11.5 KB at no measurable cost.
//!
//! # Usage
//!
//! ```no_run
//! use embedded_tls::{Aes128GcmSha256, TlsConfig, TlsContext};
//! use postel_device::verify::{pem_block, trust_anchor, ChainVerifier, VerifyingProvider};
//! use rustls_pki_types::UnixTime;
//! # fn rng() -> rand_core::OsRng { rand_core::OsRng }
//! # fn network_time() -> u64 { 1_800_000_000 }
//!
//! // The CA, embedded as PEM, decoded once into a buffer that lives as long as the anchor.
//! static CA_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
//! let mut ca_der = [0u8; 2048];
//! let (ca, _) = pem_block(CA_PEM, "CERTIFICATE", &mut ca_der).unwrap();
//! let anchors = [trust_anchor(ca).unwrap()];
//!
//! let now = UnixTime::since_unix_epoch(core::time::Duration::from_secs(network_time()));
//! let mut provider = VerifyingProvider {
//!     rng: rng(),
//!     verifier: ChainVerifier::<Aes128GcmSha256>::new(&anchors, now),
//! };
//! let config = TlsConfig::new()
//!     .with_server_name("mail.example.com") // required: no name, no verification
//!     .enable_rsa_signatures();
//! let context = TlsContext::new(&config, &mut provider);
//! // tls.open(context) ... then, if it failed:
//! if let Some(why) = provider.verifier.failure() {
//!     // e.g. VerifyFailure::Expired { now, not_after }
//! #   let _ = why;
//! }
//! ```

mod chain;
mod der;
pub mod ecdsa;
mod failure;
mod hash;
mod pem;
#[cfg(feature = "rsa")]
pub mod rsa;

pub use chain::{ChainVerifier, CHAIN_ALGORITHMS, MAX_HOST_NAME, MAX_INTERMEDIATES, MAX_SPKI};
pub use failure::VerifyFailure;
pub use pem::{pem_block, PemError};
pub use rustls_pki_types::{TrustAnchor, UnixTime};

use embedded_tls::{CryptoProvider, CryptoRngCore, TlsCipherSuite, TlsError, TlsVerifier};

/// The trust anchor (subject, public key, name constraints) of a CA certificate's DER,
/// borrowing from `der`; no heap.
///
/// The certificate is trusted as given: use it for the roots (or the private CA) the device
/// is configured to trust, never for a server's own certificate.
pub fn trust_anchor(der: &[u8]) -> Result<TrustAnchor<'_>, VerifyFailure> {
    let cert = rustls_pki_types::CertificateDer::from_slice(der);
    let anchor =
        webpki::anchor_from_trusted_cert(&cert).map_err(|e| VerifyFailure::from_webpki(&e))?;
    // webpki's anchor borrows `cert`, a local: re-borrow the same octets from `der`.
    let within = |part: &[u8]| -> Result<&[u8], VerifyFailure> {
        let start = (part.as_ptr() as usize)
            .checked_sub(der.as_ptr() as usize)
            .ok_or(VerifyFailure::BadEncoding)?;
        der.get(start..start + part.len())
            .ok_or(VerifyFailure::BadEncoding)
    };
    Ok(TrustAnchor {
        subject: within(anchor.subject.as_ref())?.into(),
        subject_public_key_info: within(anchor.subject_public_key_info.as_ref())?.into(),
        name_constraints: match &anchor.name_constraints {
            Some(nc) => Some(within(nc.as_ref())?.into()),
            None => None,
        },
    })
}

/// An embedded-tls `CryptoProvider` with a random number generator and a [`ChainVerifier`].
///
/// Pass it by `&mut` to `TlsContext::new` so that the verifier (and its
/// [`failure`](ChainVerifier::failure)) can be read after the handshake.
pub struct VerifyingProvider<'a, CipherSuite: TlsCipherSuite, Rng> {
    /// The random number generator for the key exchange (a hardware TRNG on the device).
    pub rng: Rng,
    /// The verifier of the server.
    pub verifier: ChainVerifier<'a, CipherSuite>,
}

impl<CipherSuite: TlsCipherSuite, Rng: CryptoRngCore> CryptoProvider
    for VerifyingProvider<'_, CipherSuite, Rng>
{
    type CipherSuite = CipherSuite;
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<CipherSuite>, TlsError> {
        Ok(&mut self.verifier)
    }
}
