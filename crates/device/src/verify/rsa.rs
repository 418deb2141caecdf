//! RSA signature verification without a heap: PKCS#1 v1.5 and PSS (RFC 8017 §8.2.2 and
//! §8.1.2, encodings §9.2 and §9.1.2) with SHA-256/384/512, for 2048- to 4096-bit moduli.
//!
//! No crate offers heap-free RSA verification, so the public-key operation is done here on
//! crypto-bigint's fixed-width [`U4096`]: Montgomery multiplication from its `mul_wide` and
//! `montgomery_reduction`, left-to-right square-and-multiply over the public exponent (which
//! is public, so the exponentiation need not be constant-time). Every modulus size uses the
//! same 4096-bit width: one copy of the code, at the price of a 2048-bit key costing as much
//! as a 4096-bit one (about 30 Montgomery multiplications of 4096 bits per verification).
//!
//! Stack: the big integers are 512 octets each; the deepest frame holds about eight of them
//! (see the crate's verify report for measured figures).

use super::der;
use super::hash::{Hash, MAX_DIGEST};
use crypto_bigint::{Encoding, Limb, U4096, Word, modular::montgomery_reduction};
use rustls_pki_types::{
    AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};

/// Smallest modulus accepted, in bits.
pub const MIN_MODULUS_BITS: usize = 2048;
/// Largest modulus accepted, in bits.
pub const MAX_MODULUS_BITS: usize = 4096;
/// Largest modulus, in octets.
const MAX_LEN: usize = MAX_MODULUS_BITS / 8;

/// Why an RSA signature did not verify (finer than webpki's `InvalidSignature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RsaError {
    /// The modulus is smaller than 2048 or larger than 4096 bits.
    KeySize,
    /// The public key is not a well-formed `RSAPublicKey` (or the exponent is even, below 3,
    /// or above 64 bits).
    BadKey,
    /// The signature does not verify.
    BadSignature,
}

/// The signature encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Padding {
    /// EMSA-PKCS1-v1_5.
    Pkcs1,
    /// EMSA-PSS with MGF1 of the same hash and a salt as long as the hash.
    Pss,
}

/// One RSA signature scheme as a webpki signature algorithm.
#[derive(Debug)]
struct Rsa {
    padding: Padding,
    hash: Hash,
    signature_alg_id: AlgorithmIdentifier,
}

/// `sha256WithRSAEncryption` (PKCS#1 v1.5), 2048..=4096-bit keys.
pub static RSA_PKCS1_SHA256: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: Padding::Pkcs1,
    hash: Hash::Sha256,
    signature_alg_id: alg_id::RSA_PKCS1_SHA256,
};

/// `sha384WithRSAEncryption` (PKCS#1 v1.5), 2048..=4096-bit keys.
pub static RSA_PKCS1_SHA384: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: Padding::Pkcs1,
    hash: Hash::Sha384,
    signature_alg_id: alg_id::RSA_PKCS1_SHA384,
};

/// `sha512WithRSAEncryption` (PKCS#1 v1.5), 2048..=4096-bit keys.
pub static RSA_PKCS1_SHA512: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: Padding::Pkcs1,
    hash: Hash::Sha512,
    signature_alg_id: alg_id::RSA_PKCS1_SHA512,
};

/// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-octet salt, on an `rsaEncryption` key
/// (TLS 1.3 `rsa_pss_rsae_sha256`; `rsassaPss` with those parameters in certificates).
pub static RSA_PSS_SHA256: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: Padding::Pss,
    hash: Hash::Sha256,
    signature_alg_id: alg_id::RSA_PSS_SHA256,
};

/// RSASSA-PSS with SHA-384, MGF1-SHA-384, 48-octet salt (`rsa_pss_rsae_sha384`).
pub static RSA_PSS_SHA384: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: Padding::Pss,
    hash: Hash::Sha384,
    signature_alg_id: alg_id::RSA_PSS_SHA384,
};

/// RSASSA-PSS with SHA-512, MGF1-SHA-512, 64-octet salt (`rsa_pss_rsae_sha512`).
pub static RSA_PSS_SHA512: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: Padding::Pss,
    hash: Hash::Sha512,
    signature_alg_id: alg_id::RSA_PSS_SHA512,
};

impl SignatureVerificationAlgorithm for Rsa {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        verify(
            self.padding == Padding::Pss,
            self.hash,
            public_key,
            message,
            signature,
        )
        .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg_id
    }
}

/// A parsed `RSAPublicKey`: the modulus's octets (no leading zero) and the exponent.
struct PublicKey<'a> {
    modulus: &'a [u8],
    exponent: u64,
}

