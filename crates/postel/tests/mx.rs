//! MX delivery against a DNS server on loopback (an in-process responder built on
//! hickory-proto, the resolver's own wire format) and simulators on 127.0.0.2, 127.0.0.3…
//! all on one port, standing in for port 25.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use postel::mx::{Direct, MxError, Resolver, Route};
use postel::queue::{Outcome, Queue, Status, Worker};
use postel::Roots;
use postel_sim::{BlockingSimulator, Config, Extension};

/// The test zone: (name, type) → answers; a name absent altogether is NXDOMAIN.
struct Zone(HashMap<(String, RecordType), Vec<RData>>);

impl Zone {
    fn new() -> Zone {
        Zone(HashMap::new())
    }
    fn mx(mut self, domain: &str, pref: u16, host: &str) -> Zone {
        let name = Name::from_ascii(format!("{host}.").replace("..", ".")).unwrap();
        self.0
            .entry((domain.to_owned(), RecordType::MX))
            .or_default()
            .push(RData::MX(MX::new(pref, name)));
        self
    }
    fn a(mut self, host: &str, ip: [u8; 4]) -> Zone {
        self.0
            .entry((host.to_owned(), RecordType::A))
            .or_default()
            .push(RData::A(A(Ipv4Addr::from(ip))));
        self
    }
    fn exists(&self, name: &str) -> bool {
        self.0.keys().any(|(n, _)| n == name)
    }
}

/// A UDP DNS server on 127.0.0.1, answering from `zone`, until dropped.
struct Dns {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn dns(zone: Zone) -> Dns {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while !stop2.load(Ordering::SeqCst) {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::new();
            r.set_id(q.id())
                .set_message_type(MessageType::Response)
                .set_op_code(q.op_code())
                .set_recursion_desired(q.recursion_desired())
                .set_recursion_available(true)
                .set_authoritative(true);
            for query in q.queries() {
                r.add_query(query.clone());
                let name = query
                    .name()
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                if !zone.exists(&name) {
                    r.set_response_code(ResponseCode::NXDomain);
                    continue;
                }
                for rdata in zone
                    .0
                    .get(&(name.clone(), query.query_type()))
                    .into_iter()
                    .flatten()
                {
                    r.add_answer(Record::from_rdata(query.name().clone(), 60, rdata.clone()));
                }
            }
            if let Ok(bytes) = r.to_vec() {
                let _ = sock.send_to(&bytes, peer);
            }
        }
    });
    Dns { addr, stop }
}

/// A port free on 127.0.0.2 (and, almost surely, on the other loopback addresses).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sim_at(ip: [u8; 4], port: u16, hostname: &str, starttls: bool) -> BlockingSimulator {
    let mut c = Config::builder()
        .bind(IpAddr::V4(Ipv4Addr::from(ip)))
        .port(port)
        .hostname(hostname);
    if !starttls {
        c = c.without(Extension::StartTls);
    }
    BlockingSimulator::start(c.build()).expect("the simulator starts on its loopback address")
}

/// The zone of every test: two MX with the first down, implicit MX, null MX, equal
/// preferences, an IDN domain, and a domain whose only MX has no address.
fn zone() -> Zone {
    Zone::new()
        .mx("two.test", 10, "down.two.test")
        .mx("two.test", 20, "up.two.test")
        .a("down.two.test", [127, 0, 0, 9])
        .a("up.two.test", [127, 0, 0, 2])
        .a("implicit.test", [127, 0, 0, 3])
        .mx("null.test", 0, ".")
        .mx("equal.test", 10, "e1.equal.test")
        .mx("equal.test", 10, "e2.equal.test")
        .a("e1.equal.test", [127, 0, 0, 4])
        .a("e2.equal.test", [127, 0, 0, 5])
        .mx("xn--bcher-kva.test", 10, "mx.xn--bcher-kva.test")
        .a("mx.xn--bcher-kva.test", [127, 0, 0, 6])
        .mx("noaddr.test", 10, "ghost.noaddr.test")
        .a("ghost-sibling.noaddr.test", [127, 0, 0, 7])
}

const MESSAGE: &[u8] = b"From: a@client.test\r\nSubject: direct\r\n\r\nHello.\r\n";

fn direct(dns: &Dns, port: u16) -> Direct {
    Direct::new(Resolver::with_server(dns.addr).unwrap())
        .port(port)
        .ehlo_name("client.test")
        .connect_timeout(Duration::from_secs(2))
}

