//! Composed messages (`postel-mime`) as something to send: their envelope, and an encoder
//! chosen by what the server offers.

use postel_mime::{EncodeOptions, Encoder, Message, RawMessage};
use postel_proto::{BodyType, Capabilities, Extension};

use crate::envelope::Envelope;

mod sealed {
    use postel_mime::{DateTime, Message, MessageId, RawMessage};

    pub trait Sealed: Sized {
        /// An empty message that stands in for one lent to the pool's encoding thread
        /// (`None` only if it cannot be built, which a unit test rules out).
        fn placeholder() -> Option<Self>;
    }

    impl Sealed for Message {
        fn placeholder() -> Option<Self> {
            Message::builder()
                .from("placeholder@invalid")
                .date(DateTime::from_unix(0, 0).ok()?)
                .message_id(MessageId::new("placeholder", "invalid").ok()?)
                .text("")
                .build()
                .ok()
        }
    }

    impl Sealed for RawMessage {
        fn placeholder() -> Option<Self> {
            RawMessage::from_bytes(&b"\r\n"[..]).ok()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn placeholders_can_be_built() {
            assert!(Message::placeholder().is_some());
            assert!(RawMessage::placeholder().is_some());
        }
    }
}

/// A message `send` can encode: [`postel_mime::Message`] (built) or
/// [`postel_mime::RawMessage`] (bytes from elsewhere, `sendmail -t` style).
pub trait Sendable: sealed::Sealed {
    /// The envelope from its headers (To, Cc and Bcc).
    fn envelope(&self) -> Result<postel_mime::Envelope, postel_mime::Error>;
    /// An encoder for a server offering what `opts` says.
    fn encoder(&mut self, opts: &EncodeOptions) -> Result<Encoder<'_>, postel_mime::Error>;
}

impl Sendable for Message {
    fn envelope(&self) -> Result<postel_mime::Envelope, postel_mime::Error> {
        Message::envelope(self)
    }

    fn encoder(&mut self, opts: &EncodeOptions) -> Result<Encoder<'_>, postel_mime::Error> {
        Message::encoder(self, opts)
    }
}

impl Sendable for RawMessage {
    fn envelope(&self) -> Result<postel_mime::Envelope, postel_mime::Error> {
        RawMessage::envelope(self)
    }

    fn encoder(&mut self, opts: &EncodeOptions) -> Result<Encoder<'_>, postel_mime::Error> {
        RawMessage::encoder(self, opts)
    }
}

/// What a caller of [`Client::send_with`](crate::Client::send_with) hears and changes on
/// the way: the envelope before `MAIL`, and the content as it is read.
pub trait SendHooks {
    /// The envelope as it will be sent (given, or from the headers; `SIZE=`, `BODY=` and
    /// `SMTPUTF8` set from the encoder), once, before anything of the transaction is
    /// sent: set DSN or REQUIRETLS here, or read the size for a progress bar.
    fn envelope(&mut self, envelope: &mut Envelope) {
        let _ = envelope;
    }

    /// `n` more octets of the encoded message were read to be sent (each transaction
    /// counts, when the server's recipient limit takes more than one).
    fn progress(&mut self, n: u64) {
        let _ = n;
    }
}

/// No hooks.
impl SendHooks for () {}

/// Reads `inner`, telling `hooks` how much.
pub(crate) struct Counted<'h, R> {
    pub(crate) inner: R,
    pub(crate) hooks: &'h mut dyn SendHooks,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hooks.progress(n as u64);
        Ok(n)
    }
}

/// What the encoder may use, from the server's EHLO.
pub(crate) fn encode_options(caps: &Capabilities) -> EncodeOptions {
    EncodeOptions {
        allow_8bit: caps.has(Extension::EightBitMime),
        smtputf8: caps.has(Extension::SmtpUtf8),
    }
}

/// Fills in `SIZE=`, `BODY=` and `SMTPUTF8` from what the encoder knows.
pub(crate) fn describe(envelope: &mut Envelope, encoder: &Encoder<'_>) {
    envelope.size = encoder.encoded_len();
    if encoder.uses_8bit() {
        envelope.body = BodyType::EightBitMime;
    }
    envelope.smtputf8 |= encoder.uses_smtputf8();
}
