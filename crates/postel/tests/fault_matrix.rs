//! The fault matrix (issue 5): every simulator fault at every step of a session, run
//! against the blocking [`Client`], each cell checked against one row of [`TABLE`]; then
//! a smaller matrix against the tokio [`postel::Pool`].
//!
//! ```text
//! S: 220 mx.sim.test ESMTP postel-sim          Greeting
//! C: EHLO client.test                          Ehlo (before and after TLS)
//! C: STARTTLS                                  StartTls (its 220, then the handshake)
//! C: AUTH SCRAM-SHA-256 <redacted>             Auth (its first reply; SCRAM in these rows)
//! C: MAIL FROM:<sender@client.test> SIZE=…     Mail
//! C: RCPT TO:<a@mx.test>                       RcptAll (each), Rcpt1 (the first),
//! C: RCPT TO:<b@mx.test>                         Rcpt2 (the second),
//! C: RCPT TO:<c@mx.test>                         RcptC (the one for c@mx.test)
//! C: DATA            or  BDAT 49000            Data (its 354)  or  Bdat (a chunk without LAST)
//! C: … CRLF.CRLF     or  BDAT 12000 LAST       DataEnd (the final dot, or the LAST chunk)
//! C: RSET                                      Rset (only before a message that follows a
//!                                                failed one)
//! C: QUIT                                      Quit
//! ```
//!
//! # One cell
//! A fresh simulator (STARTTLS with its generated CA, AUTH for alice) and a fresh
//! `Client` whose every timeout is [`TIMEOUT`] (2 s); CHUNKING and PIPELINING on or off
//! in the client's [`Options`]. Then:
//! 1. message 1 (three recipients; about 110 KB, so that BDAT needs several chunks) is
//!    sent with the fault in place, and the fault is removed;
//! 2. if that failed transiently, message 1 is sent once more, as a queue would;
//! 3. message 2 is sent on the same `Client` (retried the same way), then QUIT.
//!
//! The row says what message 1's first attempt gave (`Delivered` to whom, `Transient`,
//! `Permanent`), whether connection 1 carried everything (`Kept`: the session stayed
//! usable and was reused) or a second connection was opened (`Replaced`: the failed one
//! was dropped, never reused), and how many copies of message 1 the simulator stored in
//! the end. Message 2 must arrive once, to all three, unless the row says otherwise (the
//! RSET rows, where message 2 is the one that meets the fault). Generic checks on every
//! cell: no panic, no hang (a watchdog), every retry delivered to all three, each stored
//! copy exactly the bytes sent to exactly the accepted recipients.
//!
//! The step RSET is only reached after a failed transaction, so those rows first refuse
//! every recipient of message 1 (550, the session stays) and put the fault on the RSET
//! that opens message 2. NOOP is never sent by `Client`; its row shows the fault never
//! fires. A `Delay` is [`HUNG`] (10 s), far beyond the client's timeout: the server is
//! hung, and the cell ends (its simulator shut down, the sleeping session aborted) before
//! it would wake.
//!
//! # The one duplicate
//! Nothing is ever delivered twice, except in the row `DataEnd × AcceptClose`: the server
//! stored the message after the final dot (or `BDAT … LAST`) and then closed the connection
//! before its 250 reached the client (RFC 5321 §4.1.1.4 and RFC 1047: "the reply to the
//! final dot was lost"). The client cannot tell this from a close before storing, so it
//! rightly reports a transient error (`Error::Protocol(ConnectionClosed { step: DataEnd })`);
//! the caller's retry then delivers a second copy. The row says `copies: 2`, and
//! [`only_a_lost_final_reply_duplicates`] checks that no other row does. (Were a hung
//! server to wake after the client's timeout at the final dot, it would store the message
//! and the same would happen: that is why RFC 5321 §4.5.3.2 gives that wait 10 minutes.)

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use postel::{
    Client, ClientBuilder, Envelope, Error, Mechanism, Options, SendReport, Timeouts, TlsMode,
};
use postel_sim::fault::{Action, Fault, RcptMatch, Step};
use postel_sim::{BlockingSimulator, Config, ReceivedMessage, Simulator};

/// Every timeout of the client.
const TIMEOUT: Duration = Duration::from_secs(2);
/// A `Delay` fault: far beyond [`TIMEOUT`], and beyond the end of the cell.
const HUNG: Duration = Duration::from_secs(10);
/// Seeds the message content: the matrix is the same on every run.
const SEED: u64 = 5;
/// Cells run this many at a time, each with its own simulator (most of them wait).
const WORKERS: usize = 8;
/// A cell that takes longer has hung.
const WATCHDOG: Duration = Duration::from_secs(60);

