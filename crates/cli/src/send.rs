//! `postel send`: compose from flags, or send ready messages (`--raw`) over one connection.

use std::io::{Read, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use postel::Envelope;
use postel_mime::{Message, RawMessage};
use serde_json::json;

use crate::cli::SendArgs;
use crate::config::ConfigFile;
use crate::deliver::{addresses, deliver, log_envelope, sender, Outgoing};
use crate::dsn::Dsn;
use crate::exit::{self, Failure};
use crate::{maillog, output};

/// Runs `postel send`; returns the exit code.
pub fn run(args: &SendArgs, file: &ConfigFile) -> Result<u8, Failure> {
    if args.direct.direct {
        return crate::queue_cmd::send_command(args, file);
    }
    // A bad DKIM key or setting fails here, before anything is read or sent.
    let account = crate::dkim::account_for(&args.server, file)?;
    let signer = crate::dkim::signer(&args.dkim, account.as_ref())?;
    let (client, server) = crate::server::client(&args.server, file, args.transcript)?;
    // Every failure from here on names the account and its file.
    send(args, client, &server, signer.as_ref()).map_err(|f| server.name_in(f))
}

/// `postel send` once the server and account are settled.
fn send(
    args: &SendArgs,
    client: postel::Client,
    server: &crate::server::Server,
    signer: Option<&postel_mime::dkim::Signer>,
) -> Result<u8, Failure> {
    let from = args.from.clone().or(server.from.clone());

    let mut jobs: Vec<(String, Outgoing)> = Vec::new();
    if args.raw.is_empty() {
        jobs.push((
            "message".to_owned(),
            Outgoing::Composed(compose(args, from.as_deref())?),
        ));
    } else {
        let stdin_count = args.raw.iter().filter(|p| p.as_os_str() == "-").count();
        if stdin_count > 1 {
            return Err(Failure::usage("--raw - (stdin) can be given only once"));
        }
        let (date, msgid) = server.set_headers;
        let add = crate::added_headers::AddHeaders::new(args.no_add_headers, date, msgid);
        for p in &args.raw {
            let mut raw = open_raw(p)?;
            crate::added_headers::add_missing(&mut raw, add, from.as_deref())?;
            jobs.push((p.display().to_string(), Outgoing::Raw(raw)));
        }
    }

    // DKIM: signed before connecting (reading each message once more; docs/dkim.md).
    for (_, msg) in &mut jobs {
        crate::dkim::sign(signer, msg)?;
    }

    // With --raw, --from/--to give the envelope; otherwise the headers do.
    let envelope = if args.raw.is_empty() {
        None
    } else {
        raw_envelope(args, from.as_deref())?
    };

    let dsn = Dsn::parse(
        args.dsn.dsn_notify.as_deref(),
        args.dsn.dsn_return.as_deref(),
        args.dsn.envid.as_deref(),
        args.dsn.require_tls,
    )?;
    let log = maillog::target(args.log.as_deref(), server.logfile.as_deref());
    let log_ctx = maillog::Context {
        account: server.account.clone(),
        server: server.endpoint(),
    };
    // Connect now that the messages are read: progress on a terminal, a silent port
    // checked for TLS. A failure to connect is the first message's result; each next
    // one tries again, as before.
    let opened = crate::reach::open(client, server, true);
    if let (Err(f), Some(path)) = (&opened, &log) {
        // Nothing was sent: each message's line says why.
        for (_, msg) in &jobs {
            let (from, to) = log_envelope(envelope.as_ref(), msg);
            maillog::append(path, &maillog::failure_line(&log_ctx, &from, &to, f));
        }
    }
    let (mut client, mut not_connected) = match opened {
        Ok(opened) => opened,
        Err(f) if args.json => {
            let v = json!({ "exit_code": f.code, "error": f.message, "messages": [] });
            let text = serde_json::to_string_pretty(&v).unwrap_or_default();
            writeln!(output::stdout(), "{text}").map_err(io_failure)?;
            return Err(f);
        }
        Err(f) => return Err(f),
    };
    let bar = progress(jobs.len());
    let mut results = Vec::new();
    let mut codes = Vec::new();
    let mut err = output::stderr();
    let mut out = output::stdout();
    for (source, mut msg) in jobs {
        if let Some(b) = &bar {
            b.set_message(source.clone());
            b.set_position(0);
        }
        let logged = log.as_ref().map(|_| log_envelope(envelope.as_ref(), &msg));
        let result = match not_connected.take() {
            Some(e) => Err(e),
            None => deliver(&mut client, envelope.as_ref(), &mut msg, &dsn, bar.as_ref()),
        };
        let code = match &result {
            Ok(r) => exit::code_for_report(r),
            Err(e) => exit::code_for_error(e),
        };
        if let (Some(path), Some((from, to))) = (&log, &logged) {
            maillog::append(
                path,
                &maillog::line(&log_ctx, from, to, result.as_ref(), code),
            );
        }
        codes.push(code);
        if let Some(b) = &bar {
            b.suspend(|| print_result(&mut err, &source, &result, server, args.json));
        } else {
            print_result(&mut err, &source, &result, server, args.json);
        }
        results.push(match &result {
            Ok(r) => output::report_json(&source, r),
            Err(e) => output::error_json(&source, e, code),
        });
    }
    let _ = client.quit();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let code = exit::worst(codes.iter().copied());
    if args.transcript {
        if let Some(t) = client.take_transcript() {
            let target: &mut dyn Write = if args.json { &mut err } else { &mut out };
            output::transcript(target, &t).map_err(io_failure)?;
        }
    }
    if args.json {
        let v = json!({ "exit_code": code, "messages": results });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
        .map_err(io_failure)?;
    }
    Ok(code)
}

fn print_result(
    err: &mut dyn Write,
    source: &str,
    result: &Result<postel::SendReport, postel::Error>,
    server: &crate::server::Server,
    json: bool,
) {
    match result {
        Ok(r) if !json => {
            let _ = output::report_text(err, source, r);
        }
        Ok(_) => {}
        Err(e) => {
            let said = crate::reach::explain(e, server).to_string();
            let said = output::inert_text(&said, true);
            let _ = writeln!(err, "postel: {source}: {said}");
        }
    }
}

fn io_failure(e: std::io::Error) -> Failure {
    Failure::new(exit::IOERR, format!("writing the output: {e}"))
}

/// A bar per message when sending many (and a byte count for each); only on a terminal.
fn progress(messages: usize) -> Option<ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(if messages > 1 {
        "{spinner} {msg} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}"
    } else {
        "{spinner} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}"
    })
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    Some(bar)
}

