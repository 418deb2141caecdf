//! RSA signature verification without a heap: PKCS#1 v1.5 and PSS (RFC 8017 §8.2.2 and
//! §8.1.2, encodings §9.2 and §9.1.2) with SHA-256/384/512, for 2048- to 4096-bit moduli.
//!
//! No crate offers heap-free RSA verification, so the public-key operation is done here, on
//! crypto-bigint's fixed-width [`U4096`] as storage and its limb arithmetic (`mac`, `adc`,
//! `sbb`): Montgomery multiplication by coarsely integrated operand scanning over only the
//! limbs the modulus uses (a 2048-bit key costs a quarter of a 4096-bit one), `R² mod n` by
//! doublings and Montgomery squarings, then left-to-right square-and-multiply over the public
//! exponent (public, so the exponentiation need not be constant-time): 18 multiplications for
//! e = 65537, plus about 12 for `R²`.
//!
//! Stack: four 512-octet integers in `public_operation`'s frame, a 520-octet accumulator in
//! the multiplication's, the 512-octet encoded message in `verify`'s: about 3.5 KB in all
//! (measured on a Cortex-M3: see the crate's documentation of the verifier).

use super::der;
use super::hash::{Hash, MAX_DIGEST};
use crypto_bigint::{Limb, Word, U4096};
use rustls_pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm,
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
pub(crate) enum Padding {
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
        verify(self.padding, self.hash, public_key, message, signature)
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

/// Verifies `signature` over `message` with the `RSAPublicKey` `der_key`, encoded with
/// `padding`.
pub(crate) fn verify(
    padding: Padding,
    hash: Hash,
    der_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), RsaError> {
    let key = PublicKey::parse(der_key)?;
    let k = key.modulus.len();
    let mut em = [0u8; MAX_LEN];
    let em = &mut em[..k];
    public_operation(&key, signature, em)?;
    let mut digest = [0u8; MAX_DIGEST];
    let m_hash = hash.digest(&[message], &mut digest);
    let ok = match padding {
        Padding::Pss => pss_verify(hash, m_hash, em, modulus_bits(key.modulus) - 1),
        Padding::Pkcs1 => pkcs1_verify(hash, m_hash, em),
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

/// Limbs of the widest modulus.
const LIMBS: usize = U4096::LIMBS;

/// A modulus and its Montgomery constants, for `R = 2^(w·len)` where `len` is the number of
/// limbs the modulus really uses (so a 2048-bit key costs a quarter of a 4096-bit one).
struct Modulus {
    n: U4096,
    len: usize,
    neg_inv: Limb,
}

/// Loads a big-endian magnitude of at most 512 octets into `out`'s limbs.
fn load_be(bytes: &[u8], out: &mut U4096) {
    let limbs = out.as_limbs_mut();
    limbs.fill(Limb::ZERO);
    for (i, &b) in bytes.iter().rev().enumerate() {
        let limb = &mut limbs[i / Limb::BYTES];
        limb.0 |= Word::from(b) << (8 * (i % Limb::BYTES));
    }
}

/// Writes the low `out.len()` octets of `x`, big-endian.
fn store_be(x: &U4096, out: &mut [u8]) {
    let limbs = x.as_limbs();
    let len = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        let at = len - 1 - i;
        // Truncation picks the octet out of its limb.
        *o = (limbs[at / Limb::BYTES].0 >> (8 * (at % Limb::BYTES))) as u8;
    }
}

/// Whether `a >= b`, both of the same length, most significant limb last.
fn at_least(a: &[Limb], b: &[Limb]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x.0 != y.0 {
            return x.0 > y.0;
        }
    }
    true
}

/// `a -= b` (same lengths), ignoring the final borrow.
fn sub_assign(a: &mut [Limb], b: &[Limb]) {
    let mut borrow = Limb::ZERO;
    for (x, y) in a.iter_mut().zip(b) {
        (*x, borrow) = x.sbb(*y, borrow);
    }
}

impl Modulus {
    /// The used limbs of `x`.
    fn limbs<'x>(&self, x: &'x U4096) -> &'x [Limb] {
        &x.as_limbs()[..self.len]
    }

    /// `x = 2x mod n`, for `x < n`.
    fn double(&self, x: &mut U4096) {
        let n = self.limbs(&self.n);
        let x = &mut x.as_limbs_mut()[..self.len];
        let mut carry: Word = 0;
        for limb in x.iter_mut() {
            let top = limb.0 >> (Limb::BITS - 1);
            limb.0 = (limb.0 << 1) | carry;
            carry = top;
        }
        if carry != 0 || at_least(x, n) {
            sub_assign(x, n);
        }
    }

    /// `out = a·b·R⁻¹ mod n` (Montgomery multiplication, coarsely integrated operand
    /// scanning), for `a, b < n`.
    #[inline(never)]
    fn mul(&self, a: &U4096, b: &U4096, out: &mut U4096) {
        let s = self.len;
        let (a, b, n) = (self.limbs(a), self.limbs(b), self.limbs(&self.n));
        let mut t = [Limb::ZERO; LIMBS + 2];
        for &bi in b {
            let mut carry = Limb::ZERO;
            for j in 0..s {
                (t[j], carry) = t[j].mac(a[j], bi, carry);
            }
            (t[s], carry) = t[s].adc(carry, Limb::ZERO);
            t[s + 1] = carry;
            let m = Limb(t[0].0.wrapping_mul(self.neg_inv.0));
            let (_, mut carry) = t[0].mac(m, n[0], Limb::ZERO);
            for j in 1..s {
                (t[j - 1], carry) = t[j].mac(m, n[j], carry);
            }
            (t[s - 1], carry) = t[s].adc(carry, Limb::ZERO);
            t[s] = t[s + 1].wrapping_add(carry);
        }
        // t < 2n: one subtraction at most.
        if t[s].0 != 0 || at_least(&t[..s], n) {
            sub_assign(&mut t[..s], n);
        }
        let out = out.as_limbs_mut();
        out[..s].copy_from_slice(&t[..s]);
        out[s..].fill(Limb::ZERO);
    }

    /// `out = R² mod n`, the Montgomery form of R, using `tmp` as scratch.
    ///
    /// `2R mod n` (the Montgomery form of 2) by doubling from the highest power of two below
    /// n; then left-to-right binary exponentiation of 2 to the power `w·len` in Montgomery
    /// form, where multiplying by 2 is one more doubling.
    #[inline(never)]
    fn r_squared(&self, bits: usize, out: &mut U4096, tmp: &mut U4096) {
        let r_bits = self.len * Limb::BITS;
        *out = U4096::ZERO;
        out.as_limbs_mut()[(bits - 1) / Limb::BITS].0 = 1 << ((bits - 1) % Limb::BITS);
        // 2^(bits-1) → 2^(r_bits+1) = 2R.
        for _ in 0..(r_bits + 1 - (bits - 1)) {
            self.double(out);
        }
        // out = Mont(2); walk the bits of r_bits below its top one.
        let top = usize::BITS - 1 - r_bits.leading_zeros();
        for bit in (0..top).rev() {
            self.mul(out, out, tmp);
            *out = *tmp;
            if r_bits >> bit & 1 == 1 {
                self.double(out);
            }
        }
    }
}

