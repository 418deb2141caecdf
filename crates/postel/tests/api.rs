//! Properties of the public types a caller relies on.

fn send<T: Send>() {}
fn send_sync<T: Send + Sync>() {}

#[test]
fn clients_can_move_between_threads_and_pools_can_be_shared() {
    send::<postel::Client>();
    send_sync::<postel::AsyncClient>();
    send_sync::<postel::Pool>();
    send_sync::<postel::Error>();
    send_sync::<postel::SendReport>();
    send_sync::<postel::Transcript>();
}

#[test]
fn errors_say_whether_to_try_again() {
    use postel::{Error, ServerReply, Step, TlsError};
    let reply = |code| ServerReply {
        code,
        enhanced: None,
        text: String::new(),
    };
    let rejected = |code| Error::Rejected {
        step: Step::Rcpt,
        reply: reply(code),
        refused: Vec::new(),
    };
    assert!(rejected(450).is_transient());
    assert!(!rejected(550).is_transient());
    assert!(!Error::Tls(TlsError::Expired).is_transient());
    assert!(Error::Io(std::io::ErrorKind::ConnectionReset.into()).is_transient());
    assert!(!Error::Config("x".into()).is_transient());
    assert_eq!(rejected(550).reply().map(|r| r.code), Some(550));
}
