//! The blocking and tokio clients against nodemailer's `smtp-server` (Node.js), a third
//! independent server implementation beside Postfix and aiosmtpd. It offers PIPELINING,
//! 8BITMIME, SMTPUTF8, SIZE, DSN, ENHANCEDSTATUSCODES, STARTTLS and AUTH PLAIN, LOGIN,
//! CRAM-MD5, XOAUTH2, but not CHUNKING, so every message goes with DATA.
//!
//! Each test starts its own server (`tests/node/smtp_server.js`, installed by
//! `scripts/node-deps.sh` with `npm ci`) on 127.0.0.1, port 0; the server writes each
//! message's envelope as JSON and its DATA content exactly as received to a folder, before
//! it answers the final dot. Without `node` or the package a test prints a loud SKIP, or
//! panics when CI=true or POSTEL_REQUIRE_SERVERS=1.

mod common;
mod scenarios;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use postel::proto::{AuthFailure, Step};
use postel::{Client, ClientBuilder, Envelope, Error, Mechanism, TlsMode, Transcript};
use serde_json::{json, Value};

use common::{connections, servers_required};
use scenarios::{Framing, ReplyText};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const REFUSED: &str = "nobody@node.postel.test";
const DEFERRED: &str = "busy@node.postel.test";

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

fn node_binary() -> String {
    std::env::var("POSTEL_NODE").unwrap_or_else(|_| "node".to_owned())
}

/// Why the server cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    let node = node_binary();
    match Command::new(&node).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Some(format!("`{node} --version` failed: {}", out.status)),
        Err(e) => return Some(format!("no `{node}` ({e})")),
    }
    let package = node_dir().join("node_modules/smtp-server/package.json");
    if !package.is_file() {
        return Some(format!(
            "{} is missing: run scripts/node-deps.sh (npm ci)",
            package.display()
        ));
    }
    None
}

/// How to start a server; `start` turns it into a running one.
#[derive(Default)]
struct Setup {
    /// STARTTLS with a freshly generated CA and certificate for localhost.
    tls: bool,
    /// MAIL and RCPT before STARTTLS get 530 5.7.0.
    require_tls: bool,
    /// Offer (and require) AUTH for USER / PASSWORD, with these mechanisms.
    auth: Option<&'static str>,
    /// Accept AUTH over plaintext.
    insecure_auth: bool,
    /// RCPT TO:<REFUSED> gets 550 5.1.1.
    refuse: bool,
    /// RCPT TO:<DEFERRED> gets 450.
    defer: bool,
    /// The SIZE limit.
    size: Option<u64>,
}

impl Setup {
    fn start(self, test: &str) -> Option<Server> {
        if let Some(why) = unavailable() {
            if servers_required() {
                panic!(
                    "CI=true (or POSTEL_REQUIRE_SERVERS=1) but nodemailer's smtp-server cannot run: {why}"
                );
            }
            eprintln!("\n*** SKIP {test}: {why} ***\n");
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("smtp-server-node")
            .join(format!(
                "{test}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the server's folder");

        let mut cmd = Command::new(node_binary());
        cmd.arg(node_dir().join("smtp_server.js"))
            .arg("--dir")
            .arg(dir.join("mail"));
        let mut ca_pem = None;
        let size_offered = self.size.is_some();
        if self.tls {
            let pki = generate_pki();
            let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
            std::fs::write(&key, pki.key_pem).unwrap();
            std::fs::write(&cert, pki.chain_pem).unwrap();
            cmd.arg("--key").arg(key).arg("--cert").arg(cert);
            ca_pem = Some(pki.ca_pem);
        }
        if self.require_tls {
            cmd.arg("--require-tls");
        }
        if let Some(methods) = self.auth {
            cmd.arg("--user").arg(format!("{USER}:{PASSWORD}"));
            cmd.arg("--auth-methods").arg(methods);
        }
        if self.insecure_auth {
            cmd.arg("--allow-insecure-auth");
        }
        if self.refuse {
            cmd.arg("--refuse").arg(REFUSED);
        }
        if self.defer {
            cmd.arg("--defer").arg(DEFERRED);
        }
        if let Some(size) = self.size {
            cmd.arg("--size").arg(size.to_string());
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", node_binary()));
        // The server exits when its stdin closes: it never outlives the test process.
        let stdin = child.stdin.take();
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server's first line");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let status = child.wait().ok();
            panic!("smtp_server.js printed {line:?} instead of its port (exit: {status:?})")
        });
        Some(Server {
            child,
            _stdin: stdin,
            port,
            dir,
            ca_pem,
            size_offered,
        })
    }
}

struct Server {
    child: Child,
    _stdin: Option<ChildStdin>,
    port: u16,
    dir: PathBuf,
    ca_pem: Option<String>,
    size_offered: bool,
}

/// One message as the server got it.
#[derive(Debug)]
struct Delivered {
    envelope: Value,
    data: Vec<u8>,
}

impl Delivered {
    fn from(&self) -> &str {
        self.envelope["mailFrom"]["address"].as_str().unwrap()
    }

