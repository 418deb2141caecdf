//! Fault rules as the API takes them (JSON), mapped onto [`crate::fault::Fault`].
//!
//! ```json
//! {"step": "rcpt", "rcpt": 2, "action": "reply", "code": 450, "text": "4.2.0 Try again later"}
//! {"step": "data_end", "action": "close"}
//! {"step": "greeting", "action": "delay", "delay_ms": 3000, "connection": "next"}
//! ```
//! `step`: greeting, ehlo, helo, starttls, auth, mail, rcpt, data, data_end, bdat, rset,
//! noop, quit. `rcpt` (the n-th RCPT) or `rcpt_address` narrow a `rcpt` step.
//! `action`: close, close_after_accept, reply421, reply (with `code` and `text`), delay
//! (with `delay_ms`), dribble, split_multiline, tls_handshake_fail. `connection`: absent
//! or null for every connection, a number, or `"next"` for the next one to arrive.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fault::{Action, Connections, Fault, RcptMatch, Step};

/// A rule as posted.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RuleRequest {
    step: String,
    #[serde(default)]
    rcpt: Option<usize>,
    #[serde(default)]
    rcpt_address: Option<String>,
    action: String,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    connection: Option<serde_json::Value>,
}

/// A rule in force, as listed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Rule {
    pub(crate) id: u64,
    pub(crate) step: String,
    pub(crate) rcpt: Option<usize>,
    pub(crate) rcpt_address: Option<String>,
    pub(crate) action: String,
    pub(crate) code: Option<u16>,
    pub(crate) text: Option<String>,
    pub(crate) delay_ms: Option<u64>,
    pub(crate) connection: Option<u64>,
    pub(crate) description: String,
    #[serde(skip)]
    pub(crate) fault: Fault,
}

const MAX_DELAY_MS: u64 = 600_000;

fn clean(field: &str, s: &str) -> Result<String, String> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("{field} must not contain CR, LF or NUL"));
    }
    if s.len() > 400 {
        return Err(format!("{field} is longer than 400 octets"));
    }
    Ok(s.to_owned())
}

impl RuleRequest {
    /// Validates the rule; `next_connection` is what `"next"` means now.
    pub(crate) fn into_rule(self, id: u64, next_connection: u64) -> Result<Rule, String> {
        let step = match self.step.as_str() {
            "greeting" => Step::Greeting,
            "ehlo" => Step::Ehlo,
            "helo" => Step::Helo,
            "starttls" => Step::StartTls,
            "auth" => Step::Auth,
            "mail" => Step::Mail,
            "rcpt" => Step::Rcpt(match (&self.rcpt, &self.rcpt_address) {
                (Some(_), Some(_)) => return Err("give rcpt or rcpt_address, not both".into()),
                (Some(0), None) => return Err("rcpt counts from 1".into()),
                (Some(n), None) => RcptMatch::Nth(*n),
                (None, Some(a)) => RcptMatch::Address(clean("rcpt_address", a)?),
                (None, None) => RcptMatch::Any,
            }),
            "data" => Step::Data,
            "data_end" => Step::DataEnd,
            "bdat" => Step::Bdat,
            "rset" => Step::Rset,
            "noop" => Step::Noop,
            "quit" => Step::Quit,
            other => return Err(format!("unknown step {other:?}")),
        };
        if self.step != "rcpt" && (self.rcpt.is_some() || self.rcpt_address.is_some()) {
            return Err("rcpt and rcpt_address belong to the rcpt step".into());
        }
        let text = match &self.text {
            Some(t) => Some(clean("text", t)?),
            None => None,
        };
        let action = match self.action.as_str() {
            "close" => Action::Close,
            "close_after_accept" => Action::CloseAfterAccept,
            "reply421" => Action::Reply421,
            "reply" => {
                let code = self.code.ok_or("a reply needs a code")?;
                if !(200..=599).contains(&code) {
                    return Err(format!("reply code {code} is not 200..599"));
                }
                Action::Reply(code, text.clone().unwrap_or_default())
            }
            "delay" => {
                let ms = self.delay_ms.ok_or("a delay needs delay_ms")?;
                if ms > MAX_DELAY_MS {
                    return Err(format!("delay_ms is over {MAX_DELAY_MS}"));
                }
                Action::Delay(Duration::from_millis(ms))
            }
            "dribble" => Action::Dribble,
            "split_multiline" => Action::SplitMultiline,
            "tls_handshake_fail" => Action::TlsHandshakeFail,
            other => return Err(format!("unknown action {other:?}")),
        };
        let connection = match &self.connection {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s == "next" => Some(next_connection),
            Some(serde_json::Value::Number(n)) => match n.as_u64() {
                Some(0) | None => return Err("connection counts from 1".into()),
                Some(n) => Some(n),
            },
            Some(other) => {
                return Err(format!(
                    "connection must be a number or \"next\", not {other}"
                ))
            }
        };
        let mut fault = Fault::new(step, action.clone());
        if let Some(n) = connection {
            fault = fault.on_connection(n);
        }
        let description = describe(&fault);
        Ok(Rule {
            id,
            step: self.step,
            rcpt: self.rcpt,
            rcpt_address: self.rcpt_address,
            action: self.action,
            code: self.code,
            text,
            delay_ms: self.delay_ms,
            connection,
            description,
            fault,
        })
    }
}

