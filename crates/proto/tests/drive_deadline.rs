//! The driver loops' clock (`drive::Deadline`): the whole-reply bound against a server that
//! dribbles a byte per read, per-step waits that start again after each step, write
//! timeouts, zero as no limit, and the `Timed` transport that bounds the reads a layer above
//! it (a TLS connection) makes. Time is a fake clock that the transports advance.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use common::clock::FakeClock;
use common::server::{normalized, Behaviour, Server};
use embedded_io::{Error as _, ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};
use futures_executor::block_on;
use postel_proto::drive::{asynch, blocking, Deadline, DriveError, Stop, Timed, TimedError};
use postel_proto::{Client, Config, Envelope, Recipient, Step, Timeouts, TlsMode};

fn config(t: Timeouts) -> Config<'static> {
    let mut c = Config::new("client.test");
    c.tls = TlsMode::Disabled;
    c.timeouts = t;
    c
}

/// The reactive server behind a slow line: each read returns one byte and takes `ms` of
/// the fake clock; writes are instant.
struct Slow<'c> {
    server: Server,
    clock: &'c FakeClock,
    ms: u64,
    reads: usize,
}

impl<'c> Slow<'c> {
    fn new(clock: &'c FakeClock, ms: u64) -> Self {
        Slow {
            server: Server::new(Behaviour::default()),
            clock,
            ms,
            reads: 0,
        }
    }

    fn read_one(&mut self, buf: &mut [u8]) -> usize {
        assert!(
            self.server.pending_output() > 0 || self.server.closed,
            "the client waits but the server has nothing to say"
        );
        self.clock.advance(self.ms);
        self.reads += 1;
        let max = buf.len().min(1);
        self.server.read_into(&mut buf[..max])
    }
}

impl ErrorType for Slow<'_> {
    type Error = Infallible;
}

impl Read for Slow<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.read_one(buf))
    }
}

impl Write for Slow<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.server.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl embedded_io_async::Read for Slow<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.read_one(buf))
    }
}

impl embedded_io_async::Write for Slow<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.server.write(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

const GREETING: &[u8] = b"220 mx.test ESMTP ready\r\n";

/// What `run` over a slow line gave, where the clock stood and how much was read.
fn assert_greeting_timed_out<E: std::fmt::Debug>(
    got: Result<Stop, DriveError<E>>,
    io: &Slow<'_>,
    clock: &FakeClock,
) {
    match got {
        Err(DriveError::Timeout(Step::Greeting)) => {}
        other => panic!("expected a greeting timeout, got {other:?}"),
    }
    // One byte per 100 ms read; the wait began at the first read (t = 0) and ran out at
    // t = 1000: ten bytes read, none of them a whole reply, and no read after the deadline.
    assert_eq!(io.reads, 10);
    assert_eq!(clock.now(), 1_000);
    assert_eq!(
        io.server.pending_output(),
        GREETING.len() - 10,
        "what is left of the greeting is unread"
    );
}

#[test]
fn a_greeting_dribbled_past_its_timeout_is_a_greeting_timeout() {
    let clock = FakeClock::new(0, 1);
    let deadline = Deadline::new(&clock);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(
        config(Timeouts::all(Duration::from_secs(1))),
        &mut rx,
        &mut tx,
    )
    .unwrap();
    let mut io = Slow::new(&clock, 100);
    let mut nothing: &[u8] = &[];
    let got = blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {});
    let text = match &got {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    };
    assert_greeting_timed_out(got, &io, &clock);
    assert_eq!(text, "the greeting step timed out");
    assert_eq!(deadline.at_ms(), None, "the loop clears the deadline");
}

#[test]
fn the_async_loop_cuts_off_a_dribbled_greeting_too() {
    let clock = FakeClock::new(0, 1);
    let deadline = Deadline::new(&clock);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(
        config(Timeouts::all(Duration::from_secs(1))),
        &mut rx,
        &mut tx,
    )
    .unwrap();
    let mut io = Slow::new(&clock, 100);
    let mut nothing: &[u8] = &[];
    let got = block_on(asynch::run(
        &mut client,
        &mut io,
        &mut nothing,
        &deadline,
        |_| {},
    ));
    assert_greeting_timed_out(got, &io, &clock);
    // Every read was ready at once: the loop never had to sleep.
    assert_eq!(clock.sleep_targets(), Vec::<u64>::new());
}

