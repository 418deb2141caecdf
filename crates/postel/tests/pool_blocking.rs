//! The pool reads message content on tokio's blocking threads: an attachment whose reads
//! block (as a disk or a network file system does) never holds up the runtime's workers.

use std::io::Read;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use postel::{Client, TlsMode};
use postel_sim::{Config, Simulator};

/// Chunks of the attachment, and their size.
const CHUNKS: usize = 16;
const CHUNK: usize = 64 * 1024;
/// How long the whole send may take before the runtime counts as stuck (a liveness bound
/// for a run that would otherwise hang forever, not a measurement).
const STUCK: Duration = Duration::from_secs(120);

/// The attachment's content: a deterministic pattern.
fn chunk(i: usize) -> Vec<u8> {
    (0..CHUNK).map(|j| (i * 31 + j * 7) as u8).collect()
}

/// A reader whose reads block until another task hands it the next chunk.
struct Fed {
    rx: std_mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Fed {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.buf = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn compose(content: impl Read + Send + 'static) -> postel_mime::Message {
    let len = (CHUNKS * CHUNK) as u64;
    postel_mime::Message::builder()
        .from("a@client.test")
        .to("b@mx.test")
        .subject("attachment")
        .text("see attached\n")
        .attach(postel_mime::Attachment::from_reader("blob.bin", content, Some(len)).unwrap())
        .date(postel_mime::DateTime::from_unix(1_700_000_000, 0).unwrap())
        .message_id(postel_mime::MessageId::new("fixed", "client.test").unwrap())
        .build()
        .unwrap()
}

/// What the runtime's thread saw: the chunks the feeder task reported handing over, the
/// bytes the simulator got, and the message given back to the caller.
struct Outcome {
    fed: Vec<usize>,
    delivered: Vec<u8>,
    accepted: usize,
    message: postel_mime::Message,
}

#[test]
fn a_blocking_attachment_read_does_not_hold_up_a_current_thread_runtime() {
    let (done_tx, done_rx) = std_mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let outcome = rt.block_on(async {
            let sim = Simulator::start(Config::builder().build()).await.unwrap();
            let pool = Client::builder("127.0.0.1")
                .port(sim.addr().port())
                .tls(TlsMode::Disabled)
                .ehlo_name("client.test")
                .build_pool()
                .unwrap();
            let (data_tx, data_rx) = std_mpsc::channel();
            let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();
            // Another task on the only worker thread: it hands over the attachment a chunk
            // at a time, so the encoder's reads wait for it. Were they run on the worker,
            // this task could never run again.
            let feeder = tokio::spawn(async move {
                for i in 0..CHUNKS {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    data_tx.send(chunk(i)).unwrap();
                    progress_tx.send(i).unwrap();
                }
            });
            let mut message = compose(Fed {
                rx: data_rx,
                buf: Vec::new(),
                pos: 0,
            });
            let report = pool.send(&mut message).await.unwrap();
            feeder.await.unwrap();
            let mut fed = Vec::new();
            while let Ok(i) = progress_rx.try_recv() {
                fed.push(i);
            }
            let got = sim.wait_for_messages(1, Duration::from_secs(5)).await;
            pool.close().await;
            Outcome {
                fed,
                delivered: got[0].data.clone(),
                accepted: report.accepted.len(),
                message,
            }
        });
        let _ = done_tx.send(outcome);
    });
    let outcome = done_rx
        .recv_timeout(STUCK)
        .expect("the runtime was stuck: the encoder's blocking read ran on its worker");
    assert_eq!(outcome.fed, (0..CHUNKS).collect::<Vec<_>>());
    assert_eq!(outcome.accepted, 1);
    let whole: Vec<u8> = (0..CHUNKS).flat_map(chunk).collect();
    let opts = postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    let expected = compose(std::io::Cursor::new(whole)).to_vec(&opts).unwrap();
    assert!(
        outcome.delivered == expected,
        "delivered bytes differ from the encoder's"
    );
    // The message lent to the encoding thread came back to the caller.
    assert_eq!(
        outcome.message.message_id().map(ToString::to_string),
        Some("<fixed@client.test>".to_owned())
    );
}