const SENDER: &str = "sender@client.test";
const A: &str = "a@mx.test";
const B: &str = "b@mx.test";
const C: &str = "c@mx.test";

// ------------------------------------------------------------------------ the table

/// Where the fault acts (the simulator's [`Step`], with the RCPT variants spelled out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Greeting,
    Ehlo,
    StartTls,
    Auth,
    Mail,
    /// Every RCPT.
    RcptAll,
    /// The first RCPT of a transaction.
    Rcpt1,
    /// The second.
    Rcpt2,
    /// The RCPT for c@mx.test (the third).
    RcptC,
    Data,
    Bdat,
    DataEnd,
    Rset,
    Noop,
    Quit,
}

impl At {
    const ALL: [At; 15] = [
        At::Greeting,
        At::Ehlo,
        At::StartTls,
        At::Auth,
        At::Mail,
        At::RcptAll,
        At::Rcpt1,
        At::Rcpt2,
        At::RcptC,
        At::Data,
        At::Bdat,
        At::DataEnd,
        At::Rset,
        At::Noop,
        At::Quit,
    ];

    fn step(self) -> Step {
        match self {
            At::Greeting => Step::Greeting,
            At::Ehlo => Step::Ehlo,
            At::StartTls => Step::StartTls,
            At::Auth => Step::Auth,
            At::Mail => Step::Mail,
            At::RcptAll => Step::Rcpt(RcptMatch::Any),
            At::Rcpt1 => Step::Rcpt(RcptMatch::Nth(1)),
            At::Rcpt2 => Step::Rcpt(RcptMatch::Nth(2)),
            At::RcptC => Step::Rcpt(RcptMatch::Address(C.to_owned())),
            At::Data => Step::Data,
            At::Bdat => Step::Bdat,
            At::DataEnd => Step::DataEnd,
            At::Rset => Step::Rset,
            At::Noop => Step::Noop,
            At::Quit => Step::Quit,
        }
    }
}

/// What the fault does (the simulator's [`Action`], with the chosen replies fixed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    /// Close instead of replying; the command has no effect.
    Close,
    /// Do what the command asks, then close without replying.
    AcceptClose,
    /// `421 4.3.2 … Service shutting down`, then close.
    R421,
    /// `451 4.3.0 scripted`; the session goes on.
    R451,
    /// `554 5.7.1 scripted`; the session goes on.
    R554,
    /// Wait [`HUNG`] before replying.
    Delay,
    /// The reply one byte per segment.
    Dribble,
    /// The reply's text split over continuation lines.
    Split,
    /// A fatal `handshake_failure` alert after STARTTLS's 220 (only at STARTTLS).
    TlsFail,
    /// In the table only: a row for every fault (one that never fires).
    Any,
}

impl F {
    const ALL: [F; 9] = [
        F::Close,
        F::AcceptClose,
        F::R421,
        F::R451,
        F::R554,
        F::Delay,
        F::Dribble,
        F::Split,
        F::TlsFail,
    ];

    fn action(self) -> Action {
        match self {
            F::Close => Action::Close,
            F::AcceptClose => Action::CloseAfterAccept,
            F::R421 => Action::Reply421,
            F::R451 => Action::Reply(451, "4.3.0 scripted".to_owned()),
            F::R554 => Action::Reply(554, "5.7.1 scripted".to_owned()),
            F::Delay => Action::Delay(HUNG),
            F::Dribble => Action::Dribble,
            F::Split => Action::SplitMultiline,
            F::TlsFail => Action::TlsHandshakeFail,
            F::Any => unreachable!("a table wildcard, not a fault"),
        }
    }

    /// Faults that apply at `at`: the TLS handshake failure only where there is a
    /// handshake (elsewhere the simulator makes it a plain close).
    fn applies_at(self, at: At) -> bool {
        self != F::TlsFail || at == At::StartTls
    }
}

/// Which framing a row is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum On {
    Both,
    /// DATA and the final dot (CHUNKING off in the client).
    Data,
    /// BDAT (CHUNKING on).
    Bdat,
}

/// What a message's first attempt gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// `Ok`: these recipients got it (the others are in the report's `refused`).
    Delivered(&'static [&'static str]),
    /// `Err` with `is_transient()`.
    Transient,
    /// `Err`, not transient.
    Permanent,
}

use Outcome::{Permanent, Transient};
const ALL: Outcome = Outcome::Delivered(&[A, B, C]);
const BC: Outcome = Outcome::Delivered(&[B, C]);
const AC: Outcome = Outcome::Delivered(&[A, C]);
const AB: Outcome = Outcome::Delivered(&[A, B]);

