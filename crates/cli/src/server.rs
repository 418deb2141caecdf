//! From flags and the config file's account to a connected-on-demand [`postel::Client`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use postel::{Client, Mechanism, Timeouts, TlsMode};

use crate::cli::ServerArgs;
use crate::config::{Account, ConfigFile, PasswordSource};
use crate::exit::Failure;

/// Where to connect and how, after flags override the account.
#[derive(Debug)]
pub struct Server {
    /// The account's default sender, if any.
    pub from: Option<String>,
    /// The account used, if any.
    pub account: Option<String>,
    /// The config file it came from, if any.
    pub config: Option<PathBuf>,
    /// The host as given.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The TLS mode.
    pub tls: TlsMode,
    /// The CA file given, if any (else the platform's roots).
    pub ca_file: Option<PathBuf>,
    /// Where the mode came from, for hints: `--tls` or the account's `tls`.
    pub tls_from_flag: bool,
    /// The account's `logfile`.
    pub logfile: Option<PathBuf>,
    /// The account's `set_date_header` and `set_msgid_header`.
    pub set_headers: (Option<bool>, Option<bool>),
}

impl Server {
    /// `host:port`, with brackets around an IPv6 address.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// What the user can name to change the TLS mode: the flag, or the account's key.
    pub fn tls_setting(&self, mode: &str) -> String {
        match (&self.account, self.tls_from_flag) {
            (Some(a), false) => format!("--tls {mode} (or tls = \"{mode}\" in account {a:?})"),
            _ => format!("--tls {mode}"),
        }
    }

    /// ` [account "NAME" in FILE]` for error messages; empty when no account was used.
    pub fn context(&self) -> String {
        context(self.account.as_deref(), self.config.as_deref())
    }

    /// Adds [`Server::context`] to a failure's message (once).
    pub fn name_in(&self, mut f: Failure) -> Failure {
        let context = self.context();
        if !f.message.ends_with(&context) {
            f.message.push_str(&context);
        }
        f
    }
}

/// ` [account "NAME" in FILE]`, or ` [account "NAME"]`; empty without an account.
fn context(account: Option<&str>, config: Option<&Path>) -> String {
    match (account, config) {
        (Some(a), Some(f)) => format!(" [account {a:?} in {}]", f.display()),
        (Some(a), None) => format!(" [account {a:?}]"),
        (None, _) => String::new(),
    }
}

/// Splits `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>), Failure> {
    let bad = || {
        Failure::usage(format!(
            "bad server {s:?}: expected HOST, HOST:PORT or [IPv6]:PORT"
        ))
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        return match after {
            "" => Ok((host.to_owned(), None)),
            p => Ok((
                host.to_owned(),
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(bad)?
                        .parse()
                        .map_err(|_| bad())?,
                ),
            )),
        };
    }
    match s.rsplit_once(':') {
        Some((h, _)) if h.contains(':') => Ok((s.to_owned(), None)), // bare IPv6
        Some((h, p)) if !h.is_empty() => Ok((h.to_owned(), Some(p.parse().map_err(|_| bad())?))),
        Some(_) => Err(bad()),
        None if s.is_empty() => Err(bad()),
        None => Ok((s.to_owned(), None)),
    }
}

/// The TLS mode named in the flags or the account, else by port (465 implicit).
fn tls_mode(
    flag: Option<TlsMode>,
    account: Option<&str>,
    port: Option<u16>,
) -> Result<TlsMode, Failure> {
    if let Some(t) = flag {
        return Ok(t);
    }
    if let Some(name) = account {
        return name
            .parse::<TlsMode>()
            .map_err(|e| Failure::config(format!("account: {e}")));
    }
    Ok(if port == Some(465) {
        TlsMode::Implicit
    } else {
        TlsMode::StartTls
    })
}

/// The port for a mode when none is given: 587 STARTTLS, 465 implicit, 25 otherwise
/// ([`TlsMode::default_port`]).
pub fn default_port(mode: TlsMode) -> u16 {
    mode.default_port()
}

