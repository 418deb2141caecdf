//! The config file: accounts in TOML, msmtp's rule about passwords in readable files,
//! and where the password comes from (an environment variable or a command, never a flag).
//!
//! ```toml
//! default = "work"
//! [accounts.work]
//! host = "smtp.example.com"
//! port = 587
//! tls = "starttls"
//! user = "me@example.com"
//! password_command = "pass show smtp"
//! from = "Me <me@example.com>"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::exit::Failure;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The account used when none is named.
    pub default: Option<String>,
    /// Accounts by name.
    #[serde(default)]
    pub accounts: BTreeMap<String, Account>,
    /// The queue `postel queue` uses when no `--store`/`--queue-dir` is given: a
    /// `postgres://` URL (docs/queue-postgres.md), or a directory.
    pub queue_url: Option<String>,
    /// Where the file was read from (none when there was no file); errors name it.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// One `[accounts.NAME]` table.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The server's host name or address.
    pub host: Option<String>,
    /// The port; by default from `tls`.
    pub port: Option<u16>,
    /// `starttls`, `implicit`, `opportunistic` or `none`.
    pub tls: Option<String>,
    /// A PEM file of CA certificates to trust instead of the platform's.
    pub ca_file: Option<PathBuf>,
    /// The login name.
    pub user: Option<String>,
    /// A shell command whose first line of output is the password.
    pub password_command: Option<String>,
    /// An environment variable holding the password.
    pub password_env: Option<String>,
    /// The password itself; only allowed in a file nobody else can read.
    pub password: Option<String>,
    /// The SASL mechanism to use instead of the strongest offered.
    pub auth: Option<String>,
    /// The EHLO name.
    pub helo: Option<String>,
    /// The default sender (envelope and `From:`).
    pub from: Option<String>,
    /// Seconds to wait for the connection and for each reply (default: RFC 5321's
    /// minutes per step, 30 s to connect).
    pub timeout: Option<u64>,
    /// Append one line per message to this file (for cron): time, account, server,
    /// recipients, result, queue id (a leading `~/` is `$HOME`). `--log FILE` overrides
    /// it.
    pub logfile: Option<PathBuf>,
    /// Add `Date:` to ready messages (`sendmail`, `send --raw`) that lack it (default:
    /// true).
    pub set_date_header: Option<bool>,
    /// Add `Message-ID:` to ready messages that lack it (default: true).
    pub set_msgid_header: Option<bool>,
    /// DKIM-sign with this private key file (PEM; docs/dkim.md).
    pub dkim_key: Option<PathBuf>,
    /// The DKIM selector (`s=`).
    pub dkim_selector: Option<String>,
    /// The DKIM signing domain (`d=`).
    pub dkim_domain: Option<String>,
    /// Oversign From, To, Subject and Date.
    pub dkim_oversign: Option<bool>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// A password: never printed, not even by `Debug`; the core's one secret type.
pub type Secret = postel::proto::Secret<String>;

/// Where the config file is: `--config FILE`, else `$XDG_CONFIG_HOME/postel/config.toml`,
/// else `~/.config/postel/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("postel/config.toml"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".config/postel/config.toml"))
}

/// Reads the config file. A file given with `--config` must exist; the default one may
/// be missing (then there are no accounts).
pub fn load(explicit: Option<&Path>) -> Result<ConfigFile, Failure> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_path() {
            Some(p) => (p, false),
            None => return Ok(ConfigFile::default()),
        },
    };
    check_not_writable_by_others(&path)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(ConfigFile::default())
        }
        Err(e) => {
            return Err(Failure::config(format!(
                "cannot read config file {}: {e}",
                path.display()
            )))
        }
    };
    let mut file: ConfigFile = toml::from_str(&text)
        .map_err(|e| Failure::config(format!("config file {}: {e}", path.display())))?;
    check_private(&path, &file)?;
    file.path = Some(path);
    Ok(file)
}

