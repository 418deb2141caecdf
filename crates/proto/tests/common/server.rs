//! A small reactive SMTP server for tests: it reads what the client writes, answers each
//! command, stores each message as the receiving side would (DATA un-stuffed, BDAT chunks
//! joined), and records every protocol violation it sees (a bare CR or LF in message content,
//! an unknown command, a BDAT size that does not match).

/// What the server offers and how it answers.
#[derive(Clone, Debug)]
pub struct Behaviour {
    pub pipelining: bool,
    pub chunking: bool,
    pub starttls: bool,
    pub auth: bool,
    /// RCPT to an address starting with this is refused with 550.
    pub refuse_prefix: &'static str,
    /// Recipients accepted per transaction; more get `452 4.5.3 Error: too many recipients`.
    pub max_recipients: usize,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            pipelining: true,
            chunking: false,
            starttls: false,
            auth: false,
            refuse_prefix: "nobody",
            max_recipients: usize::MAX,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Mode {
    Command,
    Data,
    Bdat { remaining: usize, last: bool },
}

/// The server's state for one connection.
#[derive(Clone, Debug)]
pub struct Server {
    pub behaviour: Behaviour,
    input: Vec<u8>,
    output: Vec<u8>,
    mode: Mode,
    current: Vec<u8>,
    /// Messages received in full, in order.
    pub messages: Vec<Vec<u8>>,
    /// Recipients of each message (accepted ones only).
    pub recipients: Vec<Vec<String>>,
    rcpts: Vec<String>,
    /// What the client did wrong.
    pub violations: Vec<String>,
    /// QUIT was answered: nothing more is read.
    pub closed: bool,
    /// STARTTLS was answered with 220 (the test fakes the handshake).
    pub tls_started: bool,
}

impl Server {
    /// A fresh connection: the greeting is already queued.
    pub fn new(behaviour: Behaviour) -> Server {
        Server {
            behaviour,
            input: Vec::new(),
            output: b"220 mx.test ESMTP ready\r\n".to_vec(),
            mode: Mode::Command,
            current: Vec::new(),
            messages: Vec::new(),
            recipients: Vec::new(),
            rcpts: Vec::new(),
            violations: Vec::new(),
            closed: false,
            tls_started: false,
        }
    }

    /// Bytes the server has to send.
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }

    /// Takes up to `max` bytes of the server's output.
    pub fn read(&mut self, max: usize) -> Vec<u8> {
        let n = max.min(self.output.len());
        self.output.drain(..n).collect()
    }