impl<'a> PublicKey<'a> {
    /// Parses `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
    fn parse(der_key: &'a [u8]) -> Result<Self, RsaError> {
        let seq = der::only(der_key, der::SEQUENCE).ok_or(RsaError::BadKey)?;
        let (n, rest) = der::expect(seq, der::INTEGER).ok_or(RsaError::BadKey)?;
        let e = der::only(rest, der::INTEGER).ok_or(RsaError::BadKey)?;
        let modulus = der::positive_integer(n).ok_or(RsaError::BadKey)?;
        let e = der::positive_integer(e).ok_or(RsaError::BadKey)?;
        if e.len() > 8 {
            return Err(RsaError::BadKey);
        }
        let exponent = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if exponent < 3 || exponent & 1 == 0 {
            return Err(RsaError::BadKey);
        }
        let bits = modulus_bits(modulus);
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
            return Err(RsaError::KeySize);
        }
        if modulus[modulus.len() - 1] & 1 == 0 {
            return Err(RsaError::BadKey);
        }
        Ok(Self { modulus, exponent })
    }
}

/// Bit length of a big-endian magnitude without leading zero octets.
fn modulus_bits(modulus: &[u8]) -> usize {
    match modulus.first() {
        None => 0,
        Some(&top) => modulus.len() * 8 - top.leading_zeros() as usize,
    }
}

/// Verifies `signature` over `message` with the `RSAPublicKey` `der_key`: PSS if `pss`, else
/// PKCS#1 v1.5.
pub(crate) fn verify(
    pss: bool,
    hash: Hash,
    der_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), RsaError> {
    let key = PublicKey::parse(der_key)?;
    let k = key.modulus.len();
    let mut em = [0u8; MAX_LEN];
    public_operation(&key, signature, &mut em)?;
    let em = &mut em[MAX_LEN - k..];
    let mut digest = [0u8; MAX_DIGEST];
    let m_hash = hash.digest(&[message], &mut digest);
    let ok = if pss {
        pss_verify(hash, m_hash, em, modulus_bits(key.modulus) - 1)
    } else {
        pkcs1_verify(hash, m_hash, em)
    };
    if ok {
        Ok(())
    } else {
        Err(RsaError::BadSignature)
    }
}

/// `-n⁻¹ mod 2^w` for the least significant limb of an odd modulus, by Newton's iteration
/// (each step doubles the number of correct low bits: 1, 2, 4, ..., 64).
fn neg_inverse(low: Word) -> Limb {
    let mut inv: Word = 1;
    for _ in 0..6 {
        inv = inv.wrapping_mul((2 as Word).wrapping_sub(low.wrapping_mul(inv)));
    }
    Limb(inv.wrapping_neg())
}

/// The Montgomery context of one modulus.
struct Montgomery {
    modulus: U4096,
    neg_inv: Limb,
}

impl Montgomery {
    /// `a·b·R⁻¹ mod n`, with `R = 2^4096`.
    #[inline(never)]
    fn mul(&self, a: &U4096, b: &U4096) -> U4096 {
        montgomery_reduction(&a.mul_wide(b), &self.modulus, self.neg_inv)
    }

    /// `R² mod n`: `2R mod n` by doubling from the top power of two below `n`, then twelve
    /// Montgomery squarings (the Montgomery form of 2^(2^j) squares to that of 2^(2^(j+1))).
    #[inline(never)]
    fn r_squared(&self, bits: usize) -> U4096 {
        // 2^(bits-1) < n is already reduced; 4096 + 1 - (bits - 1) doublings reach 2^4097 = 2R.
        let mut x = U4096::ONE.shl_vartime(bits - 1);
        for _ in 0..(4096 + 1 - (bits - 1)) {
            x = x.add_mod(&x, &self.modulus);
        }
        // x is now the Montgomery form of 2 = 2^(2^0); after 12 squarings, of 2^4096 = R.
        for _ in 0..12 {
            x = self.mul(&x, &x);
        }
        x
    }
}

/// RSAVP1: `m = s^e mod n`, written big-endian into `em` (all `MAX_LEN` octets).
#[inline(never)]
fn public_operation(
    key: &PublicKey<'_>,
    signature: &[u8],
    em: &mut [u8; MAX_LEN],
) -> Result<(), RsaError> {
    let k = key.modulus.len();
    // RFC 8017 §8.2.2 step 1: the signature is exactly k octets.
    if signature.len() != k {
        return Err(RsaError::BadSignature);
    }
    let mut buf = [0u8; MAX_LEN];
    buf[MAX_LEN - k..].copy_from_slice(key.modulus);
    let modulus = U4096::from_be_slice(&buf);
    buf[MAX_LEN - k..].copy_from_slice(signature);
    let s = U4096::from_be_slice(&buf);
    // RFC 8017 §5.2.2: the signature representative is below the modulus.
    if s >= modulus {
        return Err(RsaError::BadSignature);
    }
    let ctx = Montgomery {
        neg_inv: neg_inverse(modulus.as_words()[0]),
        modulus,
    };
    let r2 = ctx.r_squared(modulus_bits(key.modulus));
    let base = ctx.mul(&s, &r2);
    let mut acc = base;
    let top = 63 - key.exponent.leading_zeros();
    for bit in (0..top).rev() {
        acc = ctx.mul(&acc, &acc);
        if key.exponent >> bit & 1 == 1 {
            acc = ctx.mul(&acc, &base);
        }
    }
    let m = montgomery_reduction(&(acc, U4096::ZERO), &ctx.modulus, ctx.neg_inv);
    *em = m.to_be_bytes();
    Ok(())
}

