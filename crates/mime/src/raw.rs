//! Messages the user built themselves (RFC 5322 bytes), sent as they are except for line
//! ends (always CRLF) and the `Bcc` and `Resent-Bcc` fields (removed, as `sendmail -t`
//! does).
//!
//! Two kinds of bytes are refused rather than sent ([`Error::RawByte`]): a bare CR in the
//! header section, because the wire's line-end normalisation would make it a line end and
//! so start a new header field (`Subject: a<CR>Bcc: b`), and NUL anywhere, which text
//! cannot carry (only `BODY=BINARYMIME`, which this crate does not declare).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::address::Address;
use crate::encoder::{Encoder, Src as RawSrc};
use crate::encoding::{BodyEncoder, TransferEncoding};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::source::Source;

/// Longest header section read from a reader before giving up.
pub const MAX_HEADER_SECTION: usize = 1 << 20;

/// A message given as bytes or a reader.
///
/// ```
/// use postel_mime::{EncodeOptions, RawMessage};
/// let mut raw = RawMessage::from_bytes(
///     b"From: a@x.test\nTo: b@y.test\nBcc: c@z.test\nSubject: hi\n\nbody\n".to_vec(),
/// )?;
/// let env = raw.envelope()?;
/// assert_eq!(env.from().map(|a| a.to_string()), Some("a@x.test".into()));
/// assert_eq!(env.to().len(), 2);
/// let out = raw.to_vec(&EncodeOptions::default())?;
/// assert_eq!(out, b"From: a@x.test\r\nTo: b@y.test\r\nSubject: hi\r\n\r\nbody\r\n");
/// # Ok::<(), postel_mime::Error>(())
/// ```
pub struct RawMessage {
    /// Header fields, each with its continuation lines, without line ends.
    fields: Vec<Vec<Vec<u8>>>,
    body: Option<RawBody>,
    keep_bcc: bool,
    /// For a streamed body measured ahead ([`RawMessage::from_file`]): its encoded length
    /// and whether it ends in CRLF, and whether it holds 8-bit bytes.
    measured: Option<((u64, Option<bool>), bool)>,
    /// For a body measured ahead: the line of its first NUL, if any.
    measured_nul: Option<u64>,
    /// The file a streamed body comes from ([`RawMessage::from_file`]), to read it again.
    #[cfg(feature = "std")]
    path: Option<std::path::PathBuf>,
}

enum RawBody {
    Bytes(Vec<u8>),
    Stream(Box<dyn Source>),
}

struct Prefixed {
    prefix: Vec<u8>,
    pos: usize,
    inner: Box<dyn Source>,
}

