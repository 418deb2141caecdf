//! The signer's settings, and the `DKIM-Signature` field made from one pass over a
//! message's bytes: the header section is kept (it is small), the body is canonicalised
//! and hashed as it streams past.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::canon::{
    canonicalize_header, canonicalize_header_unterminated, BodyCanonicalizer, Canonicalization,
};
use super::headers::{select, signed_names, split_fields, DEFAULT_HEADERS, OVERSIGNED};
use super::key::SigningKey;
use super::DkimError;

/// Longest header section the signer keeps while it looks for the body.
const MAX_HEAD: usize = crate::raw::MAX_HEADER_SECTION + 64 * 1024;
/// Column the `DKIM-Signature` field is folded at (RFC 5322 §2.1.1's SHOULD).
const FOLD_AT: usize = 78;

/// Signs messages for one domain and selector with one key.
///
/// ```
/// use postel_mime::dkim::{Canonicalization, Signer, SigningKey};
/// use postel_mime::{EncodeOptions, Message};
/// let signer = Signer::new(SigningKey::generate_ed25519(), "example.com", "s2026")?
///     .body_canonicalization(Canonicalization::Relaxed)
///     .oversign(true);
/// let mut msg = Message::builder()
///     .from("alice@example.com")
///     .to("bob@example.net")
///     .subject("Signed")
///     .text("Hello\n")
///     .build()?;
/// signer.sign(&mut msg)?;                       // pass 1: hash, in constant memory
/// let bytes = msg.to_vec(&EncodeOptions::default())?; // pass 2: what is sent
/// assert!(bytes.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"));
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    domain: String,
    selector: String,
    header_c: Canonicalization,
    body_c: Canonicalization,
    headers: Vec<String>,
    oversign: Vec<String>,
    identity: Option<String>,
    timestamp: Option<u64>,
    expire_after: Option<u64>,
}

/// A DNS name made of LDH labels (letters, digits, hyphens), as `d=` and `s=` need.
fn check_dns_name(what: &'static str, name: &str) -> Result<String, DkimError> {
    let bad = |reason: &'static str| DkimError::InvalidName {
        what,
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    let ascii = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(name).map_err(|_| bad("not a valid internationalised name"))?
    };
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii).to_string();
    if ascii.len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    for label in ascii.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("a label is empty or longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad("only letters, digits, hyphens and dots are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label starts or ends with a hyphen"));
        }
    }
    Ok(ascii)
}

impl Signer {
    /// A signer for `domain` (`d=`) with the key published at
    /// `<selector>._domainkey.<domain>`. Defaults: `relaxed/relaxed`, the fields of
    /// [`DEFAULT_HEADERS`] the message has, no oversigning, no `t=`, `x=`, `i=` or `l=`.
    pub fn new(key: SigningKey, domain: &str, selector: &str) -> Result<Self, DkimError> {
        Ok(Signer {
            key,
            domain: check_dns_name("domain", domain)?,
            selector: check_dns_name("selector", selector)?,
            header_c: Canonicalization::Relaxed,
            body_c: Canonicalization::Relaxed,
            headers: DEFAULT_HEADERS.iter().map(|s| s.to_string()).collect(),
            oversign: Vec::new(),
            identity: None,
            timestamp: None,
            expire_after: None,
        })
    }

    /// Header canonicalisation (default `relaxed`).
    pub fn header_canonicalization(mut self, c: Canonicalization) -> Self {
        self.header_c = c;
        self
    }

    /// Body canonicalisation (default `relaxed`).
    pub fn body_canonicalization(mut self, c: Canonicalization) -> Self {
        self.body_c = c;
        self
    }

