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