/// What became of connection 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Session {
    /// It carried the whole cell: usable after the fault, and reused.
    Kept,
    /// It was dropped after the fault and a second connection opened.
    Replaced,
}

/// One row: a fault at a step, and everything the cell must show.
#[derive(Clone, Copy, Debug)]
struct Row {
    at: At,
    fault: F,
    on: On,
    /// Message 1's first attempt.
    msg1: Outcome,
    /// Message 2's first attempt.
    msg2: Outcome,
    session: Session,
    /// Copies of message 1 and of message 2 stored, retries included.
    copies: [usize; 2],
    /// `Client::quit` returned `Ok`.
    quit_ok: bool,
}

/// The usual row: the fault meets message 1; message 2 arrives once.
const fn row(at: At, fault: F, on: On, msg1: Outcome, session: Session, copies: usize) -> Row {
    Row {
        at,
        fault,
        on,
        msg1,
        msg2: ALL,
        session,
        copies: [copies, 1],
        quit_ok: true,
    }
}

/// RSET: message 1 is refused for every recipient (permanent, nothing stored); the fault
/// meets the RSET that opens message 2.
const fn rset(fault: F, msg2: Outcome, session: Session) -> Row {
    Row {
        at: At::Rset,
        fault,
        on: On::Both,
        msg1: Permanent,
        msg2,
        session,
        copies: [0, 1],
        quit_ok: true,
    }
}

/// QUIT: both messages arrive; the fault meets `Client::quit`.
const fn quit(fault: F, quit_ok: bool) -> Row {
    Row {
        at: At::Quit,
        fault,
        on: On::Both,
        msg1: ALL,
        msg2: ALL,
        session: Session::Kept,
        copies: [1, 1],
        quit_ok,
    }
}

use At::*;
use On::Both;
use Session::{Kept, Replaced};
use F::{AcceptClose, Close, Delay, Dribble, Split, TlsFail, R421, R451, R554};

