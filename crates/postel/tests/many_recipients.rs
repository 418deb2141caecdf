//! Messages to thousands of recipients against the simulator: several flights of RCPT when
//! the send buffer fills, several transactions when the server limits recipients (RFC 5321
//! §4.5.3.1.10), every recipient getting the message exactly once.

use std::collections::HashMap;
use std::time::Duration;

use postel::{Client, Envelope, Options, TlsMode};
use postel_sim::{BlockingSimulator, Config, ReceivedMessage};

const WAIT: Duration = Duration::from_secs(60);

const MESSAGE: &[u8] = b"From: a@client.test\r\nSubject: to many\r\n\r\nHello, all.\r\n";

fn start(config: Config) -> BlockingSimulator {
    BlockingSimulator::start(config).expect("the simulator starts")
}

fn client(sim: &BlockingSimulator, options: Options) -> Client {
    Client::builder("127.0.0.1")
        .port(sim.addr().port())
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        .options(options)
        .transcript(true)
        .build()
        .unwrap()
}

fn addresses(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("rcpt{i:05}@mx.test")).collect()
}

/// How many times each address is a recipient of the messages the simulator received.
fn deliveries(got: &[ReceivedMessage]) -> HashMap<String, usize> {
    let mut count = HashMap::new();
    for m in got {
        for r in m.recipients() {
            *count.entry(r.to_owned()).or_insert(0) += 1;
        }
    }
    count
}

/// The client's writes that carry RCPT commands, and the number of RCPT in each.
fn rcpt_flights(client: &Client) -> Vec<usize> {
    client
        .transcript()
        .unwrap()
        .client_writes()
        .iter()
        .map(|w| w.iter().filter(|l| l.starts_with("RCPT TO:")).count())
        .filter(|&n| n > 0)
        .collect()
}

#[test]
fn a_composed_message_to_3000_recipients_goes_in_several_flights_of_one_transaction() {
    let sim = start(Config::builder().max_recipients(usize::MAX).build());
    let mut client = client(&sim, Options::default());
    let to = addresses(3000);
    let mut builder = postel_mime::Message::builder()
        .from("a@client.test")
        .to("list@mx.test")
        .subject("to many")
        .text("Hello, all.\n");
    for a in &to {
        builder = builder.bcc(a);
    }
    let mut msg = builder.build().unwrap();
    let report = client.send(&mut msg).unwrap();
    assert_eq!(report.accepted.len(), 3001);
    assert!(report.refused.is_empty());

    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1, "one transaction");
    let mut want = vec!["list@mx.test".to_owned()];
    want.extend(to);
    assert_eq!(got[0].recipients(), want);
    // 3001 RCPT lines are more than the 64 KiB send buffer: at least two flights, each
    // written whole before its replies are read.
    let flights = rcpt_flights(&client);
    assert!(flights.len() >= 2, "{flights:?}");
    assert_eq!(flights.iter().sum::<usize>(), 3001);
}

#[test]
fn raw_bytes_to_50000_recipients_go_in_one_transaction_over_many_flights() {
    let sim = start(Config::builder().max_recipients(usize::MAX).build());
    let mut client = client(&sim, Options::default());
    let to = addresses(50_000);
    let report = client
        .send_bytes(&Envelope::new("a@client.test", to.clone()), MESSAGE)
        .unwrap();
    assert_eq!(report.accepted.len(), 50_000);
    assert_eq!(report.accepted[49_999].address, to[49_999]);
    assert!(report.refused.is_empty());

    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients(), to);
    assert_eq!(got[0].data, MESSAGE);
    let flights = rcpt_flights(&client);
    assert!(flights.len() >= 10, "{flights:?}");
    assert_eq!(flights.iter().sum::<usize>(), 50_000);
}

#[test]
fn a_limit_of_100_per_transaction_sends_3000_recipients_in_30_transactions_each_once() {
    let sim = start(Config::builder().max_recipients(100).build());
    let mut client = client(&sim, Options::default());
    let to = addresses(3000);
    let mut builder = postel_mime::Message::builder()
        .from("a@client.test")
        .to(to[0].as_str())
        .subject("to many")
        .text("Hello, all.\n");
    for a in &to[1..] {
        builder = builder.bcc(a);
    }
    let mut msg = builder.build().unwrap();
    let report = client.send(&mut msg).unwrap();
    assert!(report.refused.is_empty(), "{:?}", &report.refused[..1]);
    let accepted: Vec<&str> = report.accepted.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(accepted, to, "every recipient accepted, in envelope order");

    let got = sim.wait_for_messages(30, WAIT);
    assert_eq!(got.len(), 30);
    assert!(got.iter().all(|m| m.recipients().len() == 100));
    let count = deliveries(&got);
    assert_eq!(count.len(), 3000);
    assert!(
        count.values().all(|&n| n == 1),
        "each recipient exactly once"
    );
    // One connection for all of them: the same session goes on.
    assert_eq!(sim.transcripts().len(), 1);
}

