//! Known-answer tests of the signature algorithms: signatures made by `openssl dgst -sign`
//! (tests/data/gen.sh) verify, and one flipped bit (of the signature or of the message) fails.

use postel_device::verify::ecdsa;
#[cfg(feature = "rsa")]
use postel_device::verify::rsa;
use rustls_pki_types::SignatureVerificationAlgorithm;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Good signature verifies; flipping any of a few bits of it, or of the message, fails.
fn known_answer(alg: &dyn SignatureVerificationAlgorithm, key: &[u8], sig_file: &str) {
    let msg = data("msg.bin");
    let sig = data(sig_file);
    assert!(
        alg.verify_signature(key, &msg, &sig).is_ok(),
        "{sig_file} should verify"
    );
    for at in [0, sig.len() / 2, sig.len() - 1] {
        for bit in [0x01u8, 0x80] {
            let mut bad = sig.clone();
            bad[at] ^= bit;
            assert!(
                alg.verify_signature(key, &msg, &bad).is_err(),
                "{sig_file}: sig bit {bit:#x} of octet {at}"
            );
        }
    }
    let mut bad_msg = msg.clone();
    bad_msg[3] ^= 0x20;
    assert!(
        alg.verify_signature(key, &bad_msg, &sig).is_err(),
        "{sig_file}: message changed"
    );
    // Truncated or extended signatures.
    assert!(alg
        .verify_signature(key, &msg, &sig[..sig.len() - 1])
        .is_err());
    assert!(alg
        .verify_signature(key, &msg, &[&sig[..], &[0]].concat())
        .is_err());
    assert!(alg.verify_signature(key, &msg, &[]).is_err());
}

/// The SEC1 point of the P-256 server key: the last 65 octets of its SPKI DER.
fn p256_point() -> Vec<u8> {
    let spki = data("ec-leaf.spki.der");
    spki[spki.len() - 65..].to_vec()
}

#[test]
fn ecdsa_p256_sha256() {
    known_answer(
        ecdsa::ECDSA_P256_SHA256,
        &p256_point(),
        "sig-p256-sha256.der",
    );
}

#[test]
fn ecdsa_p256_sha384() {
    known_answer(
        ecdsa::ECDSA_P256_SHA384,
        &p256_point(),
        "sig-p256-sha384.der",
    );
}

/// The P-384 known answer (last 97 octets of the SPKI: the SEC1 point).
#[cfg(feature = "p384")]
#[test]
fn ecdsa_p384_sha384() {
    let spki = data("ec384-leaf.spki.der");
    known_answer(
        ecdsa::ECDSA_P384_SHA384,
        &spki[spki.len() - 97..],
        "sig-p384-sha384.der",
    );
}

#[test]
fn ecdsa_wrong_hash_or_key_fails() {
    let msg = data("msg.bin");
    let sig = data("sig-p256-sha256.der");
    assert!(ecdsa::ECDSA_P256_SHA384
        .verify_signature(&p256_point(), &msg, &sig)
        .is_err());
    let mut key = p256_point();
    key[10] ^= 1; // no longer a point on the curve
    assert!(ecdsa::ECDSA_P256_SHA256
        .verify_signature(&key, &msg, &sig)
        .is_err());
    assert!(ecdsa::ECDSA_P256_SHA256
        .verify_signature(&[], &msg, &sig)
        .is_err());
}

#[cfg(feature = "rsa")]
#[test]
fn rsa2048_pkcs1_sha256_384_512() {
    let key = data("rsa-leaf.pub.der");
    known_answer(rsa::RSA_PKCS1_SHA256, &key, "sig-rsa2048-pkcs1-sha256.bin");
    known_answer(rsa::RSA_PKCS1_SHA384, &key, "sig-rsa2048-pkcs1-sha384.bin");
    known_answer(rsa::RSA_PKCS1_SHA512, &key, "sig-rsa2048-pkcs1-sha512.bin");
}

#[cfg(feature = "rsa")]
#[test]
fn rsa2048_pss_sha256_384_512() {
    let key = data("rsa-leaf.pub.der");
    known_answer(rsa::RSA_PSS_SHA256, &key, "sig-rsa2048-pss-sha256.bin");
    known_answer(rsa::RSA_PSS_SHA384, &key, "sig-rsa2048-pss-sha384.bin");
    known_answer(rsa::RSA_PSS_SHA512, &key, "sig-rsa2048-pss-sha512.bin");
}

