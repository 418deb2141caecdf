//! Chaos test: thousands of queued messages through `postel queue run` with several workers
//! while the relay (the simulator) loses final replies, refuses, stalls, is restarted, has its
//! connections reset, and while the `queue run` process is killed with SIGKILL at random.
//!
//! Runs only with `POSTEL_CHAOS=1` (plain `cargo test` passes it at once); `scripts/chaos.sh`
//! sets that, builds the `postel` binary, and runs this inside a network namespace of its own
//! with a lossy qdisc on its loopback. Knobs: `POSTEL_CHAOS_MESSAGES` (2000),
//! `POSTEL_CHAOS_RCPTS` (3), `POSTEL_CHAOS_WORKERS` (4), `POSTEL_CHAOS_SECONDS` (60, the
//! faulty phase), `POSTEL_CHAOS_SEED`, `POSTEL_BIN` (the `postel` binary).
//!
//! Checked at the end: every recipient got every message; a copy beyond the first only where
//! a reply after the final dot can have been lost (bounded by the faults that lose one); no
//! bounce; the queue directory empty (no fault is left in the drain phase, so nothing stays
//! deferred). The counts are printed.

mod chaos_relay;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chaos_relay::{chaos_message, faults_for, reset_connections, start_relay, stop_relay, tally};
use common::Rng;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn postel_bin() -> PathBuf {
    match std::env::var_os("POSTEL_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/postel"),
    }
}

fn postel(queue: &Path) -> Command {
    let mut c = Command::new(postel_bin());
    c.arg("queue").arg("--queue-dir").arg(queue);
    // No config file or account of the machine's: only the flags.
    c.env_remove("POSTEL_CONFIG")
        .env_remove("POSTEL_ACCOUNT")
        .env_remove("POSTEL_QUEUE_DIR")
        .env("HOME", queue)
        .env("XDG_CONFIG_HOME", queue);
    c
}

/// Starts `postel queue run`; its stderr goes to `<queue>/../run.log`.
fn queue_run(queue: &Path, port: u16, workers: u64) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(queue.with_file_name("run.log"))
        .expect("run.log");
    postel(queue)
        .args([
            "run",
            "--tls",
            "none",
            "--helo",
            "chaos.postel.test",
            "--timeout",
            "5",
        ])
        .args(["--retry", "30m", "--lifetime", "5d"])
        .arg("--server")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--workers")
        .arg(workers.to_string())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn postel queue run")
}

fn flush(queue: &Path) {
    let st = postel(queue)
        .arg("flush")
        .stdout(Stdio::null())
        .status()
        .expect("postel queue flush");
    assert!(st.success(), "postel queue flush: {st}");
}