/// A whole session over `io`: greeting, EHLO, a message to two recipients, QUIT.
fn session(t: Timeouts, io: &mut Slow<'_>, deadline: &Deadline<&FakeClock>, asynchronous: bool) {
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 1024]);
    let mut client = Client::new(config(t), &mut rx, &mut tx).unwrap();
    let to = [Recipient::new("a@mx.test"), Recipient::new("b@mx.test")];
    let content = b"Subject: slow\r\n\r\nhi\r\n";
    let mut run = |client: &mut Client<'_>, mut body: &[u8]| {
        let got = if asynchronous {
            block_on(asynch::run(client, io, &mut body, deadline, |_| {}))
        } else {
            blocking::run(client, io, &mut body, deadline, |_| {})
        };
        got.unwrap()
    };
    assert_eq!(run(&mut client, b""), Stop::Idle);
    client
        .submit(&Envelope::new("me@client.test", &to))
        .unwrap();
    assert_eq!(run(&mut client, content), Stop::Idle);
    client.quit().unwrap();
    assert_eq!(run(&mut client, b""), Stop::Closed);
    assert_eq!(io.server.messages, [normalized(content)]);
    assert!(
        io.server.violations.is_empty(),
        "{:?}",
        io.server.violations
    );
}

#[test]
fn each_step_has_its_own_wait_so_a_slow_session_within_every_timeout_passes() {
    for asynchronous in [false, true] {
        // Every reply takes under its 1 s (EHLO: 2 s) at 20 ms a byte, the whole session far more: the
        // wait starts again with each step (pipelined MAIL, RCPT, RCPT and DATA replies
        // included, which arrive back to back with no event between some of them).
        let clock = FakeClock::new(5_000, 1);
        let deadline = Deadline::new(&clock);
        let mut io = Slow::new(&clock, 20);
        let mut t = Timeouts::all(Duration::from_secs(1));
        t.command = Duration::from_secs(2); // the EHLO reply is longer
        session(t, &mut io, &deadline, asynchronous);
        let elapsed = clock.now() - 5_000;
        assert_eq!(elapsed, io.reads as u64 * 20);
        assert!(elapsed > 3_000, "the session took {elapsed} ms");
    }
}

#[test]
fn pipelined_replies_each_get_their_own_wait() {
    for asynchronous in [false, true] {
        // MAIL, RCPT, RCPT and DATA go out together; "250 2.1.0 Ok\r\n" (MAIL) comes back
        // at 72 ms a byte: its last read starts at 936 ms, within MAIL's 1 s, and ends at
        // 1008 ms. The next read is the first of the RCPT reply, with no event between: it
        // starts RCPT's own 1 s. Taking it for more of the MAIL wait (the step before the
        // core had parsed the MAIL reply) would time it out at once.
        let clock = FakeClock::new(0, 1);
        let deadline = Deadline::new(&clock);
        let mut io = Slow::new(&clock, 72);
        let mut t = Timeouts::all(Duration::from_secs(5));
        t.mail = Duration::from_secs(1);
        t.rcpt = Duration::from_secs(1);
        session(t, &mut io, &deadline, asynchronous);
    }
}

#[test]
fn a_zero_timeout_is_no_limit() {
    for asynchronous in [false, true] {
        // A second per byte: every reply takes far longer than any real timeout.
        let clock = FakeClock::new(5_000, 1);
        let deadline = Deadline::new(&clock);
        let mut io = Slow::new(&clock, 1_000);
        session(
            Timeouts::all(Duration::ZERO),
            &mut io,
            &deadline,
            asynchronous,
        );
        assert_eq!(clock.now() - 5_000, io.reads as u64 * 1_000);
        assert!(io.reads > 100, "{} reads", io.reads);
        assert_eq!(clock.sleep_targets(), Vec::<u64>::new());
    }
}

/// A server that has greeted and then takes nothing: reads are ready, writes never are.
struct Stuck<'a> {
    greeting: &'a [u8],
    write_polls: u64,
}

impl ErrorType for Stuck<'_> {
    type Error = Infallible;
}

impl Read for Stuck<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Read::read(&mut self.greeting, buf)
    }
}

impl ReadReady for Stuck<'_> {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(true)
    }
}

impl Write for Stuck<'_> {
    fn write(&mut self, _: &[u8]) -> Result<usize, Infallible> {
        panic!("written to without being ready");
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl WriteReady for Stuck<'_> {
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        self.write_polls += 1;
        Ok(false)
    }
}

