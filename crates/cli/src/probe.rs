//! `postel probe HOST[:PORT]`: what a server offers, as `openssl s_client -starttls smtp`
//! and `swaks --quit-after AUTH` show it, in one view. It sends no credentials and no
//! message: greeting, EHLO, STARTTLS (or implicit TLS), EHLO again, QUIT.
//!
//! ```text
//! S: 220 mx.example ESMTP
//! C: EHLO probe.postel.invalid
//! S: 250-mx.example / 250-STARTTLS / ...
//! C: STARTTLS
//! S: 220 2.0.0 Ready to start TLS
//!    (handshake: version, cipher suite, chain; verified or why not)
//! C: EHLO probe.postel.invalid
//! S: 250-mx.example / 250-AUTH PLAIN LOGIN / ...
//! C: QUIT
//! ```
//! The certificate is verified (platform roots or `--ca-file`, and the host name), but a
//! failure does not stop the probe: it is reported, and the exit code is 69.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};
use serde_json::{json, Value};

use postel::embedded::StdClock;
use postel::proto::drive::{blocking, embedded_io, Deadline, DriveError, Stop};
use postel::proto::reply::ReplyError;
use postel::proto::{
    Client as Core, Config, Error as ProtoError, Options, Step, Timeouts, TlsMode as ProtoTls,
};
use postel::TlsMode;

use crate::cli::ProbeArgs;
use crate::exit::{self, Failure};
use crate::output;
use crate::server::{default_port, split_host_port};

const TIMEOUT: Duration = Duration::from_secs(15);

/// What the verifier saw: the chain, and the verdict.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    verdict: Option<Result<(), String>>,
}

/// Verifies as a client would, records the outcome, and lets the handshake go on.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Mutex<Seen>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            .map(|_| ())
            .map_err(|e| why(&e));
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        seen.verdict = Some(verdict);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Why a certificate does not verify, in words.
fn why(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "unknown issuer: it does not chain to a trusted CA (self-signed, or a CA that was not given)".to_owned(),
            C::Expired | C::ExpiredContext { .. } => "expired".to_owned(),
            C::NotValidYet | C::NotValidYetContext { .. } => "not valid yet".to_owned(),
            C::NotValidForName | C::NotValidForNameContext { .. } => "not valid for this host name".to_owned(),
            C::Revoked => "revoked".to_owned(),
            C::BadSignature => "bad signature".to_owned(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => "not a TLS server certificate (extended key usage)".to_owned(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

/// The socket, plain or TLS; `Gone` while STARTTLS moves it into the handshake.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    Gone,
}

/// A failure of the socket, as the core's driver loop sees it.
#[derive(Debug)]
struct IoFail(std::io::Error);

impl std::fmt::Display for IoFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoFail {}

impl embedded_io::Error for IoFail {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

/// The transport the core drives: the socket, and a copy of every byte in each direction
/// (what the probe shows; the core has checked each reply before the session goes on).
struct Wire {
    conn: Conn,
    log: Vec<(char, Vec<u8>)>,
}

impl Wire {
    fn record(&mut self, side: char, bytes: &[u8]) {
        match self.log.last_mut() {
            Some((s, b)) if *s == side => b.extend_from_slice(bytes),
            _ => self.log.push((side, bytes.to_vec())),
        }
    }

    /// Every line so far, server text made inert.
    fn lines(&self) -> Vec<(char, String)> {
        let mut out = Vec::new();
        for (side, bytes) in &self.log {
            for line in bytes.split_inclusive(|&b| b == b'\n') {
                let text = String::from_utf8_lossy(line);
                let text = text.trim_end_matches(['\r', '\n']);
                out.push((*side, output::inert(text).into_owned()));
            }
        }
        out
    }
}

fn gone() -> IoFail {
    IoFail(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the connection was dropped",
    ))
}

impl embedded_io::ErrorType for Wire {
    type Error = IoFail;
}

impl embedded_io::Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoFail> {
        let n = match &mut self.conn {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
            Conn::Gone => return Err(gone()),
        }
        .map_err(IoFail)?;
        self.record('S', &buf[..n]);
        Ok(n)
    }
}

impl embedded_io::Write for Wire {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IoFail> {
        let n = match &mut self.conn {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
            Conn::Gone => return Err(gone()),
        }
        .map_err(IoFail)?;
        self.record('C', &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), IoFail> {
        match &mut self.conn {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
            Conn::Gone => return Err(gone()),
        }
        .map_err(IoFail)
    }
}

fn roots(args: &ProbeArgs) -> Result<RootCertStore, Failure> {
    let mut store = RootCertStore::empty();
    match &args.ca_file {
        Some(p) => {
            let certs = CertificateDer::pem_file_iter(p)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| Failure::config(format!("CA file {}: {e}", p.display())))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Failure::config(format!(
                    "CA file {}: no certificate in it",
                    p.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
        }
    }
    Ok(store)
}

struct TlsFacts {
    version: String,
    suite: String,
    seen: Seen,
}

fn handshake(
    tcp: TcpStream,
    args: &ProbeArgs,
    host: &str,
) -> Result<(StreamOwned<ClientConnection, TcpStream>, TlsFacts), Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(args)?), provider.clone())
            .build()
            .map_err(|e| Failure::config(format!("certificate verifier: {e}")))?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::config(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Recording {
            inner,
            seen: Arc::clone(&seen),
        }))
        .with_no_client_auth();
    let name_str = args.tls_name.as_deref().unwrap_or(host);
    let name = ServerName::try_from(name_str.to_owned())
        .map_err(|e| Failure::config(format!("server name {name_str:?}: {e}")))?;
    let conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| Failure::config(format!("TLS: {e}")))?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("TLS handshake failed: {e}")))?;
    }
    let version = stream
        .conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let suite = stream
        .conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    Ok((
        stream,
        TlsFacts {
            version,
            suite,
            seen,
        },
    ))
}

