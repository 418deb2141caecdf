//! DKIM signing: RFC test vectors, canonicalisation edge cases, and the two passes over a
//! message (the bytes sent are the bytes hashed).

use base64::Engine as _;
use postel_mime::dkim::{
    canonicalize_header, canonicalize_header_unterminated, BodyCanonicalizer, Canonicalization,
    DkimError, Signer, SigningKey,
};
use postel_mime::{Attachment, EncodeOptions, Error, Message, Part, RawMessage};
use sha2::Digest as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn body(c: Canonicalization, chunks: &[&[u8]]) -> Vec<u8> {
    let mut bc = BodyCanonicalizer::new(c);
    let mut out = Vec::new();
    for ch in chunks {
        bc.push(ch, &mut out);
    }
    bc.finish(&mut out);
    out
}

/// Every split of `input` into two chunks gives the same canonical bytes as one chunk.
fn body_any_split(c: Canonicalization, input: &[u8]) -> Vec<u8> {
    let whole = body(c, &[input]);
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(body(c, &[a, b]), whole, "split at {i} of {input:?}");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(body(c, &bytes), whole);
    }
    whole
}

// RFC 6376 §3.4.5: the example message, both canonicalisations, exact bytes.
const RFC6376_HEADERS: [&[u8]; 2] = [b"A: X", b"B : Y\t\r\n\tZ  "];
const RFC6376_BODY: &[u8] = b" C \r\nD \t E\r\n\r\n\r\n";

#[test]
fn rfc6376_3_4_5_relaxed() {
    let h: Vec<u8> = RFC6376_HEADERS
        .iter()
        .flat_map(|f| canonicalize_header(Canonicalization::Relaxed, f))
        .collect();
    assert_eq!(h, b"a:X\r\nb:Y Z\r\n");
    assert_eq!(
        body_any_split(Canonicalization::Relaxed, RFC6376_BODY),
        b" C\r\nD E\r\n"
    );
}

