//! A message and its builder.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::address::{AddrSpec, Address, Mailbox};
use crate::date::DateTime;
use crate::encoder::{EncodeOptions, Encoder};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::header::{check_name, check_value};
use crate::message_id::MessageId;
use crate::part::{Attachment, Part};

/// Header fields the builder writes itself; [`MessageBuilder::header`] refuses them.
const RESERVED: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
];

/// Anything that can be turned into addresses for a header: a string holding one address
/// or a comma-separated list, a [`Mailbox`], an [`AddrSpec`], an [`Address`] or a `Vec` of them.
pub trait IntoAddresses {
    /// Convert, reporting errors against `field`.
    fn into_addresses(self, field: &str) -> Result<Vec<Address>, Error>;
}

impl IntoAddresses for &str {
    fn into_addresses(self, field: &str) -> Result<Vec<Address>, Error> {
        Address::parse_list_for(field, self)
    }
}

impl IntoAddresses for &String {
    fn into_addresses(self, field: &str) -> Result<Vec<Address>, Error> {
        Address::parse_list_for(field, self)
    }
}

impl IntoAddresses for String {
    fn into_addresses(self, field: &str) -> Result<Vec<Address>, Error> {
        Address::parse_list_for(field, &self)
    }
}

impl IntoAddresses for Mailbox {
    fn into_addresses(self, _: &str) -> Result<Vec<Address>, Error> {
        Ok(alloc::vec![Address::Mailbox(self)])
    }
}

impl IntoAddresses for AddrSpec {
    fn into_addresses(self, _: &str) -> Result<Vec<Address>, Error> {
        Ok(alloc::vec![Address::Mailbox(Mailbox::new(None, self)?)])
    }
}

impl IntoAddresses for Address {
    fn into_addresses(self, _: &str) -> Result<Vec<Address>, Error> {
        Ok(alloc::vec![self])
    }
}

impl<T: Into<Address>> IntoAddresses for Vec<T> {
    fn into_addresses(self, _: &str) -> Result<Vec<Address>, Error> {
        Ok(self.into_iter().map(Into::into).collect())
    }
}

/// A message ready to be encoded: headers, a body tree, and the Bcc recipients that go
/// into the envelope only.
///
/// ```
/// use postel_mime::{EncodeOptions, Message};
/// let mut msg = Message::builder()
///     .from("Alice <alice@example.com>")
///     .to("bob@example.net")
///     .bcc("audit@example.com")
///     .subject("Lunch")
///     .text("Noon?")
///     .date(postel_mime::DateTime::from_unix(0, 0)?)
///     .message_id("<1@example.com>".parse()?)
///     .build()?;
/// let env = msg.envelope()?;
/// assert_eq!(env.to().len(), 2); // Bob and the Bcc
/// let bytes = msg.to_vec(&EncodeOptions::default())?;
/// let text = String::from_utf8(bytes).unwrap();
/// assert!(text.starts_with("Date: Thu, 1 Jan 1970 00:00:00 +0000\r\nFrom: Alice <alice@example.com>\r\n"));
/// assert!(!text.contains("audit"));
/// assert!(text.ends_with("\r\n\r\nNoon?\r\n"));
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Debug)]
pub struct Message {
    pub(crate) from: Vec<Mailbox>,
    pub(crate) sender: Option<Mailbox>,
    pub(crate) reply_to: Vec<Address>,
    pub(crate) to: Vec<Address>,
    pub(crate) cc: Vec<Address>,
    pub(crate) bcc: Vec<Address>,
    pub(crate) subject: Option<String>,
    pub(crate) date: DateTime,
    pub(crate) message_id: Option<MessageId>,
    pub(crate) in_reply_to: Vec<MessageId>,
    pub(crate) references: Vec<MessageId>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Part,
    /// DKIM signatures attached by [`crate::dkim::Signer::sign`].
    #[cfg(feature = "dkim")]
    pub(crate) dkim: Signed,
}

/// What signing attached to a [`Message`]: the `DKIM-Signature` fields (folded, CRLF),
/// the options the signed bytes were encoded with, and spooled one-shot bodies.
#[cfg(feature = "dkim")]
#[derive(Debug, Default)]
pub(crate) struct Signed {
    pub(crate) prefix: Vec<u8>,
    pub(crate) opts: Option<EncodeOptions>,
    pub(crate) spooled: Vec<tempfile::TempPath>,
}

impl Message {
    /// Start building a message.
    pub fn builder() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// The envelope, as a submission client needs it: the reverse path is `Sender` if
    /// set, else the first `From`; recipients are To, Cc and Bcc (group members
    /// included), without duplicates.
    pub fn envelope(&self) -> Result<Envelope, Error> {
        let from = self
            .sender
            .as_ref()
            .or(self.from.first())
            .map(|m| m.addr().clone());
        let to = self
            .to
            .iter()
            .chain(&self.cc)
            .chain(&self.bcc)
            .flat_map(Address::mailboxes)
            .map(|m| m.addr().clone())
            .collect();
        Envelope::new(from, to)
    }

