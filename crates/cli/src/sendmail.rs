//! `postel sendmail` (and `postel` run through a link named `sendmail`): the interface
//! cron, `git send-email`, mutt and PHP's `mail()` call.
//!
//! ```text
//! $ printf 'To: a@x\nSubject: s\n\nbody\n' | sendmail -t        # recipients from headers
//! $ sendmail -oi -f me@x.test you@y.test < message              # recipients as arguments
//! ```
//! [`OPTIONS`] lists what is supported (`-t -i -f -F -N -R -V -C -a -v --queue --log
//! --no-add-headers`...). Options real callers pass that mean nothing here (`-oem`, `-odb`,
//! `-B8BITMIME`, `-X file`, `-O opt=v`, `-L tag`, `-h hops`...) are accepted and ignored.
//! The message is spooled to a temporary file as it is read ([`crate::spool`]) and
//! streamed from there.

use std::path::PathBuf;

use postel::Envelope;
use postel_mime::RawMessage;

use crate::cli::ServerArgs;
use crate::deliver::{addresses, deliver, sender, Outgoing};
use crate::dsn::Dsn;
use crate::exit::{self, Failure};
use crate::output;

/// What the sendmail arguments say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `-t`: recipients from To, Cc and Bcc, or a resent message's Resent-To, Resent-Cc
    /// and Resent-Bcc (added to those given as arguments).
    pub extract: bool,
    /// `-i` / `-oi`: a line with a single dot does not end the message.
    pub ignore_dots: bool,
    /// `-f FROM` / `-r FROM`: the envelope sender.
    pub from: Option<String>,
    /// `-F NAME`: the sender's full name, for a From: header when the message has none.
    pub full_name: Option<String>,
    /// `-v`: print the session on stderr.
    pub verbose: bool,
    /// `-C FILE`: the config file.
    pub config: Option<PathBuf>,
    /// `-a NAME` / `--account NAME`: the account.
    pub account: Option<String>,
    /// Recipients given as arguments.
    pub recipients: Vec<String>,
    /// `-N dsn`: never, or success,failure,delay.
    pub dsn_notify: Option<String>,
    /// `-R ret`: full or hdrs.
    pub dsn_return: Option<String>,
    /// `-V envid`.
    pub envid: Option<String>,
    /// `--queue`: when the relay cannot be reached (or says 4yz), queue the message and
    /// succeed (like msmtpq); `postel queue run` sends it later.
    pub queue: bool,
    /// `--log FILE`: append a line per message (else the account's `logfile`).
    pub log: Option<PathBuf>,
    /// `--no-add-headers`: add no `Date:` or `Message-ID:` the message lacks.
    pub no_add_headers: bool,
    /// `--help`: print the options and exit.
    pub help: bool,
}