    /// Copies output into `buf`; returns the count.
    pub fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.output.len());
        buf[..n].copy_from_slice(&self.output[..n]);
        self.output.drain(..n);
        n
    }

    /// The client wrote `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.closed {
            self.violations
                .push(format!("{} bytes after QUIT", bytes.len()));
            return;
        }
        self.input.extend_from_slice(bytes);
        self.process();
    }

    fn reply(&mut self, text: &str) {
        self.output.extend_from_slice(text.as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    fn process(&mut self) {
        loop {
            match self.mode.clone() {
                Mode::Bdat { remaining, last } => {
                    if self.input.is_empty() && remaining > 0 {
                        return;
                    }
                    let n = remaining.min(self.input.len());
                    self.current.extend(self.input.drain(..n));
                    if n < remaining {
                        self.mode = Mode::Bdat {
                            remaining: remaining - n,
                            last,
                        };
                        return;
                    }
                    self.mode = Mode::Command;
                    if self.rcpts.is_empty() {
                        // RFC 3030 §2: without a valid recipient every chunk is refused.
                        self.current.clear();
                        self.reply("554 5.5.1 no valid recipients");
                    } else if last {
                        self.finish_message();
                    } else {
                        self.reply("250 2.0.0 chunk ok");
                    }
                }
                Mode::Data | Mode::Command => {
                    let Some(lf) = self.input.iter().position(|&b| b == b'\n') else {
                        return;
                    };
                    let line: Vec<u8> = self.input.drain(..=lf).collect();
                    if !line.ends_with(b"\r\n") || line[..line.len() - 2].contains(&b'\r') {
                        self.violations.push(format!(
                            "bare CR or LF: {:?}",
                            String::from_utf8_lossy(&line)
                        ));
                    }
                    let content = line
                        .strip_suffix(b"\r\n")
                        .unwrap_or(&line[..line.len() - 1]);
                    if self.mode == Mode::Data {
                        self.data_line(content);
                    } else {
                        let text = String::from_utf8_lossy(content).into_owned();
                        self.command(&text);
                    }
                }
            }
        }
    }

    fn data_line(&mut self, content: &[u8]) {
        if content == b"." {
            self.mode = Mode::Command;
            self.finish_message();
            return;
        }
        // RFC 5321 §4.5.2: the receiver drops the first dot of a line that starts with one.
        let content = content.strip_prefix(b".").unwrap_or(content);
        self.current.extend_from_slice(content);
        self.current.extend_from_slice(b"\r\n");
    }

    fn finish_message(&mut self) {
        self.messages.push(std::mem::take(&mut self.current));
        self.recipients.push(std::mem::take(&mut self.rcpts));
        self.reply("250 2.0.0 Ok: queued");
    }

    fn command(&mut self, line: &str) {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or("");
        match verb {
            "EHLO" => {
                let mut lines = vec!["250-mx.test".to_string()];
                if self.behaviour.pipelining {
                    lines.push("250-PIPELINING".into());
                }
                if self.behaviour.chunking {
                    lines.push("250-CHUNKING".into());
                }
                if self.behaviour.starttls && !self.tls_started {
                    lines.push("250-STARTTLS".into());
                }
                if self.behaviour.auth {
                    lines.push("250-AUTH PLAIN LOGIN".into());
                }
                lines.push("250 ENHANCEDSTATUSCODES".into());
                for l in lines {
                    self.reply(&l);
                }
            }
            "HELO" => self.reply("250 mx.test"),
            "STARTTLS" => {
                self.tls_started = true;
                self.reply("220 2.0.0 go ahead");
            }
            "AUTH" => self.reply("235 2.7.0 ok"),
            "MAIL" => {
                self.rcpts.clear();
                self.current.clear();
                self.reply("250 2.1.0 Ok");
            }
            "RCPT" => {
                let addr = line
                    .split_once('<')
                    .and_then(|(_, r)| r.split_once('>'))
                    .map_or("", |(a, _)| a)
                    .to_string();
                if addr.starts_with(self.behaviour.refuse_prefix) {
                    self.reply("550 5.1.1 unknown user");
                } else if self.rcpts.len() >= self.behaviour.max_recipients {
                    self.reply("452 4.5.3 Error: too many recipients");
                } else {
                    self.rcpts.push(addr);
                    self.reply("250 2.1.5 Ok");
                }
            }
            "DATA" => {
                if self.rcpts.is_empty() {
                    self.reply("554 5.5.1 no valid recipients");
                } else {
                    self.mode = Mode::Data;
                    self.reply("354 End data with <CR><LF>.<CR><LF>");
                }
            }
            "BDAT" => {
                let mut words = upper.split(' ').skip(1);
                let size = words.next().and_then(|w| w.parse::<usize>().ok());
                let last = words.next() == Some("LAST");
                match size {
                    Some(remaining) => self.mode = Mode::Bdat { remaining, last },
                    None => {
                        self.violations.push(format!("bad BDAT: {line}"));
                        self.reply("501 5.5.4 bad BDAT");
                    }
                }
            }
            "RSET" => {
                self.rcpts.clear();
                self.current.clear();
                self.reply("250 2.0.0 Ok");
            }
            "QUIT" => {
                self.reply("221 2.0.0 Bye");
                self.closed = true;
            }
            _ => {
                self.violations.push(format!("unknown command: {line}"));
                self.reply("500 5.5.2 unknown command");
            }
        }
    }
}

/// What the body encoder must deliver for `input`: every CRLF, bare LF and bare CR becomes
/// CRLF, and a missing final line end is added (an empty body stays empty).
pub fn normalized(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 2);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}
