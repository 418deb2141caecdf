//! The random numbers TLS and SCRAM need: ChaCha20 keyed from a seed compiled in fresh by
//! each build, mixed with the millisecond tick count when it is made.
//!
//! This is good enough for a QEMU demonstration and nothing more: every run of one image
//! starts from the same seed, and the tick count adds only a few bits. A real board must seed
//! from its true random number generator (the TRNG peripheral most Cortex-M parts have, or
//! the radio's noise source) on every boot.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

/// A cryptographically secure generator (given a secret, unpredictable seed).
#[derive(Debug)]
pub struct Rng(ChaCha20Rng);

impl Rng {
    /// Keys the generator from `seed` with `ticks` folded into its first eight octets.
    pub fn new(seed: [u8; 32], ticks: u64) -> Rng {
        let mut key = seed;
        for (k, t) in key.iter_mut().zip(ticks.to_le_bytes()) {
            *k ^= t;
        }
        Rng(ChaCha20Rng::from_seed(key))
    }
}

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl CryptoRng for Rng {}
