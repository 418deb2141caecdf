//! A record of what went over the wire, for debugging: `C:`/`S:` lines, with credentials
//! redacted and message content summarised.
//!
//! ```text
//! * connected to 127.0.0.1:12587
//! S: 220 mx.example ESMTP
//! C: EHLO client.example
//! ...
//! C: AUTH PLAIN <redacted>
//! S: 235 2.7.0 Authentication successful
//! C: MAIL FROM:<a@example.com> SIZE=312        (one write: the pipelined group and
//! C: RCPT TO:<b@example.net>                    the first chunk leave together)
//! C: BDAT 312 LAST
//! C: [312 octets of message content]
//! ```
//!
//! Every line the client sends during an AUTH exchange is `<redacted>`, and the initial
//! response on the `AUTH` line too; so are the server's `334` challenges (a SCRAM
//! server's salt and signature would allow an offline guess at the password). A
//! transcript can be pasted into a bug report.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// Who a transcript line is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client (us).
    Client,
    /// The server.
    Server,
    /// A note from the driver: connection, TLS handshake, errors.
    Note,
}

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Who said it.
    pub side: Side,
    /// For client lines: the number of the write (from 0, per transcript) that carried
    /// it. Lines with the same number left in one write, e.g. a pipelined group.
    pub write: Option<u64>,
    /// The line without CRLF (redacted or summarised where needed).
    pub text: String,
}

/// What went over the wire, over every connection of a client since it was last taken.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    entries: Vec<Entry>,
    writes: u64,
}

impl Transcript {
    /// Every line, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The client's lines grouped by the write that carried them.
    pub fn client_writes(&self) -> Vec<Vec<&str>> {
        let mut groups: Vec<(u64, Vec<&str>)> = Vec::new();
        for e in &self.entries {
            let Some(w) = e.write else { continue };
            match groups.last_mut() {
                Some((last, lines)) if *last == w => lines.push(&e.text),
                _ => groups.push((w, vec![&e.text])),
            }
        }
        groups.into_iter().map(|(_, l)| l).collect()
    }

    /// How many writes the client made.
    pub fn write_count(&self) -> u64 {
        self.writes
    }

    /// True when some line (of any side) starts with `prefix`, ignoring ASCII case.
    pub fn contains_line(&self, prefix: &str) -> bool {
        self.entries.iter().any(|e| {
            e.text.len() >= prefix.len()
                && e.text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        })
    }

    fn push(&mut self, side: Side, write: Option<u64>, text: String) {
        tracing::trace!(target: "postel::wire", side = ?side, "{text}");
        self.entries.push(Entry { side, write, text });
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            let tag = match e.side {
                Side::Client => "C:",
                Side::Server => "S:",
                Side::Note => "*",
            };
            writeln!(f, "{tag} {}", e.text)?;
        }
        Ok(())
    }
}

/// Shared between a client and its connections.
pub(crate) type SharedTranscript = Arc<Mutex<Transcript>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Commands,
    /// DATA content until `CRLF.CRLF`; `at` tracks the terminator's progress.
    Data {
        octets: u64,
        at: u8,
    },
    /// A BDAT chunk's remaining octets.
    Bdat {
        left: u64,
        octets: u64,
    },
}

/// Turns the bytes of one connection into transcript lines.
#[derive(Debug)]
pub(crate) struct Recorder {
    out: Option<SharedTranscript>,
    mode: Mode,
    client_line: Vec<u8>,
    server_line: Vec<u8>,
    in_auth: bool,
    data_requested: bool,
}

impl Recorder {
    /// Records into `out`; `None` records nothing.
    pub(crate) fn new(out: Option<SharedTranscript>) -> Recorder {
        Recorder {
            out,
            mode: Mode::Commands,
            client_line: Vec::new(),
            server_line: Vec::new(),
            in_auth: false,
            data_requested: false,
        }
    }

