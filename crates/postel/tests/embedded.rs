//! The core's embedded-io driver loops, as `postel::embedded` re-exports them, over real
//! loopback sockets to the simulator: blocking (plain and STARTTLS through rustls) and async
//! (tokio's `TcpStream` behind `embedded-io-async`).

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use embedded_io_adapters::std::FromStd;
use embedded_io_adapters::tokio_1::FromTokio;
use postel::embedded::{asynch, blocking, Deadline, DriveError, StdClock, Stop, TokioClock};
use postel::proto::{Client, Config, Envelope, Event, Recipient, TlsMode};
use postel_sim::{BlockingSimulator, Transfer};

const WAIT: Duration = Duration::from_secs(5);

fn connect(sim: &BlockingSimulator) -> TcpStream {
    let s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn event_line(e: &Event<'_>) -> Option<String> {
    match e {
        Event::RecipientAccepted { rcpt, reply, .. } => {
            Some(format!("accepted {} {}", rcpt.0, reply.code().get()))
        }
        Event::RecipientRefused { rcpt, reply, .. } => {
            Some(format!("refused {} {}", rcpt.0, reply.code().get()))
        }
        Event::MessageAccepted { reply, .. } => Some(format!("message {}", reply.code().get())),
        _ => None,
    }
}

const MESSAGE: &[u8] = b"From: a@client.test\r\nTo: b@mx.test\r\nSubject: embedded\r\n\r\n\
.leading dot\nbare LF\rbare CR\r\nend";
const DELIVERED: &[u8] = b"From: a@client.test\r\nTo: b@mx.test\r\nSubject: embedded\r\n\r\n\
.leading dot\r\nbare LF\r\nbare CR\r\nend\r\n";

#[test]
fn blocking_loop_over_a_socket_delivers_with_a_refused_recipient() {
    let deadline = Deadline::new(StdClock::new());
    let sim = BlockingSimulator::start(
        postel_sim::Config::builder()
            .fault(postel_sim::fault::Fault::refuse_recipient(
                "nobody@mx.test",
                550,
                "5.1.1 no such user",
            ))
            .build(),
    )
    .unwrap();
    let mut io = FromStd::new(connect(&sim));
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 4096]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut nothing: &[u8] = &[];
    assert_eq!(
        blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Idle
    );

    let to = [
        Recipient::new("b@mx.test"),
        Recipient::new("nobody@mx.test"),
        Recipient::new("c@mx.test"),
    ];
    client.submit(&Envelope::new("a@client.test", &to)).unwrap();
    let mut events = Vec::new();
    let mut body: &[u8] = MESSAGE;
    let stop = blocking::run(&mut client, &mut io, &mut body, &deadline, |e| {
        events.extend(event_line(&e))
    })
    .unwrap();
    assert_eq!(stop, Stop::Idle);
    assert_eq!(
        events,
        [
            "accepted 0 250",
            "refused 1 550",
            "accepted 2 250",
            "message 250"
        ]
    );
    client.quit().unwrap();
    assert_eq!(
        blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Closed
    );

    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, DELIVERED);
    assert_eq!(got[0].transfer, Transfer::Bdat);
    let rcpts: Vec<&str> = got[0].rcpt_to.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(rcpts, ["b@mx.test", "c@mx.test"]);
}

#[test]
fn blocking_loop_hands_over_to_rustls_for_starttls() {
    let deadline = Deadline::new(StdClock::new());
    let sim = BlockingSimulator::start(postel_sim::Config::builder().build()).unwrap();
    let ca = sim.ca_pem().expect("the simulator generates a CA");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls_config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );

    let mut config = Config::new("client.test");
    config.tls = TlsMode::Required;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 4096]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut nothing: &[u8] = &[];
    let mut plain = FromStd::new(connect(&sim));
    assert_eq!(
        blocking::run(&mut client, &mut plain, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::StartTls
    );
    assert!(!client.is_encrypted());

    // The caller's part: the handshake over the same socket, then the loop over TLS.
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(tls_config, name).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, plain.into_inner());
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).unwrap();
    }
    let mut tls = FromStd::new(stream);
    client.handle_tls_ready().unwrap();
    assert_eq!(
        blocking::run(&mut client, &mut tls, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Idle
    );
    assert!(client.is_encrypted());

    let to = [Recipient::new("b@mx.test")];
    client.submit(&Envelope::new("a@client.test", &to)).unwrap();
    let mut body: &[u8] = MESSAGE;
    assert_eq!(
        blocking::run(&mut client, &mut tls, &mut body, &deadline, |_| {}).unwrap(),
        Stop::Idle
    );
    client.quit().unwrap();
    assert_eq!(
        blocking::run(&mut client, &mut tls, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Closed
    );

    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got[0].data, DELIVERED);
    assert!(got[0].tls, "the message went over TLS");
}