/// The expected outcome of every cell, on both framings and with PIPELINING on and off
/// (no result depends on PIPELINING).
#[rustfmt::skip]
const TABLE: &[Row] = &[
    //  step      fault        framing  message 1   connection 1  copies of message 1
    row(Greeting, Close,       Both,    Transient,  Replaced,     1),
    row(Greeting, AcceptClose, Both,    Transient,  Replaced,     1),
    row(Greeting, R421,        Both,    Transient,  Replaced,     1),
    row(Greeting, R451,        Both,    Transient,  Replaced,     1),
    row(Greeting, R554,        Both,    Permanent,  Replaced,     0),
    row(Greeting, Delay,       Both,    Transient,  Replaced,     1),
    row(Greeting, Dribble,     Both,    ALL,        Kept,         1),
    row(Greeting, Split,       Both,    ALL,        Kept,         1),

    // A 5xx to EHLO would mean HELO, but STARTTLS is required: TlsUnavailable.
    row(Ehlo,     Close,       Both,    Transient,  Replaced,     1),
    row(Ehlo,     AcceptClose, Both,    Transient,  Replaced,     1),
    row(Ehlo,     R421,        Both,    Transient,  Replaced,     1),
    row(Ehlo,     R451,        Both,    Transient,  Replaced,     1),
    row(Ehlo,     R554,        Both,    Permanent,  Replaced,     0),
    row(Ehlo,     Delay,       Both,    Transient,  Replaced,     1),
    row(Ehlo,     Dribble,     Both,    ALL,        Kept,         1),
    row(Ehlo,     Split,       Both,    ALL,        Kept,         1),

    // A handshake_failure alert does not go away by waiting (TlsError::is_transient).
    row(StartTls, Close,       Both,    Transient,  Replaced,     1),
    row(StartTls, AcceptClose, Both,    Transient,  Replaced,     1),
    row(StartTls, R421,        Both,    Transient,  Replaced,     1),
    row(StartTls, R451,        Both,    Transient,  Replaced,     1),
    row(StartTls, R554,        Both,    Permanent,  Replaced,     0),
    row(StartTls, Delay,       Both,    Transient,  Replaced,     1),
    row(StartTls, Dribble,     Both,    ALL,        Kept,         1),
    row(StartTls, Split,       Both,    ALL,        Kept,         1),
    row(StartTls, TlsFail,     Both,    Permanent,  Replaced,     0),

    row(Auth,     Close,       Both,    Transient,  Replaced,     1),
    row(Auth,     AcceptClose, Both,    Transient,  Replaced,     1),
    row(Auth,     R421,        Both,    Transient,  Replaced,     1),
    row(Auth,     R451,        Both,    Transient,  Replaced,     1),
    row(Auth,     R554,        Both,    Permanent,  Replaced,     0),
    row(Auth,     Delay,       Both,    Transient,  Replaced,     1),
    row(Auth,     Dribble,     Both,    ALL,        Kept,         1),
    row(Auth,     Split,       Both,    ALL,        Kept,         1),

    // A refused MAIL leaves the session usable: the retry and message 2 reuse it.
    row(Mail,     Close,       Both,    Transient,  Replaced,     1),
    row(Mail,     AcceptClose, Both,    Transient,  Replaced,     1),
    row(Mail,     R421,        Both,    Transient,  Replaced,     1),
    row(Mail,     R451,        Both,    Transient,  Kept,         1),
    row(Mail,     R554,        Both,    Permanent,  Kept,         0),
    row(Mail,     Delay,       Both,    Transient,  Replaced,     1),
    row(Mail,     Dribble,     Both,    ALL,        Kept,         1),
    row(Mail,     Split,       Both,    ALL,        Kept,         1),

    // Every recipient refused: the message fails; RSET, and the session goes on.
    row(RcptAll,  Close,       Both,    Transient,  Replaced,     1),
    row(RcptAll,  AcceptClose, Both,    Transient,  Replaced,     1),
    row(RcptAll,  R421,        Both,    Transient,  Replaced,     1),
    row(RcptAll,  R451,        Both,    Transient,  Kept,         1),
    row(RcptAll,  R554,        Both,    Permanent,  Kept,         0),
    row(RcptAll,  Delay,       Both,    Transient,  Replaced,     1),
    row(RcptAll,  Dribble,     Both,    ALL,        Kept,         1),
    row(RcptAll,  Split,       Both,    ALL,        Kept,         1),

    // One recipient refused: the others get it; the report lists the refusal.
    row(Rcpt1,    Close,       Both,    Transient,  Replaced,     1),
    row(Rcpt1,    AcceptClose, Both,    Transient,  Replaced,     1),
    row(Rcpt1,    R421,        Both,    Transient,  Replaced,     1),
    row(Rcpt1,    R451,        Both,    BC,         Kept,         1),
    row(Rcpt1,    R554,        Both,    BC,         Kept,         1),
    row(Rcpt1,    Delay,       Both,    Transient,  Replaced,     1),
    row(Rcpt1,    Dribble,     Both,    ALL,        Kept,         1),
    row(Rcpt1,    Split,       Both,    ALL,        Kept,         1),

    row(Rcpt2,    Close,       Both,    Transient,  Replaced,     1),
    row(Rcpt2,    AcceptClose, Both,    Transient,  Replaced,     1),
    row(Rcpt2,    R421,        Both,    Transient,  Replaced,     1),
    row(Rcpt2,    R451,        Both,    AC,         Kept,         1),
    row(Rcpt2,    R554,        Both,    AC,         Kept,         1),
    row(Rcpt2,    Delay,       Both,    Transient,  Replaced,     1),
    row(Rcpt2,    Dribble,     Both,    ALL,        Kept,         1),
    row(Rcpt2,    Split,       Both,    ALL,        Kept,         1),

    row(RcptC,    Close,       Both,    Transient,  Replaced,     1),
    row(RcptC,    AcceptClose, Both,    Transient,  Replaced,     1),
    row(RcptC,    R421,        Both,    Transient,  Replaced,     1),
    row(RcptC,    R451,        Both,    AB,         Kept,         1),
    row(RcptC,    R554,        Both,    AB,         Kept,         1),
    row(RcptC,    Delay,       Both,    Transient,  Replaced,     1),
    row(RcptC,    Dribble,     Both,    ALL,        Kept,         1),
    row(RcptC,    Split,       Both,    ALL,        Kept,         1),

    row(Data,     Close,       On::Data, Transient, Replaced,     1),
    row(Data,     AcceptClose, On::Data, Transient, Replaced,     1),
    row(Data,     R421,        On::Data, Transient, Replaced,     1),
    row(Data,     R451,        On::Data, Transient, Kept,         1),
    row(Data,     R554,        On::Data, Permanent, Kept,         0),
    row(Data,     Delay,       On::Data, Transient, Replaced,     1),
    row(Data,     Dribble,     On::Data, ALL,       Kept,         1),
    row(Data,     Split,       On::Data, ALL,       Kept,         1),
    row(Data,     F::Any,      On::Bdat, ALL,       Kept,         1), // no DATA with BDAT

    // A refused chunk fails the message (RFC 3030 §3); RSET, and the session goes on.
    row(Bdat,     Close,       On::Bdat, Transient, Replaced,     1),
    row(Bdat,     AcceptClose, On::Bdat, Transient, Replaced,     1),
    row(Bdat,     R421,        On::Bdat, Transient, Replaced,     1),
    row(Bdat,     R451,        On::Bdat, Transient, Kept,         1),
    row(Bdat,     R554,        On::Bdat, Permanent, Kept,         0),
    row(Bdat,     Delay,       On::Bdat, Transient, Replaced,     1),
    row(Bdat,     Dribble,     On::Bdat, ALL,       Kept,         1),
    row(Bdat,     Split,       On::Bdat, ALL,       Kept,         1),
    row(Bdat,     F::Any,      On::Data, ALL,       Kept,         1), // no BDAT with DATA

    // AcceptClose: stored, reply lost, retried: the one duplicate (see the module docs).
    row(DataEnd,  Close,       Both,    Transient,  Replaced,     1),
    row(DataEnd,  AcceptClose, Both,    Transient,  Replaced,     2),
    row(DataEnd,  R421,        Both,    Transient,  Replaced,     1),
    row(DataEnd,  R451,        Both,    Transient,  Kept,         1),
    row(DataEnd,  R554,        Both,    Permanent,  Kept,         0),
    row(DataEnd,  Delay,       Both,    Transient,  Replaced,     1),
    row(DataEnd,  Dribble,     Both,    ALL,        Kept,         1),
    row(DataEnd,  Split,       Both,    ALL,        Kept,         1),

    // Message 1 is refused (setup), the fault meets message 2's RSET: a failed RSET
    // says nothing about the message, so it is transient whatever the code.
    //   fault         message 2   connection 1
    rset(Close,        Transient,  Replaced),
    rset(AcceptClose,  Transient,  Replaced),
    rset(R421,         Transient,  Replaced),
    rset(R451,         Transient,  Replaced),
    rset(R554,         Transient,  Replaced),
    rset(Delay,        Transient,  Replaced),
    rset(Dribble,      ALL,        Kept),
    rset(Split,        ALL,        Kept),

    row(Noop,     F::Any,      Both,    ALL,        Kept,         1), // Client never NOOPs

    // Whatever the server does after QUIT, the session is over; only silence is an error.
    //   fault         quit() is Ok
    quit(Close,        true),
    quit(AcceptClose,  true),
    quit(R421,         true),
    quit(R451,         true),
    quit(R554,         true),
    quit(Delay,        false),
    quit(Dribble,      true),
    quit(Split,        true),
];

