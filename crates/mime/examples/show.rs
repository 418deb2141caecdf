//! Prints a sample message, for people to read: `cargo run -p postel-mime --example show`.
use postel_mime::{Attachment, DateTime, EncodeOptions, Message};

fn main() -> Result<(), postel_mime::Error> {
    let mut msg = Message::builder()
        .from("\"Zoë Müller\" <zoe@bücher.example>")
        .to("Team: a@example.net, \"Smith, B\" <b@example.net>;, c@example.org")
        .cc("日本語の名前 <jp@example.jp>")
        .bcc("hidden@example.com")
        .subject("Quarterly report — final version with a rather long subject line that must fold somewhere")
        .date(DateTime::from_unix(1_795_386_300, 60)?)
        .text("Hello,\n.leading dot\nsee attached. Grüße\n")
        .html("<p>Hello <img src=\"cid:logo@x.test\"></p>")
        .attach(Attachment::new("logo.png", vec![0x89, b'P', b'N', b'G', 0, 1, 2])?.inline("logo@x.test")?)
        .attach(Attachment::new("résumé final très long nom de fichier pour tester la continuation RFC 2231.pdf", b"%PDF-1.4".to_vec())?)
        .build()?;
    let out = msg.to_vec(&EncodeOptions::default())?;
    print!("{}", String::from_utf8_lossy(&out));
    Ok(())
}