impl Source for Prefixed {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.pos < self.prefix.len() {
            let n = buf.len().min(self.prefix.len() - self.pos);
            buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Where the header section ends: (end of headers, start of body).
fn find_separator(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    // A message that starts with a blank line has no headers.
    loop {
        let nl = i + b.get(i..)?.iter().position(|&c| c == b'\n')?;
        let next = nl + 1;
        match b.get(next..) {
            Some([b'\n', ..]) => return Some((next, next + 1)),
            Some([b'\r', b'\n', ..]) => return Some((next, next + 2)),
            _ => i = next,
        }
    }
}

/// Header line `n` (from 0) without its line end, or the bare CR or NUL it holds.
fn header_line(n: usize, line: &[u8]) -> Result<&[u8], Error> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.iter().find(|&&c| c == b'\r' || c == 0) {
        Some(&byte) => Err(Error::RawByte {
            section: "header",
            line: n as u64 + 1,
            byte,
        }),
        None => Ok(line),
    }
}

fn split_fields(head: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, Error> {
    let mut fields: Vec<Vec<Vec<u8>>> = Vec::new();
    for (n, line) in head.split(|&c| c == b'\n').enumerate() {
        let line = header_line(n, line)?;
        if line.is_empty() {
            continue;
        }
        match (line.first(), fields.last_mut()) {
            (Some(b' ' | b'\t'), Some(f)) => f.push(line.to_vec()),
            _ => fields.push(alloc::vec![line.to_vec()]),
        }
    }
    Ok(fields)
}

/// Checks a whole message held in memory for the bytes [`RawMessage`] refuses: a bare CR in
/// the header section (it would start a new header field once line ends are normalised on
/// the wire) and a NUL anywhere. For callers that send bytes as they are (postel's
/// `Client::send_bytes`).
///
/// ```
/// use postel_mime::{check_raw, Error};
/// assert!(check_raw(b"Subject: hi\r\n\r\nbody\rwith a bare CR\r\n").is_ok());
/// assert!(matches!(
///     check_raw(b"To: a@x.test\r\nSubject: a\rBcc: b@y.test\r\n\r\nbody\r\n"),
///     Err(Error::RawByte { section: "header", line: 2, byte: b'\r' })
/// ));
/// assert!(matches!(
///     check_raw(b"Subject: hi\r\n\r\nline 1\r\nline\0 2\r\n"),
///     Err(Error::RawByte { section: "body", line: 2, byte: 0 })
/// ));
/// ```
pub fn check_raw(message: &[u8]) -> Result<(), Error> {
    let (head, body) = match find_separator(message) {
        Some((end, body)) => (&message[..end], &message[body..]),
        None => (message, &message[message.len()..]),
    };
    for (n, line) in head.split(|&c| c == b'\n').enumerate() {
        header_line(n, line)?;
    }
    match nul_line(body, 0) {
        Some(line) => Err(Error::RawByte {
            section: "body",
            line,
            byte: 0,
        }),
        None => Ok(()),
    }
}

/// The line (from 1) of the first NUL in `b`, counting `lines_before` lines ahead of it.
fn nul_line(b: &[u8], lines_before: u64) -> Option<u64> {
    let at = b.iter().position(|&c| c == 0)?;
    Some(lines_before + 1 + b[..at].iter().filter(|&&c| c == b'\n').count() as u64)
}

/// A streamed body that fails at its first NUL, for a stream not measured ahead.
struct NulGuard {
    inner: Box<dyn Source>,
    lines: u64,
}

impl Source for NulGuard {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self.inner.read(buf)?;
        let got = &buf[..n];
        if let Some(line) = nul_line(got, self.lines) {
            return Err(Error::RawByte {
                section: "body",
                line,
                byte: 0,
            });
        }
        self.lines += got.iter().filter(|&&c| c == b'\n').count() as u64;
        Ok(n)
    }
}

impl RawMessage {
    fn parse(mut bytes: Vec<u8>) -> Result<Self, Error> {
        let body = match find_separator(&bytes) {
            Some((head_end, body_start)) => {
                let body = bytes.split_off(body_start);
                bytes.truncate(head_end);
                body
            }
            None => Vec::new(),
        };
        Ok(RawMessage {
            fields: split_fields(&bytes)?,
            body: Some(RawBody::Bytes(body)),
            keep_bcc: false,
            measured: None,
            measured_nul: None,
            #[cfg(feature = "std")]
            path: None,
        })
    }

    /// A message held in memory. Line ends may be LF or CRLF in the header section, LF,
    /// CR or CRLF in the body; a bare CR in the header section is refused
    /// ([`Error::RawByte`]), as is a NUL when the message is encoded.
    ///
    /// ```
    /// use postel_mime::{Error, RawMessage};
    /// let e = RawMessage::from_bytes(b"Subject: a\rBcc: b@x.test\n\nbody\n".to_vec());
    /// assert!(matches!(e, Err(Error::RawByte { section: "header", line: 1, byte: b'\r' })));
    /// ```
    pub fn from_bytes(bytes: impl Into<Cow<'static, [u8]>>) -> Result<Self, Error> {
        Self::parse(bytes.into().into_owned())
    }

    /// A message read from `source`: the header section (at most
    /// [`MAX_HEADER_SECTION`] bytes) is read now, the body as it is sent.
    pub fn from_source(mut source: Box<dyn Source>) -> Result<Self, Error> {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = source.read(&mut buf)?;
            if n == 0 {
                return Self::parse(head);
            }
            // The separator's first LF may be in the last two bytes already read.
            let from = head.len().saturating_sub(2);
            head.extend_from_slice(&buf[..n]);
            let found = find_separator(&head[from..]).map(|(end, _)| from + end);
            if found.is_some_and(|end| end > MAX_HEADER_SECTION) {
                return Err(Error::HeaderSectionTooLarge {
                    limit: MAX_HEADER_SECTION,
                });
            }
            if found.is_some() {
                let mut m = Self::parse(head)?;
                if let Some(RawBody::Bytes(prefix)) = m.body.take() {
                    m.body = Some(RawBody::Stream(Box::new(Prefixed {
                        prefix,
                        pos: 0,
                        inner: source,
                    })));
                }
                return Ok(m);
            }
            if head.len() > MAX_HEADER_SECTION {
                return Err(Error::HeaderSectionTooLarge {
                    limit: MAX_HEADER_SECTION,
                });
            }
        }
    }

