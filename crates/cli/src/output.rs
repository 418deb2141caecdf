//! How results look: transcripts in swaks's arrows, reports in words or JSON, colour only
//! on a terminal (anstream strips it when piped).

use std::io::Write;

use anstyle::{AnsiColor, Style};
use postel::{SendReport, ServerReply, Side, Transcript};
use serde_json::{json, Value};

const CLIENT: Style = AnsiColor::Cyan.on_default();
const SERVER: Style = AnsiColor::Green.on_default();
const NOTE: Style = AnsiColor::Yellow.on_default();
const BAD: Style = AnsiColor::Red.on_default().bold();

/// `s` made inert on a terminal: every control character (C0 but the line feeds `keep`
/// allows, DEL, C1) is written as a visible escape (`\r`, `\0`, `\x1b`, `\u{9b}`), so
/// text from a server (a reply, a certificate name) can neither move the cursor, rewrite
/// a line with a bare CR, set the window title nor ring the bell. Tabs are kept.
pub fn inert_text(s: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\t' && !(keep_newlines && c == '\n');
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !bad(c) => out.push(c),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One line of server text made inert ([`inert_text`]; a line feed is escaped too).
pub fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    inert_text(s, false)
}

/// A reply, displayed with its text made inert.
pub fn reply(r: &ServerReply) -> String {
    inert(&r.to_string()).into_owned()
}

/// Writes a transcript as swaks does: ` -> ` client, `<-  ` server, `=== ` notes; server
/// text made inert.
pub fn transcript(out: &mut dyn Write, t: &Transcript) -> std::io::Result<()> {
    for e in t.entries() {
        let (style, tag) = match e.side {
            Side::Client => (CLIENT, " -> "),
            Side::Server if e.text.starts_with(['4', '5']) => (BAD, "<** "),
            Side::Server => (SERVER, "<-  "),
            Side::Note => (NOTE, "=== "),
        };
        writeln!(out, "{style}{tag}{}{style:#}", inert(&e.text))?;
    }
    Ok(())
}

/// A terminal-aware stdout (colour only on a terminal, unless NO_COLOR).
pub fn stdout() -> anstream::AutoStream<std::io::Stdout> {
    anstream::AutoStream::auto(std::io::stdout())
}

/// A terminal-aware stderr.
pub fn stderr() -> anstream::AutoStream<std::io::Stderr> {
    anstream::AutoStream::auto(std::io::stderr())
}

/// A reply as JSON: `{"code": 250, "enhanced": "2.1.5", "text": "Ok"}`.
pub fn reply_json(r: &ServerReply) -> Value {
    json!({
        "code": r.code,
        "enhanced": r.enhanced.map(|e| e.to_string()),
        "text": r.text,
    })
}

/// One message's outcome as JSON.
pub fn report_json(source: &str, report: &SendReport) -> Value {
    json!({
        "source": source,
        "ok": true,
        "accepted": report.accepted.iter().map(|a| json!({"address": a.address, "reply": reply_json(&a.reply)})).collect::<Vec<_>>(),
        "refused": report.refused.iter().map(|r| json!({"address": r.address, "reply": reply_json(&r.reply)})).collect::<Vec<_>>(),
        "reply": reply_json(&report.reply),
        "encrypted": report.encrypted,
        "authenticated": report.authenticated.map(|m| m.name()),
    })
}

/// One message's failure as JSON.
pub fn error_json(source: &str, e: &postel::Error, code: u8) -> Value {
    let refused = match e {
        postel::Error::Rejected { refused, .. } => refused
            .iter()
            .map(|r| json!({"address": r.address, "reply": reply_json(&r.reply)}))
            .collect(),
        _ => Vec::new(),
    };
    json!({
        "source": source,
        "ok": false,
        "error": e.to_string(),
        "exit_code": code,
        "transient": e.is_transient(),
        "reply": e.reply().as_ref().map(reply_json),
        "accepted": [],
        "refused": refused,
    })
}

/// A one-line human summary of a report, and a line per refused recipient.
pub fn report_text(out: &mut dyn Write, source: &str, report: &SendReport) -> std::io::Result<()> {
    let ok = AnsiColor::Green.on_default().bold();
    writeln!(
        out,
        "{ok}sent{ok:#} {source}: {} accepted, {} refused: {}",
        report.accepted.len(),
        report.refused.len(),
        reply(&report.reply)
    )?;
    for r in &report.refused {
        writeln!(
            out,
            "  {BAD}refused{BAD:#} {}: {}",
            r.address,
            reply(&r.reply)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(inert("250 ok\tfine"), "250 ok\tfine");
        assert_eq!(
            inert("550 no\rOK\x1b[2J\x07\0\u{9b}\u{7f}\nx"),
            "550 no\\rOK\\x1b[2J\\x07\\0\\u{9b}\\x7f\\nx"
        );
        assert_eq!(inert_text("a\nb\rc", true), "a\nb\\rc");
    }
}
