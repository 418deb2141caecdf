//! Content-Transfer-Encoding (RFC 2045 §6): choosing one from the content, and streaming
//! encoders for each. Every encoder emits CRLF line ends only and no line over 998 octets.
//!
//! How the choice is made:
//! - text parts (`text`, `html`, streams declared text) are in canonical form: any CR, LF
//!   or CRLF is a line break, written as CRLF. In memory they are scanned: 7bit when
//!   ASCII, no NUL and lines ≤ 998; 8bit when only the ASCII test fails and the server
//!   offers 8BITMIME; quoted-printable when at most one byte in four is non-ASCII; base64
//!   otherwise. Streamed text, whose content is unknown ahead, is quoted-printable.
//! - other parts keep their bytes exactly: 7bit only for an in-memory `text/*` attachment
//!   that is already 7bit with CRLF line ends; base64 otherwise (so always for streams).

use alloc::vec::Vec;

use crate::base64::Base64Encoder;

/// RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6: at most 998 octets before CRLF.
pub(crate) const MAX_LINE: usize = 998;
/// RFC 2045 §6.7 (5): quoted-printable lines at most 76 characters, with the soft `=`.
const QP_LINE: usize = 76;

/// A transfer encoding this crate writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferEncoding {
    /// `7bit`: ASCII lines, no NUL.
    SevenBit,
    /// `8bit`: needs the server's 8BITMIME (RFC 6152) and `BODY=8BITMIME`.
    EightBit,
    /// `quoted-printable` (RFC 2045 §6.7).
    QuotedPrintable,
    /// `base64` (RFC 2045 §6.8).
    Base64,
}

impl TransferEncoding {
    /// The header value, as in `Content-Transfer-Encoding: base64`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferEncoding::SevenBit => "7bit",
            TransferEncoding::EightBit => "8bit",
            TransferEncoding::QuotedPrintable => "quoted-printable",
            TransferEncoding::Base64 => "base64",
        }
    }
}

/// What a scan of in-memory content found.
#[derive(Default, Debug)]
pub(crate) struct Scan {
    len: usize,
    eight_bit: usize,
    nul: bool,
    /// A CR or LF that is not part of a CRLF.
    bare: bool,
    /// The longest line, breaking at CR, LF and CRLF.
    max_line: usize,
}

pub(crate) fn scan(data: &[u8]) -> Scan {
    let mut s = Scan {
        len: data.len(),
        ..Scan::default()
    };
    // One pass for NUL and 8-bit octets (0 and 0x80.. are exactly those with
    // `b - 1 >= 0x7f`), which the compiler vectorizes; ASCII text skips counting them.
    let mut special = 0u8;
    for &b in data {
        special |= u8::from(b.wrapping_sub(1) >= 0x7f);
    }
    // Line by line: each line's length, then its CR, LF or CRLF.
    let mut rest = data;
    loop {
        let end = find_line_end(rest);
        let line = &rest[..end.unwrap_or(rest.len())];
        s.max_line = s.max_line.max(line.len());
        if special != 0 {
            s.eight_bit += line.iter().filter(|&&b| b >= 0x80).count();
            s.nul |= line.contains(&0);
        }
        let Some(at) = end else {
            break;
        };
        let crlf = rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n');
        s.bare |= !crlf;
        rest = &rest[at + if crlf { 2 } else { 1 }..];
    }
    s
}

/// Index of the first CR or LF in `s`. Blocks of 16 octets are tested whole first (the
/// compiler turns that test into a few vector instructions), then octet by octet.
fn find_line_end(s: &[u8]) -> Option<usize> {
    let mut at = 0;
    for block in s.chunks_exact(16) {
        let mut found = 0u8;
        for &b in block {
            found |= u8::from(b == b'\r') | u8::from(b == b'\n');
        }
        if found != 0 {
            break;
        }
        at += 16;
    }
    s[at..]
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .map(|i| at + i)
}

/// Choose for text in canonical form (line ends will be normalized).
pub(crate) fn choose_text(s: &Scan, allow_8bit: bool) -> TransferEncoding {
    let lines_ok = !s.nul && s.max_line <= MAX_LINE;
    if lines_ok && s.eight_bit == 0 {
        TransferEncoding::SevenBit
    } else if lines_ok && allow_8bit {
        TransferEncoding::EightBit
    } else if s.eight_bit * 4 <= s.len {
        TransferEncoding::QuotedPrintable
    } else {
        TransferEncoding::Base64
    }
}

/// Choose for bytes that must come back exactly.
pub(crate) fn choose_exact(s: &Scan, is_text_type: bool) -> TransferEncoding {
    if is_text_type && s.eight_bit == 0 && !s.nul && !s.bare && s.max_line <= MAX_LINE {
        TransferEncoding::SevenBit
    } else {
        TransferEncoding::Base64
    }
}

