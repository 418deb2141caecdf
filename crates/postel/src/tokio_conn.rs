//! One async SMTP connection as a tokio task: it owns the socket, the buffers and the
//! core, takes messages from a channel, and QUITs when idle too long or unwanted.

use std::sync::Arc;

use postel_proto::{Capabilities, Client as Core};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::builder::{nonce, Settings, TlsMode};
use crate::client::{RX_BUFFER, TX_BUFFER};
use crate::drive::{Collector, Stop};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::report::SendReport;
use crate::tokio_drive::{self, AsyncBody};
use crate::tokio_transport::{self, AsyncStream};
use crate::transcript::{Recorder, SharedTranscript};

/// A message for a connection task.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) envelope: Envelope,
    pub(crate) body: AsyncBody,
    pub(crate) done: oneshot::Sender<JobResult>,
}

/// What became of a [`Job`].
#[derive(Debug)]
pub(crate) enum JobResult {
    /// Sent, or refused, or the connection failed while sending it; and whether the
    /// connection may take another message ([`Core::reusable`]).
    Done(Result<SendReport, Error>, bool),
    /// Not started: the connection was closing. Send it elsewhere.
    Returned(Envelope, AsyncBody),
}

/// What a live connection tells its owner once ready.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ready {
    pub(crate) capabilities: Capabilities,
}

/// The owner's end of a connection task.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) jobs: mpsc::Sender<Job>,
    pub(crate) ready: Ready,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

/// Starts a connection task and waits until the session can take a message.
pub(crate) async fn open(
    settings: Arc<Settings>,
    transcript: Option<SharedTranscript>,
) -> Result<Handle, Error> {
    let (jobs_tx, jobs_rx) = mpsc::channel(1);
    let (ready_tx, ready_rx) = oneshot::channel();
    let span =
        tracing::info_span!("smtp_connection", server = %settings.endpoint(), tls = %settings.tls);
    let task = tokio::spawn(run(settings, transcript, ready_tx, jobs_rx).instrument(span));
    match ready_rx.await {
        Ok(Ok(ready)) => Ok(Handle {
            jobs: jobs_tx,
            ready,
            task,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::Io(std::io::Error::other(
            "the connection task ended",
        ))),
    }
}

/// "resumed session" when the handshake resumed one from the client configuration's
/// session cache (shared by every connection of a client or pool), else "full handshake".
fn handshake_kind(stream: &AsyncStream) -> &'static str {
    match stream {
        AsyncStream::Tls(s)
            if s.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed) =>
        {
            "resumed session"
        }
        _ => "full handshake",
    }
}

/// The socket side of a connection, apart from the core.
struct Wire {
    stream: AsyncStream,
    recorder: Recorder,
}

impl Wire {
    async fn upgrade(&mut self, settings: &Settings) -> Result<(), Error> {
        let (config, name) = settings.tls_parts()?;
        let result = self
            .stream
            .upgrade(config, name, settings.timeouts.tls_handshake)
            .await;
        match &result {
            Ok(()) => self.recorder.note(format!(
                "TLS established: {}, {}",
                self.stream.tls_info().unwrap_or_default(),
                handshake_kind(&self.stream)
            )),
            Err(e) => self.recorder.note(format!("TLS failed: {e}")),
        }
        result
    }

    /// Waits until the server closes the connection, or speaks while no reply is awaited
    /// (a 421 before closing, RFC 5321 §3.8): servers close connections left idle past
    /// their timeout (aiosmtpd after 5 minutes, with a FIN or a TLS close_notify and no
    /// 421; Postfix with a 421), and such a connection must not take the next message.
    /// TLS records without application data (session tickets) do not end the wait.
    /// Cancel-safe, as `AsyncReadExt::read` is.
    async fn closed_by_server(&mut self) -> String {
        let mut unasked = [0u8; 512];
        match self.stream.read(&mut unasked).await {
            Ok(0) => "the server closed the idle connection".to_owned(),
            Ok(n) => {
                self.recorder.received(&unasked[..n]);
                "the server spoke while the connection was idle".to_owned()
            }
            Err(e) => format!("the idle connection failed: {e}"),
        }
    }
}

