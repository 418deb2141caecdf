//! A delaying TCP proxy on loopback: the kernel here has no netem, so latency is added in
//! user space. Each chunk read from one side is written to the other `one_way` later, with
//! the boundaries it arrived with, so a client that writes three times is seen writing three
//! times. RTT = 2 × `one_way`.
//!
//! Plain threads rather than tokio tasks: tokio's timer wheel has millisecond resolution and
//! rounds sleeps up, which would turn a 5 ms delay into 5–6 ms; `thread::sleep` is accurate
//! to tens of microseconds. Both sockets of the proxy set `TCP_NODELAY`, so the proxy adds no
//! Nagle delay of its own; the contender's own socket is left as the contender configures it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running proxy; it lives as long as the process (the benchmark's runs are bounded).
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Connection>>>,
}

/// One chunk as the proxy read it.
#[derive(Debug, Clone, Copy)]
pub struct Chunk {
    /// When the proxy read it (it is delivered `one_way` later).
    pub at: Instant,
    /// Read from the server (else from the client).
    pub from_server: bool,
}

/// What the proxy saw of one connection.
#[derive(Debug, Clone)]
pub struct Connection {
    /// When the client's connection was accepted.
    pub accepted: Instant,
    /// Every chunk of both directions, in the order read.
    pub chunks: Vec<Chunk>,
}

type Log = Arc<Mutex<Vec<Connection>>>;

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards every connection to `upstream`,
    /// noting each chunk of each connection (see [`Proxy::connections`]).
    pub fn start(upstream: SocketAddr, one_way: Duration) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let log: Log = Arc::default();
        let shared = log.clone();
        thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    if let Err(e) = splice(conn, upstream, one_way, &shared) {
                        eprintln!("proxy: {e}");
                    }
                }
            })?;
        Ok(Proxy { addr, log })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Takes what was seen of the connections so far, oldest first.
    pub fn take_connections(&self) -> Vec<Connection> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn splice(client: TcpStream, upstream: SocketAddr, one_way: Duration, log: &Log) -> io::Result<()> {
    let accepted = Instant::now();
    let server = TcpStream::connect(upstream)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let index = {
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        l.push(Connection {
            accepted,
            chunks: Vec::new(),
        });
        l.len() - 1
    };
    let note = |from_server: bool| {
        let log = log.clone();
        move || {
            let at = Instant::now();
            let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
            // A taken log no longer has this connection: stop noting it.
            if let Some(c) = l.get_mut(index).filter(|c| c.accepted == accepted) {
                c.chunks.push(Chunk { at, from_server });
            }
        }
    };
    pump(
        client.try_clone()?,
        server.try_clone()?,
        one_way,
        note(false),
    )?;
    pump(server, client, one_way, note(true))?;
    Ok(())
}

/// Reader thread timestamps each chunk; writer thread sleeps until its time and writes it.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    one_way: Duration,
    note: impl Fn() + Send + 'static,
) -> io::Result<()> {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::Builder::new()
        .name("proxy-read".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        note();
                        if tx
                            .send((Instant::now() + one_way, buf[..n].to_vec()))
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
            // Dropping tx tells the writer this direction is over.
        })?;
    thread::Builder::new()
        .name("proxy-write".into())
        .spawn(move || {
            while let Ok((due, chunk)) = rx.recv() {
                let now = Instant::now();
                if due > now {
                    thread::sleep(due - now);
                }
                if to.write_all(&chunk).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })?;
    Ok(())
}

/// Measures the round-trip time of an SMTP command through `addr` (median of `n` NOOPs
/// after the greeting and EHLO), so the report divides by the RTT the proxy really gave.
pub fn measure_rtt(addr: SocketAddr, n: usize) -> io::Result<Duration> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = [0u8; 4096];
    read_reply(&mut s, &mut buf)?;
    s.write_all(b"EHLO rtt.example.test\r\n")?;
    read_reply(&mut s, &mut buf)?;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(b"NOOP\r\n")?;
        read_reply(&mut s, &mut buf)?;
        times.push(t.elapsed());
    }
    s.write_all(b"QUIT\r\n")?;
    times.sort();
    Ok(times.get(n / 2).copied().unwrap_or_default())
}

/// Reads until the buffer ends with a final reply line (`ddd SP ... CRLF` or `ddd CRLF`).
fn read_reply(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut len = 0;
    loop {
        let n = s.read(&mut buf[len..])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
        }
        len += n;
        let text = &buf[..len];
        if text.ends_with(b"\r\n") {
            let last = text[..len - 2]
                .rsplit(|&b| b == b'\n')
                .next()
                .unwrap_or_default();
            if last.len() >= 3 && last.get(3) != Some(&b'-') {
                return Ok(());
            }
        }
        if len == buf.len() {
            len = 0;
        }
    }
}