#[test]
fn a_limit_of_100_per_transaction_delivers_50000_recipients_exactly_once() {
    let sim = start(Config::builder().max_recipients(100).build());
    let mut client = client(&sim, Options::default());
    let to = addresses(50_000);
    let report = client
        .send_bytes(&Envelope::new("a@client.test", to.clone()), MESSAGE)
        .unwrap();
    assert!(report.refused.is_empty());
    assert_eq!(report.accepted.len(), 50_000);

    let got = sim.wait_for_messages(500, WAIT);
    assert_eq!(got.len(), 500);
    assert!(got.iter().all(|m| m.data == MESSAGE));
    let count = deliveries(&got);
    assert_eq!(count.len(), 50_000);
    assert!(
        count.values().all(|&n| n == 1),
        "each recipient exactly once"
    );
    // Past the first transaction, each takes as many recipients as the server took then:
    // only the first flight's RCPT past the limit are answered 452.
    let sent: usize = rcpt_flights(&client).iter().sum();
    assert!(sent < 50_000 + 5_000, "{sent} RCPT commands");
}

#[test]
fn without_pipelining_or_chunking_the_limit_still_delivers_each_recipient_once() {
    let sim = start(Config::builder().max_recipients(100).build());
    let options = Options {
        pipelining: false,
        chunking: false,
        ..Options::default()
    };
    let mut client = client(&sim, options);
    let to = addresses(250);
    let report = client
        .send_bytes(&Envelope::new("a@client.test", to.clone()), MESSAGE)
        .unwrap();
    assert_eq!(report.accepted.len(), 250);
    let got = sim.wait_for_messages(3, WAIT);
    let sizes: Vec<usize> = got.iter().map(|m| m.recipients().len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let count = deliveries(&got);
    assert_eq!(count.len(), 250);
    assert!(count.values().all(|&n| n == 1));
}

#[test]
fn a_streamed_message_leaves_the_recipients_past_the_limit_refused_with_452() {
    let sim = start(Config::builder().max_recipients(100).build());
    let mut client = client(&sim, Options::default());
    let to = addresses(150);
    let report = client
        .send_reader(&Envelope::new("a@client.test", to.clone()), MESSAGE)
        .unwrap();
    assert_eq!(report.accepted.len(), 100);
    assert_eq!(report.accepted[99].address, to[99]);
    let refused: Vec<&str> = report.refused.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(
        refused,
        to[100..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let r = &report.refused[0].reply;
    assert_eq!((r.code, r.is_transient()), (452, true));
    assert_eq!(r.enhanced.map(|e| e.to_string()), Some("4.5.3".to_owned()));
    let got = sim.wait_for_messages(1, WAIT);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients(), to[..100].to_vec());
}

#[tokio::test]
async fn the_async_client_sends_past_the_limit_in_further_transactions() {
    let sim = postel_sim::Simulator::start(Config::builder().max_recipients(100).build())
        .await
        .expect("the simulator starts");
    let client = Client::builder("127.0.0.1")
        .port(sim.addr().port())
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        .build_async()
        .unwrap();
    let to = addresses(1_050);
    let report = client
        .send_bytes(&Envelope::new("a@client.test", to.clone()), MESSAGE)
        .await
        .unwrap();
    assert!(report.refused.is_empty());
    let accepted: Vec<&str> = report.accepted.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(accepted, to);
    let got = sim.wait_for_messages(11, WAIT).await;
    assert_eq!(got.len(), 11);
    let count = deliveries(&got);
    assert_eq!(count.len(), 1_050);
    assert!(count.values().all(|&n| n == 1));

    // A stream goes once: the recipients past the limit are refused with the 452.
    let report = client
        .send_reader(&Envelope::new("a@client.test", to[..150].to_vec()), MESSAGE)
        .await
        .unwrap();
    assert_eq!(report.accepted.len(), 100);
    assert_eq!(report.refused.len(), 50);
    assert_eq!(report.refused[0].address, to[100]);
    assert_eq!(report.refused[0].reply.code, 452);
    client.quit().await;
}