/// One cell of the matrix.
#[derive(Clone, Copy, Debug)]
struct Cell {
    at: At,
    fault: F,
    chunking: bool,
    pipelining: bool,
}

impl Cell {
    fn all() -> Vec<Cell> {
        let mut cells = Vec::new();
        for at in At::ALL {
            for fault in F::ALL.into_iter().filter(|f| f.applies_at(at)) {
                for chunking in [true, false] {
                    for pipelining in [true, false] {
                        cells.push(Cell {
                            at,
                            fault,
                            chunking,
                            pipelining,
                        });
                    }
                }
            }
        }
        cells
    }

    fn name(&self) -> String {
        format!(
            "{:?} × {:?} [{}, pipelining {}]",
            self.at,
            self.fault,
            if self.chunking { "BDAT" } else { "DATA" },
            if self.pipelining { "on" } else { "off" },
        )
    }

    /// The rows for this cell; the table is right when there is exactly one.
    fn rows(&self) -> Vec<&'static Row> {
        TABLE
            .iter()
            .filter(|r| {
                r.at == self.at
                    && (r.fault == self.fault || r.fault == F::Any)
                    && match r.on {
                        On::Both => true,
                        On::Data => !self.chunking,
                        On::Bdat => self.chunking,
                    }
            })
            .collect()
    }

    /// The faults in place for each phase: 0 for message 1's first attempt, 1 for its
    /// retry and message 2's first attempt, 2 for message 2's retry and QUIT.
    fn faults(&self, phase: usize) -> Vec<Fault> {
        let fault = || Fault::new(self.at.step(), self.fault.action());
        match (self.at, phase) {
            (At::Rset, 0) => vec![Fault::new(
                Step::Rcpt(RcptMatch::Any),
                Action::Reply(550, "5.1.1 setup: no such user".to_owned()),
            )],
            (At::Rset, 1) => vec![fault()],
            (At::Quit, _) => vec![fault()],
            (_, 0) => vec![fault()],
            _ => Vec::new(),
        }
    }
}

// ------------------------------------------------------------------------ messages

fn recipients() -> Envelope {
    Envelope::new(SENDER, [A, B, C])
}

