//! TLS session resumption: every connection of one `Client`, `AsyncClient` or `Pool` shares
//! the builder's rustls `ClientConfig` and its in-memory session cache, so a second
//! connection to the same server resumes the first one's session (no certificate chain,
//! no signature: cheaper, and what the benchmark's reconnect section measures). The
//! transcript's TLS note says which handshake each connection had.

use std::time::Duration;

use postel::{Client, Envelope, TlsMode};
use postel_sim::Config;

const MESSAGE: &[u8] = b"Subject: resume\r\n\r\nHello.\r\n";

fn handshakes(t: &postel::Transcript) -> Vec<String> {
    t.entries()
        .iter()
        .filter(|e| e.text.starts_with("TLS established: "))
        .map(|e| e.text.rsplit(", ").next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_blocking_clients_second_connection_resumes_the_tls_session() {
    let sim = postel_sim::BlockingSimulator::start(Config::builder().user("alice", "pw").build())
        .expect("the simulator starts");
    let mut client = Client::builder("127.0.0.1")
        .port(sim.addr().port())
        .tls(TlsMode::StartTls)
        .ca_pem(sim.ca_pem().expect("a generated CA"))
        .ehlo_name("client.test")
        .credentials("alice", "pw")
        .transcript(true)
        .build()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    for _ in 0..2 {
        let report = client.send_bytes(&env, MESSAGE).unwrap();
        assert!(report.encrypted);
        client.quit().unwrap();
    }
    assert_eq!(sim.connections(), 2);
    let got = sim.wait_for_messages(2, Duration::from_secs(5));
    assert!(got.iter().all(|m| m.tls && m.data == MESSAGE));
    let t = client.transcript().unwrap();
    assert_eq!(handshakes(&t), ["full handshake", "resumed session"], "{t}");
}

#[tokio::test]
async fn a_pools_new_connection_resumes_the_session_of_an_earlier_one() {
    let sim = postel_sim::Simulator::start(Config::builder().user("alice", "pw").build())
        .await
        .expect("the simulator starts");
    let pool = Client::builder("127.0.0.1")
        .port(sim.addr().port())
        .tls(TlsMode::StartTls)
        .ca_pem(sim.ca_pem().expect("a generated CA"))
        .ehlo_name("client.test")
        .credentials("alice", "pw")
        // Every connection is closed as soon as it is idle: each send opens a new one.
        .idle_timeout(Duration::ZERO)
        .max_connections(2)
        .transcript(true)
        .build_pool()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    for _ in 0..3 {
        let report = pool.send_bytes(&env, MESSAGE).await.unwrap();
        assert!(report.encrypted);
        // Until the server has seen the QUIT, the pool may still be holding the connection.
        let n = sim.connections();
        sim.wait_for_close(n, Duration::from_secs(5)).await;
    }
    assert_eq!(sim.connections(), 3);
    let t = pool.transcript().unwrap();
    assert_eq!(
        handshakes(&t),
        ["full handshake", "resumed session", "resumed session"],
        "{t}"
    );
    pool.close().await;
}
