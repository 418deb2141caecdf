//! The queue classifies failures as an MTA does: only a 5yz about the message or a
//! recipient is permanent; everything about the path is retried, and nothing the
//! server accepted is ever bounced.

use std::path::PathBuf;
use std::time::Duration;

use postel::queue::{Backoff, Queue, Record, Relay, Status, Worker};
use postel::{Client, ClientBuilder, TlsMode};
use postel_sim::fault::{Action, Fault, RcptMatch, Step as SimStep};
use postel_sim::{BlockingSimulator, Config};

const MESSAGE: &[u8] = b"From: a@client.test\r\nTo: b@mx.test\r\nSubject: queued\r\n\r\nHello.\r\n";

fn temp_queue(name: &str) -> (Queue, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("postel-queue-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (Queue::open(&dir).expect("the queue opens"), dir)
}

fn base(port: u16) -> ClientBuilder {
    Client::builder("127.0.0.1")
        .port(port)
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        .connect_timeout(Duration::from_secs(2))
}

/// Queues one message, runs one pass with `client`, and returns its record: it must
/// still be queued, with no bounce next to it and nothing delivered.
fn one_pass_defers(
    name: &str,
    sim: &BlockingSimulator,
    client: impl Fn() -> ClientBuilder,
) -> Record {
    let (queue, dir) = temp_queue(name);
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let s = Worker::new(queue.clone(), Relay::new(move || client().build()))
        .run_once()
        .unwrap();
    assert_eq!((s.failed, s.deferred), (0, 1), "{name}: {s:?}");
    let left = queue.list().unwrap();
    assert_eq!(left.len(), 1, "{name}: no bounce is queued: {left:?}");
    let rec = queue.show(&id).unwrap();
    assert_eq!(rec.recipients[0].status, Status::Pending, "{name}");
    assert!(
        rec.next_try > postel::queue::now_secs(),
        "{name}: retried later"
    );
    assert!(sim.messages().is_empty(), "{name}");
    let _ = std::fs::remove_dir_all(dir);
    rec
}

#[test]
fn tls_failures_at_the_relay_are_retried_not_bounced() {
    // The simulator's certificate is from its own CA: unknown to the platform's roots.
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let port = sim.addr().port();
    let rec = one_pass_defers("tls-issuer", &sim, move || {
        base(port).tls(TlsMode::StartTls)
    });
    assert!(rec.recipients[0].last.as_deref().unwrap().contains("TLS"));

    let plain = BlockingSimulator::start(
        Config::builder()
            .without(postel_sim::Extension::StartTls)
            .build(),
    )
    .unwrap();
    let port = plain.addr().port();
    let rec = one_pass_defers("tls-missing", &plain, move || {
        base(port).tls(TlsMode::StartTls)
    });
    assert!(
        rec.recipients[0]
            .last
            .as_deref()
            .unwrap()
            .contains("STARTTLS"),
        "{rec:?}"
    );
}

#[test]
fn a_refused_login_is_a_configuration_problem_retried_and_shown() {
    let sim = BlockingSimulator::start(
        Config::builder()
            .user("alice", "right")
            .require_tls_for_auth(false)
            .build(),
    )
    .unwrap();
    let port = sim.addr().port();
    let rec = one_pass_defers("auth", &sim, move || {
        base(port)
            .credentials("alice", "wrong")
            .dangerous_allow_plaintext_auth(true)
    });
    let last = rec.last_error.unwrap();
    assert!(last.contains(postel::queue::CONFIG_PROBLEM), "{last}");
    assert!(last.contains("535"), "{last}");

    // 454: the server's trouble, retried, not called a configuration problem.
    sim.set_faults(vec![Fault::new(
        SimStep::Auth,
        Action::Reply(454, "4.7.0 Temporary authentication failure".into()),
    )]);
    let rec = one_pass_defers("auth-454", &sim, move || {
        base(port)
            .credentials("alice", "right")
            .dangerous_allow_plaintext_auth(true)
    });
    let last = rec.last_error.unwrap();
    assert!(last.contains("454"), "{last}");
    assert!(!last.contains(postel::queue::CONFIG_PROBLEM), "{last}");

    // 530 to MAIL: no login at all where one is needed: the configuration too.
    sim.set_faults(vec![Fault::new(
        SimStep::Mail,
        Action::Reply(530, "5.7.0 Authentication required".into()),
    )]);
    let rec = one_pass_defers("mail-530", &sim, move || base(port));
    let last = rec.recipients[0].last.clone().unwrap();
    assert!(last.starts_with(postel::queue::CONFIG_PROBLEM), "{last}");
    assert!(last.contains("530"), "{last}");
}

#[test]
fn path_failures_are_transient_whatever_their_code() {
    let cases: Vec<(&str, Vec<Fault>)> = vec![
        (
            "greeting-554",
            vec![Fault::new(
                SimStep::Greeting,
                Action::Reply(554, "5.7.1 go away".into()),
            )],
        ),
        (
            "ehlo-helo-550",
            vec![
                Fault::new(SimStep::Ehlo, Action::Reply(550, "5.5.1 no".into())),
                Fault::new(SimStep::Helo, Action::Reply(550, "5.5.1 no".into())),
            ],
        ),
        (
            "closed-at-mail",
            vec![Fault::new(SimStep::Mail, Action::Close)],
        ),
        (
            "overlong-reply-to-mail",
            vec![Fault::new(
                SimStep::Mail,
                Action::Reply(550, "x".repeat(70_000)),
            )],
        ),
        (
            "closed-at-rcpt",
            vec![Fault::new(SimStep::Rcpt(RcptMatch::Any), Action::Close)],
        ),
        (
            "421-at-rcpt",
            vec![Fault::new(SimStep::Rcpt(RcptMatch::Any), Action::Reply421)],
        ),
    ];
    for (name, faults) in cases {
        let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
        sim.set_faults(faults);
        let port = sim.addr().port();
        let rec = one_pass_defers(name, &sim, move || base(port));
        assert_eq!(rec.recipients[0].uncertain, 0, "{name}: nothing was sent");
    }
}

#[test]
fn a_timeout_is_retried() {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    sim.set_faults(vec![Fault::new(
        SimStep::Mail,
        Action::Delay(Duration::from_secs(3)),
    )]);
    let port = sim.addr().port();
    one_pass_defers("timeout", &sim, move || {
        base(port).timeouts(postel::Timeouts {
            mail: Duration::from_millis(300),
            ..postel::Timeouts::RFC5321
        })
    });
}

#[test]
fn a_5yz_about_the_message_or_a_recipient_is_still_permanent() {
    for (name, fault) in [
        (
            "rcpt-550",
            Fault::new(
                SimStep::Rcpt(RcptMatch::Any),
                Action::Reply(550, "5.1.1 no such user".into()),
            ),
        ),
        (
            "mail-553",
            Fault::new(SimStep::Mail, Action::Reply(553, "5.1.8 bad sender".into())),
        ),
        (
            "dot-554",
            Fault::new(
                SimStep::DataEnd,
                Action::Reply(554, "5.6.0 content rejected".into()),
            ),
        ),
    ] {
        let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
        sim.set_faults(vec![fault.on_connection(1)]);
        let port = sim.addr().port();
        let (queue, dir) = temp_queue(name);
        queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
        let s = Worker::new(queue.clone(), Relay::new(move || base(port).build()))
            .backoff(Backoff {
                initial: Duration::ZERO,
                ..Backoff::default()
            })
            .run_once()
            .unwrap();
        assert_eq!(s.failed, 1, "{name}");
        let left = queue.list().unwrap();
        assert_eq!(left.len(), 1, "{name}: only the bounce is left");
        assert_eq!(left[0].from, "", "{name}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Given a message's id and record text: the record to write, and a message to write.
type Spoiler = dyn Fn(&str, String) -> (String, Option<Vec<u8>>);

#[test]
fn corrupt_records_are_reported_moved_aside_and_never_stop_the_run() {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let (queue, dir) = temp_queue("corrupt");
    let msg = dir.join("msg");
    let json = |id: &str| msg.join(format!("{id}.json"));
    let mut spoilt = Vec::new();
    let mut spoil = |how: &Spoiler| {
        let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
        let (text, eml) = how(&id, std::fs::read_to_string(json(&id)).unwrap());
        std::fs::write(json(&id), text).unwrap();
        if let Some(e) = eml {
            std::fs::write(msg.join(format!("{id}.eml")), e).unwrap();
        }
        spoilt.push(id);
    };
    spoil(&|_, _| ("not json at all".into(), None));
    spoil(&|_, j| (j[..j.len() / 2].to_owned(), None)); // truncated
    spoil(&|_, _| (String::new(), None)); // empty
    spoil(&|_, j| {
        (
            j.replace("b@mx.test", "b@mx.test>\r\nRCPT TO:<evil@x.test"),
            None,
        )
    });
    spoil(&|id, j| (j.replace(id, "0000000001-00000000-00000000"), None));
    spoil(&|_, j| {
        let start = j.find("\"recipients\"").unwrap();
        let end = j.find("\"queued_at\"").unwrap();
        (
            format!("{}\"recipients\": [],\n  {}", &j[..start], &j[end..]),
            None,
        )
    });
    spoil(&|_, j| (j, Some(MESSAGE[..20].to_vec()))); // the message cut short
    spoil(&|_, j| (j, Some(Vec::new()))); // the message emptied
    spoil(&|_, j| (j.replace("\"pending\"", "\"sent-maybe\""), None)); // no such status
    spoil(&|_, j| (j.replace("a@client.test", "a@client.test\\u0000"), None));
    // A record that is a directory, a message file that is a directory.
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    std::fs::remove_file(json(&id)).unwrap();
    std::fs::create_dir(json(&id)).unwrap();
    spoilt.push(id);
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    std::fs::remove_file(msg.join(format!("{id}.eml"))).unwrap();
    std::fs::create_dir(msg.join(format!("{id}.eml"))).unwrap();
    spoilt.push(id);
    // A file we never wrote, with a name that is not an id.
    std::fs::write(msg.join("not ours.json"), b"{}").unwrap();
    spoilt.push("not ours".to_owned());
    let good = queue
        .add("a@client.test", &["ok@mx.test"], MESSAGE)
        .unwrap();

    let port = sim.addr().port();
    let s = Worker::new(queue.clone(), Relay::new(move || base(port).build()))
        .run()
        .unwrap();
    assert_eq!((s.delivered, s.finished), (1, 1), "{s:?}");
    let mut reported: Vec<_> = s.corrupt.iter().map(|c| c.id.clone()).collect();
    reported.sort();
    let mut want = spoilt.clone();
    want.sort();
    assert_eq!(reported, want, "{:#?}", s.corrupt);
    for c in &s.corrupt {
        assert_eq!(c.moved_to.as_deref(), Some(dir.join("corrupt").as_path()));
        assert!(!json(&c.id).exists(), "{} moved out of msg/", c.id);
        let reason = std::fs::read_to_string(dir.join("corrupt").join(format!("{}.reason", c.id)));
        assert_eq!(reason.unwrap().trim_end(), c.reason);
    }
    let got = sim.messages();
    assert_eq!(got.len(), 1, "only the good message is sent");
    assert_eq!(got[0].recipients(), vec!["ok@mx.test"]);
    assert!(queue.show(&good).is_err());
    // Reported once: nothing is left to report.
    assert!(queue.check().unwrap().1.is_empty());
    assert!(queue.list().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_empty_message_is_refused_at_add() {
    let (queue, dir) = temp_queue("empty");
    assert!(matches!(
        queue.add("a@client.test", &["b@mx.test"], b""),
        Err(postel::queue::QueueError::Invalid(_))
    ));
    assert!(queue.ids().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn too_many_recipients_go_in_the_next_transaction_at_once_without_the_accepted_ones() {
    let sim = BlockingSimulator::start(Config::builder().max_recipients(3).build()).unwrap();
    let (queue, dir) = temp_queue("452");
    let to: Vec<String> = (0..8).map(|i| format!("r{i}@mx.test")).collect();
    let id = queue.add("a@client.test", &to, MESSAGE).unwrap();
    let port = sim.addr().port();
    // The default backoff (30 minutes): the whole message goes in this one run.
    let s = Worker::new(queue.clone(), Relay::new(move || base(port).build()))
        .run_once()
        .unwrap();
    assert_eq!(
        (s.delivered, s.deferred, s.failed, s.finished),
        (8, 0, 0, 1),
        "{s:?}"
    );
    let got: Vec<Vec<String>> = sim
        .messages()
        .iter()
        .map(|m| m.recipients().iter().map(|r| r.to_string()).collect())
        .collect();
    assert_eq!(
        got,
        vec![to[0..3].to_vec(), to[3..6].to_vec(), to[6..8].to_vec()],
        "each recipient once, in order"
    );
    assert!(queue.show(&id).is_err(), "finished");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_552_too_many_recipients_is_temporary() {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    sim.set_faults(vec![Fault::new(
        SimStep::Rcpt(RcptMatch::Nth(2)),
        Action::Reply(552, "5.5.3 Too many recipients".into()),
    )
    .on_connection(1)]);
    let (queue, dir) = temp_queue("552");
    queue
        .add("a@client.test", &["x@mx.test", "y@mx.test"], MESSAGE)
        .unwrap();
    let port = sim.addr().port();
    let s = Worker::new(queue.clone(), Relay::new(move || base(port).build()))
        .run_once()
        .unwrap();
    assert_eq!((s.delivered, s.failed, s.finished), (2, 0, 1), "{s:?}");
    let got = sim.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].recipients(), vec!["y@mx.test"]);
    let _ = std::fs::remove_dir_all(dir);
}

/// A fault to switch on or off.
type Hook = std::sync::Arc<dyn Fn() + Send + Sync>;

/// Wraps a relay: once the server has answered, before the outcome is recorded, the
/// queue's disk "fills up" (`fill`), and a thread "frees" it again after `free_after`.
struct FullDiskAfterReply<R> {
    inner: R,
    fill: Hook,
    free: std::sync::Arc<dyn Fn() + Send + Sync>,
    free_after: Option<Duration>,
}

impl<R: postel::queue::Deliver> postel::queue::Deliver for FullDiskAfterReply<R> {
    fn deliver(
        &self,
        from: &str,
        to: &[String],
        message: &[u8],
        report: &mut postel::queue::OutcomeSink<'_>,
    ) {
        self.inner.deliver(from, to, message, &mut |outcomes| {
            (self.fill)();
            if let Some(after) = self.free_after {
                let free = self.free.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(after);
                    free();
                });
            }
            report(outcomes);
        });
    }
}

/// The queue's `tmp/` replaced by a file: every durable write fails (ENOTDIR), while
/// removals still work, as on a full disk.
fn break_writes(dir: &std::path::Path) {
    std::fs::rename(dir.join("tmp"), dir.join("tmp.away")).unwrap();
    std::fs::write(dir.join("tmp"), b"").unwrap();
}

fn mend_writes(dir: &std::path::Path) {
    let _ = std::fs::remove_file(dir.join("tmp"));
    let _ = std::fs::rename(dir.join("tmp.away"), dir.join("tmp"));
}

/// After the server's 250 the outcome cannot be written: a delivered message is still
/// finished (removing files needs no space), a partly delivered one is kept in memory
/// until the write succeeds; either way no recipient is sent the message twice.
fn writes_fail_after_the_reply(
    name: &str,
    dir: PathBuf,
    fill: Hook,
    free: std::sync::Arc<dyn Fn() + Send + Sync>,
) {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let queue = Queue::open(&dir).unwrap();
    let port = sim.addr().port();
    let relay = || Relay::new(move || base(port).build());

    // 1. Delivered to all: finished although nothing can be written.
    queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let worker = Worker::new(
        queue.clone(),
        FullDiskAfterReply {
            inner: relay(),
            fill: fill.clone(),
            free: free.clone(),
            free_after: None,
        },
    );
    let s = worker.run().unwrap();
    free();
    assert_eq!((s.delivered, s.finished), (1, 1), "{name}: {s:?}");
    assert!(queue.list().unwrap().is_empty(), "{name}");
    assert_eq!(sim.messages().len(), 1, "{name}");

    // 2. Partly delivered: the record is written once the disk has room again.
    sim.set_faults(vec![Fault::refuse_recipient(
        "later@mx.test",
        450,
        "4.2.0 busy",
    )
    .on_connection(2)]);
    let id = queue
        .add("a@client.test", &["now@mx.test", "later@mx.test"], MESSAGE)
        .unwrap();
    let s = Worker::new(
        queue.clone(),
        FullDiskAfterReply {
            inner: relay(),
            fill,
            free: free.clone(),
            free_after: Some(Duration::from_millis(400)),
        },
    )
    .run()
    .unwrap();
    assert_eq!((s.delivered, s.deferred), (1, 1), "{name}: {s:?}");
    let rec = queue.show(&id).unwrap();
    assert_eq!(rec.recipients[0].status, Status::Delivered, "{name}");
    assert_eq!(rec.recipients[1].status, Status::Pending, "{name}");
    queue.flush(None).unwrap();
    Worker::new(queue.clone(), relay()).run().unwrap();
    let got = sim.messages();
    assert_eq!(got.len(), 3, "{name}");
    assert_eq!(
        got[1].recipients(),
        vec!["now@mx.test"],
        "{name}: later@ was refused"
    );
    assert_eq!(
        got[2].recipients(),
        vec!["later@mx.test"],
        "{name}: not now@ again"
    );
    assert!(queue.list().unwrap().is_empty());
}

#[test]
fn a_write_that_fails_after_the_servers_250_never_sends_the_message_again() {
    let (_, dir) = temp_queue("nowrite");
    let (d1, d2) = (dir.clone(), dir.clone());
    writes_fail_after_the_reply(
        "ENOTDIR",
        dir.clone(),
        std::sync::Arc::new(move || break_writes(&d1)),
        std::sync::Arc::new(move || mend_writes(&d2)),
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The same on a real full disk: a 512 KiB tmpfs under the target directory, filled
/// by a file. Needs root (mount); skipped with a notice otherwise.
#[test]
fn a_full_disk_after_the_servers_250_never_sends_the_message_again() {
    let mnt =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tinyfs-{}", std::process::id()));
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs (not root?)");
        let _ = std::fs::remove_dir(&mnt);
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _guard = Unmount(mnt.clone());
    let dir = mnt.join("queue");
    let filler = mnt.join("filler");
    let f1 = filler.clone();
    let fill: Hook = std::sync::Arc::new(move || {
        use std::io::Write;
        let mut f = std::fs::File::create(&f1).unwrap();
        let block = [0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    });
    let free = std::sync::Arc::new(move || {
        let _ = std::fs::remove_file(&filler);
    });
    writes_fail_after_the_reply("ENOSPC", dir, fill, free);
}

/// A one-connection-at-a-time SMTP server that answers the final dot with `dot_reply`
/// (raw bytes) and counts the messages it got (each one taken: its reply began 250).
fn scripted_server(
    dot_reply: &'static [u8],
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(AtomicUsize::new(0));
    let count = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut w = conn.try_clone().unwrap();
            let mut r = BufReader::new(conn);
            let _ = w.write_all(b"220 scripted ESMTP\r\n");
            let mut line = String::new();
            let mut in_data = false;
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let reply: &[u8] = if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        count.fetch_add(1, Ordering::SeqCst);
                        dot_reply
                    } else {
                        continue;
                    }
                } else {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    match verb.as_str() {
                        "EHLO" => b"250 scripted\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n");
                            break;
                        }
                        _ => b"250 2.0.0 ok\r\n",
                    }
                };
                if w.write_all(reply).is_err() {
                    break;
                }
            }
        }
    });
    (port, got)
}