#[test]
fn routes_follow_rfc5321_and_rfc7505() {
    let dns = dns(zone());
    let r = Resolver::with_server(dns.addr).unwrap();
    let Route::Mx(hosts) = r.route("two.test").unwrap() else {
        panic!("two.test has MX records")
    };
    let names: Vec<_> = hosts
        .iter()
        .map(|h| (h.host.as_str(), h.preference))
        .collect();
    assert_eq!(names, vec![("down.two.test", 10), ("up.two.test", 20)]);
    assert_eq!(
        r.route("implicit.test").unwrap(),
        Route::Implicit("implicit.test".to_owned())
    );
    assert!(matches!(r.route("null.test"), Err(MxError::NullMx(d)) if d == "null.test"));
    assert!(!r.route("null.test").unwrap_err().is_transient());
    assert!(matches!(
        r.route("nowhere.test"),
        Err(MxError::NoSuchDomain { .. })
    ));
    let Route::Mx(h) = r.route("Bücher.test").unwrap() else {
        panic!("the IDN domain has an MX")
    };
    assert_eq!(h[0].host, "mx.xn--bcher-kva.test");
    assert_eq!(
        r.route("[127.0.0.8]").unwrap(),
        Route::Literal(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 8)))
    );
    assert_eq!(
        r.addresses("up.two.test").unwrap(),
        vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))]
    );
}

#[test]
fn equal_preferences_are_tried_in_random_order() {
    let dns = dns(zone());
    let r = Resolver::with_server(dns.addr).unwrap();
    let mut firsts = HashMap::new();
    for _ in 0..40 {
        let Route::Mx(h) = r.route("equal.test").unwrap() else {
            panic!("MX expected")
        };
        assert_eq!(h.len(), 2);
        *firsts.entry(h[0].host.clone()).or_insert(0) += 1;
    }
    assert_eq!(
        firsts.len(),
        2,
        "both hosts come first sometimes: {firsts:?}"
    );
}

#[test]
fn delivers_to_each_domain_by_its_mx_over_several_simulators() {
    let dns = dns(zone());
    let port = free_port();
    let up = sim_at([127, 0, 0, 2], port, "up.two.test", false);
    let implicit = sim_at([127, 0, 0, 3], port, "implicit.test", false);
    let e1 = sim_at([127, 0, 0, 4], port, "e1.equal.test", false);
    let e2 = sim_at([127, 0, 0, 5], port, "e2.equal.test", false);
    let idn = sim_at([127, 0, 0, 6], port, "mx.xn--bcher-kva.test", false);
    let d = direct(&dns, port);

    let out = d.send(
        "a@client.test",
        &[
            "b@two.test",
            "c@implicit.test",
            "d@null.test",
            "e@bücher.test",
            "f@equal.test",
            "g@nowhere.test",
            "h@two.test",
        ],
        MESSAGE,
    );
    let kinds: Vec<_> = out
        .iter()
        .map(|(a, o)| {
            let k = match o {
                Outcome::Delivered(_) => "delivered",
                Outcome::Permanent(_) => "permanent",
                Outcome::Transient { .. } => "transient",
            };
            (a.as_str(), k)
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("b@two.test", "delivered"),
            ("c@implicit.test", "delivered"),
            ("d@null.test", "permanent"),
            ("e@bücher.test", "delivered"),
            ("f@equal.test", "delivered"),
            ("g@nowhere.test", "permanent"),
            ("h@two.test", "delivered"),
        ]
    );
    // One transaction per domain, at the right simulator; the first MX of two.test was
    // down (127.0.0.9 refuses), so the second got it.
    let got = up.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients(), vec!["b@two.test", "h@two.test"]);
    assert_eq!(implicit.messages()[0].recipients(), vec!["c@implicit.test"]);
    // IDN: the domain went out as A-labels (no SMTPUTF8 needed).
    let idn_got = idn.messages();
    assert_eq!(idn_got[0].recipients(), vec!["e@xn--bcher-kva.test"]);
    assert_eq!(idn_got[0].mail_param("SMTPUTF8"), None);
    assert_eq!(e1.messages().len() + e2.messages().len(), 1);
    let Outcome::Permanent(why) = &out[2].1 else {
        unreachable!()
    };
    assert!(why.contains("null MX"), "{why}");
}

#[test]
fn a_4yz_from_the_first_mx_moves_to_the_next() {
    let dns = dns(Zone::new()
        .mx("busy.test", 10, "first.busy.test")
        .mx("busy.test", 20, "second.busy.test")
        .a("first.busy.test", [127, 0, 0, 10])
        .a("second.busy.test", [127, 0, 0, 11]));
    let port = free_port();
    let first = sim_at([127, 0, 0, 10], port, "first.busy.test", false);
    first.set_faults(vec![postel_sim::fault::Fault::new(
        postel_sim::fault::Step::Mail,
        postel_sim::fault::Action::Reply(451, "4.3.2 try another".to_owned()),
    )]);
    let second = sim_at([127, 0, 0, 11], port, "second.busy.test", false);
    let out = direct(&dns, port).send("a@client.test", &["x@busy.test"], MESSAGE);
    assert!(matches!(out[0].1, Outcome::Delivered(_)), "{out:?}");
    assert_eq!(first.messages().len(), 0);
    assert_eq!(second.messages().len(), 1);
}

