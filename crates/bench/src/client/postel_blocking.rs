//! Postel's blocking `Client`, plain SMTP (`TlsMode::Disabled`) or STARTTLS (`--ca`), each message composed with
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

/// Postel's builder for `spec`: plain SMTP, or STARTTLS trusting only `spec.ca`.
pub(super) fn builder(spec: &Spec) -> postel::ClientBuilder {
    let b = Client::builder(spec.addr.ip().to_string())
        .port(spec.addr.port())
        .ehlo_name(message::EHLO_NAME);
    match &spec.ca {
        None => b.tls(TlsMode::Disabled),
        Some(ca) => b
            .tls(TlsMode::StartTls)
            .tls_name(super::cold::TLS_NAME)
            .ca_file(ca)
            .tls_session_resumption(spec.resume),
    }
}

pub(super) fn run(spec: &Spec) -> Result<Report, BoxError> {
    let text = message::body_text(spec.body);
    run_blocking(
        spec,
        || {
            let mut c = builder(spec).build()?;
            c.connect()?;
            Ok(c)
        },
        |c, spec, timed| {
            let mut m = compose(spec, &text, if timed { spec.attach } else { 0 })?;
            c.send(&mut m)?;
            if spec.fresh {
                // The next send connects anew (and with TLS, resumes if allowed).
                c.quit()?;
            }
            Ok(())
        },
        |mut c| {
            let _ = c.quit();
        },
    )
}
