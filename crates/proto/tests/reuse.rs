//! `Client::reusable`: the one answer to "may this connection take another message?",
//! after each way a transaction or a session can end, driven by the blocking loop.

use std::convert::Infallible;

use embedded_io::{ErrorType, Read, Write};
use postel_proto::drive::{blocking, Clock, Deadline, DriveError, Stop};
use postel_proto::{Client, Config, Envelope, Recipient, TlsMode};

/// Replies from a slice (then EOF), client bytes into a vector.
struct Script<'s> {
    replies: &'s [u8],
    sent: Vec<u8>,
}

impl ErrorType for Script<'_> {
    type Error = Infallible;
}

impl Read for Script<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Read::read(&mut self.replies, buf)
    }
}

impl Write for Script<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.sent.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

struct NoTime;
impl Clock for NoTime {
    fn now_ms(&self) -> u64 {
        0
    }
}

const READY: &[u8] = b"220 mx\r\n250 mx\r\n";

/// Greets, then sends one message if `send`; returns what the last run said and whether
/// the client is reusable after it.
fn after(replies: &[u8], send: bool) -> (Result<Stop, String>, bool) {
    let deadline = Deadline::new(NoTime);
    let mut config = Config::new("client.example");
    config.tls = TlsMode::Disabled;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config, &mut rx, &mut tx).unwrap();
    let mut io = Script {
        replies,
        sent: Vec::new(),
    };
    let mut none: &[u8] = b"";
    let mut run = |client: &mut Client<'_>, body: &mut &[u8]| {
        blocking::run(client, &mut io, body, &deadline, |_| {}).map_err(|e| match e {
            DriveError::Session(e) => format!("session: {e:?}"),
            other => format!("{other:?}"),
        })
    };
    let greeted = run(&mut client, &mut none);
    if !send || greeted.is_err() {
        return (greeted, client.reusable());
    }
    let to = [Recipient::new("b@mx.example")];
    client
        .submit(&Envelope::new("a@client.example", &to))
        .unwrap();
    let mut body: &[u8] = b"Subject: hi\r\n\r\nHello.\r\n";
    let sent = run(&mut client, &mut body);
    (sent, client.reusable())
}

#[test]
fn a_ready_session_is_reusable_and_one_still_greeting_is_not() {
    assert_eq!(after(READY, false), (Ok(Stop::Idle), true));
    // The greeting is cut short: the client is still waiting for it.
    let (stop, reusable) = after(b"220 mx\r\n250-mx\r\n", false);
    assert!(stop.is_err(), "{stop:?}");
    assert!(!reusable);
}

#[test]
fn a_delivered_or_refused_message_leaves_it_reusable() {
    let accepted = [READY, b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n"].concat();
    assert_eq!(after(&accepted, true), (Ok(Stop::Idle), true));
    let mail_refused = [READY, b"550 no\r\n"].concat();
    assert_eq!(after(&mail_refused, true), (Ok(Stop::Idle), true));
    let data_refused = [READY, b"250 ok\r\n250 ok\r\n354 go\r\n554 spam\r\n"].concat();
    assert_eq!(after(&data_refused, true), (Ok(Stop::Idle), true));
}

#[test]
fn a_closing_server_or_a_lost_connection_does_not() {
    // 421 at MAIL: the server is closing the connection.
    let closing = [READY, b"421 bye\r\n"].concat();
    let (stop, reusable) = after(&closing, true);
    assert!(!reusable, "{stop:?}");
    // The connection ends before the message's reply.
    let lost = [READY, b"250 ok\r\n250 ok\r\n354 go\r\n"].concat();
    let (stop, reusable) = after(&lost, true);
    assert!(stop.is_err(), "{stop:?}");
    assert!(!reusable);
    // A refused greeting.
    let (stop, reusable) = after(b"554 go away\r\n221 bye\r\n", false);
    assert!(!reusable, "{stop:?}");
}
