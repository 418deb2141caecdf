//! End to end: embedded-tls's blocking TlsConnection with our ChainVerifier, over a std
//! TcpStream, against `openssl s_server -tls1_3` on 127.0.0.1 serving each fixture chain.
//! The handshake's outcome (and the verifier's reason) is asserted; after a good handshake a
//! line goes through (`-rev`: the server sends each line back reversed).
//!
//! Needs the `openssl` command (as tests/data/gen.sh does); it is part of the test set-up
//! and the tests fail, not skip, without it.

use embedded_io_adapters::std::FromStd;
use embedded_tls::blocking::TlsConnection;
use embedded_tls::{Aes128GcmSha256, TlsConfig, TlsContext, TlsError};
use postel_device::verify::{
    pem_block, trust_anchor, ChainVerifier, UnixTime, VerifyFailure, VerifyingProvider,
};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// 2027-01-15T08:00:00Z, inside the long-lived fixtures' validity.
const NOW: u64 = 1_800_000_000;

fn path(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// An `openssl s_server` on 127.0.0.1, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Serves `cert` (+ `chain`, if any) with `key`, TLS 1.3 only.
    fn start(cert: &str, key: &str, chain: Option<&str>) -> Server {
        Self::start_with(cert, key, chain, &[])
    }

    /// As [`start`](Self::start), with more s_server options.
    fn start_with(cert: &str, key: &str, chain: Option<&str>, extra: &[&str]) -> Server {
        // A free port: bind, read it, release it for s_server.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-tls1_3", "-rev", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-cert", &path(cert), "-key", &path(key)]);
        if let Some(chain) = chain {
            cmd.args(["-cert_chain", &path(chain)]);
        }
        cmd.args(extra);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        // s_server prints ACCEPT once it listens.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            let n = out.read_line(&mut line).unwrap();
            assert!(n > 0, "openssl s_server exited before listening");
            if line.starts_with("ACCEPT") {
                break;
            }
        }
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to `server`, trusting `root_pem`, with `host` as server name (None: no name).
/// Returns the outcome of `open` (as Debug text: TlsError has no PartialEq), the verifier's
/// failure, and on success the server's reply to a line.
fn handshake(
    server: &Server,
    root_pem: &str,
    host: Option<&str>,
) -> (Result<(), String>, Option<VerifyFailure>, Option<String>) {
    let pem = std::fs::read(path(root_pem)).unwrap();
    let mut der = [0u8; 2048];
    let (root, _) = pem_block(&pem, "CERTIFICATE", &mut der).unwrap();
    let anchors = [trust_anchor(root).unwrap()];
    let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW));
    let mut provider = VerifyingProvider {
        rng: rand::rngs::OsRng,
        verifier: ChainVerifier::<Aes128GcmSha256>::new(&anchors, now),
    };
    let mut config = TlsConfig::new().enable_rsa_signatures();
    if let Some(host) = host {
        config = config.with_server_name(host);
    }

    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut read_buf = vec![0u8; 16640];
    let mut write_buf = vec![0u8; 4096];
    let mut tls: TlsConnection<'_, FromStd<TcpStream>, Aes128GcmSha256> =
        TlsConnection::new(FromStd::new(stream), &mut read_buf, &mut write_buf);
    let opened = tls.open(TlsContext::new(&config, &mut provider));
    let reply = match opened {
        Ok(()) => {
            assert!(provider.verifier.is_verified());
            tls.write(b"postel\n").unwrap();
            tls.flush().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while !got.ends_with(b"\n") {
                let n = tls.read(&mut buf).unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            Some(String::from_utf8(got).unwrap())
        }
        Err(_) => None,
    };
    (
        opened.map_err(|e: TlsError| format!("{e:?}")),
        provider.verifier.failure(),
        reply,
    )
}

#[test]
fn ecdsa_chain_handshake_succeeds() {
    let server = Server::start("ec-leaf.pem", "ec-leaf.key.pem", Some("ec-inter.pem"));
    assert_eq!(
        handshake(&server, "ec-root.pem", Some("mail.example.test")),
        (Ok(()), None, Some("letsop\n".into()))
    );
}

