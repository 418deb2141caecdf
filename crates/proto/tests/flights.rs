//! The recipients of a message written in several flights: what `handle_recipients` accepts.

mod common;

use common::server::{Behaviour, Server};
use postel_proto::{
    Action, Argument, Client, Config, Envelope, Error, Invalid, Recipient, TlsMode,
};

fn config() -> Config<'static> {
    let mut c = Config::new("client.test");
    c.tls = TlsMode::Disabled;
    c
}

#[test]
fn later_flights_come_only_from_the_envelope_submitted() {
    let addresses: Vec<String> = (0..40).map(|i| format!("r{i:02}@mx.test")).collect();
    let to: Vec<Recipient<'_>> = addresses.iter().map(|a| Recipient::new(a)).collect();
    let env = Envelope::new("a@client.test", &to);
    let fewer = Envelope::new("a@client.test", &to[..39]);
    let mut bad = to.clone();
    bad[30] = Recipient::new("r30@mx.test>\r\nDATA");
    let injected = Envelope::new("a@client.test", &bad);

    let mut server = Server::new(Behaviour::default());
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let mut client = Client::new(config(), &mut rx, &mut tx).unwrap();
    let mut wire = Vec::new();
    let (mut submitted, mut quit, mut flights_asked) = (false, false, 0);
    let mut body: &[u8] = b"Subject: x\r\n\r\nhi\r\n";
    loop {
        match client.poll().unwrap() {
            Action::Send { bytes, .. } => {
                wire.extend_from_slice(bytes);
                server.write(bytes);
                let n = bytes.len();
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                let n = server.read_into(into);
                client.handle_received(n).unwrap();
            }
            Action::Body { into } => {
                let n = std::io::Read::read(&mut body, into).unwrap();
                client.handle_body(n).unwrap();
            }
            Action::Recipients { from } => {
                flights_asked += 1;
                assert!(from.0 > 0 && from.0 < 40, "{from:?}");
                assert_eq!(client.handle_recipients(&fewer), Err(Error::Busy));
                if from.0 <= 30 {
                    assert_eq!(
                        client.handle_recipients(&injected),
                        Err(Error::InvalidArgument {
                            argument: Argument::Recipient(30),
                            at: 12,
                            invalid: Invalid::Byte(b'\r'),
                        })
                    );
                }
                client.handle_recipients(&env).unwrap();
                // Nothing more is awaited until these are sent and answered.
                assert_eq!(client.handle_recipients(&env), Err(Error::Busy));
            }
            Action::Idle if !submitted => {
                assert_eq!(client.handle_recipients(&env), Err(Error::Busy));
                client.submit(&env).unwrap();
                submitted = true;
            }
            Action::Idle if !quit => {
                quit = true;
                client.quit().unwrap();
            }
            Action::Idle | Action::Closed => break,
            Action::Event(_) => {}
            Action::StartTls => unreachable!("TLS disabled"),
        }
    }
    assert!(flights_asked >= 1);
    assert!(server.violations.is_empty(), "{:?}", server.violations);
    assert_eq!(server.recipients, std::slice::from_ref(&addresses));
    let text = String::from_utf8(wire).unwrap();
    assert_eq!(text.matches("RCPT TO:").count(), 40);
    assert_eq!(text.matches("DATA\r\n").count(), 1);
}