    fn mail_args(&self) -> &Value {
        &self.envelope["mailFrom"]["args"]
    }

    fn recipients(&self) -> Vec<&str> {
        self.envelope["rcptTo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap())
            .collect()
    }

    /// The login the message came with: its name and mechanism.
    fn user(&self) -> Option<(String, String)> {
        let user = self.envelope.get("user").filter(|u| !u.is_null())?;
        Some((
            user["name"].as_str().unwrap().to_owned(),
            user["method"].as_str().unwrap().to_owned(),
        ))
    }

    fn secure(&self) -> bool {
        self.envelope["secure"].as_bool().unwrap()
    }
}

impl Server {
    fn builder(&self, mode: TlsMode) -> ClientBuilder {
        let mut b = Client::builder("127.0.0.1")
            .port(self.port)
            .tls(mode)
            .tls_name("localhost")
            .ehlo_name("client.postel.test")
            .timeouts(postel::Timeouts {
                greeting: Duration::from_secs(30),
                ..postel::Timeouts::RFC5321
            })
            .transcript(true);
        if let Some(ca) = &self.ca_pem {
            b = b.ca_pem(ca.as_bytes().to_vec());
        }
        b
    }

    /// Every message the server accepted so far, in order. The server writes them before
    /// it answers the final dot, so after a reply nothing is missing.
    fn messages(&self) -> Vec<Delivered> {
        let mail = self.dir.join("mail");
        let mut out = Vec::new();
        for n in 1.. {
            let Ok(json) = std::fs::read(mail.join(format!("{n}.json"))) else {
                break;
            };
            out.push(Delivered {
                envelope: serde_json::from_slice(&json).expect("the envelope JSON"),
                data: std::fs::read(mail.join(format!("{n}.eml"))).expect("the message"),
            });
        }
        out
    }

    /// The one message the server accepted.
    fn only_message(&self) -> Delivered {
        let mut all = self.messages();
        assert_eq!(all.len(), 1, "one message expected: {all:?}");
        all.remove(0)
    }

