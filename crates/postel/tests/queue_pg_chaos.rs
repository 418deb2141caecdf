//! The database queue's chaos test: thousands of messages in PostgreSQL drained by
//! several `postel queue run --store postgres://...` processes, some of them on other
//! "machines" (network namespaces reaching the database and the relay over a veth pair),
//! while workers are SIGKILLed at random, PostgreSQL is restarted (`pg_ctl restart -m
//! immediate`: a crash and recovery), the relay is restarted and loses final replies, and
//! connections are reset.
//!
//! Runs only with `POSTEL_PG_CHAOS=1` (plain `cargo test` passes it at once);
//! `scripts/queue-pg-chaos.sh` builds the binaries, makes the namespaces and the
//! database, and sets the environment: `POSTEL_PG_URL` (the database, from here),
//! `POSTEL_PG_DATA`/`POSTEL_PG_BIN` (for the restart), `POSTEL_PG_CHAOS_MACHINES`
//! (`netns=address-of-this-host-there ...`), `POSTEL_BIN`. Knobs:
//! `POSTEL_PG_CHAOS_MESSAGES` (10000), `POSTEL_PG_CHAOS_RCPTS` (2),
//! `POSTEL_PG_CHAOS_PROCS` (6 worker processes), `POSTEL_PG_CHAOS_THREADS` (2 workers
//! each), `POSTEL_PG_CHAOS_SEED`.
//!
//! Checked at the end: every recipient got every message; copies beyond the first only
//! as many as lost final replies can explain (printed); no bounce; the table empty.

mod chaos_relay;
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chaos_relay::{
    chaos_message, faults_for, reset_connections, start_relay_on, stop_relay, tally,
};
use common::Rng;
use postel::queue::{PgQueue, Storage};

const RELAY_PORT: u16 = 2525;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set (scripts/queue-pg-chaos.sh sets it)"))
}

/// Where a worker process runs: a network namespace (or this one), and the address of
/// the database and the relay as seen from there.
#[derive(Clone, Debug)]
struct Machine {
    netns: Option<String>,
    host: String,
}

/// The URL `base` with its host replaced by `host`.
fn url_for(base: &str, host: &str) -> String {
    let (scheme, rest) = base.split_once("://").expect("a postgres:// URL");
    let (auth, after) = match rest.split_once('@') {
        Some((a, r)) => (format!("{a}@"), r),
        None => (String::new(), rest),
    };
    let port_and_path = after.find(':').map_or("", |i| &after[i..]);
    format!("{scheme}://{auth}{host}{port_and_path}")
}

struct Workers {
    bin: PathBuf,
    url: String,
    threads: u64,
    log: PathBuf,
}

impl Workers {
    fn spawn(&self, m: &Machine) -> Child {
        let mut c = match &m.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the workers' log");
        c.env_remove("POSTEL_CONFIG")
            .env_remove("POSTEL_ACCOUNT")
            .env_remove("POSTEL_QUEUE_DIR")
            .env("HOME", "/nonexistent")
            .args(["queue", "--store"])
            .arg(url_for(&self.url, &m.host))
            .args(["run", "--tls", "none", "--helo", "chaos.postel.test"])
            .args(["--timeout", "5", "--retry", "1s", "--retry-max", "2s"])
            .args(["--lifetime", "5d", "--lease", "5s"])
            .arg("--server")
            .arg(format!("{}:{RELAY_PORT}", m.host))
            .arg("--workers")
            .arg(self.threads.to_string())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn postel queue run")
    }
}

/// Rows left in the queue (reconnecting: the database restarts under the test).
fn left(db: &mut Option<postgres::Client>, url: &str) -> Option<i64> {
    if db.as_ref().is_none_or(postgres::Client::is_closed) {
        *db = postgres::Client::connect(url, postgres::NoTls).ok();
    }
    let c = db.as_mut()?;
    match c.query_one("SELECT count(*) FROM postel_queue", &[]) {
        Ok(r) => Some(r.get(0)),
        Err(_) => {
            *db = None;
            None
        }
    }
}

