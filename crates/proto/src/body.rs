//! Streaming body encoder: CRLF normalization and, for `DATA`, dot-stuffing.
//!
//! ```text
//! C: DATA
//! S: 354 End data with <CR><LF>.<CR><LF>
//! C: Subject: hi
//! C:
//! C: ..a line that began with a dot
//! C: .
//! S: 250 2.0.0 Ok: queued
//! ```
//!
//! [`BodyEncoder`] turns the message bytes the caller hands over, in chunks of any size, into
//! the bytes that go on the wire:
//!
//! - **Line ends are normalized to CRLF.** A CR followed by LF is one line end; a bare LF is a
//!   line end; a bare CR is a line end followed by whatever byte came next. So no bare CR or
//!   LF ever reaches the wire. This is the client half of the SMTP smuggling defence (servers
//!   disagree about `<LF>.<LF>` and `<CR>.<CR>`; a client that never emits either cannot be
//!   used to end a message early and smuggle a second one). RFC 5321 §2.3.8 and §4.1.1.4
//!   forbid bare CR and LF in the body anyway.
//! - **Dot-stuffing** ([`Framing::Data`] only, RFC 5321 §4.5.2): a line that starts with `.`
//!   gets a second `.`, so the body can never contain `CRLF.CRLF` before the terminator the
//!   encoder writes in [`BodyEncoder::finish`]. [`Framing::Bdat`] (RFC 3030 §2) needs neither
//!   stuffing nor a terminator, because the chunk sizes delimit the message.
//! - **A missing final line end is added** (RFC 5321 §4.1.1.4: the terminator must follow a
//!   CRLF), except for an empty body, which stays empty.
//!
//! What it deliberately does not do:
//!
//! - **NUL bytes pass through unchanged.** RFC 5321 §4.5.2 leaves them to the receiver and
//!   binary MIME (RFC 3030 `BINARYMIME`) carries them legitimately; refusing them is the
//!   composer's call, not the framing layer's.
//! - **Long lines are neither folded nor cut.** RFC 5321 §4.5.3.1.6 limits a text line to
//!   1000 octets including CRLF (998 of content). The composer (`postel-mime`) guarantees that
//!   for the messages it builds; for bytes from elsewhere the encoder only records the
//!   longest line it emitted ([`BodyEncoder::longest_line`], counting a stuffed dot) so the
//!   session can decide whether to refuse the message before it writes the terminator.
//!   Silently rewriting the body would break signatures (DKIM) and is not ours to do.
//!
//! The encoder is a small `Clone` state machine with no buffer of its own: whatever it
//! cannot write yet stays in the caller's input, so feeding the same bytes in any chunking,
//! into output buffers of any size, gives the same output bytes.

/// How the body is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// After `DATA` (RFC 5321 §4.1.1.4): dot-stuffing, and the terminator `.` CRLF at the end.
    Data,
    /// In `BDAT` chunks (RFC 3030 §2): no stuffing and no terminator; the chunk sizes frame it.
    Bdat,
}

/// Encodes a message body for the wire, chunk by chunk; see the [module docs](self).
///
/// ```
/// use postel_proto::body::{BodyEncoder, Framing};
/// let mut enc = BodyEncoder::new(Framing::Data);
/// let mut out = [0u8; 64];
/// let (consumed, mut n) = enc.encode(b"Hi\n.\nbye", &mut out);
/// assert_eq!(consumed, 8);
/// n += enc.finish(&mut out[n..]).unwrap();
/// assert_eq!(&out[..n], b"Hi\r\n..\r\nbye\r\n.\r\n");
/// assert_eq!(enc.written(), n as u64);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct BodyEncoder {
    framing: Framing,
    /// The last thing emitted was a line end (or nothing was emitted yet).
    at_line_start: bool,
    /// A CR was consumed but not yet emitted: whether it pairs with an LF depends on the
    /// next byte, which may only arrive in the next `encode` call.
    pending_cr: bool,
    finished: bool,
    written: u64,
    /// Dots added by stuffing: on the wire, but not part of the message (RFC 1870 §4).
    stuffed: u64,
    /// Octets emitted on the current line so far, CRLF excluded.
    line_len: usize,
    longest_line: usize,
}

