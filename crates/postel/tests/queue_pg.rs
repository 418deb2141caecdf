//! The queue on a real PostgreSQL server (scripts/postgres-up.sh; `POSTEL_PG_URL`):
//! migrations, add/list/show/remove, claims and leases, retries, bounces, lifetime,
//! the outbox `INSERT` of docs/queue-postgres.md, and several workers on one queue.
//! Without a server the tests print a loud SKIP, or fail when CI=true or
//! POSTEL_REQUIRE_SERVERS=1. Each test works in a schema of its own.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postel::queue::{Backoff, PgQueue, QueueError, Relay, Status, Storage, Worker, MIGRATIONS};
use postel::{Client, TlsMode};
use postel_sim::fault::Fault;
use postel_sim::{BlockingSimulator, Config};

const MESSAGE: &[u8] = b"From: a@client.test\r\nTo: b@mx.test\r\nSubject: queued\r\n\r\nHello.\r\n";

fn base_url() -> Option<String> {
    match std::env::var("POSTEL_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if common::servers_required() => panic!(
            "CI=true (or POSTEL_REQUIRE_SERVERS=1) but POSTEL_PG_URL is not set: \
             PostgreSQL did not start (scripts/postgres-up.sh)"
        ),
        _ => {
            eprintln!("SKIP: POSTEL_PG_URL is not set (bash scripts/postgres-up.sh; source target/postgres/env)");
            None
        }
    }
}

/// A fresh schema `name` and the URL that works in it.
fn schema(name: &str) -> Option<(String, postgres::Client)> {
    let base = base_url()?;
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("PostgreSQL answers");
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{name}");
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("SELECT 1").unwrap();
    Some((url, c))
}

fn fresh(name: &str) -> Option<(PgQueue, postgres::Client)> {
    let (url, c) = schema(name)?;
    Some((PgQueue::open(&url).expect("the queue opens"), c))
}

fn start() -> BlockingSimulator {
    BlockingSimulator::start(Config::builder().build()).expect("the simulator starts")
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

fn to(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn migrations_are_applied_once_whoever_opens_first() {
    let Some((url, mut c)) = schema("t_migrations") else {
        return;
    };
    // Four workers starting at once, then one more later: one history.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| PgQueue::open(&url).expect("opens"));
        }
    });
    let q = PgQueue::open(&url).unwrap();
    let last = MIGRATIONS.last().unwrap().version;
    assert_eq!(q.schema_version().unwrap(), last);
    let versions: Vec<i32> = c
        .query(
            "SELECT version FROM postel_schema_version ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=last).collect::<Vec<_>>());
    assert_eq!(
        MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>(),
        versions
    );
}

#[test]
fn added_messages_are_listed_shown_and_removed() {
    let Some((q, _c)) = fresh("t_basic") else {
        return;
    };
    let a = q
        .add_message("a@client.test", &to(&["b@mx.test", "c@mx.test"]), MESSAGE)
        .unwrap();
    let b = q.add_message("", &to(&["d@mx.test"]), b"x\r\n").unwrap();
    let list = q.list().unwrap();
    assert_eq!(
        list.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [&a, &b]
    );
    let r = q.show(&a).unwrap();
    assert_eq!(r.from, "a@client.test");
    assert_eq!(
        r.recipients
            .iter()
            .map(|r| (r.address.as_str(), r.status))
            .collect::<Vec<_>>(),
        [
            ("b@mx.test", Status::Pending),
            ("c@mx.test", Status::Pending)
        ]
    );
    assert_eq!(r.size, Some(MESSAGE.len() as u64));
    assert_eq!(q.message(&a).unwrap(), MESSAGE);
    q.remove(&a).unwrap();
    assert!(matches!(q.show(&a), Err(QueueError::NotFound(_))));
    assert!(matches!(q.remove(&a), Err(QueueError::NotFound(_))));
    assert!(matches!(q.show("../x"), Err(QueueError::Invalid(_))));
    // Bad input is refused before the database.
    assert!(matches!(
        q.add_message("a@x", &to(&["b@y\r\nRSET"]), MESSAGE),
        Err(QueueError::Invalid(_))
    ));
    assert!(matches!(
        q.add_message("a@x", &[], MESSAGE),
        Err(QueueError::Invalid(_))
    ));
    assert_eq!(q.list().unwrap().len(), 1);
}