/// Accepts on `from` and joins each connection to a new one to `to` (closed at once when
/// `to` does not answer: the relay is down).
async fn forward(from: std::net::SocketAddr, to: std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind(from)
        .await
        .unwrap_or_else(|e| panic!("the forwarder on {from}: {e}"));
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

fn restart_postgres() {
    let bin = env("POSTEL_PG_BIN");
    let data = env("POSTEL_PG_DATA");
    let log = PathBuf::from(&data).with_file_name("postgres.log");
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(format!("{bin}/pg_ctl"))
        .args(["-D", &data, "-m", "immediate", "-w", "-t", "60", "-l"])
        .arg(&log)
        .arg("restart")
        .stdin(Stdio::null())
        .output()
        .expect("pg_ctl");
    assert!(
        out.status.success(),
        "pg_ctl restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn workers_on_several_machines_drain_the_database_queue_under_faults() {
    if std::env::var("POSTEL_PG_CHAOS").as_deref() != Ok("1") {
        eprintln!("pg chaos test skipped: set POSTEL_PG_CHAOS=1 (scripts/queue-pg-chaos.sh does)");
        return;
    }
    let messages = knob("POSTEL_PG_CHAOS_MESSAGES", 10_000);
    let rcpts = knob("POSTEL_PG_CHAOS_RCPTS", 2);
    let procs = knob("POSTEL_PG_CHAOS_PROCS", 6).max(4);
    let threads = knob("POSTEL_PG_CHAOS_THREADS", 2).max(1);
    let in_netns = std::env::var("POSTEL_PG_CHAOS_NETNS").as_deref() == Ok("1");
    let seed = knob(
        "POSTEL_PG_CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1,
    );
    let url = env("POSTEL_PG_URL");
    let mut machines = vec![Machine {
        netns: None,
        host: "127.0.0.1".to_owned(),
    }];
    for m in std::env::var("POSTEL_PG_CHAOS_MACHINES")
        .unwrap_or_default()
        .split_whitespace()
    {
        let (ns, host) = m.split_once('=').expect("netns=address");
        machines.push(Machine {
            netns: Some(ns.to_owned()),
            host: host.to_owned(),
        });
    }
    eprintln!(
        "pg chaos: seed {seed}, {messages} messages x {rcpts} recipients, {procs} worker \
         processes x {threads} workers on {} machines, network namespaces: {in_netns}",
        machines.len()
    );
    let mut rng = Rng(seed);
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("postel-pg-chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // A fresh queue; half the messages through Postel's add (four threads), half through
    // the outbox INSERT of the docs, in an application's transactions of 500.
    let queue = PgQueue::open(&url).expect("the queue opens");
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    db.batch_execute("TRUNCATE postel_queue, postel_queue_log")
        .unwrap();
    let recipients: Vec<String> = (0..rcpts)
        .map(|r| format!("r{r}@chaos.postel.test"))
        .collect();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (q, recipients) = (queue.clone(), &recipients);
            s.spawn(move || {
                for i in (0..messages).filter(|i| i % 2 == 0 && (i / 2) % 4 == t) {
                    q.add_message(
                        "sender@chaos.postel.test",
                        recipients,
                        chaos_message(i).as_bytes(),
                    )
                    .expect("add");
                }
            });
        }
        let mut tx = db.transaction().unwrap();
        for i in (0..messages).filter(|i| i % 2 == 1) {
            tx.execute(
                "INSERT INTO postel_queue (sender, recipients, body) VALUES ($1, $2, $3)",
                &[
                    &"sender@chaos.postel.test",
                    &recipients,
                    &chaos_message(i).as_bytes(),
                ],
            )
            .unwrap();
            if i % 1000 == 999 {
                tx.commit().unwrap();
                tx = db.transaction().unwrap();
            }
        }
        tx.commit().unwrap();
    });
    let mut db = Some(db);
    assert_eq!(left(&mut db, &url), Some(messages as i64));
    eprintln!("pg chaos: queued {messages} in {:.1?}", started.elapsed());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The relay (the simulator) listens on loopback only; the other machines reach it
    // through a forwarder on this namespace's end of their veth pair.
    let bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for m in machines.iter().filter(|m| m.netns.is_some()) {
        let addr: IpAddr = m.host.parse().expect("an IP address");
        rt.block_on(forward(
            (addr, RELAY_PORT).into(),
            (bind, RELAY_PORT).into(),
        ));
    }
    let store = Arc::new(Mutex::new(Vec::new()));
    let mut relay = start_relay_on(
        &rt,
        bind,
        RELAY_PORT,
        faults_for(&mut rng, 40_000),
        store.clone(),
    );
    let workers = Workers {
        bin: PathBuf::from(env("POSTEL_BIN")),
        url: url.clone(),
        threads,
        log: dir.join("workers.log"),
    };
    let placement: Vec<Machine> = (0..procs as usize)
        .map(|i| machines[i % machines.len()].clone())
        .collect();
    let mut running: Vec<Child> = placement.iter().map(|m| workers.spawn(m)).collect();

    let (mut kills, mut pg_restarts, mut relay_restarts, mut resets, mut spawns) =
        (0u64, 0u64, 0u64, 0u64, procs);
    let (mut connections, mut lost_reply_faults) = (0u64, 0u64);
    let total = messages as i64;
    let mut remaining = total;
    // Faults while the first 70% drain; each kind of event happens at least once: the
    // database restart after 20%, the relay restart after 40%.
    while remaining > total * 3 / 10 {
        std::thread::sleep(Duration::from_millis(100 + rng.below(200)));
        if let Some(n) = left(&mut db, &url) {
            remaining = n;
        }
        for (slot, child) in running.iter_mut().enumerate() {
            if child.try_wait().unwrap().is_some() {
                *child = workers.spawn(&placement[slot]);
                spawns += 1;
            }
        }
        if rng.below(8) == 0 || (kills == 0 && remaining < total * 9 / 10) {
            let slot = rng.below(procs) as usize;
            let _ = running[slot].kill(); // SIGKILL
            let _ = running[slot].wait();
            kills += 1;
            running[slot] = workers.spawn(&placement[slot]);
            spawns += 1;
        }
        if pg_restarts == 0 && remaining < total * 8 / 10 {
            eprintln!("pg chaos: restarting PostgreSQL ({remaining} left)");
            restart_postgres();
            pg_restarts += 1;
        }
        if relay_restarts == 0 && remaining < total * 6 / 10 {
            eprintln!("pg chaos: restarting the relay ({remaining} left)");
            let (c, l) = stop_relay(&rt, relay);
            connections += c;
            lost_reply_faults += l;
            relay = start_relay_on(
                &rt,
                bind,
                RELAY_PORT,
                faults_for(&mut rng, 40_000),
                store.clone(),
            );
            relay_restarts += 1;
        }
        if in_netns && rng.below(10) == 0 {
            resets += reset_connections(RELAY_PORT);
        }
    }
    eprintln!(
        "pg chaos: faulty phase done after {:.1?}: {remaining} left",
        started.elapsed()
    );

    // Drain: a relay without faults; the workers are respawned until the table is empty.
    let (c, l) = stop_relay(&rt, relay);
    connections += c;
    lost_reply_faults += l;
    let relay = start_relay_on(
        &rt,
        bind,
        RELAY_PORT,
        (Vec::new(), Vec::new()),
        store.clone(),
    );
    let drain_until = Instant::now() + Duration::from_secs(240);
    while remaining > 0 && Instant::now() < drain_until {
        std::thread::sleep(Duration::from_millis(300));
        if let Some(n) = left(&mut db, &url) {
            remaining = n;
        }
        for (slot, child) in running.iter_mut().enumerate() {
            if remaining > 0 && child.try_wait().unwrap().is_some() {
                *child = workers.spawn(&placement[slot]);
                spawns += 1;
            }
        }
    }
    for mut child in running {
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    connections += stop_relay(&rt, relay).0;
    let stuck: Vec<(String, Option<String>, Option<String>)> = db
        .as_mut()
        .expect("the database is back")
        .query("SELECT id, held, corrupt FROM postel_queue LIMIT 5", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let elapsed = started.elapsed();
    // Claims that ran out under a living worker (the database was down for longer than a
    // lease), as the store logs them.
    let lost_leases: i64 = db
        .as_mut()
        .expect("the database is back")
        .query_one(
            "SELECT count(*) FROM postel_queue_log WHERE log = 'lease'",
            &[],
        )
        .unwrap()
        .get(0);

    let got = store.lock().unwrap();
    let t = tally(&got, messages, &recipients);
    // A copy is sent twice only where the reply after its final dot was lost: a fault that
    // closes after accepting, a connection reset while that reply was on its way (one
    // transaction per connection), a worker process killed (one transaction per worker
    // thread of it), or a restart of the relay or of the database (a lease lost while it
    // was down: each worker thread once); each repeats one delivery per recipient.
    let all_threads = procs * threads;
    let allowed = (lost_reply_faults
        + resets
        + kills * threads
        + (relay_restarts + pg_restarts) * all_threads)
        * rcpts;
    eprintln!(
        "pg chaos: {messages} messages x {rcpts} recipients = {} deliveries expected; \
         {} transactions stored, {connections} connections, {spawns} worker processes \
         started on {} machines, {kills} SIGKILLs, {pg_restarts} PostgreSQL restarts, \
         {relay_restarts} relay restarts, {resets} connections reset, \
         {lost_reply_faults} replies lost by the relay's faults, {} duplicate deliveries \
         (allowed at most {allowed}), {} missing, {} bounces, {remaining} left, \
         {lost_leases} claims lost with their lease, \
         {elapsed:.1?} in all",
        messages * rcpts,
        got.len(),
        machines.len(),
        t.duplicates,
        t.missing.len(),
        t.bounces,
    );
    assert!(
        t.missing.is_empty(),
        "not delivered: {:?}",
        &t.missing[..t.missing.len().min(20)]
    );
    assert_eq!(t.foreign, 0, "messages the test did not queue");
    assert_eq!(t.bounces, 0, "bounces: no fault was permanent");
    assert!(stuck.is_empty(), "rows left in the queue: {stuck:?}");
    assert!(
        t.duplicates <= allowed,
        "{} duplicates, more than the {allowed} lost replies can explain",
        t.duplicates
    );
    assert!(
        kills > 0 && pg_restarts > 0 && relay_restarts > 0,
        "the faults did not happen"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
