//! A model of a message for property tests: generated at random, built with the builder,
//! and compared with what independent parsers read back.
#![allow(dead_code)]

use postel_mime::{Attachment, ContentType, DateTime, Message, MessageId, Part};
use proptest::prelude::*;

/// One MIME node as the test means it.
#[derive(Clone, Debug)]
pub enum Node {
    Leaf(Leaf),
    Multi(&'static str, Vec<Node>),
}

#[derive(Clone, Debug)]
pub struct Leaf {
    pub kind: Kind,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Text,
    Html,
    Attachment {
        name: String,
        content_type: String,
        cid: Option<String>,
        text: bool,
        streamed: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Model {
    pub subject: String,
    pub from: (Option<String>, String),
    pub to: Vec<(Option<String>, String)>,
    pub cc: Vec<(Option<String>, String)>,
    pub bcc: Vec<String>,
    pub custom: String,
    pub body: Node,
}

/// What a parser should find in a leaf.
#[derive(Debug, PartialEq)]
pub struct Expected {
    pub essence: String,
    pub filename: Option<String>,
    pub text: bool,
    pub data: Vec<u8>,
}

/// CR, LF and CRLF all become CRLF: the canonical form of text.
pub fn canonical(data: &[u8]) -> Vec<u8> {
    let s = data.to_vec();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\r' if s.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9]{1,12}",
        2 => "[a-zA-Z0-9äöüßé日本語€=?_.,:;\"()<>@'-]{1,15}",
        1 => "[a-z]{70,200}",
        1 => Just("=?utf-8?q?not_encoded?=".to_string()),
    ]
}

fn phrase(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 1..max).prop_map(|w| w.join(" "))
}

fn addr() -> impl Strategy<Value = String> {
    (
        "[a-z0-9+_-]{1,10}(\\.[a-z0-9+_-]{1,8}){0,2}",
        prop_oneof![
            4 => "[a-z]{1,10}\\.(test|example)",
            1 => Just("bücher.example".to_string()),
            1 => Just("例え.テスト".to_string()),
        ],
    )
        .prop_map(|(l, d)| format!("{l}@{d}"))
}

fn mailbox() -> impl Strategy<Value = (Option<String>, String)> {
    (prop::option::of(phrase(4)), addr())
}

fn text_data() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        5 => "[ -~]{0,80}",
        3 => "[ -~äöü€日本\t]{0,80}",
        1 => "[a-z ]{900,1100}",
        1 => "\\.[ -~]{0,10}",
        1 => "From [a-z ]{0,10}",
        1 => "[a-z]{1,5}[ \t]{1,3}",
        1 => "[日本語のテキスト]{10,400}",
    ];
    let sep = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    (prop::collection::vec((line, sep), 0..12), any::<bool>()).prop_map(|(lines, trailing)| {
        let mut s = String::new();
        let n = lines.len();
        for (i, (l, sep)) in lines.into_iter().enumerate() {
            s.push_str(&l);
            if i + 1 < n || trailing {
                s.push_str(sep);
            }
        }
        s.into_bytes()
    })
}

fn binary_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..3000),
        1 => prop::collection::vec(any::<u8>(), 20_000..60_000),
        1 => "[ -~]{0,200}".prop_map(String::into_bytes),
    ]
}

fn filename() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9 äöüé日本_().,'-]{1,90}",
        prop_oneof![
            Just(".pdf"),
            Just(".png"),
            Just(".bin"),
            Just(""),
            Just(".tar.gz")
        ],
    )
        .prop_map(|(stem, ext)| format!("{}{ext}", stem.trim()))
        .prop_filter("non-empty", |n| !n.is_empty())
}

fn leaf() -> impl Strategy<Value = Node> {
    prop_oneof![
        2 => text_data().prop_map(|data| Node::Leaf(Leaf { kind: Kind::Text, data })),
        1 => text_data().prop_map(|data| Node::Leaf(Leaf { kind: Kind::Html, data })),
        3 => (
            filename(),
            binary_data(),
            prop::option::of("[a-z0-9]{1,10}@[a-z]{1,8}\\.test"),
            any::<bool>()
        )
            .prop_map(|(name, data, cid, streamed)| Node::Leaf(Leaf {
                kind: Kind::Attachment {
                    content_type: if name.ends_with(".png") { "image/png" } else { "application/octet-stream" }.into(),
                    name,
                    cid,
                    text: false,
                    streamed,
                },
                data,
            })),
        1 => (filename(), text_data(), any::<bool>()).prop_map(|(name, data, streamed)| {
            Node::Leaf(Leaf {
                kind: Kind::Attachment {
                    name: format!("{name}.txt"),
                    content_type: "text/plain; charset=utf-8".into(),
                    cid: None,
                    text: true,
                    streamed,
                },
                data,
            })
        }),
    ]
}

pub fn node() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(3, 12, 4, |inner| {
        (
            prop_oneof![Just("mixed"), Just("alternative"), Just("related")],
            prop::collection::vec(inner, 1..4),
        )
            .prop_map(|(sub, children)| Node::Multi(sub, children))
    })
}

