//! The benchmark message, the same for every contender: a plain-text body of a chosen size
//! (1 kB by default) and, for the large-message runs, one binary attachment.

use std::io::{self, Read};

/// Envelope sender and `From:`.
pub const FROM: &str = "sender@example.test";

/// Name given in EHLO by every contender that lets us choose it.
pub const EHLO_NAME: &str = "bench.example.test";

/// Subject of every message.
pub const SUBJECT: &str = "Postel benchmark message";

/// File name of the attachment in the large-message runs.
pub const ATTACHMENT_NAME: &str = "data.bin";

/// The `i`th recipient (1-based), in the domain the private Postfix delivers.
pub fn recipient(i: usize) -> String {
    format!("rcpt{i}@example.test")
}

/// The first `n` recipients.
pub fn recipients(n: usize) -> Vec<String> {
    (1..=n).map(recipient).collect()
}

/// ASCII text of exactly `len` octets in lines of at most 72 characters ending in LF, so
/// every composer can send it as 7bit.
pub fn body_text(len: usize) -> String {
    const WORDS: &[u8] =
        b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";
    let mut out = Vec::with_capacity(len);
    let mut col = 0;
    let mut i = 0;
    while out.len() < len {
        if col == 71 || out.len() + 1 == len {
            out.push(b'\n');
            col = 0;
        } else {
            out.push(WORDS[i % WORDS.len()]);
            i += 1;
            col += 1;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Pseudo-random bytes (splitmix64 of the offset), generated on the fly: a 1 GB attachment
/// costs no memory and no disk, and nothing along the way can compress it.
#[derive(Debug, Clone)]
pub struct Pattern {
    offset: u64,
    len: u64,
}

impl Pattern {
    /// `len` octets of pattern.
    pub fn new(len: u64) -> Pattern {
        Pattern { offset: 0, len }
    }
}

fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len - self.offset;
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let mut i = 0;
        while i < n {
            let word = splitmix64(self.offset / 8).to_le_bytes();
            let from = (self.offset % 8) as usize;
            let take = (8 - from).min(n - i);
            buf[i..i + take].copy_from_slice(&word[from..from + take]);
            i += take;
            self.offset += take as u64;
        }
        Ok(n)
    }
}

/// The whole pattern in memory, for the contenders whose API needs it there.
pub fn pattern_vec(len: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // Reading from an in-memory generator cannot fail.
    let _ = Pattern::new(len).read_to_end(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_text_has_the_asked_length_and_short_lines() {
        for len in [1, 72, 1000, 4096] {
            let t = body_text(len);
            assert_eq!(t.len(), len);
            assert!(t.lines().all(|l| l.len() <= 72), "{t:?}");
            assert!(t.ends_with('\n'));
        }
    }

    #[test]
    fn pattern_reader_and_vec_agree() {
        let mut a = Vec::new();
        Pattern::new(1001).read_to_end(&mut a).unwrap_or_default();
        assert_eq!(a, pattern_vec(1001));
        assert_eq!(a.len(), 1001);
    }
}
