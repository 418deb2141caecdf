//! The cold submission, as each Rust contender's user would write it: a new client,
//! connect, STARTTLS (trusting the simulator's CA), AUTH with the one mechanism the server
//! offers, one 1 kB message, and the process exits as soon as the message's reply is in
//! (no QUIT awaited). Run as
//! `postel-bench cold NAME --addr A --ca FILE --user U --password P`; the harness times it
//! from the proxy (see `crate::cold`), so process start-up is not in the figure.

use std::net::SocketAddr;
use std::sync::Arc;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, SmtpTransport, Tokio1Executor, Transport};
use mail_send::SmtpClientBuilder;
use postel::{Client, TlsMode};
use rustls::pki_types::pem::PemObject;

use super::{runtime, BoxError, Spec};
use crate::message;

/// The name every contender checks the certificate against (the simulator's leaf has it).
pub const TLS_NAME: &str = "localhost";

/// What a cold run needs besides the address.
#[derive(Debug, Clone)]
struct Cold {
    addr: SocketAddr,
    ca: String,
    user: String,
    password: String,
}

fn parse(args: &[String]) -> Result<Cold, BoxError> {
    let mut c = Cold {
        addr: SocketAddr::from(([127, 0, 0, 1], 25)),
        ca: String::new(),
        user: String::new(),
        password: String::new(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => c.addr = value.parse()?,
            "--ca" => c.ca = value.clone(),
            "--user" => c.user = value.clone(),
            "--password" => c.password = value.clone(),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if c.ca.is_empty() {
        return Err("--ca is required".into());
    }
    Ok(c)
}

/// `postel-bench cold NAME ...`: one cold submission, then exit without waiting for QUIT.
pub fn main(args: &[String]) -> Result<(), BoxError> {
    let (name, rest) = args
        .split_first()
        .ok_or("usage: postel-bench cold NAME --addr A --ca FILE --user U --password P")?;
    let c = parse(rest)?;
    let spec = Spec {
        addr: c.addr,
        rcpts: 1,
        body: 1000,
        seconds: 0.0,
        max: 1,
        conns: 1,
        attach: 0,
        pin: None,
        ca: Some(c.ca.clone()),
        fresh: false,
        resume: true,
    };
    match name.as_str() {
        "postel-blocking" => {
            let mut client = postel_builder(&c).build()?;
            client.send(&mut super::postel_blocking::compose(
                &spec,
                &message::body_text(spec.body),
                0,
            )?)?;
        }
        "postel-blocking-auth-pipelining" => {
            let mut client = postel_builder(&c)
                .options(postel::Options {
                    auth_pipelining: true,
                    ..postel::Options::default()
                })
                .build()?;
            client.send(&mut super::postel_blocking::compose(
                &spec,
                &message::body_text(spec.body),
                0,
            )?)?;
        }
        "postel-tokio" => runtime()?.block_on(async {
            let client = postel_builder(&c).build_async()?;
            client
                .send(&mut super::postel_blocking::compose(
                    &spec,
                    &message::body_text(spec.body),
                    0,
                )?)
                .await?;
            Ok::<(), BoxError>(())
        })?,
        "lettre-blocking" => {
            let t = SmtpTransport::builder_dangerous(c.addr.ip().to_string())
                .port(c.addr.port())
                .hello_name(ClientId::Domain(message::EHLO_NAME.into()))
                .tls(Tls::Required(lettre_tls(&c.ca)?))
                .credentials(Credentials::new(c.user.clone(), c.password.clone()))
                .build();
            t.send(&super::lettre_blocking::compose(&spec, None)?)?;
        }
        "lettre-tokio" => runtime()?.block_on(async {
            let t =
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(c.addr.ip().to_string())
                    .port(c.addr.port())
                    .hello_name(ClientId::Domain(message::EHLO_NAME.into()))
                    .tls(Tls::Required(lettre_tls(&c.ca)?))
                    .credentials(Credentials::new(c.user.clone(), c.password.clone()))
                    .build();
            t.send(super::lettre_blocking::compose(&spec, None)?)
                .await?;
            Ok::<(), BoxError>(())
        })?,
        "mail-send" => runtime()?.block_on(async {
            let builder = SmtpClientBuilder::new_with_tls_connector(
                TLS_NAME.to_string(),
                c.addr.port(),
                tokio_rustls::TlsConnector::from(rustls_config(&c.ca)?),
            )
            .implicit_tls(false)
            .helo_host(message::EHLO_NAME)
            .credentials((c.user.clone(), c.password.clone()));
            // mail-send resolves the host it verifies: "localhost" must be 127.0.0.1 here.
            let mut client = builder.connect().await?;
            let text = message::body_text(spec.body);
            client
                .send(super::mail_send::compose(&spec, &text, None))
                .await?;
            Ok::<(), BoxError>(())
        })?,
        other => return Err(format!("unknown contender {other}").into()),
    }
    // The reply to the message is in: leave without QUIT, as the measurement ends here.
    std::process::exit(0)
}

fn postel_builder(c: &Cold) -> postel::ClientBuilder {
    Client::builder(c.addr.ip().to_string())
        .port(c.addr.port())
        .tls(TlsMode::StartTls)
        .tls_name(TLS_NAME)
        .ca_file(&c.ca)
        .ehlo_name(message::EHLO_NAME)
        .credentials(c.user.clone(), c.password.clone())
}

/// lettre's TLS parameters trusting only the CA in `ca`.
pub(super) fn lettre_tls(ca: &str) -> Result<TlsParameters, BoxError> {
    let pem = std::fs::read(ca)?;
    Ok(TlsParameters::builder(TLS_NAME.into())
        .certificate_store(CertificateStore::None)
        .add_root_certificate(Certificate::from_pem(&pem)?)
        .build_rustls()?)
}

/// A rustls client configuration (ring) trusting only the CA in `ca`.
pub(super) fn rustls_config(ca: &str) -> Result<Arc<rustls::ClientConfig>, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