    /// Whether the message can only go to a server offering SMTPUTF8: an address in its
    /// envelope or headers has a UTF-8 local part. (Non-ASCII text elsewhere is written
    /// as encoded words, and domains as A-labels, so it never needs SMTPUTF8.)
    pub fn needs_smtputf8(&self) -> bool {
        self.from
            .iter()
            .chain(&self.sender)
            .chain(
                self.to
                    .iter()
                    .chain(&self.cc)
                    .chain(&self.bcc)
                    .chain(&self.reply_to)
                    .flat_map(Address::mailboxes),
            )
            .any(|m| m.addr().needs_smtputf8())
    }

    /// A pull encoder producing the message's bytes for a server with the capabilities
    /// in `opts`. Memory and file bodies can be encoded any number of times; a streamed
    /// source only once ([`Error::SourceConsumed`]). A DKIM-signed message is encoded
    /// with the options it was signed with (7-bit), whatever `opts` says, so the bytes
    /// are the signed ones.
    pub fn encoder(&mut self, opts: &EncodeOptions) -> Result<Encoder<'_>, Error> {
        #[cfg(feature = "dkim")]
        let opts = &self.dkim.opts.unwrap_or(*opts);
        Encoder::for_message(self, opts)
    }

    /// Encode the whole message into memory (for small messages and tests).
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

    /// The `Message-ID`, if the message has one (always with `std`).
    pub fn message_id(&self) -> Option<&MessageId> {
        self.message_id.as_ref()
    }

    /// The `From` mailboxes.
    pub fn from(&self) -> &[Mailbox] {
        &self.from
    }

    /// The `To` addresses.
    pub fn to(&self) -> &[Address] {
        &self.to
    }

    /// The `Cc` addresses.
    pub fn cc(&self) -> &[Address] {
        &self.cc
    }

    /// The `Bcc` addresses (envelope only).
    pub fn bcc(&self) -> &[Address] {
        &self.bcc
    }

    /// The subject, if any.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The body tree.
    pub fn body(&self) -> &Part {
        &self.body
    }
}

/// Builds a [`Message`]. Every setter returns the builder; the first error (an address
/// that does not parse, a CR in a subject…) is kept and returned by [`build`](Self::build),
/// so calls chain without `?` at each step.
///
/// ```
/// use postel_mime::{Attachment, Message};
/// let msg = Message::builder()
///     .from("\"Zoë\" <zoe@example.com>")
///     .to("Team: a@example.net, b@example.net;")
///     .cc("Carol <carol@example.org>")
///     .subject("Quarterly report — final")
///     .text("See attached.\n")
///     .html("<p>See <b>attached</b>.</p>")
///     .attach(Attachment::new("report.csv", b"q,total\r\n1,10\r\n".to_vec())?)
///     .header("X-Mailer", "postel")
///     .date(postel_mime::DateTime::from_unix(1_795_386_300, 0)?) // default: now, with `std`
///     .build()?;
/// assert_eq!(msg.body().content_type().essence(), "multipart/mixed");
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Default, Debug)]
pub struct MessageBuilder {
    from: Vec<Address>,
    sender: Option<Mailbox>,
    reply_to: Vec<Address>,
    to: Vec<Address>,
    cc: Vec<Address>,
    bcc: Vec<Address>,
    subject: Option<String>,
    date: Option<DateTime>,
    message_id: Option<MessageId>,
    in_reply_to: Vec<MessageId>,
    references: Vec<MessageId>,
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    body: Option<Part>,
    attachments: Vec<Part>,
    error: Option<Error>,
}

