//! Replies: bounded line framing over the caller's receive buffer, and parsing.
//!
//! ```text
//! S: 250-mx.example.com Hello
//! S: 250-PIPELINING
//! S: 250 2.0.0 Ok
//! ```
//!
//! RFC 5321 §4.2: `Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//!                  Reply-code [ SP textstring ] CRLF`.
//!
//! Framing finds one line at a time and never holds more than the receive buffer: when a
//! multi-line reply outgrows it, the lines between the first and the last are dropped (their
//! content was already handed to the session line by line), and a single line longer than the
//! buffer keeps only its head. Either way the reply is marked truncated. A reply longer in total
//! than [`Options::max_reply_bytes`](crate::Options) is an error, so a hostile server cannot
//! keep the client reading forever.
//!
//! Tolerance: lines may end with a bare LF (some servers and many test scripts do). The code is
//! checked on every line: a continuation line with another code is a protocol error.

use core::fmt;

/// A three-digit SMTP reply code (RFC 5321 §4.2.1).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(u16);

impl Code {
    /// Makes a code from its number; `None` outside 200..=599.
    pub const fn new(value: u16) -> Option<Code> {
        if value >= 200 && value <= 599 {
            Some(Code(value))
        } else {
            None
        }
    }

    /// The number, e.g. 250.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The first digit: 2 completion, 3 intermediate, 4 transient failure, 5 permanent failure.
    pub const fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// 2yz: the command succeeded.
    pub const fn is_positive(self) -> bool {
        self.class() == 2
    }

    /// 3yz: the server waits for more (354 after DATA, 334 during AUTH).
    pub const fn is_intermediate(self) -> bool {
        self.class() == 3
    }

    /// 4yz: try again later (RFC 5321 §4.2.1).
    pub const fn is_transient(self) -> bool {
        self.class() == 4
    }

    /// 5yz: do not repeat the same request.
    pub const fn is_permanent(self) -> bool {
        self.class() == 5
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({})", self.0)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code, `class.subject.detail` (RFC 3463, carried per RFC 2034).
///
/// RFC 3463 §2: `status-code = class "." subject "." detail`, class 2, 4 or 5, subject and
/// detail 1 to 3 digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    pub class: u8,
    /// The subject, e.g. 1 for addressing.
    pub subject: u16,
    /// The detail, e.g. 1 in 5.1.1 (bad destination mailbox).
    pub detail: u16,
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl EnhancedCode {
    /// Parses an enhanced code at the start of `text`, followed by a space or the end.
    /// Returns the code and the number of bytes it took, including the space.
    pub fn parse_prefix(text: &[u8]) -> Option<(EnhancedCode, usize)> {
        let (class, a) = digits(text, 1)?;
        if !matches!(class, 2 | 4 | 5) || text.get(a) != Some(&b'.') {
            return None;
        }
        let (subject, b) = digits(text.get(a + 1..)?, 3)?;
        let b = a + 1 + b;
        if text.get(b) != Some(&b'.') {
            return None;
        }
        let (detail, c) = digits(text.get(b + 1..)?, 3)?;
        let end = b + 1 + c;
        let taken = match text.get(end) {
            None => end,
            Some(b' ') => end + 1,
            Some(_) => return None,
        };
        Some((
            EnhancedCode {
                class: class as u8,
                subject,
                detail,
            },
            taken,
        ))
    }
}

/// Reads 1..=max ASCII digits; returns the value and how many were read.
fn digits(text: &[u8], max: usize) -> Option<(u16, usize)> {
    let n = text
        .iter()
        .take(max + 1)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n == 0 || n > max {
        return None;
    }
    let value = text[..n]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    Some((value, n))
}

/// A complete server reply, borrowing the client's receive buffer.
///
/// `raw` holds the reply's lines as received (codes, separators and line ends), less any lines
/// dropped because the reply outgrew the buffer ([`Reply::is_truncated`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    code: Code,
    enhanced: Option<EnhancedCode>,
    raw: &'a [u8],
    truncated: bool,
}

impl<'a> Reply<'a> {
    /// Parses one complete reply from `raw` (every line ended by CRLF or LF). Used by tests
    /// and tools; the session frames replies itself as bytes arrive.
    pub fn parse(raw: &'a [u8]) -> Result<Reply<'a>, ReplyError> {
        let mut code = None;
        let mut rest = raw;
        let mut end = 0;
        loop {
            let lf = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or(ReplyError::Incomplete)?;
            let line = trim_cr(&rest[..lf]);
            let (line_code, last) = parse_line_head(line, code)?;
            code = Some(line_code);
            end += lf + 1;
            rest = &rest[lf + 1..];
            if last {
                break;
            }
        }
        if !rest.is_empty() {
            return Err(ReplyError::TrailingData);
        }
        let code = code.ok_or(ReplyError::Incomplete)?;
        Ok(Reply::new(code, &raw[..end], false))
    }

    pub(crate) fn new(code: Code, raw: &'a [u8], truncated: bool) -> Reply<'a> {
        let enhanced = first_line_text(raw).and_then(|text| {
            EnhancedCode::parse_prefix(text)
                .map(|(e, _)| e)
                // RFC 3463 §2: the class must agree with the reply code's first digit.
                .filter(|e| e.class == code.class())
        });
        Reply {
            code,
            enhanced,
            raw,
            truncated,
        }
    }

    /// The reply code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The enhanced status code of the first line, when the server sent one.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text of the first line, after the code and any enhanced code.
    pub fn text(&self) -> &'a [u8] {
        let text = first_line_text(self.raw).unwrap_or(&[]);
        match self.enhanced {
            Some(_) => EnhancedCode::parse_prefix(text)
                .and_then(|(_, n)| text.get(n..))
                .unwrap_or(text),
            None => text,
        }
    }

    /// The text of every line (after the code and separator; enhanced codes kept).
    pub fn lines(&self) -> Lines<'a> {
        Lines { rest: self.raw }
    }

