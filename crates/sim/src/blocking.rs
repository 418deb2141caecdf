//! [`BlockingSimulator`]: the same simulator for synchronous tests and the CLI.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;
use crate::fault::Fault;
use crate::server::{Event, Simulator};
use crate::store::{ReceivedMessage, Transcript};
use crate::SimError;

/// A [`Simulator`] on a tokio runtime of its own (one worker thread), driven from
/// synchronous code. Do not create or drop it inside an async context.
///
/// ```no_run
/// use postel_sim::{BlockingSimulator, Config};
/// use postel_sim::fault::{Action, Fault, Step};
/// let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
/// sim.set_faults(vec![Fault::new(Step::DataEnd, Action::CloseAfterAccept)]);
/// // ... connect a std client to sim.addr() ...
/// let messages = sim.wait_for_messages(1, std::time::Duration::from_secs(5));
/// sim.shutdown();
/// # let _ = messages;
/// ```
pub struct BlockingSimulator {
    runtime: Option<tokio::runtime::Runtime>,
    inner: Option<Simulator>,
}

impl BlockingSimulator {
    /// Starts the runtime and the simulator.
    pub fn start(config: Config) -> Result<BlockingSimulator, SimError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postel-sim")
            .enable_all()
            .build()?;
        let inner = runtime.block_on(Simulator::start(config))?;
        Ok(BlockingSimulator {
            runtime: Some(runtime),
            inner: Some(inner),
        })
    }

    fn sim(&self) -> &Simulator {
        match &self.inner {
            Some(s) => s,
            None => unreachable!("the simulator lives until shutdown consumes self"),
        }
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.sim().addr()
    }

    /// The generated CA in PEM (see [`Simulator::ca_pem`]).
    pub fn ca_pem(&self) -> Option<String> {
        self.sim().ca_pem().map(str::to_owned)
    }

    /// Replaces the fault script.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        self.sim().set_faults(faults)
    }

    /// Adds one fault.
    pub fn add_fault(&self, fault: Fault) {
        self.sim().add_fault(fault)
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.sim().messages()
    }

    /// Removes and returns the messages accepted so far.
    pub fn take_messages(&self) -> Vec<ReceivedMessage> {
        self.sim().take_messages()
    }

    /// Every connection's transcript so far.
    pub fn transcripts(&self) -> Vec<Transcript> {
        self.sim().transcripts()
    }

    /// Connection `n`'s transcript (from 1).
    pub fn transcript(&self, n: u64) -> Option<Transcript> {
        self.sim().transcript(n)
    }

    /// Connection `n`'s protocol deviations (see [`Simulator::annotations`]).
    pub fn annotations(&self, n: u64) -> Vec<crate::annotate::Annotation> {
        self.sim().annotations(n)
    }

    /// How many sessions ended in a panic (see [`Simulator::session_panics`]).
    pub fn session_panics(&self) -> u64 {
        self.sim().session_panics()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> u64 {
        self.sim().connections()
    }

    /// Blocks until `n` messages arrived or `timeout` passed.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        self.block_on(self.sim().wait_for_messages(n, timeout))
    }

    /// Blocks until connection `n` closed or `timeout` passed.
    pub fn wait_for_close(&self, n: u64, timeout: Duration) -> Option<Transcript> {
        self.block_on(self.sim().wait_for_close(n, timeout))
    }

    /// Events as they happen; read with `blocking_recv`.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.sim().subscribe()
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        match &self.runtime {
            Some(rt) => rt.block_on(f),
            None => unreachable!("the runtime lives until shutdown consumes self"),
        }
    }

    /// Stops the simulator and its runtime.
    pub fn shutdown(mut self) {
        if let (Some(rt), Some(sim)) = (self.runtime.take(), self.inner.take()) {
            rt.block_on(sim.shutdown());
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for BlockingSimulator {
    fn drop(&mut self) {
        drop(self.inner.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
