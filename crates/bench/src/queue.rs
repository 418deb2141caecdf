//! `postel-bench queue`: messages per second a queue drains through 1, 2, 4 and 8
//! workers into smtp-sink, the file queue beside the queue on PostgreSQL.
//!
//! ```text
//! postel-bench queue [--messages N] [--workers 1,2,4,8] [--repeat K] [--pg URL]
//! ```
//!
//! Each run fills a fresh queue with N messages of 1 KB to one recipient (not timed),
//! then times `Worker::run` on that many threads, each with its own clone of the queue
//! (its own connection, for the database), until the queue is empty. Every state change
//! is durable on both stores: the file queue fsyncs each record, the database commits
//! each write (`synchronous_commit` on). The database is `--pg`, else `$POSTEL_PG_URL`
//! (scripts/postgres-up.sh); without one only the file queue is measured. Each figure
//! is the best of K runs (3): on a shared machine noise only ever slows a run down.
//! Prints a Markdown table.

use std::time::{Duration, Instant};

use postel::queue::{PgQueue, Queue, Relay, Storage, Worker};
use postel::{Client, TlsMode};

use crate::client::BoxError;
use crate::harness::progress;
use crate::report::{rate, Table};
use crate::servers::Sink;

const BODY_LINE: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.";

fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: bench@postel.test\r\nTo: sink@postel.test\r\nSubject: queue {i}\r\n\
         Message-ID: <queue-{i}@postel.test>\r\n\r\n"
    );
    while m.len() < 1000 {
        m.push_str(BODY_LINE);
        m.push_str("\r\n");
    }
    m.into_bytes()
}

/// Fills `queue` with `n` messages, then drains it with `workers` threads; messages/s.
fn drain<S: Storage + Clone>(
    queue: &S,
    n: usize,
    workers: usize,
    sink: std::net::SocketAddr,
) -> Result<f64, BoxError> {
    let to = ["sink@postel.test".to_owned()];
    std::thread::scope(|s| -> Result<(), BoxError> {
        let fillers: Vec<_> = (0..4)
            .map(|t| {
                let q = queue.clone();
                let to = &to;
                s.spawn(move || -> Result<(), postel::queue::QueueError> {
                    for i in (t..n).step_by(4) {
                        q.add_message("bench@postel.test", to, &message(i))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for f in fillers {
            f.join().map_err(|_| "a filler panicked")??;
        }
        Ok(())
    })?;
    let started = Instant::now();
    let delivered: usize = std::thread::scope(|s| -> Result<usize, BoxError> {
        let hs: Vec<_> = (0..workers)
            .map(|_| {
                let q = queue.clone();
                s.spawn(move || {
                    let relay = Relay::new(move || {
                        Client::builder(sink.ip().to_string())
                            .port(sink.port())
                            .tls(TlsMode::Disabled)
                            .ehlo_name("bench.postel.test")
                            .connect_timeout(Duration::from_secs(5))
                            .build()
                    });
                    Worker::new(q, relay).run().map(|s| s.delivered)
                })
            })
            .collect();
        let mut total = 0;
        for h in hs {
            total += h.join().map_err(|_| "a worker panicked")??;
        }
        Ok(total)
    })?;
    let secs = started.elapsed().as_secs_f64();
    if delivered != n || !queue.list()?.is_empty() {
        return Err(format!("{delivered} of {n} delivered; the queue is not empty").into());
    }
    Ok(n as f64 / secs)
}

/// What one queue-drain run measures.
pub struct QueuePlan {
    /// Messages queued (and drained) per run.
    pub messages: usize,
    /// The worker counts to measure.
    pub workers: Vec<usize>,
    /// Runs per figure; the best is kept.
    pub repeat: usize,
    /// The PostgreSQL URL; `None` measures the file queue only.
    pub pg: Option<String>,
}

impl QueuePlan {
    /// The defaults: 2,000 messages, 1/2/4/8 workers, best of 3, `$POSTEL_PG_URL`.
    pub fn new() -> QueuePlan {
        QueuePlan {
            messages: 2000,
            workers: vec![1, 2, 4, 8],
            repeat: 3,
            pg: std::env::var("POSTEL_PG_URL")
                .ok()
                .filter(|u| !u.is_empty()),
        }
    }
}

/// `postel-bench queue ...`: prints the table.
pub fn main(args: &[String]) -> Result<(), BoxError> {
    let mut plan = QueuePlan::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--messages" => plan.messages = it.next().ok_or("--messages needs N")?.parse()?,
            "--workers" => {
                plan.workers = it
                    .next()
                    .ok_or("--workers needs a list")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--repeat" => {
                plan.repeat = it
                    .next()
                    .ok_or("--repeat needs K")?
                    .parse::<usize>()?
                    .max(1)
            }
            "--pg" => plan.pg = Some(it.next().ok_or("--pg needs a URL")?.clone()),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    println!("{}", section(&plan)?.markdown());
    Ok(())
}

/// The queue-drain table (also a section of the full run: `--only queue`).
pub fn section(plan: &QueuePlan) -> Result<Table, BoxError> {
    let (messages, repeat) = (plan.messages, plan.repeat.max(1));
    let sink = Sink::start(None)?;
    let dir = std::env::temp_dir().join(format!("postel-bench-queue-{}", std::process::id()));
    let pg_queue = match &plan.pg {
        Some(url) => {
            let mut admin = postel_pg_admin(url)?;
            admin.batch_execute(
                "DROP SCHEMA IF EXISTS postel_bench CASCADE; CREATE SCHEMA postel_bench",
            )?;
            let sep = if url.contains('?') { '&' } else { '?' };
            Some(PgQueue::open(&format!(
                "{url}{sep}options=-csearch_path%3Dpostel_bench"
            ))?)
        }
        None => {
            progress("no PostgreSQL (--pg or POSTEL_PG_URL): the file queue only");
            None
        }
    };
    let mut table = Table::new(
        "Queue drain: messages per second by workers",
        &format!(
            "{messages} queued messages of 1 KB to one recipient, drained into smtp-sink on \
             loopback by N worker threads (Worker::run, a fresh connection per message); \
             filling is not timed. File queue: fsync'd records in {}; PostgreSQL: every \
             state change committed (in-flight mark, outcome, delete), claims by SKIP LOCKED.",
            std::env::temp_dir().display()
        ),
        &["workers", "file queue msg/s", "PostgreSQL msg/s"],
    );
    table
        .note
        .push_str(&format!(" Best of {repeat} runs each."));
    if pg_queue.is_none() {
        table
            .note
            .push_str(" No PostgreSQL was given (POSTEL_PG_URL): its column is empty.");
    }
    for &w in &plan.workers {
        let (mut files, mut db) = (0f64, None::<f64>);
        for _ in 0..repeat {
            let _ = std::fs::remove_dir_all(&dir);
            let r = drain(&Queue::open(&dir)?, messages, w, sink.addr())?;
            progress(&format!("file queue, {w} workers: {} msg/s", rate(r)));
            files = files.max(r);
            if let Some(q) = &pg_queue {
                let r = drain(q, messages, w, sink.addr())?;
                progress(&format!("PostgreSQL, {w} workers: {} msg/s", rate(r)));
                db = Some(db.unwrap_or(0.0).max(r));
            }
        }
        table.rows.push(vec![
            w.to_string(),
            rate(files),
            db.map_or("–".to_owned(), rate),
        ]);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(table)
}

fn postel_pg_admin(url: &str) -> Result<postgres::Client, BoxError> {
    Ok(postgres::Client::connect(url, postgres::NoTls)?)
}
