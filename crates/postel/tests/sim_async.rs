//! The tokio client and pool against the in-process simulator.

use std::time::Duration;

use postel::{Client, Envelope, Error, TlsMode};
use postel_sim::fault::{Action, Fault, Step as SimStep};
use postel_sim::{Config, Simulator, Transfer};

const WAIT: Duration = Duration::from_secs(5);
const MESSAGE: &[u8] = b"Subject: async\r\n\r\nHello.\r\n.dot\r\nZ\xc3\xbcrich\r\n";

async fn start(config: Config) -> Simulator {
    Simulator::start(config)
        .await
        .expect("the simulator starts")
}

fn builder(sim: &Simulator) -> postel::ClientBuilder {
    Client::builder("127.0.0.1")
        .port(sim.addr().port())
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        .transcript(true)
}

#[tokio::test]
async fn async_client_delivers_the_exact_bytes_and_keeps_the_connection() {
    let sim = start(Config::builder().build()).await;
    let client = builder(&sim).build_async().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    for _ in 0..3 {
        let report = client.send_bytes(&env, MESSAGE).await.unwrap();
        assert_eq!(report.accepted.len(), 1);
        assert!(!report.encrypted);
    }
    let got = sim.wait_for_messages(3, WAIT).await;
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|m| m.data == MESSAGE && m.transfer == Transfer::Bdat));
    assert_eq!(sim.connections(), 1);
    let t = client.transcript().unwrap();
    let group = t
        .client_writes()
        .into_iter()
        .find(|w| w.iter().any(|l| l.starts_with("MAIL")))
        .unwrap();
    assert_eq!(
        group.len(),
        4,
        "MAIL, RCPT, BDAT and its content in one write: {group:?}"
    );
    client.quit().await;
    let closed = sim.wait_for_close(1, WAIT).await.expect("closed");
    assert_eq!(closed.client_lines().last().copied(), Some("QUIT"));
}

#[tokio::test]
async fn async_starttls_and_auth_with_the_sims_ca() {
    let sim = start(Config::builder().user("alice", "pw").build()).await;
    let client = builder(&sim)
        .tls(TlsMode::StartTls)
        .ca_pem(sim.ca_pem().unwrap())
        .credentials("alice", "pw")
        .build_async()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    let report = client.send_bytes(&env, MESSAGE).await.unwrap();
    assert!(report.encrypted);
    assert_eq!(report.authenticated, Some(postel::Mechanism::ScramSha256));
    let got = sim.wait_for_messages(1, WAIT).await;
    assert!(got[0].tls);
    assert_eq!(got[0].auth_user.as_deref(), Some("alice"));
    let t = client.transcript().unwrap().to_string();
    assert!(t.contains("C: AUTH SCRAM-SHA-256 <redacted>"), "{t}");
}

#[tokio::test]
async fn async_refused_recipient_is_reported() {
    let sim = start(
        Config::builder()
            .fault(Fault::refuse_recipient(
                "nobody@mx.test",
                550,
                "5.1.1 no such user",
            ))
            .build(),
    )
    .await;
    let client = builder(&sim).build_async().unwrap();
    let env = Envelope::new("a@client.test", ["nobody@mx.test", "b@mx.test"]);
    let report = client.send_bytes(&env, MESSAGE).await.unwrap();
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].address, "nobody@mx.test");
    assert_eq!(report.refused[0].reply.code, 550);
    assert_eq!(report.accepted[0].address, "b@mx.test");
    assert_eq!(
        sim.wait_for_messages(1, WAIT).await[0].recipients(),
        ["b@mx.test"]
    );
}

#[tokio::test]
async fn async_reader_is_streamed() {
    let sim = start(Config::builder().build()).await;
    let client = builder(&sim).build_async().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]).eight_bit(true);
    let big: Vec<u8> = (0..5000)
        .flat_map(|i| format!("line {i} of a long message\r\n").into_bytes())
        .collect();
    let expected = big.clone();
    client
        .send_reader(&env, std::io::Cursor::new(big))
        .await
        .unwrap();
    assert_eq!(sim.wait_for_messages(1, WAIT).await[0].data, expected);
}

#[tokio::test]
async fn async_composed_message() {
    let sim = start(Config::builder().build()).await;
    let client = builder(&sim).build_async().unwrap();
    let mut msg = postel_mime::Message::builder()
        .from("a@client.test")
        .to("b@mx.test")
        .bcc("c@mx.test")
        .subject("Grüße")
        .text("Hallo\n")
        .build()
        .unwrap();
    let report = client.send(&mut msg).await.unwrap();
    assert_eq!(report.accepted.len(), 2);
    let got = sim.wait_for_messages(1, WAIT).await;
    let opts = postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    assert_eq!(got[0].data, msg.to_vec(&opts).unwrap());
}

