//! Why a server's certificate or signature was refused, precisely: embedded-tls only sees a
//! [`TlsError`] (`InvalidCertificate` or `InvalidCertificateEntry` for a refused Certificate
//! message, `InvalidSignature`, `InvalidSignatureScheme` or `InvalidHandshake` for a refused
//! CertificateVerify), the application reads a [`VerifyFailure`] from the verifier.

use embedded_tls::TlsError;

/// The precise reason the verifier refused a server, kept by
/// [`ChainVerifier`](super::ChainVerifier) after a failed handshake
/// ([`ChainVerifier::failure`](super::ChainVerifier::failure)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyFailure {
    /// No host name was given (`TlsConfig::with_server_name` missing): the verifier never
    /// accepts a certificate without a name to check it against.
    NoHostName,
    /// The host name given is neither a DNS name nor an IP address literal, or is longer
    /// than [`MAX_HOST_NAME`](super::MAX_HOST_NAME).
    InvalidHostName,
    /// The server sent no X.509 certificate (an empty Certificate message or a raw public key).
    NoCertificate,
    /// The server sent more intermediates than [`MAX_INTERMEDIATES`](super::MAX_INTERMEDIATES).
    TooManyCertificates,
    /// No path from the server's certificate to one of the trust anchors: the root is not
    /// trusted, or an intermediate is missing from the server's chain.
    UnknownIssuer,
    /// A certificate of the path has expired (`now` is after its notAfter); Unix seconds.
    Expired {
        /// The time the verifier was given.
        now: u64,
        /// The certificate's notAfter.
        not_after: u64,
    },
    /// A certificate of the path is not valid yet (`now` is before its notBefore). On a
    /// device this usually means its clock is wrong (see the module's time policy).
    NotYetValid {
        /// The time the verifier was given.
        now: u64,
        /// The certificate's notBefore.
        not_before: u64,
    },
    /// The server's certificate is not valid for the host name (its subjectAltName has
    /// neither the DNS name nor the IP address).
    WrongName,
    /// The server's certificate has an extendedKeyUsage without serverAuth.
    NotForServerAuth,
    /// A CA certificate was presented as the server's certificate.
    CaUsedAsLeaf,
    /// A certificate without `basicConstraints cA` was used to sign another.
    LeafUsedAsCa,
    /// A pathLenConstraint or name constraint of a CA is violated.
    ConstraintViolated,
    /// A signature in the chain, or the CertificateVerify signature, is wrong.
    BadSignature,
    /// A signature algorithm (in the chain or chosen by the server for CertificateVerify)
    /// that this verifier does not implement, or that does not fit the key.
    UnsupportedAlgorithm,
    /// The server's RSA key is smaller than 2048 or larger than 4096 bits.
    UnsupportedKeySize,
    /// The server's public key does not fit the verifier's buffer
    /// ([`MAX_SPKI`](super::MAX_SPKI) octets).
    KeyTooLarge,
    /// A certificate has a critical extension webpki does not process.
    UnsupportedCriticalExtension,
    /// A certificate's public key is on webpki's list of distrusted keys.
    Distrusted,
    /// A certificate is not well-formed DER X.509 v3.
    BadEncoding,
    /// Path building gave up (too deep or too many candidate paths).
    ChainTooComplex,
    /// CertificateVerify arrived without a verified Certificate before it.
    OutOfOrder,
    /// Another webpki refusal.
    Other,
}

impl VerifyFailure {
    /// The [`TlsError`] the handshake ends with when the Certificate message is refused.
    pub(crate) fn certificate_error(self) -> TlsError {
        match self {
            Self::NoCertificate | Self::TooManyCertificates => TlsError::InvalidCertificateEntry,
            _ => TlsError::InvalidCertificate,
        }
    }

    /// The [`TlsError`] the handshake ends with when CertificateVerify is refused.
    pub(crate) fn signature_error(self) -> TlsError {
        match self {
            Self::UnsupportedAlgorithm => TlsError::InvalidSignatureScheme,
            Self::OutOfOrder => TlsError::InvalidHandshake,
            _ => TlsError::InvalidSignature,
        }
    }

