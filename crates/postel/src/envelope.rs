//! The owned envelope a caller gives: reverse-path, recipients, body type.

use postel_proto::{BodyType, Notify, Recipient, Ret};

use crate::error::Error;

/// Who the message is from and to, as `MAIL FROM` and `RCPT TO` say it (RFC 5321 §2.3.1);
/// not the `From:`/`To:` headers. Owned, so it can outlive the call that made it.
///
/// ```
/// let env = postel::Envelope::new("alice@example.com", ["bob@example.net", "carol@example.org"]);
/// assert_eq!(env.to.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path mailbox; empty for the null sender `<>` (bounces).
    pub from: String,
    /// The recipients, in order.
    pub to: Vec<String>,
    /// 7-bit or 8-bit content (`BODY=8BITMIME`, RFC 6152). [`Client::send_bytes`]
    /// finds out by itself; for readers of unknown content, say so here.
    ///
    /// [`Client::send_bytes`]: crate::Client::send_bytes
    pub body: BodyType,
    /// The message needs SMTPUTF8 (UTF-8 in headers); UTF-8 addresses set it by themselves.
    pub smtputf8: bool,
    /// The size in octets when known, sent as `SIZE=` (RFC 1870); `send_bytes` sets it
    /// exactly (after CRLF normalization).
    pub size: Option<u64>,
    /// DSN `NOTIFY=` for every recipient (RFC 3461 §4.1); sent only when the server
    /// offers DSN.
    pub notify: Notify,
    /// DSN `RET=` (RFC 3461 §4.3); sent only when the server offers DSN.
    pub ret: Option<Ret>,
    /// DSN `ENVID=` (RFC 3461 §4.4), the caller's id for this transaction; sent only when
    /// the server offers DSN. Printable ASCII; it is xtext-encoded on the wire.
    pub envid: Option<String>,
    /// RFC 8689 `REQUIRETLS`: the message must only travel over TLS. The server must
    /// offer REQUIRETLS and the session must be encrypted, else the message fails
    /// before MAIL.
    pub require_tls: bool,
}

impl Envelope {
    /// An envelope from `from` to each of `to`, 7-bit, size unknown.
    pub fn new<I, S>(from: impl Into<String>, to: I) -> Envelope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Envelope {
            from: from.into(),
            to: to.into_iter().map(Into::into).collect(),
            body: BodyType::SevenBit,
            smtputf8: false,
            size: None,
            notify: Notify::DEFAULT,
            ret: None,
            envid: None,
            require_tls: false,
        }
    }

    /// Asks for delivery status notifications on these conditions (`NOTIFY=`), e.g.
    /// `Notify::SUCCESS.union(Notify::FAILURE)`, or `Notify::NEVER`.
    pub fn notify(mut self, notify: Notify) -> Envelope {
        self.notify = notify;
        self
    }

    /// What a failure DSN returns (`RET=FULL` or `RET=HDRS`).
    pub fn ret(mut self, ret: Ret) -> Envelope {
        self.ret = Some(ret);
        self
    }

    /// The envelope id DSNs will quote (`ENVID=`).
    pub fn envid(mut self, id: impl Into<String>) -> Envelope {
        self.envid = Some(id.into());
        self
    }

    /// Requires TLS for every hop (RFC 8689 `REQUIRETLS`).
    pub fn require_tls(mut self, yes: bool) -> Envelope {
        self.require_tls = yes;
        self
    }

    /// Says the content is 8-bit (`BODY=8BITMIME`).
    pub fn eight_bit(mut self, yes: bool) -> Envelope {
        self.body = if yes {
            BodyType::EightBitMime
        } else {
            BodyType::SevenBit
        };
        self
    }

    /// Refuses an envelope no server could take (no recipient; an address or ENVID the
    /// core would refuse whatever the server offers), before connecting.
    pub(crate) fn check(&self) -> Result<(), crate::Error> {
        if self.to.is_empty() {
            return Err(crate::Error::Config(
                "the envelope has no recipients".to_owned(),
            ));
        }
        let recipients = self.recipients();
        self.borrowed(&recipients).validate()?;
        Ok(())
    }

    /// The recipients as the core borrows them.
    pub(crate) fn recipients(&self) -> Vec<Recipient<'_>> {
        self.to
            .iter()
            .map(|a| Recipient {
                notify: self.notify,
                ..Recipient::new(a)
            })
            .collect()
    }

    /// The core's borrowed envelope over `recipients` (from [`Envelope::recipients`]).
    pub(crate) fn borrowed<'e>(
        &'e self,
        recipients: &'e [Recipient<'e>],
    ) -> postel_proto::Envelope<'e> {
        let mut e = postel_proto::Envelope::new(&self.from, recipients);
        e.size = self.size;
        e.body = self.body;
        e.smtputf8 = self.smtputf8;
        e.ret = self.ret;
        e.envid = self.envid.as_deref();
        e.require_tls = self.require_tls;
        e
    }

    /// The envelope of a composed message's headers (`sendmail -t`): the reverse path
    /// from Sender/From, the recipients from To, Cc and Bcc; addresses in UTF-8 only when
    /// `smtputf8` (else an internationalized local part is an error). 7-bit, size unknown,
    /// no DSN.
    pub fn from_mime(
        env: &postel_mime::Envelope,
        smtputf8: bool,
    ) -> Result<Envelope, postel_mime::Error> {
        let from = match env.from() {
            Some(a) => a.to_smtp(smtputf8)?,
            None => String::new(),
        };
        let to = env
            .to()
            .iter()
            .map(|a| a.to_smtp(smtputf8))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Envelope {
            from,
            to,
            body: BodyType::SevenBit,
            smtputf8: false,
            size: None,
            notify: Notify::DEFAULT,
            ret: None,
            envid: None,
            require_tls: false,
        })
    }
}

impl Envelope {
    /// This envelope for the whole message `bytes`: `SIZE=` and `BODY=8BITMIME` set from
    /// them. Refused first when the bytes break the raw-message rules
    /// ([`postel_mime::check_raw`]: a bare CR in a header would become a new header field
    /// on the wire; NUL is not text).
    pub(crate) fn for_bytes(&self, bytes: &[u8]) -> Result<Envelope, Error> {
        postel_mime::check_raw(bytes)?;
        let mut envelope = self.clone();
        envelope.size = Some(normalized_len(bytes));
        if is_eight_bit(bytes) {
            envelope.body = BodyType::EightBitMime;
        }
        Ok(envelope)
    }
}

/// The size `bytes` will have on the wire after the core's CRLF normalization (bare CR
/// or LF become CRLF, a final line end is added to a non-empty message): exact `SIZE=`.
fn normalized_len(bytes: &[u8]) -> u64 {
    let mut n = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                n += 2;
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => n += 2,
            _ => n += 1,
        }
        i += 1;
    }
    if !matches!(bytes.last(), None | Some(b'\n' | b'\r')) {
        n += 2;
    }
    n
}

/// True when `bytes` hold an octet above 127 (then `BODY=8BITMIME` is needed).
fn is_eight_bit(bytes: &[u8]) -> bool {
    !bytes.is_ascii()
}
