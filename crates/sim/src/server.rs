//! The listener, the state every session shares, and the async [`Simulator`] handle.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinSet;

use crate::annotate::{Annotation, Deviation};
use crate::config::{Config, Extension};
use crate::fault::Fault;
use crate::session::Session;
use crate::store::{deliver_to_maildir, Line, ReceivedMessage, Side, Transcript};
use crate::SimError;

/// Something that happened in the simulator, for [`Simulator::subscribe`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A connection was accepted (its number, from 1).
    Connected(u64),
    /// A message was accepted.
    Message(ReceivedMessage),
    /// A connection ended; its full transcript.
    Closed(Transcript),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    ca_pem: Option<String>,
    messages: Mutex<Vec<ReceivedMessage>>,
    transcripts: Mutex<Vec<Transcript>>,
    annotations: Mutex<std::collections::HashMap<u64, Vec<Annotation>>>,
    faults: Mutex<Vec<Fault>>,
    events: broadcast::Sender<Event>,
    changed: Notify,
    queue_ids: AtomicU64,
    panics: AtomicU64,
}

impl Shared {
    pub(crate) fn faults(&self) -> Vec<Fault> {
        lock(&self.faults).clone()
    }

    pub(crate) fn note(&self, conn: u64, side: Option<Side>, text: String) {
        let mut t = lock(&self.transcripts);
        if let Some(tr) = t.iter_mut().find(|t| t.connection == conn) {
            tr.lines.push(Line { side, text });
        }
    }

    /// Pins a deviation to the last line of connection `conn`'s transcript.
    pub(crate) fn annotate(&self, conn: u64, deviation: Deviation, detail: String) {
        let line = {
            let t = lock(&self.transcripts);
            t.iter()
                .find(|t| t.connection == conn)
                .map(|tr| tr.lines.len().saturating_sub(1))
                .unwrap_or(0)
        };
        lock(&self.annotations)
            .entry(conn)
            .or_default()
            .push(Annotation {
                line,
                deviation,
                detail,
            });
    }

    pub(crate) fn annotations(&self, conn: u64) -> Vec<Annotation> {
        lock(&self.annotations)
            .get(&conn)
            .cloned()
            .unwrap_or_default()
    }

    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn transcript(&self, conn: u64) -> Option<Transcript> {
        lock(&self.transcripts)
            .iter()
            .find(|t| t.connection == conn)
            .cloned()
    }

    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn messages_snapshot(&self) -> Vec<ReceivedMessage> {
        lock(&self.messages).clone()
    }

    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn transcripts_snapshot(&self) -> Vec<Transcript> {
        lock(&self.transcripts).clone()
    }

    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn set_faults(&self, faults: Vec<Fault>) {
        *lock(&self.faults) = faults;
    }

    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn connection_count(&self) -> u64 {
        lock(&self.transcripts).len() as u64
    }

    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(crate) fn close_transcript(&self, conn: u64) {
        let closed = {
            let mut t = lock(&self.transcripts);
            t.iter_mut().find(|t| t.connection == conn).map(|tr| {
                tr.closed = true;
                tr.clone()
            })
        };
        if let Some(tr) = closed {
            let _ = self.events.send(Event::Closed(tr));
        }
        self.changed.notify_waiters();
    }