impl BodyEncoder {
    /// A fresh encoder for one message body.
    pub const fn new(framing: Framing) -> Self {
        BodyEncoder {
            framing,
            at_line_start: true,
            pending_cr: false,
            finished: false,
            written: 0,
            stuffed: 0,
            line_len: 0,
            longest_line: 0,
        }
    }

    /// Encodes as much of `input` as fits into `out`; returns `(consumed, written)`.
    ///
    /// The unconsumed rest of `input` must be offered again (followed by the rest of the
    /// body); state carries over between calls, so any chunking of the input and any sizes
    /// of `out` give the same output bytes. Whenever `input` is not empty and `out` has
    /// room for at least 3 bytes (2 suffice), the call consumes or writes something.
    ///
    /// After [`finish`](Self::finish) the body is over and this returns `(0, 0)`.
    pub fn encode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        if self.finished {
            return (0, 0);
        }
        let mut consumed = 0;
        let mut written = 0;
        while let (Some(rest_in), Some(rest_out)) = (input.get(consumed..), out.get_mut(written..))
        {
            let (c, w) = self.step(rest_in, rest_out);
            if c == 0 && w == 0 {
                break;
            }
            consumed += c;
            written += w;
        }
        self.written += written as u64;
        (consumed, written)
    }

    /// One unit of work: a run of ordinary bytes, one line end, one stuffed dot, or the
    /// resolution of a pending CR. Returns `(0, 0)` when out of input or output room.
    fn step(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let Some(&first) = input.first() else {
            return (0, 0);
        };
        if self.pending_cr {
            // The CR is a line end either way; an LF right after it belongs to it.
            if !put(out, b"\r\n") {
                return (0, 0);
            }
            self.pending_cr = false;
            self.end_line();
            return (usize::from(first == b'\n'), 2);
        }
        match first {
            b'\r' => {
                // Undecided until the next byte is seen, which may be in the next call.
                self.pending_cr = true;
                (1, 0)
            }
            b'\n' => {
                if !put(out, b"\r\n") {
                    return (0, 0);
                }
                self.end_line();
                (1, 2)
            }
            b'.' if self.at_line_start && self.framing == Framing::Data => {
                // RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP client
                // checks the first character of the line. If it is a period, one
                // additional period is inserted at the beginning of the line."
                if !put(out, b"..") {
                    return (0, 0);
                }
                // §4.5.3.1.6: the duplicated dot does not count against the line limit.
                self.add_to_line(1);
                self.stuffed += 1;
                (1, 2)
            }
            _ => {
                // A run of bytes that are neither CR nor LF is copied as is.
                let run = run_len(input);
                let n = run.min(out.len());
                let (Some(src), Some(dst)) = (input.get(..n), out.get_mut(..n)) else {
                    return (0, 0);
                };
                dst.copy_from_slice(src);
                if n > 0 {
                    self.add_to_line(n);
                }
                (n, n)
            }
        }
    }

    fn add_to_line(&mut self, n: usize) {
        self.at_line_start = false;
        self.line_len = self.line_len.saturating_add(n);
        self.longest_line = self.longest_line.max(self.line_len);
    }

    fn end_line(&mut self) {
        self.at_line_start = true;
        self.line_len = 0;
    }

    /// Ends the body; returns the number of bytes written to `out`.
    ///
    /// Resolves a pending CR, adds CRLF if the body did not end with a line end (an empty
    /// body stays empty), and for [`Framing::Data`] writes the terminator `.` CRLF
    /// (RFC 5321 §4.1.1.4). At most 5 bytes are needed; if `out` is shorter than what is
    /// needed, nothing is written and `Err(needed)` says how many. Calling it again after
    /// it succeeded writes nothing and returns `Ok(0)`.
    pub fn finish(&mut self, out: &mut [u8]) -> Result<usize, usize> {
        if self.finished {
            return Ok(0);
        }
        let line_end: &[u8] = if self.pending_cr || !self.at_line_start {
            b"\r\n"
        } else {
            b""
        };
        let terminator: &[u8] = match self.framing {
            Framing::Data => b".\r\n",
            Framing::Bdat => b"",
        };
        let needed = line_end.len() + terminator.len();
        let Some(dst) = out.get_mut(..needed) else {
            return Err(needed);
        };
        let (a, b) = dst.split_at_mut(line_end.len());
        a.copy_from_slice(line_end);
        b.copy_from_slice(terminator);
        self.pending_cr = false;
        self.end_line();
        self.finished = true;
        self.written += needed as u64;
        Ok(needed)
    }

    /// Total bytes written so far, by [`encode`](Self::encode) and
    /// [`finish`](Self::finish): the BDAT chunk sizes add up to it (RFC 3030 §2).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The message size so far as RFC 1870 §4 counts it against the server's SIZE: the
    /// octets written, less the dots added by stuffing and the `.` CRLF terminator.
    pub fn message_size(&self) -> u64 {
        let terminator = match (self.finished, self.framing) {
            (true, Framing::Data) => 3,
            _ => 0,
        };
        self.written - self.stuffed - terminator
    }

    /// The longest line emitted so far, in octets without its CRLF and without a stuffing
    /// dot (RFC 5321 §4.5.3.1.6 does not count it). 998 are allowed; the encoder does not
    /// enforce it.
    pub fn longest_line(&self) -> usize {
        self.longest_line
    }
}

