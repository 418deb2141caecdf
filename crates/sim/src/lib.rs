//! postel-sim: an SMTP server simulator, strict like the strictest real server by
//! default, lenient or hostile on request.
//!
//! ```text
//! S: 220 mx.sim.test ESMTP postel-sim
//! C: EHLO client.test
//! S: 250-mx.sim.test
//! S: 250-PIPELINING
//! S: 250-SIZE 10485760
//! S: 250-STARTTLS
//! S: 250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 SCRAM-SHA-256
//! S: 250-ENHANCEDSTATUSCODES
//! S: 250-8BITMIME
//! S: 250-DSN
//! S: 250-SMTPUTF8
//! S: 250 CHUNKING
//! ```
//!
//! # Use in tests
//! ```no_run
//! # async fn demo() -> Result<(), postel_sim::SimError> {
//! use postel_sim::{Config, Simulator};
//! use postel_sim::fault::{Action, Fault, RcptMatch, Step};
//! let sim = Simulator::start(Config::builder().user("alice", "pw").build()).await?;
//! sim.set_faults(vec![
//!     Fault::refuse_recipient("nobody@mx.test", 550, "5.1.1 <nobody@mx.test>: Recipient address rejected"),
//!     Fault::new(Step::DataEnd, Action::CloseAfterAccept).on_connection(1),
//! ]);
//! // ... a client sends to sim.addr(), trusting sim.ca_pem() ...
//! for m in sim.messages() { println!("{} -> {:?}: {} octets", m.mail_from, m.recipients(), m.data.len()); }
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//! Synchronous code uses [`BlockingSimulator`], which has the same accessors.
//!
//! # Strict rules (the default) and their replies
//! Modelled on Postfix 3.9 with `smtpd_forbid_bare_newline = reject`,
//! `smtpd_forbid_unauth_pipelining = yes`, `smtpd_helo_required = yes`,
//! `strict_rfc821_envelopes = yes`, `smtpd_tls_auth_only = yes` when
//! [`Config::require_tls_for_auth`] is set.
//!
//! | deviation | reply | then |
//! |---|---|---|
//! | bare LF or bare CR, in a command or in the message (RFC 5321 §2.3.8) | `550 5.5.2 <host> Error: bare <LF> received` (or `<CR>`) | disconnect, message discarded (Postfix's reject code 550 and text; it is refused at once rather than at the end of data, because a client that sends bare LFs may never send a valid `CRLF.CRLF`) |
//! | command line longer than 512 octets with CRLF (§4.5.3.1.4; MAIL and RCPT get the RFC 1870/3461/4954 allowances, AUTH 12288) | `500 5.5.0 Error: line too long` | session goes on |
//! | text line longer than 1000 octets with CRLF (§4.5.3.1.6) | `554 5.6.0 Error: text line longer than 1000 octets` after the final dot | message not stored |
//! | data pipelined without PIPELINING, or after a command that must end a group (EHLO, DATA, AUTH, STARTTLS, NOOP, ...: RFC 2920 §3.1), or before the greeting | `554 5.5.0 Error: SMTP protocol synchronization` | disconnect |
//! | MAIL before EHLO/HELO | `503 5.5.1 Error: send HELO/EHLO first` | |
//! | MAIL inside a transaction | `503 5.5.1 Error: nested MAIL command` | |
//! | RCPT or DATA or BDAT without MAIL | `503 5.5.1 Error: need MAIL command` | BDAT's chunk is read first |
//! | DATA or BDAT without an accepted RCPT | `554 5.5.1 Error: no valid recipients` | |
//! | DATA after BDAT | `503 5.5.1 Error: DATA is not allowed after BDAT` | |
//! | AUTH before TLS when TLS is required for it | `530 5.7.0 Must issue a STARTTLS command first` | |
//! | a second STARTTLS | `554 5.5.1 Error: TLS already active` | |
//! | `MAIL FROM: <a@b>` (space) or no brackets | `501 5.5.4 Syntax: MAIL FROM:<address>` | lenient takes it |
//! | a parameter after HELO, or of an extension that is off | `555 5.5.4 Unsupported option: X` | |
//! | `SIZE=` over the limit | `552 5.3.4 Message size exceeds fixed limit` | |
//! | data over the limit | `552 5.3.4 Error: message file too big` | |
//! | bad NOTIFY/ORCPT/RET/ENVID (RFC 3461 §4) | `501 5.5.4 Bad NOTIFY parameter syntax` etc. | |
//! | UTF-8 address without `SMTPUTF8` (RFC 6531 §3.4) | `553 5.6.7 Must declare SMTPUTF8 to send unicode address` | |
//! | bad BDAT arguments (RFC 3030 §2) | `501 5.5.4 Syntax: BDAT count [LAST]` | disconnect: the chunk cannot be framed |
//! | unknown command | `502 5.5.2 Error: command not recognized` | |
//! | too many recipients | `452 4.5.3 Error: too many recipients` | |
//!
//! 8-bit octets without `BODY=8BITMIME` break RFC 6152 §3, but Postfix and most real
//! servers accept them; so does the simulator unless
//! [`Config::reject_8bit_without_8bitmime`] is set (then `554 5.6.1`).
//!
//! Lenient mode is a default Postfix before 3.9: LF alone ends a line and `<LF>.<LF>`
//! ends DATA (bytes are stored as they came), pipelining is not policed, command lines
//! may be 2048 octets and text lines any length, MAIL/RCPT paths may have a space after
//! the colon or no brackets, MAIL needs no HELO.
//!
//! After STARTTLS any plaintext the client sent with it is discarded (RFC 3207 §4.2),
//! and EHLO, AUTH and the transaction are forgotten.
//!
//! Pipelining is judged the way Postfix judges it: when a command is taken, any client
//! bytes already received beyond it (or readable from the socket at that instant) are
//! "sent ahead". A client that sends ahead by a hair later than that is not caught; a
//! client that waits for each reply never trips it.
//!
//! # Annotations and the web bench
//! Whatever its strictness, the simulator notes every protocol deviation at the
//! transcript line where it happened (bare LF/CR, unsynchronised pipelining, lines over
//! the RFC limits, dot-stuffing, 8-bit without 8BITMIME, SMTPUTF8, missing header
//! fields), with what Postfix, Exim and Gmail would do: [`Simulator::annotations`],
//! [`annotate`]. With the `web` feature, `web::WebServer` serves the messages, the
//! annotated sessions and fault rules as a page and a REST API (`postel sim --web`,
//! docs/sim.md); [`profile`] gives the `--profile` personalities.
//!
//! # Faults
//! See [`fault`]: close, 421, a chosen reply, delays, dribbled replies, odd multi-line
//! splits, TLS handshake failure, at any step of any or a chosen connection. Every
//! action is defined at every step, so a fault matrix is two loops and one table:
//! ```no_run
//! # fn drive_client(_: std::net::SocketAddr, _: Option<&str>) {}
//! use postel_sim::fault::{Action, Fault, Step};
//! use postel_sim::{BlockingSimulator, Config};
//! let sim = BlockingSimulator::start(Config::builder().user("alice", "pw").build()).unwrap();
//! let ca = sim.ca_pem();
//! for step in Step::MATRIX {
//!     for action in [Action::Close, Action::CloseAfterAccept, Action::Reply421] {
//!         sim.set_faults(vec![Fault::new(step.clone(), action.clone())]);
//!         let before = sim.connections();
//!         drive_client(sim.addr(), ca.as_deref());
//!         let delivered = sim.take_messages();       // who got it, and how often
//!         let last = sim.transcript(sim.connections()); // closed or still open?
//!         // assert against the expected row for (step, action) ...
//!         # let _ = (before, delivered, last);
//!     }
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod annotate;
mod auth;
mod blocking;
mod config;
mod envelope;
pub mod fault;
pub mod profile;
mod run;
mod server;
mod session;
mod store;
mod stream;
mod tls;
pub mod transcript;
#[cfg(feature = "web")]
pub mod web;

pub use annotate::{Annotation, Deviation};
pub use blocking::BlockingSimulator;
pub use config::{Config, ConfigBuilder, Extension, Mechanism, Strictness, TlsIdentity, User};
#[cfg(feature = "web")]
pub use run::run_web;
pub use run::{print_message, run, RunOptions};
pub use server::{Event, Simulator};
pub use store::{escape, Line, Param, ReceivedMessage, Recipient, Side, Transcript, Transfer};

/// What can stop the simulator from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A socket or file operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The certificate could not be generated or loaded.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The configuration cannot be used (for example a non-loopback address).
    #[error("bad configuration: {0}")]
    Config(String),
}