    /// The reply as received.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// True when lines were dropped or cut because the reply outgrew the receive buffer.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// An owned copy with the text bounded, for errors and reports.
    pub fn to_info(&self) -> ReplyInfo {
        ReplyInfo::new(self.code, self.enhanced, self.text())
    }
}

impl fmt::Debug for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("code", &self.code.0)
            .field("enhanced", &self.enhanced)
            .field("text", &Escaped(self.text()))
            .field("truncated", &self.truncated)
            .finish()
    }
}

impl fmt::Display for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_info().fmt(f)
    }
}

/// Iterator over the text of each line of a [`Reply`].
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let lf = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.rest.len());
        let line = trim_cr(&self.rest[..lf]);
        self.rest = self.rest.get(lf + 1..).unwrap_or(&[]);
        Some(line.get(4..).unwrap_or(&[]))
    }
}

fn first_line_text(raw: &[u8]) -> Option<&[u8]> {
    Lines { rest: raw }.next()
}

fn trim_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', head)) => head,
        _ => line,
    }
}

/// Checks a line's head: `code` then SP, "-" or the end. Returns the code and whether it is
/// the last line. `expected` is the code of the reply's earlier lines.
fn parse_line_head(line: &[u8], expected: Option<Code>) -> Result<(Code, bool), ReplyError> {
    let head = line.get(..3).ok_or(ReplyError::Malformed)?;
    if !head.iter().all(u8::is_ascii_digit) {
        return Err(ReplyError::Malformed);
    }
    let value = head
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let code = Code::new(value).ok_or(ReplyError::Malformed)?;
    let last = match line.get(3) {
        None | Some(b' ') => true,
        Some(b'-') => false,
        Some(_) => return Err(ReplyError::Malformed),
    };
    match expected {
        Some(e) if e != code => Err(ReplyError::CodeChanged),
        _ => Ok((code, last)),
    }
}