#[test]
fn a_worker_delivers_the_exact_bytes_and_removes_the_row() {
    let Some((q, mut c)) = fresh("t_deliver") else {
        return;
    };
    let sim = start();
    q.add_message("a@client.test", &to(&["b@mx.test", "c@mx.test"]), MESSAGE)
        .unwrap();
    let s = Worker::new(q.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    assert_eq!((s.delivered, s.finished), (2, 1));
    let got = sim.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, MESSAGE);
    assert_eq!(got[0].recipients(), vec!["b@mx.test", "c@mx.test"]);
    let n: i64 = c
        .query_one("SELECT count(*) FROM postel_queue", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn a_partly_delivered_message_retries_only_the_rest_after_its_backoff() {
    let Some((q, _c)) = fresh("t_partial") else {
        return;
    };
    let sim = start();
    sim.set_faults(vec![Fault::refuse_recipient(
        "later@mx.test",
        450,
        "4.2.0 <later@mx.test>: mailbox busy",
    )]);
    let id = q
        .add_message(
            "a@client.test",
            &to(&["now@mx.test", "later@mx.test"]),
            MESSAGE,
        )
        .unwrap();
    let backoff = Backoff {
        initial: Duration::from_secs(600),
        ..Backoff::default()
    };
    let w = Worker::new(q.clone(), relay(sim.addr().port())).backoff(backoff);
    let s = w.run().unwrap();
    assert_eq!((s.delivered, s.deferred, s.finished), (1, 1, 0));
    let r = q.show(&id).unwrap();
    assert_eq!(r.recipients[0].status, Status::Delivered);
    assert_eq!(r.recipients[1].status, Status::Pending);
    assert_eq!(r.recipients[1].attempts, 1);
    assert!(r.recipients[1].last.as_deref().unwrap().starts_with("450"));
    assert_eq!(r.attempts, 1);
    let now = postel::queue::now_secs();
    assert!(
        r.next_try >= now + 590 && r.next_try <= now + 610,
        "{}",
        r.next_try
    );
    // Not due: a run does nothing; flush makes it due.
    assert_eq!(w.run().unwrap().messages, 0);
    assert_eq!(q.flush(None).unwrap(), 1);
    sim.set_faults(vec![]);
    let s = w.run().unwrap();
    assert_eq!((s.delivered, s.finished), (1, 1));
    let got = sim.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].recipients(), vec!["later@mx.test"]);
    // The second failure waits twice as long (exponential backoff).
    assert_eq!(backoff.delay(2), Duration::from_secs(1200));
}

#[test]
fn a_refused_recipient_is_bounced_and_an_undeliverable_bounce_is_held() {
    let Some((q, mut c)) = fresh("t_bounce") else {
        return;
    };
    let sim = start();
    sim.set_faults(vec![
        Fault::refuse_recipient(
            "nobody@mx.test",
            550,
            "5.1.1 <nobody@mx.test>: no such user",
        ),
        Fault::refuse_recipient("a@client.test", 550, "5.1.1 <a@client.test>: gone too"),
    ]);
    q.add_message("a@client.test", &to(&["nobody@mx.test"]), MESSAGE)
        .unwrap();
    let s = Worker::new(q.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    // The message failed, its bounce to a@client.test failed too: held, not bounced.
    assert_eq!(s.failed, 2);
    let list = q.list().unwrap();
    assert_eq!(list.len(), 1);
    let bounce = &list[0];
    assert_eq!(bounce.from, "");
    assert_eq!(bounce.recipients[0].address, "a@client.test");
    assert_eq!(bounce.recipients[0].status, Status::Failed);
    assert!(bounce
        .held
        .as_deref()
        .unwrap()
        .contains("undeliverable bounce"));
    let body = q.message(&bounce.id).unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("nobody@mx.test"), "{text}");
    assert!(text.contains("5.1.1"), "{text}");
    let logged: String = c
        .query_one(
            "SELECT line FROM postel_queue_log WHERE log = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(logged.contains(&bounce.id));
    let stats = q.stats().unwrap();
    assert_eq!((stats.messages, stats.held, stats.due), (1, 1, 0));
    // A run leaves it alone; flush of that id releases it for a new try.
    assert_eq!(
        Worker::new(q.clone(), relay(sim.addr().port()))
            .run()
            .unwrap()
            .messages,
        0
    );
    assert_eq!(q.flush(None).unwrap(), 0);
    assert_eq!(q.flush(Some(&bounce.id)).unwrap(), 1);
    sim.set_faults(vec![]);
    let s = Worker::new(q.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    assert_eq!((s.delivered, s.finished), (1, 1));
    assert!(q.list().unwrap().is_empty());
    let got = sim.messages();
    assert_eq!(got.last().unwrap().data, body);
}

#[test]
fn a_message_past_its_lifetime_is_given_up_and_returned() {
    let Some((q, _c)) = fresh("t_lifetime") else {
        return;
    };
    let sim = start();
    q.add_message("a@client.test", &to(&["b@mx.test"]), MESSAGE)
        .unwrap();
    let backoff = Backoff {
        lifetime: Duration::ZERO,
        ..Backoff::default()
    };
    let s = Worker::new(q.clone(), relay(sim.addr().port()))
        .backoff(backoff)
        .run_once()
        .unwrap();
    assert_eq!((s.failed, s.finished), (1, 1));
    // Nothing was sent; the bounce to the sender is queued.
    assert!(sim.messages().is_empty());
    let list = q.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].from, "");
    assert_eq!(list[0].recipients[0].address, "a@client.test");
    let dsn = String::from_utf8(q.message(&list[0].id).unwrap()).unwrap();
    assert!(dsn.contains("gave up after 0 attempts"), "{dsn}");
}

