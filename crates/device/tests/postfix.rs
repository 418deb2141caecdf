//! The device session (`postel_device::send`) against the project's real Postfix, from the
//! host: the same code the firmware runs, over a std `TcpStream` instead of a UART.
//!
//! Each case is checked by what reached the server: the message in the Maildir for the
//! accepted ones; for the refused certificates, the typed reason, nothing delivered, and no
//! TLS application-data record written (so no AUTH, no envelope) after the refusal.
//! Needs `scripts/postfix-up.sh` (scripts/test.sh runs it); under CI a missing server fails.

use std::cell::RefCell;
use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use embedded_io_adapters::std::FromStd;
use embedded_tls::Aes128GcmSha256;
use postel_device::verify::{
    pem_block, trust_anchor, ChainVerifier, TrustAnchor, UnixTime, VerifyFailure,
};
use postel_device::{send, send_plain, Buffers, Delivered, Failure, Tls};
use postel_proto::drive::{Clock, Deadline, Timed};
use postel_proto::{Config, Credentials, Envelope, Mechanism, Recipient, Secret, Step, TlsMode};

/// Real servers are required under CI or scripts/test.sh.
fn servers_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("POSTEL_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// `POSTEL_POSTFIX_<name>`, or `None` (the test returns) when Postfix is not up and not
/// required.
fn var(name: &str) -> Option<String> {
    match std::env::var(format!("POSTEL_POSTFIX_{name}")) {
        Ok(v) => Some(v),
        Err(_) if servers_required() => {
            panic!("POSTEL_POSTFIX_{name} is not set: run scripts/postfix-up.sh and source target/postfix/env")
        }
        Err(_) => {
            eprintln!("skipped: Postfix is not up (POSTEL_POSTFIX_{name} unset)");
            None
        }
    }
}

struct StdClock(Instant);

impl Clock for StdClock {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// A TCP stream that keeps a copy of every byte written.
struct Recording {
    stream: TcpStream,
    sent: Rc<RefCell<Vec<u8>>>,
}

impl io::Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl io::Write for Recording {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.stream.write(buf)?;
        self.sent.borrow_mut().extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn connect(addr: &str) -> (FromStd<Recording>, Rc<RefCell<Vec<u8>>>) {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    // A safety net only: the session's own deadline is what the tests exercise.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let sent = Rc::new(RefCell::new(Vec::new()));
    (
        FromStd::new(Recording {
            stream,
            sent: sent.clone(),
        }),
        sent,
    )
}

/// A marker no other message in the shared Maildir has.
fn marker(case: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("device-{case}-{}-{nanos}", std::process::id())
}

/// How many delivered messages contain `marker`.
fn delivered(marker: &str) -> usize {
    let Some(dir) = var("MAILDIR") else { return 0 };
    let mut n = 0;
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(PathBuf::from(&dir).join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let body = std::fs::read(e.path()).unwrap_or_default();
            if body.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                n += 1;
            }
        }
    }
    n
}

/// Polls the Maildir for a while: Postfix delivers asynchronously after its 250.
fn wait_delivered(marker: &str, want: usize) -> usize {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let n = delivered(marker);
        if n >= want || Instant::now() > until {
            return n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The trust anchors in a PEM file (one certificate), decoded into `der`.
fn anchors<'d>(pem_path: &str, der: &'d mut [u8]) -> [TrustAnchor<'d>; 1] {
    let pem = std::fs::read(pem_path).unwrap();
    let (cert, _) = pem_block(&pem, "CERTIFICATE", der).unwrap();
    [trust_anchor(cert).unwrap()]
}

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(SystemTime::now().duration_since(UNIX_EPOCH).unwrap())
}

fn message(marker: &str) -> Vec<u8> {
    format!(
        "From: <device@example.test>\r\nTo: <catchall@example.test>\r\nSubject: {marker}\r\n\
         Message-ID: <{marker}@device.example>\r\n\r\nAlert from {marker}.\r\n"
    )
    .into_bytes()
}

struct Case<'a> {
    listener: &'a str,
    tls: TlsMode,
    anchor: &'a str,
    server_name: &'a str,
    mechanism: Option<Mechanism>,
}

/// What one TLS session left: its outcome, the verifier's reason, the marker, the wire bytes.
struct Ran {
    result: Result<(), Failure<io::Error>>,
    failure: Option<VerifyFailure>,
    marker: String,
    wire: Vec<u8>,
}