#[test]
fn a_write_that_never_becomes_ready_times_out_at_its_step() {
    let clock = FakeClock::new(100, 1);
    let deadline = Deadline::new(&clock);
    let mut t = Timeouts::all(Duration::from_secs(300));
    t.command = Duration::from_secs(7);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config(t), &mut rx, &mut tx).unwrap();
    let mut io = Timed::new(
        Stuck {
            greeting: GREETING,
            write_polls: 0,
        },
        &deadline,
    );
    let mut nothing: &[u8] = &[];
    let got = blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {});
    assert!(
        matches!(got, Err(DriveError::Timeout(Step::Ehlo))),
        "{got:?}"
    );
    // The greeting took no time; the EHLO write waited its 7 s, idling a millisecond a time.
    assert_eq!(clock.now(), 100 + 7_000);
    assert_eq!(clock.idles.get(), 7_000);
    assert_eq!(io.inner().write_polls, 7_000);
}

/// The async twin of `Stuck`: the greeting, then a write that is pending for ever.
struct StuckAsync<'a>(&'a [u8]);

impl ErrorType for StuckAsync<'_> {
    type Error = Infallible;
}

impl embedded_io_async::Read for StuckAsync<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Read::read(&mut self.0, buf)
    }
}

impl embedded_io_async::Write for StuckAsync<'_> {
    fn write(&mut self, _: &[u8]) -> impl Future<Output = Result<usize, Infallible>> {
        std::future::poll_fn(|_| Poll::Pending)
    }
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[test]
fn the_async_loop_gives_up_on_a_write_that_never_completes() {
    let clock = FakeClock::new(100, 1);
    let deadline = Deadline::new(&clock);
    let mut t = Timeouts::all(Duration::from_secs(300));
    t.command = Duration::from_secs(7);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config(t), &mut rx, &mut tx).unwrap();
    let mut io = StuckAsync(GREETING);
    let mut nothing: &[u8] = &[];
    let got = block_on(asynch::run(
        &mut client,
        &mut io,
        &mut nothing,
        &deadline,
        |_| {},
    ));
    assert!(
        matches!(got, Err(DriveError::Timeout(Step::Ehlo))),
        "{got:?}"
    );
    assert_eq!(clock.sleep_targets(), [100 + 7_000]);
    assert_eq!(clock.now(), 100 + 7_000);
}

/// A server that never says anything: the read is pending for ever.
struct Silent;

impl ErrorType for Silent {
    type Error = Infallible;
}

impl embedded_io_async::Read for Silent {
    fn read(&mut self, _: &mut [u8]) -> impl Future<Output = Result<usize, Infallible>> {
        std::future::poll_fn(|_| Poll::Pending)
    }
}

impl embedded_io_async::Write for Silent {
    async fn write(&mut self, _: &[u8]) -> Result<usize, Infallible> {
        panic!("nothing to write before the greeting");
    }
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[test]
fn the_async_loop_gives_up_on_a_silent_server_at_the_greeting_timeout() {
    let clock = FakeClock::new(0, 1);
    let deadline = Deadline::new(&clock);
    let mut t = Timeouts::all(Duration::from_secs(300));
    t.greeting = Duration::from_secs(30);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(config(t), &mut rx, &mut tx).unwrap();
    let mut nothing: &[u8] = &[];
    let got = block_on(asynch::run(
        &mut client,
        &mut Silent,
        &mut nothing,
        &deadline,
        |_| {},
    ));
    assert!(
        matches!(got, Err(DriveError::Timeout(Step::Greeting))),
        "{got:?}"
    );
    assert_eq!(clock.sleep_targets(), [30_000]);
}

/// Bytes that arrive one at a time, every `every_ms` of the fake clock.
struct Trickle<'a> {
    data: &'a [u8],
    clock: &'a FakeClock,
    every_ms: u64,
    next_at: u64,
}

impl ErrorType for Trickle<'_> {
    type Error = Infallible;
}

impl ReadReady for Trickle<'_> {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.data.is_empty() || self.clock.now() >= self.next_at)
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let one = buf.len().min(1);
        let n = Read::read(&mut self.data, &mut buf[..one])?;
        self.next_at = self.clock.now() + self.every_ms;
        Ok(n)
    }
}

impl Write for Trickle<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl WriteReady for Trickle<'_> {
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        Ok(true)
    }
}