/// Writes all of `bytes` at the start of `out`, or nothing if it does not fit.
fn put(out: &mut [u8], bytes: &[u8]) -> bool {
    match out.get_mut(..bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// Length of the run of bytes at the start of `input` that are neither CR nor LF. Blocks
/// of 16 octets are tested whole first (the compiler turns that test into a few vector
/// instructions), then octet by octet.
fn run_len(input: &[u8]) -> usize {
    let mut at = 0;
    for block in input.chunks_exact(16) {
        let mut found = 0u8;
        for &b in block {
            found |= u8::from(b == b'\r') | u8::from(b == b'\n');
        }
        if found != 0 {
            break;
        }
        at += 16;
    }
    input
        .get(at..)
        .unwrap_or(&[])
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .map_or(input.len(), |i| at + i)
}

#[cfg(test)]
mod tests {

    #[test]
    fn run_len_stops_at_the_first_cr_or_lf_around_block_edges() {
        for len in [0usize, 1, 15, 16, 17, 32, 33, 70] {
            for at in [0usize, 1, 15, 16, 17, 31, 32, 48] {
                for special in [b'\r', b'\n'] {
                    let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    let at = at.min(v.len());
                    v.insert(at, special);
                    assert_eq!(super::run_len(&v), at, "{v:?}");
                    assert_eq!(super::run_len(&v[..at]), at);
                }
            }
        }
    }

    use super::*;
    use proptest::prelude::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn esc(bytes: &[u8]) -> String {
        bytes.escape_ascii().to_string()
    }

    /// Encodes `input` in one go and finishes.
    fn encode_all(framing: Framing, input: &[u8]) -> (Vec<u8>, BodyEncoder) {
        encode_chunked(framing, input, &[usize::MAX], &[input.len() * 2 + 8])
    }

    /// Encodes `input` cut into pieces of the given sizes (cycled) through output buffers of
    /// the given sizes (cycled), checking that every call makes progress.
    fn encode_chunked(
        framing: Framing,
        input: &[u8],
        chunks: &[usize],
        outs: &[usize],
    ) -> (Vec<u8>, BodyEncoder) {
        let mut enc = BodyEncoder::new(framing);
        let mut wire = Vec::new();
        let mut buf = std::vec![0u8; outs.iter().copied().max().unwrap_or(0)];
        let (mut pos, mut chunk_i, mut out_i) = (0, 0, 0);
        while pos < input.len() {
            let len = chunks[chunk_i % chunks.len()].max(1);
            chunk_i += 1;
            let mut chunk = &input[pos..input.len().min(pos.saturating_add(len))];
            pos += chunk.len();
            while !chunk.is_empty() {
                let out = &mut buf[..outs[out_i % outs.len()]];
                out_i += 1;
                let (c, w) = enc.encode(chunk, out);
                assert!(c > 0 || w > 0, "no progress with out.len() = {}", out.len());
                wire.extend_from_slice(&out[..w]);
                chunk = &chunk[c..];
            }
        }
        let mut tail = [0u8; 5];
        let n = enc.finish(&mut tail).expect("5 bytes always suffice");
        wire.extend_from_slice(&tail[..n]);
        assert_eq!(enc.written(), wire.len() as u64);
        (wire, enc)
    }

    #[test]
    fn message_size_leaves_out_stuffed_dots_and_terminator() {
        let (wire, enc) = encode_all(Framing::Data, b".a\n.b\nc");
        assert_eq!(wire, b"..a\r\n..b\r\nc\r\n.\r\n");
        assert_eq!(enc.written(), 16);
        assert_eq!(enc.message_size(), 11, "\".a\\r\\n.b\\r\\nc\\r\\n\"");
        let (_, enc) = encode_all(Framing::Bdat, b".a\n.b\nc");
        assert_eq!(enc.message_size(), enc.written());
    }

    fn check(framing: Framing, input: &[u8], expected: &[u8]) {
        let (wire, _) = encode_all(framing, input);
        assert_eq!(
            esc(&wire),
            esc(expected),
            "{framing:?} encoding of {}",
            esc(input)
        );
    }

    #[test]
    fn data_known_answers() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"a\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r\n.\r\n", b"a\r\n..\r\n.\r\n"),
            (b"\r", b"\r\n.\r\n"),
            (b"\n", b"\r\n.\r\n"),
            (b"\r\r\n\n\r", b"\r\n\r\n\r\n\r\n.\r\n"),
            (b"\n\r", b"\r\n\r\n.\r\n"),
            (b"a.b\n..c", b"a.b\r\n...c\r\n.\r\n"),
            (b"x\0y", b"x\0y\r\n.\r\n"),
            // The smuggling sequences servers disagree about come out harmless.
            (b"a\n.\nMAIL FROM:<x>", b"a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"),
            (b"a\r.\r\n", b"a\r\n..\r\n.\r\n"),
        ];
        for (input, expected) in cases {
            check(Framing::Data, input, expected);
        }
    }

    #[test]
    fn bdat_known_answers() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"a", b"a\r\n"),
            (b".\r\n", b".\r\n"),
            (b"a\n.\rb", b"a\r\n.\r\nb\r\n"),
            (b"\r", b"\r\n"),
            (b"x\0y\r\n", b"x\0y\r\n"),
        ];
        for (input, expected) in cases {
            check(Framing::Bdat, input, expected);
        }
    }

    #[test]
    fn pending_cr_is_decided_by_the_next_call() {
        let mut enc = BodyEncoder::new(Framing::Data);
        let mut out = [0u8; 8];
        assert_eq!(enc.encode(b"a\r", &mut out), (2, 1));
        assert_eq!(enc.encode(b"\n.", &mut out), (2, 4));
        assert_eq!(esc(&out[..4]), esc(b"\r\n.."));
    }

    #[test]
    fn longest_line_counts_octets_without_the_stuffed_dot() {
        let (_, enc) = encode_all(Framing::Data, b"abc\r\n.defg\nxy");
        assert_eq!(enc.longest_line(), 5);
        let (_, enc) = encode_all(Framing::Bdat, b"abc\r\n.defg\nxy");
        assert_eq!(enc.longest_line(), 5);
        let long = [b'x'; 1200];
        let (wire, enc) = encode_all(Framing::Data, &long);
        assert_eq!(enc.longest_line(), 1200);
        assert_eq!(wire.len(), 1200 + 2 + 3, "long lines pass through uncut");
    }

    #[test]
    fn finish_reports_needed_room_and_writes_nothing() {
        let mut enc = BodyEncoder::new(Framing::Data);
        let mut out = [0u8; 5];
        assert_eq!(enc.encode(b"a\r", &mut out), (2, 1));
        let mut small = [0xAAu8; 4];
        assert_eq!(enc.finish(&mut small), Err(5));
        assert_eq!(small, [0xAA; 4]);
        assert_eq!(enc.written(), 1);
        assert_eq!(enc.finish(&mut out), Ok(5));
        assert_eq!(esc(&out), esc(b"\r\n.\r\n"));
        assert_eq!(enc.written(), 6);
        assert_eq!(enc.finish(&mut out), Ok(0));
        assert_eq!(enc.encode(b"more", &mut out), (0, 0));
    }

    #[test]
    fn empty_body_needs_only_the_terminator() {
        let mut enc = BodyEncoder::new(Framing::Data);
        assert_eq!(enc.finish(&mut [0u8; 2]), Err(3));
        let mut enc = BodyEncoder::new(Framing::Bdat);
        assert_eq!(enc.finish(&mut []), Ok(0));
    }

    #[test]
    fn tiny_output_buffers_still_progress() {
        let input = b".a\r\r.\n\n..\rb";
        let (whole, _) = encode_all(Framing::Data, input);
        for size in 2..8 {
            let (wire, _) = encode_chunked(Framing::Data, input, &[1, 2, 3], &[size]);
            assert_eq!(esc(&wire), esc(&whole), "out size {size}");
        }
    }

    /// The reference: line ends normalized to CRLF, a final one added to a non-empty body.
    fn normalize(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            match input[i] {
                b'\r' if input.get(i + 1) == Some(&b'\n') => {
                    out.extend_from_slice(b"\r\n");
                    i += 1;
                }
                b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
                b => out.push(b),
            }
            i += 1;
        }
        if !out.is_empty() && !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// What a server does with DATA: drop the terminator, then one leading dot per line.
    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let body = wire.strip_suffix(b".\r\n").expect("terminator");
        let mut out = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        out
    }

    fn has_bare_cr_or_lf(wire: &[u8]) -> bool {
        wire.iter().enumerate().any(|(i, &b)| {
            (b == b'\r' && wire.get(i + 1) != Some(&b'\n'))
                || (b == b'\n' && (i == 0 || wire[i - 1] != b'\r'))
        })
    }

    fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
        // Mostly the bytes that matter, so line ends and dots meet often.
        let byte = prop_oneof![
            4 => prop::sample::select(&b"\r\n.a\0"[..]),
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..200)
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_output(
            input in body_bytes(),
            chunks in prop::collection::vec(1usize..20, 1..8),
            outs in prop::collection::vec(3usize..12, 1..8),
            bdat in any::<bool>(),
        ) {
            let framing = if bdat { Framing::Bdat } else { Framing::Data };
            let (whole, a) = encode_all(framing, &input);
            let (split, b) = encode_chunked(framing, &input, &chunks, &outs);
            prop_assert_eq!(esc(&split), esc(&whole));
            prop_assert_eq!(a.longest_line(), b.longest_line());
        }

        #[test]
        fn output_never_has_a_bare_cr_or_lf(input in body_bytes(), bdat in any::<bool>()) {
            let framing = if bdat { Framing::Bdat } else { Framing::Data };
            let (wire, _) = encode_all(framing, &input);
            prop_assert!(!has_bare_cr_or_lf(&wire), "{}", esc(&wire));
        }

        #[test]
        fn data_has_no_early_terminator(input in body_bytes()) {
            let (wire, _) = encode_all(Framing::Data, &input);
            let body = &wire[..wire.len() - 3];
            prop_assert!(wire.ends_with(b".\r\n"));
            prop_assert!(body.is_empty() || body.ends_with(b"\r\n"));
            prop_assert!(!body.starts_with(b".\r\n"), "{}", esc(&wire));
            prop_assert!(
                !body.windows(5).any(|w| w == b"\r\n.\r\n"),
                "{}", esc(&wire)
            );
        }

        #[test]
        fn unstuffing_gives_back_the_normalized_input(input in body_bytes()) {
            let (wire, enc) = encode_all(Framing::Data, &input);
            prop_assert_eq!(esc(&unstuff(&wire)), esc(&normalize(&input)));
            let longest = wire[..wire.len() - 3]
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .map(|l| l.strip_prefix(b".").unwrap_or(l).len())
                .max()
                .unwrap_or(0);
            prop_assert_eq!(enc.longest_line(), longest);
        }

        #[test]
        fn bdat_is_the_normalized_input(input in body_bytes()) {
            let (wire, _) = encode_all(Framing::Bdat, &input);
            prop_assert_eq!(esc(&wire), esc(&normalize(&input)));
        }
    }
}
