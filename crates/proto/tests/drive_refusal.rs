//! Both driver loops report a transport that fails after the session already has an error
//! (the server refused the greeting and hung up while the client says QUIT) as that error,
//! not as the transport's: the decision `postel`'s own drivers used to make.

use embedded_io::{ErrorKind, ErrorType};
use postel_proto::drive::{asynch, blocking, AsyncClock, Clock, Deadline, DriveError};
use postel_proto::{Client, Config, Error, Step, TlsMode};

/// Replies from a slice, then a reset connection; writes are taken.
struct HangsUp<'s>(&'s [u8]);

impl ErrorType for HangsUp<'_> {
    type Error = ErrorKind;
}

impl HangsUp<'_> {
    fn take(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.0.is_empty() {
            return Err(ErrorKind::ConnectionReset);
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

impl embedded_io::Read for HangsUp<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.take(buf)
    }
}

impl embedded_io::Write for HangsUp<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl embedded_io_async::Read for HangsUp<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.take(buf)
    }
}

impl embedded_io_async::Write for HangsUp<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

struct NoTime;

impl Clock for NoTime {
    fn now_ms(&self) -> u64 {
        0
    }
}

impl AsyncClock for NoTime {
    async fn sleep_until(&self, _at_ms: u64) {
        core::future::pending::<()>().await
    }
}

fn config() -> Config<'static> {
    let mut config = Config::new("client.test");
    config.tls = TlsMode::Disabled;
    config
}

fn is_greeting_refusal(e: &DriveError<ErrorKind>) -> bool {
    matches!(
        e,
        DriveError::Session(Error::Rejected { step: Step::Greeting, reply })
            if reply.code().get() == 554
    )
}

#[test]
fn a_refused_greeting_then_a_hang_up_is_the_refusal_in_the_blocking_loop() {
    let deadline = Deadline::new(NoTime);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config(), &mut rx, &mut tx).unwrap();
    let mut io = HangsUp(b"554 go away\r\n");
    let mut nothing: &[u8] = &[];
    let err = blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap_err();
    assert!(is_greeting_refusal(&err), "{err:?}");
    // A hang-up with no refusal before it stays the transport's failure.
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config(), &mut rx, &mut tx).unwrap();
    let mut io = HangsUp(b"220 mx\r\n");
    let err = blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {}).unwrap_err();
    assert!(
        matches!(err, DriveError::Transport(ErrorKind::ConnectionReset)),
        "{err:?}"
    );
}

#[test]
fn a_refused_greeting_then_a_hang_up_is_the_refusal_in_the_async_loop() {
    let deadline = Deadline::new(NoTime);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config(), &mut rx, &mut tx).unwrap();
    let mut io = HangsUp(b"554 go away\r\n");
    let mut nothing: &[u8] = &[];
    let run = asynch::run(&mut client, &mut io, &mut nothing, &deadline, |_| {});
    let err = futures_executor::block_on(run).unwrap_err();
    assert!(is_greeting_refusal(&err), "{err:?}");
}