/// Why reply bytes could not be taken as SMTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line does not start with a code 200..=599 followed by SP, "-" or its end.
    Malformed,
    /// A continuation line carries another code than the first line (RFC 5321 §4.2.1).
    CodeChanged,
    /// The reply exceeded the configured total size.
    TooLong,
    /// `Reply::parse` only: the input ends before the reply's last line.
    Incomplete,
    /// `Reply::parse` only: bytes follow the reply's last line.
    TrailingData,
}

impl core::error::Error for ReplyError {}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplyError::Malformed => "malformed reply line",
            ReplyError::CodeChanged => "reply code changed within a multi-line reply",
            ReplyError::TooLong => "reply too long",
            ReplyError::Incomplete => "incomplete reply",
            ReplyError::TrailingData => "data after the reply",
        })
    }
}

/// Bytes of reply text kept in a [`ReplyInfo`].
pub const INFO_TEXT_LEN: usize = 96;

/// An owned, bounded copy of a reply: code, enhanced code and the head of the first line's
/// text. Errors and reports carry this, so they outlive the receive buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReplyInfo {
    code: Code,
    enhanced: Option<EnhancedCode>,
    len: u8,
    text: [u8; INFO_TEXT_LEN],
}

impl ReplyInfo {
    /// Copies up to [`INFO_TEXT_LEN`] bytes of `text`; control bytes become `?`.
    pub fn new(code: Code, enhanced: Option<EnhancedCode>, text: &[u8]) -> ReplyInfo {
        let mut buf = [0u8; INFO_TEXT_LEN];
        let n = text.len().min(INFO_TEXT_LEN);
        for (dst, &src) in buf.iter_mut().zip(&text[..n]) {
            *dst = if src.is_ascii_control() { b'?' } else { src };
        }
        ReplyInfo {
            code,
            enhanced,
            len: n as u8,
            text: buf,
        }
    }

    /// The reply code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The enhanced status code, when sent.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The head of the first line's text, after the codes.
    pub fn text(&self) -> &[u8] {
        &self.text[..usize::from(self.len)]
    }

    /// True for 4yz replies.
    pub fn is_transient(&self) -> bool {
        self.code.is_transient()
    }
}

impl fmt::Debug for ReplyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyInfo")
            .field("code", &self.code.0)
            .field("enhanced", &self.enhanced)
            .field("text", &Escaped(self.text()))
            .finish()
    }
}

impl fmt::Display for ReplyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        if !self.text().is_empty() {
            write!(f, " {}", Escaped(self.text()))?;
        }
        Ok(())
    }
}

/// Prints bytes as text, escaping what is not printable ASCII.
#[derive(Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            match b {
                b'\r' => f.write_str("\\r")?,
                b'\n' => f.write_str("\\n")?,
                b'\\' => f.write_str("\\\\")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// One line found by the [`Framer`]: offsets into the receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    /// Start of the line (its code).
    pub(crate) start: usize,
    /// End of the line's content, before CR LF.
    pub(crate) end: usize,
    /// The line's code.
    pub(crate) code: Code,
    /// The last line of its reply.
    pub(crate) last: bool,
    /// The line was longer than the buffer and only its head was kept.
    pub(crate) cut: bool,
}

/// A reply completed by the [`Framer`]: `buf[start..end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) code: Code,
    pub(crate) truncated: bool,
}

impl Span {
    pub(crate) fn reply<'a>(&self, buf: &'a [u8]) -> Reply<'a> {
        Reply::new(self.code, &buf[self.start..self.end], self.truncated)
    }
}

/// Bounded line framing over a receive buffer the framer does not own.
///
/// Layout: `buf[..reply_start]` is done with; `buf[reply_start..scan]` holds the lines of the
/// reply in progress; `buf[scan..filled]` is unexamined input. No byte is examined twice.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Framer {
    filled: usize,
    scan: usize,
    reply_start: usize,
    /// End of the first line of the reply in progress (including its line end), if complete.
    first_line_end: Option<usize>,
    code: Option<Code>,
    truncated: bool,
    /// Discarding the rest of an over-long line until its LF; the kept head ends at `scan`.
    skipping: bool,
    /// Bytes of the reply in progress, counting dropped ones.
    total: usize,
}