#[test]
fn async_loop_over_a_tokio_socket_sends_two_messages() {
    let sim = BlockingSimulator::start(postel_sim::Config::builder().build()).unwrap();
    let addr = sim.addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let deadline = Deadline::new(TokioClock::new());
        let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        sock.set_nodelay(true).unwrap();
        let mut io = FromTokio::new(sock);
        let mut config = Config::new("client.test");
        config.tls = TlsMode::Disabled;
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 4096]);
        let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
        let mut nothing: &[u8] = &[];
        let stop = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Idle);
        for (n, text) in [(1, &b"first\r\n"[..]), (2, &b"second\r\n"[..])] {
            let to = [Recipient::new("b@mx.test")];
            client.submit(&Envelope::new("a@client.test", &to)).unwrap();
            let mut body = text;
            let mut events = Vec::new();
            let stop = asynch::run(&mut client, &mut io, &mut body, &deadline, |e| {
                events.extend(event_line(&e))
            })
            .await;
            assert_eq!(stop.unwrap(), Stop::Idle, "message {n}");
            assert_eq!(events, ["accepted 0 250", "message 250"], "message {n}");
        }
        client.quit().unwrap();
        let stop = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Closed);
    });
    let got = sim.wait_for_messages(2, WAIT);
    let bodies: Vec<&[u8]> = got.iter().map(|m| m.data.as_slice()).collect();
    assert_eq!(bodies, [&b"first\r\n"[..], &b"second\r\n"[..]]);
    assert_eq!(sim.connections(), 1, "both messages over one connection");
}

#[test]
fn a_server_that_hangs_up_is_a_typed_session_error() {
    let deadline = Deadline::new(StdClock::new());
    let sim = BlockingSimulator::start(
        postel_sim::Config::builder()
            .fault(postel_sim::fault::Fault::new(
                postel_sim::fault::Step::Mail,
                postel_sim::fault::Action::Close,
            ))
            .build(),
    )
    .unwrap();
    let mut io = FromStd::new(connect(&sim));
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 4096]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut nothing: &[u8] = &[];
    blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap();
    let to = [Recipient::new("b@mx.test")];
    client.submit(&Envelope::new("a@client.test", &to)).unwrap();
    let mut body: &[u8] = b"hi\r\n";
    match blocking::run(&mut client, &mut io, &mut body, &deadline, |_| {}) {
        Err(DriveError::Session(e)) => assert!(e.is_transient(), "{e:?}"),
        other => panic!("expected a session error, got {other:?}"),
    }
    assert!(sim.messages().is_empty());
}

/// A tarpit on a loopback socket: greets one byte every `every`, then holds the connection.
fn tarpit(every: Duration) -> (std::net::SocketAddr, std::thread::JoinHandle<usize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut sent = 0;
        for b in b"220 tarpit.test ESMTP but very slowly\r\n" {
            if std::io::Write::write_all(&mut sock, &[*b]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(every);
        }
        sent
    });
    (addr, server)
}

fn short_greeting_config() -> Config<'static> {
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    config.timeouts.greeting = Duration::from_millis(400);
    config
}

#[test]
fn the_blocking_loop_cuts_off_a_tarpit_greeting_at_its_timeout() {
    let (addr, server) = tarpit(Duration::from_millis(50));
    let sock = TcpStream::connect(addr).unwrap();
    // The socket's own timeout is far longer: the cut-off is the loop's whole-reply bound.
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut io = FromStd::new(sock);
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(short_greeting_config(), &mut rx, &mut tx).unwrap();
    let deadline = Deadline::new(StdClock::new());
    let started = std::time::Instant::now();
    let mut nothing: &[u8] = &[];
    let got = blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {});
    let took = started.elapsed();
    assert!(
        matches!(got, Err(DriveError::Timeout(postel::Step::Greeting))),
        "{got:?}"
    );
    // Cut off at the first read after 400 ms: each read waits at most one 50 ms byte.
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_millis(1_500), "{took:?}");
    drop(io);
    let sent = server.join().unwrap();
    assert!(sent < 39, "the whole greeting went out ({sent} bytes)");
}

/// The async loop over a tokio connection to `addr` gives up at the greeting timeout
/// (400 ms), on tokio's timer.
async fn greeting_times_out_on_tokios_timer(addr: std::net::SocketAddr) {
    let deadline = Deadline::new(TokioClock::new());
    let mut io = FromTokio::new(tokio::net::TcpStream::connect(addr).await.unwrap());
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(short_greeting_config(), &mut rx, &mut tx).unwrap();
    let started = tokio::time::Instant::now();
    let mut nothing: &[u8] = &[];
    let got = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).await;
    let took = started.elapsed();
    assert!(
        matches!(got, Err(DriveError::Timeout(postel::Step::Greeting))),
        "{got:?}"
    );
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_millis(1_500), "{took:?}");
}

#[test]
fn the_async_loop_cuts_off_a_tarpit_and_a_silent_server_on_tokios_timer() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (addr, server) = tarpit(Duration::from_millis(50));
    rt.block_on(greeting_times_out_on_tokios_timer(addr));
    server.join().unwrap();

    // A server that accepts and says nothing: the read itself is abandoned at the deadline.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.block_on(greeting_times_out_on_tokios_timer(addr));
    drop(listener);
}
