//! The envelope's grammar: reverse- and forward-paths and their ESMTP parameters.
//!
//! ```text
//! C: MAIL FROM:<a@client.test> SIZE=1024 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1
//! S: 250 2.1.0 Ok
//! C: RCPT TO:<b@mx.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@mx.test
//! S: 250 2.1.5 Ok
//! ```

use crate::config::{Config, Extension};
use crate::store::Param;

/// Parses `FROM:<path> params` or `TO:<path> params`. Strict: RFC 5321 §4.1.2 exactly
/// (no space after the colon, angle brackets required). Lenient: spaces and missing
/// brackets are taken, as Postfix does with `strict_rfc821_envelopes = no`.
pub(crate) fn parse_path<'a>(
    arg: &'a str,
    keyword: &str,
    strict: bool,
) -> Option<(String, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let mut rest = &arg[keyword.len()..];
    if !strict {
        rest = rest.trim_start();
    }
    if let Some(inner) = rest.strip_prefix('<') {
        let close = inner.find('>')?;
        let path = &inner[..close];
        let after = &inner[close + 1..];
        if !after.is_empty() && !after.starts_with(' ') {
            return None;
        }
        // RFC 5321 §4.1.2: an A-d-l source route before ':' is accepted and ignored.
        let path = match path.starts_with('@') {
            true => path.split_once(':').map(|(_, p)| p)?,
            false => path,
        };
        Some((path.to_owned(), after.trim_start_matches(' ')))
    } else if strict {
        None
    } else {
        let (path, after) = rest.split_once(' ').unwrap_or((rest, ""));
        Some((path.to_owned(), after))
    }
}

/// A mailbox in the shape of RFC 5321 §4.1.2 `Mailbox`, loosely: `local@domain` with no
/// controls or spaces outside a quoted local part. `<Postmaster>` alone is a recipient.
pub(crate) fn valid_address(addr: &str, rcpt: bool) -> bool {
    if rcpt && addr.eq_ignore_ascii_case("postmaster") {
        return true;
    }
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    let local_ok = if local.starts_with('"') && local.ends_with('"') && local.len() >= 2 {
        !local.chars().any(|c| c.is_control())
    } else {
        !local.is_empty()
            && !local
                .chars()
                .any(|c| c.is_control() || c == ' ' || c == '<' || c == '>' || c == '"')
    };
    let domain_ok = !domain.is_empty()
        && !domain
            .chars()
            .any(|c| c.is_control() || c == ' ' || c == '<' || c == '>' || c == '@');
    local_ok && domain_ok
}

/// RFC 3461 §4: xtext = *( xchar / hexchar ); xchar is `!`..`~` but `+` and `=`;
/// hexchar is `+` and two upper-case hex digits.
pub(crate) fn is_xtext(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = |x: Option<&u8>| {
                    x.is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
                };
                if !(hex(b.get(i + 1)) && hex(b.get(i + 2))) {
                    return false;
                }
                i += 3;
            }
            b'=' => return false,
            0x21..=0x7e => i += 1,
            _ => return false,
        }
    }
    true
}