impl Framer {
    /// The code the reply in progress begins with, when its first three bytes are one:
    /// what a reply that then went wrong (garbled, over-long) was about to say.
    pub(crate) fn started_with(&self, buf: &[u8]) -> Option<Code> {
        let head = buf.get(self.reply_start..self.filled)?.get(..3)?;
        if !head.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Code::new(
            head.iter()
                .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')),
        )
    }

    /// Bytes received and not yet framed, or framed into the reply in progress.
    pub(crate) fn pending(&self) -> usize {
        self.filled - self.reply_start
    }

    /// True when unexamined bytes are waiting.
    pub(crate) fn has_unscanned(&self) -> bool {
        self.scan < self.filled
    }

    /// Records `n` bytes the caller read into `buf[self.free_start()..]`.
    pub(crate) fn received(&mut self, n: usize) {
        self.filled += n;
    }

    /// Where the caller should read into.
    pub(crate) fn free_start(&self) -> usize {
        self.filled
    }

    /// Forgets everything buffered (used when the transport changes under us).
    pub(crate) fn clear(&mut self) {
        *self = Framer::default();
    }

    /// Moves the reply in progress and the unexamined input to the front of `buf`, and makes
    /// room when the buffer is full by dropping what the session has already seen.
    /// Returns the free space after compaction.
    pub(crate) fn compact(&mut self, buf: &mut [u8]) -> usize {
        let shift = self.reply_start;
        if shift > 0 {
            buf.copy_within(shift..self.filled, 0);
            self.filled -= shift;
            self.scan -= shift;
            self.reply_start = 0;
            if let Some(e) = self.first_line_end.as_mut() {
                *e -= shift;
            }
        }
        if self.filled < buf.len() {
            return buf.len() - self.filled;
        }
        // Full. First drop the middle lines of a multi-line reply: the session has seen them.
        if let Some(first_end) = self.first_line_end {
            let line_start = self.current_line_start(buf);
            if line_start > first_end {
                buf.copy_within(line_start..self.filled, first_end);
                let dropped = line_start - first_end;
                self.filled -= dropped;
                self.scan -= dropped;
                self.truncated = true;
                return buf.len() - self.filled;
            }
        }
        let line_start = self.current_line_start(buf);
        if self.first_line_end.is_some() {
            let head = buf.len() / 2;
            if line_start + 4 >= buf.len() && line_start > head + 1 {
                // A first line of up to 512 octets is legal (RFC 5321 §4.5.3.1.5) and may leave
                // no room for the next line's code. Keep the first line's head and a line end
                // (the session has seen the line) and move the next line's start after it.
                buf[head] = b'\n';
                buf.copy_within(line_start..self.filled, head + 1);
                let dropped = line_start - (head + 1);
                self.filled -= dropped;
                self.scan -= dropped;
                self.first_line_end = Some(head + 1);
                self.truncated = true;
                return buf.len() - self.filled;
            }
        }
        // A single line fills the buffer: keep its head and skip the rest until LF.
        let keep = if self.first_line_end.is_some() {
            4
        } else {
            (buf.len() / 2).max(4)
        };
        let head_end = (line_start + keep).min(self.filled);
        self.filled = head_end;
        self.scan = head_end;
        self.skipping = true;
        self.truncated = true;
        buf.len() - self.filled
    }

    fn current_line_start(&self, buf: &[u8]) -> usize {
        let from = self.first_line_end.unwrap_or(self.reply_start);
        buf[from..self.scan]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(from, |p| from + p + 1)
    }

