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

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Rng;
use postel_sim::fault::{Action, Fault, Step};
use postel_sim::{Config, Event, ReceivedMessage, Simulator};

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

/// What the relay's faults do to each of its first `connections` connections, and the
/// connections whose fault loses the reply to a stored message.
fn faults_for(rng: &mut Rng, connections: u64) -> (Vec<Fault>, Vec<u64>) {
    let mut faults = Vec::new();
    let mut lost = Vec::new();
    for n in 1..=connections {
        let f = match rng.below(40) {
            0 => {
                lost.push(n);
                Fault::new(Step::DataEnd, Action::CloseAfterAccept)
            }
            1 => Fault::new(Step::Mail, Action::Reply421),
            2 => Fault::new(Step::Data, Action::Close),
            3 => Fault::new(Step::Greeting, Action::Delay(Duration::from_millis(700))),
            4 => Fault::new(Step::DataEnd, Action::Reply(451, "4.3.0 try later".into())),
            _ => continue,
        };
        faults.push(f.on_connection(n));
    }
    (faults, lost)
}

/// One simulator and the task that records every message it stores (the record survives
/// the simulator's shutdown: the events are read until the channel closes).
struct Relay {
    sim: Simulator,
    lost_reply: Vec<u64>,
    collector: tokio::task::JoinHandle<bool>,
}

fn start_relay(
    rt: &tokio::runtime::Runtime,
    port: u16,
    (faults, lost_reply): (Vec<Fault>, Vec<u64>),
    store: Arc<Mutex<Vec<ReceivedMessage>>>,
) -> Relay {
    let config = Config::builder()
        .bind(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .port(port)
        .build();
    let sim = rt.block_on(async {
        let mut tries = 0;
        loop {
            match Simulator::start(config.clone()).await {
                Ok(s) => break s,
                // The old listener's port can take a moment to be free again.
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the relay does not start on port {port}: {e}"),
            }
        }
    });
    sim.set_faults(faults);
    let mut events = sim.subscribe();
    let collector = rt.spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::Message(m)) => store.lock().unwrap().push(m),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return false,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return true,
            }
        }
    });
    Relay {
        sim,
        lost_reply,
        collector,
    }
}

/// Stops the relay; its connections, and how many of them had a fault that lost a reply.
fn stop_relay(rt: &tokio::runtime::Runtime, relay: Relay) -> (u64, u64) {
    let connections = relay.sim.connections();
    let lost = relay
        .lost_reply
        .iter()
        .filter(|&&n| n <= connections)
        .count() as u64;
    rt.block_on(relay.sim.shutdown());
    let complete =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), relay.collector).await });
    assert!(
        matches!(complete, Ok(Ok(true))),
        "the harness missed relay events (lagged or did not close): cannot check the counts"
    );
    (connections, lost)
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

/// Resets every established connection to the relay's port with `ss -K` (inside the test's
/// own network namespace only); the number of sockets it reports killed.
fn reset_connections(port: u16) -> u64 {
    let out = Command::new("ss")
        .args(["-K", "-t", "-n", "state", "established"])
        .arg(format!("( sport = :{port} )"))
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count() as u64,
        _ => 0,
    }
}

fn message_id(data: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(data);
    let at = text.find("Message-ID: <chaos-")? + "Message-ID: <chaos-".len();
    let rest = &text[at..];
    let end = rest.find('@')?;
    rest[..end].parse().ok()
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
        let body = format!(
            // Up to 50 lines of 72 octets: sizes vary, lines stay within RFC 5321's limit.
            "From: sender@chaos.postel.test\r\nTo: r0@chaos.postel.test\r\n\
             Subject: chaos {i}\r\nMessage-ID: <chaos-{i}@postel.test>\r\n\r\nmessage {i}\r\n{}\r\n",
            format!("{}\r\n", "x".repeat(72)).repeat((i % 50) as usize)
        );
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
    let mut copies: HashMap<(u64, String), u64> = HashMap::new();
    let mut bounces = 0;
    let mut foreign = 0;
    for m in got.iter() {
        if m.mail_from.is_empty() {
            if bounces == 0 {
                let text = String::from_utf8_lossy(&m.data);
                eprintln!(
                    "chaos: the first bounce:\n{}",
                    &text[..text.len().min(2500)]
                );
            }
            bounces += 1;
            continue;
        }
        let Some(id) = message_id(&m.data) else {
            foreign += 1;
            continue;
        };
        for r in &m.rcpt_to {
            *copies.entry((id, r.address.clone())).or_default() += 1;
        }
    }
    let mut missing = Vec::new();
    let mut duplicates = 0u64;
    for i in 0..messages {
        for r in &recipients {
            match copies.get(&(i, r.clone())) {
                None | Some(0) => missing.push(format!("message {i} to {r}")),
                Some(n) => duplicates += n - 1,
            }
        }
    }
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
