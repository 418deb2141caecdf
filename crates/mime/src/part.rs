//! MIME entities: leaf parts (text, HTML, attachments) and multiparts, nested at will.

use alloc::borrow::{Cow, ToOwned};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::content_type::ContentType;
use crate::error::Error;
use crate::header::check_value;
use crate::source::{Content, Source};

/// One MIME entity: a leaf with a body, or a `multipart/*` holding other parts.
///
/// The builder's `text`, `html` and `attach` cover the usual shapes; build a tree of
/// `Part`s and pass it to [`MessageBuilder::body`](crate::MessageBuilder::body) for any other.
///
/// ```
/// use postel_mime::{Attachment, Part};
/// let body = Part::mixed(vec![
///     Part::alternative(vec![Part::text("Hi"), Part::html("<p>Hi</p>")]),
///     Attachment::new("notes.txt", b"a\r\nb".to_vec())?.into(),
/// ]);
/// assert_eq!(body.content_type().essence(), "multipart/mixed");
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Debug)]
pub struct Part {
    pub(crate) content_type: ContentType,
    pub(crate) disposition: Option<Disposition>,
    pub(crate) content_id: Option<String>,
    pub(crate) body: Body,
}

/// RFC 2183 `Content-Disposition`.
#[derive(Debug, Clone)]
pub(crate) struct Disposition {
    pub(crate) inline: bool,
    pub(crate) filename: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Body {
    /// `text`: line ends are canonicalized to CRLF; otherwise bytes are kept exactly.
    Leaf {
        content: Content,
        text: bool,
    },
    Multi(Vec<Part>),
}

impl Part {
    /// `text/plain; charset=utf-8`. Line ends (CR, LF, CRLF) are written as CRLF.
    pub fn text(body: impl Into<String>) -> Part {
        Part::leaf(
            ContentType::text_plain(),
            Content::Bytes(Cow::Owned(body.into().into_bytes())),
            true,
        )
    }

    /// `text/html; charset=utf-8`. Line ends (CR, LF, CRLF) are written as CRLF.
    pub fn html(body: impl Into<String>) -> Part {
        Part::leaf(
            ContentType::text_html(),
            Content::Bytes(Cow::Owned(body.into().into_bytes())),
            true,
        )
    }

    /// A part of any type whose bytes are kept exactly (no disposition, no file name).
    pub fn bytes(content_type: ContentType, body: impl Into<Cow<'static, [u8]>>) -> Part {
        Part::leaf(content_type, Content::Bytes(body.into()), false)
    }

    fn leaf(content_type: ContentType, content: Content, text: bool) -> Part {
        Part {
            content_type,
            disposition: None,
            content_id: None,
            body: Body::Leaf { content, text },
        }
    }

    /// `multipart/<subtype>` around `parts` (RFC 2046 §5.1). The boundary is chosen when
    /// encoding.
    pub fn multipart(subtype: &str, parts: Vec<Part>) -> Result<Part, Error> {
        let ct = ContentType::new(&alloc::format!("multipart/{subtype}"))?;
        Ok(Part {
            content_type: ct,
            disposition: None,
            content_id: None,
            body: Body::Multi(parts),
        })
    }

    fn known_multipart(subtype: &'static str, parts: Vec<Part>) -> Part {
        Part {
            content_type: ContentType::new(subtype).unwrap_or_else(|_| ContentType::octet_stream()),
            disposition: None,
            content_id: None,
            body: Body::Multi(parts),
        }
    }

    /// `multipart/mixed`: a body and attachments.
    pub fn mixed(parts: Vec<Part>) -> Part {
        Part::known_multipart("multipart/mixed", parts)
    }

    /// `multipart/alternative` (RFC 2046 §5.1.4): the same content, plainest first.
    pub fn alternative(parts: Vec<Part>) -> Part {
        Part::known_multipart("multipart/alternative", parts)
    }

    /// `multipart/related` (RFC 2387): a root part first, then what it refers to by
    /// Content-ID (inline images).
    pub fn related(parts: Vec<Part>) -> Part {
        Part::known_multipart("multipart/related", parts)
    }

    /// The part's content type (for a multipart, without its boundary).
    pub fn content_type(&self) -> &ContentType {
        &self.content_type
    }

    /// The attachment's file name, if any.
    pub fn filename(&self) -> Option<&str> {
        self.disposition.as_ref()?.filename.as_deref()
    }