fn describe(f: &Fault) -> String {
    let who = match f.connections {
        Connections::All => "every connection".to_owned(),
        Connections::Nth(n) => format!("connection {n}"),
    };
    let at = match &f.step {
        Step::Rcpt(RcptMatch::Nth(n)) => format!("RCPT #{n}"),
        Step::Rcpt(RcptMatch::Address(a)) => format!("RCPT to {a}"),
        Step::Rcpt(RcptMatch::Any) => "every RCPT".to_owned(),
        Step::DataEnd => "the end of data".to_owned(),
        other => format!("{other:?}").to_uppercase(),
    };
    let what = match &f.action {
        Action::Close => "close the connection".to_owned(),
        Action::CloseAfterAccept => "accept, then close without replying".to_owned(),
        Action::Reply421 => "reply 421 and close".to_owned(),
        Action::Reply(c, t) => format!("reply {c} {t}"),
        Action::Delay(d) => format!("wait {} ms", d.as_millis()),
        Action::Dribble => "write the reply a byte at a time".to_owned(),
        Action::SplitMultiline => "split the reply over lines".to_owned(),
        Action::TlsHandshakeFail => "fail the TLS handshake".to_owned(),
    };
    format!("{who}, at {at}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: serde_json::Value) -> Result<Rule, String> {
        serde_json::from_value::<RuleRequest>(v)
            .map_err(|e| e.to_string())?
            .into_rule(1, 7)
    }

    #[test]
    fn rules_map_onto_faults_and_bad_ones_are_refused() {
        let r = req(serde_json::json!({"step":"rcpt","rcpt":2,"action":"reply","code":450,"text":"4.2.0 later"})).unwrap();
        assert_eq!(
            r.fault,
            Fault::new(
                Step::Rcpt(RcptMatch::Nth(2)),
                Action::Reply(450, "4.2.0 later".into())
            )
        );
        let r = req(serde_json::json!({"step":"greeting","action":"delay","delay_ms":1500,"connection":"next"})).unwrap();
        assert_eq!(
            r.fault,
            Fault::new(Step::Greeting, Action::Delay(Duration::from_millis(1500))).on_connection(7)
        );
        for bad in [
            serde_json::json!({"step":"rcpt","action":"reply","code":450,"text":"a\r\nRSET"}),
            serde_json::json!({"step":"rcpt","action":"reply","code":999}),
            serde_json::json!({"step":"nope","action":"close"}),
            serde_json::json!({"step":"mail","rcpt":1,"action":"close"}),
            serde_json::json!({"step":"mail","action":"delay"}),
            serde_json::json!({"step":"mail","action":"close","connection":0}),
        ] {
            assert!(req(bad.clone()).is_err(), "{bad}");
        }
    }
}