/// One certificate's subject, issuer, validity and names.
fn describe(der: &CertificateDer<'_>) -> Value {
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, cert)) => {
            let not_after = cert.validity().not_after;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let names: Vec<String> = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|san| san.value.general_names.iter().map(general_name).collect())
                .unwrap_or_default();
            json!({
                "subject": cert.subject().to_string(),
                "issuer": cert.issuer().to_string(),
                "not_before": cert.validity().not_before.to_string(),
                "not_after": not_after.to_string(),
                "days_left": (not_after.timestamp() - now) / 86_400,
                "names": names,
            })
        }
        Err(e) => json!({ "error": format!("cannot parse the certificate: {e}") }),
    }
}

fn general_name(n: &x509_parser::extensions::GeneralName<'_>) -> String {
    use x509_parser::extensions::GeneralName as G;
    match n {
        G::DNSName(d) => (*d).to_owned(),
        G::RFC822Name(m) => format!("email:{m}"),
        G::IPAddress(b) => match b.len() {
            4 => <[u8; 4]>::try_from(*b)
                .map(|a| std::net::IpAddr::from(a).to_string())
                .unwrap_or_default(),
            16 => <[u8; 16]>::try_from(*b)
                .map(|a| std::net::IpAddr::from(a).to_string())
                .unwrap_or_default(),
            _ => format!("{b:02x?}"),
        },
        other => other.to_string(),
    }
}

/// Why the session stopped before the probe had everything, in the probe's words: a
/// problem to report with what was seen (exit 69), or a failure (no report).
enum Ended {
    Problem(String),
    Failed(Failure),
}

/// Drives the core until it is idle (greeting, EHLO, STARTTLS and EHLO again, as the mode
/// says), doing the TLS handshake when it asks.
fn session(
    core: &mut Core<'_>,
    wire: &mut Wire,
    deadline: &Deadline<StdClock>,
    args: &ProbeArgs,
    host: &str,
    tls: &mut Option<TlsFacts>,
) -> Result<(), Ended> {
    loop {
        let stop = blocking::run(core, wire, &mut &b""[..], deadline, |_| {});
        match stop.map_err(|e| ended(e, wire))? {
            Stop::Idle => return Ok(()),
            Stop::StartTls => {
                let Conn::Plain(tcp) = std::mem::replace(&mut wire.conn, Conn::Gone) else {
                    return Err(Ended::Failed(Failure::new(
                        exit::SOFTWARE,
                        "STARTTLS on a TLS connection",
                    )));
                };
                let (s, facts) = handshake(tcp, args, host).map_err(Ended::Failed)?;
                *tls = Some(facts);
                wire.conn = Conn::Tls(Box::new(s));
                wire.log.push(('*', b"TLS established".to_vec()));
                core.handle_tls_ready()
                    .map_err(|e| ended(DriveError::Session(e), wire))?;
            }
            Stop::Closed | Stop::Recipients => {
                return Err(Ended::Failed(Failure::new(
                    exit::TEMPFAIL,
                    "the server closed the connection",
                )))
            }
        }
    }
}

