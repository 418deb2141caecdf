//! [`run`]: the simulator as a foreground program, printing what arrives.

use std::future::Future;
use std::io::Write;

use crate::config::Config;
use crate::server::{Event, Simulator};
use crate::store::ReceivedMessage;
use crate::SimError;

/// What [`run`] prints besides each message.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Print each connection's transcript when it closes.
    pub transcripts: bool,
}

/// Runs a simulator until `until` completes, writing to `out` where it listens, where
/// the CA is (if written), then each message as it arrives (envelope, then the exact
/// bytes) and, if asked, each transcript. `postel sim` calls this with Ctrl-C as `until`.
pub async fn run<W, F>(
    config: Config,
    options: RunOptions,
    mut out: W,
    until: F,
) -> Result<(), SimError>
where
    W: Write,
    F: Future<Output = ()>,
{
    let ca_path = config.write_ca_to.clone();
    let sim = Simulator::start(config).await?;
    writeln!(out, "postel-sim listening on {}", sim.addr())?;
    if let (Some(path), Some(_)) = (ca_path, sim.ca_pem()) {
        writeln!(out, "CA certificate written to {}", path.display())?;
    }
    out.flush()?;
    print_events(&sim, options, &mut out, until).await?;
    sim.shutdown().await;
    Ok(())
}

/// Like [`run`], and serves the web bench (page and REST API) as well; prints its
/// address after the simulator's.
#[cfg(feature = "web")]
pub async fn run_web<W, F>(
    config: Config,
    options: RunOptions,
    web: crate::web::WebOptions,
    mut out: W,
    until: F,
) -> Result<(), SimError>
where
    W: Write,
    F: Future<Output = ()>,
{
    let ca_path = config.write_ca_to.clone();
    let sim = Simulator::start(config).await?;
    let server = crate::web::WebServer::start(&sim, web).await?;
    writeln!(out, "postel-sim listening on {}", sim.addr())?;
    writeln!(out, "web bench on http://{}/", server.addr())?;
    if let (Some(path), Some(_)) = (ca_path, sim.ca_pem()) {
        writeln!(out, "CA certificate written to {}", path.display())?;
    }
    out.flush()?;
    print_events(&sim, options, &mut out, until).await?;
    server.shutdown().await;
    sim.shutdown().await;
    Ok(())
}

async fn print_events<W, F>(
    sim: &Simulator,
    options: RunOptions,
    mut out: W,
    until: F,
) -> Result<(), SimError>
where
    W: Write,
    F: Future<Output = ()>,
{
    let mut events = sim.subscribe();
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => break,
            event = events.recv() => match event {
                Ok(Event::Message(m)) => print_message(&mut out, &m)?,
                Ok(Event::Closed(t)) if options.transcripts => write!(out, "{t}")?,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    writeln!(out, "# {n} events were dropped (output too slow)")?
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
        out.flush()?;
    }
    Ok(())
}

/// Writes one message: a header block describing the envelope, then the data as is.
pub fn print_message<W: Write>(out: &mut W, m: &ReceivedMessage) -> std::io::Result<()> {
    writeln!(
        out,
        "=== message {} (connection {}, {:?}{}{})",
        m.queue_id,
        m.connection,
        m.transfer,
        if m.tls { ", TLS" } else { "" },
        m.auth_user
            .as_deref()
            .map(|u| format!(", AUTH {u}"))
            .unwrap_or_default()
    )?;
    let params = |ps: &[crate::store::Param]| -> String {
        ps.iter()
            .map(|p| match &p.value {
                Some(v) => format!(" {}={}", p.keyword, v),
                None => format!(" {}", p.keyword),
            })
            .collect()
    };
    writeln!(out, "MAIL FROM:<{}>{}", m.mail_from, params(&m.mail_params))?;
    for r in &m.rcpt_to {
        writeln!(out, "RCPT TO:<{}>{}", r.address, params(&r.params))?;
    }
    writeln!(out, "--- {} octets", m.data.len())?;
    out.write_all(&m.data)?;
    if !m.data.ends_with(b"\n") {
        writeln!(out)?;
    }
    writeln!(out, "=== end of message {}", m.queue_id)
}
