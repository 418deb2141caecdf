//! Canonicalisation (RFC 6376 §3.4): how header fields and the body are normalised before
//! they are hashed, so that a signature survives what mail systems are allowed to change.
//!
//! The body canonicaliser is a streaming state machine: bytes are pushed in any chunks,
//! canonical bytes come out, and only a count of trailing empty lines is held back (never
//! the lines themselves), so memory is constant in body size.

use alloc::vec::Vec;

/// A canonicalisation algorithm (RFC 6376 §3.4), for the header or for the body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Canonicalization {
    /// `simple`: bytes as they are (the body loses only its trailing empty lines).
    Simple,
    /// `relaxed`: header names lower-cased, folding undone, runs of white space made one
    /// space; trailing white space of body lines removed. Survives most relays.
    #[default]
    Relaxed,
}

impl Canonicalization {
    /// The name used in the `c=` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Canonicalization::Simple => "simple",
            Canonicalization::Relaxed => "relaxed",
        }
    }
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// One header field, `name:value` with its folding CRLFs, without the final CRLF, in the
/// canonical form of `c`, followed by CRLF (RFC 6376 §3.4.1, §3.4.2).
///
/// ```
/// use postel_mime::dkim::{canonicalize_header, Canonicalization};
/// let field = b"SubJect : AbC\r\n\tdef  ";
/// assert_eq!(canonicalize_header(Canonicalization::Relaxed, field), b"subject:AbC def\r\n");
/// assert_eq!(canonicalize_header(Canonicalization::Simple, field), b"SubJect : AbC\r\n\tdef  \r\n");
/// ```
pub fn canonicalize_header(c: Canonicalization, field: &[u8]) -> Vec<u8> {
    let mut out = canonicalize_header_unterminated(c, field);
    out.extend_from_slice(b"\r\n");
    out
}

/// As [`canonicalize_header`], without the final CRLF (how the `DKIM-Signature` field
/// itself is hashed, RFC 6376 §3.7).
pub fn canonicalize_header_unterminated(c: Canonicalization, field: &[u8]) -> Vec<u8> {
    match c {
        Canonicalization::Simple => field.to_vec(),
        Canonicalization::Relaxed => {
            let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
            let (name, value) = field.split_at(colon);
            let mut out = Vec::with_capacity(field.len());
            // The name: lower case, white space before the colon removed.
            let name = trim_wsp_end(name);
            out.extend(name.iter().map(u8::to_ascii_lowercase));
            if value.is_empty() {
                return out;
            }
            out.push(b':');
            // The value: unfolded, runs of WSP made one SP, WSP at both ends removed.
            let mut pending_space = false;
            let mut started = false;
            for &b in &value[1..] {
                match b {
                    b'\r' | b'\n' => {}
                    b if is_wsp(b) => pending_space = true,
                    b => {
                        if pending_space && started {
                            out.push(b' ');
                        }
                        pending_space = false;
                        started = true;
                        out.push(b);
                    }
                }
            }
            out
        }
    }
}

fn trim_wsp_end(s: &[u8]) -> &[u8] {
    let mut end = s.len();
    while end > 0 && is_wsp(s[end - 1]) {
        end -= 1;
    }
    &s[..end]
}

/// The body canonicaliser (RFC 6376 §3.4.3, §3.4.4), fed in chunks of any size.
///
/// ```
/// use postel_mime::dkim::{BodyCanonicalizer, Canonicalization};
/// let mut c = BodyCanonicalizer::new(Canonicalization::Relaxed);
/// let mut out = Vec::new();
/// c.push(b" C \r\nD \t E\r\n\r\n", &mut out);
/// c.push(b"\r\n", &mut out);
/// c.finish(&mut out);
/// assert_eq!(out, b" C\r\nD E\r\n");
/// ```
#[derive(Clone, Debug)]
pub struct BodyCanonicalizer {
    c: Canonicalization,
    /// No byte of the current line has been written yet.
    at_line_start: bool,
    /// Empty lines seen and not yet written (written only if content follows).
    empty_lines: u64,
    /// The last byte pushed was a CR that may start a CRLF.
    held_cr: bool,
    /// Relaxed: white space seen in the current line and not yet written.
    pending_wsp: bool,
    /// Anything at all has been written.
    wrote: bool,
}

impl BodyCanonicalizer {
    /// A canonicaliser for `c`.
    pub fn new(c: Canonicalization) -> Self {
        BodyCanonicalizer {
            c,
            at_line_start: true,
            empty_lines: 0,
            held_cr: false,
            pending_wsp: false,
            wrote: false,
        }
    }

    fn content(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.at_line_start {
            for _ in 0..self.empty_lines {
                out.extend_from_slice(b"\r\n");
            }
            self.empty_lines = 0;
            self.at_line_start = false;
        }
        if self.pending_wsp {
            out.push(b' ');
            self.pending_wsp = false;
        }
        out.push(b);
        self.wrote = true;
    }

    fn end_of_line(&mut self, out: &mut Vec<u8>) {
        self.pending_wsp = false;
        if self.at_line_start {
            self.empty_lines += 1;
        } else {
            out.extend_from_slice(b"\r\n");
            self.at_line_start = true;
        }
    }

    /// Canonicalise `data`, appending what can be written already to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for &b in data {
            if self.held_cr {
                self.held_cr = false;
                if b == b'\n' {
                    self.end_of_line(out);
                    continue;
                }
                // A CR not followed by LF is an ordinary byte of the line.
                self.content(b'\r', out);
            }
            match b {
                b'\r' => self.held_cr = true,
                b if self.c == Canonicalization::Relaxed && is_wsp(b) => {
                    self.pending_wsp = true;
                }
                b => self.content(b, out),
            }
        }
    }

    /// The end of the body: trailing empty lines are dropped, a last line without CRLF
    /// gets one, and an empty `simple` body becomes one CRLF (an empty `relaxed` body
    /// stays empty).
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if self.held_cr {
            self.held_cr = false;
            self.content(b'\r', out);
        }
        // A last line without CRLF gets one; so does an empty `simple` body.
        let empty_simple = !self.wrote && self.c == Canonicalization::Simple;
        if !self.at_line_start || empty_simple {
            out.extend_from_slice(b"\r\n");
        }
    }
}