#[cfg(feature = "rsa")]
#[test]
fn rsa3072_and_rsa4096() {
    known_answer(
        rsa::RSA_PSS_SHA384,
        &data("rsa-inter.pub.der"),
        "sig-rsa3072-pss-sha384.bin",
    );
    known_answer(
        rsa::RSA_PKCS1_SHA512,
        &data("rsa-root.pub.der"),
        "sig-rsa4096-pkcs1-sha512.bin",
    );
    known_answer(
        rsa::RSA_PSS_SHA256,
        &data("rsa-root.pub.der"),
        "sig-rsa4096-pss-sha256.bin",
    );
}

/// A 2049-bit modulus: the PSS encoding is one octet shorter than the modulus.
#[cfg(feature = "rsa")]
#[test]
fn rsa2049_pss_and_pkcs1() {
    let key = data("rsa-odd.pub.der");
    known_answer(rsa::RSA_PSS_SHA256, &key, "sig-rsa2049-pss-sha256.bin");
    known_answer(rsa::RSA_PKCS1_SHA256, &key, "sig-rsa2049-pkcs1-sha256.bin");
}

#[cfg(feature = "rsa")]
#[test]
fn rsa_padding_and_hash_must_match() {
    let key = data("rsa-leaf.pub.der");
    let msg = data("msg.bin");
    let pkcs1 = data("sig-rsa2048-pkcs1-sha256.bin");
    let pss = data("sig-rsa2048-pss-sha256.bin");
    assert!(rsa::RSA_PSS_SHA256
        .verify_signature(&key, &msg, &pkcs1)
        .is_err());
    assert!(rsa::RSA_PKCS1_SHA256
        .verify_signature(&key, &msg, &pss)
        .is_err());
    assert!(rsa::RSA_PKCS1_SHA384
        .verify_signature(&key, &msg, &pkcs1)
        .is_err());
    assert!(rsa::RSA_PSS_SHA512
        .verify_signature(&key, &msg, &pss)
        .is_err());
    // Another key of the same size.
    assert!(rsa::RSA_PKCS1_SHA256
        .verify_signature(&data("rsa-inter.pub.der"), &msg, &pkcs1)
        .is_err());
}

#[cfg(feature = "rsa")]
#[test]
fn rsa_1024_bit_key_is_refused_even_with_a_good_signature() {
    let key = data("rsa-weak.pub.der");
    let msg = data("msg.bin");
    let sig = data("sig-rsa1024-pkcs1-sha256.bin");
    assert_eq!(sig.len(), 128);
    assert!(rsa::RSA_PKCS1_SHA256
        .verify_signature(&key, &msg, &sig)
        .is_err());
}

#[cfg(feature = "rsa")]
#[test]
fn rsa_signature_not_below_the_modulus_is_refused() {
    let key = data("rsa-leaf.pub.der");
    let msg = data("msg.bin");
    assert!(rsa::RSA_PKCS1_SHA256
        .verify_signature(&key, &msg, &[0xff; 256])
        .is_err());
    assert!(rsa::RSA_PKCS1_SHA256
        .verify_signature(&key, &msg, &[0; 256])
        .is_err());
}

#[cfg(feature = "rsa")]
#[test]
fn algorithm_identifiers_are_webpki_s() {
    use rustls_pki_types::alg_id;
    assert_eq!(
        ecdsa::ECDSA_P256_SHA256.public_key_alg_id(),
        alg_id::ECDSA_P256
    );
    assert_eq!(
        ecdsa::ECDSA_P256_SHA256.signature_alg_id(),
        alg_id::ECDSA_SHA256
    );
    assert_eq!(
        rsa::RSA_PSS_SHA384.public_key_alg_id(),
        alg_id::RSA_ENCRYPTION
    );
    assert_eq!(
        rsa::RSA_PSS_SHA384.signature_alg_id(),
        alg_id::RSA_PSS_SHA384
    );
    assert_eq!(
        rsa::RSA_PKCS1_SHA512.signature_alg_id(),
        alg_id::RSA_PKCS1_SHA512
    );
}
