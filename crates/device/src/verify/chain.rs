//! [`ChainVerifier`]: embedded-tls's `TlsVerifier` on rustls-webpki, without a heap.

use super::der;
use super::ecdsa;
use super::failure::VerifyFailure;
#[cfg(feature = "rsa")]
use super::{hash::Hash, rsa};
use core::marker::PhantomData;
use embedded_tls::{
    CertificateEntryRef, CertificateRef, CertificateVerifyRef, SignatureScheme, TlsCipherSuite,
    TlsError, TlsVerifier,
};
use rustls_pki_types::{
    CertificateDer, DnsName, IpAddr, ServerName, SignatureVerificationAlgorithm, TrustAnchor,
    UnixTime,
};
use sha2::Digest;
use webpki::{EndEntityCert, KeyUsage};

/// Longest host name accepted (the longest DNS name, in octets).
pub const MAX_HOST_NAME: usize = 253;
/// Most intermediates taken from the server's Certificate message (embedded-tls keeps at
/// most 16 entries, the server's own certificate included).
pub const MAX_INTERMEDIATES: usize = 15;
/// Room for the server's SubjectPublicKeyInfo, kept from Certificate to CertificateVerify:
/// enough for an RSA-4096 key (546 octets with e = 65537) and any EC key.
pub const MAX_SPKI: usize = 576;

/// The signature algorithms accepted in certificate chains.
pub static CHAIN_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    ecdsa::ECDSA_P256_SHA256,
    ecdsa::ECDSA_P256_SHA384,
    #[cfg(feature = "p384")]
    ecdsa::ECDSA_P384_SHA384,
    #[cfg(feature = "p384")]
    ecdsa::ECDSA_P384_SHA256,
    #[cfg(feature = "rsa")]
    rsa::RSA_PKCS1_SHA256,
    #[cfg(feature = "rsa")]
    rsa::RSA_PKCS1_SHA384,
    #[cfg(feature = "rsa")]
    rsa::RSA_PKCS1_SHA512,
    #[cfg(feature = "rsa")]
    rsa::RSA_PSS_SHA256,
    #[cfg(feature = "rsa")]
    rsa::RSA_PSS_SHA384,
    #[cfg(feature = "rsa")]
    rsa::RSA_PSS_SHA512,
];

/// TLS 1.3 CertificateVerify context (RFC 8446 §4.4.3), with its terminating zero octet.
const CONTEXT: &[u8] = b"TLS 1.3, server CertificateVerify\x00";
/// 64 spaces, the context string, and a transcript hash of at most 64 octets.
const MAX_SIGNED: usize = 64 + CONTEXT.len() + 64;

/// Verifies the server of a TLS 1.3 handshake: its certificate chain up to one of the
/// application's trust anchors (path built by webpki from the intermediates the server sent,
/// in any order; basicConstraints, pathLen, name constraints, extendedKeyUsage serverAuth and
/// validity at the given time checked on every certificate), its name against the host name,
/// and its CertificateVerify signature with the key of the verified certificate.
///
/// It refuses rather than skip: without a host name (embedded-tls only passes one when
/// `TlsConfig::with_server_name` was set) no certificate is accepted. The host name is used
/// for one handshake and then forgotten, so a verifier reused for another connection never
/// checks against a stale name.
///
/// After a refused handshake, [`failure`](Self::failure) says why. The verifier holds no
/// borrow of the handshake's buffers: the server's public key is copied into it (at most
/// [`MAX_SPKI`] octets) between the Certificate and CertificateVerify messages.
///
/// `CipherSuite` is embedded-tls's cipher suite type (`Aes128GcmSha256`), whose hash the
/// transcript uses.
pub struct ChainVerifier<'a, CipherSuite: TlsCipherSuite> {
    anchors: &'a [TrustAnchor<'a>],
    now: UnixTime,
    host: [u8; MAX_HOST_NAME],
    host_len: usize,
    spki: [u8; MAX_SPKI],
    spki_len: usize,
    transcript: Option<CipherSuite::Hash>,
    failure: Option<VerifyFailure>,
    verified: bool,
    _suite: PhantomData<CipherSuite>,
}

