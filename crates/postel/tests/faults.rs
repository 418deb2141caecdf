//! Errors say who is at fault (`Error::fault`), and a caller's misuse is never the
//! server's fault or the network's.

use std::error::Error as _;

use postel::{Error, Fault, Misuse, ServerReply, Step, TlsError};

#[test]
fn each_error_names_who_is_at_fault() {
    let refused = Error::Rejected {
        step: Step::Mail,
        reply: ServerReply {
            code: 550,
            enhanced: None,
            text: "no".into(),
        },
        refused: Vec::new(),
    };
    assert_eq!(refused.fault(), Fault::Refused);
    assert_eq!(refused.reply().map(|r| r.code), Some(550));
    let reset = Error::Io(std::io::ErrorKind::ConnectionReset.into());
    assert_eq!(reset.fault(), Fault::Network);
    assert_eq!(Error::Tls(TlsError::Expired).fault(), Fault::Tls);
    assert_eq!(Error::Tls(TlsError::NotTls).fault(), Fault::Config);
    assert_eq!(Error::Config("bad CA file".into()).fault(), Fault::Config);
    let garbled = Error::Protocol(postel::proto::Error::DataAfterStartTls);
    assert_eq!(garbled.fault(), Fault::Protocol);
}

#[test]
fn misuse_is_the_callers_fault_and_never_worth_a_retry() {
    for m in [
        Misuse::PoolClosed,
        Misuse::NoPlaceholder,
        Misuse::NothingToSend,
        Misuse::TlsAlreadyUp,
    ] {
        let e = Error::from(m);
        assert_eq!(e.fault(), Fault::Misuse, "{e}");
        assert!(!e.is_transient(), "{e}");
        assert!(e.reply().is_none());
        assert_eq!(e.to_string(), m.to_string());
    }
    // The core's own "not now" is the caller's too, not a protocol error.
    let busy = Error::from(postel::proto::Error::Busy);
    assert_eq!(busy.fault(), Fault::Misuse);
}

#[test]
fn errors_chain_to_their_cause() {
    let e = Error::Connect {
        host: "mx.example:25".into(),
        source: std::io::ErrorKind::ConnectionRefused.into(),
    };
    let source = e.source().expect("the connect error's cause");
    assert_eq!(
        source.to_string(),
        std::io::Error::from(std::io::ErrorKind::ConnectionRefused).to_string()
    );
}