pub fn model() -> impl Strategy<Value = Model> {
    (
        prop_oneof![3 => phrase(12), 1 => Just(String::new())],
        mailbox(),
        prop::collection::vec(mailbox(), 1..4),
        prop::collection::vec(mailbox(), 0..3),
        prop::collection::vec(addr(), 0..3),
        phrase(6),
        node(),
    )
        .prop_map(|(subject, from, to, cc, bcc, custom, body)| Model {
            subject,
            from,
            to,
            cc,
            bcc,
            custom,
            body,
        })
}

pub fn part(node: &Node) -> Part {
    match node {
        Node::Multi(sub, children) => {
            Part::multipart(sub, children.iter().map(part).collect()).unwrap()
        }
        Node::Leaf(Leaf {
            kind: Kind::Text,
            data,
        }) => Part::text(String::from_utf8(data.clone()).unwrap()),
        Node::Leaf(Leaf {
            kind: Kind::Html,
            data,
        }) => Part::html(String::from_utf8(data.clone()).unwrap()),
        Node::Leaf(Leaf {
            kind:
                Kind::Attachment {
                    name,
                    content_type,
                    cid,
                    text,
                    streamed,
                },
            data,
        }) => {
            let mut a = if *streamed {
                let reader = Trickle {
                    data: data.clone(),
                    pos: 0,
                    step: 1 + data.len() % 13,
                };
                Attachment::from_reader(name, reader, Some(data.len() as u64)).unwrap()
            } else {
                Attachment::new(name, data.clone()).unwrap()
            };
            a = a.content_type(content_type.parse::<ContentType>().unwrap());
            if let Some(cid) = cid {
                a = a.inline(cid).unwrap();
            }
            if *text {
                a = a.text();
            }
            a.into()
        }
    }
}

/// A reader that hands out a few bytes at a time, so CRLF pairs and base64 groups
/// straddle reads.
pub struct Trickle {
    pub data: Vec<u8>,
    pub pos: usize,
    pub step: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn mb(m: &(Option<String>, String)) -> String {
    match &m.0 {
        Some(n) => format!(
            "\"{}\" <{}>",
            n.replace('\\', "\\\\").replace('"', "\\\""),
            m.1
        ),
        None => m.1.clone(),
    }
}

pub fn build(m: &Model) -> Message {
    let mut b = Message::builder()
        .from(mb(&m.from))
        .subject(m.subject.clone())
        .date(DateTime::from_unix(1_795_386_300, -300).unwrap())
        .message_id(MessageId::new("prop.1", "x.test").unwrap())
        .header("X-Custom", m.custom.clone())
        .body(part(&m.body));
    for t in &m.to {
        b = b.to(mb(t));
    }
    for c in &m.cc {
        b = b.cc(mb(c));
    }
    for c in &m.bcc {
        b = b.bcc(c.as_str());
    }
    b.build().unwrap()
}

pub fn expected(node: &Node, out: &mut Vec<Expected>) {
    match node {
        Node::Multi(_, children) => children.iter().for_each(|c| expected(c, out)),
        Node::Leaf(l) => {
            let (essence, filename, text) = match &l.kind {
                Kind::Text => ("text/plain".to_string(), None, true),
                Kind::Html => ("text/html".to_string(), None, true),
                Kind::Attachment {
                    name,
                    content_type,
                    text,
                    ..
                } => (
                    content_type.split(';').next().unwrap().to_string(),
                    Some(name.clone()),
                    *text,
                ),
            };
            let data = if text {
                canonical(&l.data)
            } else {
                l.data.clone()
            };
            out.push(Expected {
                essence,
                filename,
                text,
                data,
            });
        }
    }
}

/// The wire rules: CRLF only, no line over 998 octets, ends with CRLF.
pub fn check_wire(bytes: &[u8]) -> Result<(), String> {
    let mut line = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\r' => {
                if bytes.get(i + 1) != Some(&b'\n') {
                    return Err(format!("bare CR at {i}"));
                }
            }
            b'\n' => {
                if i == 0 || bytes[i - 1] != b'\r' {
                    return Err(format!("bare LF at {i}"));
                }
                line = 0;
            }
            _ => {
                line += 1;
                if line > 998 {
                    return Err(format!("line over 998 octets ending near {i}"));
                }
            }
        }
    }
    if !bytes.ends_with(b"\r\n") {
        return Err("does not end with CRLF".into());
    }
    Ok(())
}

/// The address as it appears in headers for a server without SMTPUTF8.
pub fn ascii_addr(a: &str) -> String {
    a.parse::<postel_mime::AddrSpec>()
        .unwrap()
        .to_smtp(false)
        .unwrap()
}

/// Encode through the pull API with a given read size.
pub fn encode(
    msg: &mut Message,
    opts: &postel_mime::EncodeOptions,
    read_size: usize,
) -> (Vec<u8>, Option<u64>) {
    let mut enc = msg.encoder(opts).unwrap();
    let len = enc.encoded_len();
    let mut out = Vec::new();
    let mut buf = vec![0u8; read_size];
    loop {
        let n = enc.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    (out, len)
}