/// A config file that anyone may write (or one in a directory anyone may write, so that
/// anyone may replace it) is refused before it is read: it names the commands
/// (`password_command`) that are run and the server mail goes to. A directory with the
/// sticky bit (`/tmp`) is fine: others can neither rename nor delete what is in it. Every
/// directory from the root down is checked, for the path as given and the path a
/// symbolic link leads to. A file that does not exist passes (the default one may be
/// missing).
fn check_not_writable_by_others(path: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let refuse = |what: &str, p: &Path, mode: u32| {
            Failure::config(format!(
                "config file {}: {what} {} is writable by anyone (mode {:o}), so anyone could \
                 change the commands it runs and where mail goes; refusing it (run \
                 `chmod o-w {}`)",
                path.display(),
                p.display(),
                mode & 0o7777,
                p.display()
            ))
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(()); // missing: reported (or not) by the read
        };
        let mode = meta.permissions().mode();
        if mode & 0o002 != 0 {
            return Err(refuse("the file", path, mode));
        }
        let absolute = match path.is_absolute() {
            true => path.to_path_buf(),
            false => std::env::current_dir()
                .map_err(|e| Failure::config(format!("config file {}: {e}", path.display())))?
                .join(path),
        };
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| absolute.clone());
        for full in [&absolute, &canonical] {
            for dir in full.ancestors().skip(1) {
                let Ok(meta) = std::fs::metadata(dir) else {
                    continue;
                };
                let mode = meta.permissions().mode();
                if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                    return Err(refuse("the directory", dir, mode));
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// msmtp's rule: a file holding a literal password must not be readable by group or
/// others.
fn check_private(path: &Path, file: &ConfigFile) -> Result<(), Failure> {
    let with_password: Vec<&str> = file
        .accounts
        .iter()
        .filter(|(_, a)| a.password.is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    if with_password.is_empty() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Failure::config(format!("config file {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Failure::config(format!(
                "config file {} holds a password (account {}) but is readable by others \
                 (mode {:o}): run `chmod 600 {}`, or use password_command or password_env",
                path.display(),
                with_password.join(", "),
                mode & 0o777,
                path.display()
            )));
        }
    }
    Ok(())
}

impl ConfigFile {
    /// The account named, else the default one, else none.
    pub fn account(&self, name: Option<&str>) -> Result<Option<(String, Account)>, Failure> {
        let name = match name.or(self.default.as_deref()) {
            Some(n) => n,
            None => return Ok(None),
        };
        match self.accounts.get(name) {
            Some(a) => Ok(Some((name.to_owned(), a.clone()))),
            None => {
                let known: Vec<&str> = self.accounts.keys().map(String::as_str).collect();
                Err(Failure::config(format!(
                    "no account {name:?} in the config file (accounts: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )))
            }
        }
    }
}

/// Where to get a password.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// This environment variable.
    Env(String),
    /// The first line of this command's output (run with `sh -c`).
    Command(String),
    /// Given in a private config file.
    Literal(Secret),
}

impl PasswordSource {
    /// Gets the password.
    pub fn resolve(&self) -> Result<Secret, Failure> {
        match self {
            PasswordSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                Ok(_) => Err(Failure::config(format!(
                    "the password variable {var} is empty"
                ))),
                Err(_) => Err(Failure::config(format!(
                    "the password variable {var} is not set"
                ))),
            },
            PasswordSource::Command(cmd) => run_password_command(cmd),
            PasswordSource::Literal(s) => Ok(s.clone()),
        }
    }
}

fn run_password_command(cmd: &str) -> Result<Secret, Failure> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        // Never the caller's stdin: under `sendmail` that is the message.
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::config(format!("cannot run password command {cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(Failure::config(format!(
            "password command {cmd:?} failed ({})",
            out.status
        )));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| {
        Failure::config(format!(
            "password command {cmd:?} printed something not UTF-8"
        ))
    })?;
    let first = text.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(Failure::config(format!(
            "password command {cmd:?} printed no password"
        )));
    }
    Ok(Secret::new(first.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_example_parses() {
        let f: ConfigFile = toml::from_str(
            r#"
default = "work"
[accounts.work]
host = "smtp.example.com"
port = 587
tls = "starttls"
ca_file = "/path/ca.pem"
user = "me@example.com"
password_command = "pass show smtp"
from = "Me <me@example.com>"
"#,
        )
        .unwrap();
        let (name, a) = f.account(None).unwrap().unwrap();
        assert_eq!(name, "work");
        assert_eq!(a.host.as_deref(), Some("smtp.example.com"));
        assert_eq!(a.password_command.as_deref(), Some("pass show smtp"));
    }

    #[test]
    fn password_command_gives_its_first_line_and_debug_hides_it() {
        let s = PasswordSource::Command("printf 'hunter2\\nsecond\\n'".into())
            .resolve()
            .unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }

    #[test]
    fn unknown_account_names_the_known_ones() {
        let f: ConfigFile = toml::from_str("[accounts.a]\nhost = \"x\"\n").unwrap();
        let e = f.account(Some("b")).unwrap_err();
        assert_eq!(e.code, crate::exit::CONFIG);
        assert!(e.message.contains("accounts: a"), "{}", e.message);
    }
}