#[test]
fn ecdsa_chain_handshake_by_ip_address() {
    let server = Server::start("ec-leaf.pem", "ec-leaf.key.pem", Some("ec-inter.pem"));
    assert_eq!(
        handshake(&server, "ec-root.pem", Some("127.0.0.1")).0,
        Ok(())
    );
}

#[cfg(feature = "rsa")]
#[test]
fn rsa_chain_handshake_succeeds_with_pss_certificate_verify() {
    let server = Server::start("rsa-leaf.pem", "rsa-leaf.key.pem", Some("rsa-inter.pem"));
    assert_eq!(
        handshake(&server, "rsa-root.pem", Some("mail.example.test")),
        (Ok(()), None, Some("letsop\n".into()))
    );
}

#[test]
fn wrong_host_handshake_fails() {
    let server = Server::start("ec-leaf.pem", "ec-leaf.key.pem", Some("ec-inter.pem"));
    assert_eq!(
        handshake(&server, "ec-root.pem", Some("smtp.example.test")),
        (
            Err("InvalidCertificate".into()),
            Some(VerifyFailure::WrongName),
            None
        )
    );
}

#[test]
fn untrusted_root_handshake_fails() {
    let server = Server::start("ec-leaf.pem", "ec-leaf.key.pem", Some("ec-inter.pem"));
    assert_eq!(
        handshake(&server, "ec-other-root.pem", Some("mail.example.test")),
        (
            Err("InvalidCertificate".into()),
            Some(VerifyFailure::UnknownIssuer),
            None
        )
    );
}

#[test]
fn missing_intermediate_handshake_fails() {
    let server = Server::start("ec-leaf.pem", "ec-leaf.key.pem", None);
    assert_eq!(
        handshake(&server, "ec-root.pem", Some("mail.example.test")),
        (
            Err("InvalidCertificate".into()),
            Some(VerifyFailure::UnknownIssuer),
            None
        )
    );
}

#[test]
fn expired_certificate_handshake_fails() {
    let server = Server::start("ec-expired.pem", "ec-expired.key.pem", Some("ec-inter.pem"));
    assert_eq!(
        handshake(&server, "ec-root.pem", Some("mail.example.test")),
        (
            Err("InvalidCertificate".into()),
            Some(VerifyFailure::Expired {
                now: NOW,
                not_after: 1_609_459_200
            }),
            None
        )
    );
}

#[test]
fn no_server_name_handshake_fails() {
    let server = Server::start("ec-leaf.pem", "ec-leaf.key.pem", Some("ec-inter.pem"));
    assert_eq!(
        handshake(&server, "ec-root.pem", None),
        (
            Err("InvalidCertificate".into()),
            Some(VerifyFailure::NoHostName),
            None
        )
    );
}

#[cfg(feature = "rsa")]
#[test]
fn weak_rsa_key_handshake_fails() {
    // OpenSSL's own security level refuses to serve a 1024-bit key unless lowered.
    let server = Server::start_with(
        "rsa-weak.pem",
        "rsa-weak.key.pem",
        Some("rsa-inter.pem"),
        &["-cipher", "DEFAULT:@SECLEVEL=0"],
    );
    assert_eq!(
        handshake(&server, "rsa-root.pem", Some("mail.example.test")),
        (
            Err("InvalidSignature".into()),
            Some(VerifyFailure::UnsupportedKeySize),
            None
        )
    );
}

/// A P-384 server (CertificateVerify `ecdsa_secp384r1_sha384`) with the `p384` feature.
#[cfg(feature = "p384")]
#[test]
fn p384_chain_handshake_succeeds() {
    let server = Server::start(
        "ec384-leaf.pem",
        "ec384-leaf.key.pem",
        Some("ec384-inter.pem"),
    );
    assert_eq!(
        handshake(&server, "ec384-root.pem", Some("mail.example.test")),
        (Ok(()), None, Some("letsop\n".into()))
    );
}
