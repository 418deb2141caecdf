//! What happened to one message: who got it, who did not and why, the server's verdict.

use std::fmt;

use postel_proto::{EnhancedCode, Reply, ReplyInfo};

/// An owned copy of a server reply, whole (every line), for reports and errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerReply {
    /// The reply code, e.g. 250 or 550.
    pub code: u16,
    /// The enhanced status code of the first line (RFC 3463), when the server sent one.
    pub enhanced: Option<EnhancedCode>,
    /// The text: the first line after its codes, then each further line's text, joined by
    /// `\n`. Bytes that are not UTF-8 are replaced (U+FFFD).
    pub text: String,
}

impl ServerReply {
    /// Copies a reply borrowed from the core's buffer.
    pub fn from_reply(reply: &Reply<'_>) -> ServerReply {
        let mut text = String::from_utf8_lossy(reply.text()).into_owned();
        for line in reply.lines().skip(1) {
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(line));
        }
        ServerReply {
            code: reply.code().get(),
            enhanced: reply.enhanced(),
            text,
        }
    }

    /// Copies the core's bounded reply (its text is at most 96 bytes of the first line).
    pub fn from_info(info: &ReplyInfo) -> ServerReply {
        ServerReply {
            code: info.code().get(),
            enhanced: info.enhanced(),
            text: String::from_utf8_lossy(info.text()).into_owned(),
        }
    }

    /// True for 4yz replies: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
}

impl fmt::Display for ServerReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        if !self.text.is_empty() {
            f.write_str(" ")?;
            // The server's words, inert on a terminal: line breaks shown as " / ", every other
            // control character (a bare CR, ESC, BEL...) escaped rather than obeyed.
            for c in self.text.chars() {
                match c {
                    '\n' => f.write_str(" / ")?,
                    '\t' => f.write_str("\t")?,
                    c if c.is_control() => write!(f, "{}", c.escape_default())?,
                    c => fmt::Write::write_char(f, c)?,
                }
            }
        }
        Ok(())
    }
}

/// A recipient the server accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The address as given in the envelope.
    pub address: String,
    /// The server's reply to its RCPT TO (250 or 251).
    pub reply: ServerReply,
}

/// A recipient the server refused; the others still got the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The address as given in the envelope.
    pub address: String,
    /// The server's reply to its RCPT TO: 4yz means try again later, 5yz means do not.
    pub reply: ServerReply,
}

/// The outcome of a message that was accepted for at least one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendReport {
    /// Recipients that will get the message, in envelope order.
    pub accepted: Vec<Accepted>,
    /// Recipients that will not, with the reason, in envelope order.
    pub refused: Vec<Refused>,
    /// The server's final reply (usually `250 2.0.0 Ok: queued as …`).
    pub reply: ServerReply,
    /// Whether the message went over TLS.
    pub encrypted: bool,
    /// The SASL mechanism the session logged in with, if any.
    pub authenticated: Option<postel_proto::Mechanism>,
    /// Recipients the server's limit per transaction left out of this one (RFC 5321
    /// §4.5.3.1.10), with the 452 that said so: the client sends them in a next
    /// transaction, or lists them in `refused` (a transient refusal) when it cannot.
    pub(crate) deferred: Vec<Refused>,
}

impl SendReport {
    /// Lists the recipients still deferred as refused with their 452, for a later try.
    pub(crate) fn refuse_deferred(&mut self) {
        self.refused.append(&mut self.deferred);
    }

    /// Sorts `accepted` and `refused` in the order of `to` (after several transactions).
    pub(crate) fn sort_by(&mut self, to: &[String]) {
        let order = Order::new(to);
        self.accepted.sort_by_key(|r| order.of(&r.address));
        self.refused.sort_by_key(|r| order.of(&r.address));
    }

    /// True when every recipient was accepted.
    pub fn all_accepted(&self) -> bool {
        self.refused.is_empty()
    }
}

/// Where each address first appears in an envelope, to put reports in envelope order.
pub(crate) struct Order<'a>(std::collections::HashMap<&'a str, usize>);

impl<'a> Order<'a> {
    pub(crate) fn new(to: &'a [String]) -> Order<'a> {
        let mut at = std::collections::HashMap::with_capacity(to.len());
        for (i, a) in to.iter().enumerate() {
            at.entry(a.as_str()).or_insert(i);
        }
        Order(at)
    }

    /// The position of `address`; after every address of the envelope when not in it.
    pub(crate) fn of(&self, address: &str) -> usize {
        self.0.get(address).copied().unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_shown_on_a_terminal_obeys_no_control_character() {
        let reply = ServerReply {
            code: 550,
            enhanced: None,
            text: "no\u{1b}]0;owned\u{7}\rfake 250 ok\nsecond\tline\u{9b}".to_owned(),
        };
        assert_eq!(
            reply.to_string(),
            "550 no\\u{1b}]0;owned\\u{7}\\rfake 250 ok / second\tline\\u{9b}"
        );
    }
}