fn left_in_queue(queue: &Path) -> usize {
    std::fs::read_dir(queue.join("msg"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn chaos_queue_run_under_faults() {
    if std::env::var("POSTEL_CHAOS").as_deref() != Ok("1") {
        eprintln!("chaos test skipped: set POSTEL_CHAOS=1 (scripts/chaos.sh does)");
        return;
    }
    let messages = knob("POSTEL_CHAOS_MESSAGES", 2000);
    let rcpts = knob("POSTEL_CHAOS_RCPTS", 3);
    let workers = knob("POSTEL_CHAOS_WORKERS", 4);
    let seconds = knob("POSTEL_CHAOS_SECONDS", 60);
    let in_netns = std::env::var("POSTEL_CHAOS_NETNS").as_deref() == Ok("1");
    let seed = knob(
        "POSTEL_CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1,
    );
    eprintln!(
        "chaos: seed {seed}, {messages} messages x {rcpts} recipients, {workers} workers, \
         {seconds}s of faults, network namespace: {in_netns}"
    );
    let mut rng = Rng(seed);
    // Kept when the test fails, for a look at the queue; removed when it passes.
    let dir = std::env::temp_dir().join(format!("postel-chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let queue = dir.join("queue");
    let started = Instant::now();

    // Queue everything first.
    let recipients: Vec<String> = (0..rcpts)
        .map(|r| format!("r{r}@chaos.postel.test"))
        .collect();
    for i in 0..messages {
        let mut child = postel(&queue)
            .args(["add", "--from", "sender@chaos.postel.test"])
            .args(&recipients)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("postel queue add");
        let body = chaos_message(i);
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "queue add {i}");
    }
    assert_eq!(left_in_queue(&queue), messages as usize);
    eprintln!("chaos: queued {messages} in {:.1?}", started.elapsed());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A fixed port inside the namespace; an ephemeral one otherwise.
    let port = if in_netns {
        2525
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let store = Arc::new(Mutex::new(Vec::new()));
    let mut relay = start_relay(&rt, port, faults_for(&mut rng, 20_000), store.clone());
    let mut lost_reply_faults = 0u64;

    let (mut kills, mut restarts, mut resets, mut runs) = (0u64, 0u64, 0u64, 0u64);
    let mut connections = 0u64;
    let chaos_until = Instant::now() + Duration::from_secs(seconds);
    // The first restart early (even a short run has one), then every 3 to 8 s.
    let mut next_restart = Instant::now() + Duration::from_millis(1000 + rng.below(2000));
    while Instant::now() < chaos_until && left_in_queue(&queue) > 0 {
        flush(&queue);
        let mut child = queue_run(&queue, port, workers);
        runs += 1;
        // The first run is killed early (even a short run has a kill), later ones at random
        // within 0.3 to 3.3 s.
        let spread = if runs == 1 { 700 } else { 3000 };
        let kill_at = Instant::now() + Duration::from_millis(300 + rng.below(spread));
        loop {
            std::thread::sleep(Duration::from_millis(50 + rng.below(150)));
            if let Some(_st) = child.try_wait().unwrap() {
                break;
            }
            if in_netns && rng.below(15) == 0 {
                resets += reset_connections(port);
            }
            if Instant::now() >= next_restart {
                let (c, l) = stop_relay(&rt, relay);
                connections += c;
                lost_reply_faults += l;
                // The new relay counts connections from 1 again: a new fault draw.
                relay = start_relay(&rt, port, faults_for(&mut rng, 20_000), store.clone());
                restarts += 1;
                next_restart = Instant::now() + Duration::from_millis(3000 + rng.below(5000));
            }
            if Instant::now() >= kill_at {
                child.kill().expect("SIGKILL queue run");
                child.wait().unwrap();
                kills += 1;
                break;
            }
        }
    }
    let chaos_elapsed = started.elapsed();
    eprintln!(
        "chaos: faulty phase done after {chaos_elapsed:.1?}: {} left in the queue",
        left_in_queue(&queue)
    );

    // Drain: a relay without faults, runs until the queue is empty (bounded).
    let (c, l) = stop_relay(&rt, relay);
    connections += c;
    lost_reply_faults += l;
    let relay = start_relay(&rt, port, (Vec::new(), Vec::new()), store.clone());
    let drain_until = Instant::now() + Duration::from_secs(180);
    while left_in_queue(&queue) > 0 && Instant::now() < drain_until {
        flush(&queue);
        let mut child = queue_run(&queue, port, workers);
        runs += 1;
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    connections += stop_relay(&rt, relay).0;
    let left = left_in_queue(&queue);

    // Count what every recipient got.
    let got = store.lock().unwrap();
    let t = tally(&got, messages, &recipients);
    let (missing, duplicates, bounces, foreign) = (t.missing, t.duplicates, t.bounces, t.foreign);
    // A copy is sent twice only when the reply after its final dot was lost: a fault that
    // closes after accepting, or a kill, restart or reset while that reply was on its way
    // (at most one message per worker each: a worker has one transaction in flight), each
    // lost reply repeating one delivery per recipient.
    let allowed = (lost_reply_faults + (kills + restarts + resets) * workers) * rcpts;
    eprintln!(
        "chaos: {messages} messages x {rcpts} recipients = {} deliveries expected; \
         {} transactions stored, {} connections, {runs} queue runs, {kills} SIGKILLs, \
         {restarts} relay restarts, {resets} connections reset, \
         {lost_reply_faults} replies lost by the relay's faults, \
         {duplicates} duplicate deliveries (allowed at most {allowed}), {} missing, \
         {bounces} bounces, {left} left in the queue, {:.1?} in all",
        messages * rcpts,
        got.len(),
        connections,
        missing.len(),
        started.elapsed()
    );
    assert!(
        missing.is_empty(),
        "not delivered: {:?}",
        &missing[..missing.len().min(20)]
    );
    assert_eq!(foreign, 0, "messages the test did not queue");
    assert_eq!(bounces, 0, "bounces: no fault was permanent");
    assert_eq!(left, 0, "messages left in the queue after the drain phase");
    assert!(
        duplicates <= allowed,
        "{duplicates} duplicates, more than the {allowed} lost replies can explain"
    );
    assert!(
        kills > 0 && restarts > 0,
        "the faults did not happen: a longer run is needed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