#[test]
fn rfc6376_3_4_5_simple() {
    let h: Vec<u8> = RFC6376_HEADERS
        .iter()
        .flat_map(|f| canonicalize_header(Canonicalization::Simple, f))
        .collect();
    assert_eq!(h, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
    assert_eq!(
        body_any_split(Canonicalization::Simple, RFC6376_BODY),
        b" C \r\nD \t E\r\n"
    );
}

#[test]
fn empty_body_simple_is_one_crlf_relaxed_is_nothing() {
    use Canonicalization::*;
    assert_eq!(body(Simple, &[]), b"\r\n");
    assert_eq!(body(Relaxed, &[]), b"");
    assert_eq!(body_any_split(Simple, b"\r\n\r\n\r\n"), b"\r\n");
    assert_eq!(body_any_split(Relaxed, b"\r\n\r\n\r\n"), b"");
    // Lines of white space only are empty lines for relaxed, not for simple.
    assert_eq!(body_any_split(Relaxed, b" \t \r\n\t\r\n"), b"");
    assert_eq!(body_any_split(Simple, b" \t \r\n\t\r\n"), b" \t \r\n\t\r\n");
    // The SHA-256 of the empty relaxed body (a well-known bh=).
    let bh = B64.encode(sha2::Sha256::digest(body(Relaxed, &[])));
    assert_eq!(bh, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    let bh = B64.encode(sha2::Sha256::digest(body(Simple, &[])));
    assert_eq!(bh, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
}

#[test]
fn trailing_empty_lines_go_inner_ones_stay() {
    use Canonicalization::*;
    let input = b"a\r\n\r\n\r\nb\r\n\r\n\r\n\r\n";
    assert_eq!(body_any_split(Simple, input), b"a\r\n\r\n\r\nb\r\n");
    assert_eq!(body_any_split(Relaxed, input), b"a\r\n\r\n\r\nb\r\n");
    // A last line without CRLF gets one.
    assert_eq!(body_any_split(Simple, b"a\r\nb"), b"a\r\nb\r\n");
    assert_eq!(body_any_split(Relaxed, b"a\r\nb  "), b"a\r\nb\r\n");
}

#[test]
fn wsp_runs_and_bare_cr() {
    use Canonicalization::*;
    assert_eq!(
        body_any_split(Relaxed, b"  x \t\t y\t\r\n\t z \r\n"),
        b" x y\r\n z\r\n"
    );
    assert_eq!(
        body_any_split(Simple, b"  x \t\t y\t\r\n"),
        b"  x \t\t y\t\r\n"
    );
    // A CR that is not part of CRLF is an ordinary byte, also at the very end.
    assert_eq!(body_any_split(Relaxed, b"a\rb\r\n\r"), b"a\rb\r\n\r\r\n");
    assert_eq!(body_any_split(Simple, b"\r\n\r\r\n"), b"\r\n\r\r\n");
}

#[test]
fn header_relaxed_edge_cases() {
    use Canonicalization::*;
    assert_eq!(
        canonicalize_header(Relaxed, b"Subject:\t \r\n  Hello \t World \r\n\t"),
        b"subject:Hello World\r\n"
    );
    assert_eq!(canonicalize_header(Relaxed, b"X-Empty:"), b"x-empty:\r\n");
    assert_eq!(
        canonicalize_header(Relaxed, b"X-Empty:  \r\n "),
        b"x-empty:\r\n"
    );
    assert_eq!(
        canonicalize_header_unterminated(Relaxed, b"DKIM-Signature: v=1;\r\n b="),
        b"dkim-signature:v=1; b="
    );
}

// RFC 8463 Appendix A: the Ed25519 key, the message, and its ed25519-sha256 signature.
const RFC8463_SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
const RFC8463_PUB: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const RFC8463_HEADERS: [&str; 5] = [
    "From: Joe SixPack <joe@football.example.com>",
    "To: Suzie Q <suzie@shopping.example.net>",
    "Subject: Is dinner ready?",
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)",
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>",
];
const RFC8463_BODY: &str = "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
const RFC8463_SIG: &str = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n \
    d=football.example.com; i=@football.example.com;\r\n \
    q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n \
    subject : date : message-id : from : subject : date;\r\n \
    bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n \
    b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n \
    Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";

/// A PKCS#8 PEM for a raw Ed25519 seed (RFC 8410's fixed 16-byte prefix).
fn ed25519_pem(seed_b64: &str) -> String {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(B64.decode(seed_b64).unwrap());
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        B64.encode(der)
    )
}

fn rfc8463_key() -> SigningKey {
    SigningKey::from_pem(&ed25519_pem(RFC8463_SEED)).unwrap()
}

#[test]
fn rfc8463_key_and_record() {
    let key = rfc8463_key();
    assert_eq!(key.public_key_base64(), RFC8463_PUB);
    assert_eq!(
        key.dns_txt_value(),
        format!("v=DKIM1; k=ed25519; p={RFC8463_PUB}")
    );
}

#[test]
fn rfc8463_body_hash_and_signature_exact() {
    let bh = B64.encode(sha2::Sha256::digest(body(
        Canonicalization::Relaxed,
        &[RFC8463_BODY.as_bytes()],
    )));
    assert_eq!(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
    // h=from:to:subject:date:message-id, then from, subject, date again (no instance
    // left: they select nothing), then the signature field with b= empty.
    let mut data = Vec::new();
    for f in RFC8463_HEADERS {
        data.extend(canonicalize_header(Canonicalization::Relaxed, f.as_bytes()));
    }
    let unsigned = &RFC8463_SIG[..RFC8463_SIG.find("b=/").unwrap() + 2];
    data.extend(canonicalize_header_unterminated(
        Canonicalization::Relaxed,
        unsigned.as_bytes(),
    ));
    let b = B64.encode(rfc8463_key().sign(&data).unwrap());
    assert_eq!(
        b,
        "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw=="
    );
}

fn rfc8463_message() -> Vec<u8> {
    let mut m = RFC8463_HEADERS.join("\r\n").into_bytes();
    m.extend_from_slice(b"\r\n\r\n");
    m.extend_from_slice(RFC8463_BODY.as_bytes());
    m
}

/// Tags of a DKIM-Signature field (unfolded, white space removed from values).
fn tags(field: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8(field.to_vec()).unwrap();
    let value = text.split_once(':').unwrap().1;
    value
        .split(';')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            let (k, v) = t.split_once('=').unwrap();
            let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            (k.trim().to_string(), v)
        })
        .collect()
}

