//! Raw messages: envelope as `sendmail -t` finds it, Bcc removed, line ends normalized.

mod common;

use common::check_wire;
use postel_mime::{EncodeOptions, Error, RawMessage};

const OPTS: EncodeOptions = EncodeOptions {
    allow_8bit: false,
    smtputf8: false,
};

const INPUT: &[u8] = b"From: \"Ann\" <ann@example.com>\n\
To: Bob <bob@example.net>,\n\tcarol@example.org\n\
Bcc: secret@example.com,\n  other@example.com\n\
Cc: team: dan@example.org;\n\
Subject: raw\r\n\
\n\
line one\r\n\
line two\rline three\n\
.dot\n";

#[test]
fn envelope_comes_from_the_headers_like_sendmail_t() {
    let raw = RawMessage::from_bytes(INPUT).unwrap();
    let env = raw.envelope().unwrap();
    assert_eq!(env.from().unwrap().to_string(), "ann@example.com");
    let to: Vec<String> = env.to().iter().map(ToString::to_string).collect();
    assert_eq!(
        to,
        [
            "bob@example.net",
            "carol@example.org",
            "dan@example.org",
            "secret@example.com",
            "other@example.com"
        ]
    );
    assert_eq!(raw.body_8bit(), Some(false));
    assert!(!raw.needs_smtputf8());
}

#[test]
fn bytes_go_out_with_crlf_and_without_bcc() {
    let mut raw = RawMessage::from_bytes(INPUT).unwrap();
    let enc = raw.encoder(&OPTS).unwrap();
    let len = enc.encoded_len();
    drop(enc);
    let out = raw.to_vec(&OPTS).unwrap();
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "From: \"Ann\" <ann@example.com>\r\n\
To: Bob <bob@example.net>,\r\n\tcarol@example.org\r\n\
Cc: team: dan@example.org;\r\n\
Subject: raw\r\n\
\r\n\
line one\r\n\
line two\r\nline three\r\n\
.dot\r\n"
    );
    assert_eq!(len, Some(out.len() as u64));
    check_wire(&out).unwrap();
    let kept = RawMessage::from_bytes(INPUT)
        .unwrap()
        .keep_bcc(true)
        .to_vec(&OPTS)
        .unwrap();
    assert!(String::from_utf8(kept)
        .unwrap()
        .contains("\r\nBcc: secret@example.com,\r\n  other@example.com\r\n"));
}

/// A reader that hands out one byte at a time, so the header section ends mid-read.
struct Trickle(std::io::Cursor<Vec<u8>>);

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(3);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn reader_messages_stream_the_body_once() {
    let mut from_reader =
        RawMessage::from_reader(Trickle(std::io::Cursor::new(INPUT.to_vec()))).unwrap();
    assert_eq!(from_reader.body_8bit(), None);
    let env = from_reader.envelope().unwrap();
    assert_eq!(env.to().len(), 5);
    let enc = from_reader.encoder(&OPTS).unwrap();
    assert_eq!(enc.encoded_len(), None);
    assert!(enc.uses_8bit(), "unknown content is reported as 8-bit");
    drop(enc);
    let expected = RawMessage::from_bytes(INPUT)
        .unwrap()
        .to_vec(&OPTS)
        .unwrap();
    // The first encoder was dropped unread: the stream is gone.
    assert!(matches!(
        from_reader.encoder(&OPTS),
        Err(Error::SourceConsumed)
    ));
    let mut again = RawMessage::from_reader(std::io::Cursor::new(INPUT.to_vec())).unwrap();
    assert_eq!(again.to_vec(&OPTS).unwrap(), expected);
}

#[test]
fn a_message_without_body_or_final_newline_still_ends_in_crlf() {
    let out = RawMessage::from_bytes(&b"From: a@b.example\nTo: c@d.example"[..])
        .unwrap()
        .to_vec(&OPTS)
        .unwrap();
    assert_eq!(out, b"From: a@b.example\r\nTo: c@d.example\r\n\r\n");
    let out = RawMessage::from_bytes(&b"From: a@b.example\n\nno newline"[..])
        .unwrap()
        .to_vec(&OPTS)
        .unwrap();
    assert_eq!(out, b"From: a@b.example\r\n\r\nno newline\r\n");
}

