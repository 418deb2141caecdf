//! A bad envelope address is refused with a typed error before any connection is made: a
//! listener that records accepts sees none.

use std::net::TcpListener;

use postel::{Client, Envelope, Error, TlsMode};
use postel_proto::{Argument, Error as Core};

/// A listener nobody should reach, and a client pointed at it.
fn setup() -> (TcpListener, Client) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = Client::builder("127.0.0.1")
        .port(port)
        .tls(TlsMode::Disabled)
        .ehlo_name("client.test")
        // Were it to connect, the silent listener would fail the greeting soon.
        .timeouts(postel::Timeouts::all(std::time::Duration::from_secs(2)))
        .build()
        .unwrap();
    (listener, client)
}

fn assert_no_accept(listener: &TcpListener) {
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a connection was made: {other:?}"),
    }
}

#[test]
fn a_bad_recipient_is_refused_before_connecting() {
    let (listener, mut client) = setup();
    let env = Envelope::new("a@client.test", ["b@mx.test", "not an address"]);
    let err = client
        .send_bytes(&env, b"Subject: x\r\n\r\nx\r\n")
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol(Core::InvalidArgument {
                argument: Argument::Recipient(1),
                ..
            })
        ),
        "{err:?}"
    );
    assert_no_accept(&listener);

    // The same for a composed message sent to a given envelope.
    let mut msg = postel_mime::RawMessage::from_bytes(&b"Subject: x\r\n\r\nx\r\n"[..]).unwrap();
    let env = Envelope::new("a@client.test\r\nRSET", ["b@mx.test"]);
    let err = client.send_with_envelope(&env, &mut msg).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol(Core::InvalidArgument {
                argument: Argument::Sender,
                ..
            })
        ),
        "{err:?}"
    );
    assert_no_accept(&listener);
}
