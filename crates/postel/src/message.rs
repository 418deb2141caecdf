//! Composed messages (`postel-mime`) as something to send: their envelope, and an encoder
//! chosen by what the server offers.

use postel_mime::{EncodeOptions, Encoder, Message, RawMessage};
use postel_proto::{BodyType, Capabilities, Extension};

use crate::envelope::Envelope;

mod sealed {
    pub trait Sealed {}
    impl Sealed for postel_mime::Message {}
    impl Sealed for postel_mime::RawMessage {}
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
