//! Whether a byte stream is valid UTF-8, checked piece by piece in constant memory (for
//! text attachments read from files: `charset=utf-8` only when it is true).

/// A streaming UTF-8 check: feed the bytes in pieces of any size with
/// [`Utf8Check::push`], then ask [`Utf8Check::is_valid`]. A character split between two
/// pieces is handled; at most three bytes are held between calls.
///
/// ```
/// use postel_mime::Utf8Check;
/// let mut c = Utf8Check::new();
/// let text = "Zürich, 14°C\n".as_bytes();
/// c.push(&text[..2]); // ends inside "ü"
/// c.push(&text[2..]);
/// assert!(c.is_valid());
/// let mut c = Utf8Check::new();
/// c.push(b"Z\xfcrich\n"); // Latin-1
/// assert!(!c.is_valid());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Check {
    /// The start of a character the last piece ended inside.
    pending: [u8; 4],
    pending_len: usize,
    bad: bool,
}

impl Utf8Check {
    /// A check that has seen nothing yet (the empty stream is valid).
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece of the stream.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.bad {
            return;
        }
        // Complete the character the last piece ended inside, a byte at a time.
        while self.pending_len > 0 {
            let Some((&b, rest)) = data.split_first() else {
                return;
            };
            data = rest;
            self.pending[self.pending_len] = b;
            self.pending_len += 1;
            match core::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() || self.pending_len == 4 => {
                    self.bad = true;
                    return;
                }
                Err(_) => {}
            }
        }
        if let Err(e) = core::str::from_utf8(data) {
            if e.error_len().is_some() {
                self.bad = true;
            } else {
                // The piece ends inside a character (at most three bytes of it).
                let tail = &data[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
            }
        }
    }

    /// Whether everything pushed so far is valid UTF-8 and ends on a character boundary.
    pub fn is_valid(&self) -> bool {
        !self.bad && self.pending_len == 0
    }

    /// Whether everything pushed so far is valid UTF-8 (it may end inside a character).
    pub fn still_valid(&self) -> bool {
        !self.bad
    }
}

/// Whether everything `reader` gives is valid UTF-8; reads in 8 KiB pieces and stops at
/// the first invalid byte.
#[cfg(feature = "std")]
pub fn reader_is_utf8<R: std::io::Read>(mut reader: R) -> std::io::Result<bool> {
    let mut check = Utf8Check::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(check.is_valid()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        check.push(&buf[..n]);
        if !check.still_valid() {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn in_pieces(bytes: &[u8], size: usize) -> bool {
        let mut c = Utf8Check::new();
        for piece in bytes.chunks(size) {
            c.push(piece);
        }
        c.is_valid()
    }

    #[test]
    fn agrees_with_from_utf8_for_every_split() {
        let samples: [&[u8]; 9] = [
            "plain ascii".as_bytes(),
            "Zürich 日本 😀 end".as_bytes(),
            b"",
            b"\xff",
            b"a\xc3",            // cut inside a character at the very end
            b"\xe6\x97\xa5\xe6", // one good character, then a cut one
            b"\xed\xa0\x80",     // a UTF-16 surrogate: invalid
            b"\xf4\x90\x80\x80", // beyond U+10FFFF
            b"\xc0\xaf",         // overlong
        ];
        for s in samples {
            let want = core::str::from_utf8(s).is_ok();
            for size in 1..=s.len().max(1) {
                assert_eq!(in_pieces(s, size), want, "{s:?} in pieces of {size}");
            }
        }
    }

    #[test]
    fn every_code_point_split_anywhere_is_valid() {
        let mut all = Vec::new();
        for c in (0u32..0x11_0000).step_by(97).filter_map(char::from_u32) {
            let mut b = [0u8; 4];
            all.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
        for size in [1, 2, 3, 5, 7, 4096] {
            assert!(in_pieces(&all, size), "pieces of {size}");
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn a_reader_is_checked_to_the_end() {
        assert!(reader_is_utf8("ünïcode".as_bytes()).unwrap());
        let mut latin1 = Vec::from(&b"caf"[..]);
        latin1.push(0xe9);
        assert!(!reader_is_utf8(&latin1[..]).unwrap());
    }
}
