//! lettre's `AsyncSmtpTransport<Tokio1Executor>`, plain SMTP or STARTTLS (`--ca`), pooled.

use std::sync::atomic::Ordering;

use lettre::transport::smtp::client::Tls;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::lettre_blocking::{compose, prepared};
use super::{join_all, runtime, AsyncRun, BoxError, Spec};
use crate::measure::Report;
use crate::message;

pub(super) fn run(spec: &Spec) -> Result<Report, BoxError> {
    runtime()?.block_on(async {
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(spec.addr.ip().to_string())
                .port(spec.addr.port())
                .hello_name(ClientId::Domain(message::EHLO_NAME.into()))
                .pool_config(PoolConfig::new().max_size(spec.conns as u32));
        let transport = match &spec.ca {
            Some(ca) => transport.tls(Tls::Required(super::cold::lettre_tls(ca)?)),
            None => transport,
        }
        .build();
        let transport: AsyncSmtpTransport<Tokio1Executor> = transport;
        let run = AsyncRun::new(spec);
        let tasks = (0..spec.conns)
            .map(|_| {
                let (t, run, spec) = (transport.clone(), run.clone(), spec.clone());
                tokio::spawn(async move {
                    let mut attachment = prepared(&spec);
                    t.send(compose(&spec, None)?).await?;
                    run.ready.wait().await;
                    run.budget.start();
                    while run.budget.take() {
                        t.send(compose(&spec, attachment.take())?).await?;
                        run.sent.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(())
                })
            })
            .collect();
        join_all(tasks).await?;
        Ok(run.report())
    })
}
