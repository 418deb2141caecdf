//! [`Pool`]: concurrent sending over a bounded number of connections (tokio), and
//! [`AsyncClient`], a pool of one.

use std::sync::{Arc, Mutex, PoisonError};

use postel_proto::Capabilities;
use tokio::io::AsyncRead;
use tokio::sync::{oneshot, Semaphore};

use crate::builder::{ClientBuilder, Settings};
use crate::deferred::Deferred;
use crate::envelope::Envelope;
use crate::error::{Error, Misuse};
use crate::message::{describe, encode_options, Sendable};
use crate::report::SendReport;
use crate::tokio_conn::{self, Handle, Job, JobResult};
use crate::tokio_drive::AsyncBody;
use crate::transcript::{SharedTranscript, Transcript};
use postel_mime::EncodeOptions;

/// How often a message is handed to another connection when the one chosen was closing.
const MAX_HANDOFFS: usize = 3;

#[derive(Debug)]
struct Inner {
    settings: Arc<Settings>,
    permits: Semaphore,
    idle: Mutex<Vec<Handle>>,
    transcript: Option<SharedTranscript>,
}

/// Sends messages concurrently over at most
/// [`max_connections`](ClientBuilder::max_connections) connections to one server.
///
/// A connection is reused for the next message while it is healthy; one that failed,
/// or that the server closed (421), is never reused. Connections idle for
/// [`idle_timeout`](ClientBuilder::idle_timeout) are closed with QUIT. Cloning a `Pool`
/// shares it.
///
/// ```no_run
/// # async fn demo() -> Result<(), postel::Error> {
/// use postel::{Client, Envelope};
/// let pool = Client::builder("smtp.example.com")
///     .credentials("alice", "secret")
///     .max_connections(8)
///     .build_pool()?;
/// let sends = (0..100).map(|i| {
///     let pool = pool.clone();
///     async move {
///         let env = Envelope::new("alice@example.com", [format!("user{i}@example.net")]);
///         pool.send_bytes(&env, format!("Subject: {i}\r\n\r\nHi.\r\n")).await
///     }
/// });
/// # let _ = sends;
/// pool.close().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl Pool {
    pub(crate) fn from_settings(settings: Arc<Settings>) -> Pool {
        let transcript = settings.transcript.then(SharedTranscript::default);
        Pool {
            inner: Arc::new(Inner {
                permits: Semaphore::new(settings.max_connections),
                settings,
                idle: Mutex::new(Vec::new()),
                transcript,
            }),
        }
    }

    /// An idle live connection, or a new one.
    async fn checkout(&self) -> Result<Handle, Error> {
        loop {
            let h = self
                .inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match h {
                Some(h) if !h.jobs.is_closed() => return Ok(h),
                Some(_) => continue,
                None => break,
            }
        }
        tokio_conn::open(
            Arc::clone(&self.inner.settings),
            self.inner.transcript.clone(),
        )
        .await
    }

    fn checkin(&self, h: Handle) {
        if !h.jobs.is_closed() {
            self.inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(h);
        }
    }

    /// Runs one message on some connection; `prepare` makes the envelope and body from
    /// the server's capabilities, once.
    async fn run<F, P>(&self, prepare: F) -> Result<SendReport, Error>
    where
        F: FnOnce(Capabilities) -> P,
        P: std::future::Future<Output = Result<(Envelope, AsyncBody), Error>>,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| Misuse::PoolClosed)?;
        let mut prepare = Some(prepare);
        let mut job: Option<(Envelope, AsyncBody)> = None;
        for _ in 0..MAX_HANDOFFS {
            let handle = self.checkout().await?;
            let (envelope, body) = match (job.take(), prepare.take()) {
                (Some(j), _) => j,
                (None, Some(p)) => {
                    let (envelope, body) = p(handle.ready.capabilities).await?;
                    envelope.check()?;
                    (envelope, body)
                }
                (None, None) => return Err(Misuse::NothingToSend.into()),
            };
            let (done, result) = oneshot::channel();
            if let Err(e) = handle
                .jobs
                .send(Job {
                    envelope,
                    body,
                    done,
                })
                .await
            {
                job = Some((e.0.envelope, e.0.body));
                continue;
            }
            match result.await {
                Ok(JobResult::Done(r, reusable)) => {
                    if reusable {
                        self.checkin(handle);
                    }
                    return r;
                }
                Ok(JobResult::Returned(e, b)) => job = Some((e, b)),
                Err(_) => {
                    return Err(Error::Io(std::io::Error::other(
                        "the connection task ended while sending",
                    )))
                }
            }
        }
        Err(Error::Io(std::io::Error::other(
            "no connection would take the message",
        )))
    }

    /// Sends a composed message to the recipients of its envelope (To, Cc, Bcc). It is
    /// encoded for what the server offers and streamed: attachments are read as the bytes
    /// go out, in constant memory, on tokio's blocking threads
    /// ([`spawn_blocking`](tokio::task::spawn_blocking)), so a file read never holds up
    /// the runtime's workers. The message is lent to that thread meanwhile: if this future
    /// is dropped before it completes, `message` is left as an empty placeholder.
    pub async fn send<M: Sendable + Send + 'static>(
        &self,
        message: &mut M,
    ) -> Result<SendReport, Error> {
        self.stream(None, message).await
    }

    /// Sends a composed message to `envelope` instead of the recipients in its headers
    /// (encoded as [`send`](Self::send) does).
    pub async fn send_with_envelope<M: Sendable + Send + 'static>(
        &self,
        envelope: &Envelope,
        message: &mut M,
    ) -> Result<SendReport, Error> {
        self.stream(Some(envelope), message).await
    }

    /// Lends the message to a blocking thread ([`encode`]) that encodes it for the
    /// server's capabilities and feeds its chunks to the connection task through a small
    /// bounded channel, then takes it back.
    async fn stream<M: Sendable + Send + 'static>(
        &self,
        envelope: Option<&Envelope>,
        message: &mut M,
    ) -> Result<SendReport, Error> {
        let headers = match envelope {
            Some(_) => None,
            None => Some(message.envelope()?),
        };
        let placeholder = M::placeholder().ok_or(Misuse::NoPlaceholder)?;
        let owned = std::mem::replace(message, placeholder);
        let (start_tx, start_rx) = oneshot::channel();
        let (described_tx, described_rx) = oneshot::channel();
        let (chunk_tx, chunk_rx) = tokio::sync::mpsc::channel(STREAM_CHUNKS_IN_FLIGHT);
        let encoding =
            tokio::task::spawn_blocking(move || encode(owned, start_rx, described_tx, chunk_tx));
        let run = self.run(move |caps| async move {
            let opts = encode_options(&caps);
            let envelope = match (envelope, headers) {
                (Some(e), _) => e.clone(),
                (None, Some(h)) => Envelope::from_mime(&h, opts.smtputf8)?,
                (None, None) => return Err(Misuse::NothingToSend.into()),
            };
            if start_tx.send((opts, envelope)).is_err() {
                return Err(encoder_gone());
            }
            let envelope = described_rx.await.map_err(|_| encoder_gone())??;
            let body = AsyncBody::Chunks {
                rx: chunk_rx,
                chunk: Vec::new(),
                pos: 0,
            };
            Ok((envelope, body))
        });
        let result = run.await;
        // Every sender of work to the encoding thread is gone by now (the job's body with
        // its receiver was dropped or consumed): it ends and gives the message back.
        match encoding.await {
            Ok(m) => *message = m,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
        once(result)
    }

    /// Sends `message` (a whole RFC 5322 message) to `envelope`; `SIZE=` and
    /// `BODY=8BITMIME` are set from the bytes. Recipients past the server's limit per
    /// transaction (452 "too many recipients") get it in further transactions, each
    /// recipient once; the streaming [`send`](Self::send) and
    /// [`send_reader`](Self::send_reader) list them in [`SendReport::refused`] with the 452
    /// instead, to send again.
    pub async fn send_bytes(
        &self,
        envelope: &Envelope,
        message: impl Into<Vec<u8>>,
    ) -> Result<SendReport, Error> {
        let data = message.into();
        let envelope = envelope.for_bytes(&data)?;
        let body = AsyncBody::Bytes {
            data: data.clone(),
            pos: 0,
        };
        let mut report = self.run(|_| async { Ok((envelope.clone(), body)) }).await?;
        // Recipients past the server's limit per transaction: further transactions.
        let Some(mut deferred) = Deferred::take(&mut report) else {
            return Ok(report);
        };
        while let Some(next) = deferred.next(&envelope) {
            let body = AsyncBody::Bytes {
                data: data.clone(),
                pos: 0,
            };
            let result = self.run(|_| async { Ok((next.clone(), body)) }).await;
            if !deferred.absorb(&mut report, &next, result) {
                break;
            }
        }
        deferred.finish(&mut report, &envelope);
        Ok(report)
    }

    /// Streams the message read from `message` to `envelope`. Say whether it is 8-bit,
    /// and its size, in the envelope when known.
    pub async fn send_reader<R>(&self, envelope: &Envelope, message: R) -> Result<SendReport, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let envelope = envelope.clone();
        let body = AsyncBody::Reader(Box::new(message));
        once(self.run(|_| async { Ok((envelope, body)) }).await)
    }

    /// Closes every idle connection (QUIT) and waits for them to finish. Connections
    /// busy with a message close when idle too long, or when the pool is dropped.
    pub async fn close(&self) {
        let idle = std::mem::take(
            &mut *self
                .inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for h in idle {
            drop(h.jobs);
            let _ = h.task.await;
        }
    }

    /// How many connections are open and idle.
    pub fn idle_connections(&self) -> usize {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|h| !h.jobs.is_closed())
            .count()
    }

    /// The transcript so far (every connection, interleaved), if enabled.
    pub fn transcript(&self) -> Option<Transcript> {
        self.inner
            .transcript
            .as_ref()
            .map(|t| t.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// Takes the transcript so far, leaving an empty one.
    pub fn take_transcript(&self) -> Option<Transcript> {
        self.inner
            .transcript
            .as_ref()
            .map(|t| std::mem::take(&mut *t.lock().unwrap_or_else(PoisonError::into_inner)))
    }
}

/// The encoding thread: waits for the options and envelope of the connection that takes
/// the message, makes the encoder, sends back the envelope described (`SIZE=`, `BODY=`,
/// `SMTPUTF8`), then pumps the encoded chunks until the end, an error, or the receiver is
/// gone (the connection failed or the message was refused). Returns the message.
fn encode<M: Sendable>(
    mut message: M,
    start: oneshot::Receiver<(EncodeOptions, Envelope)>,
    described: oneshot::Sender<Result<Envelope, Error>>,
    chunks: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
) -> M {
    let Ok((opts, mut envelope)) = start.blocking_recv() else {
        return message;
    };
    let mut encoder = match message.encoder(&opts) {
        Ok(e) => e,
        Err(e) => {
            let _ = described.send(Err(e.into()));
            return message;
        }
    };
    describe(&mut envelope, &encoder);
    let len = encoder.encoded_len();
    if described.send(Ok(envelope)).is_err() {
        drop(encoder);
        return message;
    }
    // A message of known length fits one chunk one octet larger than itself (the spare
    // octet lets the read that returns 0 land in the same chunk); otherwise chunks start
    // small and double up to STREAM_CHUNK. Each chunk is filled before it is sent: an
    // encoder read returns a header block or one encoded body chunk at a time, and sending
    // each alone would zero and queue a buffer for each.
    let mut size = len
        .and_then(|n| usize::try_from(n.saturating_add(1)).ok())
        .map_or(STREAM_FIRST_CHUNK, |n| n.min(STREAM_CHUNK));
    loop {
        let mut buf = vec![0u8; size];
        size = (size * 2).min(STREAM_CHUNK);
        let (filled, end) = fill(&mut encoder, &mut buf);
        buf.truncate(filled);
        if !buf.is_empty() && chunks.blocking_send(Ok(buf)).is_err() {
            break;
        }
        match end {
            Some(Ok(())) => break,
            Some(Err(e)) => {
                let _ = chunks.blocking_send(Err(e));
                break;
            }
            None => {}
        }
    }
    drop(encoder);
    message
}

/// The encoding thread ended before handing over the message's content.
fn encoder_gone() -> Error {
    Error::Io(std::io::Error::other("the message's encoding thread ended"))
}

/// Reads from `encoder` until `buf` is full or the encoder ends: the octets read, and
/// `Some` with how it ended (`Ok` at the end, the error) or `None` when `buf` is full.
fn fill(encoder: &mut impl std::io::Read, buf: &mut [u8]) -> (usize, Option<std::io::Result<()>>) {
    let mut filled = 0;
    while filled < buf.len() {
        match encoder.read(&mut buf[filled..]) {
            Ok(0) => return (filled, Some(Ok(()))),
            Ok(n) => filled += n,
            Err(e) => return (filled, Some(Err(e))),
        }
    }
    (filled, None)
}

/// Size of the largest chunk pumped from a message encoder to a connection task.
const STREAM_CHUNK: usize = 64 * 1024;
/// Size of the first chunk of a message.
const STREAM_FIRST_CHUNK: usize = 4 * 1024;
/// Chunks that may wait in the channel: memory per message stays under
/// `STREAM_CHUNK * (STREAM_CHUNKS_IN_FLIGHT + 2)`.
const STREAM_CHUNKS_IN_FLIGHT: usize = 2;

/// An async SMTP client over tokio: one connection, kept between messages, replaced when
/// it failed, was closed, or sat idle. The same API as [`Client`](crate::Client), with
/// `async` methods taking `&self` (calls queue for the connection).
///
/// ```no_run
/// # async fn demo() -> Result<(), postel::Error> {
/// use postel::{Client, Envelope};
/// let client = Client::builder("smtp.example.com").credentials("alice", "secret").build_async()?;
/// let env = Envelope::new("alice@example.com", ["bob@example.net"]);
/// let report = client.send_bytes(&env, &b"Subject: hi\r\n\r\nHello.\r\n"[..]).await?;
/// client.quit().await;
/// # let _ = report; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncClient {
    pool: Pool,
}

