//! One message through an open [`Client`]: the envelope (given, or from the headers), the
//! encoding the server allows, and the bytes through a progress bar.

use std::io::Read;

use indicatif::ProgressBar;
use postel::{BodyType, Client, Envelope, Extension, SendReport};
use postel_mime::{EncodeOptions, Message, RawMessage};

use crate::dsn::Dsn;

/// A message to send: built from flags, or bytes from elsewhere.
// One at a time, moved once: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Outgoing {
    /// Built by `postel send` from flags.
    Composed(Message),
    /// A file or stdin.
    Raw(RawMessage),
}

impl Outgoing {
    fn mime_envelope(&self) -> Result<postel_mime::Envelope, postel_mime::Error> {
        match self {
            Outgoing::Composed(m) => m.envelope(),
            Outgoing::Raw(r) => r.envelope(),
        }
    }
}

/// Sends `message` to `envelope`, or to the recipients in its headers when `None`.
/// Bytes are counted on `bar` when given (its length is set to the message's size).
pub fn deliver(
    client: &mut Client,
    envelope: Option<&Envelope>,
    message: &mut Outgoing,
    dsn: &Dsn,
    bar: Option<&ProgressBar>,
) -> Result<SendReport, postel::Error> {
    let caps = client.connect()?;
    let opts = EncodeOptions {
        allow_8bit: caps.has(Extension::EightBitMime),
        smtputf8: caps.has(Extension::SmtpUtf8),
    };
    let mut env = match envelope {
        Some(e) => e.clone(),
        None => from_headers(&message.mime_envelope()?, opts.smtputf8)?,
    };
    let encoder = match message {
        Outgoing::Composed(m) => m.encoder(&opts)?,
        Outgoing::Raw(r) => r.encoder(&opts)?,
    };
    env.size = encoder.encoded_len();
    if encoder.uses_8bit() {
        env.body = BodyType::EightBitMime;
    }
    env.smtputf8 |= encoder.uses_smtputf8();
    dsn.apply(&mut env);
    if let (Some(b), Some(n)) = (bar, env.size) {
        b.set_length(n);
    }
    let reader = Counted {
        inner: encoder,
        bar,
    };
    client.send_reader(&env, reader)
}

/// The sender and recipients `message` goes to, for the log: `envelope`'s, else its
/// headers' (empty when they cannot be read: the send itself then says why).
pub fn log_envelope(envelope: Option<&Envelope>, message: &Outgoing) -> (String, Vec<String>) {
    match envelope {
        Some(e) => (e.from.clone(), e.to.clone()),
        None => message
            .mime_envelope()
            .ok()
            .and_then(|e| from_headers(&e, true).ok())
            .map(|e| (e.from, e.to))
            .unwrap_or_default(),
    }
}

/// The envelope of `sendmail -t`: reverse path from Sender/From, recipients from To, Cc
/// and Bcc.
fn from_headers(env: &postel_mime::Envelope, smtputf8: bool) -> Result<Envelope, postel::Error> {
    let from = match env.from() {
        Some(a) => a.to_smtp(smtputf8)?,
        None => String::new(),
    };
    let to = env
        .to()
        .iter()
        .map(|a| a.to_smtp(smtputf8))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Envelope::new(from, to))
}

struct Counted<'a, R> {
    inner: R,
    bar: Option<&'a ProgressBar>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

/// Parses one recipient argument (`a@x`, `Name <a@x>`, or a comma list) into SMTP
/// addresses.
pub fn addresses(arg: &str) -> Result<Vec<String>, postel_mime::Error> {
    let mut out = Vec::new();
    for a in postel_mime::Address::parse_list(arg)? {
        for m in a.mailboxes() {
            out.push(m.addr().to_smtp(true)?);
        }
    }
    Ok(out)
}

/// The address in a sender argument (`a@x` or `Name <a@x>`); empty for `<>`.
pub fn sender(arg: &str) -> Result<String, postel_mime::Error> {
    let t = arg.trim();
    if t.is_empty() || t == "<>" {
        return Ok(String::new());
    }
    let m: postel_mime::Mailbox = t.parse()?;
    m.addr().to_smtp(true)
}