#[test]
fn timed_waits_for_readiness_until_the_deadline_and_then_fails_with_timed_out() {
    let clock = FakeClock::new(0, 1);
    let deadline = Deadline::new(&clock);
    let mut io = Timed::new(
        Trickle {
            data: b"ab",
            clock: &clock,
            every_ms: 30,
            next_at: 0,
        },
        &deadline,
    );
    let mut buf = [0u8; 8];
    // No limit: the first byte is ready, the second comes 30 ms later.
    assert_eq!(io.read(&mut buf).unwrap(), 1);
    assert_eq!(clock.now(), 0);
    assert_eq!(io.read(&mut buf).unwrap(), 1);
    assert_eq!((buf[0], clock.now(), clock.idles.get()), (b'b', 30, 30));

    // 20 ms for a byte that comes in 30: TimedOut at the deadline.
    let mut io = Timed::new(
        Trickle {
            data: b"c",
            clock: &clock,
            every_ms: 30,
            next_at: 60,
        },
        &deadline,
    );
    deadline.start(Duration::from_millis(20));
    let err = io.read(&mut buf).unwrap_err();
    assert_eq!(err, TimedError::TimedOut);
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(clock.now(), 50);
    // An expired deadline refuses even a ready transport, writes included.
    clock.advance(10);
    assert!(io.inner_mut().read_ready().unwrap());
    assert_eq!(io.read(&mut buf).unwrap_err(), TimedError::TimedOut);
    assert_eq!(io.write(b"x").unwrap_err(), TimedError::TimedOut);
    // A new deadline, and the byte is there.
    deadline.start(Duration::from_millis(20));
    assert_eq!(io.read(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], b'c');
    assert_eq!(io.write(b"xy").unwrap(), 2);
    assert_eq!(
        TimedError::<Infallible>::TimedOut.to_string(),
        "the deadline expired before the transport was ready"
    );
}

/// A layer that reads in whole records (a 1-byte length, then the payload), as TLS does:
/// one record may take many reads of the transport below it.
struct Records<T> {
    inner: T,
    record: Vec<u8>,
}

impl<T: ErrorType> ErrorType for Records<T> {
    type Error = T::Error;
}

impl<T: Read> Read for Records<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, T::Error> {
        if self.record.is_empty() {
            let mut len = [0u8; 1];
            if self.inner.read(&mut len)? == 0 {
                return Ok(0);
            }
            let mut record = vec![0u8; usize::from(len[0])];
            let mut got = 0;
            while got < record.len() {
                got += self.inner.read(&mut record[got..])?;
            }
            self.record = record;
        }
        let n = buf.len().min(self.record.len());
        buf[..n].copy_from_slice(&self.record[..n]);
        self.record.drain(..n);
        Ok(n)
    }
}

impl<T: Write> Write for Records<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, T::Error> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> Result<(), T::Error> {
        self.inner.flush()
    }
}

#[test]
fn a_record_dribbled_under_a_layer_is_cut_off_inside_the_record() {
    // The greeting in one record, its bytes 100 ms apart: 2.6 s for a 1 s greeting timeout.
    let mut wire = vec![GREETING.len() as u8];
    wire.extend_from_slice(GREETING);
    let clock = FakeClock::new(0, 1);
    let deadline = Deadline::new(&clock);
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut client = Client::new(
        config(Timeouts::all(Duration::from_secs(1))),
        &mut rx,
        &mut tx,
    )
    .unwrap();
    let mut io = Records {
        inner: Timed::new(
            Trickle {
                data: &wire,
                clock: &clock,
                every_ms: 100,
                next_at: 0,
            },
            &deadline,
        ),
        record: Vec::new(),
    };
    let mut nothing: &[u8] = &[];
    let got = blocking::run(&mut client, &mut io, &mut nothing, &deadline, |_| {});
    // The layer's read failed with the transport's TimedOut while the deadline had expired:
    // the loop reports the step's timeout, not a transport error.
    assert!(
        matches!(got, Err(DriveError::Timeout(Step::Greeting))),
        "{got:?}"
    );
    assert_eq!(clock.now(), 1_000);
    // The length byte and 9 payload bytes, at t = 0, 100, ..., 900: the loop's one read
    // never returned, the layer never finished its record.
    assert_eq!(io.inner.inner().data.len(), wire.len() - 10);
}
