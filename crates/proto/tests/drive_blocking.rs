//! The blocking embedded-io driver (`drive::blocking::run`): every transcript end to end, an
//! in-memory duplex against the reactive test server (with STARTTLS swapping the transport
//! type), a loopback TCP socket against a server thread, and its error paths.

mod common;

use std::convert::Infallible;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};

use common::clock::uptime;
use common::server::{normalized, Behaviour, Server};
use common::{error_str, event_str, load, transcript_files, EnvelopeParts, Transcript};
use embedded_io::{ErrorKind, ErrorType, Read, Write};
use postel_proto::drive::{blocking, DriveError, Stop};
use postel_proto::{Client, Config, Credentials, Envelope, Error, Recipient, Secret, TlsMode};

/// A transport that plays a transcript's server side, releasing each reply once the client
/// has written the bytes above it, and checks the client's bytes as they come.
struct Scripted<'t> {
    t: &'t Transcript,
    fed: usize,
    written: Vec<u8>,
    read_max: usize,
}

impl ErrorType for Scripted<'_> {
    type Error = Infallible;
}

impl Read for Scripted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let avail = self.t.available(self.written.len());
        if self.fed == self.t.server.len() {
            return Ok(0);
        }
        assert!(
            self.fed < avail,
            "{}: the client waits for a reply the script gives only after more client bytes",
            self.t.name
        );
        let n = buf.len().min(avail - self.fed).min(self.read_max);
        buf[..n].copy_from_slice(&self.t.server[self.fed..self.fed + n]);
        self.fed += n;
        Ok(n)
    }
}

impl Write for Scripted<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.written.extend_from_slice(buf);
        assert!(
            self.t.client.starts_with(&self.written),
            "{}: unexpected client bytes {}",
            self.t.name,
            postel_proto::reply::Escaped(&self.written)
        );
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Runs a transcript through the driver; returns the client bytes and events.
fn drive_transcript(t: &Transcript, read_max: usize) -> (Vec<u8>, Vec<String>) {
    let deadline = uptime();
    let (mut rx, mut tx) = (vec![0u8; t.settings.rx], vec![0u8; t.settings.tx]);
    let mut events = Vec::new();
    let mut client = match Client::new(common::config(&t.settings), &mut rx, &mut tx) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), vec![format!("Error {}", error_str(&e))]),
    };
    let mut io = Scripted {
        t,
        fed: 0,
        written: Vec::new(),
        read_max,
    };
    let parts: Vec<EnvelopeParts<'_>> = t.messages.iter().map(EnvelopeParts::new).collect();
    let mut body: &[u8] = &[];
    let (mut next, mut quit) = (0, false);
    loop {
        let stop = blocking::run(&mut client, &mut io, &mut body, &deadline, |e| {
            events.push(event_str(&e))
        });
        match stop {
            Ok(Stop::Idle) if next < t.messages.len() => {
                let env = parts[next].envelope(&t.messages[next]);
                body = &t.messages[next].body;
                next += 1;
                if let Err(e) = client.submit(&env) {
                    events.push(format!("SubmitError {}", error_str(&e)));
                }
            }
            Ok(Stop::Idle) if t.settings.quit && !quit => {
                quit = true;
                client.quit().expect("an idle client can quit");
            }
            Ok(Stop::Idle | Stop::Closed) => break,
            Ok(Stop::Recipients) => {
                let env = parts[next - 1].envelope(&t.messages[next - 1]);
                if let Err(e) = client.handle_recipients(&env) {
                    events.push(format!("RecipientsError {}", error_str(&e)));
                    break;
                }
            }
            Ok(Stop::StartTls) => {
                events.push("StartTls".into());
                client.handle_tls_ready().expect("the client asked for TLS");
            }
            Err(DriveError::Session(e)) => {
                events.push(format!("Error {}", error_str(&e)));
                break;
            }
            Err(e) => panic!("{}: {e}", t.name),
        }
    }
    (io.written, events)
}

#[test]
fn every_transcript_runs_end_to_end_through_the_blocking_driver() {
    for file in transcript_files() {
        let t = load(&file);
        for read_max in [usize::MAX, 1] {
            let (client, events) = drive_transcript(&t, read_max);
            assert!(client == t.client, "{}: client bytes differ", t.name);
            assert_eq!(events, t.events, "{} (reads of at most {read_max})", t.name);
            if t.settings.whole_only {
                break;
            }
        }
    }
}

/// An in-memory duplex to the reactive server, with bounded reads and writes.
struct Duplex {
    server: Server,
    read_max: usize,
    write_max: usize,
}

impl ErrorType for Duplex {
    type Error = Infallible;
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        assert!(
            self.server.pending_output() > 0 || self.server.closed,
            "the client waits but the server has nothing to say"
        );
        let max = buf.len().min(self.read_max);
        Ok(self.server.read_into(&mut buf[..max]))
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.write_max);
        self.server.write(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// The same duplex once TLS is "up": a different transport type, as after a real handshake.
struct FakeTls<'a>(&'a mut Duplex);