    fn with(&self, f: impl FnOnce(&mut Transcript)) {
        if let Some(t) = &self.out {
            let mut t = t.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut t);
        }
    }

    /// A driver's note.
    pub(crate) fn note(&self, text: impl Into<String>) {
        let text = text.into();
        tracing::debug!("{text}");
        self.with(|t| t.push(Side::Note, None, text));
    }

    /// The client wrote `bytes` in one write.
    pub(crate) fn sent(&mut self, bytes: &[u8]) {
        if self.out.is_none() || bytes.is_empty() {
            return;
        }
        let mut lines = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.mode {
                Mode::Commands => {
                    let nl = rest.iter().position(|&b| b == b'\n');
                    let take = nl.map_or(rest.len(), |p| p + 1);
                    self.client_line.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if nl.is_some() {
                        let line = std::mem::take(&mut self.client_line);
                        lines.push(self.command(trim(&line)));
                    }
                }
                Mode::Bdat { left, octets } => {
                    let n = (rest.len() as u64).min(left);
                    rest = &rest[n as usize..];
                    if n == left {
                        lines.push(format!("[{octets} octets of message content]"));
                        self.mode = Mode::Commands;
                    } else {
                        self.mode = Mode::Bdat {
                            left: left - n,
                            octets,
                        };
                    }
                }
                Mode::Data { mut octets, mut at } => {
                    let mut used = 0;
                    for &b in rest {
                        used += 1;
                        octets += 1;
                        // Progress through CR LF "." CR LF (the first CR LF ends a line).
                        at = match (at, b) {
                            (_, b'\r') if at != 3 => 1,
                            (1, b'\n') => 2,
                            (2, b'.') => 3,
                            (3, b'\r') => 4,
                            (4, b'\n') => 5,
                            _ => 0,
                        };
                        if at == 5 {
                            break;
                        }
                    }
                    rest = &rest[used..];
                    if at == 5 {
                        lines.push(format!("[{} octets of message content]", octets - 3));
                        lines.push(".".to_owned());
                        self.mode = Mode::Commands;
                    } else {
                        self.mode = Mode::Data { octets, at };
                    }
                }
            }
        }
        self.with(|t| {
            let w = t.writes;
            t.writes += 1;
            for l in lines {
                t.push(Side::Client, Some(w), l);
            }
        });
    }

    fn command(&mut self, line: &[u8]) -> String {
        if self.in_auth {
            return "<redacted>".to_owned();
        }
        let text = String::from_utf8_lossy(line).into_owned();
        let mut words = text.split(' ');
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "AUTH" => {
                self.in_auth = true;
                let mech = words.next().unwrap_or("");
                match words.next() {
                    Some(_) => format!("AUTH {mech} <redacted>"),
                    None => format!("AUTH {mech}"),
                }
            }
            "BDAT" => {
                if let Some(n) = words.next().and_then(|n| n.parse::<u64>().ok()) {
                    if n > 0 {
                        self.mode = Mode::Bdat { left: n, octets: n };
                    }
                }
                text
            }
            "DATA" => {
                self.data_requested = true;
                text
            }
            "MAIL" => {
                self.data_requested = false;
                text
            }
            _ => text,
        }
    }

    /// The client received `bytes`.
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        if self.out.is_none() {
            return;
        }
        let mut lines = Vec::new();
        for &b in bytes {
            self.server_line.push(b);
            if b == b'\n' {
                let line = std::mem::take(&mut self.server_line);
                let line = trim(&line);
                let last = line.len() == 3 || line.get(3) == Some(&b' ');
                if last {
                    let code = line.get(..3).unwrap_or(b"");
                    if self.in_auth && code != b"334" {
                        self.in_auth = false;
                    }
                    if code == b"354" && self.data_requested {
                        self.data_requested = false;
                        self.mode = Mode::Data { octets: 0, at: 2 };
                    }
                }
                // A SCRAM server's challenges (salt, iterations, signature) would allow
                // an offline guess at the password: challenges are redacted too.
                if self.in_auth && line.starts_with(b"334") {
                    lines.push("334 <redacted>".to_owned());
                } else {
                    lines.push(String::from_utf8_lossy(line).into_owned());
                }
            }
        }
        self.with(|t| {
            for l in lines {
                t.push(Side::Server, None, l);
            }
        });
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(client: &[&[u8]], server: &[u8]) -> Transcript {
        let shared = SharedTranscript::default();
        let mut r = Recorder::new(Some(shared.clone()));
        for c in client {
            r.sent(c);
        }
        r.received(server);
        let t = shared.lock().unwrap().clone();
        t
    }

    #[test]
    fn auth_initial_response_and_every_later_client_line_are_redacted() {
        let shared = SharedTranscript::default();
        let mut r = Recorder::new(Some(shared.clone()));
        r.sent(b"AUTH LOGIN dXNlcg==\r\n");
        r.received(b"334 UGFzc3dvcmQ6\r\n");
        r.sent(b"aHVudGVyMg==\r\n");
        r.received(b"235 2.7.0 ok\r\n");
        r.sent(b"MAIL FROM:<a@b.test>\r\n");
        let t = shared.lock().unwrap().to_string();
        assert_eq!(
            t,
            "C: AUTH LOGIN <redacted>\nS: 334 <redacted>\nC: <redacted>\nS: 235 2.7.0 ok\nC: MAIL FROM:<a@b.test>\n"
        );
        assert!(!t.contains("aHVudGVyMg"));
    }

    #[test]
    fn bdat_content_is_summarised_and_the_write_boundary_kept() {
        let t = record(
            &[
                b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 5 LAST\r\nhello",
                b"QUIT\r\n",
            ],
            b"",
        );
        assert_eq!(
            t.client_writes(),
            vec![
                vec![
                    "MAIL FROM:<a@b.test>",
                    "RCPT TO:<c@d.test>",
                    "BDAT 5 LAST",
                    "[5 octets of message content]"
                ],
                vec!["QUIT"]
            ]
        );
    }

    #[test]
    fn data_content_is_summarised_up_to_the_final_dot() {
        let shared = SharedTranscript::default();
        let mut r = Recorder::new(Some(shared.clone()));
        r.sent(b"DATA\r\n");
        r.received(b"354 go\r\n");
        r.sent(b"Subject: x\r\n\r\n..dot\r\n");
        r.sent(b".\r\nQUIT\r\n");
        let t = shared.lock().unwrap().to_string();
        assert_eq!(
            t,
            "C: DATA\nS: 354 go\nC: [21 octets of message content]\nC: .\nC: QUIT\n"
        );
    }
}