/// A composed message with a streamed attachment, in a spawned task (the future is Send):
/// the encoder's chunks reach the connection task as they are produced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_composed_message_with_attachment_streams() {
    fn compose() -> postel_mime::Message {
        // 3 MiB of a deterministic pattern, read through a reader (not held in memory).
        let pattern = std::io::Read::take(std::io::repeat(0xa5), 3 << 20);
        postel_mime::Message::builder()
            .from("a@client.test")
            .to("b@mx.test")
            .subject("attachment")
            .text("see attached\n")
            .attach(
                postel_mime::Attachment::from_reader("blob.bin", pattern, Some(3 << 20)).unwrap(),
            )
            .date(postel_mime::DateTime::from_unix(1_700_000_000, 0).unwrap())
            .message_id(postel_mime::MessageId::new("fixed", "client.test").unwrap())
            .build()
            .unwrap()
    }
    let sim = start(Config::builder().build()).await;
    let client = builder(&sim).build_async().unwrap();
    let report = tokio::spawn(async move {
        let mut msg = compose();
        client.send(&mut msg).await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.accepted.len(), 1);
    let got = sim.wait_for_messages(1, WAIT).await;
    let opts = postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    let expected = compose().to_vec(&opts).unwrap();
    assert!(expected.len() > 4 << 20, "base64 of 3 MiB");
    assert!(
        got[0].data == expected,
        "delivered bytes differ from the encoder's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_sends_concurrently_over_a_bounded_number_of_connections() {
    let sim = start(Config::builder().build()).await;
    let pool = builder(&sim).max_connections(3).build_pool().unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let pool = pool.clone();
        set.spawn(async move {
            let env = Envelope::new("a@client.test", [format!("r{i}@mx.test")]);
            pool.send_bytes(&env, format!("Subject: {i}\r\n\r\nmessage {i}\r\n"))
                .await
        });
    }
    while let Some(r) = set.join_next().await {
        let report = r.unwrap().unwrap();
        assert_eq!(report.reply.code, 250);
    }
    let got = sim.wait_for_messages(20, WAIT).await;
    assert_eq!(got.len(), 20);
    for m in &got {
        let i = m.recipients()[0]
            .trim_start_matches('r')
            .trim_end_matches("@mx.test")
            .to_owned();
        assert_eq!(
            m.data,
            format!("Subject: {i}\r\n\r\nmessage {i}\r\n").into_bytes()
        );
    }
    assert!(sim.connections() <= 3, "{} connections", sim.connections());
    assert!(pool.idle_connections() <= 3);
    pool.close().await;
    assert_eq!(pool.idle_connections(), 0);
}

#[tokio::test]
async fn the_pool_never_reuses_a_connection_closed_with_421() {
    let sim = start(
        Config::builder()
            .fault(Fault::new(SimStep::Mail, Action::Reply421).on_connection(1))
            .build(),
    )
    .await;
    let pool = builder(&sim).max_connections(1).build_pool().unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    let err = pool.send_bytes(&env, MESSAGE).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol(postel::proto::Error::ServiceClosing { .. })
        ),
        "{err:?}"
    );
    assert_eq!(pool.idle_connections(), 0);
    pool.send_bytes(&env, MESSAGE).await.unwrap();
    assert_eq!(sim.connections(), 2);
}

#[tokio::test]
async fn the_pool_quits_connections_idle_too_long() {
    let sim = start(Config::builder().build()).await;
    let pool = builder(&sim)
        .idle_timeout(Duration::from_millis(100))
        .build_pool()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    pool.send_bytes(&env, MESSAGE).await.unwrap();
    let closed = sim.wait_for_close(1, WAIT).await.expect("closed when idle");
    assert_eq!(closed.client_lines().last().copied(), Some("QUIT"));
    assert_eq!(pool.idle_connections(), 0);
    // The next message opens a new connection.
    pool.send_bytes(&env, MESSAGE).await.unwrap();
    assert_eq!(sim.connections(), 2);
}

#[tokio::test]
async fn an_async_bad_certificate_is_named() {
    let sim = start(Config::builder().build()).await;
    let client = builder(&sim)
        .tls(TlsMode::StartTls)
        .roots(postel::Roots::Platform)
        .build_async()
        .unwrap();
    let env = Envelope::new("a@client.test", ["b@mx.test"]);
    let err = client.send_bytes(&env, MESSAGE).await.unwrap_err();
    assert!(
        matches!(err, Error::Tls(postel::TlsError::UnknownIssuer)),
        "{err:?}"
    );
    assert!(sim.messages().is_empty());
}