fn tag(field: &[u8], name: &str) -> Option<String> {
    tags(field)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The first field of `message` (with its continuation lines), without the final CRLF.
fn first_field(message: &[u8]) -> &[u8] {
    let mut i = 0;
    loop {
        let end = i + message[i..].windows(2).position(|w| w == b"\r\n").unwrap();
        if !matches!(message.get(end + 2), Some(b' ' | b'\t')) {
            return &message[..end];
        }
        i = end + 2;
    }
}

#[test]
fn our_signer_on_the_rfc8463_message() {
    let signer = Signer::new(rfc8463_key(), "football.example.com", "brisbane")
        .unwrap()
        .timestamp(Some(1528637909))
        .oversign(true);
    let mut raw = RawMessage::from_bytes(rfc8463_message()).unwrap();
    signer.sign(&mut raw).unwrap();
    let out = raw.to_vec(&EncodeOptions::default()).unwrap();
    let field = first_field(&out);
    assert!(out[field.len()..].starts_with(b"\r\nFrom: Joe SixPack"));
    assert_eq!(&out[field.len() + 2..], &rfc8463_message()[..]);
    assert_eq!(
        tags(field),
        [
            ("v", "1"),
            ("a", "ed25519-sha256"),
            ("c", "relaxed/relaxed"),
            ("d", "football.example.com"),
            ("s", "brisbane"),
            ("t", "1528637909"),
            ("h", "from:from:to:to:subject:subject:date:date:message-id"),
            ("bh", "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="),
            ("b", tag(field, "b").unwrap().as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    // The signature verifies with the RFC's public key over what a verifier hashes.
    let mut data = Vec::new();
    for name in ["From", "To", "Subject", "Date", "Message-ID"] {
        let f = RFC8463_HEADERS
            .iter()
            .find(|h| h.starts_with(name))
            .unwrap();
        data.extend(canonicalize_header(Canonicalization::Relaxed, f.as_bytes()));
    }
    let text = std::str::from_utf8(field).unwrap();
    let at = text.rfind(" b=").unwrap() + 1;
    assert!(!text[at..].contains(';'));
    data.extend(canonicalize_header_unterminated(
        Canonicalization::Relaxed,
        &text.as_bytes()[..at + 2],
    ));
    let pk = ed25519_dalek::VerifyingKey::from_bytes(
        &B64.decode(RFC8463_PUB).unwrap().try_into().unwrap(),
    )
    .unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&B64.decode(tag(field, "b").unwrap()).unwrap())
        .unwrap();
    pk.verify_strict(&sha2::Sha256::digest(&data), &sig)
        .unwrap();
    // Lines are folded under 78 columns, CRLF only.
    for line in field.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.len() <= 78, "{:?}", String::from_utf8_lossy(line));
        assert!(!line.contains(&b'\r'));
    }
}

#[test]
fn simple_simple_keeps_bytes() {
    let signer = Signer::new(rfc8463_key(), "football.example.com", "brisbane")
        .unwrap()
        .header_canonicalization(Canonicalization::Simple)
        .body_canonicalization(Canonicalization::Simple);
    // RFC 6376 A.2's message has one space after "game." (RFC 8463's has two, which
    // only relaxed makes one): its simple body hash is the same bh=.
    let single = String::from_utf8(rfc8463_message())
        .unwrap()
        .replace("game.  Are", "game. Are");
    let field = signer.signature_for(single.as_bytes()).unwrap();
    assert_eq!(tag(&field, "c").as_deref(), Some("simple/simple"));
    assert_eq!(
        tag(&field, "bh").as_deref(),
        Some("2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=")
    );
    assert!(field.ends_with(b"\r\n"));
    let two = signer.signature_for(&rfc8463_message()).unwrap();
    assert_ne!(tag(&two, "bh"), tag(&field, "bh"));
}

fn unsigned_7bit() -> EncodeOptions {
    EncodeOptions {
        allow_8bit: false,
        smtputf8: false,
    }
}

fn build(attach: Attachment) -> Message {
    Message::builder()
        .from("Zoë <zoe@example.com>")
        .to("bob@example.net")
        .subject("Crème brûlée")
        .text("Bonjour — ça va ?\n\nTrailing spaces   \n\n\n")
        .attach(attach)
        .date(postel_mime::DateTime::from_unix(1_795_386_300, 0).unwrap())
        .build()
        .unwrap()
}

/// Pass 2 (what is sent) is the signature field followed by exactly the unsigned bytes.
#[test]
fn pass_two_equals_pass_one_for_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let mut msg = build(Attachment::from_path(&path).unwrap());
    let unsigned = msg.to_vec(&unsigned_7bit()).unwrap();
    let signer = Signer::new(SigningKey::generate_ed25519(), "example.com", "s").unwrap();
    signer.sign(&mut msg).unwrap();
    // Whatever the server offers, the signed (7-bit) bytes are sent.
    let sent = msg
        .to_vec(&EncodeOptions {
            allow_8bit: true,
            smtputf8: true,
        })
        .unwrap();
    let field = first_field(&sent);
    assert!(field.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256;"));
    assert_eq!(&sent[field.len() + 2..], &unsigned[..]);
    assert_eq!(msg.to_vec(&unsigned_7bit()).unwrap(), sent);
    // The encoder's declared size counts the field.
    let enc = msg.encoder(&unsigned_7bit()).unwrap();
    assert_eq!(enc.encoded_len(), Some(sent.len() as u64));
    assert!(!enc.uses_8bit());
}

#[test]
fn one_shot_reader_is_spooled_and_sent_twice() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 256) as u8).collect();
    let reader = std::io::Cursor::new(data.clone());
    let mut msg = build(Attachment::from_reader("r.bin", reader, Some(data.len() as u64)).unwrap());
    let signer = Signer::new(SigningKey::generate_ed25519(), "example.com", "s").unwrap();
    signer.sign(&mut msg).unwrap();
    let a = msg.to_vec(&unsigned_7bit()).unwrap();
    let b = msg.to_vec(&unsigned_7bit()).unwrap();
    assert_eq!(a, b);
    // Same bytes as the same message built from memory (boundaries come from
    // Message-ID, Date and Subject, so give it the same Message-ID).
    let id = msg.message_id().unwrap().clone();
    let mut mem = Message::builder()
        .from("Zoë <zoe@example.com>")
        .to("bob@example.net")
        .subject("Crème brûlée")
        .text("Bonjour — ça va ?\n\nTrailing spaces   \n\n\n")
        .attach(Attachment::new("r.bin", data).unwrap())
        .date(postel_mime::DateTime::from_unix(1_795_386_300, 0).unwrap())
        .message_id(id)
        .build()
        .unwrap();
    let field = first_field(&a);
    assert_eq!(
        &a[field.len() + 2..],
        &mem.to_vec(&unsigned_7bit()).unwrap()[..]
    );
}

