//! A minimal SMTP sink with STARTTLS, for the TLS throughput figures: a thread per
//! connection, rustls (ring) on the server side, replies written only when the client's
//! input is drained (so a pipelined group is answered in one write, as smtp-sink does),
//! nothing stored. Its certificate is made with `openssl` at start: a CA every contender
//! trusts and a leaf for `localhost` and 127.0.0.1.
//!
//! It understands EHLO/HELO, STARTTLS, MAIL, RCPT, DATA, BDAT, RSET, NOOP and QUIT, and
//! offers PIPELINING, CHUNKING, 8BITMIME and STARTTLS: enough for every contender, and as
//! cheap on the server side as SMTP over TLS can be, so the ratio to plaintext is the
//! clients' own.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A running sink; its threads live as long as the process.
#[derive(Debug)]
pub struct TlsSink {
    addr: SocketAddr,
    ca: String,
}

impl TlsSink {
    /// Makes the certificates in `dir` and listens on an ephemeral loopback port.
    pub fn start(dir: &Path) -> io::Result<TlsSink> {
        std::fs::create_dir_all(dir)?;
        let (chain, key) = certificates(dir)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(io::Error::other)?;
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        std::thread::Builder::new()
            .name("tls-sink".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let config = config.clone();
                    let _ = std::thread::Builder::new()
                        .name("tls-sink-conn".into())
                        .spawn(move || {
                            let _ = serve(conn, &config);
                        });
                }
            })?;
        Ok(TlsSink {
            addr,
            ca: dir.join("ca.pem").to_string_lossy().into_owned(),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate file (PEM) the contenders trust.
    pub fn ca(&self) -> &str {
        &self.ca
    }
}

/// A CA and a leaf for `localhost` and 127.0.0.1, made with `openssl` (P-256).
fn certificates(dir: &Path) -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let ext = d("leaf.ext");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )?;
    let steps: [Vec<String>; 3] = [
        [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=postel-bench CA",
            "-keyout",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([d("ca.key"), "-out".into(), d("ca.pem")])
        .collect(),
        [
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([d("leaf.key"), "-out".into(), d("leaf.csr")])
        .collect(),
        ["x509", "-req", "-days", "2", "-CAcreateserial", "-in"]
            .iter()
            .map(|s| s.to_string())
            .chain([
                d("leaf.csr"),
                "-CA".into(),
                d("ca.pem"),
                "-CAkey".into(),
                d("ca.key"),
                "-extfile".into(),
                ext.clone(),
                "-out".into(),
                d("leaf.pem"),
            ])
            .collect(),
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(&args)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "openssl {}: {}",
                args[0],
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    let chain = CertificateDer::pem_file_iter(d("leaf.pem"))
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(io::Error::other)?;
    let key = PrivateKeyDer::from_pem_file(d("leaf.key")).map_err(io::Error::other)?;
    Ok((chain, key))
}

/// Plain TCP, then TLS after STARTTLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

const EHLO: &[u8] = b"250-localhost\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n\
250-SIZE 0\r\n250 STARTTLS\r\n";
const EHLO_TLS: &[u8] = b"250-localhost\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n\
250 SIZE 0\r\n";

/// One connection: commands in, replies out, written when the input is drained.
fn serve(tcp: TcpStream, config: &Arc<ServerConfig>) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(64 * 1024, Conn::Plain(tcp));
    let mut out: Vec<u8> = b"220 localhost ESMTP postel-bench TLS sink\r\n".to_vec();
    let mut tls = false;
    let mut line = Vec::new();
    loop {
        if reader.buffer().is_empty() && !out.is_empty() {
            reader.get_mut().write_all(&out)?;
            reader.get_mut().flush()?;
            out.clear();
        }
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let upper: Vec<u8> = line.iter().take(8).map(u8::to_ascii_uppercase).collect();
        let verb = |v: &[u8]| upper.starts_with(v);
        if verb(b"EHLO") {
            out.extend_from_slice(if tls { EHLO_TLS } else { EHLO });
        } else if verb(b"HELO") {
            out.extend_from_slice(b"250 localhost\r\n");
        } else if verb(b"STARTTLS") && !tls {
            reader
                .get_mut()
                .write_all(b"220 2.0.0 Ready to start TLS\r\n")?;
            let Conn::Plain(tcp) = reader.into_inner() else {
                return Ok(());
            };
            let conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
            reader = BufReader::with_capacity(
                64 * 1024,
                Conn::Tls(Box::new(StreamOwned::new(conn, tcp))),
            );
            tls = true;
        } else if verb(b"MAIL") || verb(b"RCPT") || verb(b"RSET") || verb(b"NOOP") {
            out.extend_from_slice(b"250 2.0.0 Ok\r\n");
        } else if verb(b"DATA") {
            out.extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
            reader.get_mut().write_all(&out)?;
            out.clear();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" {
                    break;
                }
            }
            out.extend_from_slice(b"250 2.0.0 Ok: queued\r\n");
        } else if verb(b"BDAT") {
            let text = String::from_utf8_lossy(&line);
            let size: u64 = text
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            io::copy(&mut (&mut reader).take(size), &mut io::sink())?;
            out.extend_from_slice(if text.to_ascii_uppercase().contains("LAST") {
                b"250 2.0.0 Ok: queued\r\n"
            } else {
                b"250 2.0.0 Ok\r\n"
            });
        } else if verb(b"QUIT") {
            out.extend_from_slice(b"221 2.0.0 Bye\r\n");
            reader.get_mut().write_all(&out)?;
            reader.get_mut().flush()?;
            if let Conn::Tls(s) = reader.get_mut() {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            return Ok(());
        } else {
            out.extend_from_slice(b"502 5.5.2 Error: command not recognized\r\n");
        }
    }
}
