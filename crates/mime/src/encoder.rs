//! The pull encoder: a message as a source of bytes, read while sending.
//!
//! Creating an [`Encoder`] renders every header block and boundary (memory in the number
//! of parts) and decides each body's transfer encoding; bodies are then read in chunks of
//! [`CHUNK`] bytes and encoded into a small buffer as the caller pulls. Memory does not
//! grow with a body's size.
//!
//! ```text
//! headers CRLF                         one Bytes item (message + top entity headers)
//! "--b" CRLF  part headers CRLF        Bytes
//! body                                 Body (streamed, encoded on the fly)
//! CRLF "--b--"                         Bytes
//! [CRLF]                               EndCrlf: the message always ends with CRLF
//! ```

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::address::{write_addresses, write_mailbox};
use crate::base64;
use crate::encoding::{choose_exact, choose_text, scan, BodyEncoder, TransferEncoding};
use crate::error::Error;
use crate::header::HeaderWriter;
use crate::message::Message;
use crate::part::{Body, Part};
use crate::source::{Content, Source};

/// Bytes read from a source at a time; 3 × 1368, so base64 groups never straddle reads.
pub const CHUNK: usize = 4104;

/// What the receiving server offers, which decides how the message is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// The server offers 8BITMIME (RFC 6152): text with non-ASCII bytes may be sent as
    /// `8bit` (then send `BODY=8BITMIME`; see [`Encoder::uses_8bit`]).
    pub allow_8bit: bool,
    /// The server offers SMTPUTF8 (RFC 6531): addresses with UTF-8 local parts may be
    /// written (then send `SMTPUTF8`; see [`Encoder::uses_smtputf8`]).
    pub smtputf8: bool,
}

enum Item {
    Bytes(Vec<u8>),
    Body {
        enc: TransferEncoding,
        text: bool,
        /// Exact encoded length and whether it ends in CRLF, when known ahead.
        len: Option<(u64, Option<bool>)>,
        /// Bytes the source must produce, when declared.
        declared: Option<u64>,
    },
    EndCrlf,
}

pub(crate) enum Src<'a> {
    Memory(&'a [u8]),
    Stream(Box<dyn Source>),
    #[cfg(feature = "std")]
    File(&'a std::path::Path),
}

enum Open<'a> {
    Memory(&'a [u8]),
    Stream(Box<dyn Source>),
    #[cfg(feature = "std")]
    File(std::fs::File),
}

struct Active<'a> {
    src: Open<'a>,
    enc: BodyEncoder,
    read: u64,
}

/// Produces a message's bytes as they are pulled: `read` into any buffer until it
/// returns 0. Output has CRLF line ends only and no line over 998 octets (except inside
/// a [`RawMessage`](crate::RawMessage) that had them). With `std` it is also a `std::io::Read`.
pub struct Encoder<'a> {
    items: Vec<Item>,
    sources: Vec<Option<Src<'a>>>,
    idx: usize,
    pos: usize,
    body_no: usize,
    active: Option<Active<'a>>,
    out: Vec<u8>,
    out_pos: usize,
    inbuf: Vec<u8>,
    tail: [u8; 2],
    uses_8bit: bool,
    uses_smtputf8: bool,
    total: Option<u64>,
}

struct Planner<'o> {
    encs: core::slice::Iter<'o, TransferEncoding>,
    token: String,
    boundaries: usize,
    items: Vec<Item>,
    cur: Vec<u8>,
}