#[test]
fn a_reader_with_a_wrong_declared_length_fails_signing() {
    let reader = std::io::Cursor::new(vec![1u8; 10]);
    let mut msg = build(Attachment::from_reader("r.bin", reader, Some(11)).unwrap());
    let signer = Signer::new(SigningKey::generate_ed25519(), "example.com", "s").unwrap();
    let e = signer.sign(&mut msg).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LengthMismatch {
                declared: 11,
                actual: 10
            }
        ),
        "{e:?}"
    );
}

#[test]
fn raw_stream_and_raw_file_sign_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    let mut text =
        b"From: a@example.com\nTo: b@example.net\nBcc: hidden@example.org\nSubject: raw\n\n"
            .to_vec();
    for i in 0..20_000 {
        text.extend_from_slice(format!("line {i} with  spaces \t\n").as_bytes());
    }
    text.extend_from_slice(b"\n\n\n");
    std::fs::write(&path, &text).unwrap();
    let key = ed25519_pem(RFC8463_SEED);
    let signer = Signer::new(SigningKey::from_pem(&key).unwrap(), "example.com", "s")
        .unwrap()
        .timestamp(Some(1));
    let mut outs = Vec::new();
    for mut raw in [
        RawMessage::from_file(&path).unwrap(),
        RawMessage::from_reader(std::fs::File::open(&path).unwrap()).unwrap(),
        RawMessage::from_bytes(text.clone()).unwrap(),
    ] {
        signer.sign(&mut raw).unwrap();
        outs.push(raw.to_vec(&EncodeOptions::default()).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[1], outs[2]);
    let sent = &outs[0];
    assert!(!String::from_utf8_lossy(sent).contains("hidden@"));
    let field = first_field(sent);
    assert_eq!(tag(field, "h").as_deref(), Some("from:to:subject"));
}

#[test]
fn two_signatures_stack() {
    let rsa = SigningKey::generate_rsa(1024).unwrap();
    let ed = rfc8463_key();
    let mut raw = RawMessage::from_bytes(rfc8463_message()).unwrap();
    Signer::new(rsa, "example.com", "r")
        .unwrap()
        .sign(&mut raw)
        .unwrap();
    Signer::new(ed, "example.com", "e")
        .unwrap()
        .sign(&mut raw)
        .unwrap();
    let out = raw.to_vec(&EncodeOptions::default()).unwrap();
    let first = first_field(&out);
    let second = first_field(&out[first.len() + 2..]);
    assert_eq!(tag(first, "a").as_deref(), Some("ed25519-sha256"));
    assert_eq!(tag(second, "a").as_deref(), Some("rsa-sha256"));
    assert_eq!(tag(first, "bh"), tag(second, "bh"));
}