/// Drives the core until it is idle, doing the TLS handshake when asked.
async fn session(
    core: &mut Core<'_>,
    wire: &mut Wire,
    settings: &Settings,
    body: &mut AsyncBody,
    envelope: Option<&postel_proto::Envelope<'_>>,
    events: &mut Collector,
) -> Result<(), Error> {
    loop {
        let stream = &mut wire.stream;
        let recorder = &mut wire.recorder;
        let timeouts = &settings.timeouts;
        match tokio_drive::run(core, stream, recorder, body, envelope, events, timeouts).await? {
            Stop::Idle => return Ok(()),
            Stop::Closed => return Err(Error::Protocol(postel_proto::Error::Closed)),
            Stop::StartTls => {
                wire.upgrade(settings).await?;
                core.handle_tls_ready()?;
            }
        }
    }
}

async fn connect(
    settings: &Settings,
    transcript: Option<SharedTranscript>,
) -> Result<(Wire, String), Error> {
    let tcp =
        tokio_transport::connect(&settings.host, settings.port, settings.connect_timeout).await?;
    let recorder = Recorder::new(transcript);
    let peer = tcp.peer_addr().ok();
    recorder.note(format!(
        "connected to {}",
        peer.map_or_else(|| settings.endpoint(), |p| p.to_string())
    ));
    let ehlo = settings.ehlo_for(tcp.local_addr().ok());
    let mut wire = Wire {
        stream: AsyncStream::Plain(tcp),
        recorder,
    };
    if settings.tls == TlsMode::Implicit {
        wire.upgrade(settings).await?;
    }
    Ok((wire, ehlo))
}

/// The task: connect, get ready, then one message at a time until told to stop, idle too
/// long, or broken.
async fn run(
    settings: Arc<Settings>,
    transcript: Option<SharedTranscript>,
    ready: oneshot::Sender<Result<Ready, Error>>,
    mut jobs: mpsc::Receiver<Job>,
) {
    let prepared = async {
        let (wire, ehlo) = connect(&settings, transcript).await?;
        Ok::<_, Error>((wire, ehlo, nonce()?))
    }
    .await;
    let (mut wire, ehlo, nonce) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let (mut rx, mut tx) = (vec![0u8; RX_BUFFER], vec![0u8; TX_BUFFER]);
    let mut core = match Core::new(settings.core_config(&ehlo, &nonce), &mut rx, &mut tx) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    let greeted = session(
        &mut core,
        &mut wire,
        &settings,
        &mut AsyncBody::None,
        None,
        &mut Collector::default(),
    )
    .await;
    if let Err(e) = greeted {
        let _ = ready.send(Err(e));
        return;
    }
    let info = Ready {
        capabilities: *core.capabilities(),
    };
    if ready.send(Ok(info)).is_err() {
        return;
    }
    let mut healthy = true;
    loop {
        // The socket first: a message queued for a connection the server already closed
        // goes back to the pool (below) instead of failing on it.
        let job = tokio::select! {
            biased;
            why = wire.closed_by_server() => {
                wire.recorder.note(format!("{why}: not reused"));
                healthy = false;
                break;
            }
            job = tokio::time::timeout(settings.idle_timeout, jobs.recv()) => match job {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(_) => {
                    tracing::debug!("idle too long");
                    break;
                }
            },
        };
        let Job {
            envelope,
            mut body,
            done,
        } = job;
        let span = tracing::info_span!("smtp_message", from = %envelope.from, recipients = envelope.to.len());
        let result = async {
            let recipients = envelope.recipients();
            let borrowed = envelope.borrowed(&recipients);
            core.submit(&borrowed)?;
            let mut events = Collector::new(&envelope.to);
            let sent = Some(&borrowed);
            session(
                &mut core,
                &mut wire,
                &settings,
                &mut body,
                sent,
                &mut events,
            )
            .await?;
            events.finish(&core)
        }
        .instrument(span)
        .await;
        // A refusal leaves the session usable; a failure of the server or the wire does not.
        healthy = core.reusable();
        let _ = done.send(JobResult::Done(result, healthy));
        if !healthy {
            break;
        }
    }
    // Nothing new can arrive; whatever is queued goes back to be sent elsewhere.
    jobs.close();
    while let Ok(job) = jobs.try_recv() {
        let _ = job.done.send(JobResult::Returned(job.envelope, job.body));
    }
    if healthy && core.quit().is_ok() {
        let quit = session(
            &mut core,
            &mut wire,
            &settings,
            &mut AsyncBody::None,
            None,
            &mut Collector::default(),
        )
        .await;
        if let Err(e) = quit {
            // Closed after the 221 is the normal end.
            if !matches!(e, Error::Protocol(postel_proto::Error::Closed)) {
                tracing::debug!(error = %e, "QUIT failed");
            }
        }
    }
}