impl<'a, CipherSuite: TlsCipherSuite> ChainVerifier<'a, CipherSuite> {
    /// A verifier trusting `anchors` (see [`trust_anchor`](super::trust_anchor)) at time `now`.
    ///
    /// `now` must be the real time: see the module documentation's time policy.
    pub fn new(anchors: &'a [TrustAnchor<'a>], now: UnixTime) -> Self {
        Self {
            anchors,
            now,
            host: [0; MAX_HOST_NAME],
            host_len: 0,
            spki: [0; MAX_SPKI],
            spki_len: 0,
            transcript: None,
            failure: None,
            verified: false,
            _suite: PhantomData,
        }
    }

    /// Sets the time certificates are checked against, e.g. before each connection.
    pub fn set_time(&mut self, now: UnixTime) {
        self.now = now;
    }

    /// The time certificates are checked against.
    pub fn time(&self) -> UnixTime {
        self.now
    }

    /// Sets the name the server's certificate must be valid for, for the next handshake: a
    /// DNS name (`mail.example.com`) or an IP address literal (`192.0.2.1`, `2001:db8::1`).
    ///
    /// embedded-tls calls this (through `TlsVerifier::set_hostname_verification`) with
    /// `TlsConfig`'s server name at the start of `open`.
    pub fn set_host_name(&mut self, name: &str) -> Result<(), VerifyFailure> {
        self.host_len = 0;
        if name.len() > MAX_HOST_NAME || server_name(name).is_none() {
            self.failure = Some(VerifyFailure::InvalidHostName);
            return Err(VerifyFailure::InvalidHostName);
        }
        self.host[..name.len()].copy_from_slice(name.as_bytes());
        self.host_len = name.len();
        Ok(())
    }

    /// Why the last handshake's server was refused, if it was (reset by the next Certificate).
    pub fn failure(&self) -> Option<VerifyFailure> {
        self.failure
    }

    /// Whether the last handshake's server passed both checks: its chain and name, and its
    /// CertificateVerify signature.
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// Checks a Certificate message: the chain to a trust anchor and the server's name; keeps
    /// the server's public key and the transcript for [`check_signature`](Self::check_signature).
    pub fn check_certificate(
        &mut self,
        transcript: &CipherSuite::Hash,
        certificate: &CertificateRef<'_>,
    ) -> Result<(), VerifyFailure> {
        self.failure = None;
        self.verified = false;
        self.spki_len = 0;
        self.transcript = None;
        let host_len = core::mem::take(&mut self.host_len);
        let result = self.check_chain(host_len, certificate);
        match result {
            Ok(()) => self.transcript = Some(transcript.clone()),
            Err(failure) => self.failure = Some(failure),
        }
        result
    }

    /// The chain and name checks, and the copy of the server's SubjectPublicKeyInfo.
    fn check_chain(
        &mut self,
        host_len: usize,
        certificate: &CertificateRef<'_>,
    ) -> Result<(), VerifyFailure> {
        if host_len == 0 {
            return Err(VerifyFailure::NoHostName);
        }
        let host = core::str::from_utf8(&self.host[..host_len])
            .map_err(|_| VerifyFailure::InvalidHostName)?;
        let name = server_name(host).ok_or(VerifyFailure::InvalidHostName)?;

        let mut entries = certificate.entries.iter();
        let leaf = match entries.next() {
            Some(CertificateEntryRef::X509(der)) => *der,
            _ => return Err(VerifyFailure::NoCertificate),
        };
        let mut intermediates: [CertificateDer<'_>; MAX_INTERMEDIATES] =
            core::array::from_fn(|_| CertificateDer::from_slice(&[]));
        let mut count = 0;
        for entry in entries {
            let CertificateEntryRef::X509(der) = entry else {
                return Err(VerifyFailure::NoCertificate);
            };
            let slot = intermediates
                .get_mut(count)
                .ok_or(VerifyFailure::TooManyCertificates)?;
            *slot = CertificateDer::from_slice(der);
            count += 1;
        }

        let leaf_der = CertificateDer::from_slice(leaf);
        let webpki_failure = |e: webpki::Error| VerifyFailure::from_webpki(&e);
        let end_entity = EndEntityCert::try_from(&leaf_der).map_err(webpki_failure)?;
        end_entity
            .verify_for_usage(
                CHAIN_ALGORITHMS,
                self.anchors,
                &intermediates[..count],
                self.now,
                KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(webpki_failure)?;
        end_entity
            .verify_is_valid_for_subject_name(&name)
            .map_err(webpki_failure)?;

        let spki = der::certificate_spki(leaf).ok_or(VerifyFailure::BadEncoding)?;
        let room = self
            .spki
            .get_mut(..spki.len())
            .ok_or(VerifyFailure::KeyTooLarge)?;
        room.copy_from_slice(spki);
        self.spki_len = spki.len();
        Ok(())
    }

    /// Checks the CertificateVerify signature over the transcript with the key of the
    /// certificate [`check_certificate`](Self::check_certificate) accepted.
    ///
    /// Accepted schemes: `ecdsa_secp256r1_sha256` (and `ecdsa_secp384r1_sha384` with the
    /// `p384` feature), `rsa_pss_rsae_sha256/384/512` (with the `rsa` feature). PKCS#1 v1.5
    /// schemes are refused, as RFC 8446 §4.4.3 forbids them in CertificateVerify.
    pub fn check_signature(
        &mut self,
        verify: &CertificateVerifyRef<'_>,
    ) -> Result<(), VerifyFailure> {
        let result = self.check_signature_inner(verify);
        self.spki_len = 0;
        match result {
            Ok(()) => self.verified = true,
            Err(failure) => self.failure = Some(failure),
        }
        result
    }

    fn check_signature_inner(
        &mut self,
        verify: &CertificateVerifyRef<'_>,
    ) -> Result<(), VerifyFailure> {
        let transcript = self.transcript.take().ok_or(VerifyFailure::OutOfOrder)?;
        if self.spki_len == 0 {
            return Err(VerifyFailure::OutOfOrder);
        }
        let (key_alg, key) =
            der::spki_parts(&self.spki[..self.spki_len]).ok_or(VerifyFailure::BadEncoding)?;

        let mut signed = [0u8; MAX_SIGNED];
        signed[..64].fill(b' ');
        signed[64..64 + CONTEXT.len()].copy_from_slice(CONTEXT);
        let hash = transcript.finalize();
        let end = 64 + CONTEXT.len() + hash.len();
        signed
            .get_mut(64 + CONTEXT.len()..end)
            .ok_or(VerifyFailure::UnsupportedAlgorithm)?
            .copy_from_slice(&hash);
        let signed = &signed[..end];

        let ecdsa_alg = match verify.signature_scheme {
            SignatureScheme::EcdsaSecp256r1Sha256 => Some(ecdsa::ECDSA_P256_SHA256),
            #[cfg(feature = "p384")]
            SignatureScheme::EcdsaSecp384r1Sha384 => Some(ecdsa::ECDSA_P384_SHA384),
            _ => None,
        };
        if let Some(alg) = ecdsa_alg {
            if alg.public_key_alg_id().as_ref() != key_alg {
                return Err(VerifyFailure::UnsupportedAlgorithm);
            }
            return alg
                .verify_signature(key, signed, verify.signature)
                .map_err(|_| VerifyFailure::BadSignature);
        }

        #[cfg(feature = "rsa")]
        {
            let hash = match verify.signature_scheme {
                SignatureScheme::RsaPssRsaeSha256 => Some(Hash::Sha256),
                SignatureScheme::RsaPssRsaeSha384 => Some(Hash::Sha384),
                SignatureScheme::RsaPssRsaeSha512 => Some(Hash::Sha512),
                _ => None,
            };
            if let Some(hash) = hash {
                if rustls_pki_types::alg_id::RSA_ENCRYPTION.as_ref() != key_alg {
                    return Err(VerifyFailure::UnsupportedAlgorithm);
                }
                return rsa::verify(rsa::Padding::Pss, hash, key, signed, verify.signature)
                    .map_err(|e| match e {
                        rsa::RsaError::KeySize => VerifyFailure::UnsupportedKeySize,
                        rsa::RsaError::BadKey => VerifyFailure::BadEncoding,
                        rsa::RsaError::BadSignature => VerifyFailure::BadSignature,
                    });
            }
        }
        Err(VerifyFailure::UnsupportedAlgorithm)
    }
}

/// A host name as webpki's `ServerName`: an IP address literal, else a DNS name.
fn server_name(name: &str) -> Option<ServerName<'_>> {
    if let Ok(ip) = IpAddr::try_from(name) {
        return Some(ServerName::IpAddress(ip));
    }
    DnsName::try_from(name).ok().map(ServerName::DnsName)
}

impl<CipherSuite: TlsCipherSuite> TlsVerifier<CipherSuite> for ChainVerifier<'_, CipherSuite> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), TlsError> {
        self.set_host_name(hostname)
            .map_err(VerifyFailure::certificate_error)
    }

    fn verify_certificate(
        &mut self,
        transcript: &CipherSuite::Hash,
        cert: CertificateRef<'_>,
    ) -> Result<(), TlsError> {
        self.check_certificate(transcript, &cert)
            .map_err(VerifyFailure::certificate_error)
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef<'_>) -> Result<(), TlsError> {
        self.check_signature(&verify)
            .map_err(VerifyFailure::signature_error)
    }
}