#[test]
fn equal_preference_deliveries_spread_over_both_hosts() {
    let dns = dns(zone());
    let port = free_port();
    let e1 = sim_at([127, 0, 0, 4], port, "e1.equal.test", false);
    let e2 = sim_at([127, 0, 0, 5], port, "e2.equal.test", false);
    let d = direct(&dns, port);
    for _ in 0..16 {
        let out = d.send("a@client.test", &["f@equal.test"], MESSAGE);
        assert!(matches!(out[0].1, Outcome::Delivered(_)), "{out:?}");
    }
    let (n1, n2) = (e1.messages().len(), e2.messages().len());
    assert_eq!(n1 + n2, 16);
    assert!(n1 > 0 && n2 > 0, "e1 {n1}, e2 {n2}");
}

#[test]
fn opportunistic_starttls_is_used_when_offered_and_required_tls_skips_plain_hosts() {
    let dns = dns(zone());
    let port = free_port();
    let up = sim_at([127, 0, 0, 2], port, "up.two.test", true);
    let plain = sim_at([127, 0, 0, 3], port, "implicit.test", false);
    let ca = up.ca_pem().expect("the simulator has a CA").into_bytes();
    let d = direct(&dns, port).roots(Roots::CaPem(ca.clone()));
    let out = d.send("a@client.test", &["b@two.test", "c@implicit.test"], MESSAGE);
    assert!(
        out.iter().all(|(_, o)| matches!(o, Outcome::Delivered(_))),
        "{out:?}"
    );
    assert!(up.messages()[0].tls, "STARTTLS was offered, so used");
    assert!(!plain.messages()[0].tls, "no STARTTLS offered: plaintext");

    let strict = direct(&dns, port).roots(Roots::CaPem(ca)).require_tls(true);
    let out = strict.send("a@client.test", &["b@two.test", "c@implicit.test"], MESSAGE);
    assert!(matches!(out[0].1, Outcome::Delivered(_)), "{out:?}");
    assert!(matches!(out[1].1, Outcome::Transient { .. }), "{out:?}");
    assert_eq!(plain.messages().len(), 1, "nothing more sent in plaintext");

    // A certificate the client cannot verify: opportunistic TLS falls back to plaintext.
    let untrusted = direct(&dns, port);
    let out = untrusted.send("a@client.test", &["b@two.test"], MESSAGE);
    assert!(matches!(out[0].1, Outcome::Delivered(_)), "{out:?}");
    let last = up.messages().pop().unwrap();
    assert!(
        !last.tls,
        "delivered in plaintext after the failed handshake"
    );
}