    /// The sub-parts of a multipart; empty for a leaf.
    pub fn parts(&self) -> &[Part] {
        match &self.body {
            Body::Multi(p) => p,
            Body::Leaf { .. } => &[],
        }
    }

    pub(crate) fn is_inline_related(&self) -> bool {
        self.content_id.is_some() && self.disposition.as_ref().is_some_and(|d| d.inline)
    }

    /// Check what can only be checked on the whole tree: no empty multipart.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        match &self.body {
            Body::Multi(p) if p.is_empty() => Err(Error::InvalidValue {
                field: "Content-Type".into(),
                reason: "a multipart needs at least one part",
            }),
            Body::Multi(p) => p.iter().try_for_each(Part::validate),
            Body::Leaf { .. } => Ok(()),
        }
    }
}

/// A file attached to a message (`Content-Disposition: attachment`), or shown inline
/// and referred to by `cid:` from HTML.
///
/// The content type is guessed from the file name's extension unless given. The bytes
/// are kept exactly (base64, or 7bit for plain-ASCII text files with CRLF line ends);
/// [`Attachment::text`] declares a text file whose line ends may be canonicalized.
///
/// ```
/// use postel_mime::{Attachment, ContentType};
/// let a = Attachment::new("résumé.pdf", vec![0x25, 0x50, 0x44, 0x46])?;
/// assert_eq!(a.content_type_ref().essence(), "application/pdf");
/// let logo = Attachment::new("logo.png", vec![0x89, b'P', b'N', b'G'])?.inline("logo@x.test")?;
/// let csv = Attachment::new("data", b"a,b\n".to_vec())?
///     .content_type("text/csv".parse()?)
///     .text();
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Debug)]
pub struct Attachment(Part);

fn check_filename(name: &str) -> Result<(), Error> {
    check_value("filename", name)?;
    if name.is_empty() || name.len() > 1000 {
        return Err(Error::InvalidValue {
            field: "filename".into(),
            reason: "file name empty or longer than 1000 bytes",
        });
    }
    Ok(())
}

impl Attachment {
    fn with(filename: &str, content: Content) -> Result<Self, Error> {
        check_filename(filename)?;
        Ok(Attachment(Part {
            content_type: ContentType::from_file_name(filename),
            disposition: Some(Disposition {
                inline: false,
                filename: Some(filename.to_owned()),
            }),
            content_id: None,
            body: Body::Leaf {
                content,
                text: false,
            },
        }))
    }

    /// Attach bytes held in memory (owned, or `&'static`) as `filename`.
    pub fn new(filename: &str, body: impl Into<Cow<'static, [u8]>>) -> Result<Self, Error> {
        Self::with(filename, Content::Bytes(body.into()))
    }

    /// Attach a stream read as the message is sent. Give `len` when known, so the
    /// encoded size can be computed ahead (SIZE=); a source that then produces another
    /// length fails the encoding with [`Error::LengthMismatch`]. Streams can be encoded once.
    pub fn from_source(
        filename: &str,
        source: Box<dyn Source>,
        len: Option<u64>,
    ) -> Result<Self, Error> {
        Self::with(
            filename,
            Content::Stream {
                source: Some(source),
                len,
            },
        )
    }