/// Turns CR, LF and CRLF into one line break each.
#[derive(Default)]
pub(crate) struct Lines {
    after_cr: bool,
}

impl Lines {
    /// `Some(true)` for a line break, `Some(false)` for an ordinary byte, `None` to skip.
    fn feed(&mut self, b: u8) -> Option<bool> {
        match b {
            b'\r' => {
                self.after_cr = true;
                Some(true)
            }
            b'\n' if self.after_cr => {
                self.after_cr = false;
                None
            }
            b'\n' => Some(true),
            _ => {
                self.after_cr = false;
                Some(false)
            }
        }
    }
}

/// RFC 2045 §6.7 quoted-printable for text: hard line breaks as CRLF, soft breaks keep
/// lines ≤ 76, whitespace before a break is encoded, and a `.` starting a line is `=2E`.
#[derive(Default)]
pub(crate) struct QpEncoder {
    lines: Lines,
    col: usize,
    held: Option<u8>,
}

impl QpEncoder {
    fn put(&mut self, token: &[u8], out: &mut Vec<u8>) {
        if self.col + token.len() > QP_LINE - 1 {
            out.extend_from_slice(b"=\r\n");
            self.col = 0;
        }
        out.extend_from_slice(token);
        self.col += token.len();
    }

    fn put_encoded(&mut self, b: u8, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        self.put(
            &[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]],
            out,
        );
    }

    fn put_literal(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.col + 1 > QP_LINE - 1 {
            out.extend_from_slice(b"=\r\n");
            self.col = 0;
        }
        if self.col == 0 && b == b'.' {
            self.put_encoded(b, out);
        } else {
            out.push(b);
            self.col += 1;
        }
    }

    fn flush_held(&mut self, at_line_end: bool, out: &mut Vec<u8>) {
        if let Some(w) = self.held.take() {
            if at_line_end {
                self.put_encoded(w, out);
            } else {
                self.put_literal(w, out);
            }
        }
    }

    pub(crate) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            match self.lines.feed(b) {
                None => {}
                Some(true) => {
                    self.flush_held(true, out);
                    out.extend_from_slice(b"\r\n");
                    self.col = 0;
                }
                Some(false) => {
                    self.flush_held(false, out);
                    match b {
                        b' ' | b'\t' => self.held = Some(b),
                        33..=60 | 62..=126 => self.put_literal(b, out),
                        _ => self.put_encoded(b, out),
                    }
                }
            }
        }
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush_held(true, out);
    }
}

/// The streaming encoder for one body.
pub(crate) enum BodyEncoder {
    /// Bytes as they are (7bit content already checked exact).
    Exact,
    /// 7bit/8bit text: line ends normalized to CRLF.
    Lines(Lines),
    /// Quoted-printable text.
    Qp(QpEncoder),
    /// Base64; with `Some`, text whose line ends are normalized first.
    Base64(Base64Encoder, Option<Lines>),
}

impl BodyEncoder {
    /// The encoder for `enc`; `text` says whether line ends are normalized.
    pub(crate) fn new(enc: TransferEncoding, text: bool) -> Self {
        match (enc, text) {
            (TransferEncoding::QuotedPrintable, _) => BodyEncoder::Qp(QpEncoder::default()),
            (TransferEncoding::Base64, t) => {
                BodyEncoder::Base64(Base64Encoder::default(), t.then(Lines::default))
            }
            (_, true) => BodyEncoder::Lines(Lines::default()),
            (_, false) => BodyEncoder::Exact,
        }
    }

