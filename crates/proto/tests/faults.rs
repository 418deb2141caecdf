//! Errors say who is at fault ([`Error::fault`]) and implement `core::error::Error`.

use core::error::Error as _;

use postel_proto::reply::ReplyError;
use postel_proto::{Action, Client, Config, Error, Fault, Step, TlsMode, MIN_BUFFER};

fn config() -> Config<'static> {
    let mut c = Config::new("client.example");
    c.tls = TlsMode::Disabled;
    c
}

/// Feeds `server` to a fresh session until it fails or waits for a call (Idle); returns
/// the error, if any.
fn run(client: &mut Client<'_>, mut server: &[u8]) -> Option<Error> {
    loop {
        match client.poll() {
            Err(e) => return Some(e),
            Ok(Action::Send { bytes, .. }) => {
                let n = bytes.len();
                client.handle_sent(n);
            }
            Ok(Action::Receive { into, .. }) => {
                let n = into.len().min(server.len());
                into[..n].copy_from_slice(&server[..n]);
                server = &server[n..];
                if let Err(e) = client.handle_received(n) {
                    return Some(e);
                }
            }
            Ok(Action::Event(_)) => {}
            Ok(_) => return None,
        }
    }
}

#[test]
fn a_call_out_of_turn_is_the_callers_fault_not_the_servers() {
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config(), &mut rx, &mut tx).unwrap();
    // Before the greeting: neither a message nor QUIT can go.
    let e = client.quit().unwrap_err();
    assert_eq!(e, Error::Busy);
    assert_eq!(e.fault(), Fault::Misuse);
    assert!(e.reply().is_none());
    let e = client.handle_tls_ready().unwrap_err();
    assert_eq!(e.fault(), Fault::Misuse);
}

#[test]
fn buffers_too_small_are_misuse_and_a_bad_ehlo_name_is_input() {
    let (mut rx, mut tx) = ([0u8; MIN_BUFFER - 1], [0u8; 1024]);
    let e = Client::new(config(), &mut rx, &mut tx).unwrap_err();
    assert_eq!(e, Error::BufferTooSmall { needed: MIN_BUFFER });
    assert_eq!(e.fault(), Fault::Misuse);
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let e = Client::new(Config::new("bad name\r\n"), &mut rx, &mut tx).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_eq!(e.fault(), Fault::Input);
}

#[test]
fn a_refused_greeting_is_a_refusal_with_its_reply_as_evidence() {
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config(), &mut rx, &mut tx).unwrap();
    let e = run(&mut client, b"554 5.7.1 go away\r\n221 bye\r\n").unwrap();
    assert!(
        matches!(
            e,
            Error::Rejected {
                step: Step::Greeting,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.fault(), Fault::Refused);
    let reply = e.reply().unwrap();
    assert_eq!(reply.code().get(), 554);
    assert!(e.source().is_none());
}

#[test]
fn garbage_is_the_servers_fault_and_says_why_as_its_source() {
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config(), &mut rx, &mut tx).unwrap();
    let e = run(&mut client, b"HELLO THERE\r\n").unwrap();
    assert!(
        matches!(
            e,
            Error::MalformedReply {
                step: Step::Greeting,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.fault(), Fault::Protocol);
    let source = e.source().expect("the reply error");
    assert_eq!(source.to_string(), ReplyError::Malformed.to_string());
}

#[test]
fn a_lost_connection_is_the_networks() {
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(config(), &mut rx, &mut tx).unwrap();
    let e = run(&mut client, b"220 mx ESMTP\r\n").unwrap();
    assert_eq!(e, Error::ConnectionClosed { step: Step::Ehlo });
    assert_eq!(e.fault(), Fault::Network);
}

#[test]
fn required_tls_that_is_not_offered_is_tls() {
    let mut c = config();
    c.tls = TlsMode::Required;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut client = Client::new(c, &mut rx, &mut tx).unwrap();
    let e = run(&mut client, b"220 mx ESMTP\r\n250 mx\r\n").unwrap();
    assert_eq!(e, Error::TlsUnavailable { reply: None });
    assert_eq!(e.fault(), Fault::Tls);
}
