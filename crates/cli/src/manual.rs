//! The man pages: clap_mangen's sections from the command definitions (name, synopsis,
//! description, options, subcommands), then what clap cannot know, written here: the
//! sendmail options, exit status, the config file with every key, files, environment
//! and examples.

use std::io::Write;

use clap::Command;

/// `postel(1)`'s and the pages' hand-written sections: (title, text). The text is plain:
/// a line starting with two spaces is shown as is (an example, a table row).
const EXIT_STATUS: &str = "\
The codes of BSD sysexits.h, as sendmail and msmtp use them; cron, mutt, git send-email \
and PHP's mail() read them.
  0   sent: every recipient was accepted
  64  EX_USAGE: the command line is wrong
  65  EX_DATAERR: the message or an address is malformed
  66  EX_NOINPUT: an input file does not exist or cannot be read
  67  EX_NOUSER: a recipient was refused for good (the others may have been accepted)
  68  EX_NOHOST: the server's host name does not exist
  69  EX_UNAVAILABLE: the server refused for good, or TLS failed
  70  EX_SOFTWARE: a bug in postel
  74  EX_IOERR: writing the output failed
  75  EX_TEMPFAIL: a temporary failure: try again later (sendmail --queue queues instead)
  76  EX_PROTOCOL: the server broke the SMTP protocol
  77  EX_NOPERM: the server refused the login (wrong user name or password)
  78  EX_CONFIG: bad configuration: config file, certificates, the password source";

const CONFIGURATION: &str = "\
A TOML file of accounts (see FILES for where it is). A key left out takes its default; \
command-line flags override the account's keys, and --server without --account uses no \
account at all.
  default = \"work\"                 # the account used when none is named
  queue_url = \"postgres://postel@db/mail\"  # postel queue's store (default: the file queue)
  [accounts.work]
  host = \"smtp.example.com\"        # the server (required unless --server is given)
  port = 587                       # default: 587 for starttls, 465 implicit, 25 otherwise
  tls = \"starttls\"                 # starttls (default), implicit, opportunistic or none
  ca_file = \"/etc/ssl/my-ca.pem\"   # trust only these CAs (default: the system's)
  user = \"me@example.com\"          # the login name
  password_command = \"pass smtp\"   # its first output line is the password, or:
  password_env = \"SMTP_PASSWORD\"   # the password from this environment variable, or:
  password = \"...\"                 # only in a file nobody else can read (chmod 600)
  auth = \"SCRAM-SHA-256\"           # the SASL mechanism (default: the strongest offered)
  helo = \"laptop.example.com\"      # the EHLO name (default: this host's name)
  from = \"Me <me@example.com>\"     # the default sender (envelope and From:)
  timeout = 30                     # seconds to connect and to wait for each reply
  logfile = \"~/.local/state/postel/log\"  # a line per message (see LOG); ~/ is $HOME
  set_date_header = true           # add Date: to ready messages that lack it (sendmail, --raw)
  set_msgid_header = true          # add Message-ID: to ready messages that lack it
  dkim_key = \"~/.config/postel/dkim.pem\"  # DKIM-sign with this key (see docs/dkim.md)
  dkim_selector = \"mail2026\"       # the selector (s=) the TXT record is published under
  dkim_domain = \"example.com\"      # the signing domain (d=)
  dkim_oversign = false            # also oversign From, To, Subject and Date
There is no password flag: a password is never on the command line. The file may be \
readable by others only when it holds no password.";

const LOG: &str = "\
With logfile in the account or --log FILE, a line is appended per message (the file is \
created with mode 600). Credentials are never written. A log that cannot be written is \
a warning on stderr; the message is still sent and the exit code is the send's.
  2026-12-04T19:40:07Z account=work server=smtp.example.com:587 from=me@example.com recipients=a@x.test,b@y.test result=ok exit=0 queue_id=4Zk3 reply=\"250 2.0.0 Ok: queued as 4Zk3\"
result is ok, partial (with refused=...), deferred (a temporary failure) or failed \
(with error=\"...\"); sendmail --queue adds queued_locally=ID.";

const FILES: &str = "\
  $XDG_CONFIG_HOME/postel/config.toml, else ~/.config/postel/config.toml
        The config file (or --config FILE, $POSTEL_CONFIG, sendmail -C FILE).
  $XDG_STATE_HOME/postel/queue, else ~/.local/state/postel/queue
        The outgoing queue (or $POSTEL_QUEUE_DIR; postel queue --dir).
  $TMPDIR/postel-sendmail-*.eml (else /tmp)
        sendmail's message, spooled from stdin (mode 600) and removed when it is sent.";

const ENVIRONMENT: &str = "\
  POSTEL_CONFIG     the config file
  POSTEL_ACCOUNT    the account to use (as --account)
  POSTEL_QUEUE_DIR  the queue's directory
  XDG_CONFIG_HOME, XDG_STATE_HOME, HOME
                    where the config file and the queue are by default
  LOGNAME, USER     the login for sendmail's LOGNAME@host sender, when no other is known
  TMPDIR            where sendmail spools the message it reads
  NO_COLOR          no colour, even on a terminal
A password may come from any variable, named with --password-env or password_env.";

const EXAMPLES: &str = "\
A tour with nothing else installed, and a local server to try things against:
  postel demo
  postel sim                      # in one terminal; then, in another:
  postel send --server 127.0.0.1:2525 --tls none --from me@example.test --to you@example.test --subject hi --text hello
Through an account of the config file, with an attachment:
  postel send --to bob@example.net --subject Report --text 'Attached.' --attach report.csv
A Latin-1 text file:
  postel send --to bob@example.net --subject Menu --attach 'menu.txt;charset=iso-8859-1'
Ready messages over one connection, envelopes from their headers:
  postel send --raw 1.eml --raw 2.eml
As sendmail, for cron and mutt (recipients from the headers):
  printf 'To: root\\nSubject: backup\\n\\ndone\\n' | postel sendmail -t
  ln -s \"$(command -v postel)\" /usr/sbin/sendmail
What a server offers:
  postel probe smtp.example.com:587";

/// Which page: the sections differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `postel(1)`: everything.
    Main,
    /// `postel-sendmail(1)`.
    Sendmail,
    /// `postel-send(1)`.
    Send,
    /// Another command's page.
    Other,
}