    /// A message read from any `std::io::Read` (a file, stdin for `sendmail -t`).
    #[cfg(feature = "std")]
    pub fn from_reader<R: std::io::Read + Send + 'static>(reader: R) -> Result<Self, Error> {
        Self::from_source(Box::new(crate::source::ReadSource(reader)))
    }

    /// A message streamed from a file as it is sent. The file is read once ahead, in
    /// constant memory, to learn the exact size of what will be sent (for `SIZE=`) and
    /// whether its body holds 8-bit bytes (so `BODY=8BITMIME` is declared only when it
    /// is): [`Encoder::encoded_len`] and [`Encoder::uses_8bit`] are then exact, as for a
    /// message in memory. A file that changes between that read and the sending only
    /// makes the declared size wrong.
    #[cfg(feature = "std")]
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let mut m = Self::from_reader(std::fs::File::open(path)?)?;
        if !matches!(m.body, Some(RawBody::Stream(_))) {
            return Ok(m); // all of it was read with the header section
        }
        let mut scan = Self::from_reader(std::fs::File::open(path)?)?;
        let Some(RawBody::Stream(mut src)) = scan.body.take() else {
            return Ok(m); // the file shrank: send it without a declared size
        };
        let mut e = BodyEncoder::new(TransferEncoding::EightBit, true);
        let (mut buf, mut out) = (alloc::vec![0u8; 64 * 1024], Vec::new());
        let (mut total, mut last, mut eight_bit) = (0u64, None, false);
        let mut lines = 0u64;
        loop {
            let n = src.read(&mut buf)?;
            if n == 0 {
                break;
            }
            eight_bit |= !buf[..n].is_ascii();
            if m.measured_nul.is_none() {
                m.measured_nul = nul_line(&buf[..n], lines);
                lines += buf[..n].iter().filter(|&&c| c == b'\n').count() as u64;
            }
            out.clear();
            e.push(&buf[..n], &mut out);
            total += out.len() as u64;
            if !out.is_empty() {
                last = Some(out.ends_with(b"\r\n"));
            }
        }
        m.measured = Some(((total, last), eight_bit));
        m.path = Some(path.to_path_buf());
        Ok(m)
    }

    /// Take the body if it is a stream (signing reads it twice).
    #[cfg(feature = "dkim")]
    pub(crate) fn take_stream_body(&mut self) -> Option<Box<dyn Source>> {
        match self.body.take() {
            Some(RawBody::Stream(s)) => Some(s),
            other => {
                self.body = other;
                None
            }
        }
    }

    /// Put a stream body (back).
    #[cfg(feature = "dkim")]
    pub(crate) fn set_stream_body(&mut self, s: Box<dyn Source>) {
        self.body = Some(RawBody::Stream(s));
    }

    /// A fresh stream of the body, read again from the file it came from.
    #[cfg(feature = "dkim")]
    pub(crate) fn reopen_body(&self) -> Result<Option<Box<dyn Source>>, Error> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let mut again = Self::from_reader(std::fs::File::open(path)?)?;
        Ok(again.take_stream_body())
    }

    /// Put already folded lines (a `DKIM-Signature` field this crate made) first.
    #[cfg(feature = "dkim")]
    pub(crate) fn prepend_lines(&mut self, lines: Vec<Vec<u8>>) {
        self.fields.insert(0, lines);
    }

    /// Whether the header section has a field named `name` (case-insensitive).
    pub fn has_field(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }

    /// The value of the first field named `name` (case-insensitive), unfolded, bytes that
    /// are not UTF-8 replaced.
    pub fn field(&self, name: &str) -> Option<String> {
        self.values(name).next()
    }

    /// Puts the field `name: value` before the others, as a submission agent adds
    /// `Date` or `Message-ID` (RFC 6409 §8). The header section is held in memory
    /// already, so a streamed body stays streamed, and [`Encoder::encoded_len`] counts
    /// the new field. A name or value holding CR, LF or another control character is
    /// refused.
    ///
    /// ```
    /// use postel_mime::{EncodeOptions, RawMessage};
    /// let mut raw = RawMessage::from_bytes(b"Subject: hi\n\nbody\n".to_vec())?;
    /// assert!(!raw.has_field("date"));
    /// raw.prepend_field("Date", "Sun, 22 Nov 2026 22:25:00 +0000")?;
    /// assert!(raw.has_field("date"));
    /// let out = raw.to_vec(&EncodeOptions::default())?;
    /// assert_eq!(out, b"Date: Sun, 22 Nov 2026 22:25:00 +0000\r\nSubject: hi\r\n\r\nbody\r\n");
    /// let mut other = RawMessage::from_bytes(b"\nbody".to_vec())?;
    /// assert!(other.prepend_field("X-Note", "a\r\nBcc: evil@x.test").is_err());
    /// # Ok::<(), postel_mime::Error>(())
    /// ```
    pub fn prepend_field(&mut self, name: &str, value: &str) -> Result<(), Error> {
        crate::header::check_name(name)?;
        crate::header::check_value(name, value)?;
        let mut line = Vec::with_capacity(name.len() + value.len() + 2);
        line.extend_from_slice(name.as_bytes());
        line.extend_from_slice(b": ");
        line.extend_from_slice(value.as_bytes());
        self.fields.insert(0, alloc::vec![line]);
        Ok(())
    }

    /// Keep the `Bcc` and `Resent-Bcc` fields in what is sent (default: removed).
    pub fn keep_bcc(mut self, keep: bool) -> Self {
        self.keep_bcc = keep;
        self
    }

    fn field_value(field: &[Vec<u8>], name: &str) -> Option<String> {
        let first = field.first()?;
        let colon = first.iter().position(|&c| c == b':')?;
        if !first[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(name.as_bytes())
        {
            return None;
        }
        let mut v = String::from_utf8_lossy(&first[colon + 1..]).into_owned();
        for cont in &field[1..] {
            v.push_str(&String::from_utf8_lossy(cont));
        }
        Some(v.replace('\t', " "))
    }

    fn values(&self, name: &str) -> impl Iterator<Item = String> + '_ {
        let name = String::from(name);
        self.fields
            .iter()
            .filter_map(move |f| Self::field_value(f, &name))
    }

    /// The envelope as `sendmail -t` finds it: the reverse path from `Sender`, else the
    /// first `From` mailbox; recipients from every `To`, `Cc` and `Bcc` field.
    ///
    /// A message being resent (RFC 5322 §3.6.6) is addressed by its `Resent-` fields:
    /// when it has a `Resent-To`, `Resent-Cc` or `Resent-Bcc`, the recipients are those
    /// of the `Resent-To`, `Resent-Cc` and `Resent-Bcc` fields only, and the reverse path
    /// comes from `Resent-Sender`, else `Resent-From`, else as above (what Postfix's
    /// cleanup(8) and sendmail(8) do with `-t`).
    ///
    /// ```
    /// use postel_mime::RawMessage;
    /// let raw = RawMessage::from_bytes(
    ///     b"From: a@x.test\nTo: b@y.test\nResent-From: r@x.test\nResent-To: c@z.test\n\
    ///       Resent-Bcc: d@z.test\n\nbody\n".to_vec(),
    /// )?;
    /// let env = raw.envelope()?;
    /// assert_eq!(env.from().map(|a| a.to_string()), Some("r@x.test".into()));
    /// let to: Vec<String> = env.to().iter().map(|a| a.to_string()).collect();
    /// assert_eq!(to, ["c@z.test", "d@z.test"]);
    /// # Ok::<(), postel_mime::Error>(())
    /// ```
    pub fn envelope(&self) -> Result<Envelope, Error> {
        const PLAIN: ([&str; 2], [&str; 3]) = (["Sender", "From"], ["To", "Cc", "Bcc"]);
        const RESENT: ([&str; 4], [&str; 3]) = (
            ["Resent-Sender", "Resent-From", "Sender", "From"],
            ["Resent-To", "Resent-Cc", "Resent-Bcc"],
        );
        let resent = RESENT.1.iter().any(|n| self.has_field(n));
        let (senders, recipients): (&[&str], &[&str]) = match resent {
            true => (&RESENT.0, &RESENT.1),
            false => (&PLAIN.0, &PLAIN.1),
        };
        let mut from = None;
        for &name in senders {
            if from.is_some() {
                break;
            }
            if let Some(v) = self.values(name).next() {
                from = Address::parse_list_for(name, v.trim())?
                    .iter()
                    .flat_map(Address::mailboxes)
                    .next()
                    .map(|m| m.addr().clone());
            }
        }
        let mut to = Vec::new();
        for &name in recipients {
            for v in self.values(name) {
                for a in Address::parse_list_for(name, v.trim())? {
                    to.extend(a.mailboxes().map(|m| m.addr().clone()));
                }
            }
        }
        Envelope::new(from, to)
    }

    /// Whether the header section holds non-ASCII bytes (send `SMTPUTF8`), or an
    /// envelope address needs it.
    pub fn needs_smtputf8(&self) -> bool {
        self.fields.iter().flatten().any(|l| !l.is_ascii())
            || self.envelope().is_ok_and(|e| e.needs_smtputf8())
    }

    /// Whether the body holds 8-bit bytes (send `BODY=8BITMIME`); `None` for a stream
    /// not measured ahead, whose content is not known.
    pub fn body_8bit(&self) -> Option<bool> {
        match &self.body {
            Some(RawBody::Bytes(b)) => Some(!b.is_ascii()),
            _ => self.measured.map(|(_, eight_bit)| eight_bit),
        }
    }

    /// The bytes to send: header fields (Bcc and Resent-Bcc removed unless kept), a
    /// blank line, the body, all with CRLF line ends and ending in CRLF. Lines are not
    /// shortened: a line over 998 octets in the input stays one. Encode once for a
    /// stream source. [`Encoder::uses_8bit`] is `true` when the body is 8-bit or unknown.
    ///
    /// A body holding a NUL is refused here ([`Error::RawByte`]) when it is in memory or
    /// was measured ahead ([`RawMessage::from_file`]), so nothing is sent; a stream not
    /// measured ahead fails while it is read, at the NUL.
    pub fn encoder(&mut self, opts: &EncodeOptions) -> Result<Encoder<'_>, Error> {
        let nul = match &self.body {
            Some(RawBody::Bytes(b)) => nul_line(b, 0),
            _ => self.measured_nul,
        };
        if let Some(line) = nul {
            return Err(Error::RawByte {
                section: "body",
                line,
                byte: 0,
            });
        }
        let mut head = Vec::new();
        for f in &self.fields {
            let bcc = ["Bcc", "Resent-Bcc"]
                .iter()
                .any(|n| Self::field_value(f, n).is_some());
            if !self.keep_bcc && bcc {
                continue;
            }
            for line in f {
                head.extend_from_slice(line);
                head.extend_from_slice(b"\r\n");
            }
        }
        head.extend_from_slice(b"\r\n");
        // Raw bytes are the user's: UTF-8 headers are sent as they are and reported
        // through `uses_smtputf8`, for the client to decide.
        let utf8 = !head.is_ascii();
        let _ = opts;
        if let Some(RawBody::Stream(_)) | None = self.body {
            return match self.body.take() {
                Some(RawBody::Stream(s)) => {
                    let (len, eight_bit) = match self.measured {
                        Some((len, eight_bit)) => (Some(len), eight_bit),
                        None => (None, true),
                    };
                    let guarded = Box::new(NulGuard { inner: s, lines: 0 });
                    Ok(Encoder::for_raw(
                        head,
                        RawSrc::Stream(guarded),
                        len,
                        utf8,
                        eight_bit,
                    ))
                }
                _ => Err(Error::SourceConsumed),
            };
        }
        let b: &[u8] = match &self.body {
            Some(RawBody::Bytes(b)) => b,
            _ => &[],
        };
        let len = raw_len(b);
        Ok(Encoder::for_raw(
            head,
            RawSrc::Memory(b),
            Some(len),
            utf8,
            !b.is_ascii(),
        ))
    }

    /// Encode the whole message into memory.
    pub fn to_vec(&mut self, opts: &EncodeOptions) -> Result<Vec<u8>, Error> {
        let mut enc = self.encoder(opts)?;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = enc.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
}

use crate::encoder::EncodeOptions;

fn raw_len(b: &[u8]) -> (u64, Option<bool>) {
    let mut e = BodyEncoder::new(TransferEncoding::EightBit, true);
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut last = None;
    for chunk in b.chunks(4096) {
        out.clear();
        e.push(chunk, &mut out);
        total += out.len() as u64;
        if !out.is_empty() {
            last = Some(out.ends_with(b"\r\n"));
        }
    }
    (total, last)
}
