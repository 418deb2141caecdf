//! A raw TCP client for driving the simulator byte by byte.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The socket, plain or after STARTTLS.
pub enum Io {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

impl Io {
    /// Flushes and shuts the write side, leaving the server to read what was sent.
    pub fn flush_and_close(&mut self) -> std::io::Result<()> {
        self.flush()?;
        if let Io::Plain(s) = self {
            s.shutdown(std::net::Shutdown::Write)?;
        }
        Ok(())
    }
}

impl Read for Io {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(b),
            Io::Tls(s) => s.read(b),
            Io::Gone => Ok(0),
        }
    }
}

impl Write for Io {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(b),
            Io::Tls(s) => s.write(b),
            Io::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
            Io::Gone => Ok(()),
        }
    }
}

/// A rustls client configuration trusting only `ca_pem`.
pub fn client_tls(ca_pem: &str) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("CA PEM")).expect("add CA");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A plain socket with a read buffer; every read has a 10 s timeout.
pub struct Raw {
    pub stream: Io,
    buf: Vec<u8>,
    /// Sizes of the reads that returned data, in order.
    pub read_sizes: Vec<usize>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect to the simulator");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream: Io::Plain(stream),
            buf: Vec::new(),
            read_sizes: Vec::new(),
        }
    }

    /// Connects and reads the greeting, checking it is a 220.
    pub fn greeted(addr: SocketAddr) -> Raw {
        let mut r = Raw::connect(addr);
        let g = r.reply();
        assert!(g.starts_with("220 "), "greeting: {g:?}");
        r
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    fn fill(&mut self) -> usize {
        let mut b = [0u8; 8192];
        match self.stream.read(&mut b) {
            Ok(n) => {
                if n > 0 {
                    self.read_sizes.push(n);
                }
                self.buf.extend_from_slice(&b[..n]);
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!(
                "read failed: {e}; buffered {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Reads one whole reply, or `None` if the connection closes first.
    pub fn try_reply(&mut self) -> Option<String> {
        let mut start = 0;
        loop {
            while let Some(pos) = self.buf[start..].iter().position(|b| *b == b'\n') {
                let line = &self.buf[start..start + pos + 1];
                start += pos + 1;
                if line.len() < 4 || line[3] != b'-' {
                    let out: Vec<u8> = self.buf.drain(..start).collect();
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
            }
            if self.fill() == 0 {
                return None;
            }
        }
    }

    /// Handshakes TLS over the socket (after a 220 to STARTTLS), trusting `ca_pem`.
    pub fn upgrade(&mut self, ca_pem: &str) -> std::io::Result<()> {
        let Io::Plain(tcp) = std::mem::replace(&mut self.stream, Io::Gone) else {
            panic!("already TLS");
        };
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let conn = rustls::ClientConnection::new(client_tls(ca_pem), name).expect("client");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        self.stream = Io::Tls(Box::new(tls));
        Ok(())
    }

    /// Reads one whole reply (all its lines), returned with its CRLFs.
    pub fn reply(&mut self) -> String {
        let mut start = 0;
        loop {
            while let Some(pos) = self.buf[start..].iter().position(|b| *b == b'\n') {
                let line = &self.buf[start..start + pos + 1];
                start += pos + 1;
                if line.len() < 4 || line[3] != b'-' {
                    let out: Vec<u8> = self.buf.drain(..start).collect();
                    return String::from_utf8_lossy(&out).into_owned();
                }
            }
            if self.fill() == 0 {
                panic!(
                    "connection closed mid-reply; buffered {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    /// Sends a command line (CRLF added) and returns the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Whether the server has closed: sends NOOP and sees if any reply comes back.
    pub fn is_closed(&mut self) -> bool {
        if self.stream.write_all(b"NOOP\r\n").is_err() {
            return true;
        }
        self.try_reply().is_none()
    }

    /// Reads everything up to EOF.
    pub fn rest(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buf)
    }

    /// Asserts the server closes without sending anything more.
    pub fn expect_closed(&mut self) {
        let rest = self.rest();
        assert_eq!(
            String::from_utf8_lossy(&rest),
            "",
            "expected a close with no more bytes"
        );
    }

    /// Reads exactly `n` bytes.
    pub fn exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            if self.fill() == 0 {
                break;
            }
        }
        let take = n.min(self.buf.len());
        self.buf.drain(..take).collect()
    }

    /// EHLO and the standard envelope, up to the 354.
    pub fn envelope(&mut self, from: &str, to: &[&str]) {
        assert!(self.cmd("EHLO client.test").starts_with("250"));
        assert_eq!(self.cmd(&format!("MAIL FROM:<{from}>")), "250 2.1.0 Ok\r\n");
        for t in to {
            assert_eq!(self.cmd(&format!("RCPT TO:<{t}>")), "250 2.1.5 Ok\r\n");
        }
    }
}

/// Measures how long `f` takes.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}
