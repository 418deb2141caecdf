//! Random messages built with the builder, read back by the `mail-parser` crate: parts,
//! file names, headers and decoded bytes must be what went in; the wire rules must hold;
//! `encoded_len` must be exact.

mod common;

use common::*;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use postel_mime::EncodeOptions;
use proptest::prelude::*;

fn leaves(msg: &mail_parser::Message<'_>, id: u32, out: &mut Vec<Expected>, shape: &mut String) {
    let part = &msg.parts[id as usize];
    let ct = part.content_type().expect("every part has a Content-Type");
    let essence = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""));
    match &part.body {
        PartType::Multipart(children) => {
            shape.push_str(&format!("{}(", ct.subtype().unwrap_or("")));
            for &c in children {
                leaves(msg, c, out, shape);
            }
            shape.push(')');
        }
        body => {
            shape.push('.');
            let text = matches!(body, PartType::Text(_) | PartType::Html(_));
            out.push(Expected {
                essence,
                filename: part.attachment_name().map(str::to_string),
                text,
                data: part.contents().to_vec(),
            });
        }
    }
}

fn shape_of(n: &Node, s: &mut String) {
    match n {
        Node::Leaf(_) => s.push('.'),
        Node::Multi(sub, children) => {
            s.push_str(&format!("{sub}("));
            children.iter().for_each(|c| shape_of(c, s));
            s.push(')');
        }
    }
}

fn norm_text(d: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(d)
        .replace("\r\n", "\n")
        .into_bytes()
}

fn check(m: &Model, opts: EncodeOptions, read_size: usize) -> Result<(), TestCaseError> {
    let mut msg = build(m);
    let (bytes, len) = encode(&mut msg, &opts, read_size);
    // The same message pulled through another buffer size gives the same bytes.
    let (again, _) = encode(&mut build(m), &opts, 4096);
    prop_assert!(again == bytes, "output depends on the read size");
    let shown = String::from_utf8_lossy(&bytes).into_owned();
    prop_assert_eq!(check_wire(&bytes), Ok(()), "{}", shown);
    let all_known = {
        fn known(n: &Node) -> bool {
            match n {
                Node::Multi(_, c) => c.iter().all(known),
                Node::Leaf(Leaf {
                    kind:
                        Kind::Attachment {
                            streamed: true,
                            text: true,
                            ..
                        },
                    ..
                }) => false,
                _ => true,
            }
        }
        known(&m.body)
    };
    prop_assert_eq!(len.is_some(), all_known);
    if let Some(len) = len {
        prop_assert_eq!(len, bytes.len() as u64);
    }
    let head = &shown[..shown.find("\r\n\r\n").unwrap_or(shown.len())];
    prop_assert!(!head.to_ascii_lowercase().contains("\nbcc:"));
    for b in &m.bcc {
        let visible =
            m.to.iter()
                .chain(&m.cc)
                .chain([&m.from])
                .any(|(_, a)| a == b);
        let a = ascii_addr(b);
        let hidden = !head.contains(&format!("<{a}>")) && !head.contains(&format!(" {a}"));
        prop_assert!(visible || hidden, "Bcc {} in headers", a);
    }

    let parsed = MessageParser::new()
        .with_mime_headers()
        .with_date_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(mail_parser::HeaderName::Subject)
        .header_text("X-Custom")
        .parse(&bytes)
        .expect("parses");
    prop_assert_eq!(
        parsed.subject().unwrap_or(""),
        m.subject.as_str(),
        "{}",
        shown
    );
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    let from_addr = ascii_addr(&m.from.1);
    prop_assert_eq!(from.address(), Some(from_addr.as_str()));
    prop_assert_eq!(from.name(), m.from.0.as_deref());
    let to: Vec<(Option<String>, String)> = parsed
        .to()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x.name().map(str::to_string),
                        x.address().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let want: Vec<(Option<String>, String)> =
        m.to.iter()
            .map(|(n, a)| (n.clone(), ascii_addr(a)))
            .collect();
    prop_assert_eq!(to, want, "{}", shown);
    prop_assert_eq!(
        parsed
            .header("X-Custom")
            .and_then(|h| h.as_text())
            .unwrap_or(""),
        m.custom.as_str()
    );

    let mut got = Vec::new();
    let mut shape = String::new();
    leaves(&parsed, 0, &mut got, &mut shape);
    let mut want_shape = String::new();
    shape_of(&m.body, &mut want_shape);
    prop_assert_eq!(shape, want_shape, "{}", shown);
    let mut want = Vec::new();
    expected(&m.body, &mut want);
    prop_assert_eq!(got.len(), want.len());
    let single = matches!(m.body, Node::Leaf(_));
    for (g, w) in got.iter().zip(&want) {
        prop_assert_eq!(&g.essence, &w.essence, "{}", shown);
        prop_assert_eq!(&g.filename, &w.filename, "{}", shown);
        if w.text {
            let mut gd = norm_text(&g.data);
            let wd = norm_text(&w.data);
            // A message always ends with CRLF: a lone text body gains one at the end.
            if single && gd.len() == wd.len() + 1 && gd.ends_with(b"\n") {
                gd.pop();
            }
            prop_assert_eq!(
                String::from_utf8_lossy(&gd),
                String::from_utf8_lossy(&wd),
                "{}",
                shown
            );
        } else {
            prop_assert_eq!(&g.data, &w.data, "{}", shown);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn mail_parser_reads_back_what_the_builder_wrote(m in model(), read_size in 1usize..5000, allow_8bit in any::<bool>()) {
        check(&m, EncodeOptions { allow_8bit, smtputf8: false }, read_size)?;
    }
}