/// Runs one TLS session.
fn run_tls(case: &Case<'_>, tag: &str) -> Option<Ran> {
    let addr = var(case.listener)?;
    let anchor_path = var(case.anchor)?;
    let user = var("USER")?;
    let password = var("PASSWORD")?;
    let domain = var("DOMAIN")?;
    let mut der = [0u8; 4096];
    let anchors = anchors(&anchor_path, &mut der);
    let mut verifier = ChainVerifier::<Aes128GcmSha256>::new(&anchors, now());
    let mut rng = rand::rngs::OsRng;

    let marker = marker(tag);
    let to = format!("{marker}@{domain}");
    let rcpts = [Recipient::new(&to)];
    let envelope = Envelope::new("device@example.test", &rcpts);
    let body = message(&marker);

    let mut config = Config::new("device.example");
    config.tls = case.tls;
    config.credentials = Some(Credentials::Password {
        username: &user,
        password: Secret::new(&password),
        authzid: None,
    });
    config.mechanism = case.mechanism;

    let (mut io, sent) = connect(&addr);
    let clock = StdClock(Instant::now());
    let deadline = Deadline::new(&clock);
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let (mut tls_read, mut tls_write) = (vec![0u8; 16640], vec![0u8; 4096]);
    let result = send(
        &mut io,
        &deadline,
        config,
        Tls {
            verifier: &mut verifier,
            rng: &mut rng,
            server_name: case.server_name,
        },
        Buffers {
            smtp_rx: &mut rx,
            smtp_tx: &mut tx,
            tls_read: &mut tls_read,
            tls_write: &mut tls_write,
        },
        &envelope,
        &mut body.as_slice(),
    )
    .map(|_| ());
    let failure = verifier.failure();
    let wire = sent.borrow().clone();
    Some(Ran {
        result,
        failure,
        marker,
        wire,
    })
}

/// Record types of the TLS records in `wire` from `from` on (content type bytes).
fn record_types(wire: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut at = 0;
    while at + 5 <= wire.len() {
        types.push(wire[at]);
        let len = usize::from(u16::from_be_bytes([wire[at + 3], wire[at + 4]]));
        at += 5 + len;
    }
    types
}

/// The bytes written after the plaintext `STARTTLS\r\n`, or everything for implicit TLS.
fn after_starttls(wire: &[u8], tls: TlsMode) -> &[u8] {
    if tls == TlsMode::Implicit {
        return wire;
    }
    let at = wire
        .windows(10)
        .position(|w| w == b"STARTTLS\r\n")
        .expect("STARTTLS was sent");
    &wire[at + 10..]
}

fn assert_delivered(case: Case<'_>, tag: &str) {
    let Some(Ran {
        result,
        failure,
        marker,
        wire,
    }) = run_tls(&case, tag)
    else {
        return;
    };
    if let Err(e) = &result {
        panic!("{tag}: {e} (verifier: {failure:?})");
    }
    assert_eq!(failure, None);
    // No plaintext after STARTTLS: every byte is inside TLS records.
    let records = record_types(after_starttls(&wire, case.tls));
    assert!(
        records.contains(&23),
        "{tag}: no application data record: {records:?}"
    );
    assert_eq!(
        wait_delivered(&marker, 1),
        1,
        "{tag}: message {marker} not in the Maildir"
    );
}