#[test]
fn a_queue_worker_delivers_directly_and_bounces_the_null_mx_recipient() {
    let dns = dns(zone().mx("client.test", 10, "up.two.test"));
    let port = free_port();
    let up = sim_at([127, 0, 0, 2], port, "up.two.test", false);
    let implicit = sim_at([127, 0, 0, 3], port, "implicit.test", false);
    let dir = std::env::temp_dir().join(format!("postel-mx-queue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let queue = Queue::open(&dir).unwrap();
    let id = queue
        .add(
            "a@client.test",
            &["b@two.test", "c@implicit.test", "d@null.test"],
            MESSAGE,
        )
        .unwrap();
    let worker = Worker::new(queue.clone(), direct(&dns, port));
    let s = worker.run().unwrap();
    assert_eq!(
        (s.delivered, s.failed),
        (3, 1),
        "2 + the bounce delivered; null MX failed"
    );
    assert!(matches!(
        queue.show(&id),
        Err(postel::queue::QueueError::NotFound(_))
    ));
    assert_eq!(implicit.messages().len(), 1);
    let got = up.messages();
    assert_eq!(
        got.len(),
        2,
        "the message, then the bounce to client.test's MX"
    );
    assert_eq!(got[1].mail_from, "");
    assert!(String::from_utf8_lossy(&got[1].data).contains("d@null.test"));
    let _ = Status::Delivered;
    let _ = std::fs::remove_dir_all(dir);
}

/// Simulators on 127.0.0.`first`.. that all answer MAIL with 451 (so each sends the
/// client on to the next), after `greeting_delay`.
fn busy_sims(
    first: u8,
    n: u8,
    port: u16,
    greeting_delay: Option<Duration>,
) -> Vec<BlockingSimulator> {
    use postel_sim::fault::{Action, Fault, Step};
    (0..n)
        .map(|i| {
            let sim = sim_at([127, 0, 0, first + i], port, "busy.test", false);
            let mut faults = vec![Fault::new(
                Step::Mail,
                Action::Reply(451, "4.3.2 try another".to_owned()),
            )];
            if let Some(d) = greeting_delay {
                faults.push(Fault::new(Step::Greeting, Action::Delay(d)));
            }
            sim.set_faults(faults);
            sim
        })
        .collect()
}

fn connections(sims: &[BlockingSimulator]) -> u64 {
    sims.iter().map(BlockingSimulator::connections).sum()
}

#[test]
fn mx_fan_out_is_bounded_per_domain_and_attempt() {
    // Eight MX hosts, and a host with eight addresses: at most five tried by default.
    let mut zone = Zone::new();
    for i in 0..8u8 {
        let host = format!("mx{i}.many.test");
        zone = zone
            .mx("many.test", 10 + u16::from(i), &host)
            .a(&host, [127, 0, 0, 30 + i]);
        zone = zone.a("wide.wide.test", [127, 0, 0, 40 + i]);
    }
    let zone = zone.mx("wide.test", 10, "wide.wide.test");
    let dns = dns(zone);
    let port = free_port();
    let many = busy_sims(30, 8, port, None);
    let wide = busy_sims(40, 8, port, None);
    let out = direct(&dns, port).send("a@client.test", &["x@many.test"], MESSAGE);
    assert_eq!(connections(&many), 5, "{out:?}");
    match &out[0].1 {
        Outcome::Transient { reason, uncertain } => {
            assert!(!uncertain);
            assert!(reason.contains("4.3.2 try another"), "{reason}");
            assert!(reason.contains("at most 5 per attempt"), "{reason}");
        }
        o => panic!("{o:?}"),
    }
    // The limit is the host list's too: MX 10..14 tried, 15..17 never.
    for (i, sim) in many.iter().enumerate() {
        assert_eq!(sim.connections(), u64::from(i < 5), "mx{i}");
    }
    let out = direct(&dns, port).send("a@client.test", &["x@wide.test"], MESSAGE);
    assert_eq!(connections(&wide), 5, "{out:?}");
    // Configurable; and per domain: each of two domains gets its own two.
    let out = direct(&dns, port).max_addresses(2).send(
        "a@client.test",
        &["x@many.test", "y@wide.test"],
        MESSAGE,
    );
    assert_eq!(connections(&many), 5 + 2, "{out:?}");
    assert_eq!(connections(&wide), 5 + 2, "{out:?}");
    assert!(
        out.iter()
            .all(|(_, o)| matches!(o, Outcome::Transient { .. })),
        "{out:?}"
    );
}

#[test]
fn one_deadline_covers_every_host_of_the_message() {
    let mut zone = Zone::new();
    for i in 0..4u8 {
        let host = format!("mx{i}.slow.test");
        zone = zone
            .mx("slow.test", 10 + u16::from(i), &host)
            .a(&host, [127, 0, 0, 50 + i]);
    }
    let zone = zone.mx("tail.test", 10, "mx0.slow.test");
    let dns = dns(zone);
    let port = free_port();
    // Each host takes 1 s to greet, then defers: with 1.5 s for the message, the second
    // connection starts (at about 1 s) and no third one (at about 2 s), and the second
    // domain (tail.test, after slow.test: domains go in name order) is not tried at all.
    let slow = busy_sims(50, 4, port, Some(Duration::from_secs(1)));
    let started = std::time::Instant::now();
    let out = direct(&dns, port)
        .message_deadline(Duration::from_millis(1500))
        .send("a@client.test", &["x@slow.test", "y@tail.test"], MESSAGE);
    assert_eq!(connections(&slow), 2, "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    match &out[1].1 {
        Outcome::Transient { reason, .. } => assert!(reason.contains("deadline"), "{reason}"),
        o => panic!("{o:?}"),
    }
    assert!(matches!(out[0].1, Outcome::Transient { .. }), "{out:?}");
}

#[test]
fn a_tarpit_greeting_is_given_up_at_the_message_deadline() {
    let dns = dns(Zone::new()
        .mx("tarpit.test", 10, "mx.tarpit.test")
        .a("mx.tarpit.test", [127, 0, 0, 58]));
    let port = free_port();
    let slow = busy_sims(58, 1, port, Some(Duration::from_secs(5)));
    let started = std::time::Instant::now();
    let out = direct(&dns, port)
        .message_deadline(Duration::from_millis(800))
        .send("a@client.test", &["x@tarpit.test"], MESSAGE);
    let took = started.elapsed();
    assert_eq!(connections(&slow), 1, "{out:?}");
    assert!(
        took < Duration::from_secs(3),
        "waited {took:?} for the greeting: {out:?}"
    );
    assert!(
        matches!(
            &out[0].1,
            Outcome::Transient {
                uncertain: false,
                ..
            }
        ),
        "{out:?}"
    );
}