/// RFC 5321 §4.1.2 `Mail-parameters`, each checked against the extensions offered.
pub(crate) fn parse_params(
    c: &Config,
    esmtp: bool,
    strict: bool,
    rest: &str,
    mail: bool,
) -> Result<Vec<Param>, (u16, String)> {
    let mut out: Vec<Param> = Vec::new();
    for word in rest.split(' ').filter(|w| !w.is_empty()) {
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), Some(v.to_owned())),
            None => (word.to_ascii_uppercase(), None),
        };
        let unsupported = || (555, format!("5.5.4 Unsupported option: {word}"));
        if !esmtp && strict {
            return Err(unsupported());
        }
        if out.iter().any(|p| p.keyword == k) {
            return Err((501, format!("5.5.4 Duplicate {k} parameter")));
        }
        let bad = |what: &str| (501, format!("5.5.4 Bad {what} parameter syntax"));
        let ok = match (mail, k.as_str()) {
            (true, "SIZE") if c.has(Extension::Size) => {
                let good = v.as_deref().is_some_and(|s| {
                    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
                });
                if !good {
                    return Err((501, "5.5.4 Bad message size syntax".to_owned()));
                }
                true
            }
            (true, "BODY") => match v.as_deref().map(str::to_ascii_uppercase).as_deref() {
                Some("7BIT") => true,
                Some("8BITMIME") if c.has(Extension::EightBitMime) => true,
                _ => return Err((501, "5.5.4 Bad BODY keyword syntax".to_owned())),
            },
            (true, "SMTPUTF8") if c.has(Extension::SmtpUtf8) => {
                if v.is_some() {
                    return Err(bad("SMTPUTF8"));
                }
                true
            }
            (true, "RET") if c.has(Extension::Dsn) => {
                match v.as_deref().map(str::to_ascii_uppercase).as_deref() {
                    Some("FULL" | "HDRS") => true,
                    _ => return Err(bad("RET")),
                }
            }
            (true, "ENVID") if c.has(Extension::Dsn) => {
                // RFC 3461 §4.4: at most 100 characters of xtext.
                if !v.as_deref().is_some_and(|s| s.len() <= 100 && is_xtext(s)) {
                    return Err(bad("ENVID"));
                }
                true
            }
            (true, "AUTH") if c.has(Extension::Auth) => {
                if !v.as_deref().is_some_and(|s| s == "<>" || is_xtext(s)) {
                    return Err(bad("AUTH"));
                }
                true
            }
            (false, "NOTIFY") if c.has(Extension::Dsn) => {
                // RFC 3461 §4.1: "NEVER" alone, or a list of SUCCESS, FAILURE, DELAY.
                let Some(val) = v.as_deref() else {
                    return Err(bad("NOTIFY"));
                };
                let items: Vec<String> = val.split(',').map(str::to_ascii_uppercase).collect();
                let never = items.len() == 1 && items[0] == "NEVER";
                let mut seen = Vec::new();
                let list = items.iter().all(|i| {
                    let fresh = !seen.contains(i);
                    seen.push(i.clone());
                    fresh && matches!(i.as_str(), "SUCCESS" | "FAILURE" | "DELAY")
                });
                if !(never || list) {
                    return Err(bad("NOTIFY"));
                }
                true
            }
            (false, "ORCPT") if c.has(Extension::Dsn) => {
                // RFC 3461 §4.2: addr-type ";" xtext
                let good = v
                    .as_deref()
                    .and_then(|s| s.split_once(';'))
                    .is_some_and(|(t, a)| {
                        !t.is_empty()
                            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                            && !a.is_empty()
                            && is_xtext(a)
                    });
                if !good {
                    return Err(bad("ORCPT"));
                }
                true
            }
            _ => false,
        };
        if !ok {
            return Err(unsupported());
        }
        out.push(Param {
            keyword: k,
            value: v,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_path_refuses_space_after_colon() {
        assert_eq!(parse_path("FROM: <a@b>", "FROM:", true), None);
        assert_eq!(
            parse_path("FROM: <a@b> SIZE=1", "FROM:", false),
            Some(("a@b".to_owned(), "SIZE=1"))
        );
        assert_eq!(
            parse_path("from:<>", "FROM:", true),
            Some((String::new(), ""))
        );
        assert_eq!(
            parse_path("TO:<@r.test:u@d.test>", "TO:", true),
            Some(("u@d.test".to_owned(), ""))
        );
    }

    #[test]
    fn xtext_follows_rfc_3461() {
        assert!(is_xtext("abc+2Bdef"));
        assert!(!is_xtext("a=b"));
        assert!(!is_xtext("a+2b"));
        assert!(!is_xtext("a b"));
    }
}