/// The options, for `postel sendmail --help`, `postel help sendmail` and the man page.
pub const OPTIONS: &str = "\
Options (as sendmail's; single letters may carry their value attached, -fme@x.test):
  -t               Recipients from the To:, Cc: and Bcc: fields too (Bcc: is removed);
                   a resent message's from Resent-To:, -Cc:, -Bcc: (Resent-Bcc: removed)
  -i, -oi          A line holding only a dot does not end the message (without it, it does)
  -f ADDR, -r ADDR The envelope sender; also the From: when the message has none
  -F NAME          The full name for a From: the message lacks
  -N WHEN          Ask for DSNs: never, or a list of success,failure,delay
  -R WHAT          What a failure DSN returns: full or hdrs
  -V ENVID         The envelope id DSNs quote
  -C FILE          The config file [default: $POSTEL_CONFIG, else
                   $XDG_CONFIG_HOME/postel/config.toml, else ~/.config/postel/config.toml]
  -a NAME, --account NAME
                   The account [default: $POSTEL_ACCOUNT, else the config file's default]
  -v               Print the SMTP session on stderr (credentials redacted)
  --queue          When the server cannot be reached or says try later, queue the message
                   and exit 0; `postel queue run` sends it later (as msmtpq)
  --log FILE       Append a line per message: time, account, server, recipients, result,
                   queue id [default: the account's logfile]
  --no-add-headers Send the message without adding the Date: and Message-ID: it lacks
                   [default: add them; also set_date_header/set_msgid_header = false]
  -bm              Deliver the message (the only mode; -bp, -bs, -bd... are refused)
  --help           Print this help
  --               Everything after is a recipient
Accepted and ignored (they mean nothing to a submission client): -oX (but -oi), -B TYPE,
-X FILE, -O OPT=VALUE, -L TAG, -h HOPS, -p PROTO, -q TIME, -A..., -G, -U, -n, -m, -e...,
-d..., -x, -Q...
The message is read from stdin. With no From: field, one is added from -f (else the
account's from, else LOGNAME@host); Date: and Message-ID: are added when missing.
Exit codes are sendmail's (sysexits): 0 sent, 64 usage, 65 bad message, 67 a recipient
refused, 69 refused, 75 try again later, 78 configuration; see `man postel`.

Examples:
  printf 'To: a@x.test\\nSubject: s\\n\\nbody\\n' | postel sendmail -t
  postel sendmail -i -f me@x.test -a work you@y.test < message.eml
  ln -s \"$(command -v postel)\" ~/bin/sendmail    # then: sendmail -t < message.eml
";

/// Options that take a value, as a separate argument when not attached (`-N never`).
const WITH_VALUE: &[char] = &[
    'f', 'r', 'F', 'C', 'a', 'N', 'R', 'V', 'X', 'O', 'L', 'h', 'B', 'p', 'q',
];

/// Parses sendmail's arguments (after the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Invocation, Failure> {
    let mut inv = Invocation::default();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        if a == "--" {
            inv.recipients.extend(args.by_ref());
            break;
        }
        if a == "--queue" {
            inv.queue = true;
            continue;
        }
        if a == "--help" {
            inv.help = true;
            continue;
        }
        if a == "--no-add-headers" {
            inv.no_add_headers = true;
            continue;
        }
        if a == "--log" {
            inv.log = Some(PathBuf::from(
                args.next()
                    .ok_or_else(|| Failure::usage("--log needs a file"))?,
            ));
            continue;
        }
        if a == "--account" {
            inv.account = Some(
                args.next()
                    .ok_or_else(|| Failure::usage("--account needs a name"))?,
            );
            continue;
        }
        let Some(opt) = a.strip_prefix('-').filter(|o| !o.is_empty()) else {
            inv.recipients.push(a);
            continue;
        };
        let mut chars = opt.chars();
        let flag = chars.next().unwrap_or('-');
        let attached: String = chars.collect();
        match flag {
            // -oi, -oem, -odb, -oQ...: only -oi means something (same as -i).
            'o' => {
                if attached == "i" {
                    inv.ignore_dots = true;
                }
            }
            // -bm (deliver, the default) and the other modes.
            'b' => match attached.as_str() {
                "m" | "" => {}
                mode => {
                    return Err(Failure::usage(format!(
                        "sendmail -b{mode} is not supported (only -bm, delivering a message)"
                    )))
                }
            },
            // -A, -G, -U, -n, -m, -e..: no-ops for a submission client.
            'A' | 'G' | 'U' | 'n' | 'm' | 'e' | 'd' | 'x' | 'Q' if attached.len() <= 2 => {}
            't' if attached.is_empty() => inv.extract = true,
            'i' if attached.is_empty() => inv.ignore_dots = true,
            'v' if attached.chars().all(|c| c == 'v') => inv.verbose = true,
            c if WITH_VALUE.contains(&c) => {
                let value = if attached.is_empty() {
                    args.next().ok_or_else(|| {
                        Failure::usage(format!("sendmail option -{c} needs a value"))
                    })?
                } else {
                    attached
                };
                match c {
                    'f' | 'r' => inv.from = Some(value),
                    'F' => inv.full_name = Some(value),
                    'C' => inv.config = Some(PathBuf::from(value)),
                    'a' => inv.account = Some(value),
                    'N' => inv.dsn_notify = Some(value),
                    'R' => inv.dsn_return = Some(value),
                    'V' => inv.envid = Some(value),
                    _ => {} // -X log, -O opt, -L tag, -h hops, -B type
                }
            }
            _ => return Err(Failure::usage(format!("unknown sendmail option {a:?}"))),
        }
    }
    Ok(inv)
}

/// Runs sendmail with `args` (after the program name), the message on stdin; returns the
/// exit code. `config` is `postel --config` when run as a subcommand.
pub fn run(args: Vec<String>, config: Option<PathBuf>) -> Result<u8, Failure> {
    let inv = parse(args)?;
    if inv.help {
        return help();
    }
    let file = crate::config::load(inv.config.as_deref().or(config.as_deref()))?;
    let server = ServerArgs {
        account: inv
            .account
            .clone()
            .or_else(|| std::env::var("POSTEL_ACCOUNT").ok()),
        ..ServerArgs::default()
    };
    // Spooled to a private file as it arrives, then streamed from it: constant memory,
    // and an exact SIZE=.
    let spool = crate::spool::Spool::from_reader(std::io::stdin().lock(), inv.ignore_dots)
        .map_err(|e| {
            Failure::new(
                exit::NOINPUT,
                format!("reading the message from stdin: {e}"),
            )
        })?;
    let open = || match RawMessage::from_file(spool.path()) {
        Err(postel_mime::Error::Io(e)) => Err(Failure::new(
            exit::NOINPUT,
            format!("reading the spooled message: {e}"),
        )),
        other => other.map_err(Failure::from),
    };
    // DKIM from the account (dkim_key, dkim_selector, dkim_domain): a bad key fails here.
    let account = crate::dkim::account_for(&server, &file)?;
    let signer = crate::dkim::signer(&crate::dkim::DkimArgs::default(), account.as_ref())?;
    let (client, srv) = crate::server::client(&server, &file, inv.verbose)?;
    let mut raw = open()?;

    let from = inv.from.clone().or(srv.from.clone());
    let mut from_addr = match &from {
        Some(f) => Some(sender(f).map_err(|e| Failure::data(format!("sender {f:?}: {e}")))?),
        None => None,
    };
    if let Some(n) = &inv.full_name {
        if n.chars().any(char::is_control) {
            return Err(Failure::data("-F: the full name holds a control character"));
        }
    }
    // The fields added on top, in the order they are put there (the last one first).
    let mut added = Vec::new();
    if !raw.has_field("From") {
        // As Postfix's and msmtp's sendmail do: with no sender given and no From: header,
        // the sender is the login name at this host.
        let addr = match from_addr {
            Some(a) => a,
            None => local_sender().ok_or_else(|| {
                Failure::data(
                    "the message has no From: header and no sender was given (-f FROM, or \
                     `from` in the account), and no login@host could be made from \
                     LOGNAME/USER and the host name",
                )
            })?,
        };
        let value = match &inv.full_name {
            Some(n) => format!("{} <{addr}>", quote_name(n)),
            None => addr.clone(),
        };
        added.push(("From", value));
        from_addr = Some(addr);
    }
    crate::added_headers::prepend(&mut raw, &added)?;
    let (date, msgid) = srv.set_headers;
    let add = crate::added_headers::AddHeaders::new(inv.no_add_headers, date, msgid);
    let more = crate::added_headers::missing(&raw, add, from_addr.as_deref())?;
    crate::added_headers::prepend(&mut raw, &more)?;
    added.extend(more);
    crate::dkim::sign_raw(signer.as_ref(), &mut raw)?;
    // What is queued is what would have been sent: the same added fields, the same
    // signature (both algorithms are deterministic, and t= is the signer's).
    let queue_copy = match inv.queue {
        true => {
            let mut copy = open()?;
            crate::added_headers::prepend(&mut copy, &added)?;
            crate::dkim::sign_raw(signer.as_ref(), &mut copy)?;
            Some(copy.to_vec(&postel_mime::EncodeOptions {
                allow_8bit: true,
                smtputf8: true,
            })?)
        }
        false => None,
    };
    let mut recipients = Vec::new();
    for r in &inv.recipients {
        recipients
            .extend(addresses(r).map_err(|e| Failure::data(format!("recipient {r:?}: {e}")))?);
    }
    if inv.extract {
        let env = raw.envelope()?;
        for a in env.to() {
            recipients.push(a.to_smtp(true)?);
        }
    }
    if recipients.is_empty() {
        return Err(Failure::usage(
            "no recipients: give them as arguments, or -t to take them from To, Cc and Bcc",
        ));
    }
    let env_from = match from_addr {
        Some(a) => a,
        None => match raw.envelope()?.from() {
            Some(a) => a.to_smtp(true)?,
            None => String::new(),
        },
    };
    let mut envelope = Envelope::new(env_from, recipients);
    let dsn = Dsn::parse(
        inv.dsn_notify.as_deref(),
        inv.dsn_return.as_deref(),
        inv.envid.as_deref(),
        false,
    )?;
    dsn.apply(&mut envelope);
    let mut msg = Outgoing::Raw(raw);
    // A silent port checked for TLS; quiet, as sendmail is unless -v.
    let (mut client, not_connected) = crate::reach::open(client, &srv, false)?;
    let result = match not_connected {
        Some(e) => Err(e),
        None => deliver(&mut client, Some(&envelope), &mut msg, &dsn, None),
    };
    let _ = client.quit();
    if inv.verbose {
        if let Some(t) = client.take_transcript() {
            let _ = output::transcript(&mut output::stderr(), &t);
        }
    }
    let log_path = crate::maillog::target(inv.log.as_deref(), srv.logfile.as_deref());
    let log = |outcome: Result<&postel::SendReport, &postel::Error>, code: u8, extra: &str| {
        if let Some(path) = &log_path {
            let ctx = crate::maillog::Context {
                account: srv.account.clone(),
                server: srv.endpoint(),
            };
            let line = crate::maillog::line(&ctx, &envelope.from, &envelope.to, outcome, code);
            crate::maillog::append(path, &format!("{line}{extra}"));
        }
    };
    match result {
        Ok(report) => {
            for r in &report.refused {
                eprintln!("sendmail: {}: {}", r.address, output::reply(&r.reply));
            }
            let code = exit::code_for_report(&report);
            log(Ok(&report), code, "");
            Ok(code)
        }
        Err(e) if e.is_transient() && queue_copy.is_some() => {
            let bytes = queue_copy.unwrap_or_default();
            let id = crate::queue_cmd::enqueue_message(&envelope, bytes)?;
            log(Err(&e), exit::OK, &format!(" queued_locally={id}"));
            let e = output::inert(&e.to_string()).into_owned();
            eprintln!("sendmail: {e}; queued as {id} (`postel queue run` sends it)");
            Ok(exit::OK)
        }
        Err(e) => {
            let failure = crate::reach::explain(&e, &srv);
            log(Err(&e), failure.code, "");
            Err(failure)
        }
    }
}

/// `postel sendmail --help`.
fn help() -> Result<u8, Failure> {
    use std::io::Write;
    let text = format!(
        "The sendmail interface: the message on stdin, recipients as arguments (or -t).\n\n\
         Usage: postel sendmail [OPTIONS] [RECIPIENT]...\n       \
         sendmail [OPTIONS] [RECIPIENT]...   (postel through a link named sendmail)\n\n{OPTIONS}"
    );
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::new(exit::IOERR, format!("writing the help: {e}")))
        }
        _ => Ok(exit::OK),
    }
}