/// "greeting refused: ...", "EHLO refused: ..." or "STARTTLS refused: ...": the reply to
/// the greeting, or to the last `what` command sent.
fn refusal(lines: &[(char, String)], what: &str) -> String {
    let start = match what {
        "greeting" => 0,
        _ => lines
            .iter()
            .rposition(|(s, l)| *s == 'C' && l.split(' ').next() == Some(what))
            .map_or(lines.len(), |i| i + 1),
    };
    let reply: Vec<&str> = lines[start..]
        .iter()
        .take_while(|(s, _)| *s == 'S')
        .map(|(_, l)| l.as_str())
        .collect();
    format!("{what} refused: {}", reply.join(" / "))
}

/// The command whose refusal ended the session at `step`.
fn refused_command(step: Step) -> &'static str {
    match step {
        Step::Greeting => "greeting",
        Step::StartTls => "STARTTLS",
        _ => "EHLO",
    }
}

/// What a failure of the core's loop means for the probe.
fn ended(e: DriveError<IoFail>, wire: &Wire) -> Ended {
    let fail = |code, msg: String| Ended::Failed(Failure::new(code, msg));
    match e {
        DriveError::Transport(IoFail(e)) => fail(exit::TEMPFAIL, format!("connection: {e}")),
        DriveError::WriteZero => fail(exit::TEMPFAIL, "the connection took no bytes".into()),
        DriveError::Timeout(step) => fail(
            exit::TEMPFAIL,
            format!("no reply to {step} within {}s", TIMEOUT.as_secs()),
        ),
        DriveError::Body(_) => fail(exit::SOFTWARE, "the probe sends no message".into()),
        DriveError::Session(e) => match e {
            ProtoError::Rejected { step, .. } | ProtoError::ServiceClosing { step, .. } => {
                Ended::Problem(refusal(&wire.lines(), refused_command(step)))
            }
            ProtoError::TlsUnavailable { reply: Some(_) } => {
                Ended::Problem(refusal(&wire.lines(), "STARTTLS"))
            }
            ProtoError::TlsUnavailable { reply: None } => {
                Ended::Problem("the server does not offer STARTTLS".to_owned())
            }
            ProtoError::MalformedReply {
                error: ReplyError::TooLong,
                ..
            } => fail(
                exit::PROTOCOL,
                format!(
                    "a reply longer than {} bytes: not an SMTP server",
                    Options::default().max_reply_bytes
                ),
            ),
            ProtoError::MalformedReply { .. } => fail(
                exit::PROTOCOL,
                format!("not an SMTP reply: {e}: {:?}", last_line(wire)),
            ),
            ProtoError::DataAfterStartTls => fail(
                exit::PROTOCOL,
                "the server sent bytes after its 220 to STARTTLS, before the handshake (an injection attempt, RFC 3207 §6)".into(),
            ),
            ProtoError::ConnectionClosed { .. } | ProtoError::Closed => {
                fail(exit::TEMPFAIL, "the server closed the connection".into())
            }
            other => fail(exit::PROTOCOL, other.to_string()),
        },
    }
}

/// The last server line read (inert).
fn last_line(wire: &Wire) -> String {
    wire.lines()
        .into_iter()
        .rev()
        .find(|(s, _)| *s == 'S')
        .map(|(_, l)| l)
        .unwrap_or_default()
}