    /// Every command line the server read, in order (AUTH data redacted by the server).
    fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("mail/commands.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl scenarios::Server for Server {
    fn rcpt(&self, local: &str) -> String {
        format!("{local}@example.test")
    }
    /// With `refuse: true`.
    fn refused(&self) -> String {
        REFUSED.to_owned()
    }
    /// With `auth: Some(..)`.
    fn user(&self) -> (String, String) {
        (USER.to_owned(), PASSWORD.to_owned())
    }
    fn framing(&self) -> Framing {
        Framing::PipelinedData
    }
    /// Offered when the setup has a `size`.
    fn offers_size(&self) -> bool {
        self.size_offered
    }
    /// One message for all of `to`, exactly `wire`.
    fn assert_delivered(&self, marker: &str, wire: &[u8], to: &[String]) {
        let m = scenarios::the_one_holding(self.messages(), |m| &m.data, marker);
        assert_bytes(&m.data, wire);
        assert_eq!(m.recipients(), to);
    }
    fn assert_not_delivered(&self, marker: &str) {
        let messages = self.messages();
        scenarios::assert_none_holds(messages.iter().map(|m| m.data.as_slice()), marker);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("smtp-server's files are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

struct Pki {
    ca_pem: String,
    chain_pem: String,
    key_pem: String,
}

/// A CA and a certificate for localhost and 127.0.0.1 signed by it.
fn generate_pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "postel smtp-server interop test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();

    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        chain_pem: format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        key_pem: leaf_key.serialize_pem(),
    }
}

// ---------------------------------------------------------------------------------------
// Messages and checks
// ---------------------------------------------------------------------------------------

/// Leading dots (one alone on a line, which would end DATA unstuffed), bare LF, bare CR,
/// CR CR LF, an empty line, a last line without a line end.
const TRICKY: &[u8] = b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n\
Subject: dots and bare line ends\r\n\r\n.\r\n.leading dot\r\n..two dots\r\n\
bare LF\n.\n.after a bare LF\nbare CR\r.\r.after a bare CR\rCR CR LF\r\r\n\n\r\n\
..\r\n. \r\ntrailing spaces   \r\nend without a line end";

/// What the server must get for `message`: every bare CR or LF made CRLF, a final CRLF
/// added. Written apart from the client's encoder on purpose.
fn crlf(message: &[u8]) -> Vec<u8> {
    scenarios::normalized(message)
}

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn assert_bytes(got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "delivered bytes differ\n got: {}\nwant: {}",
        show(got),
        show(want)
    );
}

/// Each transaction's MAIL, RCPTs and DATA leave in one write, and BDAT never appears.
fn assert_pipelined_data(t: &Transcript, transactions: usize) {
    scenarios::assert_framing(t, Framing::PipelinedData, transactions);
}

fn client_lines(t: &Transcript) -> Vec<&str> {
    scenarios::client_lines(t)
}

fn rejected(err: Error) -> (Step, postel::ServerReply, Vec<postel::Refused>) {
    match err {
        Error::Rejected {
            step,
            reply,
            refused,
        } => (step, reply, refused),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

fn enhanced(reply: &postel::ServerReply) -> Option<String> {
    reply.enhanced.map(|e| e.to_string())
}

/// 4,336 octets in lines of 72.
fn big_message() -> Vec<u8> {
    let line = [[b'x'; 70].as_slice(), b"\r\n"].concat();
    [b"Subject: big\r\n\r\n".as_slice(), &line.repeat(60)].concat()
}

// ---------------------------------------------------------------------------------------
// Blocking client
// ---------------------------------------------------------------------------------------

#[test]
fn plaintext_session_pipelines_mail_rcpt_data_and_delivers_unstuffed_crlf_bytes() {
    let Some(server) = Setup::default().start("plaintext") else {
        return;
    };
    let mut client = server.builder(TlsMode::Disabled).build().unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let report = client.send_bytes(&env, TRICKY).unwrap();
    assert_eq!(report.reply.code, 250, "{report:?}");
    assert_eq!(enhanced(&report.reply).as_deref(), Some("2.6.0"));
    assert_eq!(report.reply.text, "OK: message 1 queued");
    assert!(!report.encrypted);

    let got = server.only_message();
    assert_bytes(&got.data, &crlf(TRICKY));
    assert_eq!(got.from(), "alice@example.test");
    assert_eq!(got.recipients(), ["bob@example.test"]);
    // No SIZE offered, none declared (RFC 1870 §6); 7-bit content, no BODY.
    assert_eq!(*got.mail_args(), json!(false));
    assert!(!got.secure());

    let t = client.transcript().unwrap();
    assert_pipelined_data(&t, 1);
    assert!(t.contains_line("250-PIPELINING"), "{t}");
    client.quit().unwrap();
    assert_eq!(server.commands().last().map(String::as_str), Some("QUIT"));
}

#[test]
fn dots_and_bare_line_ends_arrive_crlf_normalized_and_unstuffed() {
    let Some(server) = Setup::default().start("dots") else {
        return;
    };
    scenarios::dots_and_bare_line_ends(
        &server,
        &|o| server.builder(TlsMode::Disabled).options(o),
        &[true, false],
    );
    for m in server.messages() {
        assert_eq!(*m.mail_args(), json!({ "BODY": "8BITMIME" }));
    }
}

#[test]
fn a_streamed_body_is_unstuffed_byte_for_byte_across_read_boundaries() {
    let Some(server) = Setup::default().start("streamed") else {
        return;
    };
    // Dots and bare line ends at every offset of 7-byte reads, over many send buffers.
    let mut message = b"Subject: streamed\r\n\r\n".to_vec();
    for i in 0..20_000 {
        message.extend_from_slice(match i % 5 {
            0 => b".\r\n".as_slice(),
            1 => b"..x\n",
            2 => b".\r",
            3 => b"line\r\n",
            _ => b"\n.\n",
        });
    }
    struct Dribble<'a>(&'a [u8]);
    impl std::io::Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut client = server.builder(TlsMode::Disabled).build().unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    client.send_reader(&env, Dribble(&message)).unwrap();
    assert_bytes(&server.only_message().data, &crlf(&message));
}

#[test]
fn starttls_required_encrypts_before_mail_and_plaintext_mail_is_refused() {
    let setup = || Setup {
        tls: true,
        require_tls: true,
        ..Setup::default()
    };
    let Some(server) = setup().start("starttls required") else {
        return;
    };
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    for mode in [TlsMode::StartTls, TlsMode::Opportunistic] {
        let mut client = server.builder(mode).build().unwrap();
        let report = client.send_bytes(&env, TRICKY).unwrap();
        assert!(report.encrypted, "{mode:?}");
        let t = client.transcript().unwrap();
        let lines = client_lines(&t);
        let starttls = lines
            .iter()
            .position(|l| *l == "STARTTLS")
            .expect("STARTTLS");
        let mail = lines
            .iter()
            .position(|l| l.starts_with("MAIL"))
            .expect("MAIL");
        assert!(starttls < mail, "{t}");
        assert_pipelined_data(&t, 1);
    }
    let got = server.messages();
    assert_eq!(got.len(), 2);
    for m in &got {
        assert!(m.secure());
        assert_bytes(&m.data, &crlf(TRICKY));
    }

    // The same server refuses a transaction in plaintext: a permanent, typed refusal.
    let mut client = server.builder(TlsMode::Disabled).build().unwrap();
    let err = client.send_bytes(&env, TRICKY).unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let (step, reply, _) = rejected(err);
    assert_eq!(step, Step::Mail);
    assert_eq!(reply.code, 530);
    assert_eq!(enhanced(&reply).as_deref(), Some("5.7.0"));
    assert!(reply.text.contains("STARTTLS"), "{reply:?}");
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn opportunistic_tls_uses_the_offered_starttls() {
    let Some(server) = Setup {
        tls: true,
        ..Setup::default()
    }
    .start("opportunistic") else {
        return;
    };
    scenarios::opportunistic_tls(&server, server.builder(TlsMode::Opportunistic));
    assert!(server.only_message().secure());
}

#[test]
fn bad_certificates_are_named_and_nothing_private_is_sent() {
    let Some(server) = auth_setup().start("bad certificates") else {
        return;
    };
    // The test CA is not among the platform's roots; the certificate names localhost and
    // 127.0.0.1 only.
    let untrusted = server
        .builder(TlsMode::StartTls)
        .roots(postel::Roots::Platform);
    let got = scenarios::bad_certificate(&server, untrusted, &postel::TlsError::UnknownIssuer);
    assert_eq!(got, postel::TlsError::UnknownIssuer);
    let wrong_name = server.builder(TlsMode::StartTls).tls_name("mx.example.net");
    let expected = postel::TlsError::NotValidForName {
        name: "mx.example.net".to_owned(),
    };
    let got = scenarios::bad_certificate(&server, wrong_name, &expected);
    assert_eq!(got, expected);
    assert!(server.messages().is_empty());
    assert!(!server
        .commands()
        .iter()
        .any(|c| c.starts_with("AUTH") || c.starts_with("MAIL")));
}

#[test]
fn starttls_required_on_a_server_without_it_sends_nothing_private() {
    let Some(server) = Setup {
        auth: Some("PLAIN,LOGIN"),
        insecure_auth: true,
        ..Setup::default()
    }
    .start("no starttls") else {
        return;
    };
    scenarios::starttls_unavailable(&server, server.builder(TlsMode::StartTls));
    let commands = server.commands();
    assert!(
        !commands
            .iter()
            .any(|c| c.starts_with("AUTH") || c.starts_with("MAIL")),
        "{commands:?}"
    );
}

fn auth_setup() -> Setup {
    Setup {
        tls: true,
        require_tls: true,
        auth: Some("PLAIN,LOGIN,CRAM-MD5,XOAUTH2"),
        ..Setup::default()
    }
}

#[test]
fn each_offered_mechanism_logs_in_after_starttls() {
    let Some(server) = auth_setup().start("auth mechanisms") else {
        return;
    };
    let mechanisms = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
    ];
    for (report, t) in scenarios::each_mechanism_logs_in(
        &server,
        &|| server.builder(TlsMode::StartTls),
        &mechanisms,
        "235 2.7.0",
    ) {
        assert!(report.encrypted);
        assert!(t.contains_line("STARTTLS"), "{t}");
    }
    let got = server.messages();
    assert_eq!(got.len(), mechanisms.len());
    for (m, mech) in got.iter().zip(mechanisms) {
        assert_eq!(m.user(), Some((USER.to_owned(), mech.name().to_owned())));
        assert!(m.secure());
    }
}

#[test]
fn the_strongest_offered_mechanism_is_chosen_by_default() {
    let Some(server) = auth_setup().start("auth default") else {
        return;
    };
    scenarios::default_mechanism(
        &server,
        server.builder(TlsMode::StartTls),
        Mechanism::CramMd5,
    );
    assert_eq!(
        server.only_message().user(),
        Some((USER.to_owned(), "CRAM-MD5".to_owned()))
    );

    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    // With a token, the token mechanism.
    let mut client = server
        .builder(TlsMode::StartTls)
        .oauth_token(USER, PASSWORD)
        .build()
        .unwrap();
    let report = client.send_bytes(&env, TRICKY).unwrap();
    assert_eq!(report.authenticated, Some(Mechanism::XOAuth2));
}

#[test]
fn wrong_credentials_are_an_auth_failure_with_nothing_sent() {
    let Some(server) = auth_setup().start("auth wrong") else {
        return;
    };
    scenarios::wrong_password(
        &server,
        &|| server.builder(TlsMode::StartTls),
        &[
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::CramMd5,
            Mechanism::XOAuth2,
        ],
    );
    assert_eq!(server.messages().len(), 0);
    assert!(!server.commands().iter().any(|c| c.starts_with("MAIL")));
}

#[test]
fn auth_over_plaintext_is_refused_unless_allowed() {
    // smtp-server refuses AUTH before STARTTLS only when it offers STARTTLS.
    let Some(server) = Setup {
        tls: true,
        auth: Some("PLAIN,LOGIN,CRAM-MD5"),
        ..Setup::default()
    }
    .start("plaintext auth") else {
        return;
    };
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);

    // Our side refuses: the credentials never leave.
    scenarios::plaintext_auth_refused(&server, server.builder(TlsMode::Disabled));
    assert!(!server.commands().iter().any(|c| c.starts_with("AUTH")));

    // Allowed on our side, the server (allowInsecureAuth off) refuses with 538.
    let mut client = server
        .builder(TlsMode::Disabled)
        .credentials(USER, PASSWORD)
        .mechanism(Mechanism::Plain)
        .dangerous_allow_plaintext_auth(true)
        .build()
        .unwrap();
    let err = client.send_bytes(&env, TRICKY).unwrap_err();
    match &err {
        Error::Protocol(postel::proto::Error::AuthFailed { failure, reply }) => {
            assert_eq!(*failure, AuthFailure::EncryptionRequired);
            assert_eq!(reply.code().get(), 538);
        }
        other => panic!("expected AuthFailed 538, got {other:?}"),
    }
    assert_eq!(server.messages().len(), 0);

    // Allowed on both sides, it works.
    let Some(server) = Setup {
        tls: true,
        auth: Some("PLAIN,LOGIN,CRAM-MD5"),
        insecure_auth: true,
        ..Setup::default()
    }
    .start("plaintext auth allowed") else {
        return;
    };
    let mut client = server
        .builder(TlsMode::Disabled)
        .credentials(USER, PASSWORD)
        .dangerous_allow_plaintext_auth(true)
        .build()
        .unwrap();
    let report = client.send_bytes(&env, TRICKY).unwrap();
    assert_eq!(report.authenticated, Some(Mechanism::CramMd5));
    assert!(!report.encrypted);
    let got = server.only_message();
    assert_eq!(got.user(), Some((USER.to_owned(), "CRAM-MD5".to_owned())));
    assert_bytes(&got.data, &crlf(TRICKY));
}

#[test]
fn a_refused_recipient_is_reported_while_the_others_get_the_message() {
    let Some(server) = Setup {
        refuse: true,
        ..Setup::default()
    }
    .start("refused recipient") else {
        return;
    };
    let mut client = server.builder(TlsMode::Disabled).build().unwrap();
    let text = format!("<{REFUSED}>: Recipient address rejected: User unknown");
    let report = scenarios::refused_recipient(&server, &mut client, ReplyText::Is(&text));
    assert_eq!(report.accepted[0].reply.code, 250);
    assert_eq!(
        enhanced(&report.accepted[0].reply).as_deref(),
        Some("2.1.5")
    );
    assert_eq!(server.messages().len(), 1);

    // Every recipient refused: nothing delivered, a typed refusal, and the session goes on.
    let err = client
        .send_bytes(&Envelope::new("alice@example.test", [REFUSED]), TRICKY)
        .unwrap_err();
    assert!(!err.is_transient());
    let (step, reply, refused) = rejected(err);
    assert_eq!(step, Step::Rcpt);
    assert_eq!(reply.code, 550);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].address, REFUSED);
    let report = client
        .send_bytes(
            &Envelope::new("alice@example.test", ["dave@example.test"]),
            TRICKY,
        )
        .unwrap();
    assert_eq!(report.accepted.len(), 1);
    let t = client.transcript().unwrap();
    assert_eq!(connections(&t), 1, "{t}");
    let got = server.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].recipients(), ["dave@example.test"]);
}