/// About 110 KB of printable lines (some starting with a dot), from [`SEED`].
fn message(n: u64) -> Vec<u8> {
    let mut x = SEED.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 .";
    let mut out =
        format!("From: {SENDER}\r\nTo: {A}, {B}, {C}\r\nSubject: message {n}\r\n\r\n").into_bytes();
    for _ in 0..1500 {
        let len = 40 + (next() % 33) as usize;
        for _ in 0..len {
            out.push(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

static MESSAGES: LazyLock<[Vec<u8>; 2]> = LazyLock::new(|| [message(1), message(2)]);

/// A client of the simulator: STARTTLS with its CA, AUTH, every timeout [`TIMEOUT`].
fn builder(
    port: u16,
    ca: Option<String>,
    mechanism: Mechanism,
    chunking: bool,
    pipelining: bool,
) -> ClientBuilder {
    let timeouts = Timeouts {
        greeting: TIMEOUT,
        mail: TIMEOUT,
        rcpt: TIMEOUT,
        data_init: TIMEOUT,
        data_block: TIMEOUT,
        data_end: TIMEOUT,
        command: TIMEOUT,
        tls_handshake: TIMEOUT,
    };
    Client::builder("127.0.0.1")
        .port(port)
        .tls(TlsMode::StartTls)
        .ca_pem(ca.expect("the simulator generates a CA"))
        .credentials("alice", "pw")
        .mechanism(mechanism)
        .ehlo_name("client.test")
        .connect_timeout(TIMEOUT)
        .timeouts(timeouts)
        .options(Options {
            chunking,
            pipelining,
            ..Options::default()
        })
}

fn sim_config() -> Config {
    Config::builder().user("alice", "pw").build()
}

// ------------------------------------------------------------------------ one cell

/// What a first attempt gave, with the evidence (the error, shown on a mismatch).
#[derive(Clone)]
enum Got {
    Delivered(Vec<String>),
    Transient(String),
    Permanent(String),
}

impl fmt::Debug for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Got::Delivered(to) => write!(f, "Delivered({to:?})"),
            Got::Transient(e) => write!(f, "Transient: {e}"),
            Got::Permanent(e) => write!(f, "Permanent: {e}"),
        }
    }
}

impl Got {
    fn of(result: &Result<SendReport, Error>) -> Got {
        match result {
            Ok(r) => Got::Delivered(r.accepted.iter().map(|a| a.address.clone()).collect()),
            Err(e) if e.is_transient() => Got::Transient(format!("{e:?}")),
            Err(e) => Got::Permanent(format!("{e:?}")),
        }
    }

    fn is(&self, want: Outcome) -> bool {
        match (self, want) {
            (Got::Delivered(to), Outcome::Delivered(want)) => to == want,
            (Got::Transient(_), Outcome::Transient) | (Got::Permanent(_), Outcome::Permanent) => {
                true
            }
            _ => false,
        }
    }
}

/// Everything a cell showed.
#[derive(Debug)]
struct Seen {
    msg1: Got,
    msg2: Got,
    connections: u64,
    copies: [usize; 2],
    quit_ok: bool,
    /// Broken generic rules (a retry that failed, a copy with the wrong recipients…).
    problems: Vec<String>,
}

/// Sends message `n` (0 or 1); on a transient failure, once more after `between`
/// (which changes the faults), as a queue would. Returns the first attempt.
fn send_with_retry(
    client: &mut Client,
    n: usize,
    between: impl FnOnce(),
    problems: &mut Vec<String>,
) -> Got {
    let first = client.send_bytes(&recipients(), &MESSAGES[n]);
    let got = Got::of(&first);
    between();
    if let Got::Transient(_) = got {
        match client.send_bytes(&recipients(), &MESSAGES[n]) {
            Ok(r) if r.accepted.len() == 3 => {}
            other => problems.push(format!("the retry of message {} gave {other:?}", n + 1)),
        }
    }
    if let Ok(r) = &first {
        let refused: Vec<&str> = r.refused.iter().map(|r| r.address.as_str()).collect();
        let accepted: Vec<&str> = r.accepted.iter().map(|a| a.address.as_str()).collect();
        let mut all = [accepted, refused].concat();
        all.sort_unstable();
        if all != [A, B, C] {
            problems.push(format!("message {}: report {r:?}", n + 1));
        }
    }
    got
}

fn run_cell(cell: Cell) -> Seen {
    let sim = BlockingSimulator::start(sim_config()).expect("the simulator starts");
    // SCRAM's exchange (334, then 235) where AUTH is faulted; elsewhere PLAIN, one
    // round trip, spares two PBKDF2 runs per connection.
    let mechanism = match cell.at {
        At::Auth => Mechanism::ScramSha256,
        _ => Mechanism::Plain,
    };
    let mut client = builder(
        sim.addr().port(),
        sim.ca_pem(),
        mechanism,
        cell.chunking,
        cell.pipelining,
    )
    .build()
    .expect("the client builds");
    let mut problems = Vec::new();

    sim.set_faults(cell.faults(0));
    let msg1 = send_with_retry(
        &mut client,
        0,
        || sim.set_faults(cell.faults(1)),
        &mut problems,
    );
    let msg2 = send_with_retry(
        &mut client,
        1,
        || sim.set_faults(cell.faults(2)),
        &mut problems,
    );
    let quit_ok = client.quit().is_ok();
    drop(client);

    // Every reply the client saw came after the store it reports, and every connection
    // it made was accepted before it was answered: nothing more can arrive that counts.
    let connections = sim.connections();
    let stored = sim.take_messages();
    let mut copies = [0, 0];
    for m in &stored {
        match MESSAGES.iter().position(|d| *d == m.data) {
            Some(i) => copies[i] += 1,
            None => problems.push(format!("unknown message stored: {} octets", m.data.len())),
        }
    }
    check_recipients(&stored, 0, &msg1, &mut problems);
    check_recipients(&stored, 1, &msg2, &mut problems);
    if sim.session_panics() > 0 {
        problems.push("the simulator panicked".to_owned());
    }
    sim.shutdown();
    Seen {
        msg1,
        msg2,
        connections,
        copies,
        quit_ok,
        problems,
    }
}

/// The stored copies of message `n` went to the recipients the report names (the first
/// attempt) and to all three (a retry).
fn check_recipients(stored: &[ReceivedMessage], n: usize, got: &Got, problems: &mut Vec<String>) {
    let mut copies = stored.iter().filter(|m| m.data == MESSAGES[n]);
    if let Got::Delivered(to) = got {
        match copies.next() {
            Some(m) if m.recipients() == *to => {}
            other => problems.push(format!(
                "message {}: reported for {to:?}, stored for {:?}",
                n + 1,
                other.map(ReceivedMessage::recipients)
            )),
        }
    }
    for m in copies {
        if m.recipients() != [A, B, C] && !matches!(got, Got::Delivered(_)) {
            problems.push(format!(
                "message {}: a copy for {:?}",
                n + 1,
                m.recipients()
            ));
        }
    }
}

/// How the cell differs from its row (empty: it matches).
fn compare(row: &Row, seen: &Seen) -> Vec<String> {
    let mut diffs = seen.problems.clone();
    if !seen.msg1.is(row.msg1) {
        diffs.push(format!(
            "message 1: want {:?}, got {:?}",
            row.msg1, seen.msg1
        ));
    }
    if !seen.msg2.is(row.msg2) {
        diffs.push(format!(
            "message 2: want {:?}, got {:?}",
            row.msg2, seen.msg2
        ));
    }
    let want_connections = match row.session {
        Session::Kept => 1,
        Session::Replaced => 2,
    };
    if seen.connections != want_connections {
        diffs.push(format!(
            "connection 1 {:?}: want {want_connections} connections, got {}",
            row.session, seen.connections
        ));
    }
    if seen.copies != row.copies {
        diffs.push(format!(
            "copies of messages 1 and 2: want {:?}, got {:?}",
            row.copies, seen.copies
        ));
    }
    if seen.quit_ok != row.quit_ok {
        diffs.push(format!(
            "quit: want ok = {}, got {}",
            row.quit_ok, seen.quit_ok
        ));
    }
    diffs
}

// ------------------------------------------------------------------------ the tests

#[test]
fn the_table_has_exactly_one_row_per_cell() {
    let mut problems = Vec::new();
    for cell in Cell::all() {
        let rows = cell.rows();
        if rows.len() != 1 {
            problems.push(format!("{}: {} rows", cell.name(), rows.len()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_a_lost_final_reply_duplicates() {
    let duplicating: Vec<(At, F)> = TABLE
        .iter()
        .filter(|r| r.copies.iter().any(|&c| c > 1))
        .map(|r| (r.at, r.fault))
        .collect();
    assert_eq!(duplicating, [(At::DataEnd, F::AcceptClose)]);
}

#[test]
fn every_fault_at_every_step_gives_what_the_table_says() {
    let cells = Arc::new(Cell::all());
    let next = Arc::new(AtomicUsize::new(0));
    let running: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let (tx, rx) = mpsc::channel();
    for _ in 0..WORKERS {
        let (cells, next, running, tx) = (cells.clone(), next.clone(), running.clone(), tx.clone());
        std::thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&cell) = cells.get(i) else { return };
            running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(i);
            let seen = std::panic::catch_unwind(|| run_cell(cell));
            running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&i);
            let seen = seen.map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            });
            if tx.send((i, seen)).is_err() {
                return;
            }
        });
    }
    drop(tx);
    let mut results = Vec::new();
    while results.len() < cells.len() {
        match rx.recv_timeout(WATCHDOG) {
            Ok(r) => results.push(r),
            Err(_) => {
                let running = running.lock().unwrap_or_else(PoisonError::into_inner);
                let hung: Vec<String> = running.iter().map(|&i| cells[i].name()).collect();
                panic!("hung for {WATCHDOG:?}: {hung:?}");
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let mut mismatches = Vec::new();
    for (i, seen) in &results {
        let cell = cells[*i];
        let diffs = match (seen, cell.rows().first()) {
            (Err(panic), _) => vec![format!("panicked: {panic}")],
            (Ok(_), None) => vec!["no row in the table".to_owned()],
            (Ok(seen), Some(row)) => compare(row, seen),
        };
        if !diffs.is_empty() {
            mismatches.push(format!("{}:\n    {}", cell.name(), diffs.join("\n    ")));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cells differ from the table:\n{}",
        mismatches.len(),
        cells.len(),
        mismatches.join("\n")
    );
}

// ------------------------------------------------------------------------ the pool

/// The pool's subset: a fault meets message 1, then messages 2 and 3 go concurrently
/// (two connections allowed). A connection that failed (closed, 421) must never carry
/// another message; one that only refused (451) is healthy and is reused.
#[rustfmt::skip]
const POOL_TABLE: &[(At, F, Outcome, Session)] = &[
    //  step      fault  message 1  connection 1
    (Mail,        Close, Transient, Replaced),
    (Mail,        R421,  Transient, Replaced),
    (Mail,        R451,  Transient, Kept),
    (RcptAll,     Close, Transient, Replaced),
    (RcptAll,     R421,  Transient, Replaced),
    (RcptAll,     R451,  Transient, Kept),
    (Rcpt2,       Close, Transient, Replaced),
    (Rcpt2,       R421,  Transient, Replaced),
    (Rcpt2,       R451,  AC,        Kept),
    (DataEnd,     Close, Transient, Replaced),
    (DataEnd,     R421,  Transient, Replaced),
    (DataEnd,     R451,  Transient, Kept),
];

async fn pool_cell(at: At, fault: F, chunking: bool, pipelining: bool) -> Vec<String> {
    let sim = Simulator::start(sim_config())
        .await
        .expect("the simulator starts");
    let pool = builder(
        sim.addr().port(),
        sim.ca_pem().map(str::to_owned),
        Mechanism::Plain,
        chunking,
        pipelining,
    )
    .max_connections(2)
    .build_pool()
    .expect("the pool builds");
    let mut problems = Vec::new();
    sim.set_faults(vec![Fault::new(at.step(), fault.action())]);
    let first = Got::of(&pool.send_bytes(&recipients(), MESSAGES[0].clone()).await);
    sim.set_faults(Vec::new());
    let env = recipients();
    let (second, third) = tokio::join!(
        pool.send_bytes(&env, MESSAGES[1].clone()),
        pool.send_bytes(&env, MESSAGES[1].clone()),
    );
    for r in [second, third] {
        if !Got::of(&r).is(ALL) {
            problems.push(format!("a message after the fault: {r:?}"));
        }
    }
    pool.close().await;
    let later: Vec<u64> = sim
        .messages()
        .iter()
        .filter(|m| m.data == MESSAGES[1])
        .map(|m| m.connection)
        .collect();
    let mails_on_1 = sim
        .transcript(1)
        .map(|t| {
            t.client_lines()
                .iter()
                .filter(|l| l.starts_with("MAIL FROM"))
                .count()
        })
        .unwrap_or(0);
    let row = POOL_TABLE
        .iter()
        .find(|r| r.0 == at && r.1 == fault)
        .expect("a row");
    if !first.is(row.2) {
        problems.push(format!("message 1: want {:?}, got {first:?}", row.2));
    }
    let reused = later.contains(&1);
    match row.3 {
        Session::Kept if !reused => problems.push(format!("connection 1 not reused: {later:?}")),
        Session::Replaced if reused || mails_on_1 != 1 => problems.push(format!(
            "the failed connection 1 was reused: later messages on {later:?}, {mails_on_1} MAILs on it"
        )),
        _ => {}
    }
    sim.shutdown().await;
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_never_reuses_a_failed_connection() {
    let mut mismatches = Vec::new();
    for &(at, fault, _, _) in POOL_TABLE {
        for chunking in [true, false] {
            for pipelining in [true, false] {
                let problems = pool_cell(at, fault, chunking, pipelining).await;
                if !problems.is_empty() {
                    mismatches.push(format!(
                        "{at:?} × {fault:?} [chunking {chunking}, pipelining {pipelining}]: {}",
                        problems.join("; ")
                    ));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