/// The DER `DigestInfo` prefix (RFC 8017 §9.2 note 1) that precedes a digest in PKCS#1 v1.5.
fn digest_info_prefix(hash: Hash) -> &'static [u8] {
    match hash {
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// EMSA-PKCS1-v1_5 check (§9.2): `EM = 0x00 || 0x01 || PS (0xff…, ≥ 8) || 0x00 || DigestInfo`.
fn pkcs1_verify(hash: Hash, m_hash: &[u8], em: &[u8]) -> bool {
    let prefix = digest_info_prefix(hash);
    let t_len = prefix.len() + m_hash.len();
    if em.len() < t_len + 11 {
        return false;
    }
    let ps_end = em.len() - t_len - 1;
    em[0] == 0x00
        && em[1] == 0x01
        && em[2..ps_end].iter().all(|&b| b == 0xff)
        && em[ps_end] == 0x00
        && &em[ps_end + 1..ps_end + 1 + prefix.len()] == prefix
        && &em[ps_end + 1 + prefix.len()..] == m_hash
}

/// EMSA-PSS verification (§9.1.2) with MGF1 of `hash` and a salt of the hash's length.
///
/// `em` is the k-octet I2OSP of the signature representative; `em_bits` is modBits − 1.
/// `em` is unmasked in place.
fn pss_verify(hash: Hash, m_hash: &[u8], em: &mut [u8], em_bits: usize) -> bool {
    let h_len = hash.len();
    let s_len = h_len;
    let em_len = em_bits.div_ceil(8);
    // I2OSP(m, emLen): when emLen < k the extra leading octet must be zero.
    let (extra, em) = em.split_at_mut(em.len() - em_len);
    if extra.iter().any(|&b| b != 0) {
        return false;
    }
    // Step 3, 4.
    if em_len < h_len + s_len + 2 || em[em_len - 1] != 0xbc {
        return false;
    }
    let (masked_db, rest) = em.split_at_mut(em_len - h_len - 1);
    let h = &rest[..h_len];
    // Step 6: the leftmost 8·emLen − emBits bits of maskedDB are zero.
    let top_bits = 8 * em_len - em_bits;
    let top_mask: u8 = 0xffu8.checked_shr(top_bits as u32).unwrap_or(0);
    if masked_db[0] & !top_mask != 0 {
        return false;
    }
    // Steps 7, 8: DB = maskedDB xor MGF1(H, emLen − hLen − 1).
    mgf1_xor(hash, h, masked_db);
    let db = masked_db;
    // Step 9.
    db[0] &= top_mask;
    // Step 10: PS zeros, then 0x01.
    let ps_len = em_len - h_len - s_len - 2;
    if db[..ps_len].iter().any(|&b| b != 0) || db[ps_len] != 0x01 {
        return false;
    }
    // Steps 11–14: H' = Hash(0x00·8 || mHash || salt) equals H.
    let salt = &db[db.len() - s_len..];
    let mut out = [0u8; MAX_DIGEST];
    let h2 = hash.digest(&[&[0u8; 8], m_hash, salt], &mut out);
    h2 == h
}

/// XORs MGF1(`seed`) (RFC 8017 B.2.1) into `data`.
fn mgf1_xor(hash: Hash, seed: &[u8], data: &mut [u8]) {
    let mut block = [0u8; MAX_DIGEST];
    for (counter, chunk) in data.chunks_mut(hash.len()).enumerate() {
        // At most 512 / 32 = 16 blocks: the counter fits in 32 bits.
        let c = (counter as u32).to_be_bytes();
        let t = hash.digest(&[seed, &c], &mut block);
        for (d, m) in chunk.iter_mut().zip(t) {
            *d ^= m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_inverse() {
        for n in [1 as Word, 3, 0xffff_ffff, 0x1234_5679, Word::MAX] {
            let inv = neg_inverse(n);
            assert_eq!(n.wrapping_mul(inv.0), Word::MAX, "{n:#x}"); // n · (−n⁻¹) ≡ −1
        }
    }

    #[test]
    fn small_keys_and_bad_exponents_are_refused() {
        // RSAPublicKey with a 1024-bit modulus 0x80..01 and e = 65537.
        let mut key = [0u8; 3 + 4 + 128 + 5];
        key[..4].copy_from_slice(&[0x30, 0x81, 137, 0x02]);
        key[4..7].copy_from_slice(&[0x81, 0x81, 0x00]);
        key[7] = 0x80;
        key[7 + 127] = 0x01;
        key[135..].copy_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(PublicKey::parse(&key).err(), Some(RsaError::KeySize));
        key[137] = 0x00; // e = 0x000001 is not minimal DER
        assert_eq!(PublicKey::parse(&key).err(), Some(RsaError::BadKey));
    }
}