impl Planner<'_> {
    fn flush(&mut self) {
        if !self.cur.is_empty() {
            self.items.push(Item::Bytes(core::mem::take(&mut self.cur)));
        }
    }

    fn entity(&mut self, p: &Part) -> Result<(), Error> {
        match &p.body {
            Body::Leaf { content, text } => {
                let enc = *self.encs.next().ok_or(Error::SourceConsumed)?;
                let mut w = HeaderWriter::new(&mut self.cur, "Content-Type");
                p.content_type.write(&mut w, &[]);
                w.finish();
                let mut w = HeaderWriter::new(&mut self.cur, "Content-Transfer-Encoding");
                w.word(enc.as_str());
                w.finish();
                if let Some(d) = &p.disposition {
                    let mut w = HeaderWriter::new(&mut self.cur, "Content-Disposition");
                    let kind = if d.inline { "inline" } else { "attachment" };
                    match &d.filename {
                        Some(f) => {
                            w.word(&format!("{kind};"));
                            crate::content_type::write_params(&mut w, &[("filename", f)]);
                        }
                        None => w.word(kind),
                    }
                    w.finish();
                }
                if let Some(cid) = &p.content_id {
                    let mut w = HeaderWriter::new(&mut self.cur, "Content-ID");
                    w.word(&format!("<{cid}>"));
                    w.finish();
                }
                self.cur.extend_from_slice(b"\r\n");
                self.flush();
                let (len, declared) = body_len(content, enc, *text);
                self.items.push(Item::Body {
                    enc,
                    text: *text,
                    len,
                    declared,
                });
            }
            Body::Multi(children) => {
                let boundary = format!("=_{}_{}", self.token, self.boundaries);
                self.boundaries += 1;
                let mut w = HeaderWriter::new(&mut self.cur, "Content-Type");
                p.content_type.write(&mut w, &[("boundary", &boundary)]);
                w.finish();
                // RFC 2045 §6.4: a multipart holding 8bit data is itself 8bit.
                let leaves = leaf_count(p);
                if self
                    .encs
                    .clone()
                    .take(leaves)
                    .any(|e| *e == TransferEncoding::EightBit)
                {
                    self.cur
                        .extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n");
                }
                self.cur.extend_from_slice(b"\r\n");
                for (i, child) in children.iter().enumerate() {
                    if i > 0 {
                        self.cur.extend_from_slice(b"\r\n");
                    }
                    self.cur
                        .extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                    self.entity(child)?;
                }
                self.cur
                    .extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
            }
        }
        Ok(())
    }
}

fn leaf_count(p: &Part) -> usize {
    match &p.body {
        Body::Leaf { .. } => 1,
        Body::Multi(children) => children.iter().map(leaf_count).sum(),
    }
}

/// Encoded length of a body, when it can be known without reading a stream.
fn body_len(
    content: &Content,
    enc: TransferEncoding,
    text: bool,
) -> (Option<(u64, Option<bool>)>, Option<u64>) {
    let b64 = |n: u64| Some((base64::encoded_len(n), (n > 0).then_some(false)));
    match content {
        Content::Bytes(b) => {
            let mut e = BodyEncoder::new(enc, text);
            let mut out = Vec::new();
            let mut total = 0u64;
            let mut tail = [0u8; 2];
            let mut any = false;
            for chunk in b.chunks(CHUNK) {
                out.clear();
                e.push(chunk, &mut out);
                note(&mut tail, &mut any, &mut total, &out);
            }
            out.clear();
            e.finish(&mut out);
            note(&mut tail, &mut any, &mut total, &out);
            (Some((total, any.then_some(tail == *b"\r\n"))), None)
        }
        Content::Stream { len, .. } => match (len, enc) {
            (Some(n), TransferEncoding::Base64) if !text => (b64(*n), *len),
            _ => (None, *len),
        },
        #[cfg(feature = "std")]
        Content::File { path } => {
            let n = std::fs::metadata(path).ok().map(|m| m.len());
            match (n, enc) {
                (Some(n), TransferEncoding::Base64) if !text => (b64(n), Some(n)),
                _ => (None, n),
            }
        }
    }
}

fn note(tail: &mut [u8; 2], any: &mut bool, total: &mut u64, out: &[u8]) {
    *total += out.len() as u64;
    for &b in out.iter().rev().take(2).rev() {
        *tail = [tail[1], b];
        *any = true;
    }
}