/// Builds the client for `args` over the config file's account (named, or the default).
/// `transcript` records the session.
pub fn client(
    args: &ServerArgs,
    file: &ConfigFile,
    transcript: bool,
) -> Result<(Client, Server), Failure> {
    // As msmtp's --host: a server on the command line means the command line's settings
    // only. An account is used when it is named, or when no server is given.
    let selected = if args.server.is_some() && args.account.is_none() {
        None
    } else {
        file.account(args.account.as_deref())?
    };
    let (account_name, account) = match selected {
        Some((n, a)) => (Some(n), a),
        None => (None, Account::default()),
    };
    let suffix = context(account_name.as_deref(), file.path.as_deref());
    let named = |mut f: Failure| {
        f.message.push_str(&suffix);
        f
    };
    let Account {
        host: acc_host,
        port: acc_port,
        tls: acc_tls,
        ca_file: acc_ca,
        user: acc_user,
        password_command: acc_cmd,
        password_env: acc_env,
        password: acc_password,
        auth: acc_auth,
        helo: acc_helo,
        from: acc_from,
        timeout: acc_timeout,
        logfile: acc_logfile,
        set_date_header: acc_date,
        set_msgid_header: acc_msgid,
        // Read by crate::dkim before the connection is made.
        dkim_key: _,
        dkim_selector: _,
        dkim_domain: _,
        dkim_oversign: _,
    } = account;

    let (host, port) =
        match (&args.server, acc_host) {
            (Some(s), _) => split_host_port(s)?,
            (None, Some(h)) => (h, acc_port),
            (None, None) => return Err(Failure::config(
                "no server: give --server HOST[:PORT], or --account NAME (or a default account) \
                 from the config file",
            )),
        };
    let tls = tls_mode(args.tls, acc_tls.as_deref(), port).map_err(named)?;
    let port = port.unwrap_or(default_port(tls));
    let timeout = args
        .timeout
        .or(acc_timeout)
        .map(Duration::from_secs)
        .filter(|d| !d.is_zero());
    let ca_file = args.ca_file.clone().or(acc_ca);

    let mut b = Client::builder(host.clone()).port(port).tls(tls);
    if let Some(ca) = &ca_file {
        b = b.ca_file(ca.clone());
    }
    if let Some(t) = timeout {
        b = b.connect_timeout(t).timeouts(Timeouts::all(t));
    }
    if let Some(h) = args.helo.clone().or(acc_helo) {
        b = b.ehlo_name(h);
    }
    if let Some(m) = args.auth.clone().or(acc_auth) {
        let mech = Mechanism::from_name(m.as_bytes())
            .ok_or_else(|| named(Failure::config(format!("unknown AUTH mechanism {m:?}"))))?;
        b = b.mechanism(mech);
    }
    let source = if let Some(v) = &args.password_env {
        Some(PasswordSource::Env(v.clone()))
    } else if let Some(c) = &args.password_command {
        Some(PasswordSource::Command(c.clone()))
    } else if args.user.is_some() {
        // A user given on the command line does not take the account's password.
        None
    } else if let Some(c) = acc_cmd {
        Some(PasswordSource::Command(c))
    } else if let Some(v) = acc_env {
        Some(PasswordSource::Env(v))
    } else {
        acc_password.map(|p| PasswordSource::Literal(crate::config::Secret::new(p)))
    };
    let user = args.user.clone().or(acc_user);
    match (user, source) {
        (Some(u), Some(src)) => {
            let password = src.resolve().map_err(named)?;
            b = b.credentials(u, password.expose().to_owned());
        }
        (Some(u), None) => {
            return Err(named(Failure::config(format!(
                "no password for user {u:?}: give --password-env VAR or --password-command CMD \
                 (passwords are never taken as a plain flag)"
            ))))
        }
        (None, Some(_)) => {
            return Err(named(Failure::config(
                "a password source was given without --user",
            )))
        }
        (None, None) => {}
    }
    b = b
        .dangerous_allow_plaintext_auth(args.allow_plaintext_auth)
        .transcript(transcript);
    let client = b.build().map_err(|e| named(Failure::from(e)))?;
    Ok((
        client,
        Server {
            from: acc_from,
            account: account_name,
            config: file.path.clone(),
            host,
            port,
            tls,
            ca_file,
            tls_from_flag: args.tls.is_some(),
            logfile: acc_logfile,
            set_headers: (acc_date, acc_msgid),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_forms() {
        assert_eq!(
            split_host_port("mx.test").unwrap(),
            ("mx.test".into(), None)
        );
        assert_eq!(
            split_host_port("mx.test:465").unwrap(),
            ("mx.test".into(), Some(465))
        );
        assert_eq!(
            split_host_port("[::1]:25").unwrap(),
            ("::1".into(), Some(25))
        );
        assert_eq!(split_host_port("::1").unwrap(), ("::1".into(), None));
        assert_eq!(
            split_host_port("mx:x").unwrap_err().code,
            crate::exit::USAGE
        );
    }

    #[test]
    fn port_465_means_implicit_tls_unless_told() {
        assert_eq!(tls_mode(None, None, Some(465)).unwrap(), TlsMode::Implicit);
        assert_eq!(tls_mode(None, None, Some(587)).unwrap(), TlsMode::StartTls);
        assert_eq!(
            tls_mode(Some(TlsMode::Disabled), None, Some(465)).unwrap(),
            TlsMode::Disabled
        );
    }
}
