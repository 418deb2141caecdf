//! ChainVerifier through embedded-tls's `TlsVerifier` trait, on the fixtures of tests/data
//! (see tests/data/README.md): accepted chains, and each refusal with its precise reason.

use embedded_tls::{
    Aes128GcmSha256, CertificateEntryRef, CertificateRef, CertificateVerifyRef, SignatureScheme,
    TlsError, TlsVerifier,
};
use postel_device::verify::{
    pem_block, trust_anchor, ChainVerifier, PemError, TrustAnchor, UnixTime, VerifyFailure,
};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// 2027-01-15T08:00:00Z: inside every long-lived fixture's validity (2025..2100).
const NOW: u64 = 1_800_000_000;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// embedded-tls's TlsError has no PartialEq: results are compared through their Debug form.
type Outcome = Result<(), String>;

fn outcome(r: Result<(), TlsError>) -> Outcome {
    r.map_err(|e| format!("{e:?}"))
}

fn refused(e: TlsError) -> Outcome {
    Err(format!("{e:?}"))
}

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// The transcript hash the cv-*.bin signatures were made over (see gen.sh).
fn transcript() -> Sha256 {
    let mut h = Sha256::new();
    h.update(b"postel transcript");
    h
}

fn message<'a>(certs: &'a [Vec<u8>]) -> CertificateRef<'a> {
    let mut m = CertificateRef::with_context(&[]);
    for c in certs {
        m.add(CertificateEntryRef::X509(c)).unwrap();
    }
    m
}

/// Runs `set_hostname_verification` (unless `host` is None) and `verify_certificate` with
/// anchors from the named root DER files, at `now`.
fn check(
    roots: &[&str],
    host: Option<&str>,
    chain: &[&str],
    now: u64,
) -> (Outcome, Option<VerifyFailure>) {
    let root_ders: Vec<Vec<u8>> = roots.iter().map(|r| data(r)).collect();
    let anchors: Vec<TrustAnchor<'_>> =
        root_ders.iter().map(|d| trust_anchor(d).unwrap()).collect();
    let certs: Vec<Vec<u8>> = chain.iter().map(|c| data(c)).collect();
    check_ders(&anchors, host, &certs, now)
}