#[test]
fn a_temporarily_refused_recipient_is_transient_and_the_session_goes_on() {
    let Some(server) = Setup {
        defer: true,
        ..Setup::default()
    }
    .start("deferred recipient") else {
        return;
    };
    // smtp-server adds the enhanced code for a 450 at RCPT itself.
    scenarios::temporarily_refused_recipient(
        &server,
        &mut server.builder(TlsMode::Disabled).build().unwrap(),
        DEFERRED,
        450,
        Some("4.2.1"),
    );
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn several_messages_go_over_one_connection_each_in_one_pipelined_write() {
    let Some(server) = auth_setup().start("several messages") else {
        return;
    };
    let mut client = server
        .builder(TlsMode::StartTls)
        .credentials(USER, PASSWORD)
        .build()
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..4 {
        let msg = format!("Subject: message {i}\r\n\r\n.line {i}\n..\r\n").into_bytes();
        let to: Vec<String> = (0..=i).map(|r| format!("r{r}@example.test")).collect();
        let env = Envelope::new(format!("sender{i}@example.test"), to.clone());
        let report = client.send_bytes(&env, &msg).unwrap();
        assert_eq!(report.accepted.len(), i + 1);
        sent.push((env, msg));
    }
    client.quit().unwrap();
    let t = client.transcript().unwrap();
    assert_eq!(connections(&t), 1, "{t}");
    assert_eq!(
        client_lines(&t)
            .iter()
            .filter(|l| l.starts_with("AUTH"))
            .count(),
        1,
        "{t}"
    );
    assert_pipelined_data(&t, sent.len());
    assert!(t.contains_line("221"), "{t}");

    let got = server.messages();
    assert_eq!(got.len(), sent.len());
    for (n, ((env, msg), m)) in sent.iter().zip(&got).enumerate() {
        assert_eq!(m.from(), env.from);
        assert_eq!(m.recipients(), env.to);
        assert_bytes(&m.data, &crlf(msg));
        assert_eq!(m.envelope["transaction"], json!(n + 1));
    }
}

#[test]
fn the_scenario_messages_go_over_one_connection_after_starttls_and_auth() {
    let Some(server) = auth_setup().start("scenario messages") else {
        return;
    };
    scenarios::many_messages_one_connection(
        &server,
        server.builder(TlsMode::StartTls),
        true,
        3,
        &mut |_| 0,
    );
    let got = server.messages();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(Delivered::secure));
}