impl MessageBuilder {
    fn keep<T>(&mut self, r: Result<T, Error>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    fn addresses(&mut self, field: &str, a: impl IntoAddresses) -> Vec<Address> {
        let r = a.into_addresses(field);
        self.keep(r).unwrap_or_default()
    }

    /// Add `From` mailboxes (required; more than one needs [`sender`](Self::sender)).
    pub fn from(mut self, a: impl IntoAddresses) -> Self {
        let a = self.addresses("From", a);
        self.from.extend(a);
        self
    }

    /// Set `Sender`: the one mailbox that actually sent the message; also the envelope's
    /// reverse path.
    pub fn sender(mut self, a: impl IntoAddresses) -> Self {
        let list = self.addresses("Sender", a);
        match <[Address; 1]>::try_from(list) {
            Ok([Address::Mailbox(m)]) => self.sender = Some(m),
            _ => {
                self.error.get_or_insert(Error::InvalidValue {
                    field: "Sender".into(),
                    reason: "exactly one mailbox",
                });
            }
        }
        self
    }

    /// Add `Reply-To` addresses.
    pub fn reply_to(mut self, a: impl IntoAddresses) -> Self {
        let a = self.addresses("Reply-To", a);
        self.reply_to.extend(a);
        self
    }

    /// Add `To` recipients (a list or group in one string is fine).
    pub fn to(mut self, a: impl IntoAddresses) -> Self {
        let a = self.addresses("To", a);
        self.to.extend(a);
        self
    }

    /// Add `Cc` recipients.
    pub fn cc(mut self, a: impl IntoAddresses) -> Self {
        let a = self.addresses("Cc", a);
        self.cc.extend(a);
        self
    }

    /// Add `Bcc` recipients: in the envelope, never in the headers.
    pub fn bcc(mut self, a: impl IntoAddresses) -> Self {
        let a = self.addresses("Bcc", a);
        self.bcc.extend(a);
        self
    }

    /// Set the subject (any text; non-ASCII is written as RFC 2047 encoded words).
    pub fn subject(mut self, s: impl Into<String>) -> Self {
        let s = s.into();
        if self.keep(check_value("Subject", &s)).is_some() {
            self.subject = Some(s);
        }
        self
    }

    /// Set the date. Default: [`DateTime::now`] with `std`; required without it.
    pub fn date(mut self, d: DateTime) -> Self {
        self.date = Some(d);
        self
    }

    /// Set the Message-ID. Default with `std`: [`MessageId::generate`] on the domain of
    /// the first `From`; without `std` the field is left out unless given.
    pub fn message_id(mut self, id: MessageId) -> Self {
        self.message_id = Some(id);
        self
    }

    /// Add an `In-Reply-To` identifier (the message this one answers).
    pub fn in_reply_to(mut self, id: MessageId) -> Self {
        self.in_reply_to.push(id);
        self
    }

    /// Add a `References` identifier (the thread, oldest first).
    pub fn references(mut self, id: MessageId) -> Self {
        self.references.push(id);
        self
    }

    /// Add a custom header field with unstructured text. The name must be RFC 5322
    /// `ftext` and not one the builder writes (From, Bcc, Content-Type…).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        let check = check_name(name).and_then(|()| {
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                Err(Error::ReservedHeader {
                    name: name.to_string(),
                })
            } else {
                check_value(name, &value)
            }
        });
        if self.keep(check).is_some() {
            self.headers.push((name.to_string(), value));
        }
        self
    }

    /// Set the plain-text body.
    pub fn text(mut self, body: impl Into<String>) -> Self {
        self.text = Some(body.into());
        self
    }

    /// Set the HTML body; with [`text`](Self::text) too, both go in a
    /// `multipart/alternative`.
    pub fn html(mut self, body: impl Into<String>) -> Self {
        self.html = Some(body.into());
        self
    }

    /// Set the whole body tree yourself (instead of `text` / `html`).
    pub fn body(mut self, part: Part) -> Self {
        self.body = Some(part);
        self
    }

    /// Add an attachment. Inline ones ([`Attachment::inline`]) go in a
    /// `multipart/related` with the body; others in a `multipart/mixed` after it.
    pub fn attach(mut self, a: Attachment) -> Self {
        self.attachments.push(a.into());
        self
    }

    /// Check everything and make the message.
    pub fn build(self) -> Result<Message, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut from = Vec::new();
        for a in self.from {
            match a {
                Address::Mailbox(m) => from.push(m),
                Address::Group { .. } => {
                    return Err(Error::InvalidValue {
                        field: "From".into(),
                        reason: "a group is not allowed in From",
                    })
                }
            }
        }
        if from.is_empty() {
            return Err(Error::MissingField { field: "From" });
        }
        if from.len() > 1 && self.sender.is_none() {
            return Err(Error::MissingField { field: "Sender" });
        }
        #[cfg(feature = "std")]
        let date = self.date.unwrap_or_else(DateTime::now);
        #[cfg(not(feature = "std"))]
        let date = self.date.ok_or(Error::MissingField { field: "Date" })?;
        #[cfg(feature = "std")]
        let message_id = match self.message_id {
            Some(id) => Some(id),
            None => Some(MessageId::generate(from[0].addr().domain())?),
        };
        #[cfg(not(feature = "std"))]
        let message_id = self.message_id;

        let (inline, attached): (Vec<Part>, Vec<Part>) = self
            .attachments
            .into_iter()
            .partition(Part::is_inline_related);
        let mut body = match (self.body, self.text, self.html) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => return Err(Error::ConflictingBody),
            (Some(b), None, None) => Some(b),
            (None, Some(t), Some(h)) => {
                Some(Part::alternative(alloc::vec![Part::text(t), Part::html(h)]))
            }
            (None, Some(t), None) => Some(Part::text(t)),
            (None, None, Some(h)) => Some(Part::html(h)),
            (None, None, None) => None,
        };
        if !inline.is_empty() {
            let mut parts = Vec::with_capacity(inline.len() + 1);
            parts.extend(body.take());
            parts.extend(inline);
            body = Some(Part::related(parts));
        }
        let body = match (body, attached.is_empty()) {
            (Some(b), true) => b,
            (None, true) => Part::text(""),
            (b, false) => {
                let mut parts = Vec::with_capacity(attached.len() + 1);
                parts.extend(b);
                parts.extend(attached);
                Part::mixed(parts)
            }
        };
        body.validate()?;
        Ok(Message {
            from,
            sender: self.sender,
            reply_to: self.reply_to,
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            subject: self.subject,
            date,
            message_id,
            in_reply_to: self.in_reply_to,
            references: self.references,
            headers: self.headers,
            body,
            #[cfg(feature = "dkim")]
            dkim: Signed::default(),
        })
    }
}