fn check_ders(
    anchors: &[TrustAnchor<'_>],
    host: Option<&str>,
    certs: &[Vec<u8>],
    now: u64,
) -> (Outcome, Option<VerifyFailure>) {
    let mut v = ChainVerifier::<Aes128GcmSha256>::new(anchors, at(now));
    if let Some(h) = host {
        TlsVerifier::<Aes128GcmSha256>::set_hostname_verification(&mut v, h).unwrap();
    }
    let r = outcome(v.verify_certificate(&transcript(), message(certs)));
    assert_eq!(r.is_ok(), v.failure().is_none());
    (r, v.failure())
}

#[test]
fn good_ecdsa_chain_via_intermediate() {
    let (r, f) = check(
        &["ec-root.der"],
        Some("mail.example.test"),
        &["ec-leaf.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!((r, f), (Ok(()), None));
}

#[test]
fn good_chain_by_ip_address_literal() {
    let (r, _) = check(
        &["ec-root.der"],
        Some("127.0.0.1"),
        &["ec-leaf.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(r, Ok(()));
}

#[test]
fn intermediates_in_any_order_and_extra_roots() {
    // The root sent along (needless but common) and the intermediate after it; two anchors.
    let (r, _) = check(
        &["ec-other-root.der", "ec-root.der"],
        Some("mail.example.test"),
        &["ec-leaf.der", "ec-root.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(r, Ok(()));
}

#[cfg(feature = "rsa")]
#[test]
fn good_rsa_chain_pkcs1_sha384_4096_and_pss_3072() {
    // rsa-root (4096) signed rsa-inter with PKCS#1 v1.5 SHA-384; rsa-inter (3072) signed
    // rsa-leaf with RSA-PSS SHA-256.
    let (r, f) = check(
        &["rsa-root.der"],
        Some("mail.example.test"),
        &["rsa-leaf.der", "rsa-inter.der"],
        NOW,
    );
    assert_eq!((r, f), (Ok(()), None));
}

#[test]
fn wrong_host_is_refused() {
    let (r, f) = check(
        &["ec-root.der"],
        Some("other.example.test"),
        &["ec-leaf.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(r, refused(TlsError::InvalidCertificate));
    assert_eq!(f, Some(VerifyFailure::WrongName));
    let (_, f) = check(
        &["ec-root.der"],
        Some("127.0.0.2"),
        &["ec-leaf.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(f, Some(VerifyFailure::WrongName));
}

#[test]
fn untrusted_root_is_refused() {
    let (r, f) = check(
        &["ec-other-root.der"],
        Some("mail.example.test"),
        &["ec-leaf.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(r, refused(TlsError::InvalidCertificate));
    assert_eq!(f, Some(VerifyFailure::UnknownIssuer));
}

#[test]
fn leaf_without_its_intermediate_is_refused() {
    let (r, f) = check(
        &["ec-root.der"],
        Some("mail.example.test"),
        &["ec-leaf.der"],
        NOW,
    );
    assert_eq!(r, refused(TlsError::InvalidCertificate));
    assert_eq!(f, Some(VerifyFailure::UnknownIssuer));
}

#[test]
fn expired_leaf_is_refused_with_its_dates() {
    let (r, f) = check(
        &["ec-root.der"],
        Some("mail.example.test"),
        &["ec-expired.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(r, refused(TlsError::InvalidCertificate));
    // notAfter 2021-01-01T00:00:00Z
    assert_eq!(
        f,
        Some(VerifyFailure::Expired {
            now: NOW,
            not_after: 1_609_459_200
        })
    );
}

#[test]
fn not_yet_valid_leaf_is_refused() {
    let (_, f) = check(
        &["ec-root.der"],
        Some("mail.example.test"),
        &["ec-future.der", "ec-inter.der"],
        NOW,
    );
    // notBefore 2090-01-01T00:00:00Z
    assert_eq!(
        f,
        Some(VerifyFailure::NotYetValid {
            now: NOW,
            not_before: 3_786_912_000
        })
    );
}

#[test]
fn good_chain_checked_at_a_time_before_the_ca_is_refused() {
    // The device's clock at 0 (no time source): everything is "not yet valid".
    let (_, f) = check(
        &["ec-root.der"],
        Some("mail.example.test"),
        &["ec-leaf.der", "ec-inter.der"],
        0,
    );
    assert!(
        matches!(f, Some(VerifyFailure::NotYetValid { now: 0, .. })),
        "{f:?}"
    );
}

#[test]
fn client_only_certificate_is_refused() {
    let (_, f) = check(
        &["ec-root.der"],
        Some("mail.example.test"),
        &["ec-client.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(f, Some(VerifyFailure::NotForServerAuth));
}

#[test]
fn certificate_signed_by_a_non_ca_is_refused() {
    let (_, f) = check(
        &["ec-root.der"],
        Some("mail.example.test"),
        &["ec-grandchild.der", "ec-leaf.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(f, Some(VerifyFailure::LeafUsedAsCa));
}

#[test]
fn ca_presented_as_server_certificate_is_refused() {
    let (_, f) = check(
        &["ec-root.der"],
        Some("mail.example.test"),
        &["ec-inter.der"],
        NOW,
    );
    assert_eq!(f, Some(VerifyFailure::CaUsedAsLeaf));
}

#[test]
fn tampered_signature_is_refused() {
    let root = data("ec-root.der");
    let anchors = [trust_anchor(&root).unwrap()];
    let mut leaf = data("ec-leaf.der");
    // The last octet belongs to the signature's s: still valid DER, wrong signature.
    *leaf.last_mut().unwrap() ^= 0x01;
    let (r, f) = check_ders(
        &anchors,
        Some("mail.example.test"),
        &[leaf, data("ec-inter.der")],
        NOW,
    );
    assert_eq!(r, refused(TlsError::InvalidCertificate));
    assert_eq!(f, Some(VerifyFailure::BadSignature));

    #[cfg(feature = "rsa")]
    {
        let rsa_root = data("rsa-root.der");
        let anchors = [trust_anchor(&rsa_root).unwrap()];
        let mut leaf = data("rsa-leaf.der");
        *leaf.last_mut().unwrap() ^= 0x80;
        let (_, f) = check_ders(
            &anchors,
            Some("mail.example.test"),
            &[leaf, data("rsa-inter.der")],
            NOW,
        );
        assert_eq!(f, Some(VerifyFailure::BadSignature));
    }
}

/// Without the `rsa` feature an RSA chain is refused for its algorithm, not accepted.
#[cfg(not(feature = "rsa"))]
#[test]
fn rsa_chain_is_refused_without_the_feature() {
    let (r, f) = check(
        &["rsa-root.der"],
        Some("mail.example.test"),
        &["rsa-leaf.der", "rsa-inter.der"],
        NOW,
    );
    assert_eq!(r, refused(TlsError::InvalidCertificate));
    assert_eq!(f, Some(VerifyFailure::UnsupportedAlgorithm));
}

#[test]
fn garbage_certificate_is_refused() {
    let root = data("ec-root.der");
    let anchors = [trust_anchor(&root).unwrap()];
    let (_, f) = check_ders(
        &anchors,
        Some("mail.example.test"),
        &[b"\x30\x03\x02\x01\x05".to_vec()],
        NOW,
    );
    assert_eq!(f, Some(VerifyFailure::BadEncoding));
}

#[test]
fn no_host_name_is_refused_even_for_a_good_chain() {
    let (r, f) = check(
        &["ec-root.der"],
        None,
        &["ec-leaf.der", "ec-inter.der"],
        NOW,
    );
    assert_eq!(r, refused(TlsError::InvalidCertificate));
    assert_eq!(f, Some(VerifyFailure::NoHostName));
}

#[test]
fn host_name_is_used_for_one_handshake_only() {
    let root = data("ec-root.der");
    let anchors = [trust_anchor(&root).unwrap()];
    let certs = [data("ec-leaf.der"), data("ec-inter.der")];
    let mut v = ChainVerifier::<Aes128GcmSha256>::new(&anchors, at(NOW));
    v.set_host_name("mail.example.test").unwrap();
    assert_eq!(
        outcome(v.verify_certificate(&transcript(), message(&certs))),
        Ok(())
    );
    // A second handshake without set_hostname_verification must not reuse the name.
    assert_eq!(
        outcome(v.verify_certificate(&transcript(), message(&certs))),
        refused(TlsError::InvalidCertificate)
    );
    assert_eq!(v.failure(), Some(VerifyFailure::NoHostName));
}

#[test]
fn invalid_host_names_are_refused_at_once() {
    let mut v = ChainVerifier::<Aes128GcmSha256>::new(&[], at(NOW));
    for bad in ["", "exa mple.test", "-bad-.test", &"a".repeat(254)] {
        assert_eq!(
            outcome(TlsVerifier::<Aes128GcmSha256>::set_hostname_verification(
                &mut v, bad
            )),
            refused(TlsError::InvalidCertificate),
            "{bad:?}"
        );
        assert_eq!(v.failure(), Some(VerifyFailure::InvalidHostName));
    }
    assert_eq!(v.set_host_name("::1"), Ok(()));
    assert_eq!(v.set_host_name("mail.example.test"), Ok(()));
}

#[test]
fn empty_certificate_message_is_refused() {
    let (r, f) = check(&["ec-root.der"], Some("mail.example.test"), &[], NOW);
    assert_eq!(r, refused(TlsError::InvalidCertificateEntry));
    assert_eq!(f, Some(VerifyFailure::NoCertificate));
}

/// Verifies the chain of `leaf` (by `inter`, under `root`), then a CertificateVerify.
fn certificate_verify(
    root: &str,
    chain: &[&str],
    scheme: SignatureScheme,
    signature: &[u8],
) -> (Outcome, Option<VerifyFailure>, bool) {
    let root = data(root);
    let anchors = [trust_anchor(&root).unwrap()];
    let certs: Vec<Vec<u8>> = chain.iter().map(|c| data(c)).collect();
    let mut v = ChainVerifier::<Aes128GcmSha256>::new(&anchors, at(NOW));
    v.set_host_name("mail.example.test").unwrap();
    {
        // The Certificate message's buffer is gone before CertificateVerify arrives.
        let mut owned = certs.clone();
        v.verify_certificate(&transcript(), message(&owned))
            .unwrap();
        for c in &mut owned {
            c.fill(0);
        }
    }
    let r = outcome(v.verify_signature(CertificateVerifyRef {
        signature_scheme: scheme,
        signature,
    }));
    (r, v.failure(), v.is_verified())
}

#[test]
fn certificate_verify_ecdsa_p256() {
    let sig = data("cv-ecdsa-p256.der");
    let ec = ["ec-leaf.der", "ec-inter.der"];
    assert_eq!(
        certificate_verify(
            "ec-root.der",
            &ec,
            SignatureScheme::EcdsaSecp256r1Sha256,
            &sig
        ),
        (Ok(()), None, true)
    );
    let mut bad = sig.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x04;
    assert_eq!(
        certificate_verify(
            "ec-root.der",
            &ec,
            SignatureScheme::EcdsaSecp256r1Sha256,
            &bad
        ),
        (
            refused(TlsError::InvalidSignature),
            Some(VerifyFailure::BadSignature),
            false
        )
    );
}

#[cfg(feature = "rsa")]
#[test]
fn certificate_verify_rsa_pss() {
    let sig = data("cv-rsa2048-pss-sha256.bin");
    let rsa = ["rsa-leaf.der", "rsa-inter.der"];
    assert_eq!(
        certificate_verify(
            "rsa-root.der",
            &rsa,
            SignatureScheme::RsaPssRsaeSha256,
            &sig
        ),
        (Ok(()), None, true)
    );
    let mut bad = sig.clone();
    bad[100] ^= 0x10;
    assert_eq!(
        certificate_verify(
            "rsa-root.der",
            &rsa,
            SignatureScheme::RsaPssRsaeSha256,
            &bad
        ),
        (
            refused(TlsError::InvalidSignature),
            Some(VerifyFailure::BadSignature),
            false
        )
    );
    // Right signature, announced with the wrong hash.
    assert_eq!(
        certificate_verify(
            "rsa-root.der",
            &rsa,
            SignatureScheme::RsaPssRsaeSha384,
            &sig
        )
        .1,
        Some(VerifyFailure::BadSignature)
    );
}

#[cfg(feature = "rsa")]
#[test]
fn certificate_verify_refusals_of_scheme_and_key() {
    let rsa = ["rsa-leaf.der", "rsa-inter.der"];
    // PKCS#1 v1.5 is not allowed in TLS 1.3 CertificateVerify, even when correctly signed.
    let pkcs1 = data("cv-rsa2048-pkcs1-sha256.bin");
    assert_eq!(
        certificate_verify(
            "rsa-root.der",
            &rsa,
            SignatureScheme::RsaPkcs1Sha256,
            &pkcs1
        ),
        (
            refused(TlsError::InvalidSignatureScheme),
            Some(VerifyFailure::UnsupportedAlgorithm),
            false
        )
    );
    // An ECDSA scheme with an RSA key.
    let ecdsa = data("cv-ecdsa-p256.der");
    assert_eq!(
        certificate_verify(
            "rsa-root.der",
            &rsa,
            SignatureScheme::EcdsaSecp256r1Sha256,
            &ecdsa
        )
        .1,
        Some(VerifyFailure::UnsupportedAlgorithm)
    );
    // Ed25519 is offered by embedded-tls's default config but not implemented here.
    assert_eq!(
        certificate_verify(
            "ec-root.der",
            &["ec-leaf.der", "ec-inter.der"],
            SignatureScheme::Ed25519,
            &ecdsa
        )
        .1,
        Some(VerifyFailure::UnsupportedAlgorithm)
    );
    // A 1024-bit server key: its chain is fine, its CertificateVerify is refused.
    let weak = data("cv-rsa1024-pss-sha256.bin");
    assert_eq!(
        certificate_verify(
            "rsa-root.der",
            &["rsa-weak.der", "rsa-inter.der"],
            SignatureScheme::RsaPssRsaeSha256,
            &weak
        ),
        (
            refused(TlsError::InvalidSignature),
            Some(VerifyFailure::UnsupportedKeySize),
            false
        )
    );
}

#[test]
fn certificate_verify_without_a_verified_certificate_is_refused() {
    let root = data("ec-root.der");
    let anchors = [trust_anchor(&root).unwrap()];
    let sig = data("cv-ecdsa-p256.der");
    let mut v = ChainVerifier::<Aes128GcmSha256>::new(&anchors, at(NOW));
    let verify = CertificateVerifyRef {
        signature_scheme: SignatureScheme::EcdsaSecp256r1Sha256,
        signature: &sig,
    };
    assert_eq!(
        outcome(v.verify_signature(verify)),
        refused(TlsError::InvalidHandshake)
    );
    assert_eq!(v.failure(), Some(VerifyFailure::OutOfOrder));
    // Nor after a refused one (wrong host).
    v.set_host_name("other.example.test").unwrap();
    let certs = [data("ec-leaf.der"), data("ec-inter.der")];
    assert!(v
        .verify_certificate(&transcript(), message(&certs))
        .is_err());
    let verify = CertificateVerifyRef {
        signature_scheme: SignatureScheme::EcdsaSecp256r1Sha256,
        signature: &sig,
    };
    assert_eq!(
        outcome(v.verify_signature(verify)),
        refused(TlsError::InvalidHandshake)
    );
    assert!(!v.is_verified());
}

#[test]
fn pem_decodes_to_the_same_der_and_anchor() {
    let pem = data("ec-root.pem");
    let der = data("ec-root.der");
    let mut buf = [0u8; 2048];
    let (decoded, rest) = pem_block(&pem, "CERTIFICATE", &mut buf).unwrap();
    assert_eq!(decoded, &der[..]);
    assert!(rest.iter().all(u8::is_ascii_whitespace));
    assert_eq!(trust_anchor(decoded).unwrap(), trust_anchor(&der).unwrap());
    let mut small = [0u8; 100];
    assert_eq!(
        pem_block(&pem, "CERTIFICATE", &mut small),
        Err(PemError::BufferTooSmall)
    );
    // A bundle of two: root then intermediate.
    let bundle = [data("ec-root.pem"), data("ec-inter.pem")].concat();
    let (first, rest) = pem_block(&bundle, "CERTIFICATE", &mut buf).unwrap();
    assert_eq!(first, &der[..]);
    let mut buf2 = [0u8; 2048];
    assert_eq!(
        pem_block(rest, "CERTIFICATE", &mut buf2).unwrap().0,
        &data("ec-inter.der")[..]
    );
}

#[test]
fn trust_anchor_refuses_garbage() {
    assert_eq!(
        trust_anchor(b"not a certificate"),
        Err(VerifyFailure::BadEncoding)
    );
}

/// A P-384 chain (root, intermediate and server keys, ecdsa-with-SHA384) is accepted with
/// the `p384` feature.
#[cfg(feature = "p384")]
#[test]
fn good_p384_chain() {
    let (r, f) = check(
        &["ec384-root.der"],
        Some("mail.example.test"),
        &["ec384-leaf.der", "ec384-inter.der"],
        NOW,
    );
    assert_eq!((r, f), (Ok(()), None));
}

/// Without the `p384` feature the same chain is refused for its algorithm, not accepted.
#[cfg(not(feature = "p384"))]
#[test]
fn p384_chain_is_refused_without_the_feature() {
    let (r, f) = check(
        &["ec384-root.der"],
        Some("mail.example.test"),
        &["ec384-leaf.der", "ec384-inter.der"],
        NOW,
    );
    assert_eq!(r, refused(TlsError::InvalidCertificate));
    assert_eq!(f, Some(VerifyFailure::UnsupportedAlgorithm));
}