#[test]
fn an_smtputf8_message_with_utf8_addresses_arrives_intact() {
    let Some(server) = Setup::default().start("smtputf8") else {
        return;
    };
    let mut client = server.builder(TlsMode::Disabled).build().unwrap();
    scenarios::smtputf8(
        &server,
        &mut client,
        "jörg@example.test",
        "zoë@example.test",
    );
    let got = server.only_message();
    assert_eq!(got.from(), "jörg@example.test");
    assert_eq!(
        *got.mail_args(),
        json!({ "BODY": "8BITMIME", "SMTPUTF8": true })
    );
    assert_eq!(got.envelope["bodyType"], json!("8bitmime"));
    assert_eq!(got.envelope["smtpUtf8"], json!(true));

    // A composed message with an 8-bit body and a UTF-8 header, as the encoder wrote it.
    let mut composed = postel_mime::Message::builder()
        .from("Jörg <jörg@example.test>")
        .to("Zoë <zoë@example.test>")
        .subject("Grüße aus Zürich")
        .text("Zwei Zeilen,\n.mit Punkt und Ümlaut.\n")
        .build()
        .unwrap();
    client.send(&mut composed).unwrap();
    let opts = postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    let got = server.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].from(), "jörg@example.test");
    assert_eq!(got[1].recipients(), ["zoë@example.test"]);
    assert_bytes(&got[1].data, &composed.to_vec(&opts).unwrap());
}