impl ErrorType for FakeTls<'_> {
    type Error = Infallible;
}

impl Read for FakeTls<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        assert!(self.0.server.tls_started);
        self.0.read(buf)
    }
}

impl Write for FakeTls<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

fn body(n: usize) -> Vec<u8> {
    let mut b = b"Subject: driven\n\n".to_vec();
    let mut i = 0;
    while b.len() < n {
        b.extend_from_slice(format!(".line {i} with a bare LF\n").as_bytes());
        i += 1;
    }
    b
}

#[test]
fn two_messages_over_an_in_memory_duplex() {
    let deadline = uptime();
    for (pipelining, chunking, read_max, write_max) in [
        (true, true, 1, 7),
        (true, false, 3, 1000),
        (false, true, 512, 1),
        (false, false, 64, 64),
    ] {
        let mut io = Duplex {
            server: Server::new(Behaviour {
                pipelining,
                chunking,
                ..Behaviour::default()
            }),
            read_max,
            write_max,
        };
        let mut config = Config::new("client.test");
        config.tls = TlsMode::Disabled;
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 2048]);
        let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
        let mut events = Vec::new();
        let mut on_event = |e: postel_proto::Event<'_>| events.push(event_str(&e));
        let mut nothing: &[u8] = &[];
        assert_eq!(
            blocking::run(&mut client, &mut io, &mut nothing, &deadline, &mut on_event).unwrap(),
            Stop::Idle
        );
        let to = [
            Recipient::new("a@mx.test"),
            Recipient::new("nobody@mx.test"),
        ];
        let bodies = [body(20_000), body(300)];
        for b in &bodies {
            client
                .submit(&Envelope::new("me@client.test", &to))
                .unwrap();
            let mut src: &[u8] = b;
            assert_eq!(
                blocking::run(&mut client, &mut io, &mut src, &deadline, &mut on_event).unwrap(),
                Stop::Idle
            );
        }
        client.quit().unwrap();
        assert_eq!(
            blocking::run(&mut client, &mut io, &mut nothing, &deadline, &mut on_event).unwrap(),
            Stop::Closed
        );
        let case = format!("pipelining={pipelining} chunking={chunking}");
        assert!(
            io.server.violations.is_empty(),
            "{case}: {:?}",
            io.server.violations
        );
        assert_eq!(io.server.messages.len(), 2, "{case}");
        for (got, sent) in io.server.messages.iter().zip(&bodies) {
            assert!(
                *got == normalized(sent),
                "{case}: the body arrives as normalized"
            );
        }
        assert_eq!(
            events
                .iter()
                .filter(|e| e.starts_with("RecipientRefused"))
                .count(),
            2,
            "{case}: {events:?}"
        );
        assert_eq!(events.last().map(String::as_str), Some("Quit 221 2.0.0"));
    }
}

#[test]
fn starttls_returns_to_the_caller_who_swaps_the_transport() {
    let deadline = uptime();
    let mut io = Duplex {
        server: Server::new(Behaviour {
            starttls: true,
            auth: true,
            ..Behaviour::default()
        }),
        read_max: 5,
        write_max: 9,
    };
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Required;
    config.credentials = Some(Credentials::Password {
        username: "user",
        password: Secret::new("pass"),
        authzid: None,
    });
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut nothing: &[u8] = &[];
    assert_eq!(
        blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::StartTls
    );
    assert!(io.server.tls_started);
    client.handle_tls_ready().unwrap();
    let mut tls = FakeTls(&mut io);
    assert_eq!(
        blocking::run(&mut client, &mut tls, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Idle
    );
    assert!(client.is_encrypted());
    assert!(client.authenticated().is_some());
    let to = [Recipient::new("a@mx.test")];
    client
        .submit(&Envelope::new("me@client.test", &to))
        .unwrap();
    let mut src: &[u8] = b"Subject: over TLS\r\n\r\nhi\r\n";
    assert_eq!(
        blocking::run(&mut client, &mut tls, &mut src, &deadline, |_| {}).unwrap(),
        Stop::Idle
    );
    client.quit().unwrap();
    assert_eq!(
        blocking::run(&mut client, &mut tls, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Closed
    );
    assert_eq!(
        io.server.messages,
        [b"Subject: over TLS\r\n\r\nhi\r\n".to_vec()]
    );
}

/// std's `TcpStream` as an embedded-io transport.
struct Tcp(TcpStream);

#[derive(Debug)]
struct IoError(std::io::ErrorKind);

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for IoError {}

impl embedded_io::Error for IoError {
    fn kind(&self) -> ErrorKind {
        match self.0 {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ErrorKind::TimedOut,
            std::io::ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
            std::io::ErrorKind::BrokenPipe => ErrorKind::BrokenPipe,
            _ => ErrorKind::Other,
        }
    }
}

impl ErrorType for Tcp {
    type Error = IoError;
}

impl Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        self.0.read(buf).map_err(|e| IoError(e.kind()))
    }
}