#[test]
fn raw_envelope_errors_name_the_field() {
    let raw = RawMessage::from_bytes(&b"From: a@b.example\nTo: not an address\n\n"[..]).unwrap();
    match raw.envelope() {
        Err(Error::InvalidAddress { field, .. }) => assert_eq!(field, "To"),
        other => panic!("{other:?}"),
    }
    let raw = RawMessage::from_bytes(&b"From: a@b.example\n\n"[..]).unwrap();
    assert!(matches!(raw.envelope(), Err(Error::MissingField { .. })));
}

#[test]
fn oversized_header_sections_are_refused() {
    let mut big = b"From: a@b.example\n".to_vec();
    while big.len() <= postel_mime::MAX_HEADER_SECTION + 10 {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    }
    big.extend_from_slice(b"\nbody\n");
    assert!(matches!(
        RawMessage::from_reader(std::io::Cursor::new(big)),
        Err(Error::HeaderSectionTooLarge { .. })
    ));
}

#[test]
fn file_messages_are_measured_ahead_and_streamed() {
    let dir = std::env::temp_dir().join(format!("postel-mime-raw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 7-bit, LF line ends, a body far larger than the header read, no final newline.
    let mut seven = b"From: a@x.test\nTo: b@y.test\nSubject: file\n\n".to_vec();
    for i in 0..20_000 {
        seven.extend_from_slice(format!(".line {i}\n").as_bytes());
    }
    seven.extend_from_slice(b"\rlast");
    let eight = b"From: a@x.test\nTo: b@y.test\n\nZ\xc3\xbcrich\r\n".to_vec();
    for (name, bytes, is_8bit) in [("seven.eml", &seven, false), ("eight.eml", &eight, true)] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let expected = RawMessage::from_bytes(bytes.clone())
            .unwrap()
            .to_vec(&OPTS)
            .unwrap();
        let mut m = RawMessage::from_file(&path).unwrap();
        assert_eq!(m.body_8bit(), Some(is_8bit), "{name}");
        let enc = m.encoder(&OPTS).unwrap();
        assert_eq!(enc.encoded_len(), Some(expected.len() as u64), "{name}");
        assert_eq!(enc.uses_8bit(), is_8bit, "{name}");
        drop(enc);
        let mut again = RawMessage::from_file(&path).unwrap();
        assert_eq!(again.to_vec(&OPTS).unwrap(), expected, "{name}");
    }
    assert!(matches!(
        RawMessage::from_file(dir.join("missing.eml")),
        Err(Error::Io(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bare_cr_in_the_header_section_is_refused_never_a_new_field() {
    // The wire's CRLF normalisation would make `\r` a line end: `Bcc: b` as a field.
    for (input, line) in [
        (
            &b"Subject: a\rFrom: b@x.test\nTo: c@y.test\n\nbody\n"[..],
            1,
        ),
        (
            b"To: c@y.test\nSubject: a\rBcc: evil@x.test\r\n\r\nbody\r\n",
            2,
        ),
        (b"To: c@y.test\nSubject: a\n \r continued\n\nbody\n", 3),
        (b"To: c@y.test\rSubject: no LF at all\r\rbody\r", 1),
    ] {
        match RawMessage::from_bytes(input.to_vec()) {
            Err(e @ Error::RawByte { .. }) => {
                assert!(
                    matches!(e, Error::RawByte { section: "header", line: l, byte: b'\r' } if l == line),
                    "{input:?}: {e:?}"
                );
                assert!(e.to_string().contains("bare CR"), "{e}");
            }
            other => panic!("{input:?}: {:?}", other.map(|_| ())),
        }
        let reader = RawMessage::from_reader(std::io::Cursor::new(input.to_vec()));
        assert!(matches!(reader, Err(Error::RawByte { .. })), "{input:?}");
    }
    // CRLF, LF and a bare CR in the body are all fine.
    let mut ok = RawMessage::from_bytes(b"To: c@y.test\r\nSubject: a\n\nx\ry\n".to_vec()).unwrap();
    assert_eq!(
        ok.to_vec(&OPTS).unwrap(),
        b"To: c@y.test\r\nSubject: a\r\n\r\nx\r\ny\r\n"
    );
}

#[test]
fn nul_bytes_are_refused_before_anything_is_encoded() {
    let e = RawMessage::from_bytes(b"To: c@y.test\nSubject: a\0b\n\nbody\n".to_vec());
    assert!(matches!(
        e,
        Err(Error::RawByte {
            section: "header",
            line: 2,
            byte: 0
        })
    ));
    let mut m = RawMessage::from_bytes(b"To: c@y.test\n\none\ntwo\0\n".to_vec()).unwrap();
    let e = m.encoder(&OPTS).err().expect("refused");
    assert!(
        matches!(
            e,
            Error::RawByte {
                section: "body",
                line: 2,
                byte: 0
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("NUL"), "{e}");
    // A file: found while it is measured, refused before the first byte is produced.
    let dir = std::env::temp_dir().join(format!("postel-mime-nul-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nul.eml");
    let mut body = b"To: c@y.test\n\n".to_vec();
    body.extend(std::iter::repeat_n(b"line\n".as_slice(), 20_000).flatten());
    body.extend_from_slice(b"a\0b\n");
    std::fs::write(&path, &body).unwrap();
    let mut f = RawMessage::from_file(&path).unwrap();
    assert!(matches!(
        f.encoder(&OPTS).err(),
        Some(Error::RawByte {
            section: "body",
            line: 20_001,
            byte: 0
        })
    ));
    // A stream not measured ahead fails at the NUL, not after it.
    let mut s = RawMessage::from_reader(std::io::Cursor::new(body)).unwrap();
    assert!(matches!(
        s.to_vec(&OPTS),
        Err(Error::RawByte {
            section: "body",
            byte: 0,
            ..
        })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resent_bcc_is_removed_and_resent_fields_address_a_resent_message() {
    let input = b"From: a@x.test\nTo: b@y.test\nBcc: old@y.test\n\
Resent-From: r@x.test\nResent-To: c@z.test\nResent-Cc: d@z.test\n\
Resent-Bcc: hidden@z.test,\n  hidden2@z.test\nSubject: s\n\nbody\n";
    let mut raw = RawMessage::from_bytes(input.to_vec()).unwrap();
    let env = raw.envelope().unwrap();
    assert_eq!(env.from().unwrap().to_string(), "r@x.test");
    let to: Vec<String> = env.to().iter().map(ToString::to_string).collect();
    assert_eq!(
        to,
        ["c@z.test", "d@z.test", "hidden@z.test", "hidden2@z.test"]
    );
    let out = raw.to_vec(&OPTS).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "From: a@x.test\r\nTo: b@y.test\r\nResent-From: r@x.test\r\n\
Resent-To: c@z.test\r\nResent-Cc: d@z.test\r\nSubject: s\r\n\r\nbody\r\n"
    );
    // Only a Resent-Bcc: still a resent message, still removed.
    let mut only =
        RawMessage::from_bytes(b"To: b@y.test\nRESENT-BCC: h@z.test\n\nbody\n".to_vec()).unwrap();
    let to: Vec<String> = only
        .envelope()
        .unwrap()
        .to()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(to, ["h@z.test"]);
    assert_eq!(only.to_vec(&OPTS).unwrap(), b"To: b@y.test\r\n\r\nbody\r\n");
    // Kept when asked.
    let mut kept = RawMessage::from_bytes(input.to_vec())
        .unwrap()
        .keep_bcc(true);
    let out = String::from_utf8(kept.to_vec(&OPTS).unwrap()).unwrap();
    assert!(
        out.contains("Resent-Bcc: hidden@z.test,\r\n  hidden2@z.test\r\n"),
        "{out}"
    );
}