    /// Encode a chunk of input, appending to `out`.
    pub(crate) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        match self {
            BodyEncoder::Exact => out.extend_from_slice(input),
            BodyEncoder::Lines(l) => {
                // Runs without CR or LF are copied whole; each line end goes through `feed`.
                out.reserve(input.len());
                let mut rest = input;
                while let Some(at) = find_line_end(rest) {
                    if at > 0 {
                        l.after_cr = false;
                        out.extend_from_slice(&rest[..at]);
                    }
                    if l.feed(rest[at]) == Some(true) {
                        out.extend_from_slice(b"\r\n");
                    }
                    rest = &rest[at + 1..];
                }
                if !rest.is_empty() {
                    l.after_cr = false;
                    out.extend_from_slice(rest);
                }
            }
            BodyEncoder::Qp(q) => q.push(input, out),
            BodyEncoder::Base64(e, None) => e.push(input, out),
            BodyEncoder::Base64(e, Some(l)) => {
                let mut buf = [0u8; 256];
                let mut n = 0;
                for &b in input {
                    let bytes: &[u8] = match l.feed(b) {
                        None => continue,
                        Some(true) => b"\r\n",
                        Some(false) => core::slice::from_ref(&b),
                    };
                    if n + 2 > buf.len() {
                        e.push(&buf[..n], out);
                        n = 0;
                    }
                    buf[n..n + bytes.len()].copy_from_slice(bytes);
                    n += bytes.len();
                }
                e.push(&buf[..n], out);
            }
        }
    }

    /// End of input: flush what is held.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            BodyEncoder::Qp(q) => q.finish(out),
            BodyEncoder::Base64(e, _) => e.finish(out),
            BodyEncoder::Exact | BodyEncoder::Lines(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qp(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = BodyEncoder::new(TransferEncoding::QuotedPrintable, true);
        e.push(input, &mut out);
        e.finish(&mut out);
        out
    }

    #[test]
    fn qp_known_answers() {
        assert_eq!(qp(b"caf\xc3\xa9 = ok"), b"caf=C3=A9 =3D ok");
        assert_eq!(qp(b"trail \nnext\t"), b"trail=20\r\nnext=09");
        assert_eq!(qp(b".dot\r\n.x"), b"=2Edot\r\n=2Ex");
        let long = qp(&[b'a'; 200]);
        assert_eq!(&long[..78], [&[b'a'; 75][..], b"=\r\n"].concat());
        assert!(long.split(|&b| b == b'\n').all(|l| l.len() <= 77));
    }

    #[test]
    fn lines_normalize_every_line_end() {
        let mut out = Vec::new();
        BodyEncoder::new(TransferEncoding::SevenBit, true).push(b"a\nb\rc\r\nd\r\r\n", &mut out);
        assert_eq!(out, b"a\r\nb\r\nc\r\nd\r\n\r\n");
    }

    /// Inputs with CR, LF, NUL and 8-bit octets at and around the 16-octet block edges.
    fn edge_inputs() -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 70] {
            for at in [0, 1, 14, 15, 16, 17, 31, 32] {
                for special in [&b"\r"[..], b"\n", b"\r\n", b"\n\r", b"\0", b"\xe9", b"\r\r"] {
                    let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    let at = at.min(v.len());
                    v.splice(at..at, special.iter().copied());
                    all.push(v);
                }
            }
        }
        all
    }

    #[test]
    fn bulk_scan_and_lines_match_octet_by_octet() {
        for input in edge_inputs() {
            // Reference: the octet-by-octet definitions.
            let mut lines = Lines::default();
            let mut want = Vec::new();
            for &b in &input {
                match lines.feed(b) {
                    None => {}
                    Some(true) => want.extend_from_slice(b"\r\n"),
                    Some(false) => want.push(b),
                }
            }
            for split in [0, 1, 16, input.len() / 2, input.len()] {
                let split = split.min(input.len());
                let mut got = Vec::new();
                let mut e = BodyEncoder::new(TransferEncoding::SevenBit, true);
                e.push(&input[..split], &mut got);
                e.push(&input[split..], &mut got);
                assert_eq!(got, want, "{input:?} split at {split}");
            }
            let s = scan(&input);
            let (mut line, mut max_line, mut bare) = (0, 0, false);
            let mut i = 0;
            while i < input.len() {
                if input[i] == b'\r' || input[i] == b'\n' {
                    let crlf = input[i] == b'\r' && input.get(i + 1) == Some(&b'\n');
                    bare |= !crlf;
                    max_line = max_line.max(line);
                    line = 0;
                    i += if crlf { 2 } else { 1 };
                } else {
                    line += 1;
                    i += 1;
                }
            }
            max_line = max_line.max(line);
            assert_eq!(s.max_line, max_line, "{input:?}");
            assert_eq!(s.bare, bare, "{input:?}");
            assert_eq!(s.nul, input.contains(&0), "{input:?}");
            assert_eq!(
                s.eight_bit,
                input.iter().filter(|&&b| b >= 0x80).count(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn choice_follows_content() {
        assert_eq!(
            choose_text(&scan(b"hello\n"), false),
            TransferEncoding::SevenBit
        );
        assert_eq!(
            choose_text(&scan("héllo wörld, mostly ascii".as_bytes()), false),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            choose_text(&scan("héllo".as_bytes()), true),
            TransferEncoding::EightBit
        );
        assert_eq!(
            choose_text(&scan("日本語のテキスト".as_bytes()), false),
            TransferEncoding::Base64
        );
        assert_eq!(
            choose_text(&scan(&[b'a'; 999]), false),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            choose_exact(&scan(b"a\r\nb"), true),
            TransferEncoding::SevenBit
        );
        assert_eq!(choose_exact(&scan(b"a\nb"), true), TransferEncoding::Base64);
        assert_eq!(choose_exact(&scan(b"ab"), false), TransferEncoding::Base64);
    }
}
