//! lettre's blocking `SmtpTransport`, plain SMTP (`builder_dangerous`) or STARTTLS (`--ca`), with its connection
//! pool so the connection stays open between messages.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::client::Tls;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{Message, SmtpTransport, Transport};

use super::{run_blocking, BoxError, Spec};
use crate::measure::Report;
use crate::message;

/// Composes the benchmark message with lettre's builder; the attachment, if any, moves in.
pub(super) fn compose(spec: &Spec, attachment: Option<Vec<u8>>) -> Result<Message, BoxError> {
    let mut b = Message::builder()
        .from(message::FROM.parse::<Mailbox>()?)
        .subject(message::SUBJECT);
    for r in message::recipients(spec.rcpts) {
        b = b.to(r.parse::<Mailbox>()?);
    }
    let text = message::body_text(spec.body);
    Ok(match attachment {
        None => b.header(ContentType::TEXT_PLAIN).body(text)?,
        Some(bytes) => b.multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(text))
                .singlepart(
                    Attachment::new(message::ATTACHMENT_NAME.into())
                        .body(bytes, ContentType::parse("application/octet-stream")?),
                ),
        )?,
    })
}

/// The attachment, made before the timed phase (lettre needs it in memory).
pub(super) fn prepared(spec: &Spec) -> Option<Vec<u8>> {
    (spec.attach > 0).then(|| message::pattern_vec(spec.attach))
}

pub(super) fn run(spec: &Spec) -> Result<Report, BoxError> {
    let transport = SmtpTransport::builder_dangerous(spec.addr.ip().to_string())
        .port(spec.addr.port())
        .hello_name(ClientId::Domain(message::EHLO_NAME.into()))
        .pool_config(PoolConfig::new().max_size(spec.conns as u32));
    let transport = match &spec.ca {
        Some(ca) => transport.tls(Tls::Required(super::cold::lettre_tls(ca)?)),
        None => transport,
    }
    .build();
    run_blocking(
        spec,
        || Ok((transport.clone(), prepared(spec))),
        |(t, attachment), spec, timed| {
            let m = compose(spec, if timed { attachment.take() } else { None })?;
            t.send(&m)?;
            Ok(())
        },
        |_| {},
    )
}
