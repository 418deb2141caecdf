//! The log for cron and other unattended senders (`logfile` in an account, `--log FILE`):
//! one line per message, appended, as msmtp's `logfile` keeps.
//!
//! ```text
//! 2026-12-04T19:40:07Z account=work server=smtp.example.com:587 from=me@example.com recipients=a@x.test,b@y.test result=ok exit=0 queue_id=4Zk3 reply="250 2.0.0 Ok: queued as 4Zk3"
//! 2026-12-04T19:41:00Z account=- server=127.0.0.1:1 from=me@example.com recipients=a@x.test result=failed exit=75 error="cannot connect to 127.0.0.1:1: Connection refused (os error 111)"
//! ```
//! Credentials are never written: no user name, password or AUTH exchange, only the
//! account's name. A log that cannot be written is a warning on stderr; the message's
//! fate and the exit code do not depend on it.

use std::io::Write;
use std::path::{Path, PathBuf};

use postel::{SendReport, ServerReply};

/// Where a message went, for its log line.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The account's name, if one was used.
    pub account: Option<String>,
    /// `host:port`.
    pub server: String,
}

/// One message's log line (without the line end).
pub fn line(
    ctx: &Context,
    from: &str,
    recipients: &[String],
    result: Result<&SendReport, &postel::Error>,
    code: u8,
) -> String {
    let mut l = prefix(ctx, from, recipients);
    match result {
        Ok(r) => {
            let outcome = if r.refused.is_empty() {
                "ok"
            } else {
                "partial"
            };
            l.push_str(&format!(" result={outcome} exit={code}"));
            if !r.refused.is_empty() {
                let refused: Vec<&str> = r.refused.iter().map(|x| x.address.as_str()).collect();
                l.push_str(&format!(" refused={}", value(&refused.join(","))));
            }
            if let Some(id) = queue_id(&r.reply) {
                l.push_str(&format!(" queue_id={}", value(&id)));
            }
            l.push_str(&format!(" reply={}", quoted(&r.reply.to_string())));
        }
        Err(e) => {
            let outcome = if e.is_transient() {
                "deferred"
            } else {
                "failed"
            };
            l.push_str(&format!(
                " result={outcome} exit={code} error={}",
                quoted(&e.to_string())
            ));
        }
    }
    l
}

/// The line for a message that was not sent because the command failed before it (the
/// port expects TLS, say): `failure`'s exit code and message.
pub fn failure_line(
    ctx: &Context,
    from: &str,
    recipients: &[String],
    failure: &crate::exit::Failure,
) -> String {
    let outcome = if failure.code == crate::exit::TEMPFAIL {
        "deferred"
    } else {
        "failed"
    };
    format!(
        "{} result={outcome} exit={} error={}",
        prefix(ctx, from, recipients),
        failure.code,
        quoted(&failure.message)
    )
}

/// Time, account, server, sender and recipients.
fn prefix(ctx: &Context, from: &str, recipients: &[String]) -> String {
    format!(
        "{} account={} server={} from={} recipients={}",
        utc_now(),
        value(ctx.account.as_deref().unwrap_or("-")),
        value(&ctx.server),
        value(if from.is_empty() { "<>" } else { from }),
        value(&if recipients.is_empty() {
            "-".to_owned()
        } else {
            recipients.join(",")
        }),
    )
}

/// Appends `line` to `path` (created with mode 600 when new); a failure is a warning on
/// stderr and nothing more.
pub fn append(path: &Path, line: &str) {
    if let Err(e) = try_append(path, line) {
        eprintln!(
            "postel: warning: cannot write the log {}: {e} (the message's outcome is not affected)",
            path.display()
        );
    }
}

fn try_append(path: &Path, line: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    // One write per line: appends from several processes do not interleave inside it.
    f.write_all(format!("{line}\n").as_bytes())
}

/// The log file: the flag's, else the account's (where a leading `~/` is the home
/// directory, as in msmtp's config).
pub fn target(flag: Option<&Path>, account: Option<&Path>) -> Option<PathBuf> {
    if let Some(f) = flag {
        return Some(f.to_path_buf());
    }
    let a = account?;
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (a.strip_prefix("~"), home) {
        (Ok(rest), Some(h)) => Some(PathBuf::from(h).join(rest)),
        _ => Some(a.to_path_buf()),
    }
}

/// The queue id in a final reply: Postfix's and postel-sim's `queued as ID`, Exim's
/// `id=ID`, sendmail's `ID Message accepted`.
pub fn queue_id(reply: &ServerReply) -> Option<String> {
    let text = reply.text.as_str();
    let token = |s: &str| {
        let t: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.@".contains(*c))
            .collect();
        (!t.is_empty()).then_some(t)
    };
    if let Some(i) = text.find("queued as ") {
        return token(&text[i + "queued as ".len()..]);
    }
    if let Some(i) = text.find("id=") {
        return token(&text[i + 3..]);
    }
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some(id), Some("Message")) if text.contains("Message accepted") => token(id),
        _ => None,
    }
}

/// A bare value, or a quoted one when it holds a space, quote, `=` or control character.
fn value(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=')
    {
        v.to_owned()
    } else {
        quoted(v)
    }
}

/// `"…"` with `\"`, `\\` and control characters escaped: one line, always.
fn quoted(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            c if c.is_control() => s.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    // Out of postel-mime's years 1900-9999 only with a broken clock: show the epoch then.
    let at = i64::try_from(secs)
        .ok()
        .and_then(|s| postel_mime::DateTime::from_unix(s, 0).ok());
    at.map_or_else(
        || "1970-01-01T00:00:00Z".to_owned(),
        |t| t.rfc3339_utc().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> ServerReply {
        ServerReply {
            code: 250,
            enhanced: None,
            text: text.to_owned(),
        }
    }

    #[test]
    fn queue_ids_of_postfix_exim_and_sendmail() {
        assert_eq!(
            queue_id(&reply("2.0.0 Ok: queued as 4ZkQ3x1bQz")).as_deref(),
            Some("4ZkQ3x1bQz")
        );
        assert_eq!(
            queue_id(&reply("OK id=1tIu2c-000Abc-0F")).as_deref(),
            Some("1tIu2c-000Abc-0F")
        );
        assert_eq!(
            queue_id(&reply("4B1Jx2Ab012345 Message accepted for delivery")).as_deref(),
            Some("4B1Jx2Ab012345")
        );
        assert_eq!(queue_id(&reply("Ok")), None);
    }

    #[test]
    fn the_flag_wins_and_the_accounts_tilde_is_home() {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        assert_eq!(
            target(Some(Path::new("~/x")), Some(Path::new("/a"))),
            Some(PathBuf::from("~/x"))
        );
        assert_eq!(
            target(None, Some(Path::new("/var/log/postel"))),
            Some(PathBuf::from("/var/log/postel"))
        );
        if let Some(h) = home.filter(|h| !h.as_os_str().is_empty()) {
            assert_eq!(
                target(None, Some(Path::new("~/.local/state/postel/log"))),
                Some(h.join(".local/state/postel/log"))
            );
        }
        assert_eq!(target(None, None), None);
    }

    #[test]
    fn dates_and_quoting() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_386_300), "2026-11-22T22:25:00Z");
        assert_eq!(value("a@x.test"), "a@x.test");
        assert_eq!(value("a b"), "\"a b\"");
        assert_eq!(quoted("x\"y\r\nz"), "\"x\\\"y\\r\\nz\"");
    }
}