    /// Finds the next complete line. `Ok(None)` means more input is needed.
    pub(crate) fn next_line(
        &mut self,
        buf: &mut [u8],
        max_reply: usize,
    ) -> Result<Option<Line>, ReplyError> {
        if self.skipping {
            let unseen = &buf[self.scan..self.filled];
            match unseen.iter().position(|&b| b == b'\n') {
                None => {
                    self.total += unseen.len();
                    self.filled = self.scan;
                    return self.check_total(max_reply).map(|()| None);
                }
                Some(p) => {
                    self.total += p + 1;
                    // Drop the skipped bytes but keep the LF, right after the kept head.
                    let lf = self.scan + p;
                    buf.copy_within(lf..self.filled, self.scan);
                    self.filled -= p;
                    self.skipping = false;
                    let line_start = self.current_line_start(buf);
                    let end = self.scan;
                    return self.finish_line(buf, line_start, end, end + 1, true, max_reply);
                }
            }
        }
        let unseen = &buf[self.scan..self.filled];
        let Some(p) = unseen.iter().position(|&b| b == b'\n') else {
            self.total += unseen.len();
            self.scan = self.filled;
            // Count once: later scans only see new bytes.
            return self.check_total(max_reply).map(|()| None);
        };
        self.total += p + 1;
        let lf = self.scan + p;
        let line_start = self.current_line_start(buf);
        let end = if lf > line_start && buf[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        self.finish_line(buf, line_start, end, lf + 1, false, max_reply)
    }

    fn check_total(&self, max_reply: usize) -> Result<(), ReplyError> {
        if self.total > max_reply {
            Err(ReplyError::TooLong)
        } else {
            Ok(())
        }
    }

    fn finish_line(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        next: usize,
        cut: bool,
        max_reply: usize,
    ) -> Result<Option<Line>, ReplyError> {
        self.check_total(max_reply)?;
        let content = &buf[start..end];
        let head = if cut {
            content.get(..4.min(content.len())).unwrap_or(content)
        } else {
            content
        };
        let (code, last) = parse_line_head(head, self.code)?;
        self.code = Some(code);
        self.scan = next;
        if self.first_line_end.is_none() {
            self.first_line_end = Some(next);
        }
        Ok(Some(Line {
            start,
            end,
            code,
            last,
            cut,
        }))
    }

    /// Closes the reply whose last line was just returned and gives its span.
    pub(crate) fn take_reply(&mut self) -> Option<Span> {
        let code = self.code?;
        let span = Span {
            start: self.reply_start,
            end: self.scan,
            code,
            truncated: self.truncated,
        };
        self.reply_start = self.scan;
        self.first_line_end = None;
        self.code = None;
        self.truncated = false;
        self.total = 0;
        Some(span)
    }
}

/// Framing internals for the fuzz targets (`cargo fuzz` builds with `--cfg fuzzing`) and the
/// tests; not part of the API.
#[cfg(any(test, fuzzing))]
pub mod fuzzing {
    use super::{Framer, ReplyError};