#[test]
fn a_message_over_the_size_limit_is_refused_before_any_of_it_is_sent() {
    let Some(server) = Setup {
        size: Some(2000),
        ..Setup::default()
    }
    .start("size") else {
        return;
    };
    let mut client = server.builder(TlsMode::Disabled).build().unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let t = scenarios::over_size_limit(&server, &mut client, 2000);
    assert!(t.contains_line("250 SIZE 2000"), "{t}");
    assert!(!t.contains_line("DATA"), "{t}");
    assert_eq!(server.commands(), ["EHLO client.postel.test"]);

    // A message within the limit still goes, declaring its size.
    let small = b"Subject: small\r\n\r\nfits\r\n";
    client.send_bytes(&env, small).unwrap();
    let got = server.only_message();
    assert_eq!(*got.mail_args(), json!({ "SIZE": small.len().to_string() }));
    assert_bytes(&got.data, small);
    assert_eq!(connections(&client.transcript().unwrap()), 1);

    // Of unknown size, the message is abandoned once it passes the limit: the server
    // never gets its end of data, and keeps nothing.
    let mut client = server.builder(TlsMode::Disabled).build().unwrap();
    scenarios::streamed_over_size_limit(&server, &mut client, 2000, big_message().len());
    assert_eq!(server.messages().len(), 1);
}

