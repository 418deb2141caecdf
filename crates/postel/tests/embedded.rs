//! The core's embedded-io driver loops, as `postel::embedded` re-exports them, over real
//! loopback sockets to the simulator: blocking (plain and STARTTLS through rustls) and async
//! (tokio's `TcpStream` behind `embedded-io-async`).

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use embedded_io_adapters::std::FromStd;
use embedded_io_adapters::tokio_1::FromTokio;
use postel::embedded::{asynch, blocking, DriveError, Stop};
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
        blocking::run(&mut client, &mut io, &mut nothing, |_| {}).unwrap(),
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
    let stop = blocking::run(&mut client, &mut io, &mut body, |e| {
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
        blocking::run(&mut client, &mut io, &mut nothing, |_| {}).unwrap(),
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
        blocking::run(&mut client, &mut plain, &mut nothing, |_| {}).unwrap(),
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
        blocking::run(&mut client, &mut tls, &mut nothing, |_| {}).unwrap(),
        Stop::Idle
    );
    assert!(client.is_encrypted());

    let to = [Recipient::new("b@mx.test")];
    client.submit(&Envelope::new("a@client.test", &to)).unwrap();
    let mut body: &[u8] = MESSAGE;
    assert_eq!(
        blocking::run(&mut client, &mut tls, &mut body, |_| {}).unwrap(),
        Stop::Idle
    );
    client.quit().unwrap();
    assert_eq!(
        blocking::run(&mut client, &mut tls, &mut nothing, |_| {}).unwrap(),
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
        let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        sock.set_nodelay(true).unwrap();
        let mut io = FromTokio::new(sock);
        let mut config = Config::new("client.test");
        config.tls = TlsMode::Disabled;
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 4096]);
        let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
        let mut nothing: &[u8] = &[];
        let stop = asynch::run(&mut client, &mut io, &mut nothing, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Idle);
        for (n, text) in [(1, &b"first\r\n"[..]), (2, &b"second\r\n"[..])] {
            let to = [Recipient::new("b@mx.test")];
            client.submit(&Envelope::new("a@client.test", &to)).unwrap();
            let mut body = text;
            let mut events = Vec::new();
            let stop = asynch::run(&mut client, &mut io, &mut body, |e| {
                events.extend(event_line(&e))
            })
            .await;
            assert_eq!(stop.unwrap(), Stop::Idle, "message {n}");
            assert_eq!(events, ["accepted 0 250", "message 250"], "message {n}");
        }
        client.quit().unwrap();
        let stop = asynch::run(&mut client, &mut io, &mut nothing, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Closed);
    });
    let got = sim.wait_for_messages(2, WAIT);
    let bodies: Vec<&[u8]> = got.iter().map(|m| m.data.as_slice()).collect();
    assert_eq!(bodies, [&b"first\r\n"[..], &b"second\r\n"[..]]);
    assert_eq!(sim.connections(), 1, "both messages over one connection");
}

#[test]
fn a_server_that_hangs_up_is_a_typed_session_error() {
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
    blocking::run(&mut client, &mut io, &mut nothing, |_| {}).unwrap();
    let to = [Recipient::new("b@mx.test")];
    client.submit(&Envelope::new("a@client.test", &to)).unwrap();
    let mut body: &[u8] = b"hi\r\n";
    match blocking::run(&mut client, &mut io, &mut body, |_| {}) {
        Err(DriveError::Session(e)) => assert!(e.is_transient(), "{e:?}"),
        other => panic!("expected a session error, got {other:?}"),
    }
    assert!(sim.messages().is_empty());
}