/// Runs `postel probe`; returns the exit code.
pub fn run(args: &ProbeArgs) -> Result<u8, Failure> {
    let (host, port) = split_host_port(&args.server)?;
    let mode = args.tls.unwrap_or(if port == Some(465) {
        TlsMode::Implicit
    } else {
        TlsMode::StartTls
    });
    let port = port.unwrap_or(default_port(mode));
    let endpoint = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| Failure::new(exit::TEMPFAIL, format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = None;
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, TIMEOUT) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(format!("{a}: {e}")),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        Failure::new(
            exit::TEMPFAIL,
            format!(
                "cannot connect to {endpoint}: {}",
                last.unwrap_or_else(|| "no address".into())
            ),
        )
    })?;
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let _ = tcp.set_read_timeout(Some(TIMEOUT));
    let _ = tcp.set_write_timeout(Some(TIMEOUT));

    // The core runs the session: no credentials, so no AUTH; no envelope, so no MAIL.
    // Opportunistic in both STARTTLS modes, so that the session ends with QUIT: a refused
    // or missing STARTTLS is what the probe reports, not the end of the session.
    let mut config = Config::new(&args.helo);
    config.tls = match mode {
        TlsMode::StartTls | TlsMode::Opportunistic => ProtoTls::Opportunistic,
        TlsMode::Implicit => ProtoTls::Implicit,
        TlsMode::Disabled => ProtoTls::Disabled,
    };
    config.timeouts = Timeouts::all(TIMEOUT);
    let (mut rx, mut tx) = (vec![0u8; 4096], vec![0u8; 4096]);
    let mut core = Core::new(config, &mut rx, &mut tx)
        .map_err(|e| Failure::config(format!("--helo {:?}: {e}", args.helo)))?;
    let deadline = Deadline::new(StdClock::new());

    let mut tls = None;
    let conn = if mode == TlsMode::Implicit {
        let (s, facts) = handshake(tcp, args, &host)?;
        tls = Some(facts);
        Conn::Tls(Box::new(s))
    } else {
        Conn::Plain(tcp)
    };
    let mut wire = Wire {
        conn,
        log: Vec::new(),
    };
    let ended = session(&mut core, &mut wire, &deadline, args, &host, &mut tls);
    let mut problem = match ended {
        Ok(()) => None,
        Err(Ended::Problem(p)) => Some(p),
        Err(Ended::Failed(mut f)) => {
            if !wire.log.iter().any(|(s, _)| *s == 'S') && mode != TlsMode::Implicit {
                f.message.push_str(
                    " (no greeting: if the port speaks TLS from the first byte, try --tls implicit)",
                );
            }
            return Err(f);
        }
    };
    // The core falls back to HELO when EHLO is refused; the probe reports the refusal.
    let lines = wire.lines();
    if let Some(at) = lines
        .iter()
        .position(|(s, l)| *s == 'C' && l.starts_with("HELO "))
    {
        problem = Some(refusal(&lines[..at], "EHLO"));
    }
    // The core goes on in plaintext after a refused STARTTLS, or without STARTTLS when it
    // is not offered; the probe reports either (the latter only in STARTTLS mode).
    if tls.is_none() && problem.is_none() && lines.iter().any(|(s, l)| *s == 'C' && l == "STARTTLS")
    {
        problem = Some(refusal(&lines, "STARTTLS"));
    }
    if mode == TlsMode::StartTls && tls.is_none() && problem.is_none() {
        problem = Some("the server does not offer STARTTLS".to_owned());
    }
    // The reply to the last EHLO; none when the greeting or EHLO was refused.
    let refused = problem
        .as_deref()
        .is_some_and(|p| p.starts_with("greeting ") || p.starts_with("EHLO "));
    let ehlo = (!refused).then(|| {
        let at = lines
            .iter()
            .rposition(|(s, l)| *s == 'C' && l.starts_with("EHLO "))
            .map_or(lines.len(), |i| i + 1);
        lines[at..]
            .iter()
            .take_while(|(s, _)| *s == 'S')
            .map(|(_, l)| l.clone())
            .collect::<Vec<_>>()
    });
    if core.quit().is_ok() {
        let _ = blocking::run(&mut core, &mut wire, &mut &b""[..], &deadline, |_| {});
    }
    finish(args, &host, &endpoint, &peer, &lines, tls, ehlo, problem)
}