// ---------------------------------------------------------------------------------------
// tokio AsyncClient
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn async_client_starttls_auth_several_messages_on_one_connection() {
    let Some(server) = Setup {
        refuse: true,
        ..auth_setup()
    }
    .start("async auth") else {
        return;
    };
    let client = server
        .builder(TlsMode::StartTls)
        .credentials(USER, PASSWORD)
        .mechanism(Mechanism::Login)
        .build_async()
        .unwrap();
    let env = Envelope::new("alice@example.test", ["bob@example.test", REFUSED]);
    for _ in 0..3 {
        let report = client.send_bytes(&env, TRICKY).await.unwrap();
        assert!(report.encrypted);
        assert_eq!(report.authenticated, Some(Mechanism::Login));
        assert_eq!(report.refused.len(), 1);
        assert_eq!(report.refused[0].reply.code, 550);
        assert_eq!(enhanced(&report.refused[0].reply).as_deref(), Some("5.1.1"));
    }
    let utf8 = "Subject: Grüße\r\n\r\nÜ\n.\n".as_bytes();
    client
        .send_bytes(
            &Envelope::new("jörg@example.test", ["zoë@example.test"]),
            utf8,
        )
        .await
        .unwrap();
    scenarios::async_client_done(&server, client, 4).await;
    let got = server.messages();
    assert_eq!(got.len(), 4);
    for m in &got[..3] {
        assert_eq!(m.recipients(), ["bob@example.test"]);
        assert_eq!(m.user(), Some((USER.to_owned(), "LOGIN".to_owned())));
        assert!(m.secure());
        assert_bytes(&m.data, &crlf(TRICKY));
    }
    assert_eq!(got[3].from(), "jörg@example.test");
    assert_eq!(got[3].mail_args()["SMTPUTF8"], json!(true));
    assert_bytes(&got[3].data, &crlf(utf8));
}

