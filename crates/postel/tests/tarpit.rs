//! A tarpit: a server that dribbles a byte now and then and never finishes its reply. The
//! RFC 5321 timeouts bound the wait for a whole reply, not each read, so both clients give
//! up with a timeout naming the state instead of waiting as long as the server likes.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use postel::{Client, Envelope, Error, State, Timeouts, TlsMode};

/// Serves one connection: an endless multi-line greeting, one byte every 20 ms, until the
/// client hangs up or `stop` is set (then it closes).
fn tarpit(stop: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_nodelay(true).unwrap();
        let line = b"220-tarpit.test still thinking\r\n";
        for &b in line.iter().cycle() {
            if stop.load(Ordering::Relaxed) || sock.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    addr
}

fn builder(addr: SocketAddr) -> postel::ClientBuilder {
    Client::builder("127.0.0.1")
        .port(addr.port())
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        .timeouts(Timeouts {
            greeting: Duration::from_millis(400),
            ..Timeouts::RFC5321
        })
}

fn assert_greeting_timeout(result: Result<postel::SendReport, Error>) {
    match result {
        Err(Error::Timeout {
            step,
            state,
            within,
        }) => {
            assert_eq!(step, postel::Step::Greeting);
            assert_eq!(state, State::AwaitingGreeting);
            assert_eq!(within, Duration::from_millis(400));
        }
        other => panic!("expected a greeting timeout, got {other:?}"),
    }
}

#[test]
fn the_blocking_client_gives_up_on_a_dribbling_greeting() {
    let stop = Arc::new(AtomicBool::new(false));
    let addr = tarpit(stop.clone());
    // Without a deadline per reply every read gets a byte in 20 ms and the session hangs
    // until the server stops (60 s here, then a connection-closed error, not a timeout).
    let watchdog = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(60));
            stop.store(true, Ordering::Relaxed);
        })
    };
    let result = builder(addr).build().and_then(|mut c| {
        let env = Envelope::new("a@client.test", ["b@mx.test"]);
        c.send_bytes(&env, &b"Subject: t\r\n\r\nhi\r\n"[..])
    });
    stop.store(true, Ordering::Relaxed);
    assert_greeting_timeout(result);
    drop(watchdog);
}

#[tokio::test]
async fn the_async_client_gives_up_on_a_dribbling_greeting() {
    let stop = Arc::new(AtomicBool::new(false));
    let addr = tarpit(stop.clone());
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let client = builder(addr).build_async().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    let result = client
        .send_bytes(&env, &b"Subject: t\r\n\r\nhi\r\n"[..])
        .await;
    stop.store(true, Ordering::Relaxed);
    stopper.abort();
    assert_greeting_timeout(result);
}
