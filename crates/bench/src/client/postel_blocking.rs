//! Postel's blocking `Client`, plain SMTP (`TlsMode::Disabled`), each message composed with
//! postel-mime; the attachment is a reader, encoded while it is sent.

use postel::mime::{Attachment, Message};
use postel::{Client, TlsMode};

use super::{run_blocking, BoxError, Spec};
use crate::measure::Report;
use crate::message;

/// Composes the benchmark message; with `attach`, an attachment streamed from a
/// [`message::Pattern`] reader (never in memory).
pub(super) fn compose(spec: &Spec, text: &str, attach: u64) -> Result<Message, BoxError> {
    let mut b = Message::builder()
        .from(message::FROM)
        .to(message::recipients(spec.rcpts).join(", "))
        .subject(message::SUBJECT)
        .text(text);
    if attach > 0 {
        b = b.attach(Attachment::from_reader(
            message::ATTACHMENT_NAME,
            message::Pattern::new(attach),
            Some(attach),
        )?);
    }
    Ok(b.build()?)
}

pub(super) fn run(spec: &Spec) -> Result<Report, BoxError> {
    let text = message::body_text(spec.body);
    run_blocking(
        spec,
        || {
            let mut c = Client::builder(spec.addr.ip().to_string())
                .port(spec.addr.port())
                .tls(TlsMode::Disabled)
                .ehlo_name(message::EHLO_NAME)
                .build()?;
            c.connect()?;
            Ok(c)
        },
        |c, spec, timed| {
            let mut m = compose(spec, &text, if timed { spec.attach } else { 0 })?;
            c.send(&mut m)?;
            Ok(())
        },
        |mut c| {
            let _ = c.quit();
        },
    )
}