#[tokio::test]
async fn async_client_plaintext_auth_refusal_and_size_limit() {
    let Some(server) = Setup {
        auth: Some("PLAIN,LOGIN,CRAM-MD5"),
        size: Some(2000),
        ..Setup::default()
    }
    .start("async refusals") else {
        return;
    };
    let env = Envelope::new("alice@example.test", ["bob@example.test"]);
    let client = server
        .builder(TlsMode::Disabled)
        .credentials(USER, PASSWORD)
        .build_async()
        .unwrap();
    let err = client.send_bytes(&env, TRICKY).await.unwrap_err();
    assert!(
        matches!(err, Error::Protocol(postel::proto::Error::AuthRequiresTls)),
        "{err:?}"
    );
    assert!(!server.commands().iter().any(|c| c.starts_with("AUTH")));

    let Some(server) = Setup {
        tls: true,
        size: Some(2000),
        ..Setup::default()
    }
    .start("async size") else {
        return;
    };
    let client = server.builder(TlsMode::StartTls).build_async().unwrap();
    let big = big_message();
    match client.send_bytes(&env, big.clone()).await {
        Err(Error::Protocol(postel::proto::Error::MessageTooLarge { size, limit })) => {
            assert_eq!((size, limit), (crlf(&big).len() as u64, 2000));
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    let t = client.transcript().unwrap();
    assert!(!t.contains_line("MAIL"), "{t}");
    assert!(!server.commands().iter().any(|c| c.starts_with("MAIL")));
    let report = client.send_bytes(&env, TRICKY).await.unwrap();
    assert!(report.encrypted);
    assert_bytes(&server.only_message().data, &crlf(TRICKY));
    client.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_delivers_concurrently_over_starttls_with_auth() {
    let Some(server) = auth_setup().start("pool") else {
        return;
    };
    scenarios::pool_delivers_concurrently(
        &server,
        server.builder(TlsMode::StartTls),
        Mechanism::CramMd5,
    )
    .await;
    assert_eq!(server.messages().len(), 9);
    assert!(server.messages().iter().all(Delivered::secure));
}
