//! The durable queue against the in-process simulator: per-recipient state, retries,
//! bounces, several workers on one queue.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use postel::queue::{Backoff, Deliver, Outcome, OutcomeSink, Queue, Relay, Status, Worker};
use postel::{Client, TlsMode};
use postel_sim::fault::{Action, Fault, Step as SimStep};
use postel_sim::{BlockingSimulator, Config};

const MESSAGE: &[u8] = b"From: a@client.test\r\nTo: b@mx.test\r\nSubject: queued\r\n\r\nHello.\r\n";

fn start() -> BlockingSimulator {
    BlockingSimulator::start(Config::builder().build()).expect("the simulator starts")
}

fn temp_queue(name: &str) -> (Queue, PathBuf) {
    let dir = std::env::temp_dir().join(format!("postel-queue-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (Queue::open(&dir).expect("the queue opens"), dir)
}

fn relay(port: u16) -> Relay<impl Fn() -> Result<Client, postel::Error>> {
    Relay::new(move || {
        Client::builder("127.0.0.1")
            .port(port)
            .tls(TlsMode::Disabled)
            .ehlo_name("client.test")
            .connect_timeout(Duration::from_secs(2))
            .build()
    })
}

#[test]
fn a_queued_message_is_on_disk_then_delivered_and_removed() {
    let sim = start();
    let (queue, dir) = temp_queue("basic");
    let id = queue
        .add("a@client.test", &["b@mx.test", "c@mx.test"], MESSAGE)
        .unwrap();
    assert!(dir.join("msg").join(format!("{id}.eml")).is_file());
    let listed = queue.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].recipients[0].status, Status::Pending);
    assert_eq!(queue.message(&id).unwrap(), MESSAGE);

    let summary = Worker::new(queue.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    assert_eq!(summary.delivered, 2);
    assert_eq!(summary.finished, 1);
    assert!(queue.list().unwrap().is_empty());
    let got = sim.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, MESSAGE);
    assert_eq!(got[0].recipients(), vec!["b@mx.test", "c@mx.test"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_partly_delivered_message_retries_only_the_rest() {
    let sim = start();
    sim.set_faults(vec![Fault::refuse_recipient(
        "later@mx.test",
        450,
        "4.2.0 <later@mx.test>: mailbox busy",
    )]);
    let (queue, dir) = temp_queue("partial");
    let id = queue
        .add("a@client.test", &["now@mx.test", "later@mx.test"], MESSAGE)
        .unwrap();
    let worker = Worker::new(queue.clone(), relay(sim.addr().port()));
    let s = worker.run().unwrap();
    assert_eq!((s.delivered, s.deferred, s.finished), (1, 1, 0));

    let rec = queue.show(&id).unwrap();
    assert_eq!(rec.recipients[0].status, Status::Delivered);
    assert_eq!(rec.recipients[1].status, Status::Pending);
    assert_eq!(rec.recipients[1].uncertain, 0);
    assert!(rec.recipients[1]
        .last
        .as_deref()
        .unwrap()
        .starts_with("450"));
    assert_eq!(rec.attempts, 1);
    let wait = rec.next_try - postel::queue::now_secs();
    assert!(
        (29 * 60..=30 * 60).contains(&wait),
        "first retry after 30 minutes, got {wait} s"
    );

    // Not due: run() returns at once, nothing sent.
    assert_eq!(worker.run().unwrap().messages, 0);

    sim.set_faults(vec![]);
    assert_eq!(queue.flush(None).unwrap(), 1);
    let s = worker.run().unwrap();
    assert_eq!((s.delivered, s.finished), (1, 1));
    let got = sim.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].recipients(), vec!["now@mx.test"]);
    assert_eq!(got[1].recipients(), vec!["later@mx.test"]);
    assert!(queue.list().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_permanent_refusal_bounces_to_the_sender_with_a_delivery_status() {
    let sim = start();
    sim.set_faults(vec![Fault::refuse_recipient(
        "nobody@mx.test",
        550,
        "5.1.1 <nobody@mx.test>: Recipient address rejected",
    )]);
    let (queue, dir) = temp_queue("bounce");
    queue
        .add("a@client.test", &["b@mx.test", "nobody@mx.test"], MESSAGE)
        .unwrap();
    let s = Worker::new(queue.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    // The original (1 delivered, 1 failed), then the bounce it queued (delivered).
    assert_eq!(s.failed, 1);
    assert_eq!(s.finished, 2);
    let got = sim.messages();
    assert_eq!(got.len(), 2);
    let bounce = &got[1];
    assert_eq!(bounce.mail_from, "");
    assert_eq!(bounce.recipients(), vec!["a@client.test"]);
    let text = String::from_utf8_lossy(&bounce.data);
    assert!(text.contains("report-type=delivery-status"), "{text}");
    assert!(
        text.contains("Final-Recipient: rfc822; nobody@mx.test"),
        "{text}"
    );
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(
        text.contains("Subject: queued"),
        "original headers attached: {text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Always says 4yz: for lifetime and backoff tests without a server.
struct Deferring;

impl Deliver for Deferring {
    fn deliver(&self, _: &str, to: &[String], _: &[u8], report: &mut OutcomeSink<'_>) {
        let all: Vec<_> = (0..to.len())
            .map(|i| (i, Outcome::deferred("451 4.3.0 try later")))
            .collect();
        report(&all);
    }
}

#[test]
fn a_message_past_its_lifetime_is_returned_and_a_bounce_that_fails_is_held() {
    let (queue, dir) = temp_queue("lifetime");
    queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let backoff = Backoff {
        initial: Duration::ZERO,
        lifetime: Duration::from_secs(2),
        ..Backoff::default()
    };
    let worker = Worker::new(queue.clone(), Deferring).backoff(backoff);
    let s = worker.run_once().unwrap();
    assert_eq!(s.deferred, 1);
    std::thread::sleep(Duration::from_millis(2100));
    // Expired: failed, and a bounce to a@client.test queued from <>.
    let s = worker.run_once().unwrap();
    assert_eq!(s.failed, 1);
    let left = queue.list().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].from, "");
    assert_eq!(left[0].recipients[0].address, "a@client.test");
    // The bounce cannot be delivered either: never bounced, never dropped: held.
    std::thread::sleep(Duration::from_millis(2100));
    let s = worker.run().unwrap();
    assert_eq!(s.failed, 1);
    let left = queue.list().unwrap();
    assert_eq!(left.len(), 1, "the undeliverable bounce stays queued");
    let held = left[0].held.as_deref().expect("held");
    assert!(held.contains("<a@client.test>"), "{held}");
    assert_eq!(left[0].recipients[0].status, Status::Failed);
    assert!(
        queue.message(&left[0].id).unwrap().len() > 100,
        "its content too"
    );
    // Held: not tried again by later runs, nor made due by a flush of everything.
    assert_eq!(queue.flush(None).unwrap(), 0);
    assert_eq!(worker.run().unwrap().messages, 0);
    let log = std::fs::read_to_string(dir.join("failed.log")).unwrap();
    assert!(log.contains("from <> undeliverable bounce"), "{log}");
    // Released by name: tried again, for a new lifetime.
    assert_eq!(queue.flush(Some(&left[0].id)).unwrap(), 1);
    let s = worker.run_once().unwrap();
    assert_eq!((s.messages, s.deferred), (1, 1));
    let rec = queue.show(&left[0].id).unwrap();
    assert_eq!(
        (rec.held.as_deref(), rec.recipients[0].status),
        (None, Status::Pending)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn backoff_grows_exponentially_up_to_its_maximum() {
    let b = Backoff {
        initial: Duration::from_secs(60),
        factor: 3.0,
        max: Duration::from_secs(1000),
        lifetime: Duration::from_secs(86400),
    };
    let got: Vec<u64> = (1..=5).map(|n| b.delay(n).as_secs()).collect();
    assert_eq!(got, vec![60, 180, 540, 1000, 1000]);
}

#[test]
fn an_unreachable_relay_defers_without_an_uncertain_attempt() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: connection refused
    let (queue, dir) = temp_queue("unreachable");
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let s = Worker::new(queue.clone(), relay(port)).run().unwrap();
    assert_eq!(s.deferred, 1);
    let rec = queue.show(&id).unwrap();
    assert_eq!(rec.recipients[0].status, Status::Pending);
    assert_eq!(rec.recipients[0].attempts, 1);
    assert_eq!(rec.recipients[0].uncertain, 0);
    assert!(rec.last_error.unwrap().contains("connect"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_lost_reply_to_the_final_dot_is_counted_as_uncertain_and_retried() {
    let sim = start();
    sim.set_faults(vec![
        Fault::new(SimStep::DataEnd, Action::CloseAfterAccept).on_connection(1)
    ]);
    let (queue, dir) = temp_queue("lostdot");
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let worker = Worker::new(queue.clone(), relay(sim.addr().port())).backoff(Backoff {
        initial: Duration::ZERO,
        ..Backoff::default()
    });
    worker.run_once().unwrap();
    let rec = queue.show(&id).unwrap();
    assert_eq!(rec.recipients[0].status, Status::Pending);
    assert_eq!(rec.recipients[0].uncertain, 1);
    worker.run().unwrap();
    // Delivered twice: the one duplicate the lost reply allows.
    assert_eq!(sim.messages().len(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_record_left_in_flight_by_a_dead_worker_is_sent_again_and_counted() {
    let sim = start();
    let (queue, dir) = temp_queue("inflight");
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    // What a worker killed mid-transaction leaves: InFlight on disk.
    let path = dir.join("msg").join(format!("{id}.json"));
    let json = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"pending\"", "\"in_flight\"");
    std::fs::write(&path, json).unwrap();
    assert_eq!(
        queue.show(&id).unwrap().recipients[0].status,
        Status::InFlight
    );
    Worker::new(queue.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    assert_eq!(sim.messages().len(), 1);
    assert!(queue.list().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_claimed_message_cannot_be_claimed_or_removed_by_another() {
    let (queue, dir) = temp_queue("claim");
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let held = queue.claim(&id).unwrap().expect("first claim");
    // flock is per open file: a second open in this process conflicts like another process.
    assert!(queue.claim(&id).unwrap().is_none());
    assert!(matches!(
        queue.remove(&id),
        Err(postel::queue::QueueError::Busy(_))
    ));
    drop(held);
    queue.remove(&id).unwrap();
    assert!(matches!(
        queue.show(&id),
        Err(postel::queue::QueueError::NotFound(_))
    ));
    assert!(matches!(
        queue.show("../../etc/passwd"),
        Err(postel::queue::QueueError::Invalid(_))
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_requests_are_refused_before_anything_is_written() {
    let (queue, dir) = temp_queue("invalid");
    let none: [&str; 0] = [];
    assert!(matches!(
        queue.add("a@client.test", &none, MESSAGE),
        Err(postel::queue::QueueError::Invalid(_))
    ));
    assert!(matches!(
        queue.add("a@client.test", &["b@mx.test\r\nRCPT TO:<x@y>"], MESSAGE),
        Err(postel::queue::QueueError::Invalid(_))
    ));
    assert!(queue.list().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn four_workers_on_one_queue_send_each_message_exactly_once() {
    let sim = start();
    let (queue, dir) = temp_queue("workers");
    let mut ids = Vec::new();
    for i in 0..40 {
        let body = format!("Subject: m{i}\r\n\r\nmessage {i}\r\n");
        ids.push(
            queue
                .add("a@client.test", &["b@mx.test"], body.as_bytes())
                .unwrap(),
        );
    }
    let port = sim.addr().port();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let q = Queue::open(queue.dir()).unwrap();
            std::thread::spawn(move || Worker::new(q, relay(port)).run().unwrap())
        })
        .collect();
    let delivered: usize = handles
        .into_iter()
        .map(|h| h.join().unwrap().delivered)
        .sum();
    assert_eq!(delivered, 40);
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    for m in sim.messages() {
        *seen.entry(m.data).or_default() += 1;
    }
    assert_eq!(seen.len(), 40);
    assert!(seen.values().all(|&n| n == 1), "a message was sent twice");
    assert!(queue.list().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_record_whose_message_file_is_gone_is_returned_to_the_sender() {
    let (queue, dir) = temp_queue("noeml");
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    std::fs::remove_file(dir.join("msg").join(format!("{id}.eml"))).unwrap();
    let s = Worker::new(queue.clone(), Deferring).run_once().unwrap();
    assert_eq!(s.failed, 1);
    let left = queue.list().unwrap();
    assert_eq!(left.len(), 1, "only the bounce is left");
    assert_eq!(left[0].from, "");
    let bounce = String::from_utf8(queue.message(&left[0].id).unwrap()).unwrap();
    assert!(
        bounce.contains("the queued message file is missing"),
        "{bounce}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn queued_mail_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (queue, dir) = temp_queue("modes");
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir.join("msg")), 0o700);
    assert_eq!(mode(dir.join("msg").join(format!("{id}.eml"))), 0o600);
    assert_eq!(mode(dir.join("msg").join(format!("{id}.json"))), 0o600);
    let _ = std::fs::remove_dir_all(dir);
}
