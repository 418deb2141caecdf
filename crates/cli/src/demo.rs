//! `postel demo`: a tour with nothing else installed. A simulator on loopback (STARTTLS
//! with a CA generated now, AUTH required), one message with an attachment, the session
//! as the client saw it (credentials redacted), and the message as the server got it.

use std::io::Write;
use std::time::Duration;

use postel::{Client, TlsMode};
use postel_mime::{Attachment, Message};
use postel_sim::{BlockingSimulator, Config};

use crate::exit::{self, Failure};
use crate::output;

const USER: &str = "demo";
const PASSWORD: &str = "demo-password";

/// Runs the demo; returns the exit code.
pub fn run() -> Result<u8, Failure> {
    let sim = BlockingSimulator::start(
        Config::builder()
            .user(USER, PASSWORD)
            .require_tls_for_auth(true)
            .require_auth(true)
            .build(),
    )
    .map_err(|e| Failure::new(exit::SOFTWARE, format!("cannot start the simulator: {e}")))?;
    let addr = sim.addr();
    let ca = sim
        .ca_pem()
        .ok_or_else(|| Failure::new(exit::SOFTWARE, "the simulator made no CA"))?;

    let mut out = output::stdout();
    let head = anstyle::Style::new().bold();
    let say = |out: &mut dyn Write, s: &str| writeln!(out, "\n{head}# {s}{head:#}");
    let io = |e: std::io::Error| Failure::new(exit::IOERR, format!("writing the output: {e}"));

    say(
        &mut out,
        &format!(
            "postel-sim is listening on {addr}: STARTTLS with a CA made just now, AUTH as {USER:?}"
        ),
    )
    .map_err(io)?;

    let mut client = Client::builder(addr.ip().to_string())
        .port(addr.port())
        .tls(TlsMode::StartTls)
        .ca_pem(ca.into_bytes())
        .credentials(USER, PASSWORD)
        .ehlo_name("demo.postel.test")
        .transcript(true)
        .build()?;

    let csv = b"city,temperature\nZurich,14\nOslo,6\n".to_vec();
    let mut message = Message::builder()
        .from("Alice <alice@demo.postel.test>")
        .to("Bob <bob@demo.postel.test>")
        .subject("Hello from postel demo")
        .text("Hi Bob,\n\nthe readings are attached.\n\nAlice\n")
        .attach(Attachment::new("readings.csv", csv)?.charset("utf-8")?)
        .build()?;
    let report = client.send(&mut message)?;
    client.quit()?;

    say(
        &mut out,
        "The session, as the client saw it (AUTH redacted):",
    )
    .map_err(io)?;
    if let Some(t) = client.take_transcript() {
        output::transcript(&mut out, &t).map_err(io)?;
    }
    let arrived = sim.wait_for_messages(1, Duration::from_secs(5));
    say(&mut out, "The message, as the server got it:").map_err(io)?;
    for m in &arrived {
        postel_sim::print_message(&mut out, m).map_err(io)?;
    }
    say(
        &mut out,
        &format!(
            "Accepted for {} recipient(s), over {}: {}",
            report.accepted.len(),
            if report.encrypted { "TLS" } else { "plaintext" },
            report.reply
        ),
    )
    .map_err(io)?;
    let me = invocation();
    writeln!(
        out,
        "\nNext: run a simulator in one terminal:\n  {me} sim\nthen send it a message from another:\n  {me} send --server 127.0.0.1:2525 --tls none --from me@example.test --to you@example.test --subject hi --text hello"
    )
    .map_err(io)?;
    sim.shutdown();
    Ok(if arrived.is_empty() {
        exit::SOFTWARE
    } else {
        exit::OK
    })
}

/// How to run this very program again: `postel` when that is what the shell finds on
/// PATH, else this binary's full path (as under `cargo run`, or when not installed).
fn invocation() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "postel".to_owned();
    };
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("postel"))
            .find(|p| p.is_file())
    });
    if found.and_then(|p| p.canonicalize().ok()).as_ref() == Some(&me) {
        return "postel".to_owned();
    }
    let shown = me.display().to_string();
    if shown
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%".contains(&b))
    {
        shown
    } else {
        format!("'{}'", shown.replace('\'', "'\\''"))
    }
}