fn assert_refused(case: Case<'_>, tag: &str, why: fn(&VerifyFailure) -> bool) {
    let Some(Ran {
        result,
        failure,
        marker,
        wire,
    }) = run_tls(&case, tag)
    else {
        return;
    };
    match result {
        Err(Failure::Tls(_)) => {}
        other => panic!("{tag}: expected a TLS refusal, got {other:?}"),
    }
    let failure = failure.unwrap_or_else(|| panic!("{tag}: the verifier recorded no reason"));
    assert!(why(&failure), "{tag}: wrong reason {failure:?}");
    // Nothing private left the device: after STARTTLS only handshake (22), change cipher
    // spec (20) or alert (21) records, never application data (23).
    let records = record_types(after_starttls(&wire, case.tls));
    assert!(!records.is_empty(), "{tag}: no ClientHello");
    assert!(
        records.iter().all(|t| matches!(t, 20..=22)),
        "{tag}: records {records:?}"
    );
    if case.tls != TlsMode::Implicit {
        let plain = &wire[..wire.windows(10).position(|w| w == b"STARTTLS\r\n").unwrap()];
        assert!(
            !plain.windows(4).any(|w| w == b"AUTH"),
            "{tag}: AUTH before TLS"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        delivered(&marker),
        0,
        "{tag}: a refused session delivered mail"
    );
}

/// A `send_plain` session (TLS disabled) to `addr` with `N`-octet SMTP buffers, which must
/// succeed: its result and every byte it wrote.
fn plain_session<const N: usize>(
    addr: &str,
    envelope: &Envelope<'_>,
    body: &[u8],
) -> (Delivered, Vec<u8>) {
    let mut config = Config::new("device.example");
    config.tls = TlsMode::Disabled;
    let (mut io, sent) = connect(addr);
    let clock = StdClock(Instant::now());
    let deadline = Deadline::new(&clock);
    let (mut rx, mut tx) = ([0u8; N], [0u8; N]);
    let done = send_plain(
        &mut io,
        &deadline,
        config,
        Buffers {
            smtp_rx: &mut rx,
            smtp_tx: &mut tx,
            tls_read: &mut [],
            tls_write: &mut [],
        },
        envelope,
        &mut &body[..],
    )
    .unwrap();
    let wire = sent.borrow().clone();
    (done, wire)
}

#[test]
fn plain_session_delivers() {
    let Some(addr) = var("PLAIN") else { return };
    let Some(domain) = var("DOMAIN") else { return };
    let marker = marker("plain");
    let to = format!("{marker}@{domain}");
    let rcpts = [Recipient::new(&to)];
    let envelope = Envelope::new("device@example.test", &rcpts);
    let (delivered_reply, wire) = plain_session::<1024>(&addr, &envelope, &message(&marker));
    assert_eq!(delivered_reply.reply.code().get(), 250);
    assert_eq!(delivered_reply.refused, 0);
    assert!(
        wire.starts_with(b"EHLO device.example\r\n"),
        "{:?}",
        String::from_utf8_lossy(&wire)
    );
    assert!(wire.ends_with(b"QUIT\r\n"));
    assert_eq!(wait_delivered(&marker, 1), 1);
}

#[test]
fn starttls_scram_through_an_intermediate() {
    assert_delivered(
        Case {
            listener: "DEVICE_STARTTLS",
            tls: TlsMode::Required,
            anchor: "CA",
            server_name: "localhost",
            mechanism: Some(Mechanism::ScramSha256),
        },
        "starttls-scram",
    );
}

#[test]
fn starttls_plain_auth() {
    assert_delivered(
        Case {
            listener: "DEVICE_STARTTLS",
            tls: TlsMode::Required,
            anchor: "CA",
            server_name: "localhost",
            mechanism: Some(Mechanism::Plain),
        },
        "starttls-plain",
    );
}

#[test]
fn implicit_tls() {
    assert_delivered(
        Case {
            listener: "IMPLICIT",
            tls: TlsMode::Implicit,
            anchor: "CA",
            server_name: "localhost",
            mechanism: None,
        },
        "implicit",
    );
}

#[test]
fn rsa_server_key_and_chain() {
    assert_delivered(
        Case {
            listener: "DEVICE_RSA",
            tls: TlsMode::Required,
            anchor: "RSA_CA",
            server_name: "localhost",
            mechanism: Some(Mechanism::ScramSha256),
        },
        "rsa",
    );
    assert_delivered(
        Case {
            listener: "DEVICE_RSA_IMPLICIT",
            tls: TlsMode::Implicit,
            anchor: "RSA_CA",
            server_name: "localhost",
            mechanism: Some(Mechanism::Plain),
        },
        "rsa-implicit",
    );
}

#[test]
fn wrong_host_name_is_refused_before_auth() {
    assert_refused(
        Case {
            listener: "DEVICE_STARTTLS",
            tls: TlsMode::Required,
            anchor: "CA",
            server_name: "wrong.example",
            mechanism: None,
        },
        "wrong-name",
        |f| *f == VerifyFailure::WrongName,
    );
    assert_refused(
        Case {
            listener: "DEVICE_WRONGHOST",
            tls: TlsMode::Required,
            anchor: "CA",
            server_name: "localhost",
            mechanism: None,
        },
        "wronghost-cert",
        |f| *f == VerifyFailure::WrongName,
    );
}

#[test]
fn unknown_root_is_refused_before_auth() {
    assert_refused(
        Case {
            listener: "DEVICE_UNTRUSTED",
            tls: TlsMode::Required,
            anchor: "CA",
            server_name: "localhost",
            mechanism: None,
        },
        "untrusted",
        |f| *f == VerifyFailure::UnknownIssuer,
    );
    // The right chain, but the device trusts another root (the RSA one).
    assert_refused(
        Case {
            listener: "DEVICE_STARTTLS",
            tls: TlsMode::Required,
            anchor: "RSA_CA",
            server_name: "localhost",
            mechanism: None,
        },
        "other-root",
        |f| *f == VerifyFailure::UnknownIssuer,
    );
}

#[test]
fn expired_leaf_is_refused_before_auth() {
    assert_refused(
        Case {
            listener: "DEVICE_EXPIRED",
            tls: TlsMode::Required,
            anchor: "CA",
            server_name: "localhost",
            mechanism: None,
        },
        "expired",
        |f| matches!(f, VerifyFailure::Expired { .. }),
    );
}

#[test]
fn leaf_without_intermediate_is_refused_before_auth() {
    assert_refused(
        Case {
            listener: "DEVICE_NOCHAIN",
            tls: TlsMode::Required,
            anchor: "CA",
            server_name: "localhost",
            mechanism: None,
        },
        "nochain",
        |f| *f == VerifyFailure::UnknownIssuer,
    );
}

/// A std stream that can say whether a read would block (embedded-io's `ReadReady`), so
/// the core's `Timed` adapter can wait on it against the deadline, as a UART driver does.
struct ReadyStream(TcpStream);

impl embedded_io::ErrorType for ReadyStream {
    type Error = io::Error;
}

impl embedded_io::Read for ReadyStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut self.0, buf)
    }
}

