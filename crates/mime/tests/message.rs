//! Known answers and edge cases for whole messages: exact bytes, header injection,
//! long inputs, envelopes, SMTPUTF8 and 8BITMIME, sources.

mod common;

use common::{check_wire, encode};
use postel_mime::{
    Attachment, DateTime, EncodeOptions, Error, Message, MessageBuilder, MessageId, Part, Source,
};

const ASCII: EncodeOptions = EncodeOptions {
    allow_8bit: false,
    smtputf8: false,
};

fn base() -> MessageBuilder {
    Message::builder()
        .from("Alice <alice@example.com>")
        .to("bob@example.net")
        .date(DateTime::from_unix(1_795_386_300, 60).unwrap())
        .message_id(MessageId::new("id1", "example.com").unwrap())
}

fn text(msg: &mut Message, opts: &EncodeOptions) -> String {
    let bytes = msg.to_vec(opts).unwrap();
    check_wire(&bytes).unwrap();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn simple_text_message_is_exactly_these_bytes() {
    let mut msg = base()
        .subject("Hi")
        .cc("Carol <carol@example.org>")
        .bcc("dave@example.com")
        .text("Hello\nworld")
        .build()
        .unwrap();
    assert_eq!(
        text(&mut msg, &ASCII),
        "Date: Sun, 22 Nov 2026 23:25:00 +0100\r\n\
         From: Alice <alice@example.com>\r\n\
         To: bob@example.net\r\n\
         Cc: Carol <carol@example.org>\r\n\
         Subject: Hi\r\n\
         Message-ID: <id1@example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         \r\n\
         Hello\r\nworld\r\n"
    );
}

#[test]
fn multipart_message_is_exactly_these_bytes() {
    let mut msg = base()
        .text("plain")
        .html("<b>x</b>")
        .attach(Attachment::new("a.bin", vec![0u8, 1, 2, 255]).unwrap())
        .build()
        .unwrap();
    let out = text(&mut msg, &ASCII);
    let b = out
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .split('_')
        .nth(1)
        .unwrap()
        .to_string();
    let expected = format!(
        "Date: Sun, 22 Nov 2026 23:25:00 +0100\r\n\
         From: Alice <alice@example.com>\r\n\
         To: bob@example.net\r\n\
         Message-ID: <id1@example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_{b}_0\"\r\n\
         \r\n\
         --=_{b}_0\r\n\
         Content-Type: multipart/alternative; boundary=\"=_{b}_1\"\r\n\
         \r\n\
         --=_{b}_1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         \r\n\
         plain\r\n\
         --=_{b}_1\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         \r\n\
         <b>x</b>\r\n\
         --=_{b}_1--\r\n\
         --=_{b}_0\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=a.bin\r\n\
         \r\n\
         AAEC/w==\r\n\
         --=_{b}_0--\r\n"
    );
    assert_eq!(out, expected);
}

#[test]
fn bcc_is_in_the_envelope_and_never_in_the_headers() {
    let mut msg = base()
        .cc("c@example.org")
        .bcc("Secret <hidden@example.com>, bob@example.net")
        .build()
        .unwrap();
    let env = msg.envelope().unwrap();
    assert_eq!(env.from().unwrap().to_string(), "alice@example.com");
    let to: Vec<String> = env.to().iter().map(|a| a.to_string()).collect();
    assert_eq!(
        to,
        ["bob@example.net", "c@example.org", "hidden@example.com"]
    );
    let out = text(&mut msg, &ASCII);
    assert!(!out.contains("hidden"), "{out}");
    assert!(!out.contains("Secret"), "{out}");
    assert!(!out.to_ascii_lowercase().contains("bcc"), "{out}");
}

#[test]
fn sender_is_the_reverse_path_and_required_for_several_from() {
    let err = base().from("second@example.com").build().unwrap_err();
    assert!(
        matches!(err, Error::MissingField { field: "Sender" }),
        "{err:?}"
    );
    let msg = base()
        .from("second@example.com")
        .sender("ops@example.com")
        .build()
        .unwrap();
    assert_eq!(
        msg.envelope().unwrap().from().unwrap().to_string(),
        "ops@example.com"
    );
}

#[test]
fn groups_expand_into_the_envelope_and_stay_groups_in_headers() {
    let mut msg = Message::builder()
        .from("a@example.com")
        .to("Team: x@example.net, Y <y@example.net>;, undisclosed:;")
        .date(DateTime::from_unix(0, 0).unwrap())
        .build()
        .unwrap();
    let to: Vec<String> = msg
        .envelope()
        .unwrap()
        .to()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(to, ["x@example.net", "y@example.net"]);
    let out = text(&mut msg, &ASCII);
    assert!(
        out.contains("\r\nTo: Team: x@example.net, Y <y@example.net>;, undisclosed:;\r\n"),
        "{out}"
    );
}

/// Every way a user value reaches a header refuses CR, LF and NUL, saying where.
#[test]
fn header_injection_is_refused_everywhere() {
    let bad = "x\r\nBcc: victim@example.com";
    let cases: Vec<(&str, Result<Message, Error>)> = vec![
        ("Subject", base().subject(bad).build()),
        ("X-Note", base().header("X-Note", bad).build()),
        ("To", base().to(format!("\"{bad}\" <a@b.example>")).build()),
        ("Cc", base().cc(format!("a{bad}@b.example")).build()),
        (
            "From",
            Message::builder()
                .from(format!("A <a@b.example>{bad}"))
                .build(),
        ),
        (
            "Reply-To",
            base().reply_to(format!("r@b.example{bad}")).build(),
        ),
        ("Bcc", base().bcc(format!("z@b.example\n{bad}")).build()),
    ];
    for (field, result) in cases {
        match result {
            Err(Error::InvalidByte { field: f, byte, at }) => {
                assert_eq!(f, field);
                assert!(byte == b'\r' || byte == b'\n', "{field}: {byte}");
                assert!(at > 0, "{field}");
            }
            other => panic!("{field}: expected InvalidByte, got {other:?}"),
        }
    }
    assert!(matches!(
        base().subject("a\0b").build(),
        Err(Error::InvalidByte { byte: 0, at: 1, .. })
    ));
    assert!(matches!(
        Attachment::new("a\r\nb.txt", vec![]),
        Err(Error::InvalidByte { at: 1, .. })
    ));
    assert!(matches!(
        Attachment::new("a.png", vec![]).unwrap().inline("x\r\ny"),
        Err(Error::InvalidByte { at: 1, .. })
    ));
    assert!("<a@b>\r\nX: y".parse::<MessageId>().is_err());
    assert!("text/plain; x=\"a\r\nb\""
        .parse::<postel_mime::ContentType>()
        .is_err());
    assert!(matches!(
        base().header("Bad Name", "v").build(),
        Err(Error::InvalidHeaderName { .. })
    ));
    assert!(matches!(
        base().header("Bad:Name", "v").build(),
        Err(Error::InvalidHeaderName { .. })
    ));
    assert!(matches!(
        base().header("bcc", "x@y.example").build(),
        Err(Error::ReservedHeader { .. })
    ));
    assert!(matches!(
        base().header("Content-Type", "text/html").build(),
        Err(Error::ReservedHeader { .. })
    ));
}

#[test]
fn long_inputs_never_make_a_line_over_998() {
    let long_word = "x".repeat(5000);
    let long_utf8 = "ü".repeat(3000);
    let long_name = format!("{} {}", "N".repeat(1500), "ö".repeat(700));
    let mut msg = base()
        .subject(format!("{long_word} {long_utf8}"))
        .header("X-Long", long_word.clone())
        .to(format!("\"{long_name}\" <n@example.net>"))
        .text(format!("{long_word}\n{}\n", "y ".repeat(3000)))
        .attach(Attachment::new(&format!("{}.pdf", "é".repeat(400)), vec![1u8; 10]).unwrap())
        .build()
        .unwrap();
    for opts in [
        ASCII,
        EncodeOptions {
            allow_8bit: true,
            smtputf8: true,
        },
    ] {
        let bytes = msg.to_vec(&opts).unwrap();
        assert_eq!(check_wire(&bytes), Ok(()));
        let max = bytes.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap();
        assert!(max <= 999, "{max}");
    }
}

#[test]
fn text_encoding_follows_content_and_8bitmime() {
    let enc_of = |body: &str, opts: EncodeOptions| {
        let mut m = base().text(body).build().unwrap();
        let e = m.encoder(&opts).unwrap();
        let uses = e.uses_8bit();
        drop(e);
        let out = text(&mut m, &opts);
        let cte = out
            .split("Content-Transfer-Encoding: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap()
            .to_string();
        (cte, uses)
    };
    let eight = EncodeOptions {
        allow_8bit: true,
        smtputf8: false,
    };
    assert_eq!(enc_of("plain ascii", ASCII), ("7bit".into(), false));
    assert_eq!(
        enc_of("Grüße aus Köln, wie geht es?", ASCII),
        ("quoted-printable".into(), false)
    );
    assert_eq!(
        enc_of("Grüße aus Köln, wie geht es?", eight),
        ("8bit".into(), true)
    );
    assert_eq!(
        enc_of("日本語のテキストです", ASCII),
        ("base64".into(), false)
    );
    assert_eq!(
        enc_of(&"a".repeat(1200), eight),
        ("quoted-printable".into(), false)
    );
}

#[test]
fn qp_body_escapes_dots_trailing_space_and_equals() {
    let mut m = base().text("über = 1 \n.hidden\n").build().unwrap();
    let out = text(&mut m, &ASCII);
    assert!(
        out.ends_with("\r\n\r\n=C3=BCber =3D 1=20\r\n=2Ehidden\r\n"),
        "{out:?}"
    );
}

#[test]
fn utf8_local_parts_need_smtputf8_and_domains_become_a_labels() {
    let mut m = Message::builder()
        .from("Jörg <jörg@bücher.example>")
        .to("info@bücher.example")
        .date(DateTime::from_unix(0, 0).unwrap())
        .message_id("<1@x.example>".parse().unwrap())
        .build()
        .unwrap();
    assert!(m.needs_smtputf8());
    assert!(m.envelope().unwrap().needs_smtputf8());
    assert!(matches!(
        m.encoder(&ASCII),
        Err(Error::NeedsSmtpUtf8 { .. })
    ));
    let utf8 = EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    };
    let e = m.encoder(&utf8).unwrap();
    assert!(e.uses_smtputf8());
    drop(e);
    let out = text(&mut m, &utf8);
    assert!(
        out.contains("\r\nFrom: =?UTF-8?Q?J=C3=B6rg?= <jörg@bücher.example>\r\n"),
        "{out}"
    );
    assert!(
        out.contains("\r\nTo: info@xn--bcher-kva.example\r\n"),
        "{out}"
    );

    let mut m = Message::builder()
        .from("info@bücher.example")
        .to("b@example.net")
        .date(DateTime::from_unix(0, 0).unwrap())
        .build()
        .unwrap();
    assert!(!m.needs_smtputf8());
    let e = m.encoder(&ASCII).unwrap();
    assert!(!e.uses_smtputf8());
    drop(e);
    let out = text(&mut m, &ASCII);
    assert!(
        out.contains("\r\nFrom: info@xn--bcher-kva.example\r\n"),
        "{out}"
    );
    assert!(
        out.contains("@xn--bcher-kva.example>\r\n"),
        "Message-ID on the A-label: {out}"
    );
}

#[test]
fn in_reply_to_and_references_are_written() {
    let mut m = base()
        .in_reply_to("<p@example.com>".parse().unwrap())
        .references("<r1@example.com>".parse().unwrap())
        .references("<p@example.com>".parse().unwrap())
        .build()
        .unwrap();
    let out = text(&mut m, &ASCII);
    assert!(
        out.contains(
            "\r\nIn-Reply-To: <p@example.com>\r\nReferences: <r1@example.com> <p@example.com>\r\n"
        ),
        "{out}"
    );
}

#[test]
fn inline_images_go_in_multipart_related_with_content_id() {
    let mut m = base()
        .html("<img src=\"cid:logo@example.com\">")
        .attach(
            Attachment::new("logo.png", vec![1, 2, 3])
                .unwrap()
                .inline("logo@example.com")
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(m.body().content_type().essence(), "multipart/related");
    assert_eq!(m.body().parts()[1].filename(), Some("logo.png"));
    let out = text(&mut m, &ASCII);
    assert!(out.contains("Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: inline; filename=logo.png\r\nContent-ID: <logo@example.com>\r\n"), "{out}");
}

#[test]
fn conflicting_bodies_and_empty_multiparts_are_errors() {
    assert!(matches!(
        base().text("a").body(Part::text("b")).build(),
        Err(Error::ConflictingBody)
    ));
    assert!(matches!(
        base().body(Part::mixed(vec![])).build(),
        Err(Error::InvalidValue { .. })
    ));
    assert!(matches!(
        Message::builder().to("a@b.example").build(),
        Err(Error::MissingField { field: "From" })
    ));
}

struct Counting {
    left: u64,
    byte: u8,
}

impl Source for Counting {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = buf.len().min(self.left as usize);
        buf[..n].fill(self.byte);
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn streams_are_read_once_and_checked_against_their_declared_length() {
    let mut m = base()
        .attach(
            Attachment::from_source(
                "z.bin",
                Box::new(Counting {
                    left: 1000,
                    byte: 0,
                }),
                Some(1000),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let (bytes, len) = encode(&mut m, &ASCII, 100);
    assert_eq!(len, Some(bytes.len() as u64));
    assert!(matches!(m.encoder(&ASCII), Err(Error::SourceConsumed)));

    let mut m = base()
        .attach(
            Attachment::from_source("z.bin", Box::new(Counting { left: 10, byte: 0 }), Some(11))
                .unwrap(),
        )
        .build()
        .unwrap();
    assert!(matches!(
        m.to_vec(&ASCII),
        Err(Error::LengthMismatch {
            declared: 11,
            actual: 10
        })
    ));

    let mut m = base()
        .attach(
            Attachment::from_source(
                "z.txt",
                Box::new(Counting {
                    left: 100,
                    byte: b'a',
                }),
                None,
            )
            .unwrap()
            .text(),
        )
        .build()
        .unwrap();
    let e = m.encoder(&ASCII).unwrap();
    assert_eq!(e.encoded_len(), None);
    drop(e);
}

#[test]
fn file_attachments_are_read_lazily_and_can_be_encoded_twice() {
    let dir = std::env::temp_dir().join(format!("postel-mime-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report ü.pdf");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let mut m = base()
        .text("see file")
        .attach(Attachment::from_path(&path).unwrap())
        .build()
        .unwrap();
    let (first, len) = encode(&mut m, &ASCII, 777);
    assert_eq!(len, Some(first.len() as u64));
    let (second, _) = encode(&mut m, &ASCII, 4096);
    assert_eq!(first, second);
    let parsed = mail_parser::MessageParser::default().parse(&first).unwrap();
    let att = parsed.attachments().next().unwrap();
    use mail_parser::MimeHeaders;
    assert_eq!(att.attachment_name(), Some("report ü.pdf"));
    assert_eq!(att.contents(), &data[..]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        Attachment::from_path(dir.join("missing")),
        Err(Error::Io(_))
    ));
}

#[test]
fn io_read_adapter_gives_the_same_bytes() {
    use std::io::Read;
    let mut m = base().text("x").build().unwrap();
    let direct = m.to_vec(&ASCII).unwrap();
    let mut via = Vec::new();
    m.encoder(&ASCII).unwrap().read_to_end(&mut via).unwrap();
    assert_eq!(direct, via);
}

#[test]
fn generated_message_ids_use_the_sender_domain() {
    let m = Message::builder()
        .from("a@mail.example.org")
        .to("b@example.net")
        .build()
        .unwrap();
    assert!(m
        .message_id()
        .unwrap()
        .as_str()
        .ends_with("@mail.example.org"));
    let m2 = Message::builder()
        .from("a@mail.example.org")
        .to("b@example.net")
        .build()
        .unwrap();
    assert_ne!(m.message_id(), m2.message_id());
}

#[test]
fn a_multipart_holding_8bit_text_is_marked_8bit() {
    let eight = EncodeOptions {
        allow_8bit: true,
        smtputf8: false,
    };
    let mut m = base().text("Grüße").html("<p>Grüße</p>").build().unwrap();
    let out = text(&mut m, &eight);
    let head = out.split("\r\n\r\n").next().unwrap();
    assert!(
        head.ends_with("\r\nContent-Transfer-Encoding: 8bit"),
        "{head}"
    );
    let out = text(&mut m, &ASCII);
    let head = out.split("\r\n\r\n").next().unwrap();
    assert!(!head.contains("Content-Transfer-Encoding"), "{head}");
}

#[test]
fn attachments_can_be_renamed() {
    let a = Attachment::new("tmp123", vec![1])
        .unwrap()
        .filename("report.pdf")
        .unwrap();
    let p: Part = a.into();
    assert_eq!(p.filename(), Some("report.pdf"));
}

#[test]
fn a_group_built_by_hand_cannot_inject_either() {
    let group = postel_mime::Address::Group {
        name: "Team\r\nBcc: victim@example.com".into(),
        members: vec!["a@example.net".parse().unwrap()],
    };
    let mut m = base().cc(group).build().unwrap();
    let out = text(&mut m, &ASCII);
    assert!(
        out.contains(
            "\r\nCc: =?UTF-8?Q?Team=0D=0ABcc=3A_victim=40example=2Ecom?=: a@example.net;\r\n"
        ),
        "{out}"
    );
}

#[test]
fn a_text_file_attachment_says_utf_8_only_when_it_is() {
    let dir = std::env::temp_dir().join(format!("postel-mime-charset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Larger than one read, with a 3-byte character straddling every 8 KiB boundary.
    let utf8: String = "ab日".repeat(20_000);
    let cases: [(&str, &[u8], &str); 5] = [
        ("notes.txt", utf8.as_bytes(), "text/plain; charset=utf-8"),
        ("data.csv", b"a,b\n1,2\n", "text/csv; charset=utf-8"),
        (
            "page.html",
            "<p>é</p>".as_bytes(),
            "text/html; charset=utf-8",
        ),
        ("latin1.txt", b"caf\xe9\n", "application/octet-stream"),
        ("photo.jpg", b"\xff\xd8\xff", "image/jpeg"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let a = Attachment::from_path(&path).unwrap();
        assert_eq!(a.content_type_ref().to_string(), want, "{name}");
    }
    // The user's charset for a file that is not UTF-8 restores its text type.
    let a = Attachment::from_path(dir.join("latin1.txt"))
        .unwrap()
        .charset("ISO-8859-1")
        .unwrap();
    assert_eq!(
        a.content_type_ref().to_string(),
        "text/plain; charset=iso-8859-1"
    );
    // A reader decodes it by that charset: the Latin-1 byte 0xE9 is "é".
    let mut m = base().text("x").attach(a).build().unwrap();
    let (out, _) = encode(&mut m, &ASCII, 4096);
    let parsed = mail_parser::MessageParser::default().parse(&out).unwrap();
    assert_eq!(
        parsed.attachments().next().unwrap().contents(),
        "café\n".as_bytes()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
