//! Delivery status notification requests (RFC 3461) and REQUIRETLS (RFC 8689), from
//! `postel send --dsn-notify/--dsn-return/--envid/--require-tls` and sendmail's `-N`, `-R`
//! and `-V`.

use postel::{Envelope, Notify, Ret};

use crate::exit::Failure;

/// What the caller asked for; the default asks for nothing.
#[derive(Debug, Default, Clone)]
pub struct Dsn {
    notify: Notify,
    ret: Option<Ret>,
    envid: Option<String>,
    require_tls: bool,
}

impl Dsn {
    /// From the option values as given (`None`: not given).
    pub fn parse(
        notify: Option<&str>,
        ret: Option<&str>,
        envid: Option<&str>,
        require_tls: bool,
    ) -> Result<Dsn, Failure> {
        Ok(Dsn {
            notify: notify.map(parse_notify).transpose()?.unwrap_or_default(),
            ret: ret.map(parse_ret).transpose()?,
            envid: envid.map(parse_envid).transpose()?,
            require_tls,
        })
    }

    /// Puts the request on `env`.
    pub fn apply(&self, env: &mut Envelope) {
        env.notify = self.notify;
        env.ret = self.ret;
        env.envid.clone_from(&self.envid);
        env.require_tls = self.require_tls;
    }
}

/// `never`, or a comma-separated list of `success`, `failure`, `delay` (any case).
fn parse_notify(s: &str) -> Result<Notify, Failure> {
    let mut n = Notify::DEFAULT;
    let words: Vec<String> = s
        .split(',')
        .map(|w| w.trim().to_ascii_lowercase())
        .collect();
    for w in &words {
        n = n.union(match w.as_str() {
            "never" if words.len() == 1 => Notify::NEVER,
            "success" => Notify::SUCCESS,
            "failure" => Notify::FAILURE,
            "delay" => Notify::DELAY,
            _ => {
                return Err(Failure::usage(format!(
                    "DSN notify {s:?}: give never, or a list of success, failure, delay"
                )))
            }
        });
    }
    Ok(n)
}

/// `full`, or `hdrs` / `headers`.
fn parse_ret(s: &str) -> Result<Ret, Failure> {
    match s.trim().to_ascii_lowercase().as_str() {
        "full" => Ok(Ret::Full),
        "hdrs" | "headers" => Ok(Ret::Headers),
        _ => Err(Failure::usage(format!(
            "DSN return {s:?}: give full or headers"
        ))),
    }
}

/// RFC 3461 §4.4: printable US-ASCII, at most 100 characters.
fn parse_envid(s: &str) -> Result<String, Failure> {
    if s.is_empty() || s.len() > 100 || !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Failure::usage(format!(
            "envelope id {s:?}: 1 to 100 printable ASCII characters"
        )));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_msmtp_and_sendmail_spell_them() {
        assert_eq!(parse_notify("never").unwrap(), Notify::NEVER);
        assert_eq!(
            parse_notify("Success, FAILURE").unwrap(),
            Notify::SUCCESS.union(Notify::FAILURE)
        );
        assert_eq!(
            parse_notify("delay,failure,success").unwrap(),
            Notify::SUCCESS.union(Notify::FAILURE).union(Notify::DELAY)
        );
        for bad in ["", "never,success", "sometimes", "success,,failure"] {
            assert!(parse_notify(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ret("HDRS").unwrap(), Ret::Headers);
        assert_eq!(parse_ret("full").unwrap(), Ret::Full);
        assert!(parse_ret("body").is_err());
        assert_eq!(parse_envid("QQ314159").unwrap(), "QQ314159");
        for bad in ["", "a\r\nRSET", "caf\u{e9}", &"x".repeat(101)] {
            assert!(parse_envid(bad).is_err(), "{bad:?}");
        }
    }
}
