//! TLS modes a device session refuses before it writes anything.

use std::convert::Infallible;

use embedded_tls::Aes128GcmSha256;
use postel_device::verify::{ChainVerifier, UnixTime};
use postel_device::{send, send_plain, Buffers, Failure, Tls};
use postel_proto::drive::{Clock, Deadline};
use postel_proto::{Config, Envelope, Recipient, TlsMode};

/// A transport that records what is written and has nothing to read.
#[derive(Default)]
struct Wire {
    written: Vec<u8>,
}

impl embedded_io::ErrorType for Wire {
    type Error = Infallible;
}

impl embedded_io::Read for Wire {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, Infallible> {
        Ok(0)
    }
}

impl embedded_io::Write for Wire {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

struct Zero;

impl Clock for Zero {
    fn now_ms(&self) -> u64 {
        0
    }
}

fn config(tls: TlsMode) -> Config<'static> {
    let mut c = Config::new("device.example");
    c.tls = tls;
    c
}

#[test]
fn send_plain_refuses_every_mode_but_disabled_before_writing() {
    let rcpts = [Recipient::new("b@example.test")];
    let envelope = Envelope::new("a@example.test", &rcpts);
    for mode in [TlsMode::Required, TlsMode::Implicit, TlsMode::Opportunistic] {
        let mut wire = Wire::default();
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
        let result = send_plain(
            &mut wire,
            &Deadline::new(Zero),
            config(mode),
            Buffers {
                smtp_rx: &mut rx,
                smtp_tx: &mut tx,
                tls_read: &mut [],
                tls_write: &mut [],
            },
            &envelope,
            &mut &b"x\r\n"[..],
        );
        assert!(
            matches!(result, Err(Failure::UnsupportedTlsMode(m)) if m == mode),
            "{mode:?}: {result:?}"
        );
        assert!(wire.written.is_empty());
    }
}

#[test]
fn send_refuses_opportunistic_tls_before_writing() {
    let rcpts = [Recipient::new("b@example.test")];
    let envelope = Envelope::new("a@example.test", &rcpts);
    let mut wire = Wire::default();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let (mut tls_read, mut tls_write) = (vec![0u8; 16640], vec![0u8; 1024]);
    let mut verifier =
        ChainVerifier::<Aes128GcmSha256>::new(&[], UnixTime::since_unix_epoch(Default::default()));
    let result = send(
        &mut wire,
        &Deadline::new(Zero),
        config(TlsMode::Opportunistic),
        Tls {
            verifier: &mut verifier,
            rng: &mut rand::rngs::OsRng,
            server_name: "mx.example.test",
        },
        Buffers {
            smtp_rx: &mut rx,
            smtp_tx: &mut tx,
            tls_read: &mut tls_read,
            tls_write: &mut tls_write,
        },
        &envelope,
        &mut &b"x\r\n"[..],
    );
    assert!(
        matches!(
            result,
            Err(Failure::UnsupportedTlsMode(TlsMode::Opportunistic))
        ),
        "{result:?}"
    );
    assert!(wire.written.is_empty());
    let shown = result.unwrap_err().to_string();
    assert!(shown.contains("TlsMode::Required"), "{shown}");
}