/// A boundary token that no 7bit/8bit body contains. Quoted-printable and base64 output
/// can never contain `=_`, so only those bodies need checking (RFC 2046 §5.1.1).
fn pick_token(seed: core::fmt::Arguments<'_>, plain_bodies: &[&[u8]]) -> String {
    let mut salt = 0u64;
    loop {
        // FNV-1a of the formatted seed, hashed as it is formatted: deterministic, no RNG
        // needed.
        let mut h = Fnv(0xcbf2_9ce4_8422_2325 ^ salt);
        let _ = core::fmt::write(&mut h, seed);
        let token = format!("{:016x}", h.0);
        let needle = format!("=_{token}");
        // The first octet is compared before the window: no `memcmp` call per position.
        if !plain_bodies.iter().any(|b| {
            b.windows(needle.len())
                .any(|w| w[0] == b'=' && w == needle.as_bytes())
        }) {
            return token;
        }
        salt += 1;
    }
}

/// FNV-1a over the bytes written to it.
struct Fnv(u64);

impl core::fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(())
    }
}

fn choose_all(
    p: &Part,
    opts: &EncodeOptions,
    out: &mut Vec<TransferEncoding>,
) -> Result<(), Error> {
    match &p.body {
        Body::Leaf { content, text } => out.push(match content {
            Content::Bytes(b) => {
                let s = scan(b);
                if *text {
                    choose_text(&s, opts.allow_8bit)
                } else {
                    choose_exact(&s, p.content_type.is_text())
                }
            }
            Content::Stream { source: None, .. } => return Err(Error::SourceConsumed),
            _ if *text => TransferEncoding::QuotedPrintable,
            _ => TransferEncoding::Base64,
        }),
        Body::Multi(children) => {
            for c in children {
                choose_all(c, opts, out)?;
            }
        }
    }
    Ok(())
}

fn plain_bodies<'p>(
    p: &'p Part,
    encs: &mut core::slice::Iter<'_, TransferEncoding>,
    out: &mut Vec<&'p [u8]>,
) {
    match &p.body {
        Body::Leaf { content, .. } => {
            let e = encs.next();
            if let (Some(TransferEncoding::SevenBit | TransferEncoding::EightBit), Some(b)) =
                (e, content.memory())
            {
                out.push(b);
            }
        }
        Body::Multi(children) => children.iter().for_each(|c| plain_bodies(c, encs, out)),
    }
}

fn take_sources<'a>(p: &'a mut Part, out: &mut Vec<Option<Src<'a>>>) {
    let Part { body, .. } = p;
    match body {
        Body::Leaf { content, .. } => out.push(match content {
            Content::Bytes(b) => {
                let b: &'a Cow<'static, [u8]> = b;
                Some(Src::Memory(b))
            }
            Content::Stream { source, .. } => source.take().map(Src::Stream),
            #[cfg(feature = "std")]
            Content::File { path } => {
                let path: &'a std::path::PathBuf = path;
                Some(Src::File(path))
            }
        }),
        Body::Multi(children) => children.iter_mut().for_each(|c| take_sources(c, out)),
    }
}

