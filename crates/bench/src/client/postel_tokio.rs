//! Postel on tokio: an `AsyncClient` for one connection, a `Pool` of `--conns` connections
//! otherwise; plain SMTP or STARTTLS (`--ca`), each message composed with postel-mime.

use std::sync::atomic::Ordering;

use super::postel_blocking::compose;
use super::{join_all, runtime, AsyncRun, BoxError, Spec};
use crate::measure::Report;
use crate::message;

pub(super) fn run(spec: &Spec) -> Result<Report, BoxError> {
    runtime()?.block_on(async {
        let builder = super::postel_blocking::builder(spec);
        let pool = if spec.conns == 1 {
            // AsyncClient is a pool of one; keep the Pool API for both cases.
            Sender::One(builder.build_async()?)
        } else {
            Sender::Many(builder.max_connections(spec.conns).build_pool()?)
        };
        let text = message::body_text(spec.body);
        let run = AsyncRun::new(spec);
        let tasks = (0..spec.conns)
            .map(|_| {
                let (pool, run, spec, text) =
                    (pool.clone(), run.clone(), spec.clone(), text.clone());
                tokio::spawn(async move {
                    pool.send(&mut compose(&spec, &text, 0)?).await?;
                    run.ready.wait().await;
                    run.budget.start();
                    while run.budget.take() {
                        pool.send(&mut compose(&spec, &text, spec.attach)?).await?;
                        run.sent.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(())
                })
            })
            .collect();
        join_all(tasks).await?;
        let report = run.report();
        pool.close().await;
        Ok(report)
    })
}

#[derive(Clone)]
enum Sender {
    One(postel::AsyncClient),
    Many(postel::Pool),
}

impl Sender {
    async fn send(&self, m: &mut postel::mime::Message) -> Result<(), postel::Error> {
        match self {
            Sender::One(c) => c.send(m).await.map(drop),
            Sender::Many(p) => p.send(m).await.map(drop),
        }
    }

    async fn close(&self) {
        match self {
            Sender::One(c) => c.quit().await,
            Sender::Many(p) => p.close().await,
        }
    }
}
