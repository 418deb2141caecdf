//! The envelope of one message: reverse-path, recipients and their parameters.

/// RFC 3461 §4.1 NOTIFY: when the recipient's server should send a DSN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Notify(u8);

impl Notify {
    /// No NOTIFY parameter: the server's default.
    pub const DEFAULT: Notify = Notify(0);
    /// `NOTIFY=NEVER`.
    pub const NEVER: Notify = Notify(1);
    /// Include SUCCESS.
    pub const SUCCESS: Notify = Notify(2);
    /// Include FAILURE.
    pub const FAILURE: Notify = Notify(4);
    /// Include DELAY.
    pub const DELAY: Notify = Notify(8);

    /// Both sets of conditions (NEVER cannot be combined; it wins).
    pub const fn union(self, other: Notify) -> Notify {
        Notify(self.0 | other.0)
    }

    /// True when no NOTIFY parameter will be sent.
    pub const fn is_default(self) -> bool {
        self.0 == 0
    }

    pub(crate) const fn bits(self) -> u8 {
        self.0
    }
}

/// RFC 3461 §4.3 RET: what a failure DSN should return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// The whole message.
    Full,
    /// Only the headers.
    Headers,
}

/// The transport the message content needs (RFC 6152).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BodyType {
    /// Only 7-bit ASCII: no BODY parameter.
    #[default]
    SevenBit,
    /// 8-bit octets in lines: `BODY=8BITMIME`; the server must offer 8BITMIME.
    EightBitMime,
}

/// One recipient and its DSN parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipient<'e> {
    /// The mailbox, without angle brackets.
    pub address: &'e str,
    /// DSN conditions; sent only when the server offers DSN.
    pub notify: Notify,
    /// RFC 3461 §4.2 ORCPT (an RFC 822 address); sent only when the server offers DSN.
    pub orcpt: Option<&'e str>,
}

impl<'e> Recipient<'e> {
    /// A recipient with no DSN parameters.
    pub const fn new(address: &'e str) -> Recipient<'e> {
        Recipient {
            address,
            notify: Notify::DEFAULT,
            orcpt: None,
        }
    }
}

/// The envelope of one message (RFC 5321 §2.3.1). Borrowed during
/// [`Client::submit`](crate::Client::submit), which checks every argument and writes the
/// commands that fit in the send buffer, and again during
/// [`Client::handle_recipients`](crate::Client::handle_recipients) for each later flight of
/// RCPT when they do not all fit ([`Action::Recipients`](crate::Action::Recipients)): keep
/// it until the transaction is over. The client itself keeps no borrow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope<'e> {
    /// The reverse-path mailbox; empty for the null sender `<>` (bounces).
    pub sender: &'e str,
    /// The recipients, in order; events name them by index ([`RcptId`](crate::RcptId)).
    pub recipients: &'e [Recipient<'e>],
    /// The message size in octets when known: sent as `SIZE=` and checked against the
    /// server's limit before anything is sent (RFC 1870).
    pub size: Option<u64>,
    /// 7-bit or 8-bit content.
    pub body: BodyType,
    /// The message needs SMTPUTF8 (UTF-8 headers); UTF-8 addresses set it by themselves.
    pub smtputf8: bool,
    /// DSN RET; sent only when the server offers DSN.
    pub ret: Option<Ret>,
    /// DSN ENVID; sent only when the server offers DSN.
    pub envid: Option<&'e str>,
    /// RFC 8689 REQUIRETLS: the server must offer it, and the session must be encrypted.
    pub require_tls: bool,
}

impl<'e> Envelope<'e> {
    /// An envelope with no optional parameters.
    pub const fn new(sender: &'e str, recipients: &'e [Recipient<'e>]) -> Envelope<'e> {
        Envelope {
            sender,
            recipients,
            size: None,
            body: BodyType::SevenBit,
            smtputf8: false,
            ret: None,
            envid: None,
            require_tls: false,
        }
    }

    /// Checks the syntax of every address and parameter (RFC 5321 §4.1.2: the sender,
    /// each recipient and its ORCPT, the ENVID) and that there is a recipient, without a
    /// server: what [`Client::submit`](crate::Client::submit) would refuse whatever the
    /// server offers, found before connecting. Needing SMTPUTF8, 8BITMIME or REQUIRETLS
    /// depends on the server and is checked at submit.
    pub fn validate(&self) -> Result<(), crate::Error> {
        use crate::error::{Argument, Invalid};
        let invalid = |argument: Argument| {
            move |(at, invalid): crate::address::Failure| crate::Error::InvalidArgument {
                argument,
                at,
                invalid,
            }
        };
        if !self.sender.is_empty() {
            crate::address::mailbox(self.sender).map_err(invalid(Argument::Sender))?;
        }
        for (i, r) in self.recipients.iter().enumerate() {
            crate::address::mailbox(r.address).map_err(invalid(Argument::Recipient(i)))?;
            if let Some(o) = r.orcpt {
                crate::address::xtext_source(o).map_err(invalid(Argument::OriginalRecipient(i)))?;
            }
        }
        if let Some(id) = self.envid {
            crate::address::xtext_source(id).map_err(invalid(Argument::EnvelopeId))?;
        }
        if self.recipients.is_empty() {
            return Err(crate::Error::InvalidArgument {
                argument: Argument::Recipient(0),
                at: 0,
                invalid: Invalid::Empty,
            });
        }
        Ok(())
    }
}