    /// The failure for a webpki error.
    pub(crate) fn from_webpki(error: &webpki::Error) -> Self {
        use webpki::Error as E;
        #[allow(deprecated)]
        match error {
            E::UnknownIssuer => Self::UnknownIssuer,
            E::CertExpired { time, not_after } => Self::Expired {
                now: time.as_secs(),
                not_after: not_after.as_secs(),
            },
            E::CertNotValidYet { time, not_before } => Self::NotYetValid {
                now: time.as_secs(),
                not_before: not_before.as_secs(),
            },
            E::CertNotValidForName(_) => Self::WrongName,
            E::InvalidSignatureForPublicKey => Self::BadSignature,
            E::UnsupportedSignatureAlgorithm
            | E::UnsupportedSignatureAlgorithmContext(_)
            | E::UnsupportedSignatureAlgorithmForPublicKey
            | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
            | E::SignatureAlgorithmMismatch => Self::UnsupportedAlgorithm,
            E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
                Self::NotForServerAuth
            }
            E::CaUsedAsEndEntity => Self::CaUsedAsLeaf,
            E::EndEntityUsedAsCa => Self::LeafUsedAsCa,
            E::PathLenConstraintViolated | E::NameConstraintViolation => Self::ConstraintViolated,
            E::UnsupportedCriticalExtension => Self::UnsupportedCriticalExtension,
            E::CertDistrusted => Self::Distrusted,
            E::BadDer
            | E::BadDerTime
            | E::TrailingData(_)
            | E::MalformedExtensions
            | E::ExtensionValueInvalid
            | E::InvalidCertValidity
            | E::InvalidSerialNumber
            | E::UnsupportedCertVersion
            | E::MalformedDnsIdentifier => Self::BadEncoding,
            E::MaximumPathDepthExceeded
            | E::MaximumSignatureChecksExceeded
            | E::MaximumPathBuildCallsExceeded
            | E::MaximumNameConstraintComparisonsExceeded => Self::ChainTooComplex,
            _ => Self::Other,
        }
    }
}

impl core::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoHostName => f.write_str("no server name to verify the certificate against"),
            Self::InvalidHostName => f.write_str("the server name is not a DNS name or IP address"),
            Self::NoCertificate => f.write_str("the server sent no X.509 certificate"),
            Self::TooManyCertificates => f.write_str("the server sent too many certificates"),
            Self::UnknownIssuer => {
                f.write_str("certificate issuer unknown (untrusted root or missing intermediate)")
            }
            Self::Expired { now, not_after } => {
                write!(
                    f,
                    "certificate expired (notAfter {not_after}, now {now}, Unix seconds)"
                )
            }
            Self::NotYetValid { now, not_before } => write!(
                f,
                "certificate not valid yet (notBefore {not_before}, now {now}, Unix seconds)"
            ),
            Self::WrongName => f.write_str("certificate not valid for the server name"),
            Self::NotForServerAuth => f.write_str("certificate not for TLS server authentication"),
            Self::CaUsedAsLeaf => f.write_str("a CA certificate was presented as the server's"),
            Self::LeafUsedAsCa => f.write_str("a non-CA certificate signed another"),
            Self::ConstraintViolated => {
                f.write_str("a CA's path length or name constraint is violated")
            }
            Self::BadSignature => f.write_str("bad signature"),
            Self::UnsupportedAlgorithm => f.write_str("unsupported signature algorithm"),
            Self::UnsupportedKeySize => f.write_str("RSA key size outside 2048..=4096 bits"),
            Self::KeyTooLarge => f.write_str("server public key too large for the verifier"),
            Self::UnsupportedCriticalExtension => f.write_str("unsupported critical extension"),
            Self::Distrusted => f.write_str("distrusted certificate key"),
            Self::BadEncoding => f.write_str("malformed certificate"),
            Self::ChainTooComplex => f.write_str("certificate path too complex"),
            Self::OutOfOrder => f.write_str("CertificateVerify before a verified Certificate"),
            Self::Other => f.write_str("certificate refused"),
        }
    }
}
