//! The web bench: a REST API and a single page on their own listener, showing every
//! message, the session that delivered it with its protocol deviations annotated, and
//! fault rules to change what the next client meets. `postel sim --web ADDR` runs it.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /` | the page |
//! | `GET /api/v1/messages?query=` | the list, newest first; `query` matches sender, recipients, From, To, Subject |
//! | `GET /api/v1/messages/{id}` | envelope, header fields, text, MIME parts with download links |
//! | `GET /api/v1/messages/{id}/raw` | the bytes as received |
//! | `GET /api/v1/messages/{id}/html` | the HTML body, under `Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:` |
//! | `GET /api/v1/messages/{id}/parts/{n}` | one MIME part, decoded, as an attachment |
//! | `GET /api/v1/messages/{id}/session` | the delivering session: transcript and annotations |
//! | `DELETE /api/v1/messages`, `DELETE /api/v1/messages/{id}` | delete all, or one |
//! | `GET /api/v1/sessions`, `GET /api/v1/sessions/{id}`, `DELETE /api/v1/sessions` | every session, also those that delivered nothing |
//! | `GET/POST/DELETE /api/v1/faults`, `DELETE /api/v1/faults/{id}` | fault rules (see [`rules`](self)) |
//! | `GET /api/v1/events` | server-sent events: `{"type":"message"\|"session"\|"deleted"\|"faults","id":...}` |
//!
//! ```no_run
//! # async fn demo() -> Result<(), postel_sim::SimError> {
//! use postel_sim::web::{WebOptions, WebServer};
//! let sim = postel_sim::Simulator::start(postel_sim::Config::builder().build()).await?;
//! let web = WebServer::start(&sim, WebOptions::new("127.0.0.1:0".parse().unwrap())).await?;
//! println!("http://{}/", web.addr());
//! # Ok(()) }
//! ```

mod api;
mod mailbox;
mod mime;
mod rules;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};

use crate::server::{Event, Shared, Simulator};
use crate::SimError;

pub(crate) use mailbox::Mailbox;

/// How to serve the web bench.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Where the page and API listen.
    pub addr: SocketAddr,
    /// `(user, password)` for HTTP basic auth on the page and the API.
    pub basic_auth: Option<(String, String)>,
    /// Keep messages and sessions in this directory across restarts.
    pub store: Option<PathBuf>,
}

impl WebOptions {
    /// No auth, no store.
    pub fn new(addr: SocketAddr) -> WebOptions {
        WebOptions {
            addr,
            basic_auth: None,
            store: None,
        }
    }
}

pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) mailbox: Mailbox,
    pub(crate) auth: Option<String>,
    pub(crate) rules: Mutex<Vec<rules::Rule>>,
    pub(crate) next_rule: Mutex<u64>,
    pub(crate) base_faults: Vec<crate::fault::Fault>,
    /// Turns true at shutdown; ends the event streams.
    pub(crate) stop: watch::Receiver<bool>,
}

/// A running web bench; it stops when dropped or shut down.
pub struct WebServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl WebServer {
    /// Opens the store, binds `options.addr`, and serves until shut down. Messages are
    /// collected from the moment this returns.
    pub async fn start(sim: &Simulator, options: WebOptions) -> Result<WebServer, SimError> {
        let shared = sim.shared();
        let events = shared.subscribe();
        let mailbox = Mailbox::open(options.store.clone())?;
        let auth = options.basic_auth.as_ref().map(|(u, p)| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let (stop, mut stop_rx) = watch::channel(false);
        let state = Arc::new(AppState {
            stop: stop_rx.clone(),
            base_faults: shared.faults(),
            shared,
            mailbox,
            auth,
            rules: Mutex::new(Vec::new()),
            next_rule: Mutex::new(1),
        });
        let listener = tokio::net::TcpListener::bind(options.addr).await?;
        let addr = listener.local_addr()?;
        let router = api::router(state.clone());
        let mut ingest_stop = stop.subscribe();
        let ingest = tokio::spawn(ingest(state.clone(), events, async move {
            let _ = ingest_stop.changed().await;
        }));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.changed().await;
                })
                .await;
            let _ = ingest.await;
        });
        Ok(WebServer {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the listener to close.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn resync(state: &AppState) {
    for m in state.shared.messages_snapshot() {
        if !state.mailbox.has_seen_message(&m.queue_id) {
            if let Err(e) = state.mailbox.add_message(&m) {
                eprintln!("postel-sim web: cannot store message {}: {e}", m.queue_id);
            }
        }
    }
    for t in state.shared.transcripts_snapshot() {
        if t.closed && !state.mailbox.has_seen_session(t.connection) {
            store_session(state, &t);
        }
    }
}

fn store_session(state: &AppState, t: &crate::store::Transcript) {
    let notes = state.shared.annotations(t.connection);
    let id = state.mailbox.session_id(t.connection);
    let record = mailbox::SessionRecord::from_transcript(id, t, &notes);
    if let Err(e) = state.mailbox.add_session(record) {
        eprintln!("postel-sim web: cannot store session {}: {e}", t.connection);
    }
}

/// Moves what the simulator reports into the mailbox.
async fn ingest(
    state: Arc<AppState>,
    mut events: broadcast::Receiver<Event>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            _ = &mut stop => return,
            e = events.recv() => e,
        };
        match event {
            Ok(Event::Message(m)) => {
                if let Err(e) = state.mailbox.add_message(&m) {
                    eprintln!("postel-sim web: cannot store message {}: {e}", m.queue_id);
                }
            }
            Ok(Event::Closed(t)) => store_session(&state, &t),
            Ok(Event::Connected(_)) => {
                let _ = state
                    .mailbox
                    .events
                    .send(r#"{"type":"connected","id":null}"#.to_owned());
            }
            // Events were lost (the store fell behind): take what is missing from the
            // simulator's own lists.
            Err(broadcast::error::RecvError::Lagged(_)) => resync(&state),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
