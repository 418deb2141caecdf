//! One message through a [`Client`]: the library's one send path ([`Client::send_with`]),
//! with the CLI's DSN flags and progress bar as its hooks.

use indicatif::ProgressBar;
use postel::{Client, Envelope, SendHooks, SendReport};
use postel_mime::{Message, RawMessage};

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

/// Sends `message` to `envelope`, or to the recipients in its headers when `None`, through
/// [`Client::send_with`]: the DSN flags set on the envelope, bytes counted on `bar` when
/// given (its length is set to the message's size).
pub fn deliver(
    client: &mut Client,
    envelope: Option<&Envelope>,
    message: &mut Outgoing,
    dsn: &Dsn,
    bar: Option<&ProgressBar>,
) -> Result<SendReport, postel::Error> {
    let mut hooks = Hooks { dsn, bar };
    match message {
        Outgoing::Composed(m) => client.send_with(envelope, m, &mut hooks),
        Outgoing::Raw(r) => client.send_with(envelope, r, &mut hooks),
    }
}

/// The DSN flags and the progress bar of one `deliver`.
struct Hooks<'a> {
    dsn: &'a Dsn,
    bar: Option<&'a ProgressBar>,
}

impl SendHooks for Hooks<'_> {
    fn envelope(&mut self, envelope: &mut Envelope) {
        self.dsn.apply(envelope);
        if let (Some(b), Some(n)) = (self.bar, envelope.size) {
            b.set_length(n);
        }
    }

    fn progress(&mut self, n: u64) {
        if let Some(b) = self.bar {
            b.inc(n);
        }
    }
}

/// The sender and recipients `message` goes to, for the log: `envelope`'s, else its
/// headers' (empty when they cannot be read: the send itself then says why).
pub fn log_envelope(envelope: Option<&Envelope>, message: &Outgoing) -> (String, Vec<String>) {
    match envelope {
        Some(e) => (e.from.clone(), e.to.clone()),
        None => message
            .mime_envelope()
            .ok()
            .and_then(|e| Envelope::from_mime(&e, true).ok())
            .map(|e| (e.from, e.to))
            .unwrap_or_default(),
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
