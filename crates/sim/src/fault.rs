//! Scripted misbehaviour: which connection, at which step, does what.
//!
//! A fault is `(connection, step, action)`. Every action is defined at every step, so a
//! test can take the cross product of [`Step::MATRIX`] and a list of actions:
//!
//! ```
//! use postel_sim::fault::{Action, Fault, Step};
//! // The second connection loses the reply to its final dot: the message is stored, the
//! // client sees the connection drop, and a retry will deliver it a second time.
//! let f = Fault::new(Step::DataEnd, Action::CloseAfterAccept).on_connection(2);
//! assert_eq!(f.step, Step::DataEnd);
//! ```
//!
//! Order of effects when several faults match one step: all delays first, then the first
//! terminal action (`Close`, `CloseAfterAccept`, `Reply421`, `Reply`, `TlsHandshakeFail`)
//! in the order the faults were given; `Dribble` and `SplitMultiline` shape whatever
//! reply is then written.

use std::time::Duration;

/// Which connections a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// Every connection.
    All,
    /// Only the n-th accepted connection, counting from 1.
    Nth(u64),
}

/// Which RCPT command a [`Step::Rcpt`] fault matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptMatch {
    /// Every RCPT.
    Any,
    /// The n-th RCPT of the transaction, counting from 1.
    Nth(usize),
    /// RCPT for this address (compared without angle brackets, ignoring ASCII case).
    Address(String),
}

/// A point in the session where a fault can act.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// The 220 greeting (for implicit TLS: the TLS handshake before it, too).
    Greeting,
    /// EHLO.
    Ehlo,
    /// HELO.
    Helo,
    /// STARTTLS (the 220 and the handshake after it).
    StartTls,
    /// AUTH: the command and its whole SASL exchange; the fault acts on the first reply.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO, all or a chosen one.
    Rcpt(RcptMatch),
    /// The DATA command (its 354).
    Data,
    /// The end of the message: after the final `.` of DATA, or after the chunk of
    /// `BDAT n LAST`. The body has been read; the fault replaces or withholds its reply.
    DataEnd,
    /// A BDAT chunk without LAST (its bytes are read before the fault acts).
    Bdat,
    /// RSET.
    Rset,
    /// NOOP.
    Noop,
    /// QUIT.
    Quit,
}

impl Step {
    /// The steps of an ordinary session, for fault matrices: greeting, EHLO, STARTTLS,
    /// AUTH, MAIL, every RCPT, DATA, the end of data, BDAT, RSET, NOOP, QUIT.
    pub const MATRIX: [Step; 12] = [
        Step::Greeting,
        Step::Ehlo,
        Step::StartTls,
        Step::Auth,
        Step::Mail,
        Step::Rcpt(RcptMatch::Any),
        Step::Data,
        Step::DataEnd,
        Step::Bdat,
        Step::Rset,
        Step::Noop,
        Step::Quit,
    ];
}

/// What happens at the step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Close the connection instead of replying; the command has no effect (at
    /// [`Step::DataEnd`]: the message is not stored).
    Close,
    /// Do what the command asks (at [`Step::DataEnd`]: store the message), then close
    /// without replying. At DataEnd this is "the reply to the final dot was lost": the
    /// only case where a correct client may deliver a message twice (RFC 5321 §4.1.1.4
    /// and RFC 1047).
    CloseAfterAccept,
    /// Reply `421 4.3.2 <host> Service shutting down, closing transmission channel` and
    /// close; the command has no effect.
    Reply421,
    /// Reply with this code and text instead. A 4xx or 5xx means the command had no
    /// effect; a 2xx or 3xx does what the command asks and only changes the text. At
    /// [`Step::Greeting`] a 4xx/5xx greeting is followed by 503 to everything but QUIT.
    Reply(u16, String),
    /// Wait this long before replying (a slow greeting at [`Step::Greeting`]).
    Delay(Duration),
    /// Write the reply one byte per TCP segment, with a short pause between them.
    Dribble,
    /// Split the reply's text over continuation lines at every space, so that
    /// `250 2.1.0 Ok` becomes `250-2.1.0\r\n250 Ok\r\n`, and a one-word text gets an
    /// empty last line (`250-mx.sim.test\r\n250\r\n`, valid per RFC 5321 §4.2). In an
    /// EHLO reply only the first line is split, so that every keyword line stays whole
    /// and the last line keeps its keyword; a 334 is never given an empty last line.
    SplitMultiline,
    /// At STARTTLS: reply 220, then answer the ClientHello with a fatal
    /// `handshake_failure` alert and close. At the greeting of an implicit-TLS listener:
    /// the same, without the 220. At any other step it acts as [`Action::Close`].
    TlsHandshakeFail,
}

/// One scripted fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Which connections.
    pub connections: Connections,
    /// Where in the session.
    pub step: Step,
    /// What happens.
    pub action: Action,
}

impl Fault {
    /// A fault on every connection.
    pub fn new(step: Step, action: Action) -> Fault {
        Fault {
            connections: Connections::All,
            step,
            action,
        }
    }

    /// Restricts the fault to the n-th connection (from 1).
    pub fn on_connection(mut self, n: u64) -> Fault {
        self.connections = Connections::Nth(n);
        self
    }

    /// Shorthand: `code text` for RCPT to `address` on every connection.
    pub fn refuse_recipient(address: &str, code: u16, text: &str) -> Fault {
        Fault::new(
            Step::Rcpt(RcptMatch::Address(address.to_owned())),
            Action::Reply(code, text.to_owned()),
        )
    }
}

/// Where the session is, as the fault matcher needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At<'a> {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    Mail,
    Rcpt { nth: usize, address: &'a str },
    Data,
    DataEnd,
    Bdat,
    Rset,
    Noop,
    Quit,
}

impl Fault {
    pub(crate) fn matches(&self, connection: u64, at: At<'_>) -> bool {
        if let Connections::Nth(n) = self.connections {
            if n != connection {
                return false;
            }
        }
        match (&self.step, at) {
            (Step::Rcpt(m), At::Rcpt { nth, address }) => match m {
                RcptMatch::Any => true,
                RcptMatch::Nth(n) => *n == nth,
                RcptMatch::Address(a) => {
                    let want = a.trim_start_matches('<').trim_end_matches('>');
                    want.eq_ignore_ascii_case(address)
                }
            },
            (Step::Greeting, At::Greeting)
            | (Step::Ehlo, At::Ehlo)
            | (Step::Helo, At::Helo)
            | (Step::StartTls, At::StartTls)
            | (Step::Auth, At::Auth)
            | (Step::Mail, At::Mail)
            | (Step::Data, At::Data)
            | (Step::DataEnd, At::DataEnd)
            | (Step::Bdat, At::Bdat)
            | (Step::Rset, At::Rset)
            | (Step::Noop, At::Noop)
            | (Step::Quit, At::Quit) => true,
            _ => false,
        }
    }
}

/// The faults that matched one step, folded into what the session must do.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub(crate) delay: Duration,
    pub(crate) terminal: Option<Action>,
    pub(crate) dribble: bool,
    pub(crate) split: bool,
}

impl Plan {
    pub(crate) fn from_faults<'f>(faults: impl Iterator<Item = &'f Fault>) -> Plan {
        let mut plan = Plan::default();
        for f in faults {
            match &f.action {
                Action::Delay(d) => plan.delay += *d,
                Action::Dribble => plan.dribble = true,
                Action::SplitMultiline => plan.split = true,
                other => {
                    if plan.terminal.is_none() {
                        plan.terminal = Some(other.clone());
                    }
                }
            }
        }
        plan
    }
}