fn write_message_headers(
    m: &Message,
    opts: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let utf8 = opts.smtputf8;
    let mut w = HeaderWriter::new(out, "Date");
    w.unstructured(&format!("{}", m.date), false);
    w.finish();
    let mut w = HeaderWriter::new(out, "From");
    for (i, mb) in m.from.iter().enumerate() {
        write_mailbox(
            &mut w,
            mb,
            utf8,
            if i + 1 == m.from.len() { "" } else { "," },
        )?;
    }
    w.finish();
    if let Some(s) = &m.sender {
        let mut w = HeaderWriter::new(out, "Sender");
        write_mailbox(&mut w, s, utf8, "")?;
        w.finish();
    }
    for (name, list) in [("Reply-To", &m.reply_to), ("To", &m.to), ("Cc", &m.cc)] {
        if !list.is_empty() {
            let mut w = HeaderWriter::new(out, name);
            write_addresses(&mut w, list, utf8)?;
            w.finish();
        }
    }
    if let Some(s) = &m.subject {
        let mut w = HeaderWriter::new(out, "Subject");
        w.unstructured(s, false);
        w.finish();
    }
    if let Some(id) = &m.message_id {
        let mut w = HeaderWriter::new(out, "Message-ID");
        w.word(&format!("{id}"));
        w.finish();
    }
    for (name, ids) in [
        ("In-Reply-To", &m.in_reply_to),
        ("References", &m.references),
    ] {
        if !ids.is_empty() {
            let mut w = HeaderWriter::new(out, name);
            for id in ids {
                w.word(&format!("{id}"));
            }
            w.finish();
        }
    }
    for (name, value) in &m.headers {
        let mut w = HeaderWriter::new(out, name);
        w.unstructured(value, false);
        w.finish();
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    Ok(())
}

impl<'a> Encoder<'a> {
    pub(crate) fn for_message(m: &'a mut Message, opts: &EncodeOptions) -> Result<Self, Error> {
        let mut encs = Vec::new();
        choose_all(&m.body, opts, &mut encs)?;
        let mut plain = Vec::new();
        plain_bodies(&m.body, &mut encs.iter(), &mut plain);
        let token = pick_token(
            format_args!("{:?}{}{:?}", m.message_id, m.date, m.subject),
            &plain,
        );
        #[cfg(feature = "dkim")]
        let mut head = m.dkim.prefix.clone();
        #[cfg(not(feature = "dkim"))]
        let mut head = Vec::new();
        write_message_headers(m, opts, &mut head)?;
        let mut planner = Planner {
            encs: encs.iter(),
            token,
            boundaries: 0,
            items: Vec::new(),
            cur: head,
        };
        planner.entity(&m.body)?;
        planner.flush();
        let mut items = planner.items;
        items.push(Item::EndCrlf);
        let mut sources = Vec::new();
        take_sources(&mut m.body, &mut sources);
        Ok(Self::from_items(items, sources))
    }

    fn from_items(items: Vec<Item>, sources: Vec<Option<Src<'a>>>) -> Self {
        let uses_8bit = items.iter().any(|i| {
            matches!(
                i,
                Item::Body {
                    enc: TransferEncoding::EightBit,
                    ..
                }
            )
        });
        let uses_smtputf8 = items
            .iter()
            .any(|i| matches!(i, Item::Bytes(b) if !b.is_ascii()));
        let total = total_len(&items);
        Encoder {
            items,
            sources,
            idx: 0,
            pos: 0,
            body_no: 0,
            active: None,
            out: Vec::new(),
            out_pos: 0,
            inbuf: Vec::new(),
            tail: [0; 2],
            uses_8bit,
            uses_smtputf8,
            total,
        }
    }

    /// A raw message: `head` (already CRLF) then the body normalized to CRLF.
    pub(crate) fn for_raw(
        head: Vec<u8>,
        body: Src<'a>,
        body_len: Option<(u64, Option<bool>)>,
        smtputf8: bool,
        eight_bit: bool,
    ) -> Self {
        let items = alloc::vec![
            Item::Bytes(head),
            Item::Body {
                enc: TransferEncoding::EightBit,
                text: true,
                len: body_len,
                declared: None,
            },
            Item::EndCrlf,
        ];
        let mut e = Self::from_items(items, alloc::vec![Some(body)]);
        e.uses_smtputf8 = smtputf8;
        e.uses_8bit = eight_bit;
        e
    }

    /// The exact number of bytes this encoder produces in all, computed ahead when every
    /// body's encoded length is known: memory bodies, and base64 streams or files with a
    /// known length. `None` when a stream has no declared length or is declared text
    /// (quoted-printable length depends on content). Use it for `SIZE=` (RFC 1870).
    /// Memory bodies are counted by encoding them once when the encoder is created.
    pub fn encoded_len(&self) -> Option<u64> {
        self.total
    }

    /// Whether a body is written as `8bit`: send `BODY=8BITMIME` (RFC 6152).
    pub fn uses_8bit(&self) -> bool {
        self.uses_8bit
    }

    /// Whether the headers hold UTF-8 (an address with a UTF-8 local part): send the
    /// `SMTPUTF8` parameter (RFC 6531).
    pub fn uses_smtputf8(&self) -> bool {
        self.uses_smtputf8
    }

    fn emit_tail(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().rev().take(2).rev() {
            self.tail = [self.tail[1], b];
        }
    }

    /// Fill `buf` with the next bytes; `Ok(0)` at the end. After an error the encoder
    /// must not be used again.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.out_pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                self.emit_tail(&buf[..n]);
                return Ok(n);
            }
            self.out.clear();
            self.out_pos = 0;
            match self.items.get(self.idx) {
                None => return Ok(0),
                Some(Item::Bytes(v)) => {
                    let rest = v.get(self.pos..).unwrap_or(&[]);
                    let n = buf.len().min(rest.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    self.pos += n;
                    if self.pos >= v.len() {
                        self.idx += 1;
                        self.pos = 0;
                    }
                    if n > 0 {
                        self.emit_tail(&buf[..n]);
                        return Ok(n);
                    }
                }
                Some(Item::EndCrlf) => {
                    if self.tail != *b"\r\n" {
                        self.out.extend_from_slice(b"\r\n");
                    }
                    self.idx += 1;
                }
                Some(&Item::Body {
                    enc,
                    text,
                    declared,
                    ..
                }) => self.fill(enc, text, declared)?,
            }
        }
    }

    fn fill(
        &mut self,
        enc: TransferEncoding,
        text: bool,
        declared: Option<u64>,
    ) -> Result<(), Error> {
        if self.active.is_none() {
            let src = self
                .sources
                .get_mut(self.body_no)
                .and_then(Option::take)
                .ok_or(Error::SourceConsumed)?;
            let src = match src {
                Src::Memory(m) => Open::Memory(m),
                Src::Stream(s) => Open::Stream(s),
                #[cfg(feature = "std")]
                Src::File(p) => Open::File(std::fs::File::open(p)?),
            };
            self.active = Some(Active {
                src,
                enc: BodyEncoder::new(enc, text),
                read: 0,
            });
        }
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        let chunk: &[u8] = match &mut active.src {
            Open::Memory(m) => {
                let (head, rest) = m.split_at(m.len().min(CHUNK));
                *m = rest;
                head
            }
            Open::Stream(s) => {
                self.inbuf.resize(CHUNK, 0);
                let n = s.read(&mut self.inbuf)?;
                self.inbuf.get(..n).unwrap_or(&[])
            }
            #[cfg(feature = "std")]
            Open::File(f) => {
                self.inbuf.resize(CHUNK, 0);
                let n = loop {
                    match std::io::Read::read(f, &mut self.inbuf) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        r => break r?,
                    }
                };
                self.inbuf.get(..n).unwrap_or(&[])
            }
        };
        if chunk.is_empty() {
            active.enc.finish(&mut self.out);
            let read = active.read;
            self.active = None;
            self.idx += 1;
            self.body_no += 1;
            if let Some(d) = declared.filter(|&d| d != read) {
                return Err(Error::LengthMismatch {
                    declared: d,
                    actual: read,
                });
            }
        } else {
            active.read += chunk.len() as u64;
            active.enc.push(chunk, &mut self.out);
        }
        Ok(())
    }
}

/// Sum the items' lengths, tracking whether the output so far ends in CRLF for `EndCrlf`.
fn total_len(items: &[Item]) -> Option<u64> {
    let mut total = 0u64;
    let mut ends_crlf = false;
    for item in items {
        match item {
            Item::Bytes(b) => {
                total += b.len() as u64;
                if !b.is_empty() {
                    ends_crlf = b.ends_with(b"\r\n");
                }
            }
            Item::Body { len, .. } => {
                let (n, end) = (*len)?;
                total += n;
                if let Some(e) = end {
                    ends_crlf = e;
                }
            }
            Item::EndCrlf => {
                if !ends_crlf {
                    total += 2;
                }
                ends_crlf = true;
            }
        }
    }
    Some(total)
}

#[cfg(feature = "std")]
impl std::io::Read for Encoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Encoder::read(self, buf).map_err(Into::into)
    }
}