impl Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        self.0.write(buf).map_err(|e| IoError(e.kind()))
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.0.flush().map_err(|e| IoError(e.kind()))
    }
}

/// Serves one connection with the reactive server; returns it when the client is gone.
fn serve_one(listener: TcpListener, behaviour: Behaviour) -> Server {
    let (mut sock, _) = listener.accept().expect("a client connects");
    let mut server = Server::new(behaviour);
    let mut buf = [0u8; 4096];
    loop {
        let out = server.read(usize::MAX);
        sock.write_all(&out).expect("write to the client");
        if server.closed {
            return server;
        }
        let n = sock.read(&mut buf).expect("read from the client");
        if n == 0 {
            return server;
        }
        server.write(&buf[..n]);
    }
}

#[test]
fn a_session_over_a_loopback_tcp_socket() {
    let deadline = uptime();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let behaviour = Behaviour {
        chunking: true,
        ..Behaviour::default()
    };
    let server = std::thread::spawn(move || serve_one(listener, behaviour));
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut io = Tcp(stream);
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Opportunistic;
    let (mut rx, mut tx) = ([0u8; 4096], [0u8; 16384]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut events = Vec::new();
    let mut nothing: &[u8] = &[];
    assert_eq!(
        blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Idle
    );
    let to = [
        Recipient::new("a@mx.test"),
        Recipient::new("nobody@mx.test"),
        Recipient::new("b@mx.test"),
    ];
    let big = body(100_000);
    client
        .submit(&Envelope::new("me@client.test", &to))
        .unwrap();
    let mut src: &[u8] = &big;
    let stop = blocking::run(&mut client, &mut io, &mut src, &deadline, |e| {
        events.push(event_str(&e))
    })
    .unwrap();
    assert_eq!(stop, Stop::Idle);
    client.quit().unwrap();
    assert_eq!(
        blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Closed
    );
    let server = server.join().unwrap();
    assert!(server.violations.is_empty(), "{:?}", server.violations);
    assert!(server.messages == [normalized(&big)]);
    assert_eq!(
        server.recipients,
        [vec!["a@mx.test".to_string(), "b@mx.test".to_string()]]
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("RecipientRefused txn=0 rcpt=1 550")),
        "{events:?}"
    );
}

/// A transport whose reads or writes fail, or that accepts nothing.
struct Broken {
    write_zero: bool,
}

impl ErrorType for Broken {
    type Error = ErrorKind;
}

impl Read for Broken {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, ErrorKind> {
        Err(ErrorKind::ConnectionReset)
    }
}

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> Result<usize, ErrorKind> {
        if self.write_zero {
            Ok(0)
        } else {
            Err(ErrorKind::BrokenPipe)
        }
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A body source that fails.
struct FailingBody;

impl ErrorType for FailingBody {
    type Error = ErrorKind;
}

impl Read for FailingBody {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, ErrorKind> {
        Err(ErrorKind::Interrupted)
    }
}

#[test]
fn transport_and_body_errors_end_the_loop_with_their_cause() {
    let deadline = uptime();
    let config = Config::new("client.test");
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut nothing: &[u8] = &[];
    let err = blocking::run(
        &mut client,
        &mut Broken { write_zero: false },
        &mut nothing,
        &deadline,
        |_| {},
    );
    assert!(
        matches!(err, Err(DriveError::Transport(ErrorKind::ConnectionReset))),
        "{err:?}"
    );

    // The greeting arrives, EHLO cannot be written.
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut io = Duplex {
        server: Server::new(Behaviour::default()),
        read_max: 512,
        write_max: 0,
    };
    let err = blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {});
    assert!(matches!(err, Err(DriveError::WriteZero)), "{err:?}");

    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut io = Duplex {
        server: Server::new(Behaviour::default()),
        read_max: 512,
        write_max: 512,
    };
    assert_eq!(
        blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap(),
        Stop::Idle
    );
    let to = [Recipient::new("a@mx.test")];
    client
        .submit(&Envelope::new("me@client.test", &to))
        .unwrap();
    let err = blocking::run(&mut client, &mut io, &mut FailingBody, &deadline, |_| {});
    assert!(
        matches!(err, Err(DriveError::Body(ErrorKind::Interrupted))),
        "{err:?}"
    );

    // A server that hangs up is the session's error, with the step.
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut eof: &[u8] = &[];
    let mut io = EofThenSink(&mut eof);
    let err = blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {});
    assert!(
        matches!(
            err,
            Err(DriveError::Session(Error::ConnectionClosed { .. }))
        ),
        "{err:?}"
    );
}

/// Reads from a slice (EOF at its end), swallows writes.
struct EofThenSink<'a, 'b>(&'a mut &'b [u8]);

impl ErrorType for EofThenSink<'_, '_> {
    type Error = Infallible;
}

impl Read for EofThenSink<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Read::read(self.0, buf)
    }
}

impl Write for EofThenSink<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
