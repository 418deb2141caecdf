//! RFC 2045 §6.8 base64, streaming: 76-character lines, CRLF between them.

use alloc::string::String;
use alloc::vec::Vec;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// RFC 2045 §6.8: "encoded lines must not be longer than 76 characters".
pub(crate) const LINE: usize = 76;

fn quad(b: [u8; 3], n: usize) -> [u8; 4] {
    let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    let mut q = [b'='; 4];
    for (i, slot) in q.iter_mut().enumerate().take(n + 1) {
        *slot = ALPHABET[((v >> (18 - 6 * i)) & 63) as usize];
    }
    q
}

/// Base64 of `data` without line breaks (for encoded words).
pub(crate) fn encode_to_string(data: &[u8], out: &mut String) {
    for chunk in data.chunks(3) {
        let mut b = [0u8; 3];
        b[..chunk.len()].copy_from_slice(chunk);
        for c in quad(b, chunk.len()) {
            out.push(c as char);
        }
    }
}

/// Length of the base64 body for `n` input bytes: lines of 76, CRLF between lines, none
/// after the last (the CRLF before a boundary or at the message end is not the body's).
pub(crate) fn encoded_len(n: u64) -> u64 {
    let chars = n.div_ceil(3) * 4;
    if chars == 0 {
        return 0;
    }
    let lines = chars.div_ceil(LINE as u64);
    chars + 2 * (lines - 1)
}

/// Streaming base64 encoder: feed any chunks, then `finish`.
#[derive(Default)]
pub(crate) struct Base64Encoder {
    carry: [u8; 3],
    carried: usize,
    col: usize,
}

impl Base64Encoder {
    fn emit(&mut self, q: [u8; 4], out: &mut Vec<u8>) {
        if self.col == LINE {
            out.extend_from_slice(b"\r\n");
            self.col = 0;
        }
        out.extend_from_slice(&q);
        self.col += 4;
    }

    /// Encode `input`, appending to `out` (about 4/3 of `input.len()` plus line breaks).
    pub(crate) fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while self.carried > 0 && self.carried < 3 && !input.is_empty() {
            self.carry[self.carried] = input[0];
            self.carried += 1;
            input = &input[1..];
        }
        if self.carried == 3 {
            self.emit(quad(self.carry, 3), out);
            self.carried = 0;
        }
        if self.carried > 0 {
            return;
        }
        let mut chunks = input.chunks_exact(3);
        for c in &mut chunks {
            self.emit(quad([c[0], c[1], c[2]], 3), out);
        }
        let rest = chunks.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
    }

    /// Flush the last partial group with padding.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.carried > 0 {
            let mut b = [0u8; 3];
            b[..self.carried].copy_from_slice(&self.carry[..self.carried]);
            self.emit(quad(b, self.carried), out);
            self.carried = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let mut s = String::new();
        encode_to_string(b"foobar", &mut s);
        assert_eq!(s, "Zm9vYmFy");
        s.clear();
        encode_to_string(b"fo", &mut s);
        assert_eq!(s, "Zm8=");
    }

    #[test]
    fn streaming_matches_length_formula_and_splits() {
        for n in [0usize, 1, 2, 3, 56, 57, 58, 114, 1000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let mut whole = Vec::new();
            let mut e = Base64Encoder::default();
            e.push(&data, &mut whole);
            e.finish(&mut whole);
            let mut bytewise = Vec::new();
            let mut e = Base64Encoder::default();
            for b in &data {
                e.push(core::slice::from_ref(b), &mut bytewise);
            }
            e.finish(&mut bytewise);
            assert_eq!(whole, bytewise);
            assert_eq!(whole.len() as u64, encoded_len(n as u64), "n={n}");
            assert!(whole.split(|&b| b == b'\n').all(|l| l.len() <= LINE + 1));
        }
    }
}
