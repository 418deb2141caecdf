//! The command line, as clap definitions; completions and the man page come from these.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use postel::TlsMode;

/// Send mail over SMTP, test servers, run a local simulator.
#[derive(Debug, Parser)]
#[command(name = "postel", version, about, propagate_version = true)]
pub struct Cli {
    /// The config file (default: $XDG_CONFIG_HOME/postel/config.toml, else
    /// ~/.config/postel/config.toml; also $POSTEL_CONFIG).
    #[arg(long, global = true, value_name = "FILE", env = "POSTEL_CONFIG")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. (`queue` and `send --direct` are planned.)
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compose a message from flags, or send ready ones (--raw), through a server.
    ///
    /// The body: --text, --text-file or --html-file; without them, stdin when it is a
    /// pipe or a file (`echo body | postel send ...`, as mail(1) reads it). On a terminal
    /// stdin is not read and the body is empty (a subject-only message). A server that
    /// sends no greeting within a few seconds is checked for TLS, so the wrong --tls
    /// fails at once with the mode to use. With --server and no --account, no account
    /// from the config file is used (as msmtp's --host).
    Send(Box<SendArgs>),
    /// The sendmail interface for cron, git send-email, mutt and mail(): recipients as
    /// arguments, the message on stdin.
    #[command(disable_help_flag = true, after_long_help = crate::sendmail::OPTIONS)]
    Sendmail(SendmailArgs),
    /// The outgoing queue: add, list, show, flush, remove, and run (send what is due).
    Queue(Box<crate::queue_cmd::QueueArgs>),
    /// DKIM keys: `postel dkim keygen` prints a private key and the DNS TXT record.
    Dkim(crate::dkim::DkimCommandArgs),
    /// Show what a server offers: greeting, EHLO extensions, TLS and certificates, AUTH.
    Probe(ProbeArgs),
    /// Run the SMTP server simulator, printing each message as it arrives; --web serves
    /// the test bench (messages, annotated sessions, faults) as a page and a REST API.
    Sim(SimArgs),
    /// A tour: start the simulator, send it a message with an attachment over STARTTLS
    /// and AUTH, and show the session and the message as it arrived.
    Demo,
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    Man {
        /// Write postel.1, postel-send.1, ... into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `--tls`: the library's [`TlsMode`] by name (one type, not a copy of it).
fn tls_value() -> impl clap::builder::TypedValueParser<Value = TlsMode> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("starttls").help("STARTTLS, required (the default; port 587)"),
        PossibleValue::new("implicit")
            .help("TLS from the first byte (port 465; the default there)"),
        PossibleValue::new("opportunistic").help("STARTTLS when offered, plaintext otherwise"),
        PossibleValue::new("none").help("Never TLS (port 25)"),
    ])
    .try_map(|s| s.parse::<TlsMode>())
}

/// Which server, and how to log in.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Use this account from the config file [default: its `default`, unless --server
    /// is given: then no account is used, only the flags].
    #[arg(long, short = 'a', value_name = "NAME", env = "POSTEL_ACCOUNT")]
    pub account: Option<String>,
    /// The server: HOST, HOST:PORT or [IPv6]:PORT.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub server: Option<String>,
    /// When to use TLS [default: starttls; implicit on port 465].
    #[arg(long, value_parser = tls_value())]
    pub tls: Option<TlsMode>,
    /// Trust only the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// The login name.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "password_command")]
    pub password_env: Option<String>,
    /// Run this command (sh -c) and use the first line it prints as the password.
    #[arg(long, value_name = "CMD")]
    pub password_command: Option<String>,
    /// The SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER)
    /// [default: the strongest offered].
    #[arg(long, value_name = "MECH")]
    pub auth: Option<String>,
    /// The name to send with EHLO [default: this host's FQDN].
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// Send credentials over an unencrypted connection (dangerous).
    #[arg(long)]
    pub allow_plaintext_auth: bool,
    /// Give up after SECS seconds when connecting and when waiting for each reply
    /// [default: 30 s to connect, then RFC 5321's minutes per step; also `timeout` in
    /// the account].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
}