pub(crate) fn raw_envelope(
    args: &SendArgs,
    from: Option<&str>,
) -> Result<Option<Envelope>, Failure> {
    let mut to = Vec::new();
    for a in args.to.iter().chain(&args.cc).chain(&args.bcc) {
        to.extend(addresses(a).map_err(|e| Failure::data(format!("recipient {a:?}: {e}")))?);
    }
    if to.is_empty() && args.from.is_none() {
        return Ok(None);
    }
    if to.is_empty() {
        return Err(Failure::usage(
            "--from with --raw needs --to too (or neither: the headers give the envelope)",
        ));
    }
    let from = match from {
        Some(f) => sender(f).map_err(|e| Failure::data(format!("sender {f:?}: {e}")))?,
        None => {
            return Err(Failure::usage(
                "--to with --raw needs --from (or an account with `from`)",
            ))
        }
    };
    Ok(Some(Envelope::new(from, to)))
}

pub(crate) fn open_raw(path: &Path) -> Result<RawMessage, Failure> {
    let raw = if path.as_os_str() == "-" {
        // Spooled to a private file and streamed from it, as `sendmail` does: constant
        // memory, measured for SIZE=. The open file outlives the spool's name.
        let spool = crate::spool::Spool::from_reader(std::io::stdin().lock(), true)
            .map_err(|e| Failure::new(exit::NOINPUT, format!("reading stdin: {e}")))?;
        RawMessage::from_file(spool.path())
    } else {
        // Measured ahead (SIZE=, BODY=8BITMIME only when 8-bit), then streamed.
        match RawMessage::from_file(path) {
            Err(postel_mime::Error::Io(e)) => {
                return Err(Failure::new(
                    exit::NOINPUT,
                    format!("cannot read {}: {e}", path.display()),
                ))
            }
            other => other,
        }
    };
    raw.map_err(|e| Failure::data(format!("{}: {e}", path.display())))
}

fn read_text(path: &Path) -> Result<String, Failure> {
    let mut s = String::new();
    let r = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut s)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut s))
    };
    r.map_err(|e| {
        let name = if path.as_os_str() == "-" {
            "stdin".to_owned()
        } else {
            path.display().to_string()
        };
        let hint = if e.kind() == std::io::ErrorKind::InvalidData {
            " (a text body must be UTF-8: send other bytes with --attach, or a whole \
             message with --raw)"
        } else {
            ""
        };
        Failure::new(exit::NOINPUT, format!("cannot read {name}: {e}{hint}"))
    })?;
    Ok(s)
}

/// The body when no --text, --text-file or --html-file was given: stdin when it is not a
/// terminal (a pipe or a file, as mail(1) reads it), so `echo body | postel send` sends
/// "body". On a terminal nothing is read: the body is empty (a subject-only message), and
/// a note says how to give one.
fn body_from_stdin() -> Result<Option<String>, Failure> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return read_text(Path::new("-")).map(Some);
    }
    if std::io::stderr().is_terminal() {
        let _ = writeln!(
            output::stderr(),
            "postel: no body given (--text, --text-file, or a pipe into stdin): sending \
             the message with an empty body"
        );
    }
    Ok(None)
}

pub(crate) fn compose(args: &SendArgs, from: Option<&str>) -> Result<Message, Failure> {
    let from = from.ok_or_else(|| {
        Failure::usage("no sender: give --from ADDR (or an account with `from` in the config file)")
    })?;
    if args.to.is_empty() && args.cc.is_empty() && args.bcc.is_empty() {
        return Err(Failure::usage(
            "no recipient: give --to ADDR (or --cc, --bcc)",
        ));
    }
    let mut b = Message::builder().from(from);
    for t in &args.to {
        b = b.to(t.as_str());
    }
    for t in &args.cc {
        b = b.cc(t.as_str());
    }
    for t in &args.bcc {
        b = b.bcc(t.as_str());
    }
    if let Some(s) = &args.subject {
        b = b.subject(s.as_str());
    }
    let text = match (&args.text, &args.text_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(p)) => Some(read_text(p)?),
        (None, None) if args.html_file.is_none() => body_from_stdin()?,
        (None, None) => None,
    };
    let html = args.html_file.as_deref().map(read_text).transpose()?;
    match (text, html) {
        (t, Some(h)) => {
            if let Some(t) = t {
                b = b.text(t);
            }
            b = b.html(h);
        }
        (Some(t), None) => b = b.text(t),
        (None, None) => b = b.text(String::new()),
    }
    for h in &args.header {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| Failure::usage(format!("--header {h:?}: expected 'Name: value'")))?;
        b = b.header(name.trim(), value.trim());
    }
    for p in &args.attach {
        b = b.attach(crate::attach::attachment(p)?);
    }
    Ok(b.build()?)
}
