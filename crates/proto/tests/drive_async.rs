//! The async embedded-io-async driver (`drive::asynch::run`) under a minimal executor: every
//! transcript end to end, an in-memory duplex against the reactive test server (with
//! STARTTLS), and a loopback TCP socket against a server thread.

mod common;

use std::convert::Infallible;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};

use common::clock::uptime;
use common::server::{normalized, Behaviour, Server};
use common::{error_str, event_str, load, transcript_files, EnvelopeParts, Transcript};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use futures_executor::block_on;
use postel_proto::drive::{asynch, DriveError, Stop};
use postel_proto::{Client, Config, Credentials, Envelope, Recipient, Secret, TlsMode};

/// Plays a transcript's server side (see drive_blocking.rs), asynchronously.
struct Scripted<'t> {
    t: &'t Transcript,
    fed: usize,
    written: Vec<u8>,
}

impl ErrorType for Scripted<'_> {
    type Error = Infallible;
}

impl Read for Scripted<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let avail = self.t.available(self.written.len());
        if self.fed == self.t.server.len() {
            return Ok(0);
        }
        assert!(
            self.fed < avail,
            "{}: the client waits too early",
            self.t.name
        );
        let n = buf.len().min(avail - self.fed);
        buf[..n].copy_from_slice(&self.t.server[self.fed..self.fed + n]);
        self.fed += n;
        Ok(n)
    }
}

impl Write for Scripted<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.written.extend_from_slice(buf);
        assert!(
            self.t.client.starts_with(&self.written),
            "{}: unexpected client bytes",
            self.t.name
        );
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

async fn drive_transcript(t: &Transcript) -> (Vec<u8>, Vec<String>) {
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
    };
    let parts: Vec<EnvelopeParts<'_>> = t.messages.iter().map(EnvelopeParts::new).collect();
    let mut body: &[u8] = &[];
    let (mut next, mut quit) = (0, false);
    loop {
        let stop = asynch::run(&mut client, &mut io, &mut body, &deadline, |e| {
            events.push(event_str(&e))
        })
        .await;
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
fn every_transcript_runs_end_to_end_through_the_async_driver() {
    for file in transcript_files() {
        let t = load(&file);
        let (client, events) = block_on(drive_transcript(&t));
        assert!(client == t.client, "{}: client bytes differ", t.name);
        assert_eq!(events, t.events, "{}", t.name);
    }
}

/// An in-memory duplex to the reactive server.
struct Duplex {
    server: Server,
    read_max: usize,
    write_max: usize,
}

impl ErrorType for Duplex {
    type Error = Infallible;
}

impl Read for Duplex {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        assert!(
            self.server.pending_output() > 0 || self.server.closed,
            "deadlock"
        );
        let max = buf.len().min(self.read_max);
        Ok(self.server.read_into(&mut buf[..max]))
    }
}

impl Write for Duplex {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.write_max);
        self.server.write(&buf[..n]);
        Ok(n)
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn starttls_auth_and_two_messages_over_an_in_memory_duplex() {
    let deadline = uptime();
    block_on(async {
        let mut io = Duplex {
            server: Server::new(Behaviour {
                starttls: true,
                auth: true,
                chunking: true,
                ..Behaviour::default()
            }),
            read_max: 3,
            write_max: 100,
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
        let stop = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::StartTls);
        client.handle_tls_ready().unwrap();
        let stop = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Idle);
        assert!(client.authenticated().is_some());
        let to = [
            Recipient::new("a@mx.test"),
            Recipient::new("nobody@mx.test"),
        ];
        let bodies: [&[u8]; 2] = [b"Subject: one\n\n.dot\r\nbare\rcr", b"Subject: two\r\n"];
        let mut events = Vec::new();
        for b in bodies {
            client
                .submit(&Envelope::new("me@client.test", &to))
                .unwrap();
            let mut src = b;
            let stop = asynch::run(&mut client, &mut io, &mut src, &deadline, |e| {
                events.push(event_str(&e))
            });
            assert_eq!(stop.await.unwrap(), Stop::Idle);
        }
        client.quit().unwrap();
        let stop = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Closed);
        assert!(
            io.server.violations.is_empty(),
            "{:?}",
            io.server.violations
        );
        let want: Vec<Vec<u8>> = bodies.iter().map(|b| normalized(b)).collect();
        assert_eq!(io.server.messages, want);
        assert_eq!(
            events
                .iter()
                .filter(|e| e.starts_with("MessageAccepted"))
                .count(),
            2
        );
    });
}

/// std's blocking `TcpStream` behind the async traits (fine under `block_on`).
struct Tcp(TcpStream);

impl ErrorType for Tcp {
    type Error = ErrorKind;
}

impl Read for Tcp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf).map_err(|_| ErrorKind::Other)
    }
}

impl Write for Tcp {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).map_err(|_| ErrorKind::Other)
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().map_err(|_| ErrorKind::Other)
    }
}

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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || serve_one(listener, Behaviour::default()));
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut io = Tcp(stream);
    let big: Vec<u8> = (0..3000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let deadline = uptime();
    block_on(async {
        let mut config = Config::new("client.test");
        config.tls = TlsMode::Disabled;
        let (mut rx, mut tx) = ([0u8; 2048], [0u8; 8192]);
        let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
        let mut nothing: &[u8] = &[];
        let stop = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Idle);
        let to = [Recipient::new("a@mx.test")];
        client
            .submit(&Envelope::new("me@client.test", &to))
            .unwrap();
        let mut src: &[u8] = &big;
        let stop = asynch::run(&mut client, &mut io, &mut src, &deadline, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Idle);
        client.quit().unwrap();
        let stop = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).await;
        assert_eq!(stop.unwrap(), Stop::Closed);
    });
    let server = server.join().unwrap();
    assert!(server.violations.is_empty(), "{:?}", server.violations);
    assert!(server.messages == [normalized(&big)]);
}