/// The EHLO keywords (and their parameters) of a 250 reply, without the greeting line.
fn keywords(ehlo: &[String]) -> Vec<String> {
    ehlo.iter()
        .skip(1)
        .filter_map(|l| l.get(4..))
        .map(str::to_owned)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn finish(
    args: &ProbeArgs,
    host: &str,
    endpoint: &str,
    peer: &str,
    log: &[(char, String)],
    tls: Option<TlsFacts>,
    ehlo: Option<Vec<String>>,
    problem: Option<String>,
) -> Result<u8, Failure> {
    let greeting: Vec<&str> = log
        .iter()
        .take_while(|(s, _)| *s == 'S')
        .map(|(_, l)| l.as_str())
        .collect();
    let exts = ehlo.as_deref().map(keywords).unwrap_or_default();
    let auth: Vec<String> = exts
        .iter()
        .find_map(|k| {
            let mut w = k.split_whitespace();
            w.next()
                .filter(|v| v.eq_ignore_ascii_case("AUTH"))
                .map(|_| w.map(str::to_owned).collect())
        })
        .unwrap_or_default();
    let verified = tls.as_ref().and_then(|t| t.seen.verdict.clone());
    let code = match (&problem, &verified) {
        (Some(_), _) | (_, Some(Err(_))) => exit::UNAVAILABLE,
        _ => exit::OK,
    };
    let tls_json = tls.as_ref().map(|t| {
        json!({
            "version": t.version,
            "cipher_suite": t.suite,
            "verified": matches!(t.seen.verdict, Some(Ok(()))),
            "verify_error": match &t.seen.verdict { Some(Err(e)) => Some(e.clone()), _ => None },
            "chain": t.seen.chain.iter().map(describe).collect::<Vec<_>>(),
        })
    });
    let mut out = output::stdout();
    let io = |e: std::io::Error| Failure::new(exit::IOERR, format!("writing the output: {e}"));
    if args.json {
        let v = json!({
            "server": endpoint,
            "address": peer,
            "greeting": greeting,
            "extensions": exts,
            "tls": tls_json,
            "auth": auth,
            "problem": problem,
            "exit_code": code,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
        .map_err(io)?;
        return Ok(code);
    }
    let h = anstyle::Style::new().bold();
    let good = anstyle::AnsiColor::Green.on_default().bold();
    let bad = anstyle::AnsiColor::Red.on_default().bold();
    writeln!(out, "{h}Server{h:#}      {endpoint} ({peer})").map_err(io)?;
    writeln!(
        out,
        "{h}Greeting{h:#}    {}",
        greeting.join("\n            ")
    )
    .map_err(io)?;
    writeln!(out, "{h}Extensions{h:#}  {}", exts.join("\n            ")).map_err(io)?;
    match (&tls, tls_json) {
        (Some(t), Some(j)) => {
            writeln!(out, "{h}TLS{h:#}         {} {}", t.version, t.suite).map_err(io)?;
            match &t.seen.verdict {
                Some(Ok(())) => writeln!(
                    out,
                    "{h}Certificate{h:#} {good}verified{good:#} for {}",
                    args.tls_name.as_deref().unwrap_or(host)
                ),
                Some(Err(e)) => writeln!(
                    out,
                    "{h}Certificate{h:#} {bad}NOT verified{bad:#}: {}",
                    output::inert(&e.to_string())
                ),
                None => writeln!(out, "{h}Certificate{h:#} none seen"),
            }
            .map_err(io)?;
            for (i, c) in j["chain"].as_array().into_iter().flatten().enumerate() {
                writeln!(
                    out,
                    "  [{i}] subject  {}",
                    output::inert(c["subject"].as_str().unwrap_or("?"))
                )
                .map_err(io)?;
                writeln!(
                    out,
                    "      issuer   {}",
                    output::inert(c["issuer"].as_str().unwrap_or("?"))
                )
                .map_err(io)?;
                writeln!(
                    out,
                    "      expires  {} ({} days)",
                    c["not_after"].as_str().unwrap_or("?"),
                    c["days_left"]
                )
                .map_err(io)?;
                if let Some(names) = c["names"].as_array().filter(|n| !n.is_empty()) {
                    let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
                    let names = output::inert(&names.join(", ")).into_owned();
                    writeln!(out, "      names    {names}").map_err(io)?;
                }
            }
        }
        _ => writeln!(out, "{h}TLS{h:#}         {bad}none{bad:#}").map_err(io)?,
    }
    writeln!(
        out,
        "{h}AUTH{h:#}        {}",
        if auth.is_empty() {
            "not offered".to_owned()
        } else {
            auth.join(" ")
        }
    )
    .map_err(io)?;
    if let Some(p) = &problem {
        let p = output::inert(p);
        writeln!(out, "{bad}Problem{bad:#}     {p}").map_err(io)?;
    }
    Ok(code)
}
