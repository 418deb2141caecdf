//! mail-send's `SmtpClient` over plain TCP (`connect_plain`), one client per connection
//! (mail-send has no pool), messages composed with mail-builder.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mail_send::mail_builder::MessageBuilder;
use mail_send::SmtpClientBuilder;

use super::{join_all, runtime, AsyncRun, BoxError, Spec};
use crate::measure::Report;
use crate::message;

pub(super) fn compose<'x>(
    spec: &Spec,
    text: &'x str,
    attachment: Option<Vec<u8>>,
) -> MessageBuilder<'x> {
    let to: Vec<String> = message::recipients(spec.rcpts);
    let b = MessageBuilder::new()
        .from(message::FROM)
        .to(to)
        .subject(message::SUBJECT)
        .text_body(text);
    match attachment {
        None => b,
        Some(bytes) => b.attachment("application/octet-stream", message::ATTACHMENT_NAME, bytes),
    }
}

/// mail-send wants a TLS connector even for plain SMTP; give it one on ring (the crypto
/// provider the workspace already builds) rather than pulling in aws-lc.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, BoxError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

pub(super) fn run(spec: &Spec) -> Result<Report, BoxError> {
    runtime()?.block_on(async {
        let builder = Arc::new(
            SmtpClientBuilder::new_with_tls_connector(
                spec.addr.ip().to_string(),
                spec.addr.port(),
                tls_connector()?,
            )
            .implicit_tls(false)
            .helo_host(message::EHLO_NAME),
        );
        let run = AsyncRun::new(spec);
        let tasks = (0..spec.conns)
            .map(|_| {
                let (builder, run, spec) = (builder.clone(), run.clone(), spec.clone());
                tokio::spawn(async move {
                    let text = message::body_text(spec.body);
                    let mut attachment =
                        (spec.attach > 0).then(|| message::pattern_vec(spec.attach));
                    let mut client = builder.connect_plain().await?;
                    client.send(compose(&spec, &text, None)).await?;
                    run.ready.wait().await;
                    run.budget.start();
                    while run.budget.take() {
                        client
                            .send(compose(&spec, &text, attachment.take()))
                            .await?;
                        run.sent.fetch_add(1, Ordering::SeqCst);
                    }
                    client.quit().await?;
                    Ok(())
                })
            })
            .collect();
        join_all(tasks).await?;
        Ok(run.report())
    })
}
