//! The connection under a session: plain TCP, or TLS over it.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// A plain or TLS connection, read and written by the session.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Closed,
}

impl Stream {
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
            Stream::Closed => Ok(0),
        }
    }

    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Closed => Err(io::Error::new(io::ErrorKind::NotConnected, "closed")),
        }
    }

    /// Writes one byte per segment, pausing between them.
    pub(crate) async fn dribble(&mut self, bytes: &[u8]) -> io::Result<()> {
        for b in bytes {
            self.write_all(std::slice::from_ref(b)).await?;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    /// An orderly close (TLS close_notify, then FIN).
    pub(crate) async fn shutdown(&mut self) {
        match self {
            Stream::Plain(s) => {
                let _ = s.shutdown().await;
            }
            Stream::Tls(s) => {
                let _ = s.shutdown().await;
            }
            Stream::Closed => {}
        }
        *self = Stream::Closed;
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}