    /// Attach anything `std::io::Read`; see [`Attachment::from_source`].
    #[cfg(feature = "std")]
    pub fn from_reader<R: std::io::Read + Send + 'static>(
        filename: &str,
        reader: R,
        len: Option<u64>,
    ) -> Result<Self, Error> {
        Self::from_source(filename, Box::new(crate::source::ReadSource(reader)), len)
    }

    /// Attach a file under its own name. It is checked now and opened only when the
    /// encoder reaches it, read in small chunks: a 1 GB file uses constant memory, and
    /// the message can be encoded again (for a retry).
    ///
    /// A file whose name says text (`.txt`, `.csv`, `.md`, `.html`...) is read through
    /// once now, in constant memory: when it is valid UTF-8 it is declared
    /// `text/...; charset=utf-8`, so mail clients show it right; otherwise
    /// `application/octet-stream` (give its charset with [`Attachment::charset`]).
    #[cfg(feature = "std")]
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(Error::InvalidValue {
                field: "attachment".into(),
                reason: "not a regular file",
            });
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or(Error::InvalidValue {
                field: "filename".into(),
                reason: "file name is not UTF-8",
            })?;
        let mut a = Self::with(
            name,
            Content::File {
                path: path.to_path_buf(),
            },
        )?;
        if a.0.content_type.is_text() {
            a.0.content_type = if crate::utf8::reader_is_utf8(std::fs::File::open(path)?)? {
                a.0.content_type.with_param("charset", "utf-8")?
            } else {
                ContentType::octet_stream()
            };
        }
        Ok(a)
    }

    /// Declare the content text in `charset` (`utf-8`, `iso-8859-1`, `windows-1252`...):
    /// `text/...; charset=<charset>`, the text type guessed from the file name, else
    /// `text/plain`. The bytes are still sent exactly as they are.
    ///
    /// ```
    /// use postel_mime::Attachment;
    /// let a = Attachment::new("menu.csv", b"caf\xe9,3\n".to_vec())?.charset("iso-8859-1")?;
    /// assert_eq!(a.content_type_ref().to_string(), "text/csv; charset=iso-8859-1");
    /// let b = Attachment::new("notes", b"x".to_vec())?.charset("utf-8")?;
    /// assert_eq!(b.content_type_ref().to_string(), "text/plain; charset=utf-8");
    /// assert!(Attachment::new("a.txt", vec![])?.charset("utf-8; name=x").is_err());
    /// # Ok::<(), postel_mime::Error>(())
    /// ```
    pub fn charset(mut self, charset: &str) -> Result<Self, Error> {
        // RFC 2978 mime-charset characters, without the quote and brace ones.
        let ok = !charset.is_empty()
            && charset.len() <= 40
            && charset
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&+-^_`~.:".contains(&b));
        if !ok {
            return Err(Error::InvalidValue {
                field: "charset".into(),
                reason: "a charset name is letters, digits and - _ . : + only",
            });
        }
        let guessed = self
            .filename_ref()
            .map(ContentType::from_file_name)
            .filter(ContentType::is_text);
        let base = match (self.0.content_type.is_text(), guessed) {
            (true, _) => self.0.content_type.clone(),
            (false, Some(g)) => g,
            (false, None) => ContentType::new("text/plain")?,
        };
        self.0.content_type = base.with_param("charset", &charset.to_ascii_lowercase())?;
        Ok(self)
    }

    fn filename_ref(&self) -> Option<&str> {
        self.0.disposition.as_ref()?.filename.as_deref()
    }

    /// Send under another file name (the content type is not guessed again).
    pub fn filename(mut self, name: &str) -> Result<Self, Error> {
        check_filename(name)?;
        if let Some(d) = &mut self.0.disposition {
            d.filename = Some(name.to_owned());
        }
        Ok(self)
    }

    /// Use this content type instead of the guessed one.
    pub fn content_type(mut self, ct: ContentType) -> Self {
        self.0.content_type = ct;
        self
    }

    /// The content type that will be written.
    pub fn content_type_ref(&self) -> &ContentType {
        &self.0.content_type
    }

    /// Show inline (`Content-Disposition: inline`) with `Content-ID: <cid>` (RFC 2392),
    /// for HTML to refer to as `cid:<cid>`; the builder puts such parts in a
    /// `multipart/related` with the HTML. `cid` is printable ASCII without spaces or
    /// angle brackets, ideally `something@your.domain`.
    pub fn inline(mut self, cid: &str) -> Result<Self, Error> {
        let cid = cid
            .strip_prefix('<')
            .and_then(|c| c.strip_suffix('>'))
            .unwrap_or(cid);
        if cid.is_empty()
            || cid.len() > 200
            || !cid
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
        {
            check_value("Content-ID", cid)?;
            return Err(Error::InvalidValue {
                field: "Content-ID".into(),
                reason: "printable ASCII without spaces or <>, at most 200 bytes",
            });
        }
        self.0.content_id = Some(cid.to_owned());
        if let Some(d) = &mut self.0.disposition {
            d.inline = true;
        }
        Ok(self)
    }

    /// Declare the content text: its line ends become CRLF and it may be sent as 7bit,
    /// 8bit or quoted-printable (a stream so declared is quoted-printable).
    pub fn text(mut self) -> Self {
        if let Body::Leaf { text, .. } = &mut self.0.body {
            *text = true;
        }
        self
    }
}

impl From<Attachment> for Part {
    fn from(a: Attachment) -> Part {
        a.0
    }
}