#[test]
fn a_claim_excludes_other_workers_until_released_or_its_lease_expires() {
    let Some((url, mut c)) = schema("t_lease") else {
        return;
    };
    let q = PgQueue::open(&url).unwrap();
    let id = q
        .add_message("a@client.test", &to(&["b@mx.test"]), MESSAGE)
        .unwrap();
    let a = PgQueue::open(&url)
        .unwrap()
        .lease(Duration::from_secs(8))
        .unwrap();
    let b = q.clone();
    let claimed = a
        .claim_next(&mut postel::queue::Pass::new())
        .unwrap()
        .expect("claimed");
    assert_eq!(claimed.record.id, id);
    // SKIP LOCKED and the lease: nobody else gets it.
    assert!(b
        .claim_next(&mut postel::queue::Pass::new())
        .unwrap()
        .is_none());
    assert!(matches!(b.remove(&id), Err(QueueError::Busy(_))));
    let owner: String = c
        .query_one("SELECT claimed_by FROM postel_queue WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert!(
        owner.contains(&format!(":{}:", std::process::id())),
        "{owner}"
    );
    assert_eq!(b.stats().unwrap().claimed, 1);
    // Released when dropped.
    drop(claimed);
    let again = b
        .claim_next(&mut postel::queue::Pass::new())
        .unwrap()
        .expect("free again");
    drop(again);
    // A worker that dies: its claim is never released, and nothing renews it.
    let claimed = a
        .claim_next(&mut postel::queue::Pass::new())
        .unwrap()
        .expect("claimed");
    std::mem::forget(claimed);
    drop(a);
    assert!(b
        .claim_next(&mut postel::queue::Pass::new())
        .unwrap()
        .is_none());
    let deadline = Instant::now() + Duration::from_secs(60);
    let taken = loop {
        if let Some(t) = b.claim_next(&mut postel::queue::Pass::new()).unwrap() {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "the dead worker's lease never expired"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(taken.record.id, id);
    // The old owner's lease is gone: were it alive, its writes would now be refused.
    c.execute(
        "UPDATE postel_queue SET claimed_by = 'someone-else' WHERE id = $1",
        &[&id],
    )
    .unwrap();
    assert!(matches!(b.write(&taken), Err(QueueError::LeaseLost(_))));
    assert!(matches!(b.finish(&taken), Err(QueueError::LeaseLost(_))));
    // Its content is not read for sending either (not a missing body to bounce).
    assert!(matches!(b.content(&taken), Err(QueueError::LeaseLost(_))));
    let logged: i64 = c
        .query_one(
            "SELECT count(*) FROM postel_queue_log WHERE log = 'lease'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(logged, 3);
}

#[test]
fn a_worker_that_died_mid_transaction_leaves_an_uncertain_attempt() {
    let Some((q, mut c)) = fresh("t_inflight") else {
        return;
    };
    let sim = start();
    let id = q
        .add_message("a@client.test", &to(&["b@mx.test"]), MESSAGE)
        .unwrap();
    // What a worker writes before its transaction, then it dies (the lease ran out).
    let state = serde_json::json!([{
        "address": "b@mx.test", "status": "in_flight", "attempts": 1, "uncertain": 0, "last": null
    }]);
    c.execute(
        "UPDATE postel_queue SET rcpt_state = $2, attempts = 1, claimed_by = 'dead', \
         lease_until = now() - interval '1 second' WHERE id = $1",
        &[&id, &state],
    )
    .unwrap();
    sim.set_faults(vec![Fault::refuse_recipient(
        "b@mx.test",
        451,
        "4.3.0 later",
    )]);
    let s = Worker::new(q.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    assert_eq!((s.messages, s.deferred), (1, 1));
    let r = q.show(&id).unwrap();
    assert_eq!(r.recipients[0].uncertain, 1);
    assert_eq!(r.recipients[0].attempts, 2);
    assert_eq!(r.recipients[0].status, Status::Pending);
    let stats = q.stats().unwrap();
    assert_eq!(
        (stats.uncertain, stats.attempts, stats.recipients.pending),
        (1, 2, 1)
    );
}

/// The outbox SQL of docs/queue-postgres.md (the block after `-- outbox: enqueue`).
fn outbox_sql() -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/queue-postgres.md"
    ))
    .expect("docs/queue-postgres.md");
    let start = doc.find("-- outbox: enqueue").expect("the outbox block");
    let rest = &doc[start..];
    let end = rest.find("```").expect("the end of the block");
    rest[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_outbox_insert_of_the_docs_is_sent_when_committed_and_only_then() {
    let Some((q, mut c)) = fresh("t_outbox") else {
        return;
    };
    let sim = start();
    c.batch_execute("CREATE TABLE orders (id serial PRIMARY KEY, item text)")
        .unwrap();
    let sql = outbox_sql();
    let rcpts = to(&["buyer@mx.test"]);
    // Rolled back with the order: nothing queued.
    let mut tx = c.transaction().unwrap();
    tx.execute("INSERT INTO orders (item) VALUES ('lost')", &[])
        .unwrap();
    tx.execute(sql.as_str(), &[&"shop@client.test", &rcpts, &MESSAGE])
        .unwrap();
    tx.rollback().unwrap();
    assert!(q.list().unwrap().is_empty());
    // Committed with the order: queued, then sent as it is.
    let mut tx = c.transaction().unwrap();
    tx.execute("INSERT INTO orders (item) VALUES ('kept')", &[])
        .unwrap();
    tx.execute(sql.as_str(), &[&"shop@client.test", &rcpts, &MESSAGE])
        .unwrap();
    tx.commit().unwrap();
    let list = q.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].from, "shop@client.test");
    assert_eq!(list[0].size, None);
    let s = Worker::new(q.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    assert_eq!((s.delivered, s.finished), (1, 1));
    let got = sim.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, MESSAGE);
    assert_eq!(got[0].recipients(), vec!["buyer@mx.test"]);
}

#[test]
fn a_row_with_a_forged_envelope_is_marked_corrupt_and_never_sent() {
    let Some((q, mut c)) = fresh("t_corrupt") else {
        return;
    };
    let sim = start();
    let forged = to(&["b@mx.test>\r\nRCPT TO:<victim@mx.test"]);
    let id: String = c
        .query_one(
            "INSERT INTO postel_queue (sender, recipients, body) VALUES ($1, $2, $3) RETURNING id",
            &[&"a@client.test", &forged, &MESSAGE],
        )
        .unwrap()
        .get(0);
    let good = q
        .add_message("a@client.test", &to(&["ok@mx.test"]), MESSAGE)
        .unwrap();
    let s = Worker::new(q.clone(), relay(sim.addr().port()))
        .run()
        .unwrap();
    assert_eq!(s.corrupt.len(), 1);
    assert_eq!(s.corrupt[0].id, id);
    assert!(
        s.corrupt[0].reason.contains("control character"),
        "{}",
        s.corrupt[0].reason
    );
    assert_eq!(s.delivered, 1);
    let got = sim.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients(), vec!["ok@mx.test"]);
    assert!(matches!(q.show(&id), Err(QueueError::Corrupt { .. })));
    assert!(matches!(q.show(&good), Err(QueueError::NotFound(_))));
    let marked: Option<String> = c
        .query_one("SELECT corrupt FROM postel_queue WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert!(marked.is_some());
}

#[test]
fn four_workers_send_each_of_300_messages_once() {
    let Some((q, _c)) = fresh("t_workers") else {
        return;
    };
    let sim = start();
    let mut ids = Vec::new();
    for i in 0..300 {
        let body = format!("Subject: {i}\r\n\r\nmessage {i}\r\n");
        ids.push(
            q.add_message("a@client.test", &to(&["b@mx.test"]), body.as_bytes())
                .unwrap(),
        );
    }
    let port = sim.addr().port();
    let total: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                s.spawn(move || Worker::new(q, relay(port)).run().unwrap().delivered)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(total, 300);
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    for m in sim.messages() {
        *seen.entry(m.data).or_default() += 1;
    }
    assert_eq!(seen.len(), 300);
    assert!(seen.values().all(|&n| n == 1), "a message was sent twice");
    assert!(q.list().unwrap().is_empty());
}