/// A display name as a quoted string when it needs one (RFC 5322 §3.2.4).
fn quote_name(n: &str) -> String {
    if n.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '.')
        && n.is_ascii()
    {
        n.to_owned()
    } else {
        format!("\"{}\"", n.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// `login@host` from `LOGNAME` (else `USER`) and the host name, when both make a valid
/// address (a dot-atom login, an LDH host name); `None` otherwise.
fn local_sender() -> Option<String> {
    let login = ["LOGNAME", "USER"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))?;
    let host = gethostname::gethostname().into_string().ok()?;
    login_at_host(&login, host.trim_end_matches('.'))
}

fn login_at_host(login: &str, host: &str) -> Option<String> {
    let atom = |a: &str| {
        !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let ok = login.len() <= 64
        && login.split('.').all(atom)
        && host.len() <= 253
        && host.split('.').all(label);
    ok.then(|| format!("{login}@{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Invocation {
        parse(args.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn what_git_send_email_mutt_and_php_pass_is_understood() {
        let inv = p(&["-i", "a@x.test", "b@y.test"]);
        assert!(inv.ignore_dots);
        assert_eq!(inv.recipients, ["a@x.test", "b@y.test"]);
        let inv = p(&["-oem", "-oi", "-f", "me@x.test", "--", "c@z.test"]);
        assert_eq!(inv.from.as_deref(), Some("me@x.test"));
        assert_eq!(inv.recipients, ["c@z.test"]);
        let inv = p(&["-t", "-i", "-fme@x.test", "-FMe Myself"]);
        assert!(inv.extract);
        assert_eq!(inv.full_name.as_deref(), Some("Me Myself"));
    }

    #[test]
    fn the_fallback_sender_is_a_valid_login_at_host_or_nothing() {
        assert_eq!(
            login_at_host("root", "build-1.example.org").as_deref(),
            Some("root@build-1.example.org")
        );
        assert_eq!(login_at_host("j.doe", "box").as_deref(), Some("j.doe@box"));
        for (login, host) in [
            ("", "box"),
            ("a b", "box"),
            ("a\r\nRCPT TO:<x>", "box"),
            ("a..b", "box"),
            ("root", ""),
            ("root", "-bad.example"),
            ("root", "under_score.example"),
            ("root", "a\nb"),
        ] {
            assert_eq!(login_at_host(login, host), None, "{login:?} {host:?}");
        }
    }

    #[test]
    fn noise_flags_are_ignored() {
        let inv = p(&[
            "-odb",
            "-bm",
            "-B8BITMIME",
            "-N",
            "never",
            "-R",
            "hdrs",
            "-V",
            "env1",
            "-v",
            "-Am",
            "-X",
            "/tmp/log",
            "-Ofoo=bar",
            "x@y.test",
        ]);
        assert!(inv.verbose);
        assert_eq!(inv.recipients, ["x@y.test"]);
    }

    #[test]
    fn unsupported_modes_are_usage_errors() {
        let e = parse(["-bp".to_string()]).unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        let e = parse(["-f".to_string()]).unwrap_err();
        assert_eq!(e.code, exit::USAGE);
    }
}
