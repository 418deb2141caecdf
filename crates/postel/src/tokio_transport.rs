//! tokio transport: TCP with a connect timeout over every resolved address, NODELAY, and
//! an [`AsyncStream`] that STARTTLS upgrades in place (tokio-rustls).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::Error;
use crate::tls;

/// Connects to `host:port`, trying each A/AAAA address in the resolver's order, each
/// within `timeout`; NODELAY is set.
pub(crate) async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Error> {
    let label = format!("{host}:{port}");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|source| Error::Connect {
            host: label.clone(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    for addr in addrs {
        tracing::debug!(%addr, "connecting");
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
        }
        tracing::debug!(%addr, error = %last, "connect failed");
    }
    Err(Error::Connect {
        host: label,
        source: last,
    })
}

/// A connection, plain or TLS.
#[derive(Debug)]
pub(crate) enum AsyncStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// Left behind by a failed upgrade.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection was dropped")
}

impl AsyncStream {
    /// Runs a TLS handshake over the plain socket, verifying the certificate for `name`.
    pub(crate) async fn upgrade(
        &mut self,
        config: &Arc<ClientConfig>,
        name: &ServerName<'static>,
        within: Duration,
    ) -> Result<(), Error> {
        let AsyncStream::Plain(tcp) = std::mem::replace(self, AsyncStream::Gone) else {
            return Err(crate::error::Misuse::TlsAlreadyUp.into());
        };
        let label = name.to_str().into_owned();
        let connector = TlsConnector::from(Arc::clone(config));
        let tls = match tokio::time::timeout(within, connector.connect(name.clone(), tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(tls::io_error(e, &label)),
            Err(_) => {
                return Err(Error::Timeout {
                    step: postel_proto::Step::TlsHandshake,
                    state: postel_proto::State::TlsHandshake,
                    within,
                })
            }
        };
        *self = AsyncStream::Tls(Box::new(tls));
        Ok(())
    }

    /// The TLS version and cipher suite, when TLS is up.
    pub(crate) fn tls_info(&self) -> Option<String> {
        match self {
            AsyncStream::Tls(s) => {
                let c = s.get_ref().1;
                Some(format!(
                    "{:?} {:?}",
                    c.protocol_version()?,
                    c.negotiated_cipher_suite()?.suite()
                ))
            }
            _ => None,
        }
    }
}

impl AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            AsyncStream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            AsyncStream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_flush(cx),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            AsyncStream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            AsyncStream::Gone => Poll::Ready(Ok(())),
        }
    }
}