#[test]
fn a_garbled_or_overlong_250_to_the_final_dot_is_delivered_with_the_doubt_recorded() {
    let long: &'static [u8] = Box::leak(
        [b"250 2.0.0 ".as_slice(), &[b'x'; 70_000], b"\r\n"]
            .concat()
            .into_boxed_slice(),
    );
    for (name, dot) in [
        ("garbled", &b"250queued as 1234\r\n"[..]),
        ("code-changed", b"250-2.0.0 ok\r\n251 queued\r\n"),
        ("overlong", long),
    ] {
        let (port, got) = scripted_server(dot);
        let (queue, dir) = temp_queue(name);
        let id = queue
            .add("a@client.test", &["b@mx.test", "c@mx.test"], MESSAGE)
            .unwrap();
        let worker =
            Worker::new(queue.clone(), Relay::new(move || base(port).build())).backoff(Backoff {
                initial: Duration::ZERO,
                lifetime: Duration::from_secs(3600),
                ..Backoff::default()
            });
        let s = worker.run().unwrap();
        assert_eq!(
            (s.delivered, s.failed, s.finished),
            (2, 0, 1),
            "{name}: {s:?}"
        );
        assert_eq!(
            got.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "{name}: sent once"
        );
        assert!(queue.list().unwrap().is_empty(), "{name}: no bounce");
        let log = std::fs::read_to_string(dir.join("uncertain.log")).unwrap();
        assert!(log.contains(&id), "{name}: {log}");
        assert!(log.contains("to <c@mx.test>"), "{name}: {log}");
        assert!(
            log.contains(postel::queue::GARBLED_ACCEPTANCE),
            "{name}: {log}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_garbled_reply_to_the_final_dot_without_250_is_retried_as_uncertain() {
    let (port, got) = scripted_server(b"5x0 what\r\n");
    let (queue, dir) = temp_queue("garbled-other");
    let id = queue.add("a@client.test", &["b@mx.test"], MESSAGE).unwrap();
    let s = Worker::new(queue.clone(), Relay::new(move || base(port).build()))
        .run_once()
        .unwrap();
    assert_eq!((s.delivered, s.deferred, s.failed), (0, 1, 0), "{s:?}");
    assert_eq!(got.load(std::sync::atomic::Ordering::SeqCst), 1);
    let rec = queue.show(&id).unwrap();
    assert_eq!(rec.recipients[0].status, Status::Pending);
    assert_eq!(rec.recipients[0].uncertain, 1);
    let _ = std::fs::remove_dir_all(dir);
}

/// A CA (PEM) and a leaf for 127.0.0.1 it signed, valid only in 2020 (chain PEM, key PEM).
fn expired_identity() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(2020, 12, 31);
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

#[test]
fn an_expired_or_misnamed_certificate_at_the_relay_is_retried_not_bounced() {
    let (ca, chain, key) = expired_identity();
    let sim = BlockingSimulator::start(
        Config::builder()
            .tls_identity(postel_sim::TlsIdentity::Pem {
                cert_chain: chain,
                key,
            })
            .build(),
    )
    .unwrap();
    let port = sim.addr().port();
    let rec = one_pass_defers("tls-expired", &sim, move || {
        base(port).tls(TlsMode::StartTls).ca_pem(ca.clone())
    });
    let last = rec.recipients[0].last.clone().unwrap();
    assert!(last.to_lowercase().contains("expired"), "{last}");

    let dir = std::env::temp_dir().join(format!("postel-queue-faults-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    let sim = BlockingSimulator::start(Config::builder().write_ca_to(&ca_file).build()).unwrap();
    let port = sim.addr().port();
    let file = ca_file.clone();
    let rec = one_pass_defers("tls-name", &sim, move || {
        base(port)
            .tls(TlsMode::StartTls)
            .ca_file(file.clone())
            .tls_name("not-the-relay.test")
    });
    let last = rec.recipients[0].last.clone().unwrap();
    assert!(last.contains("not valid for not-the-relay.test"), "{last}");
    let _ = std::fs::remove_dir_all(dir);
}