#[test]
fn typed_errors() {
    assert!(matches!(
        SigningKey::from_pem("hello"),
        Err(DkimError::KeyFormat { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(DkimError::KeyFormat { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        Err(DkimError::KeyFormat { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem_file("/nonexistent/key.pem"),
        Err(DkimError::KeyFile { .. })
    ));
    assert!(matches!(
        SigningKey::generate_rsa(512),
        Err(DkimError::KeyFormat { .. })
    ));
    for (d, s) in [
        ("", "s"),
        ("example.com", ""),
        ("exa mple.com", "s"),
        ("example.com", "s\r\nX: y"),
        ("example.com", "a;b"),
    ] {
        let e = Signer::new(rfc8463_key(), d, s).unwrap_err();
        assert!(matches!(e, DkimError::InvalidName { .. }), "{d:?} {s:?}");
    }
    let signer = Signer::new(rfc8463_key(), "example.com", "s").unwrap();
    assert!(matches!(
        signer.signature_for(b"Subject: no from\r\n\r\nbody\r\n"),
        Err(DkimError::NoFrom)
    ));
    assert!(signer.identity(Some("@other.example")).is_err());
    let signer = Signer::new(rfc8463_key(), "example.com", "s").unwrap();
    assert!(signer.headers(&["Sub ject"]).is_err());
}

#[test]
fn key_formats_round_trip() {
    let rsa = SigningKey::generate_rsa(1024).unwrap();
    let pem = rsa.to_pkcs8_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let again = SigningKey::from_pem(&pem).unwrap();
    assert_eq!(again.public_key_base64(), rsa.public_key_base64());
    assert!(again.dns_txt_value().starts_with("v=DKIM1; k=rsa; p=MI"));
    assert_eq!(again.bits(), 1024);
    // RSA signatures are deterministic: the same data signs the same.
    assert_eq!(again.sign(b"x").unwrap(), rsa.sign(b"x").unwrap());
}

#[test]
fn multipart_with_part_from_reader() {
    let part = Part::text("hi\n");
    let reader = std::io::Cursor::new(b"streamed text\n".repeat(1000));
    let msg = Message::builder()
        .from("a@example.com")
        .to("b@example.net")
        .body(Part::mixed(vec![part]))
        .attach(Attachment::from_reader("t.txt", reader, None).unwrap())
        .build();
    let mut msg = msg.unwrap();
    let signer = Signer::new(rfc8463_key(), "example.com", "s").unwrap();
    signer.sign(&mut msg).unwrap();
    let a = msg.to_vec(&unsigned_7bit()).unwrap();
    assert_eq!(a, msg.to_vec(&unsigned_7bit()).unwrap());
}

#[test]
fn optional_tags_and_folding_of_a_long_field() {
    let label = "a".repeat(63);
    let domain = format!("{label}.{label}.{label}.example.com");
    let names: Vec<String> = (0..40)
        .map(|i| format!("X-Custom-Header-Number-{i}"))
        .collect();
    let signer = Signer::new(SigningKey::generate_rsa(1024).unwrap(), &domain, "sel")
        .unwrap()
        .identity(Some(&format!("joe@mail.{domain}")))
        .unwrap()
        .timestamp(Some(1_700_000_000))
        .expire_after(Some(86_400))
        .headers(&names)
        .unwrap();
    let mut msg = b"From: joe@example.com\r\n".to_vec();
    for n in &names {
        msg.extend_from_slice(format!("{n}: v\r\n").as_bytes());
    }
    msg.extend_from_slice(b"\r\nbody\r\n");
    let field = signer.signature_for(&msg).unwrap();
    assert_eq!(tag(&field, "t").as_deref(), Some("1700000000"));
    assert_eq!(tag(&field, "x").as_deref(), Some("1700086400"));
    assert_eq!(tag(&field, "i"), Some(format!("joe@mail.{domain}")));
    assert_eq!(tag(&field, "d"), Some(domain.clone()));
    assert!(tag(&field, "l").is_none());
    // From is signed although the list did not name it, first.
    let h = tag(&field, "h").unwrap();
    assert!(h.starts_with("from:x-custom-header-number-0:"), "{h}");
    assert_eq!(h.split(':').count(), 41);
    let text = String::from_utf8(field.clone()).unwrap();
    assert!(text.ends_with("\r\n"));
    for line in text.strip_suffix("\r\n").unwrap().split("\r\n") {
        assert!(!line.contains('\r') && !line.contains('\n'));
        // Only the d= and i= lines hold a token longer than a line.
        if line.len() > 78 {
            assert!(line.contains(&domain), "{line:?}");
        }
        assert!(line.len() <= 998);
    }
    assert!(text.lines().count() > 10);
}