/// `postel send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Server and login.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Or straight to each recipient domain's MX hosts.
    #[command(flatten)]
    pub direct: crate::queue_cmd::DirectArgs,
    /// DKIM-sign the message (docs/dkim.md).
    #[command(flatten)]
    pub dkim: crate::dkim::DkimArgs,

    /// The sender (From: and envelope) [default: the account's `from`].
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// A recipient (repeatable, or comma-separated).
    #[arg(long, value_name = "ADDR")]
    pub to: Vec<String>,
    /// A Cc recipient (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub cc: Vec<String>,
    /// A Bcc recipient (repeatable): in the envelope, never in the headers.
    #[arg(long, value_name = "ADDR")]
    pub bcc: Vec<String>,
    /// The subject.
    #[arg(long, value_name = "TEXT")]
    pub subject: Option<String>,
    /// The plain-text body [default: stdin when it is not a terminal].
    #[arg(long, value_name = "TEXT", conflicts_with = "text_file")]
    pub text: Option<String>,
    /// The plain-text body, from a file (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub text_file: Option<PathBuf>,
    /// An HTML body, from a file (with a text body: multipart/alternative).
    #[arg(long, value_name = "FILE")]
    pub html_file: Option<PathBuf>,
    /// Attach a file (repeatable). A text file (.txt, .csv, .md, .html...) that is valid
    /// UTF-8 goes as text/...; charset=utf-8, any other as application/octet-stream;
    /// give another charset as 'FILE;charset=NAME' (e.g. 'menu.txt;charset=iso-8859-1').
    #[arg(long, value_name = "FILE[;charset=NAME]")]
    pub attach: Vec<PathBuf>,
    /// An extra header, 'Name: value' (repeatable).
    #[arg(long, value_name = "'NAME: VALUE'")]
    pub header: Vec<String>,
    /// Send a ready message from a file (`-` for stdin), repeatable: all over one
    /// connection. The envelope comes from --from/--to, else from the headers
    /// (as `sendmail -t`; Bcc removed).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["subject", "text", "text_file", "html_file", "attach", "header"])]
    pub raw: Vec<PathBuf>,
    /// With --raw: send the messages exactly as they are, without adding the Date: and
    /// Message-ID: they lack (also `set_date_header`/`set_msgid_header = false` in the
    /// account).
    #[arg(long, requires = "raw")]
    pub no_add_headers: bool,
    /// Append a line per message to FILE: time, account, server, recipients, result,
    /// queue id (never credentials) [default: the account's `logfile`].
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Delivery status notifications and REQUIRETLS.
    #[command(flatten)]
    pub dsn: DsnArgs,

    /// Print the SMTP session (credentials redacted), swaks style.
    #[arg(long)]
    pub transcript: bool,
    /// Print the result as JSON: accepted and refused recipients with their replies.
    #[arg(long)]
    pub json: bool,
}

/// Delivery status notifications (RFC 3461), sent when the server offers DSN, and
/// REQUIRETLS (RFC 8689).
#[derive(Debug, Args, Default)]
pub struct DsnArgs {
    /// Ask for DSNs: `never`, or a list of success, failure, delay (as sendmail -N)
    #[arg(long, value_name = "WHEN")]
    pub dsn_notify: Option<String>,
    /// What a failure DSN returns: full or headers (as sendmail -R)
    #[arg(long, value_name = "WHAT")]
    pub dsn_return: Option<String>,
    /// The envelope id DSNs quote (as sendmail -V)
    #[arg(long, value_name = "ID")]
    pub envid: Option<String>,
    /// The message must travel over TLS on every hop (REQUIRETLS); fails when the
    /// server does not offer it
    #[arg(long)]
    pub require_tls: bool,
}

/// `postel sendmail`: the arguments as sendmail takes them.
#[derive(Debug, Args)]
pub struct SendmailArgs {
    /// sendmail options and recipients: -t, -i, -f FROM, -F NAME, -N, -R, -V, -C FILE,
    /// -a NAME, -v, --queue, --log FILE, --no-add-headers, --help (listed below)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}

/// `postel probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The server: HOST, HOST:PORT or [IPv6]:PORT [default port: 587, or 465 with
    /// --tls implicit].
    #[arg(value_name = "HOST[:PORT]")]
    pub server: String,
    /// How to reach TLS [default: starttls; implicit on port 465].
    #[arg(long, value_parser = tls_value())]
    pub tls: Option<TlsMode>,
    /// Verify against the CA certificates in this PEM file instead of the platform's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// The name to verify the certificate against [default: the host].
    #[arg(long, value_name = "NAME")]
    pub tls_name: Option<String>,
    /// The name to send with EHLO.
    #[arg(long, value_name = "NAME", default_value = "probe.postel.invalid")]
    pub helo: String,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `postel sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Where to listen for SMTP (any address; a warning when it is not loopback).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2525")]
    pub listen: std::net::SocketAddr,
    /// Serve the web bench (page and REST API, docs/sim.md) on this address.
    #[arg(long, value_name = "ADDR")]
    pub web: Option<std::net::SocketAddr>,
    /// HTTP basic auth for the page and the API.
    #[arg(long, value_name = "USER:PASS", requires = "web")]
    pub web_auth: Option<String>,
    /// Keep messages and sessions in this directory across restarts (with --web).
    #[arg(long, value_name = "DIR", requires = "web")]
    pub store: Option<PathBuf>,
    /// The size limit in octets (SIZE in EHLO); 0 is unlimited.
    #[arg(long, value_name = "OCTETS")]
    pub max_size: Option<u64>,
    /// A server personality: postfix, exim, gmail, strict or lenient (docs/sim.md).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Also deliver each message into this Maildir.
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// A user AUTH accepts (repeatable).
    #[arg(long, value_name = "NAME:PASS")]
    pub user: Vec<String>,
    /// Forgive bare LF, unpoliced pipelining and sloppy paths (a pre-3.9 Postfix).
    #[arg(long)]
    pub lenient: bool,
    /// TLS from the first byte instead of STARTTLS.
    #[arg(long)]
    pub implicit_tls: bool,
    /// Write the generated CA certificate (PEM) here, for clients to trust.
    #[arg(long, value_name = "FILE")]
    pub write_ca: Option<PathBuf>,
    /// Print each connection's transcript when it closes.
    #[arg(long)]
    pub transcripts: bool,
}