impl embedded_io::Write for ReadyStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut self.0, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::Write::flush(&mut self.0)
    }
}

impl embedded_io::ReadReady for ReadyStream {
    fn read_ready(&mut self) -> io::Result<bool> {
        self.0.set_nonblocking(true)?;
        let peeked = self.0.peek(&mut [0u8; 1]);
        self.0.set_nonblocking(false)?;
        match peeked {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl embedded_io::WriteReady for ReadyStream {
    fn write_ready(&mut self) -> io::Result<bool> {
        Ok(true)
    }
}

/// A server that accepts and then sends `script` one byte every `gap`.
fn dribbling_server(script: &'static [u8], gap: Duration) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hold = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        for b in script {
            std::thread::sleep(gap);
            if io::Write::write_all(&mut s, &[*b]).is_err() {
                return;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    });
    (addr, hold)
}

fn plain_session_over_timed(
    addr: &str,
    greeting_timeout: Duration,
) -> Result<(), Failure<postel_proto::drive::TimedError<io::Error>>> {
    let clock = StdClock(Instant::now());
    let deadline = Deadline::new(&clock);
    let mut io = Timed::new(ReadyStream(TcpStream::connect(addr).unwrap()), &deadline);
    let mut config = Config::new("device.example");
    config.tls = TlsMode::Disabled;
    config.timeouts.greeting = greeting_timeout;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let rcpts = [Recipient::new("x@example.test")];
    send_plain(
        &mut io,
        &deadline,
        config,
        Buffers {
            smtp_rx: &mut rx,
            smtp_tx: &mut tx,
            tls_read: &mut [],
            tls_write: &mut [],
        },
        &Envelope::new("d@example.test", &rcpts),
        &mut &b"x\r\n"[..],
    )
    .map(|_| ())
}

#[test]
fn a_silent_server_times_out_at_the_greeting() {
    let (addr, hold) = dribbling_server(b"", Duration::ZERO);
    let started = Instant::now();
    let result = plain_session_over_timed(&addr, Duration::from_millis(300));
    assert!(
        matches!(result, Err(Failure::Timeout(Step::Greeting))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    hold.join().unwrap();
}

#[test]
fn a_greeting_dribbled_byte_by_byte_is_cut_off_at_the_greeting_timeout() {
    // Each byte comes well within any per-read timeout; the whole reply does not.
    let (addr, hold) = dribbling_server(
        b"220 tarpit.example ESMTP slowly\r\n",
        Duration::from_millis(40),
    );
    let started = Instant::now();
    let result = plain_session_over_timed(&addr, Duration::from_millis(400));
    assert!(
        matches!(result, Err(Failure::Timeout(Step::Greeting))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    hold.join().unwrap();
}

#[test]
fn more_recipients_than_the_send_buffer_holds_go_in_flights() {
    // 60 RCPT commands of about 50 octets each do not fit a 512-octet send buffer: the
    // session sends them in several flights, and Postfix delivers one copy to each.
    let Some(addr) = var("PLAIN") else { return };
    let Some(domain) = var("DOMAIN") else { return };
    let marker = marker("flights");
    let to: Vec<String> = (0..60).map(|i| format!("r{i}-{marker}@{domain}")).collect();
    let rcpts: Vec<Recipient<'_>> = to.iter().map(|a| Recipient::new(a)).collect();
    let envelope = Envelope::new("device@example.test", &rcpts);
    let (done, wire) = plain_session::<512>(&addr, &envelope, &message(&marker));
    assert_eq!((done.refused, done.deferred), (0, 0));
    let rcpt_lines = wire.windows(8).filter(|w| w == b"RCPT TO:").count();
    assert_eq!(rcpt_lines, 60, "each recipient once on the wire");
    assert_eq!(wait_delivered(&marker, 60), 60);
}