impl AsyncClient {
    /// Sends a composed message to the recipients of its envelope (To, Cc, Bcc), encoded
    /// on a blocking thread as [`Pool::send`] does.
    pub async fn send<M: Sendable + Send + 'static>(
        &self,
        message: &mut M,
    ) -> Result<SendReport, Error> {
        self.pool.send(message).await
    }

    /// Sends a composed message to `envelope` instead.
    pub async fn send_with_envelope<M: Sendable + Send + 'static>(
        &self,
        envelope: &Envelope,
        message: &mut M,
    ) -> Result<SendReport, Error> {
        self.pool.send_with_envelope(envelope, message).await
    }

    /// Sends `message` bytes to `envelope`.
    pub async fn send_bytes(
        &self,
        envelope: &Envelope,
        message: impl Into<Vec<u8>>,
    ) -> Result<SendReport, Error> {
        self.pool.send_bytes(envelope, message).await
    }

    /// Streams the message from `message` to `envelope`.
    pub async fn send_reader<R>(&self, envelope: &Envelope, message: R) -> Result<SendReport, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        self.pool.send_reader(envelope, message).await
    }

    /// Ends the session politely (QUIT); the next send connects again.
    pub async fn quit(&self) {
        self.pool.close().await
    }

    /// The transcript so far, if enabled.
    pub fn transcript(&self) -> Option<Transcript> {
        self.pool.transcript()
    }

    /// Takes the transcript so far, leaving an empty one.
    pub fn take_transcript(&self) -> Option<Transcript> {
        self.pool.take_transcript()
    }
}

impl ClientBuilder {
    /// An [`AsyncClient`] (tokio). Nothing is connected yet.
    pub fn build_async(self) -> Result<AsyncClient, Error> {
        let mut settings = self.settings()?;
        settings.max_connections = 1;
        Ok(AsyncClient {
            pool: Pool::from_settings(Arc::new(settings)),
        })
    }

    /// A [`Pool`] of up to [`max_connections`](ClientBuilder::max_connections)
    /// connections (tokio). Nothing is connected yet.
    pub fn build_pool(self) -> Result<Pool, Error> {
        Ok(Pool::from_settings(Arc::new(self.settings()?)))
    }
}

/// The outcome of a message streamed once: recipients past the server's limit per
/// transaction are refused with its 452, for the caller to send again.
fn once(result: Result<SendReport, Error>) -> Result<SendReport, Error> {
    result.map(|mut report| {
        report.refuse_deferred();
        report
    })
}