    /// The header fields to sign, when present (`From` is always signed, added first if
    /// missing from the list). Names must be header field names (no `:`, no spaces).
    pub fn headers<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, DkimError> {
        let mut list: Vec<String> = Vec::new();
        for n in names {
            let n = n.as_ref().trim();
            if n.is_empty() || !n.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                return Err(DkimError::InvalidName {
                    what: "header field name",
                    name: n.to_string(),
                    reason: "printable ASCII without ':'",
                });
            }
            list.push(n.to_string());
        }
        if !list.iter().any(|n| n.eq_ignore_ascii_case("from")) {
            list.insert(0, "From".into());
        }
        self.headers = list;
        Ok(self)
    }

    /// Oversign `From`, `To`, `Subject` and `Date`: list each once more in `h=` than the
    /// message has it, so a copy added on the way breaks the signature.
    pub fn oversign(mut self, on: bool) -> Self {
        self.oversign = if on {
            OVERSIGNED.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        };
        self
    }

    /// The `i=` tag (agent or user identifier), e.g. `@example.com` or
    /// `alice@mail.example.com`: its domain must be `d=` or below it.
    pub fn identity(mut self, i: Option<&str>) -> Result<Self, DkimError> {
        if let Some(i) = i {
            let bad = |reason| DkimError::InvalidName {
                what: "identity",
                name: i.to_string(),
                reason,
            };
            let (local, domain) = i.rsplit_once('@').ok_or(bad("no '@'"))?;
            if !local.bytes().all(|b| (33..=126).contains(&b) && b != b';') {
                return Err(bad("the local part must be printable ASCII without ';'"));
            }
            let domain = check_dns_name("identity", domain)?;
            if domain != self.domain && !domain.ends_with(&alloc::format!(".{}", self.domain)) {
                return Err(bad("its domain is not the signing domain or below it"));
            }
            self.identity = Some(alloc::format!("{local}@{domain}"));
        } else {
            self.identity = None;
        }
        Ok(self)
    }

    /// The `t=` tag: when the message was signed, in seconds since the Unix epoch.
    pub fn timestamp(mut self, t: Option<u64>) -> Self {
        self.timestamp = t;
        self
    }

    /// `t=` set to the system clock now (once: every message this signer signs gets the
    /// same `t=`; make a signer per batch, or call this again).
    pub fn timestamp_now(self) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.timestamp(Some(now))
    }

    /// The `x=` tag: the signature expires `secs` after `t=` (which is then set to the
    /// system clock now if not given yet).
    pub fn expire_after(mut self, secs: Option<u64>) -> Self {
        self.expire_after = secs;
        if secs.is_some() && self.timestamp.is_none() {
            self = self.timestamp_now();
        }
        self
    }

    /// The signing domain (`d=`), in A-label form.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (`s=`).
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Start one pass over a message's bytes.
    pub fn hasher(&self) -> MessageHasher<'_> {
        MessageHasher {
            signer: self,
            head: Vec::new(),
            in_head: true,
            body: BodyCanonicalizer::new(self.body_c),
            sha: Sha256::new(),
            buf: Vec::new(),
        }
    }

    /// The `DKIM-Signature` field for a whole message in memory (CRLF line ends), with
    /// its final CRLF: put it before the message's first line.
    pub fn signature_for(&self, message: &[u8]) -> Result<Vec<u8>, DkimError> {
        let mut h = self.hasher();
        h.push(message)?;
        Ok(join_lines(&h.finish()?))
    }
}

/// Join folded lines with CRLF, ending with CRLF.
pub(crate) fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One pass over a message: push its bytes (CRLF line ends) in chunks of any size, then
/// [`finish`](Self::finish) for the signature field. Memory: the header section only.
pub struct MessageHasher<'s> {
    signer: &'s Signer,
    head: Vec<u8>,
    in_head: bool,
    body: BodyCanonicalizer,
    sha: Sha256,
    buf: Vec<u8>,
}

impl core::fmt::Debug for MessageHasher<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageHasher")
            .field("head_len", &self.head.len())
            .field("in_head", &self.in_head)
            .finish()
    }
}