/// RSAVP1: `m = s^e mod n`, written big-endian into `em` (`k` octets, the modulus length).
#[inline(never)]
fn public_operation(key: &PublicKey<'_>, signature: &[u8], em: &mut [u8]) -> Result<(), RsaError> {
    let k = key.modulus.len();
    // RFC 8017 §8.2.2 step 1: the signature is exactly k octets.
    if signature.len() != k || em.len() != k {
        return Err(RsaError::BadSignature);
    }
    let bits = modulus_bits(key.modulus);
    let mut m = Modulus {
        n: U4096::ZERO,
        len: bits.div_ceil(Limb::BITS),
        neg_inv: Limb::ZERO,
    };
    load_be(key.modulus, &mut m.n);
    m.neg_inv = neg_inverse(m.n.as_limbs()[0].0);

    let mut acc = U4096::ZERO;
    load_be(signature, &mut acc);
    // RFC 8017 §5.2.2: the signature representative is below the modulus.
    if at_least(m.limbs(&acc), m.limbs(&m.n)) {
        return Err(RsaError::BadSignature);
    }
    let mut base = U4096::ZERO;
    let mut tmp = U4096::ZERO;
    m.r_squared(bits, &mut base, &mut tmp);
    // base = Mont(s) = s·R² ·R⁻¹.
    m.mul(&acc, &base, &mut tmp);
    base = tmp;
    acc = tmp;
    let top = 63 - key.exponent.leading_zeros();
    for bit in (0..top).rev() {
        m.mul(&acc, &acc, &mut tmp);
        if key.exponent >> bit & 1 == 1 {
            m.mul(&tmp, &base, &mut acc);
        } else {
            acc = tmp;
        }
    }
    // Out of Montgomery form: multiply by 1.
    m.mul(&acc, &U4096::ONE, &mut tmp);
    store_be(&tmp, em);
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
