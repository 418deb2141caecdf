//! kill -9 at random moments: two worker processes (this test binary, re-run as
//! `crash_worker_process`) drain a queue of a few hundred messages into the simulator,
//! which injects faults (lost final replies, 421s, dropped connections, 4yz to one
//! recipient); they are killed and restarted over and over. At the end every message
//! reached every recipient, and every extra copy came over a connection whose reply to
//! the final dot the client never acted on (killed before QUIT, or the reply was lost).

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Rng;
use postel::queue::{Backoff, Queue, Relay, Worker};
use postel::{Client, TlsMode};
use postel_sim::fault::{Action, Fault, RcptMatch, Step};
use postel_sim::{BlockingSimulator, Config, Side};

const MESSAGES: usize = 300;
const QUEUE_ENV: &str = "POSTEL_CRASH_QUEUE";
const PORT_ENV: &str = "POSTEL_CRASH_PORT";

/// The worker process: runs only when the parent test sets the environment.
#[test]
#[ignore = "run by kill_9_at_random_moments_loses_no_message as a child process"]
fn crash_worker_process() {
    let (Some(dir), Some(port)) = (std::env::var_os(QUEUE_ENV), std::env::var_os(PORT_ENV)) else {
        return;
    };
    let port: u16 = port.to_str().and_then(|p| p.parse().ok()).expect("a port");
    let queue = Queue::open(PathBuf::from(dir)).expect("the queue opens");
    let relay = Relay::new(move || {
        Client::builder("127.0.0.1")
            .port(port)
            .tls(TlsMode::Disabled)
            .ehlo_name("client.test")
            .connect_timeout(Duration::from_secs(2))
            .build()
    });
    let backoff = Backoff {
        initial: Duration::ZERO,
        ..Backoff::default()
    };
    Worker::new(queue, relay)
        .backoff(backoff)
        .run()
        .expect("the worker runs");
}

fn faults(rng: &mut Rng, connections: u64) -> Vec<Fault> {
    let mut out = Vec::new();
    for n in 1..=connections {
        let f = match rng.below(100) {
            0..=7 => Fault::new(Step::DataEnd, Action::CloseAfterAccept),
            8..=11 => Fault::new(Step::DataEnd, Action::Close),
            12..=15 => Fault::new(Step::Mail, Action::Reply421),
            16..=19 => Fault::new(
                Step::Rcpt(RcptMatch::Nth(2)),
                Action::Reply(450, "4.2.0 mailbox busy".to_owned()),
            ),
            20..=22 => Fault::new(Step::Greeting, Action::Close),
            _ => continue,
        };
        out.push(f.on_connection(n));
    }
    out
}

fn spawn_worker(dir: &std::path::Path, port: u16) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "crash_worker_process",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(QUEUE_ENV, dir)
        .env(PORT_ENV, port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker starts")
}

#[test]
fn kill_9_at_random_moments_loses_no_message() {
    let seed = std::env::var("POSTEL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0ff_ee00_1234u64 ^ u64::from(std::process::id()));
    eprintln!("seed {seed} (POSTEL_CRASH_SEED replays it)");
    let mut rng = Rng(seed | 1);
    let sim = BlockingSimulator::start(Config::builder().build()).expect("the simulator starts");
    sim.set_faults(faults(&mut rng, 4000));
    let port = sim.addr().port();

    let dir = std::env::temp_dir().join(format!("postel-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let queue = Queue::open(&dir).unwrap();
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for i in 0..MESSAGES {
        let tag = format!("m{i:04}");
        let to = vec![format!("one-{tag}@mx.test"), format!("two-{tag}@mx.test")];
        let body = format!("X-Tag: {tag}\r\nSubject: crash test {i}\r\n\r\nmessage {i}\r\n");
        queue.add("a@client.test", &to, body.as_bytes()).unwrap();
        expected.insert(tag, to);
    }

    // Kill and restart until the queue is empty (at most 60 rounds), then one last run
    // without interference.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut kills = 0;
    for _ in 0..60 {
        if queue.list().unwrap().is_empty() {
            break;
        }
        let mut a = spawn_worker(&dir, port);
        let mut b = spawn_worker(&dir, port);
        std::thread::sleep(Duration::from_millis(30 + rng.below(400)));
        for c in [&mut a, &mut b] {
            if c.try_wait().unwrap().is_none() {
                c.kill().unwrap(); // SIGKILL
                kills += 1;
            }
            c.wait().unwrap();
        }
        assert!(Instant::now() < deadline, "crash rounds took too long");
    }
    let mut last = spawn_worker(&dir, port);
    while last.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the final run did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(last.wait().unwrap().success(), "the final worker failed");
    assert!(
        queue.list().unwrap().is_empty(),
        "messages left in the queue"
    );
    assert!(
        kills > 0,
        "no worker was ever killed: the test proved nothing"
    );

    // Connections whose client never sent QUIT: killed mid-session, or faulted.
    let without_quit: std::collections::HashSet<u64> = sim
        .transcripts()
        .into_iter()
        .filter(|t| {
            !t.lines
                .iter()
                .any(|l| l.side == Some(Side::Client) && l.text.eq_ignore_ascii_case("QUIT"))
        })
        .map(|t| t.connection)
        .collect();

    // (tag, recipient) -> the connections that delivered it.
    let mut got: HashMap<(String, String), Vec<u64>> = HashMap::new();
    for m in sim.messages() {
        assert_eq!(m.mail_from, "a@client.test", "no bounce expected");
        let text = String::from_utf8_lossy(&m.data);
        let tag = text
            .lines()
            .find_map(|l| l.strip_prefix("X-Tag: "))
            .expect("a tagged message")
            .trim()
            .to_owned();
        for r in m.recipients() {
            got.entry((tag.clone(), r.to_owned()))
                .or_default()
                .push(m.connection);
        }
    }
    let mut duplicates = 0;
    for (tag, to) in &expected {
        for r in to {
            let conns = got
                .get(&(tag.clone(), r.clone()))
                .unwrap_or_else(|| panic!("{tag} never reached {r} (seed {seed})"));
            let unacknowledged = conns.iter().filter(|c| without_quit.contains(c)).count();
            assert!(
                conns.len() - 1 <= unacknowledged,
                "{tag} reached {r} {} times, but only {unacknowledged} of those sessions \
                 lost the final reply (connections {conns:?}, seed {seed})",
                conns.len()
            );
            duplicates += conns.len() - 1;
        }
    }
    eprintln!(
        "{MESSAGES} messages, {kills} kills, {} connections ({} without QUIT), \
         {duplicates} legitimate duplicates",
        sim.connections(),
        without_quit.len()
    );
    let _ = std::fs::remove_dir_all(dir);
}