impl MessageHasher<'_> {
    fn body_bytes(&mut self, data: &[u8]) {
        self.buf.clear();
        self.body.push(data, &mut self.buf);
        self.sha.update(&self.buf);
    }

    /// The next bytes of the message.
    pub fn push(&mut self, data: &[u8]) -> Result<(), DkimError> {
        if !self.in_head {
            self.body_bytes(data);
            return Ok(());
        }
        let from = self.head.len().saturating_sub(3);
        self.head.extend_from_slice(data);
        // An empty header section: the message starts with its blank line.
        let found = if self.head.starts_with(b"\r\n") {
            Some(0)
        } else {
            self.head[from..]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|p| from + p + 2)
        };
        match found {
            Some(end) => {
                // `end` is where the blank line starts: the fields are head[..end].
                let rest = self.head.split_off(end + 2);
                self.head.truncate(end);
                self.in_head = false;
                self.body_bytes(&rest);
                Ok(())
            }
            None if self.head.len() > MAX_HEAD => {
                Err(DkimError::HeaderSectionTooLarge { limit: MAX_HEAD })
            }
            None => Ok(()),
        }
    }

    /// The end of the message: the signature field, folded, as lines without their CRLF.
    pub fn finish(self) -> Result<Vec<Vec<u8>>, DkimError> {
        let MessageHasher {
            signer,
            mut head,
            body,
            mut sha,
            mut buf,
            in_head,
        } = self;
        if in_head {
            // No blank line: all of it is header section, the body is empty.
            if !head.ends_with(b"\r\n") && !head.is_empty() {
                head.extend_from_slice(b"\r\n");
            }
        }
        buf.clear();
        body.finish(&mut buf);
        sha.update(&buf);
        let bh = base64::engine::general_purpose::STANDARD.encode(sha.finalize());

        let fields = split_fields(&head);
        if !fields.iter().any(|f| f.is("From")) {
            return Err(DkimError::NoFrom);
        }
        let names = signed_names(&fields, &signer.headers, &signer.oversign);
        let chosen = select(&fields, &names);

        let mut fold = Folder::new("DKIM-Signature:");
        fold.put(" ", "v=1;");
        fold.put(
            " ",
            &alloc::format!("a={};", signer.key.algorithm().as_str()),
        );
        fold.put(
            " ",
            &alloc::format!("c={}/{};", signer.header_c.as_str(), signer.body_c.as_str()),
        );
        fold.put(" ", &alloc::format!("d={};", signer.domain));
        fold.put(" ", &alloc::format!("s={};", signer.selector));
        if let Some(i) = &signer.identity {
            fold.put(" ", &alloc::format!("i={i};"));
        }
        if let Some(t) = signer.timestamp {
            fold.put(" ", &alloc::format!("t={t};"));
            if let Some(x) = signer.expire_after {
                fold.put(" ", &alloc::format!("x={};", t.saturating_add(x)));
            }
        }
        for (n, name) in names.iter().enumerate() {
            let last = n + 1 == names.len();
            let piece = match (n, last) {
                (0, true) => alloc::format!("h={name};"),
                (0, false) => alloc::format!("h={name}"),
                (_, true) => alloc::format!(":{name};"),
                (_, false) => alloc::format!(":{name}"),
            };
            fold.put(if n == 0 { " " } else { "" }, &piece);
        }
        fold.put(" ", &alloc::format!("bh={bh};"));
        fold.put(" ", "b=");

        // What is signed: the chosen fields, then this field with an empty b= and no CRLF.
        let mut data = Vec::new();
        for f in &chosen {
            data.extend_from_slice(&canonicalize_header(signer.header_c, f.raw));
        }
        let unsigned = join_lines(&fold.lines_so_far());
        let unsigned = unsigned.strip_suffix(b"\r\n").unwrap_or(&unsigned);
        data.extend_from_slice(&canonicalize_header_unterminated(signer.header_c, unsigned));
        let sig = signer.key.sign(&data)?;
        let b = base64::engine::general_purpose::STANDARD.encode(sig);
        fold.fill(&b);
        Ok(fold.finish())
    }
}

/// Folds a field at [`FOLD_AT`] columns, continuation lines starting with one space.
struct Folder {
    lines: Vec<Vec<u8>>,
    cur: Vec<u8>,
}

impl Folder {
    fn new(start: &str) -> Self {
        Folder {
            lines: Vec::new(),
            cur: start.as_bytes().to_vec(),
        }
    }

    fn fold(&mut self) {
        let line = core::mem::replace(&mut self.cur, b" ".to_vec());
        self.lines.push(line);
    }

    /// Add `token`, after `sep` when it fits on the current line, else on a new line.
    fn put(&mut self, sep: &str, token: &str) {
        if self.cur.len() > 1 && self.cur.len() + sep.len() + token.len() > FOLD_AT {
            self.fold();
        } else {
            self.cur.extend_from_slice(sep.as_bytes());
        }
        self.cur.extend_from_slice(token.as_bytes());
    }

    /// Add a base64 value that may be broken anywhere, filling each line.
    fn fill(&mut self, mut value: &str) {
        while !value.is_empty() {
            let room = FOLD_AT.saturating_sub(self.cur.len());
            if room == 0 {
                self.fold();
                continue;
            }
            let (now, rest) = value.split_at(room.min(value.len()));
            self.cur.extend_from_slice(now.as_bytes());
            value = rest;
        }
    }

    fn lines_so_far(&self) -> Vec<Vec<u8>> {
        let mut l = self.lines.clone();
        l.push(self.cur.clone());
        l
    }

    fn finish(mut self) -> Vec<Vec<u8>> {
        self.lines.push(self.cur);
        self.lines
    }
}