    pub(crate) fn next_queue_id(&self) -> String {
        format!("{:06X}", self.queue_ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub(crate) fn deliver(&self, message: ReceivedMessage) -> std::io::Result<()> {
        if let Some(dir) = &self.config.maildir {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let unique = format!(
                "{}.M{}P{}Q{}.{}",
                now.as_secs(),
                now.subsec_micros(),
                std::process::id(),
                message.queue_id,
                self.config.hostname.replace(['/', ':'], "_")
            );
            deliver_to_maildir(dir, &unique, &message.data)?;
        }
        lock(&self.messages).push(message.clone());
        let _ = self.events.send(Event::Message(message));
        self.changed.notify_waiters();
        Ok(())
    }
}

/// A running simulator on a tokio runtime.
///
/// ```no_run
/// # async fn demo() -> Result<(), postel_sim::SimError> {
/// use postel_sim::{Config, Simulator};
/// use postel_sim::fault::{Action, Fault, Step};
/// let sim = Simulator::start(Config::builder().user("alice", "secret").build()).await?;
/// let addr = sim.addr();              // 127.0.0.1:<ephemeral>
/// let ca = sim.ca_pem().map(str::to_owned); // trust this for STARTTLS
/// sim.set_faults(vec![Fault::new(Step::Mail, Action::Reply421).on_connection(1)]);
/// // ... drive a client at `addr` ...
/// let got = sim.messages();
/// sim.shutdown().await;
/// # let _ = (addr, ca, got); Ok(()) }
/// ```
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Simulator {
    /// Binds (loopback only unless [`Config::allow_remote`]), prepares TLS (generating a CA unless a certificate was
    /// given, and writing it out if asked), and starts accepting connections.
    pub async fn start(config: Config) -> Result<Simulator, SimError> {
        if !is_loopback(config.bind) && !config.allow_remote {
            return Err(SimError::Config(format!(
                "refusing to listen on {}: the simulator binds loopback addresses only",
                config.bind
            )));
        }
        let wants_tls = config.implicit_tls || config.has(Extension::StartTls);
        let (tls, ca_pem) = if wants_tls {
            let t = crate::tls::build(&config.tls_identity, &config.hostname)?;
            (Some(t.server), t.ca_pem)
        } else {
            (None, None)
        };
        if let (Some(path), Some(pem)) = (&config.write_ca_to, &ca_pem) {
            std::fs::write(path, pem)?;
        }
        let listener = TcpListener::bind(SocketAddr::new(config.bind, config.port)).await?;
        let addr = listener.local_addr()?;
        let (events, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            faults: Mutex::new(config.faults.clone()),
            config,
            tls,
            ca_pem,
            messages: Mutex::new(Vec::new()),
            transcripts: Mutex::new(Vec::new()),
            annotations: Mutex::new(std::collections::HashMap::new()),
            events,
            changed: Notify::new(),
            queue_ids: AtomicU64::new(0),
            panics: AtomicU64::new(0),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stop_rx));
        Ok(Simulator {
            shared,
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The generated CA certificate in PEM, or `None` when TLS is off or the
    /// certificate was given in the configuration.
    pub fn ca_pem(&self) -> Option<&str> {
        self.shared.ca_pem.as_deref()
    }

    /// The configuration it runs with (faults as started; see [`Simulator::faults`]).
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Replaces the fault script; sessions see the change at their next step.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        *lock(&self.shared.faults) = faults;
    }

    /// Adds one fault to the script.
    pub fn add_fault(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// The fault script now in force.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults()
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.shared.messages).clone()
    }

    /// Removes and returns the messages accepted so far.
    pub fn take_messages(&self) -> Vec<ReceivedMessage> {
        std::mem::take(&mut *lock(&self.shared.messages))
    }

    /// The transcripts of every connection so far (those still open are partial).
    pub fn transcripts(&self) -> Vec<Transcript> {
        lock(&self.shared.transcripts).clone()
    }

    /// The transcript of connection `n` (from 1).
    pub fn transcript(&self, n: u64) -> Option<Transcript> {
        lock(&self.shared.transcripts)
            .iter()
            .find(|t| t.connection == n)
            .cloned()
    }

    /// The protocol deviations seen on connection `n` (from 1), each at its transcript
    /// line; see [`crate::annotate`].
    pub fn annotations(&self, n: u64) -> Vec<Annotation> {
        self.shared.annotations(n)
    }

    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// How many sessions ended in a panic: a simulator bug, whatever the client sent.
    /// Tests can assert it stays 0.
    pub fn session_panics(&self) -> u64 {
        self.shared.panics.load(Ordering::Relaxed)
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> u64 {
        lock(&self.shared.transcripts).len() as u64
    }

    /// Waits until at least `n` messages have arrived, or `timeout` passes; returns
    /// the messages then.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        self.wait_until(timeout, || lock(&self.shared.messages).len() >= n)
            .await;
        self.messages()
    }

    /// Waits until connection `n` has closed, or `timeout` passes; returns its transcript.
    pub async fn wait_for_close(&self, n: u64, timeout: Duration) -> Option<Transcript> {
        self.wait_until(timeout, || self.transcript(n).is_some_and(|t| t.closed))
            .await;
        self.transcript(n)
    }

    async fn wait_until(&self, timeout: Duration, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            if done() {
                return;
            }
            // Polling as well covers a notification between the check and the wait.
            let step = tokio::time::Instant::now() + Duration::from_millis(20);
            if tokio::time::timeout_at(deadline.min(step), notified)
                .await
                .is_err()
                && tokio::time::Instant::now() >= deadline
            {
                return;
            }
        }
    }

    /// Events as they happen: connections, messages, closed transcripts.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Stops accepting, ends every session, and waits for the listener to close.
    pub async fn shutdown(mut self) {
        self.stop_now().await;
    }

    async fn stop_now(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut sessions = JoinSet::new();
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((tcp, _peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                n += 1;
                lock(&shared.transcripts).push(Transcript {
                    connection: n,
                    lines: Vec::new(),
                    closed: false,
                });
                let _ = shared.events.send(Event::Connected(n));
                sessions.spawn(Session::new(shared.clone(), n, tcp).run());
            }
            Some(ended) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(e) = ended {
                    if e.is_panic() {
                        shared.panics.fetch_add(1, Ordering::Relaxed);
                        shared.changed.notify_waiters();
                    }
                }
            }
        }
    }
    sessions.abort_all();
    while sessions.join_next().await.is_some() {}
}