impl Page {
    /// The page for a subcommand's name.
    pub fn of(name: &str) -> Page {
        match name {
            "sendmail" => Page::Sendmail,
            "send" => Page::Send,
            _ => Page::Other,
        }
    }
}

/// Writes the page for `cmd` (built) to `out`.
pub fn render(cmd: Command, page: Page, out: &mut dyn Write) -> std::io::Result<()> {
    let has_args = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_subs = cmd.get_subcommands().next().is_some();
    let man = clap_mangen::Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if has_args {
        man.render_options_section(out)?;
    }
    if has_subs {
        man.render_subcommands_section(out)?;
    }
    let mut sections: Vec<(&str, String)> = Vec::new();
    if page == Page::Sendmail {
        sections.push(("SENDMAIL OPTIONS", crate::sendmail::OPTIONS.to_owned()));
    }
    sections.push(("EXIT STATUS", EXIT_STATUS.to_owned()));
    if matches!(page, Page::Main | Page::Send | Page::Sendmail) {
        sections.push(("CONFIGURATION", CONFIGURATION.to_owned()));
        sections.push(("LOG", LOG.to_owned()));
    }
    sections.push(("FILES", FILES.to_owned()));
    sections.push(("ENVIRONMENT", ENVIRONMENT.to_owned()));
    if page != Page::Sendmail {
        sections.push(("EXAMPLES", EXAMPLES.to_owned()));
    }
    for (title, text) in sections {
        out.write_all(section(title, &text).as_bytes())?;
    }
    man.render_version_section(out)
}

/// A roff section: plain paragraphs filled, lines starting with two spaces kept as they
/// are (in `.nf`), everything escaped.
fn section(title: &str, text: &str) -> String {
    let mut s = format!(".SH \"{title}\"\n");
    let mut literal = false;
    for line in text.lines() {
        let verbatim = line.starts_with("  ");
        if verbatim != literal {
            s.push_str(if verbatim { ".nf\n" } else { ".fi\n" });
            literal = verbatim;
        }
        if !verbatim {
            s.push_str(".PP\n");
        }
        s.push_str(&escape(line));
        s.push('\n');
    }
    if literal {
        s.push_str(".fi\n");
    }
    s
}

/// Roff text: backslashes and hyphens escaped, a leading `.` or `'` neutralized.
fn escape(line: &str) -> String {
    let mut s = String::with_capacity(line.len() + 8);
    if line.starts_with(['.', '\'']) {
        s.push_str("\\&");
    }
    for c in line.chars() {
        match c {
            '\\' => s.push_str("\\e"),
            '-' => s.push_str("\\-"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_is_escaped_and_literal_lines_kept() {
        let s = section("X", "Para -a.\n  .cmd \\n\nnext");
        assert_eq!(
            s,
            ".SH \"X\"\n.PP\nPara \\-a.\n.nf\n  .cmd \\en\n.fi\n.PP\nnext\n"
        );
        assert_eq!(escape(".TH x"), "\\&.TH x");
    }

    #[test]
    fn every_account_key_is_in_the_configuration_section() {
        // The keys as serde knows them: an unknown key is an error, so a table with every
        // documented key must parse, and each key of the example must be documented.
        let mut table = String::from("[accounts.a]\n");
        for line in CONFIGURATION.lines().filter(|l| l.starts_with("  ")) {
            let l = line.trim();
            if let Some((key, rest)) = l.split_once(" = ") {
                let value = rest.split("  #").next().unwrap_or(rest).trim();
                if key != "default" && key != "queue_url" {
                    table.push_str(&format!("{key} = {value}\n"));
                }
            }
        }
        let f: crate::config::ConfigFile = toml::from_str(&table).unwrap();
        // And the other way: serde names every key it knows when refusing an unknown one.
        let e = toml::from_str::<crate::config::ConfigFile>("[accounts.a]\nzzz = 1\n")
            .unwrap_err()
            .to_string();
        let expected = e.split("expected one of").nth(1).unwrap_or_default();
        let keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        assert!(keys.len() >= 15, "{e}");
        for k in keys {
            assert!(
                CONFIGURATION.contains(&format!("  {k} = ")),
                "account key {k} is not in the man page's CONFIGURATION"
            );
        }
        let a = &f.accounts["a"];
        let debug = format!("{a:?}");
        assert!(debug.contains("smtp.example.com"), "{debug}");
        assert!(a.logfile.is_some() && a.set_msgid_header == Some(true));
        assert!(a.timeout.is_some() && a.from.is_some() && a.helo.is_some());
    }
}