    /// Frames `input` through `buf` as the session does, reading at most `chunk` bytes at a
    /// time into the free part of `buf`, and calls `on_reply(code, raw, truncated)` for each
    /// complete reply. Returns the framing error, if one ends it.
    pub fn frame(
        buf: &mut [u8],
        input: &[u8],
        chunk: usize,
        max_reply: usize,
        on_reply: &mut dyn FnMut(u16, &[u8], bool),
    ) -> Result<(), ReplyError> {
        let mut f = Framer::default();
        let mut fed = 0;
        loop {
            match f.next_line(buf, max_reply)? {
                Some(line) if line.last => {
                    if let Some(span) = f.take_reply() {
                        let r = span.reply(buf);
                        on_reply(r.code().get(), r.raw(), r.is_truncated());
                    }
                }
                Some(_) => {}
                None => {
                    if fed == input.len() {
                        return Ok(());
                    }
                    let free = f.compact(buf);
                    // The session hands `buf[free_start..]` to the driver: it must never be
                    // empty, or the driver's read returns 0, which means end of file.
                    assert!(free > 0, "no room to read after compaction");
                    let n = free.min(input.len() - fed).min(chunk.max(1));
                    let at = f.free_start();
                    buf[at..at + n].copy_from_slice(&input[fed..fed + n]);
                    fed += n;
                    f.received(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn frame_to_error(input: &[u8]) -> (Framer, [u8; 128], Result<(), ReplyError>) {
        let mut buf = [0u8; 128];
        let mut f = Framer::default();
        let at = f.free_start();
        buf[at..at + input.len()].copy_from_slice(input);
        f.received(input.len());
        let r = loop {
            match f.next_line(&mut buf, 64) {
                Ok(Some(_)) => continue,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        (f, buf, r)
    }

    #[test]
    fn a_bad_reply_keeps_the_code_it_began_with() {
        for (input, error, code) in [
            (&b"250queued as 1\r\n"[..], ReplyError::Malformed, Some(250)),
            (
                b"250-ok\r\n251 queued\r\n",
                ReplyError::CodeChanged,
                Some(250),
            ),
            (b"554-no\r\nxyz\r\n", ReplyError::Malformed, Some(554)),
            (b"xyz\r\n", ReplyError::Malformed, None),
            (b"25\r\n", ReplyError::Malformed, None),
        ] {
            let (f, buf, r) = frame_to_error(input);
            assert_eq!(r, Err(error), "{input:?}");
            assert_eq!(f.started_with(&buf).map(Code::get), code, "{input:?}");
        }
        let mut long = Vec::from(&b"250 "[..]);
        long.resize(100, b'x');
        let (f, buf, r) = frame_to_error(&long);
        assert_eq!(r, Err(ReplyError::TooLong));
        assert_eq!(f.started_with(&buf).map(Code::get), Some(250));
    }

    #[test]
    fn parses_multiline_with_enhanced_code() {
        let r = Reply::parse(b"250-mx Hello\r\n250-PIPELINING\r\n250 2.0.0 Ok\r\n").unwrap();
        assert_eq!(r.code().get(), 250);
        assert_eq!(
            r.enhanced(),
            None,
            "enhanced code is read from the first line only"
        );
        let lines: Vec<&[u8]> = r.lines().collect();
        assert_eq!(lines, [&b"mx Hello"[..], b"PIPELINING", b"2.0.0 Ok"]);
    }

    #[test]
    fn splits_enhanced_code_from_text() {
        let r = Reply::parse(b"550 5.1.1 <x@y>: Recipient address rejected\r\n").unwrap();
        assert_eq!(
            r.enhanced(),
            Some(EnhancedCode {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        assert_eq!(r.text(), b"<x@y>: Recipient address rejected");
    }

    #[test]
    fn enhanced_code_class_must_match_reply_class() {
        let r = Reply::parse(b"250 5.1.1 odd\r\n").unwrap();
        assert_eq!(r.enhanced(), None);
        assert_eq!(r.text(), b"5.1.1 odd");
    }

    #[test]
    fn accepts_bare_lf_and_bare_code() {
        let r = Reply::parse(b"250-a\n250\n").unwrap();
        assert_eq!(r.code().get(), 250);
        assert_eq!(r.lines().count(), 2);
    }

    #[test]
    fn rejects_code_change_and_garbage() {
        assert_eq!(
            Reply::parse(b"250-a\r\n251 b\r\n"),
            Err(ReplyError::CodeChanged)
        );
        assert_eq!(Reply::parse(b"25x ok\r\n"), Err(ReplyError::Malformed));
        assert_eq!(Reply::parse(b"250x\r\n"), Err(ReplyError::Malformed));
        assert_eq!(Reply::parse(b"199 no\r\n"), Err(ReplyError::Malformed));
        assert_eq!(Reply::parse(b"250 a"), Err(ReplyError::Incomplete));
        // Codes out of 200..=599, or not three digits.
        for bad in [
            &b"600 no\r\n"[..],
            b"099 no\r\n",
            b"2x0 no\r\n",
            b"25\r\n",
            b"\r\n",
            b" 250 ok\r\n",
            b"2500 ok\r\n",
            b"250-a\r\n600 b\r\n",
        ] {
            assert_eq!(
                Reply::parse(bad),
                Err(ReplyError::Malformed),
                "{}",
                Escaped(bad)
            );
        }
    }

    #[test]
    fn control_and_eight_bit_bytes_in_text_are_kept_raw_and_masked_in_info() {
        let r = Reply::parse(b"550 5.7.1 a\0b\rc\xff\x1b[31m\r\n").unwrap();
        assert_eq!(r.code().get(), 550);
        assert_eq!(r.text(), b"a\0b\rc\xff\x1b[31m");
        // Errors and reports never carry a control byte (a terminal escape, a CR that
        // rewrites a log line); 8-bit bytes are kept and escaped when displayed.
        let info = r.to_info();
        assert_eq!(info.text(), b"a?b?c\xff?[31m");
        assert_eq!(std::format!("{info}"), "550 5.7.1 a?b?c\\xff?[31m");
    }

    #[test]
    fn code_only_lines_are_replies() {
        let r = Reply::parse(b"250\r\n").unwrap();
        assert_eq!((r.code().get(), r.text()), (250, &b""[..]));
        let r = Reply::parse(b"354\n").unwrap();
        assert_eq!(r.code().get(), 354);
    }

    fn frame_all(
        buf: &mut [u8],
        input: &[u8],
        max: usize,
    ) -> Result<Vec<(u16, Vec<u8>, bool)>, ReplyError> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            match f.next_line(buf, max)? {
                Some(line) => {
                    if line.last {
                        let span = f.take_reply().unwrap();
                        let r = span.reply(buf);
                        out.push((r.code().get(), r.raw().to_vec(), r.is_truncated()));
                    }
                }
                None => {
                    if fed == input.len() {
                        return Ok(out);
                    }
                    let free = f.compact(buf);
                    let n = free.min(input.len() - fed).min(3);
                    let at = f.free_start();
                    buf[at..at + n].copy_from_slice(&input[fed..fed + n]);
                    fed += n;
                    f.received(n);
                }
            }
        }
    }

    #[test]
    fn framer_drops_middle_lines_when_buffer_fills() {
        let mut buf = [0u8; 32];
        let input = b"250-first\r\n250-aaaaaaaaaaaaaaa\r\n250-bbbbbbbbbbbbbbbbb\r\n250 last\r\n220 next\r\n";
        let replies = frame_all(&mut buf, input, 4096).unwrap();
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[0].0, 250);
        assert!(replies[0].2, "truncated");
        assert!(replies[0].1.starts_with(b"250-first\r\n"));
        assert!(replies[0].1.ends_with(b"250 last\r\n"));
        assert_eq!(replies[1], (220, b"220 next\r\n".to_vec(), false));
    }

    #[test]
    fn framer_keeps_head_of_overlong_line() {
        let mut buf = [0u8; 16];
        let mut input = Vec::from(&b"554 "[..]);
        input.extend([b'x'; 100]);
        input.extend_from_slice(b"\r\n250 ok\r\n");
        let replies = frame_all(&mut buf, &input, 4096).unwrap();
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[0].0, 554);
        assert!(replies[0].2);
        assert_eq!(replies[1].1, b"250 ok\r\n");
    }

    /// Frames with the fuzzing helper; returns the replies and the outcome.
    #[allow(clippy::type_complexity)]
    fn frame_with(
        buf_len: usize,
        input: &[u8],
        chunk: usize,
    ) -> (Vec<(u16, Vec<u8>, bool)>, Result<(), ReplyError>) {
        let mut buf = std::vec![0u8; buf_len];
        let mut out = Vec::new();
        let result = fuzzing::frame(&mut buf, input, chunk, 64 * 1024, &mut |c, raw, t| {
            out.push((c, raw.to_vec(), t))
        });
        (out, result)
    }

    #[test]
    fn framer_makes_room_after_a_first_line_that_fills_the_buffer() {
        // Issue 2: a legal 510-octet first line in a 512-octet buffer left no room for the
        // next line's head, so the session offered an empty read (taken as end of file).
        let mut input = Vec::from(&b"250-"[..]);
        input.extend([b'x'; 504]);
        input.extend_from_slice(b"\r\n250-SIZE 1000\r\n250 PIPELINING\r\n220 next\r\n");
        for chunk in [1, 7, 512] {
            let (replies, result) = frame_with(512, &input, chunk);
            assert_eq!(result, Ok(()));
            assert_eq!(replies.len(), 2, "chunk {chunk}");
            let (code, raw, truncated) = &replies[0];
            assert_eq!((*code, *truncated), (250, true));
            assert!(raw.starts_with(b"250-xxx"));
            assert!(raw.ends_with(b"250 PIPELINING\r\n"), "{}", Escaped(raw));
            assert_eq!(replies[1], (220, b"220 next\r\n".to_vec(), false));
        }
    }

    /// Replies as servers write them: a code, then lines joined by "-" or " ".
    fn reply_bytes() -> impl Strategy<Value = (u16, Vec<Vec<u8>>, Vec<u8>)> {
        let line =
            proptest::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff], 0..80);
        (
            200u16..600,
            proptest::collection::vec(line, 1..5),
            any::<bool>(),
        )
            .prop_map(|(code, lines, bare_lf)| {
                let mut raw = Vec::new();
                for (i, text) in lines.iter().enumerate() {
                    raw.extend_from_slice(std::format!("{code}").as_bytes());
                    raw.push(if i + 1 == lines.len() { b' ' } else { b'-' });
                    raw.extend_from_slice(text);
                    raw.extend_from_slice(if bare_lf { b"\n" } else { b"\r\n" });
                }
                (code, lines, raw)
            })
    }

    proptest! {
        #[test]
        fn parse_and_framer_never_panic_on_random_bytes(
            input in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'\n'), Just(b'\r'), Just(b'-'), Just(b' '), b'0'..=b'9'],
                0..3000,
            ),
            buf_len in 16usize..1200,
            chunk in 1usize..600,
        ) {
            let _ = Reply::parse(&input);
            let (replies, _) = frame_with(buf_len, &input, chunk);
            for (code, raw, truncated) in &replies {
                prop_assert!(raw.len() <= buf_len);
                prop_assert!((200..600).contains(code));
                if !truncated {
                    // Whatever the framer delivers whole, the parser reads back the same.
                    let r = Reply::parse(raw).map_err(|e| TestCaseError::fail(std::format!("{e}")))?;
                    prop_assert_eq!(r.code().get(), *code);
                }
            }
        }

        #[test]
        fn any_chunking_frames_the_same_replies(
            input in proptest::collection::vec(any::<u8>(), 0..2000),
            chunk in 1usize..300,
        ) {
            // With room for everything, how the bytes arrive changes nothing.
            let whole = frame_with(4096, &input, usize::MAX);
            prop_assert_eq!(frame_with(4096, &input, chunk), whole);
        }

        #[test]
        fn replies_round_trip_through_framer_and_parser(
            replies in proptest::collection::vec(reply_bytes(), 1..6),
            chunk in 1usize..100,
        ) {
            let input: Vec<u8> = replies.iter().flat_map(|(_, _, raw)| raw.clone()).collect();
            let (framed, result) = frame_with(4096, &input, chunk);
            prop_assert_eq!(result, Ok(()));
            prop_assert_eq!(framed.len(), replies.len());
            for ((code, lines, raw), (fcode, fraw, truncated)) in replies.iter().zip(&framed) {
                prop_assert_eq!(code, fcode);
                prop_assert_eq!(raw, fraw);
                prop_assert!(!truncated);
                let r = Reply::parse(raw).map_err(|e| TestCaseError::fail(std::format!("{e}")))?;
                let got: Vec<&[u8]> = r.lines().collect();
                let want: Vec<&[u8]> = lines.iter().map(|l| l.as_slice()).collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn framer_bounds_total_reply_size() {
        let mut buf = [0u8; 64];
        let mut input = Vec::new();
        for _ in 0..100 {
            input.extend_from_slice(b"250-0123456789\r\n");
        }
        assert_eq!(frame_all(&mut buf, &input, 1000), Err(ReplyError::TooLong));
    }
}
