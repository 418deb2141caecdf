//! Blocking transport: TCP with a connect timeout over every resolved address, NODELAY, and
//! a [`Stream`] that STARTTLS upgrades in place.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::error::Error;
use crate::tls;

/// Connects to `host:port`, trying each A/AAAA address in the resolver's order, each
/// within `timeout`. NODELAY is set: a pipelined group leaves as one segment, at once.
pub(crate) fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Error> {
    let label = format!("{host}:{port}");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|source| Error::Connect {
            host: label.clone(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    for addr in addrs {
        tracing::debug!(%addr, "connecting");
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "connect failed");
                last = e;
            }
        }
    }
    Err(Error::Connect {
        host: label,
        source: last,
    })
}

/// A connection, plain or TLS. STARTTLS replaces `Plain` with `Tls` over the same socket.
#[derive(Debug)]
pub(crate) enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Left behind by a failed upgrade; every operation fails.
    Gone,
}

impl Stream {
    /// The TCP socket underneath.
    pub(crate) fn tcp(&self) -> io::Result<&TcpStream> {
        match self {
            Stream::Plain(s) => Ok(s),
            Stream::Tls(s) => Ok(s.get_ref()),
            Stream::Gone => Err(gone()),
        }
    }

    /// Bounds the next reads and writes (None: wait forever).
    pub(crate) fn set_timeouts(
        &self,
        read: Option<Duration>,
        write: Option<Duration>,
    ) -> io::Result<()> {
        let tcp = self.tcp()?;
        tcp.set_read_timeout(read.filter(|d| !d.is_zero()))?;
        tcp.set_write_timeout(write.filter(|d| !d.is_zero()))
    }

    /// Runs a TLS handshake over the plain socket (STARTTLS, or implicit TLS at connect).
    /// The certificate is verified against `name`; on failure the socket is dropped.
    pub(crate) fn upgrade(
        &mut self,
        config: &Arc<ClientConfig>,
        name: &ServerName<'static>,
        within: Duration,
    ) -> Result<(), Error> {
        let Stream::Plain(_) = self else {
            return Err(crate::error::Misuse::TlsAlreadyUp.into());
        };
        let Stream::Plain(mut tcp) = std::mem::replace(self, Stream::Gone) else {
            return Err(Error::Io(gone()));
        };
        let label = name.to_str();
        let mut conn = ClientConnection::new(Arc::clone(config), name.clone())
            .map_err(|e| Error::Tls(tls::TlsError::from_rustls(&e, &label)))?;
        tcp.set_read_timeout(Some(within).filter(|d| !d.is_zero()))?;
        tcp.set_write_timeout(Some(within).filter(|d| !d.is_zero()))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                // Tell the server why (bad certificate alert) before giving up.
                let _ = conn.write_tls(&mut tcp);
                return Err(match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
                        step: postel_proto::Step::TlsHandshake,
                        state: postel_proto::State::TlsHandshake,
                        within,
                    },
                    _ => tls::io_error(e, &label),
                });
            }
        }
        let (version, suite) = (conn.protocol_version(), conn.negotiated_cipher_suite());
        tracing::debug!(?version, suite = ?suite.map(|s| s.suite()), "TLS established");
        *self = Stream::Tls(Box::new(StreamOwned::new(conn, tcp)));
        Ok(())
    }

    /// The TLS version and cipher suite, when TLS is up.
    pub(crate) fn tls_info(&self) -> Option<String> {
        match self {
            Stream::Tls(s) => Some(format!(
                "{:?} {:?}",
                s.conn.protocol_version()?,
                s.conn.negotiated_cipher_suite()?.suite()
            )),
            _ => None,
        }
    }

    /// False when the server closed the connection or said something unasked (a 421
    /// before closing) while it sat idle: it must not be reused.
    pub(crate) fn looks_alive(&self) -> bool {
        let Ok(tcp) = self.tcp() else {
            return false;
        };
        if tcp.set_nonblocking(true).is_err() {
            return false;
        }
        let mut probe = [0u8; 1];
        let alive = matches!(tcp.peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        tcp.set_nonblocking(false).is_ok() && alive
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection was dropped")
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Err(gone()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(gone()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Err(gone()),
        }
    }
}
